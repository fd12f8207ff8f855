/** Typed access to TensorProto payloads, whichever field the writer used. */
import Long from 'long';
import { onnx, DataType, dimsOf, elementCount, toNumber } from './onnx.js';
import { ModelGateError } from '../errors.js';

export type TypedArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

function view<T>(raw: Uint8Array, Ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }, n: number): T {
  // Copy into an aligned buffer: raw_data offsets inside a decoded protobuf are arbitrary.
  const copy = new Uint8Array(n * Ctor.BYTES_PER_ELEMENT);
  copy.set(raw.subarray(0, copy.length));
  return new Ctor(copy.buffer, 0, n);
}

function checkRaw(t: onnx.ITensorProto, n: number, per: number): void {
  const have = t.rawData?.length ?? 0;
  if (have !== n * per) {
    throw new ModelGateError(`tensor '${t.name}': raw_data has ${have} bytes, its shape [${dimsOf(t).join(', ')}] needs ${n * per}`);
  }
}

/** Float16 bits → float32, exact. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** Float32 → float16 bits, round to nearest even, with overflow to ±Inf. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** The tensor's elements as a typed array of its own type (float16 comes back as float32). */
export function tensorData(t: onnx.ITensorProto): TypedArray {
  const n = elementCount(dimsOf(t));
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  switch (t.dataType) {
    case DataType.FLOAT:
      if (raw) { checkRaw(t, n, 4); return view(raw, Float32Array, n); }
      return Float32Array.from(t.floatData ?? []);
    case DataType.DOUBLE:
      if (raw) { checkRaw(t, n, 8); return view(raw, Float64Array, n); }
      return Float64Array.from(t.doubleData ?? []);
    case DataType.FLOAT16: {
      const bits = raw ? (checkRaw(t, n, 2), view(raw, Uint16Array, n)) : Uint16Array.from(t.int32Data ?? []);
      return Float32Array.from(bits, halfToFloat);
    }
    case DataType.INT8:
      if (raw) { checkRaw(t, n, 1); return view(raw, Int8Array, n); }
      return Int8Array.from(t.int32Data ?? []);
    case DataType.UINT8: case DataType.BOOL:
      if (raw) { checkRaw(t, n, 1); return view(raw, Uint8Array, n); }
      return Uint8Array.from(t.int32Data ?? []);
    case DataType.INT16:
      if (raw) { checkRaw(t, n, 2); return view(raw, Int16Array, n); }
      return Int16Array.from(t.int32Data ?? []);
    case DataType.UINT16:
      if (raw) { checkRaw(t, n, 2); return view(raw, Uint16Array, n); }
      return Uint16Array.from(t.int32Data ?? []);
    case DataType.INT32:
      if (raw) { checkRaw(t, n, 4); return view(raw, Int32Array, n); }
      return Int32Array.from(t.int32Data ?? []);
    case DataType.UINT32:
      if (raw) { checkRaw(t, n, 4); return view(raw, Uint32Array, n); }
      return Uint32Array.from((t.uint64Data ?? []).map(toNumber));
    case DataType.INT64:
      if (raw) { checkRaw(t, n, 8); return view(raw, BigInt64Array, n); }
      return BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(typeof v === 'number' ? v : Long.fromValue(v).toString())));
    case DataType.UINT64:
      if (raw) { checkRaw(t, n, 8); return view(raw, BigUint64Array, n); }
      return BigUint64Array.from((t.uint64Data ?? []).map((v) => BigInt(typeof v === 'number' ? v : Long.fromValue(v).toString())));
    default:
      throw new ModelGateError(`tensor '${t.name}': data type ${onnx.TensorProto.DataType[t.dataType ?? 0] ?? t.dataType} is not supported here`);
  }
}

/** Float view of a numeric tensor (int64 through Number). */
export function tensorToFloat32(t: onnx.ITensorProto): Float32Array {
  const d = tensorData(t);
  if (d instanceof Float32Array) return d;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float32Array.from(d, (v) => Number(v));
  return Float32Array.from(d as ArrayLike<number>);
}

const DTYPE_OF: Array<[new (...a: never[]) => TypedArray, number]> = [
  [Float32Array, DataType.FLOAT], [Float64Array, DataType.DOUBLE], [Int8Array, DataType.INT8], [Uint8Array, DataType.UINT8],
  [Int16Array, DataType.INT16], [Int32Array, DataType.INT32], [BigInt64Array, DataType.INT64], [Uint32Array, DataType.UINT32],
];

/**
 * Builds an initializer with raw_data (little-endian). Pass `dataType` for FLOAT16 (data = Uint16Array of bits),
 * BOOL or UINT16, whose JS arrays are ambiguous.
 */
export function makeTensor(name: string, dims: readonly number[], data: TypedArray, dataType?: number): onnx.TensorProto {
  const type = dataType ?? DTYPE_OF.find(([C]) => data instanceof C)?.[1];
  if (type === undefined) throw new Error(`makeTensor(${name}): pass dataType for ${data.constructor.name}`);
  if (elementCount(dims) !== data.length) throw new Error(`makeTensor(${name}): ${data.length} values for shape [${dims.join(', ')}]`);
  return onnx.TensorProto.create({
    name,
    dims: [...dims],
    dataType: type,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  });
}

export function tensorBytes(t: onnx.ITensorProto): number {
  return onnx.TensorProto.encode(t).len;
}

/** Row-major transpose of `data` with shape `dims` by `perm` (out axis i = in axis perm[i]). */
export function transposeData<T extends Float32Array | Int32Array | Int8Array | Uint8Array | Uint16Array>(data: T, dims: readonly number[], perm: readonly number[]): T {
  const outDims = perm.map((a) => dims[a]!);
  const inStrides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let i = 0; i < perm.length; i++) src += idx[i]! * inStrides[perm[i]!]!;
    out[o] = data[src]!;
    for (let i = outDims.length - 1; i >= 0; i--) {
      if (++idx[i]! < outDims[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}
