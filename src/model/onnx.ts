/**
 * ONNX codec: the official onnx.proto (vendored in ./proto) compiled by protobufjs.
 * Decoding keeps every field that the schema knows, and int64 values stay `Long`, so
 * decode → encode is lossless for models written against this schema version.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Long from 'long';
import { onnx } from './proto/onnx.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { readFileSafe, realFolder, resolveInsideFolder } from '../io/files.js';

export { onnx };
export type Model = onnx.ModelProto;
export type Graph = onnx.GraphProto;
export type Node = onnx.NodeProto;
export type Tensor = onnx.TensorProto;
export type Attribute = onnx.AttributeProto;
export type ValueInfo = onnx.ValueInfoProto;

export const DataType = onnx.TensorProto.DataType;

/** Largest model file we agree to read: the protobuf limit for a single message. */
export const MAX_MODEL_BYTES = 2 ** 31 - 1;
/** All external-data files of one model together. */
export const MAX_EXTERNAL_DATA_BYTES = 2 ** 32;

export function decodeModel(bytes: Uint8Array, file = '<memory>'): Model {
  if (bytes.length === 0) throw new ModelGateError(`${file}: empty file, not an ONNX model`);
  let model: Model;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ModelGateError(`${file}: not a valid ONNX model (truncated or corrupt protobuf: ${errorMessage(err)})`, { cause: err });
  }
  if (!model.graph) throw new ModelGateError(`${file}: ONNX model has no graph`);
  return model;
}

export function encodeModel(model: Model): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** A deep copy through the wire format: passes never mutate their input. */
export function cloneModel(model: Model): Model {
  return onnx.ModelProto.decode(encodeModel(model));
}

export function toNumber(v: number | Long | null | undefined): number {
  if (v == null) return 0;
  return typeof v === 'number' ? v : Long.fromValue(v).toNumber();
}

export function dimsOf(t: onnx.ITensorProto): number[] {
  return (t.dims ?? []).map(toNumber);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

const BYTES_PER_ELEMENT: Record<number, number> = {
  [DataType.FLOAT]: 4, [DataType.UINT8]: 1, [DataType.INT8]: 1, [DataType.UINT16]: 2, [DataType.INT16]: 2,
  [DataType.INT32]: 4, [DataType.INT64]: 8, [DataType.BOOL]: 1, [DataType.FLOAT16]: 2, [DataType.DOUBLE]: 8,
  [DataType.UINT32]: 4, [DataType.UINT64]: 8, [DataType.BFLOAT16]: 2,
};

export function bytesPerElement(dataType: number): number | undefined {
  return BYTES_PER_ELEMENT[dataType];
}

export interface LoadOptions {
  /** Inline external-data tensors into raw_data (the default), so passes see every weight. */
  inlineExternalData?: boolean;
}

/**
 * Reads an .onnx file, resolving external data next to it. External-data locations are
 * treated as hostile: they must stay inside the model's folder and within the file's size.
 */
export function loadModel(file: string, options: LoadOptions = {}): Model {
  const bytes = readFileSafe(file, { maxBytes: MAX_MODEL_BYTES, what: 'ONNX model (the protobuf limit is 2 GiB; store larger weights as external data)' });
  const model = decodeModel(bytes, file);
  if (options.inlineExternalData !== false) inlineExternalData(model, path.dirname(file), file);
  return model;
}

function* allTensors(graph: onnx.IGraphProto): Generator<onnx.ITensorProto> {
  yield* graph.initializer ?? [];
  for (const node of graph.node ?? []) {
    for (const attr of node.attribute ?? []) {
      if (attr.t) yield attr.t;
      for (const t of attr.tensors ?? []) yield t;
      if (attr.g) yield* allTensors(attr.g);
      for (const g of attr.graphs ?? []) yield* allTensors(g);
    }
  }
}

function inlineExternalData(model: Model, dir: string, file: string): void {
  // The real folder: a model reached through a symlink still only reads beside its real self.
  const root = realFolder(dir);
  let total = 0;
  const cache = new Map<string, Buffer>();
  for (const t of allTensors(model.graph!)) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
    const location = kv.location;
    if (!location) throw new ModelGateError(`${file}: tensor '${t.name}' has external data without a location`);
    const target = resolveInsideFolder(root, location, `${file}: tensor '${t.name}'`, 'external data location');
    let data = cache.get(target);
    if (!data) {
      data = readFileSafe(target, { maxBytes: MAX_EXTERNAL_DATA_BYTES - total, within: root, label: `${file}: tensor '${t.name}': external data '${location}'`, what: 'external data file' });
      total += data.length;
      cache.set(target, data);
    }
    const offset = Number(kv.offset ?? 0);
    const per = bytesPerElement(t.dataType ?? 0);
    const expected = per === undefined ? undefined : elementCount(dimsOf(t)) * per;
    const length = kv.length !== undefined ? Number(kv.length) : expected ?? data.length - offset;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > data.length) {
      throw new ModelGateError(`${file}: tensor '${t.name}': external data range ${offset}+${length} is outside '${location}' (${data.length} bytes)`);
    }
    if (expected !== undefined && expected !== length) {
      throw new ModelGateError(`${file}: tensor '${t.name}': external data has ${length} bytes, its shape needs ${expected}`);
    }
    t.rawData = new Uint8Array(data.subarray(offset, offset + length));
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    t.externalData = [];
  }
}

/** Writes a model as one self-contained file (weights inline). */
export function saveModel(model: Model, file: string): number {
  mkdirSync(path.dirname(file), { recursive: true });
  const bytes = encodeModel(model);
  writeFileSync(file, bytes);
  return bytes.length;
}
