/**
 * ONNX model → .tflite bytes: cleanup (constants and BatchNormalization folded), conversion to a float32
 * TFLite graph (./convert.ts), then the requested variant (./quantize.ts): float32, float16 (weights),
 * weight-only-int8 (int8 weights, the other constants float16, float32 compute), dynamic-int8 (hybrid kernels)
 * or int8 (calibrated).
 */
import type { Model } from '../../model/onnx.js';
import type { Feeds } from '../../model/host-tensor.js';
import { cleanupModel } from '../../passes/cleanup.js';
import { ModelGateError } from '../../errors.js';
import { convertToTfliteGraph } from './convert.js';
import { dedupeConstants, simplifyReshapes } from './simplify.js';
import { encodeTflite, type TfliteModel } from '../../formats/tflite/flatbuffer.js';
import { quantizeDynamicRange, quantizeFloat16, quantizeFullInt8, quantizeWeightOnly, type FullInt8Options } from './quantize.js';
import { TOOL_VERSION } from '../../version.js';

export const TFLITE_QUANTIZE = ['float32', 'float16', 'weight-only-int8', 'dynamic-int8', 'int8'] as const;
export type TfliteQuantize = (typeof TFLITE_QUANTIZE)[number];
export const TFLITE_IO_TYPES = ['float32', 'int8', 'uint8'] as const;
export type TfliteIoType = (typeof TFLITE_IO_TYPES)[number];

export interface TfliteExportOptions {
  quantize: TfliteQuantize;
  /** For 'int8': the type of the model's inputs and outputs (float32 adds QUANTIZE/DEQUANTIZE ops inside). */
  ioType?: TfliteIoType;
  /** Static shapes for the model's inputs (the batch included): a .tflite runs at the shape it declares. */
  inputShapes: Record<string, number[]>;
  /** For 'int8': calibration samples (one feed each), run through the ONNX model in onnxruntime. */
  calibration?: Feeds[];
  log?: (message: string) => void;
}

export interface TfliteExport {
  bytes: Uint8Array;
  model: TfliteModel;
  /** What the export did that a reader of the report should know (paddings made explicit, layout notes...). */
  notes: string[];
}

export async function exportTflite(source: Model, options: TfliteExportOptions): Promise<TfliteExport> {
  const log = options.log ?? (() => {});
  if (options.ioType && options.ioType !== 'float32' && options.quantize !== 'int8') {
    throw new ModelGateError(`tflite: io_type '${options.ioType}' needs quantize: int8 (the other variants keep float inputs and outputs)`);
  }
  // TFLite wants every constant as a buffer: folds that grow the ONNX file are wanted here ('weights').
  const { model } = await cleanupModel(source, {}, true, 'weights');
  const graph = convertToTfliteGraph(model, options.inputShapes);
  const notes = [...graph.notes];
  const reshapes = simplifyReshapes(graph);
  if (reshapes > 0) notes.push(`${reshapes} RESHAPE ops removed (chains of reshapes collapsed, reshapes to the same shape dropped)`);
  // Float variants share identical constants before the rewrite (one DEQUANTIZE each); the int8 ones after it,
  // since dynamic-range quantization rewrites a weight tensor in place for its convolution.
  if (options.quantize === 'float32' || options.quantize === 'float16' || options.quantize === 'weight-only-int8') dedupeConstants(graph);
  switch (options.quantize) {
    case 'float32':
      break;
    case 'float16':
      notes.push(...quantizeFloat16(graph));
      break;
    case 'weight-only-int8':
      // The weights int8; the constants left in float32 (smaller weights, biases, other tables) float16 as in
      // the float16 variant, so the file is smaller than that variant's in every tensor.
      notes.push(...quantizeWeightOnly(graph), ...quantizeFloat16(graph));
      break;
    case 'dynamic-int8':
      notes.push(...quantizeDynamicRange(graph));
      break;
    case 'int8': {
      if (!options.calibration || options.calibration.length === 0) throw new ModelGateError('tflite: quantize int8 needs calibration samples (a dataset in the config)');
      const full: FullInt8Options = { ioType: options.ioType ?? 'float32' };
      notes.push(...(await quantizeFullInt8(graph, model, options.calibration, full)));
      break;
    }
    default:
      throw new ModelGateError(`tflite: unknown quantize '${String(options.quantize)}' (use ${TFLITE_QUANTIZE.join(', ')})`);
  }
  dedupeConstants(graph);
  const tflite: TfliteModel = {
    description: `modelgate ${TOOL_VERSION}: ${options.quantize}${options.quantize === 'int8' ? `, ${options.ioType ?? 'float32'} I/O` : ''}`,
    graph: { name: 'main', tensors: graph.tensors, inputs: graph.inputs, outputs: graph.outputs, operators: graph.operators },
    extraSubgraphs: 0,
    metadata: [],
  };
  const bytes = encodeTflite(tflite);
  log(`tflite: ${options.quantize}, ${graph.operators.length} ops, ${bytes.length} bytes`);
  return { bytes, model: tflite, notes };
}
