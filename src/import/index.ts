/**
 * The pipeline's entry to every model format: `importModel(file)` gives an ONNX model and a record
 * of where it came from. ONNX loads as is; Keras .h5/.keras and TF.js layers models are rebuilt in
 * TF.js and converted layer by layer; TF.js graph models are converted op by op from their GraphDef.
 * Every converted model is checked numerically against TF.js before anything else runs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { loadModel, type Model } from '../model/onnx.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { loadTfjs, type TfjsBackendPreference } from '../runtime/tfjs.js';
import { convertTfjsLayers, type ConvertedInput } from './tfjs-layers.js';
import { checkConversion, DEFAULT_TOLERANCE, type NumericalCheck } from './check.js';
import { readKerasH5 } from './keras-h5.js';
import { readKerasZip } from './keras-zip.js';
import { MAX_MODEL_JSON_BYTES, readTfjsLayersModel, tfjsJsonFile, type WeightQuantization } from '../formats/tfjs/files.js';
import { importTfjsGraph } from './tfjs-graph/index.js';
import { resolveModelPath } from './model-folder.js';

export { resolveModelPath } from './model-folder.js';
export { SUPPORTED_TF_OPS } from './tfjs-graph/index.js';
import { exportTfjsModel, type TfjsLatency } from './tfjs-export.js';

export type SourceFormat = 'onnx' | 'keras-h5' | 'keras-zip' | 'tfjs-layers' | 'tfjs-graph';

export interface ImportOptions {
  /** Relative tolerance of the numerical check; default 1e-4 (see check.ts). */
  tolerance?: number;
  /** ONNX layout of image inputs/outputs; default 'nhwc', the shapes the Keras model takes. */
  imageLayout?: 'nhwc' | 'nchw';
  /** Shapes (without batch) for inputs with unknown dims, by input name. */
  inputShapes?: Record<string, number[]>;
  opset?: number;
  /** TF.js backend for the reference run; default auto (tfjs-node if installed, else wasm). */
  backend?: TfjsBackendPreference;
  log?: (message: string) => void;
}

/** What report.json records about the model's origin. */
export interface ModelSource {
  format: SourceFormat;
  file: string;
  /** Layers converted (Keras and TF.js layers models). */
  layers?: number;
  /** TF ops converted (TF.js graph models). */
  ops?: number;
  keras_version?: string;
  /** The numerical check (converted formats only). */
  check?: NumericalCheck;
  inputs?: Array<Pick<ConvertedInput, 'name' | 'shape' | 'onnxDims' | 'elemType' | 'indexRange'>>;
  convert_seconds?: number;
}

export interface ImportedModel {
  model: Model;
  source: ModelSource;
  /** The TF.js model the ONNX model was converted from, for TF.js export and benchmarks. */
  tfjsModel?: tf.LayersModel;
}

/** Layers or graph model: model.json's `format`, else what its modelTopology holds (a GraphDef has `node`). */
function tfjsKind(file: string): SourceFormat {
  const jsonFile = tfjsJsonFile(file);
  const stat = statSync(jsonFile, { throwIfNoEntry: false });
  if (!stat || stat.size > MAX_MODEL_JSON_BYTES) return 'tfjs-layers'; // the reader reports it
  try {
    const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as { format?: string; modelTopology?: { node?: unknown } };
    if (json.format === 'graph-model' || Array.isArray(json.modelTopology?.node)) return 'tfjs-graph';
  } catch {
    // Unreadable JSON: the layers reader gives the message.
  }
  return 'tfjs-layers';
}

/** The format a path names, or a ModelGateError saying what to do with it. */
export function detectFormat(file: string): SourceFormat {
  const lower = file.toLowerCase();
  const base = path.basename(lower);
  if (lower.endsWith('.onnx')) return 'onnx';
  if (lower.endsWith('.h5') || lower.endsWith('.hdf5')) return 'keras-h5';
  if (lower.endsWith('.keras')) return 'keras-zip';
  if (base.endsWith('.json')) return tfjsKind(file);
  const stat = statSync(file, { throwIfNoEntry: false });
  if (stat?.isDirectory()) {
    if (existsSync(path.join(file, 'model.json'))) return tfjsKind(file);
    if (existsSync(path.join(file, 'saved_model.pb'))) {
      throw new ModelGateError(`${file}: TensorFlow SavedModel folders are not supported; save the Keras model with model.save('model.keras'), or export ONNX in an export step (tf2onnx)`);
    }
  }
  if (/\.(pt|pth|ckpt|safetensors)$/.test(lower)) {
    throw new ModelGateError(`${file}: PyTorch checkpoints cannot be read directly; add an export step that runs torch.onnx.export (config key 'export')`);
  }
  throw new ModelGateError(`${file}: unknown model format; expected .onnx, .h5, .keras, or a TF.js model.json`);
}

export async function importModel(given: string, options: ImportOptions = {}): Promise<ImportedModel> {
  const file = resolveModelPath(given);
  const format = detectFormat(file);
  if (format === 'onnx') return { model: loadModel(file), source: { format, file } };
  const log = options.log ?? (() => {});
  const started = performance.now();
  const rt = await loadTfjs(options.backend);
  const t = rt.tf;
  if (format === 'tfjs-graph') {
    const { conversion, check } = await importTfjsGraph(t, file, { inputShapes: options.inputShapes, tolerance: options.tolerance, runtime: rt.label });
    const seconds = (performance.now() - started) / 1000;
    log(`converted ${conversion.ops} ops from a TF.js graph model in ${seconds.toFixed(1)} s; max |ONNX − TF.js| = ${check.max_abs_diff.toExponential(2)} (limit ${check.limit.toExponential(1)}, ${rt.label})`);
    return {
      model: conversion.model,
      source: {
        format,
        file,
        ops: conversion.ops,
        check,
        inputs: conversion.inputs.map((i) => ({ name: i.name, shape: i.shape.slice(1), onnxDims: i.shape.slice(1), elemType: i.dtype === 'float32' ? 'float32' : 'int32' })),
        convert_seconds: seconds,
      },
    };
  }
  let tfjsModel: tf.LayersModel;
  let kerasVersion: string | undefined;
  if (format === 'tfjs-layers') {
    tfjsModel = await readTfjsLayersModel(t, file);
  } else {
    const k = format === 'keras-h5' ? await readKerasH5(t, file) : await readKerasZip(t, file);
    tfjsModel = k.model;
    kerasVersion = k.kerasVersion;
  }
  let conversion: ReturnType<typeof convertTfjsLayers>;
  let check: NumericalCheck;
  try {
    conversion = convertTfjsLayers(tfjsModel, { imageLayout: options.imageLayout ?? 'nhwc', inputShapes: options.inputShapes, opset: options.opset });
    check = await checkConversion(t, tfjsModel, conversion, { tolerance: options.tolerance ?? DEFAULT_TOLERANCE, runtime: rt.label });
  } catch (err) {
    // The model came from a file; TF.js accepted it but what it built can still break the converter in ways no check foresaw.
    if (err instanceof ModelGateError) throw err;
    throw new ModelGateError(`${file}: the model could not be converted (${errorMessage(err).split('\n')[0]})`, { cause: err });
  }
  const seconds = (performance.now() - started) / 1000;
  log(`converted ${conversion.layers} layers from ${format} in ${seconds.toFixed(1)} s; max |ONNX − TF.js| = ${check.max_abs_diff.toExponential(2)} (limit ${check.limit.toExponential(1)}, ${rt.label})`);
  if (!check.passed) {
    throw new ModelGateError(
      `${file}: the converted ONNX model differs from the source model by ${check.max_abs_diff.toExponential(3)} at output '${check.worst_output ?? '?'}' ` +
        `(limit ${check.limit.toExponential(2)} = ${check.tolerance} × max(1, output scale ${check.output_scale.toPrecision(3)})); this is a converter bug, please report it`,
    );
  }
  const source: ModelSource = {
    format,
    file,
    layers: conversion.layers,
    check,
    inputs: conversion.inputs.map(({ name, shape, onnxDims, elemType, indexRange }) => ({ name, shape, onnxDims, elemType, ...(indexRange !== undefined ? { indexRange } : {}) })),
    convert_seconds: seconds,
  };
  if (kerasVersion) source.keras_version = kerasVersion;
  return { model: conversion.model, source, tfjsModel };
}

/** Non-batch dims from the config's `inputs` (full shapes, batch first), for inputs with unknown dims. */
export function inputShapesFromConfig(inputs: Record<string, { shape?: number[] }>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(inputs).flatMap(([name, spec]) => (spec.shape && spec.shape.length > 0 ? [[name, spec.shape.slice(1)]] : [])));
}

export interface TfjsExportSpec {
  quantize: WeightQuantization[];
  runs: number;
}

/** One report entry per exported variant. */
export interface TfjsExportReport {
  quantize: WeightQuantization;
  /** Relative to the out dir. */
  dir: string;
  bytes: number;
  weight_bytes: number;
  /** Reloaded TF.js model vs the source model on seeded inputs. */
  max_abs_diff: number;
  output_scale: number;
  latency: TfjsLatency;
}

/**
 * The source model written as TF.js layers models (one per weight quantization) under
 * outDir/tfjs/<quantize>/, each reloaded, compared and timed on the TF.js runtime.
 */
export async function exportTfjsVariants(imported: ImportedModel, outDir: string, spec: TfjsExportSpec, log: (m: string) => void = () => {}): Promise<TfjsExportReport[]> {
  if (!imported.tfjsModel) {
    throw new ModelGateError(`tfjs_export: the model is ${imported.source.format}; a TF.js export needs a Keras (.h5, .keras) or TF.js layers source model`);
  }
  const rt = await loadTfjs();
  const out: TfjsExportReport[] = [];
  for (const quantize of spec.quantize) {
    const dir = path.join(outDir, 'tfjs', quantize);
    const r = await exportTfjsModel(rt.tf, imported.tfjsModel, dir, { quantize, runs: spec.runs, runtime: rt.label });
    log(`tfjs export ${quantize}: ${(r.bytes / 1024).toFixed(1)} KB, max |Δ| ${r.max_abs_diff.toExponential(2)}, p50 ${r.latency.p50_ms.toFixed(3)} ms on ${rt.label}`);
    out.push({
      quantize,
      dir: path.relative(outDir, dir).split(path.sep).join('/'),
      bytes: r.bytes,
      weight_bytes: r.weight_bytes,
      max_abs_diff: r.max_abs_diff,
      output_scale: r.output_scale,
      latency: r.latency,
    });
  }
  return out;
}
