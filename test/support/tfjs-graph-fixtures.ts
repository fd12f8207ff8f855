/**
 * Builds TF.js graph models the way tfjs-converter writes them: model.json with a GraphDef in
 * protobuf's JSON mapping (int64 as strings, string attributes base64), Const values in the
 * weights manifest, optionally quantized (uint8/uint16 affine with min and scale, or float16).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { floatToHalf } from '../../src/model/tensor.js';
import { seededRandom } from '../../src/data/random.js';

type Attr = Record<string, unknown>;
export const s = (v: string): Attr => ({ s: Buffer.from(v).toString('base64') });
export const i = (v: number): Attr => ({ i: String(v) });
export const f = (v: number): Attr => ({ f: v });
export const b = (v: boolean): Attr => ({ b: v });
export const ints = (v: number[]): Attr => ({ list: { i: v.map(String) } });
export const strs = (v: string[]): Attr => ({ list: { s: v.map((x) => Buffer.from(x).toString('base64')) } });
export const type = (t: 'DT_FLOAT' | 'DT_INT32' | 'DT_BOOL' | 'DT_INT64'): Attr => ({ type: t });
export const T = { T: type('DT_FLOAT') };

export interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, Attr>;
}

export interface ConstDef {
  name: string;
  shape: number[];
  dtype?: 'float32' | 'int32';
  values: ArrayLike<number>;
  quantize?: 'uint8' | 'uint16' | 'float16';
}

export function node(name: string, op: string, input: string[] = [], attr: Record<string, Attr> = {}): GraphNode {
  return { name, op, input, attr };
}

export function placeholder(name: string, shape: number[], dtype: 'DT_FLOAT' | 'DT_INT32' = 'DT_FLOAT'): GraphNode {
  return node(name, 'Placeholder', [], { dtype: type(dtype), shape: { shape: { dim: shape.map((d) => ({ size: String(d) })) } } });
}

/** Seeded uniform values in [lo, hi), nonzero spread so a wrong order shows. */
export function randomValues(n: number, seed: number, lo = -0.5, hi = 0.5): Float32Array {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

export function constant(name: string, shape: number[], values: ArrayLike<number>, options: { dtype?: 'float32' | 'int32'; quantize?: ConstDef['quantize'] } = {}): ConstDef {
  return { name, shape, values, dtype: options.dtype ?? 'float32', quantize: options.quantize };
}

/** Affine quantization with min and scale as tfjs-converter stores them. */
function quantize(values: ArrayLike<number>, bits: 8 | 16): { data: Uint8Array; min: number; scale: number } {
  const arr = Array.from(values);
  const lo = Math.min(...arr);
  const hi = Math.max(...arr);
  const levels = bits === 8 ? 255 : 65535;
  const scale = hi > lo ? (hi - lo) / levels : 1;
  const q = arr.map((v) => Math.min(levels, Math.max(0, Math.round((v - lo) / scale))));
  const data = bits === 8 ? Uint8Array.from(q) : new Uint8Array(Uint16Array.from(q).buffer);
  return { data, min: lo, scale };
}

/** Writes model.json + group1-shard1of1.bin into dir; returns model.json's path. */
export function writeGraphModel(dir: string, nodes: GraphNode[], consts: ConstDef[], options: { signature?: unknown } = {}): string {
  mkdirSync(dir, { recursive: true });
  const specs: unknown[] = [];
  const parts: Uint8Array[] = [];
  const constNodes: GraphNode[] = consts.map((c) => {
    const dtype = c.dtype ?? 'float32';
    const spec: Record<string, unknown> = { name: c.name, shape: c.shape, dtype };
    if (c.quantize === 'float16') {
      spec.quantization = { dtype: 'float16' };
      parts.push(new Uint8Array(Uint16Array.from(Array.from(c.values), floatToHalf).buffer));
    } else if (c.quantize) {
      const q = quantize(c.values, c.quantize === 'uint8' ? 8 : 16);
      spec.quantization = { dtype: c.quantize, min: q.min, scale: q.scale };
      parts.push(q.data);
    } else {
      parts.push(new Uint8Array((dtype === 'int32' ? Int32Array.from(Array.from(c.values)) : Float32Array.from(Array.from(c.values))).buffer));
    }
    specs.push(spec);
    const dt = dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT';
    return node(c.name, 'Const', [], { value: { tensor: { dtype: dt, tensorShape: { dim: c.shape.map((d) => ({ size: String(d) })) } } }, dtype: type(dt) });
  });
  const bin = Buffer.concat(parts);
  writeFileSync(path.join(dir, 'group1-shard1of1.bin'), bin);
  const json: Record<string, unknown> = {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: { node: [...constNodes, ...nodes], library: {}, versions: { producer: 1482 } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
  };
  if (options.signature) json.signature = options.signature;
  const file = path.join(dir, 'model.json');
  writeFileSync(file, JSON.stringify(json));
  return file;
}
