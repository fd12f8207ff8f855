/**
 * A dataset is a sample source (array files, CSV, JSON Lines, an image folder) and a batched
 * iterator that reads, checks, preprocesses and lays out one batch at a time, so memory stays flat
 * as the dataset grows. Each model input is fed from its own key, in its own shape: the samples go
 * on the input's batch axis, wherever it sits. Without a dataset, seeded synthetic inputs are made
 * from the resolved input specs.
 */
import path from 'node:path';
import type { DatasetSpec, PreprocessSpec } from '../config/types.js';
import type { Feeds, HostTensor } from '../model/host-tensor.js';
import { batchAxisOf, sampleShape, shapeForBatch, fixedBatchOf, type IoSpec } from '../model/io.js';
import { floatToHalf, type TypedArray } from '../model/tensor.js';
import { readIdx, MAX_DATASET_BYTES, type ArrayFile } from './idx.js';
import { readNpy } from './npy.js';
import { ModelGateError } from '../errors.js';
import { readFileSafe } from '../io/files.js';
import { seededRandom } from './random.js';
import { arrayColumn, columnsSource, readNpz, rowSize, type Column } from './arrays.js';
import { csvSource, jsonlFirst, jsonlSource } from './text.js';
import { imageFolderSource } from './images.js';
import { imageInputOf, synthesizeImages } from './synthetic-image.js';
import type { SampleRows, SampleSource } from './source.js';

export interface Batch {
  feeds: Feeds;
  /** Class ids (top1/top5) or regression targets (mse), one row per sample; null without labels. */
  labels: Float64Array | null;
  /** Values per label row (1 for class ids). */
  labelWidth: number;
  count: number;
  /** Index of the batch's first sample, for messages (dataset.describeSample). */
  start?: number;
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
  /** The file or folder the samples come from ('synthetic' without one). */
  source?: string;
  /** A sample's place for messages: "data.csv row 7", "val/cat/3.png". */
  describeSample?(index: number): string;
  /** Where the labels sit, for messages ("labels.npy", "column 'label'"); null without labels. */
  labelKey?: string | null;
  /** The class names of an image folder, in label order. */
  classes?: string[];
  /** True for a calibration set that is the evaluation data itself (no `calibration:` section). */
  overlapsEvaluation?: boolean;
}

/** Reads a whole .npy or IDX file (kept for callers that want the raw array). */
export function readArrayFile(file: string): ArrayFile {
  const bytes: Uint8Array = readFileSafe(file, { maxBytes: MAX_DATASET_BYTES, what: 'dataset file' });
  const name = path.basename(file).toLowerCase();
  if (name.endsWith('.npy')) return readNpy(bytes, file);
  if (/\.idx\d?(-ubyte)?(\.gz)?$|-ubyte(\.gz)?$/.test(name)) return readIdx(bytes, file);
  throw new ModelGateError(`${file}: unknown dataset format; use .npy or IDX (.idx3-ubyte / .idx1-ubyte, optionally .gz)`);
}

function perChannel(value: number | number[] | undefined, fallback: number, channels: number, key: string): Float64Array {
  if (value === undefined) return Float64Array.from({ length: channels }, () => fallback);
  if (typeof value === 'number') return Float64Array.from({ length: channels }, () => value);
  if (value.length === 1) return Float64Array.from({ length: channels }, () => value[0]!);
  if (value.length !== channels) throw new ModelGateError(`${key}: ${value.length} values, the input has ${channels} channels`);
  return Float64Array.from(value);
}

interface Preprocessor {
  apply(values: Float64Array): void;
}

/** scale, then per-channel mean/std; the channel axis is the first sample dim (C×H×W) when its size matches, else the last (H×W×C). */
function preprocessor(spec: IoSpec, pre: PreprocessSpec, key: string): Preprocessor | null {
  if (pre.scale === undefined && pre.mean === undefined && pre.std === undefined) return null;
  const dims = sampleShape(spec);
  const per = dims.reduce((a, b) => a * b, 1);
  const lists = [pre.mean, pre.std].filter((v): v is number[] => Array.isArray(v) && v.length > 1);
  let channels = 1;
  let stride = 1;
  if (lists.length > 0) {
    channels = lists[0]!.length;
    if (dims[0] === channels) stride = dims.slice(1).reduce((a, b) => a * b, 1);
    else if (dims[dims.length - 1] !== channels) {
      throw new ModelGateError(`${key}: ${channels} per-channel values fit neither the first nor the last sample dimension of input '${spec.name}' [${spec.shape.join(', ')}]`);
    }
  }
  const scale = pre.scale ?? 1;
  const mean = perChannel(pre.mean, 0, channels, `${key}.mean`);
  const std = perChannel(pre.std, 1, channels, `${key}.std`);
  if (std.some((s) => s === 0)) throw new ModelGateError(`${key}.std: must not be 0`);
  return {
    apply(values) {
      if (channels === 1) {
        const m = mean[0]!, sd = std[0]!;
        for (let i = 0; i < values.length; i++) values[i] = (values[i]! * scale - m) / sd;
        return;
      }
      for (let i = 0; i < values.length; i++) {
        const j = i % per;
        const c = channels === 1 ? 0 : Math.floor(j / stride) % channels;
        values[i] = (values[i]! * scale - mean[c]!) / std[c]!;
      }
    },
  };
}

function allocate(dtype: IoSpec['dtype'], n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'float16': return new Uint16Array(n);
    case 'int8': return new Int8Array(n);
    case 'uint8': case 'bool': return new Uint8Array(n);
    case 'int16': return new Int16Array(n);
    case 'uint16': return new Uint16Array(n);
    case 'int32': return new Int32Array(n);
    case 'uint32': return new Uint32Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'uint64': return new BigUint64Array(n);
    default: throw new ModelGateError(`input dtype ${String(dtype)} cannot be fed from a dataset`);
  }
}

/** Writes numbers into a typed tensor buffer; integers must be finite (BigInt(NaN) would throw deep inside). */
function storeAll(spec: IoSpec, out: TypedArray, values: Float64Array, place: ((i: number) => number) | null): void {
  const dtype = spec.dtype;
  if (dtype === 'int64' || dtype === 'uint64' || !dtype.startsWith('float')) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) throw new ModelGateError(`input '${spec.name}' (${dtype}): cannot feed ${v}; integer inputs need finite values`);
    }
  }
  if (place === null && (out instanceof Float32Array || out instanceof Float64Array)) {
    out.set(values);
    return;
  }
  place ??= (i) => i;
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < values.length; i++) out[place(i)] = BigInt(Math.round(values[i]!));
  } else if (dtype === 'float16') {
    for (let i = 0; i < values.length; i++) (out as Uint16Array)[place(i)] = floatToHalf(values[i]!);
  } else if (dtype === 'bool') {
    for (let i = 0; i < values.length; i++) (out as Uint8Array)[place(i)] = values[i] ? 1 : 0;
  } else {
    for (let i = 0; i < values.length; i++) (out as Float32Array)[place(i)] = values[i]!;
  }
}

/**
 * A tensor for `n` samples whose values arrive sample after sample (each in its sample's C order):
 * the samples go on the input's batch axis, wherever it sits.
 */
function layOut(spec: IoSpec, n: number, values: Float64Array): HostTensor {
  const dims = shapeForBatch(spec, n);
  const data = allocate(spec.dtype, dims.reduce((a, b) => a * b, 1));
  const b = batchAxisOf(spec);
  if (b === null || b === 0) {
    storeAll(spec, data, values, null);
  } else {
    const inner = dims.slice(b + 1).reduce((x, y) => x * y, 1);
    const outer = dims.slice(0, b).reduce((x, y) => x * y, 1);
    const per = inner * outer;
    // Sample k's element (o, r) sits at ((o * n) + k) * inner + r in the batched tensor.
    storeAll(spec, data, values, (i) => {
      const k = Math.floor(i / per);
      const j = i % per;
      return (Math.floor(j / inner) * n + k) * inner + (j % inner);
    });
  }
  return { type: spec.dtype, dims, data };
}

// 'hidden' alone is not a state: Keras names a model's input after its first layer, often 'hidden' (hidden_input).
const STATE_NAME = /state|past|present|cache|hidden_?state|^h0?$|^c0?$|^h_?in$|^c_?in$/i;
const MASK_NAME = /mask/i;
const RATE_NAME = /^sr$|sample_?rate/i;
const ZERO_IDS = /token_type|segment/i;

/**
 * Synthetic values for one input, `n` samples (values in sample order). The defaults follow the
 * names models use: masks are all ones, recurrent state and KV caches start at zero, a sample-rate
 * scalar is 16000, token-type ids are 0; other integers are ids in [0, 9], floats uniform in [0, 1).
 * An image-shaped input gets seeded pictures instead (./synthetic-image.ts).
 * `range` in the config overrides all of these.
 */
function synthesize(spec: IoSpec, n: number, seed: number): Float64Array {
  const image = imageInputOf(spec);
  if (image && batchAxisOf(spec) !== null) return synthesizeImages(spec, image, n, seed);
  const per = sampleShape(spec).reduce((a, b) => a * b, 1);
  const count = batchAxisOf(spec) === null ? per : n * per;
  const out = new Float64Array(count);
  const isInt = !spec.dtype.startsWith('float');
  let range = spec.range;
  if (!range) {
    if (MASK_NAME.test(spec.name)) range = [1, 1];
    else if (isInt && RATE_NAME.test(spec.name)) range = [16000, 16000];
    else if (isInt && ZERO_IDS.test(spec.name)) range = [0, 0];
    else if (!isInt && STATE_NAME.test(spec.name)) range = [0, 0];
    else if (spec.dtype === 'bool') range = [0, 1];
    else range = isInt ? [0, 9] : [0, 1];
  }
  const [lo, hi] = range;
  const rand = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const v = lo + rand() * (hi - lo);
    out[i] = isInt ? Math.floor(Math.min(hi, v + (hi > lo ? 0.5 : 0))) : v;
  }
  return out;
}

function synthesizedTensor(spec: IoSpec, n: number, seed: number): HostTensor {
  return layOut(spec, n, synthesize(spec, n, seed));
}

/** The one input a single-array source feeds: the only input with samples, or the only input. */
function singleTarget(inputs: IoSpec[], what: string): IoSpec {
  if (inputs.length === 1) return inputs[0]!;
  const batched = inputs.filter((i) => batchAxisOf(i) !== null);
  if (batched.length === 1) return batched[0]!;
  throw new ModelGateError(
    `${what} feeds one input, but the model has ${inputs.length} (${inputs.map((i) => i.name).join(', ')}); use .npz or .jsonl with a key per input${what.includes(': CSV ') ? ', or features: {input: [columns]}' : ''}`,
  );
}

function extension(file: string): string {
  const name = file.toLowerCase();
  if (name.endsWith('.npz')) return 'npz';
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  return 'array';
}

function sourceFor(spec: DatasetSpec, resolve: (p: string) => string, inputs: IoSpec[], key: string): SampleSource {
  const perSample = (i: IoSpec) => sampleShape(i).reduce((a, b) => a * b, 1);
  if (spec.images !== undefined) {
    if (spec.inputs !== undefined) throw new ModelGateError(`${key}: give either inputs or images, not both`);
    const target = singleTarget(inputs, `${key}.images: an image folder`);
    return imageFolderSource(resolve(spec.images), spec.images, target.name, sampleShape(target), spec.classes, key);
  }
  if (spec.inputs === undefined) throw new ModelGateError(`${key}: needs inputs (a data file) or images (a folder)`);
  const file = resolve(spec.inputs);
  const display = spec.inputs;
  const kind = extension(file);
  if (spec.features !== undefined && kind !== 'csv') throw new ModelGateError(`${key}.features: only CSV files have columns; ${display} is not .csv`);
  const labelsFile = spec.labels !== undefined ? arrayColumn(resolve(spec.labels), spec.labels) : undefined;
  if (labelsFile && spec.label !== undefined) throw new ModelGateError(`${key}: give either labels (a file) or label (a key in ${display}), not both`);

  let source: SampleSource;
  if (kind === 'npz') {
    const arrays = readNpz(file, display);
    let labels = labelsFile;
    if (spec.label !== undefined) {
      labels = arrays.get(spec.label);
      if (!labels) throw new ModelGateError(`${key}.label: ${display} has no array '${spec.label}' (it has ${[...arrays.keys()].join(', ')})`);
    } else if (!labels && arrays.has('labels')) {
      labels = arrays.get('labels');
    }
    const labelName = spec.label ?? (labels && !labelsFile ? 'labels' : undefined);
    const feeds = new Map<string, Column>();
    for (const i of inputs) if (arrays.has(i.name) && i.name !== labelName) feeds.set(i.name, arrays.get(i.name)!);
    if (feeds.size === 0) {
      // A single-input model may use any one array.
      const rest = [...arrays].filter(([name]) => name !== labelName);
      const target = singleTarget(inputs, `${key}.inputs: ${display} has no array named after an input, so it`);
      if (rest.length !== 1) throw new ModelGateError(`${key}.inputs: ${display} has ${rest.length} arrays (${rest.map(([n]) => n).join(', ')}) and none is named after input '${target.name}'`);
      feeds.set(target.name, rest[0]![1]);
    }
    return columnsSource(display, feeds, labels);
  } else if (kind === 'csv') {
    const features = spec.features === undefined || Array.isArray(spec.features) ? (spec.features ?? []) : new Map(Object.entries(spec.features));
    if (features instanceof Map) {
      for (const name of features.keys()) if (!inputs.some((i) => i.name === name)) throw new ModelGateError(`${key}.features.${name}: the model has no input '${name}' (it has ${inputs.map((i) => i.name).join(', ')})`);
    }
    const target = features instanceof Map ? inputs[0]!.name : singleTarget(inputs, `${key}.inputs: CSV ${display}`).name;
    source = csvSource(file, display, { label: spec.label, features, target, key, limit: spec.limit });
  } else if (kind === 'jsonl') {
    const first = jsonlFirst(file, display, key);
    const keys = new Map(inputs.filter((i) => first.keys.includes(i.name) && i.name !== spec.label).map((i) => [i.name, perSample(i)] as const));
    if (keys.size === 0) throw new ModelGateError(`${key}.inputs: the first object of ${display} has no key named after a model input (keys: ${first.keys.join(', ')}; inputs: ${inputs.map((i) => i.name).join(', ')})`);
    source = jsonlSource(file, display, keys, spec.label, spec.label !== undefined ? first.labelWidth(spec.label) : 0, spec.limit);
  } else {
    if (spec.label !== undefined) throw new ModelGateError(`${key}.label: ${display} has no named columns; use labels: <file>`);
    const target = singleTarget(inputs, `${key}.inputs: ${display}`);
    return columnsSource(display, new Map([[target.name, arrayColumn(file, display)]]), labelsFile);
  }
  return labelsFile ? withLabels(source, labelsFile, spec.limit) : source;
}

/** A labels file beside a CSV or JSON Lines file: read row for row with it. */
function withLabels(source: SampleSource, labels: Column, limit: number | undefined): SampleSource {
  // With a limit, counting stopped early: the labels need only cover the samples used.
  const capped = limit !== undefined && source.total >= limit;
  if (capped ? labels.shape[0]! < source.total : labels.shape[0] !== source.total) throw new ModelGateError(`${labels.where}: ${labels.shape[0]} labels for ${source.total} samples in ${source.file}`);
  return {
    ...source,
    labelWidth: rowSize(labels.shape),
    labelKey: labels.where,
    open() {
      const inner = source.open();
      const rows = labels.open();
      let at = 0;
      return {
        read(n: number): SampleRows {
          const r = inner.read(n);
          const m = r.values.size > 0 ? [...r.values.values()][0]!.length / source.keys.values().next().value! : 0;
          const out = { values: r.values, labels: rows.rows(at, m) };
          at += m;
          return out;
        },
        close() {
          inner.close();
          rows.close();
        },
      };
    },
  };
}

/**
 * The sample shape (without the sample axis) that an array dataset (.npy, IDX, .npz) gives each input,
 * by input name: what fixes dims the model leaves open. `batched` names the inputs that take samples.
 * Empty for other kinds (CSV and JSON Lines rows are flat; image folders are resized to the input) and
 * when the file cannot be read (loadDataset reports that).
 */
export function datasetSampleShapes(spec: DatasetSpec | undefined, resolve: (p: string) => string, batched: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  if (!spec || spec.inputs === undefined || spec.images !== undefined) return out;
  try {
    const file = resolve(spec.inputs);
    const kind = extension(file);
    if (kind === 'npz') {
      const arrays = readNpz(file, spec.inputs);
      for (const name of batched) {
        const a = arrays.get(name);
        if (a && name !== spec.label) out.set(name, a.shape.slice(1));
      }
      const rest = [...arrays].filter(([name]) => name !== (spec.label ?? 'labels'));
      if (out.size === 0 && batched.length === 1 && rest.length === 1) out.set(batched[0]!, rest[0]![1].shape.slice(1));
    } else if (kind === 'array' && batched.length === 1) {
      out.set(batched[0]!, arrayColumn(file, spec.inputs).shape.slice(1));
    }
  } catch {
    // loadDataset reads the file again and names what is wrong with it.
  }
  return out;
}

/**
 * The dataset of a `dataset:` (or `calibration:`) section. `key` names the section in messages.
 * Inputs the data does not provide are synthesized when they carry no samples (a scalar, a fixed
 * state) or when the config gives their `range`; any other missing input is an error.
 */
export function loadDataset(spec: DatasetSpec, resolve: (p: string) => string, inputs: IoSpec[], key = 'dataset'): Dataset {
  const source = sourceFor(spec, resolve, inputs, key);
  const fed = inputs.filter((i) => source.keys.has(i.name));
  for (const i of fed) {
    const per = sampleShape(i).reduce((a, b) => a * b, 1);
    const got = source.keys.get(i.name)!;
    if (batchAxisOf(i) === null) throw new ModelGateError(`${key}: input '${i.name}' [${i.shape.join(', ')}] has no batch axis, so ${source.file} cannot feed it one sample at a time`);
    if (got !== per) {
      const stored = source.sampleShapes?.get(i.name);
      throw new ModelGateError(`${source.file}: samples of ${stored ? `shape [${stored.join(', ')}] (${got} values)` : `${got} values`} cannot be reshaped to input '${i.name}' [${sampleShape(i).join(', ')}] (${per} values)`);
    }
  }
  const missing = inputs.filter((i) => !source.keys.has(i.name) && batchAxisOf(i) !== null && !i.range);
  if (missing.length > 0) {
    throw new ModelGateError(
      `${key}: ${source.file} has no data for input${missing.length > 1 ? 's' : ''} ${missing.map((i) => `'${i.name}'`).join(', ')} (it feeds ${[...source.keys.keys()].map((k) => `'${k}'`).join(', ') || 'nothing'}); add ${missing.length > 1 ? 'them' : 'it'} to the file, or give inputs.<name>.range to synthesize ${missing.length > 1 ? 'them' : 'it'}`,
    );
  }
  const count = Math.min(source.total, spec.limit ?? source.total);
  if (count === 0) throw new ModelGateError(`${source.file}: the dataset has no samples`);
  const pre = new Map(fed.filter((i) => i.dtype.startsWith('float')).map((i) => [i.name, preprocessor(i, spec.preprocess ?? {}, `${key}.preprocess`)] as const));

  const toFeeds = (rows: SampleRows, first: number, n: number, indices: number[]): Feeds => {
    const feeds: Feeds = {};
    for (const i of inputs) {
      const values = rows.values.get(i.name);
      if (!values) {
        feeds[i.name] = synthesizedTensor(i, indices.length, 1234 + 7919 * inputs.indexOf(i) + first);
        continue;
      }
      const per = source.keys.get(i.name)!;
      for (let v = 0; v < n * per; v++) {
        if (!Number.isFinite(values[v]!)) {
          throw new ModelGateError(`${source.describe(first + Math.floor(v / per))}, key '${i.name}': value ${values[v]} is not a finite number`);
        }
      }
      pre.get(i.name)?.apply(values);
      // Padding repeats samples: gather them in the order asked for.
      const picked = indices.length === n && indices.every((s, k) => s === k) ? values : gather(values, per, indices);
      feeds[i.name] = layOut(i, indices.length, picked);
    }
    return feeds;
  };

  return {
    count,
    hasLabels: source.labelWidth > 0,
    synthetic: false,
    source: source.file,
    describeSample: (i) => source.describe(i),
    labelKey: source.labelKey,
    ...('classes' in source ? { classes: (source as { classes: string[] }).classes } : {}),
    *batches(size: number, pad = false) {
      const cursor = source.open();
      try {
        for (let start = 0; start < count; start += size) {
          const n = Math.min(size, count - start);
          const rows = cursor.read(n);
          const indices = Array.from({ length: pad ? size : n }, (_, k) => Math.min(k, n - 1));
          const labels = rows.labels ? rows.labels.subarray(0, n * source.labelWidth) : null;
          yield { feeds: toFeeds(rows, start, n, indices), labels, labelWidth: Math.max(1, source.labelWidth), count: n, start };
        }
      } finally {
        cursor.close();
      }
    },
    feedsForBatch(batch: number) {
      const cursor = source.open();
      try {
        const n = Math.min(batch, count);
        const rows = cursor.read(n);
        return toFeeds(rows, 0, n, Array.from({ length: batch }, (_, k) => k % n));
      } finally {
        cursor.close();
      }
    },
  };
}

function gather(values: Float64Array, per: number, indices: number[]): Float64Array {
  const out = new Float64Array(indices.length * per);
  indices.forEach((s, k) => out.set(values.subarray(s * per, (s + 1) * per), k * per));
  return out;
}

export const SYNTHETIC_SAMPLES = 64;

/** Bytes of synthetic batches kept for reuse: drawing pictures costs more than a search trial should repeat. */
const SYNTHETIC_CACHE_BYTES = 256 << 20;

export function syntheticDataset(inputs: IoSpec[], seed = 1234, count = SYNTHETIC_SAMPLES): Dataset {
  const cache = new Map<string, Feeds>();
  let cached = 0;
  const make = (n: number, offset: number): Feeds => {
    const key = `${n}:${offset}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const feeds: Feeds = Object.fromEntries(inputs.map((spec, k) => [spec.name, synthesizedTensor(spec, n, seed + 7919 * k + offset)]));
    // Only batches with pictures are kept (the rest are cheap to redraw); callers never write into feeds.
    if (inputs.some((i) => imageInputOf(i))) {
      const bytes = Object.values(feeds).reduce((b, t) => b + t.data.byteLength, 0);
      if (cached + bytes <= SYNTHETIC_CACHE_BYTES) {
        cache.set(key, feeds);
        cached += bytes;
      }
    }
    return feeds;
  };
  const fixed = fixedBatchOf(inputs);
  return {
    count,
    hasLabels: false,
    synthetic: true,
    source: 'synthetic',
    describeSample: (i) => `synthetic sample ${i}`,
    labelKey: null,
    *batches(size: number, pad = false) {
      const step = fixed ?? size;
      for (let start = 0; start < count; start += step) {
        const n = Math.min(step, count - start);
        yield { feeds: make(pad || fixed !== null ? step : n, start), labels: null, labelWidth: 1, count: n, start };
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
  if (samples <= 0) return out;
  for (const batch of dataset.batches(1)) {
    out.push(batch.feeds);
    if (out.length >= samples) break;
  }
  return out;
}

/**
 * The data calibrating passes learn from: the `calibration:` section when there is one, else the
 * evaluation dataset itself, marked `overlapsEvaluation` so that the report can say so.
 */
export function loadCalibration(spec: DatasetSpec | undefined, evaluation: Dataset, resolve: (p: string) => string, inputs: IoSpec[]): Dataset {
  if (!spec) return { ...evaluation, overlapsEvaluation: !evaluation.synthetic };
  return { ...loadDataset(spec, resolve, inputs, 'calibration'), overlapsEvaluation: false };
}
