/**
 * MediaPipe's TFLite custom ops that have an exact builtin equivalent. MediaPipe models (selfie
 * segmentation, say) ship `Convolution2DTransposeBias`, a transposed convolution with a bias input, which
 * the stock TFLite runtime does not register. Its semantics, from MediaPipe's
 * mediapipe/util/tflite/operations/transpose_conv_bias.cc:
 *   - inputs: 0 the NHWC data, 1 the weights (OHWI, like TRANSPOSE_CONV's), 2 the bias [O]; float32 only;
 *   - custom_options: a raw TfLiteTransposeConvParams, three little-endian int32s: padding (TfLitePadding:
 *     1 = SAME, 2 = VALID), stride_width, stride_height;
 *   - output size: stride * (in - 1) + kernel - total, where total = SAME ? max(0, kernel - (in - 1) % stride - 1) : 0,
 *     with floor(total / 2) cropped at the start of each spatial axis and the rest at the end;
 *   - every output cell starts at the bias and accumulates input × weight, as TRANSPOSE_CONV does.
 * That is the builtin TRANSPOSE_CONV (given the output shape, whose SAME padding crops the same
 * floor(total / 2) first) with its optional bias input (TRANSPOSE_CONV version 3).
 */
import { ModelGateError } from '../../errors.js';
import type { TfliteModel, TfliteOperator, TfliteTensor } from './flatbuffer.js';
import { Op, Padding, TensorType } from './schema.js';

export const TRANSPOSE_CONV_BIAS = 'Convolution2DTransposeBias';

/** Custom ops ModelGate imports and runs through a builtin equivalent. */
export const SUPPORTED_CUSTOM_OPS: ReadonlySet<string> = new Set([TRANSPOSE_CONV_BIAS]);

export interface TransposeConvBiasParams {
  /** schema Padding: SAME or VALID. */
  padding: number;
  strideW: number;
  strideH: number;
}

/** TfLitePadding (the C enum in custom_options) → the schema's Padding. */
const C_PADDING: Record<number, number> = { 1: Padding.SAME, 2: Padding.VALID };

export function transposeConvBiasParams(o: TfliteOperator, where: string): TransposeConvBiasParams {
  const bytes = o.customOptions;
  if (!bytes || bytes.length < 12) {
    throw new ModelGateError(`${where}: ${TRANSPOSE_CONV_BIAS} needs 12 bytes of custom options (padding, stride_w, stride_h as int32), it has ${bytes?.length ?? 0}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const padding = C_PADDING[view.getInt32(0, true)];
  const strideW = view.getInt32(4, true), strideH = view.getInt32(8, true);
  if (padding === undefined) throw new ModelGateError(`${where}: ${TRANSPOSE_CONV_BIAS} has padding ${view.getInt32(0, true)}; only 1 (SAME) and 2 (VALID) are defined`);
  if (!(strideW >= 1 && strideH >= 1)) throw new ModelGateError(`${where}: ${TRANSPOSE_CONV_BIAS} has strides ${strideW}×${strideH}; they must be at least 1`);
  return { padding, strideW, strideH };
}

/** The padding a transposed convolution crops along one axis (MediaPipe's rule; TRANSPOSE_CONV's with this output size). */
export function transposeConvCrop(padding: number, size: number, kernel: number, stride: number): { begin: number; end: number; out: number } {
  const total = padding === Padding.SAME ? Math.max(0, kernel - ((size - 1) % stride) - 1) : 0;
  return { begin: Math.floor(total / 2), end: total - Math.floor(total / 2), out: stride * (size - 1) + kernel - total };
}

/**
 * The model with each supported custom op replaced by its builtin equivalent, so that the stock TFLite
 * runtime can run it; the model itself when it has none. Unsupported custom ops are left as they are.
 */
export function withBuiltinEquivalents(model: TfliteModel, label: string): TfliteModel {
  const g = model.graph;
  if (!g.operators.some((o) => o.op === Op.CUSTOM && o.custom === TRANSPOSE_CONV_BIAS)) return model;
  const tensors: TfliteTensor[] = [...g.tensors];
  const operators = g.operators.map((o, index): TfliteOperator => {
    if (o.op !== Op.CUSTOM || o.custom !== TRANSPOSE_CONV_BIAS) return o;
    const where = `${label}: operator ${index} (custom op '${TRANSPOSE_CONV_BIAS}')`;
    const p = transposeConvBiasParams(o, where);
    const [x, w, b] = o.inputs;
    const input = tensors[x!], weights = tensors[w!], out = tensors[o.outputs[0]!];
    if (!input || !weights || b === undefined || b < 0 || !out || input.shape.length !== 4 || weights.shape.length !== 4) {
      throw new ModelGateError(`${where}: needs a 4-D input, 4-D weights and a bias`);
    }
    const h = transposeConvCrop(p.padding, input.shape[1]!, weights.shape[1]!, p.strideH);
    const wd = transposeConvCrop(p.padding, input.shape[2]!, weights.shape[2]!, p.strideW);
    const shape = [input.shape[0]!, h.out, wd.out, weights.shape[0]!];
    tensors.push({ name: `${out.name}_output_shape`, type: TensorType.INT32, shape: [4], data: new Uint8Array(Int32Array.from(shape).buffer) });
    return {
      op: Op.TRANSPOSE_CONV, version: 3, inputs: [tensors.length - 1, w!, x!, b], outputs: [...o.outputs],
      options: { padding: p.padding, stride_w: p.strideW, stride_h: p.strideH },
    };
  });
  return { ...model, graph: { ...g, tensors, operators } };
}
