/**
 * A dataset is the inputs file (+ labels), read once, and a batched iterator that converts and
 * preprocesses one batch at a time, so memory stays flat as the dataset grows. Without a dataset,
 * seeded synthetic inputs are made from the resolved input specs.
 */
import path from 'node:path';
import type { DatasetSpec, PreprocessSpec } from '../config/types.js';
import type { Feeds, HostTensor } from '../model/host-tensor.js';
import type { IoSpec } from '../model/io.js';
import type { TypedArray } from '../model/tensor.js';
import { readIdx, MAX_DATASET_BYTES, type ArrayFile } from './idx.js';
import { readNpy } from './npy.js';
import { ModelGateError } from '../errors.js';
import { readFileSafe } from '../io/files.js';
import { seededRandom } from './random.js';


export interface Batch {
  feeds: Feeds;
  /** Class ids (top1/top5) or regression targets (mse), one row per sample; null without labels. */
  labels: Float64Array | null;
  /** Values per label row (1 for class ids). */
  labelWidth: number;
  count: number;
}

export interface Dataset {
  count: number;
  hasLabels: boolean;
  synthetic: boolean;
  /**
   * Batches of at most `size` samples, in file order. With `pad`, the last batch is filled up to
   * `size` by repeating its last sample (for models with a fixed batch dim); `count` stays the real count.
   */
  batches(size: number, pad?: boolean): Generator<Batch>;
  /** One feed with exactly `batch` samples (repeating samples when the dataset is smaller). */
  feedsForBatch(batch: number): Feeds;
}

export function readArrayFile(file: string): ArrayFile {
  const bytes: Uint8Array = readFileSafe(file, { maxBytes: MAX_DATASET_BYTES, what: 'dataset file' });
  const name = path.basename(file).toLowerCase();
  if (name.endsWith('.npy')) return readNpy(bytes, file);
  if (/\.idx\d?(-ubyte)?(\.gz)?$|-ubyte(\.gz)?$/.test(name)) return readIdx(bytes, file);
  throw new ModelGateError(`${file}: unknown dataset format; use .npy or IDX (.idx3-ubyte / .idx1-ubyte, optionally .gz)`);
}

function sampleElements(spec: IoSpec): number {
  return spec.shape.slice(1).reduce((a, b) => a * b, 1);
}

function perChannel(value: number | number[] | undefined, fallback: number, channels: number, key: string): Float64Array {
  if (value === undefined) return Float64Array.from({ length: channels }, () => fallback);
  if (typeof value === 'number') return Float64Array.from({ length: channels }, () => value);
  if (value.length === 1) return Float64Array.from({ length: channels }, () => value[0]!);
  if (value.length !== channels) throw new ModelGateError(`dataset.preprocess.${key}: ${value.length} values, the input has ${channels} channels`);
  return Float64Array.from(value);
}

/** The channel axis for per-channel mean/std: dim 1 (NCHW) when its size matches, else the last dim (NHWC). */
function channelLayout(spec: IoSpec, pre: PreprocessSpec): { channels: number; stride: number } {
  const lists = [pre.mean, pre.std].filter((v): v is number[] => Array.isArray(v) && v.length > 1);
  if (lists.length === 0) return { channels: 1, stride: 1 };
  const want = lists[0]!.length;
  const dims = spec.shape.slice(1);
  if (dims[0] === want) return { channels: want, stride: dims.slice(1).reduce((a, b) => a * b, 1) };
  if (dims[dims.length - 1] === want) return { channels: want, stride: 1 };
  throw new ModelGateError(`dataset.preprocess: ${want} per-channel values fit neither the first nor the last dimension of input '${spec.name}' [${spec.shape.join(', ')}]`);
}

function allocate(dtype: IoSpec['dtype'], n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int8': return new Int8Array(n);
    case 'uint8': case 'bool': return new Uint8Array(n);
    case 'int16': return new Int16Array(n);
    case 'uint16': return new Uint16Array(n);
    case 'int32': return new Int32Array(n);
    case 'uint32': return new Uint32Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'uint64': return new BigUint64Array(n);
    default: throw new ModelGateError(`input dtype ${dtype} cannot be fed from a dataset`);
  }
}

function store(out: TypedArray, i: number, v: number): void {
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) out[i] = BigInt(Math.round(v));
  else (out as Float32Array)[i] = v;
}

function num(a: TypedArray, i: number): number {
  return Number(a[i]!);
}

export function loadDataset(spec: DatasetSpec, resolve: (p: string) => string, inputs: IoSpec[]): Dataset {
  if (inputs.length !== 1) {
    throw new ModelGateError(`dataset: the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); a dataset file feeds single-input models`);
  }
  const input = inputs[0]!;
  const file = resolve(spec.inputs);
  const x = readArrayFile(file);
  const per = sampleElements(input);
  const total = x.shape[0] ?? 0;
  const fileSample = x.shape.slice(1).reduce((a, b) => a * b, 1);
  if (x.shape.length < 1 || fileSample !== per) {
    throw new ModelGateError(
      `${spec.inputs}: samples of shape [${x.shape.slice(1).join(', ')}] (${fileSample} values) cannot be reshaped to input '${input.name}' [${input.shape.slice(1).join(', ')}] (${per} values)`,
    );
  }
  let labels: ArrayFile | undefined;
  let labelWidth = 1;
  if (spec.labels) {
    labels = readArrayFile(resolve(spec.labels));
    if (labels.shape[0] !== total) throw new ModelGateError(`${spec.labels}: ${labels.shape[0]} labels for ${total} samples in ${spec.inputs}`);
    labelWidth = labels.shape.slice(1).reduce((a, b) => a * b, 1);
  }
  const count = Math.min(total, spec.limit ?? total);
  if (count === 0) throw new ModelGateError(`${spec.inputs}: the dataset has no samples`);
  const pre = spec.preprocess ?? {};
  const scale = pre.scale ?? 1;
  const { channels, stride } = channelLayout(input, pre);
  const mean = perChannel(pre.mean, 0, channels, 'mean');
  const std = perChannel(pre.std, 1, channels, 'std');
  if (std.some((s) => s === 0)) throw new ModelGateError('dataset.preprocess.std: must not be 0');

  const fill = (out: TypedArray, at: number, sample: number): void => {
    const base = sample * per;
    for (let j = 0; j < per; j++) {
      const c = channels === 1 ? 0 : Math.floor(j / stride) % channels;
      store(out, at + j, (num(x.data, base + j) * scale - mean[c]!) / std[c]!);
    }
  };
  const makeFeeds = (indices: number[]): Feeds => {
    const data = allocate(input.dtype, indices.length * per);
    indices.forEach((s, k) => fill(data, k * per, s));
    const t: HostTensor = { type: input.dtype, dims: [indices.length, ...input.shape.slice(1)], data };
    return { [input.name]: t };
  };

  return {
    count,
    hasLabels: labels !== undefined,
    synthetic: false,
    *batches(size: number, pad = false) {
      for (let start = 0; start < count; start += size) {
        const n = Math.min(size, count - start);
        const indices = Array.from({ length: pad ? size : n }, (_, k) => start + Math.min(k, n - 1));
        let rows: Float64Array | null = null;
        if (labels) {
          rows = new Float64Array(n * labelWidth);
          for (let k = 0; k < n * labelWidth; k++) rows[k] = num(labels.data, start * labelWidth + k);
        }
        yield { feeds: makeFeeds(indices), labels: rows, labelWidth, count: n };
      }
    },
    feedsForBatch(batch: number) {
      return makeFeeds(Array.from({ length: batch }, (_, k) => k % count));
    },
  };
}


export const SYNTHETIC_SAMPLES = 64;

export function syntheticDataset(inputs: IoSpec[], seed = 1234, count = SYNTHETIC_SAMPLES): Dataset {
  const make = (n: number, offset: number): Feeds => {
    const feeds: Feeds = {};
    for (const [k, spec] of inputs.entries()) {
      const per = sampleElements(spec);
      const rand = seededRandom(seed + 7919 * k + offset);
      const isInt = !spec.dtype.startsWith('float');
      const [lo, hi] = spec.range ?? (isInt ? [0, 9] : [0, 1]);
      const data = allocate(spec.dtype, n * per);
      for (let i = 0; i < n * per; i++) {
        const v = lo + rand() * (hi - lo);
        store(data, i, isInt ? Math.floor(Math.min(hi, v + (hi > lo ? 0.5 : 0))) : v);
      }
      feeds[spec.name] = { type: spec.dtype, dims: [n, ...spec.shape.slice(1)], data };
    }
    return feeds;
  };
  const batchable = inputs.every((i) => i.dynamicBatch);
  return {
    count,
    hasLabels: false,
    synthetic: true,
    *batches(size: number, pad = false) {
      const step = batchable ? size : inputs[0]?.shape[0] ?? 1;
      for (let start = 0; start < count; start += step) {
        const n = Math.min(step, count - start);
        yield { feeds: make(pad || !batchable ? step : n, start), labels: null, labelWidth: 1, count: n };
      }
    },
    feedsForBatch(batch: number) {
      return make(batch, 0);
    },
  };
}

/** The first `samples` samples as batch-1 feeds: what calibrating passes (static int8, TFLite int8) read. */
export function calibrationFeeds(dataset: Dataset, samples: number): Feeds[] {
  const out: Feeds[] = [];
  for (const batch of dataset.batches(1)) {
    out.push(batch.feeds);
    if (out.length >= samples) break;
  }
  return out;
}
