/**
 * The TF GraphDef as tfjs-converter writes it into model.json: protobuf's JSON mapping, so int64
 * values are decimal strings, bytes (string attributes) are base64, and tensor values live in the
 * weights manifest under the Const node's name rather than in the node.
 */
import { ModelGateError } from '../../errors.js';
import { halfToFloat } from '../../model/tensor.js';
import type { WeightSpec } from '../../formats/tfjs/files.js';

export interface TfDim {
  size?: string | number;
}
export interface TfShape {
  dim?: TfDim[];
  unknownRank?: boolean;
}
export interface TfTensorJson {
  dtype?: string;
  tensorShape?: TfShape;
  floatVal?: number[];
  intVal?: number[];
  boolVal?: boolean[];
  tensorContent?: string;
}
export interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: TfShape;
  tensor?: TfTensorJson;
  list?: { s?: string[]; i?: Array<string | number>; f?: number[]; b?: boolean[]; type?: string[]; shape?: TfShape[] };
}
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  device?: string;
  attr?: Record<string, TfAttr>;
}
export interface GraphDef {
  node: TfNode[];
  library?: { function?: unknown[] };
  versions?: unknown;
}
export interface SignatureEntry {
  name?: string;
  dtype?: string;
  tensorShape?: TfShape;
}
export interface Signature {
  inputs?: Record<string, SignatureEntry>;
  outputs?: Record<string, SignatureEntry>;
}

/** TF's DataType names → the element types the importer carries (TF.js has no int64: it reads it as int32). */
export type TfDType = 'float32' | 'int32' | 'bool';
const DTYPES: Record<string, TfDType> = {
  DT_FLOAT: 'float32',
  DT_HALF: 'float32',
  DT_DOUBLE: 'float32',
  DT_INT32: 'int32',
  DT_INT64: 'int32',
  DT_INT16: 'int32',
  DT_INT8: 'int32',
  DT_UINT8: 'int32',
  DT_UINT16: 'int32',
  DT_BOOL: 'bool',
};

export function tfDType(name: string | undefined, where: string): TfDType {
  const t = name === undefined ? undefined : DTYPES[name];
  if (!t) throw new ModelGateError(`${where}: data type ${name ?? '(none)'} is not supported (float, int32, bool)`);
  return t;
}

/** A tensor reference 'node', 'node:1' or '^node' (a control input) split into node and output index. */
export function parseInput(ref: string): { node: string; index: number; control: boolean } {
  if (ref.startsWith('^')) return { node: ref.slice(1), index: 0, control: true };
  const m = /^(.*):(\d+)$/.exec(ref);
  return m ? { node: m[1]!, index: Number(m[2]), control: false } : { node: ref, index: 0, control: false };
}

export function decodeBase64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

/** Accessors that say which node and attribute was wrong instead of returning undefined. */
export class Attrs {
  constructor(
    private readonly node: TfNode,
    private readonly label: string,
  ) {}

  has(key: string): boolean {
    return this.node.attr?.[key] !== undefined;
  }
  private get(key: string): TfAttr | undefined {
    return this.node.attr?.[key];
  }
  string(key: string, fallback?: string): string {
    const a = this.get(key);
    if (a?.s !== undefined) return decodeBase64(a.s);
    if (fallback !== undefined) return fallback;
    throw new ModelGateError(`${this.label}: attribute '${key}' is missing`);
  }
  strings(key: string): string[] {
    return (this.get(key)?.list?.s ?? []).map(decodeBase64);
  }
  int(key: string, fallback?: number): number {
    const a = this.get(key);
    if (a?.i !== undefined) return Number(a.i);
    if (fallback !== undefined) return fallback;
    throw new ModelGateError(`${this.label}: attribute '${key}' is missing`);
  }
  ints(key: string, fallback?: number[]): number[] {
    const a = this.get(key);
    if (a?.list) return (a.list.i ?? []).map(Number);
    if (fallback !== undefined) return fallback;
    throw new ModelGateError(`${this.label}: attribute '${key}' is missing`);
  }
  float(key: string, fallback: number): number {
    return this.get(key)?.f ?? fallback;
  }
  bool(key: string, fallback = false): boolean {
    return this.get(key)?.b ?? fallback;
  }
  type(key: string): string | undefined {
    return this.get(key)?.type;
  }
  shape(key: string): TfShape | undefined {
    return this.get(key)?.shape;
  }
  tensor(key: string): TfTensorJson | undefined {
    return this.get(key)?.tensor;
  }
}

/** Dims of a TF shape with -1 for unknown sizes; undefined for an unknown rank. */
export function shapeDims(shape: TfShape | undefined): number[] | undefined {
  if (!shape || shape.unknownRank) return undefined;
  return (shape.dim ?? []).map((d) => (d.size === undefined ? 1 : Number(d.size)));
}

export type ConstData = Float32Array | Int32Array | Uint8Array;

/**
 * Every weight of the manifest as float32/int32 (bool as bytes), dequantized as TF.js does on load:
 * uint8/uint16 affine (q · scale + min, rounded for int32 weights) and float16 widened.
 */
export function decodeWeights(specs: WeightSpec[], data: Uint8Array, file: string): Map<string, { shape: number[]; dtype: TfDType; data: ConstData }> {
  const out = new Map<string, { shape: number[]; dtype: TfDType; data: ConstData }>();
  let at = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const q = spec.quantization;
    const stored = q?.dtype ?? spec.dtype;
    const per = stored === 'uint8' || stored === 'bool' ? 1 : stored === 'uint16' || stored === 'float16' ? 2 : 4;
    const bytes = data.slice(at, at + n * per);
    at += n * per;
    const where = `${file}: weight '${spec.name}'`;
    if (spec.dtype !== 'float32' && spec.dtype !== 'int32' && spec.dtype !== 'bool') throw new ModelGateError(`${where} is ${spec.dtype}; only float32, int32 and bool weights are supported`);
    const dtype: TfDType = spec.dtype === 'float32' ? 'float32' : spec.dtype === 'int32' ? 'int32' : 'bool';
    let values: ConstData;
    if (!q) {
      values = dtype === 'float32' ? new Float32Array(bytes.buffer, 0, n) : dtype === 'int32' ? new Int32Array(bytes.buffer, 0, n) : bytes;
    } else if (q.dtype === 'float16') {
      if (dtype !== 'float32') throw new ModelGateError(`${where}: float16 quantization of ${dtype} weights is not supported`);
      const halves = new Uint16Array(bytes.buffer, 0, n);
      values = Float32Array.from(halves, halfToFloat);
    } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
      if (typeof q.scale !== 'number' || typeof q.min !== 'number') throw new ModelGateError(`${where}: ${q.dtype} quantization needs a scale and a min`);
      const ints = q.dtype === 'uint8' ? bytes : new Uint16Array(bytes.buffer, 0, n);
      const { scale, min } = q;
      if (dtype === 'float32') values = Float32Array.from(ints, (v) => v * scale + min);
      else if (dtype === 'int32') values = Int32Array.from(ints, (v) => Math.round(v * scale + min));
      else throw new ModelGateError(`${where}: quantized bool weights are not supported`);
    } else {
      throw new ModelGateError(`${where}: quantization ${q.dtype} is not supported (uint8, uint16, float16)`);
    }
    out.set(spec.name, { shape: spec.shape, dtype, data: values });
  }
  return out;
}

/** A Const node's value written in the node itself (older converters, or tensors the converter inlined). */
export function inlineTensor(t: TfTensorJson, where: string): { shape: number[]; dtype: TfDType; data: ConstData } {
  const dtype = tfDType(t.dtype, where);
  const shape = shapeDims(t.tensorShape) ?? [];
  const n = shape.reduce((a, b) => a * b, 1);
  let data: ConstData;
  if (t.tensorContent) {
    const raw = new Uint8Array(Buffer.from(t.tensorContent, 'base64'));
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    data = dtype === 'float32' ? new Float32Array(copy.buffer, 0, n) : dtype === 'int32' ? new Int32Array(copy.buffer, 0, n) : copy;
  } else {
    const list: number[] = dtype === 'float32' ? (t.floatVal ?? []) : dtype === 'int32' ? (t.intVal ?? []).map(Number) : (t.boolVal ?? []).map((b) => (b ? 1 : 0));
    // Protobuf writes a splat (every element equal) as one value.
    const fill = (i: number): number => list[Math.min(i, list.length - 1)] ?? 0;
    data = dtype === 'float32' ? Float32Array.from({ length: n }, (_, i) => fill(i)) : dtype === 'int32' ? Int32Array.from({ length: n }, (_, i) => fill(i)) : Uint8Array.from({ length: n }, (_, i) => fill(i));
  }
  return { shape, dtype, data };
}
