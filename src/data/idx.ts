/**
 * IDX files (the MNIST/Fashion-MNIST container, optionally gzipped): a big-endian header
 * [0, 0, type, ndim] + ndim uint32 dims, then the data. Treated as hostile input.
 */
import { gunzipSync } from 'node:zlib';
import type { HostDType } from '../model/host-tensor.js';
import type { TypedArray } from '../model/tensor.js';
import { ModelGateError } from '../errors.js';

const TYPES: Record<number, { dtype: HostDType; bytes: number }> = {
  0x08: { dtype: 'uint8', bytes: 1 },
  0x09: { dtype: 'int8', bytes: 1 },
  0x0b: { dtype: 'int16', bytes: 2 },
  0x0c: { dtype: 'int32', bytes: 4 },
  0x0d: { dtype: 'float32', bytes: 4 },
  0x0e: { dtype: 'float64', bytes: 8 },
};

/** Decompressed-size cap: far above Fashion-MNIST's 47 MB, far below memory. */
export const MAX_DATASET_BYTES = 2 ** 31 - 1;

export interface ArrayFile {
  dtype: HostDType;
  shape: number[];
  data: TypedArray;
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export function gunzipChecked(bytes: Uint8Array, file: string): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_DATASET_BYTES });
  } catch (err) {
    throw new ModelGateError(`${file}: cannot decompress gzip data (${(err as Error).message})`, { cause: err });
  }
}

export interface IdxHeader {
  dtype: HostDType;
  shape: number[];
  /** Bytes per element and the data's offset. */
  elementBytes: number;
  dataOffset: number;
}

/** Parses the header from the file's first bytes and checks the data length against `fileSize`. */
export function readIdxHeader(bytes: Uint8Array, file: string, fileSize = bytes.length): IdxHeader {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new ModelGateError(`${file}: not an IDX file (bad magic number)`);
  const type = TYPES[bytes[2]!];
  if (!type) throw new ModelGateError(`${file}: IDX data type 0x${bytes[2]!.toString(16)} is not one of ${Object.keys(TYPES).map((k) => '0x' + Number(k).toString(16)).join(', ')}`);
  const ndim = bytes[3]!;
  if (ndim < 1 || ndim > 8) throw new ModelGateError(`${file}: IDX file has ${ndim} dimensions (1 to 8 supported)`);
  const header = 4 + 4 * ndim;
  if (bytes.length < header) throw new ModelGateError(`${file}: IDX header is truncated`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(dv.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const need = header + count * type.bytes;
  if (fileSize !== need) throw new ModelGateError(`${file}: IDX shape [${shape.join(', ')}] needs ${need} bytes, the file has ${fileSize}`);
  return { dtype: type.dtype, shape, elementBytes: type.bytes, dataOffset: header };
}

export function readIdx(input: Uint8Array, file: string): ArrayFile {
  const bytes = isGzip(input) ? gunzipChecked(input, file) : input;
  const h = readIdxHeader(bytes, file);
  const count = h.shape.reduce((a, b) => a * b, 1);
  return { dtype: h.dtype, shape: h.shape, data: decodeBigEndian(bytes.subarray(h.dataOffset), h.dtype, count) };
}

export function decodeBigEndian(body: Uint8Array, dtype: HostDType, n: number): TypedArray {
  if (dtype === 'uint8') return new Uint8Array(body);
  if (dtype === 'int8') return new Int8Array(body.buffer.slice(body.byteOffset, body.byteOffset + n));
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  switch (dtype) {
    case 'int16': return Int16Array.from({ length: n }, (_, i) => dv.getInt16(2 * i, false));
    case 'int32': return Int32Array.from({ length: n }, (_, i) => dv.getInt32(4 * i, false));
    case 'float32': return Float32Array.from({ length: n }, (_, i) => dv.getFloat32(4 * i, false));
    default: return Float64Array.from({ length: n }, (_, i) => dv.getFloat64(8 * i, false));
  }
}
