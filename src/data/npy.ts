/**
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0), little-endian numeric dtypes, C order.
 *
 * Input files come from users' repositories, so the reader treats them as hostile: every length in
 * the header is checked against the bytes actually present before anything is allocated.
 * float16 ('<f2') comes back as a Uint16Array of IEEE half bits (what onnxruntime takes for float16
 * tensors); datasets decode it to numbers (data/arrays.ts) before feeding, never as raw bits.
 */
import type { HostDType } from '../model/host-tensor.js';
import type { TypedArray } from '../model/tensor.js';
import { ModelGateError } from '../errors.js';

export interface NpyArray {
  dtype: HostDType;
  shape: number[];
  data: TypedArray;
}

type ArrayCtor = { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): TypedArray; BYTES_PER_ELEMENT: number };

interface DTypeInfo {
  /** The descr without its byte-order character: 'f4', 'u1', 'b1'. */
  kind: string;
  ctor: ArrayCtor;
}

const DTYPES: Record<HostDType, DTypeInfo> = {
  float32: { kind: 'f4', ctor: Float32Array },
  float64: { kind: 'f8', ctor: Float64Array },
  float16: { kind: 'f2', ctor: Uint16Array },
  uint8: { kind: 'u1', ctor: Uint8Array },
  int8: { kind: 'i1', ctor: Int8Array },
  int16: { kind: 'i2', ctor: Int16Array },
  uint16: { kind: 'u2', ctor: Uint16Array },
  int32: { kind: 'i4', ctor: Int32Array },
  uint32: { kind: 'u4', ctor: Uint32Array },
  int64: { kind: 'i8', ctor: BigInt64Array },
  uint64: { kind: 'u8', ctor: BigUint64Array },
  bool: { kind: 'b1', ctor: Uint8Array },
};

const DTYPE_BY_KIND = new Map(Object.entries(DTYPES).map(([dtype, info]) => [info.kind, dtype as HostDType]));

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy itself allows 64 dimensions. */
const MAX_RANK = 64;
/** Headers of supported dtypes are a few hundred bytes; a larger one is not a file we can read. */
const MAX_HEADER_BYTES = 65536;
const ALIGN = 64;
const GROWTH_DIGITS = 21;

/** Typed arrays use the host's byte order; .npy data here is little-endian. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(file: string, what: string): never {
  throw new ModelGateError(`${file}: not a readable .npy file: ${what}`);
}

export interface NpyHeader {
  dtype: HostDType;
  shape: number[];
  /** Byte offset of the data in the file. */
  dataOffset: number;
  /** Elements and bytes the shape needs. */
  count: number;
  dataBytes: number;
}

/**
 * Parses the header from the file's first bytes (the whole file or just its head) and checks the
 * data length against `fileSize`, so that a reader can fetch rows by offset without loading the file.
 */
export function readNpyHeader(bytes: Uint8Array, file: string, fileSize = bytes.length): NpyHeader {
  if (!HOST_IS_LITTLE_ENDIAN) throw new ModelGateError(`${file}: reading .npy needs a little-endian host`);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail(file, 'missing the \\x93NUMPY magic');
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (minor !== 0 || major < 1 || major > 3) fail(file, `format version ${major}.${minor} is not 1.0, 2.0 or 3.0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) fail(file, 'truncated before the header length');
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLen > MAX_HEADER_BYTES) fail(file, `header length ${headerLen} exceeds ${MAX_HEADER_BYTES} bytes`);
  if (prefix + headerLen > bytes.length) fail(file, `header length ${headerLen} runs past the end of the file (${fileSize} bytes)`);
  const headerBytes = bytes.subarray(prefix, prefix + headerLen);
  // Versions 1 and 2 are latin1; version 3 allows utf-8 (only field names could use it).
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(headerBytes);
  const { descr, fortranOrder, shape } = parseHeader(header, file);

  if (fortranOrder) throw new ModelGateError(`${file}: .npy arrays in Fortran order are not supported; save with np.ascontiguousarray(a) first`);
  const dtype = dtypeOfDescr(descr, file);
  const { ctor } = DTYPES[dtype];

  let count = 1;
  for (const d of shape) {
    count *= d;
    if (!Number.isSafeInteger(count)) fail(file, `shape (${shape.join(', ')}) has too many elements`);
  }
  const dataBytes = fileSize - prefix - headerLen;
  const expected = count * ctor.BYTES_PER_ELEMENT;
  if (dataBytes !== expected) {
    throw new ModelGateError(
      `${file}: .npy data has ${dataBytes} bytes, but shape (${shape.join(', ')}) of ${descr} needs ${expected} (${count} elements)`,
    );
  }
  return { dtype, shape, dataOffset: prefix + headerLen, count, dataBytes: expected };
}

/** Bytes per element of a dtype as stored in .npy. */
export function npyElementBytes(dtype: HostDType): number {
  return DTYPES[dtype].ctor.BYTES_PER_ELEMENT;
}

/** Little-endian element bytes as a typed array (float16 stays as half bits). */
export function npyTypedArray(dtype: HostDType, bytes: Uint8Array, count: number): TypedArray {
  const { ctor } = DTYPES[dtype];
  // Copy into a fresh buffer: the data offset is rarely aligned to the element size.
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + count * ctor.BYTES_PER_ELEMENT) as ArrayBuffer;
  return new ctor(buffer, 0, count);
}

export function readNpy(bytes: Uint8Array, file: string): NpyArray {
  const h = readNpyHeader(bytes, file);
  return { dtype: h.dtype, shape: h.shape, data: npyTypedArray(h.dtype, bytes.subarray(h.dataOffset), h.count) };
}

function dtypeOfDescr(descr: string, file: string): HostDType {
  const order = descr[0];
  const kind = descr.slice(1);
  const dtype = DTYPE_BY_KIND.get(kind);
  if (!dtype || !'<>|='.includes(order ?? 'x')) {
    const supported = [...DTYPE_BY_KIND.keys()].map((k) => (k.endsWith('1') ? `|${k}` : `<${k}`)).join(' ');
    fail(file, `dtype '${descr}' is not supported (supported: ${supported})`);
  }
  const oneByte = DTYPES[dtype].ctor.BYTES_PER_ELEMENT === 1;
  if (order === '>' && !oneByte) fail(file, `dtype '${descr}' is big-endian; save it as '<${kind}' (a.astype('<${kind}'))`);
  return dtype;
}

interface Header {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/**
 * The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
 * It is parsed with a small grammar, never evaluated, and only the three keys numpy writes are accepted.
 */
function parseHeader(text: string, file: string): Header {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const expect = (ch: string) => {
    ws();
    if (text[i] !== ch) fail(file, `malformed header, expected '${ch}' at offset ${i}: ${JSON.stringify(text.slice(0, 200))}`);
    i++;
  };
  const peek = () => (ws(), text[i]);
  const str = (): string => {
    ws();
    const q = text[i];
    if (q !== "'" && q !== '"') fail(file, `malformed header, expected a string at offset ${i}`);
    const end = text.indexOf(q, i + 1);
    if (end < 0) fail(file, 'malformed header, unterminated string');
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const word = (): string => {
    ws();
    const m = /^[A-Za-z]+/.exec(text.slice(i));
    if (!m) fail(file, `malformed header, expected True or False at offset ${i}`);
    i += m[0].length;
    return m[0];
  };
  const int = (): number => {
    ws();
    const m = /^\d+/.exec(text.slice(i));
    if (!m) fail(file, `malformed header, expected a dimension at offset ${i}`);
    i += m[0].length;
    // Python 2 era numpy wrote longs as 3L.
    if (text[i] === 'L') i++;
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n)) fail(file, `dimension ${m[0]} is too large`);
    return n;
  };

  const fields: Partial<Header> = {};
  expect('{');
  while (peek() !== '}') {
    const key = str();
    expect(':');
    if (key === 'descr') {
      if (peek() === '[') fail(file, 'structured dtypes are not supported');
      fields.descr = str();
    } else if (key === 'fortran_order') {
      const w = word();
      if (w !== 'True' && w !== 'False') fail(file, `fortran_order must be True or False, not ${w}`);
      fields.fortranOrder = w === 'True';
    } else if (key === 'shape') {
      expect('(');
      const shape: number[] = [];
      while (peek() !== ')') {
        shape.push(int());
        if (shape.length > MAX_RANK) fail(file, `shape has more than ${MAX_RANK} dimensions`);
        if (peek() === ',') i++;
        else break;
      }
      expect(')');
      fields.shape = shape;
    } else {
      fail(file, `unexpected header key '${key}'`);
    }
    if (peek() === ',') i++;
    else break;
  }
  expect('}');
  ws();
  if (i !== text.length) fail(file, `unexpected text after the header dict at offset ${i}`);
  if (fields.descr === undefined || fields.fortranOrder === undefined || fields.shape === undefined) {
    fail(file, "header lacks one of 'descr', 'fortran_order', 'shape'");
  }
  return fields as Header;
}

/** Writes a C-order, little-endian .npy (version 1.0, or 2.0 if the header needs it). */
export function writeNpy(dtype: HostDType, shape: readonly number[], data: TypedArray): Uint8Array {
  const info = DTYPES[dtype];
  if (!info) throw new Error(`writeNpy: unknown dtype ${String(dtype)}`);
  if (!(data instanceof info.ctor)) throw new Error(`writeNpy: ${dtype} needs a ${info.ctor.name}, got ${data.constructor.name}`);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`writeNpy: invalid shape [${shape.join(', ')}]`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`writeNpy: ${data.length} values for shape [${shape.join(', ')}] (${count} elements)`);

  const descr = `${info.ctor.BYTES_PER_ELEMENT === 1 ? '|' : '<'}${info.kind}`;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Like np.save: room for the first dimension to grow to 21 digits in place, then spaces up to a 64-byte
  // boundary (a full 64 when already aligned) and '\n', so the bytes match numpy's for the same array.
  const growth = shape.length > 0 ? ' '.repeat(Math.max(0, GROWTH_DIGITS - String(shape[0]).length)) : '';
  const text = dict + growth;
  const major = 10 + text.length + 1 + ALIGN <= 65535 ? 1 : 2;
  const prefix = major === 1 ? 10 : 12;
  const padding = ALIGN - ((prefix + text.length + 1) % ALIGN);
  const header = text + ' '.repeat(padding) + '\n';
  const padded = prefix + header.length;

  const out = new Uint8Array(padded + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let k = 0; k < header.length; k++) out[prefix + k] = header.charCodeAt(k);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), padded);
  return out;
}
