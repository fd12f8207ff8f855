/**
 * TF.js layers models on disk: model.json plus binary weight shards, read and written with
 * node:fs (tf.io's file:// handler ships only with tfjs-node).
 *
 * Reading treats the files as hostile: shard paths must stay inside the model's folder, and the
 * shards must hold exactly the bytes the manifest's specs (quantized or not) describe.
 * Writing can quantize weights the way the TF.js converter does: uint8/uint16 affine
 * (value = q · scale + min, with 0 exactly representable) or float16; TF.js dequantizes on load.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { ModelGateError, errorMessage, readingFile } from '../../errors.js';
import { floatToHalf } from '../../model/tensor.js';
import { readFileSafe, realFolder, resolveInsideFolder } from '../../io/files.js';
import { checkConfigSize } from '../config-size.js';

export const MAX_MODEL_JSON_BYTES = 64 * 2 ** 20;
export const MAX_WEIGHT_BYTES = 2 ** 31 - 1;

export type WeightQuantization = 'none' | 'uint8' | 'uint16' | 'float16';

const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function specBytes(spec: WeightSpec, source: string): number {
  const stored = spec.quantization?.dtype ?? spec.dtype;
  const per = Object.hasOwn(STORED_BYTES, stored) ? STORED_BYTES[stored] : undefined;
  if (per === undefined) throw new ModelGateError(`${source}: weight '${spec.name}' is stored as ${stored}, which is not supported`);
  if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new ModelGateError(`${source}: weight '${spec.name}' has an invalid shape`);
  return spec.shape.reduce((a, b) => a * b, 1) * per;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

/** model.json's parsed contents with every shard read and checked against the manifest. */
export interface TfjsArtifacts {
  jsonFile: string;
  json: tf.io.ModelJSON & { signature?: unknown };
  specs: WeightSpec[];
  /** The shards concatenated in manifest order. */
  weightData: Uint8Array;
}

/** The model.json a path names: the file itself, or model.json inside a folder. */
export function tfjsJsonFile(file: string): string {
  return statSync(file, { throwIfNoEntry: false })?.isDirectory() ? path.join(file, 'model.json') : file;
}

/**
 * model.json's shape checked before anything walks it: JSON from a PR may put null or a string
 * where a list belongs, and TF.js would fail deep inside with a TypeError.
 */
function checkModelJson(parsed: unknown, source: string): tf.io.ModelJSON {
  const bad = (what: string): never => {
    throw new ModelGateError(`${source}: ${what}; not a TF.js model.json`);
  };
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(parsed)) bad('the top level is not a JSON object');
  const json = parsed as Record<string, unknown>;
  if (json.format !== undefined && typeof json.format !== 'string') bad("'format' is not a string");
  if (json.modelTopology !== undefined && !isObject(json.modelTopology)) bad("'modelTopology' is not an object");
  const manifest = json.weightsManifest;
  if (manifest !== undefined) {
    if (!Array.isArray(manifest)) bad("'weightsManifest' is not a list");
    (manifest as unknown[]).forEach((group, g) => {
      if (!isObject(group)) bad(`weightsManifest[${g}] is not an object`);
      const { paths, weights } = group as Record<string, unknown>;
      if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string')) bad(`weightsManifest[${g}].paths is not a list of file names`);
      if (!Array.isArray(weights)) bad(`weightsManifest[${g}].weights is not a list`);
      (weights as unknown[]).forEach((w, k) => {
        const at = `weightsManifest[${g}].weights[${k}]`;
        if (!isObject(w)) bad(`${at} is not an object`);
        const spec = w as Record<string, unknown>;
        if (typeof spec.name !== 'string') bad(`${at}.name is not a string`);
        if (typeof spec.dtype !== 'string') bad(`${at} ('${String(spec.name)}'): dtype is not a string`);
        if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) bad(`${at} ('${String(spec.name)}'): shape is not a list of non-negative integers`);
        if (spec.quantization !== undefined && (!isObject(spec.quantization) || typeof spec.quantization.dtype !== 'string')) bad(`${at} ('${String(spec.name)}'): quantization is not an object with a dtype`);
      });
    });
  }
  return json as unknown as tf.io.ModelJSON;
}

/** Reads model.json (or its folder) and its weight shards, refusing paths outside the folder and size mismatches. */
export function readTfjsArtifacts(file: string): TfjsArtifacts {
  const jsonFile = tfjsJsonFile(file);
  const dir = realFolder(path.dirname(path.resolve(jsonFile)));
  const text = readFileSafe(jsonFile, { maxBytes: MAX_MODEL_JSON_BYTES, what: 'TF.js model.json' }).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ModelGateError(`${jsonFile}: cannot read TF.js model.json (${errorMessage(err)})`, { cause: err });
  }
  const json = checkModelJson(parsed, jsonFile) as TfjsArtifacts['json'];
  if (!json.modelTopology) throw new ModelGateError(`${jsonFile}: no modelTopology; not a TF.js model`);
  checkConfigSize(json.modelTopology, jsonFile);
  const specs: WeightSpec[] = [];
  const buffers: Uint8Array[] = [];
  let total = 0;
  for (const group of json.weightsManifest ?? []) {
    let groupBytes = 0;
    for (const p of group.paths) {
      const shard = resolveInsideFolder(dir, p, jsonFile, 'weight shard path', "the model's folder");
      const bytes = readFileSafe(shard, { maxBytes: MAX_WEIGHT_BYTES - total, within: dir, label: `${jsonFile}: weight shard '${p}'`, what: 'weight shard (all shards together are capped)' });
      total += bytes.length;
      groupBytes += bytes.length;
      buffers.push(bytes);
    }
    const expected = (group.weights as WeightSpec[]).reduce((n, s) => n + specBytes(s, jsonFile), 0);
    if (expected !== groupBytes) {
      throw new ModelGateError(`${jsonFile}: the shards ${group.paths.join(', ')} hold ${groupBytes} bytes, the manifest describes ${expected}`);
    }
    specs.push(...(group.weights as WeightSpec[]));
  }
  return { jsonFile, json, specs, weightData: concat(buffers) };
}

/** model.json (or its folder) → a TF.js LayersModel with its weights. */
export function readTfjsLayersModel(t: typeof tf, file: string): Promise<tf.LayersModel> {
  return readingFile(file, 'TF.js model', () => readTfjsLayersModelUnchecked(t, file));
}

async function readTfjsLayersModelUnchecked(t: typeof tf, file: string): Promise<tf.LayersModel> {
  const { jsonFile, json, specs, weightData } = readTfjsArtifacts(file);
  if (json.format === 'graph-model') {
    throw new ModelGateError(`${jsonFile}: a TF.js graph model, not a layers model; give it as the config's model (it is imported op by op)`);
  }
  try {
    const buffer = weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength) as ArrayBuffer;
    return await t.loadLayersModel(t.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs as tf.io.WeightsManifestEntry[], weightData: buffer }));
  } catch (err) {
    throw new ModelGateError(`${jsonFile}: TF.js could not load the model: ${errorMessage(err)}`, { cause: err });
  }
}

/** Affine uint8/uint16 with 0 exactly representable (zero padding and pruned weights stay exact). */
function quantizeAffine(values: Float32Array, bits: 8 | 16): { data: Uint8Array | Uint16Array; min: number; scale: number } {
  const levels = bits === 8 ? 255 : 65535;
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi > lo ? (hi - lo) / levels : 1;
  const zero = Math.round(-lo / scale);
  const min = -zero * scale;
  const data = bits === 8 ? new Uint8Array(values.length) : new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = Math.min(levels, Math.max(0, Math.round((values[i]! - min) / scale)));
  return { data, min, scale };
}

export interface WriteTfjsOptions {
  quantize?: WeightQuantization;
  /** Shard size; TF.js' converter default is 4 MiB (browser caches like it). */
  shardBytes?: number;
}

export interface WrittenTfjsModel {
  dir: string;
  files: string[];
  /** model.json plus shards. */
  bytes: number;
  weightBytes: number;
  quantize: WeightQuantization;
}

/** Writes a TF.js layers model as model.json + group1-shardKofN.bin, optionally with quantized weights. */
export async function writeTfjsLayersModel(model: tf.LayersModel, dir: string, options: WriteTfjsOptions = {}): Promise<WrittenTfjsModel> {
  const quantize = options.quantize ?? 'none';
  const shardBytes = options.shardBytes ?? 4 * 2 ** 20;
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save({
    save: async (a: tf.io.ModelArtifacts) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  } as tf.io.IOHandler);
  if (!artifacts) throw new Error('TF.js did not hand over the model artifacts');
  const source = new Uint8Array(
    Array.isArray(artifacts.weightData) ? concat(artifacts.weightData.map((b) => new Uint8Array(b))) : new Uint8Array((artifacts.weightData as ArrayBuffer | undefined) ?? new ArrayBuffer(0)),
  );
  const specs: WeightSpec[] = [];
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const spec of (artifacts.weightSpecs ?? []) as WeightSpec[]) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const raw = source.slice(at, at + n * 4);
    at += n * 4;
    if (spec.dtype !== 'float32' || quantize === 'none') {
      specs.push({ name: spec.name, shape: spec.shape, dtype: spec.dtype });
      parts.push(raw);
      continue;
    }
    const values = new Float32Array(raw.buffer, raw.byteOffset, n);
    if (quantize === 'float16') {
      specs.push({ name: spec.name, shape: spec.shape, dtype: 'float32', quantization: { dtype: 'float16' } });
      parts.push(new Uint8Array(Uint16Array.from(values, floatToHalf).buffer));
    } else {
      const q = quantizeAffine(values, quantize === 'uint8' ? 8 : 16);
      specs.push({ name: spec.name, shape: spec.shape, dtype: 'float32', quantization: { dtype: quantize, min: q.min, scale: q.scale } });
      parts.push(new Uint8Array(q.data.buffer));
    }
  }
  const weights = concat(parts);
  const shardCount = Math.max(1, Math.ceil(weights.length / shardBytes));
  const shardNames = Array.from({ length: shardCount }, (_, k) => `group1-shard${k + 1}of${shardCount}.bin`);
  mkdirSync(dir, { recursive: true });
  shardNames.forEach((name, k) => writeFileSync(path.join(dir, name), weights.subarray(k * shardBytes, Math.min(weights.length, (k + 1) * shardBytes))));
  const json = {
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: 'modelgate',
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: shardNames, weights: specs }],
  };
  const jsonText = JSON.stringify(json);
  writeFileSync(path.join(dir, 'model.json'), jsonText);
  return { dir, files: ['model.json', ...shardNames], bytes: Buffer.byteLength(jsonText) + weights.length, weightBytes: weights.length, quantize };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
