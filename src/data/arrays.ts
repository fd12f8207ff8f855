/**
 * Array files as sample sources: .npy and the stored arrays of an .npz (read by offset, a block of
 * rows at a time) and IDX; gzipped IDX and compressed .npz arrays are decompressed in memory, capped at 2 GiB.
 * Sample i is row i of the leading dimension of every array.
 */
import { closeSync } from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import type { HostDType } from '../model/host-tensor.js';
import type { TypedArray } from '../model/tensor.js';
import { halfToFloat } from '../model/tensor.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { MAX_DATASET_BYTES, decodeBigEndian, isGzip, readIdx, readIdxHeader } from './idx.js';
import { npyElementBytes, npyTypedArray, readNpy, readNpyHeader } from './npy.js';
import { openRegular, readAt, type SampleCursor, type SampleSource } from './source.js';

const READ_AHEAD_BYTES = 4 << 20;

/** One array whose leading dimension indexes samples. */
export interface Column {
  /** File (and entry) for messages. */
  where: string;
  dtype: HostDType;
  shape: number[];
  open(): { rows(start: number, n: number): Float64Array; close(): void };
}

/** Numbers from any stored dtype; float16 bits are decoded here, never fed as raw bits. */
export function toFloat64(dtype: HostDType, data: TypedArray): Float64Array {
  if (dtype === 'float16') return Float64Array.from(data as Uint16Array, halfToFloat);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float64Array.from(data, Number);
  return Float64Array.from(data as ArrayLike<number>);
}

export function rowSize(shape: number[]): number {
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

export function memoryColumn(where: string, dtype: HostDType, shape: number[], data: TypedArray): Column {
  if (shape.length === 0) throw new ModelGateError(`${where}: a 0-d array has no samples; the first dimension must index samples`);
  const per = rowSize(shape);
  return {
    where, dtype, shape,
    open: () => ({
      rows: (start, n) => toFloat64(dtype, data.subarray(start * per, (start + n) * per) as TypedArray),
      close: () => undefined,
    }),
  };
}

/** A .npy file (or a stored .npy entry at `base` inside an .npz) read lazily: only the rows of the current batch are in memory. */
export function npyColumn(file: string, where: string, base = 0, length?: number): Column {
  const { fd, size } = openRegular(file, where);
  let header;
  try {
    const span = length ?? size - base;
    if (base + span > size) throw new ModelGateError(`${where}: the entry runs past the end of the file`);
    const head = readAt(fd, Math.min(span, 65536 + 12), base, where);
    header = readNpyHeader(head, where, span);
  } finally {
    closeSync(fd);
  }
  const { dtype, shape } = header;
  const dataOffset = base + header.dataOffset;
  if (shape.length === 0) throw new ModelGateError(`${where}: a 0-d array has no samples; the first dimension must index samples`);
  const per = rowSize(shape);
  const bytes = npyElementBytes(dtype);
  return {
    where, dtype, shape,
    open() {
      const handle = openRegular(file, where);
      // Rows are read ahead in blocks of about READ_AHEAD_BYTES: one syscall per block, not per batch of 1.
      const block = Math.max(1, Math.floor(READ_AHEAD_BYTES / Math.max(1, per * bytes)));
      let cached: { start: number; n: number; data: Float64Array } | null = null;
      return {
        rows(start: number, n: number) {
          if (n === 0 || per === 0) return new Float64Array(0);
          if (!cached || start < cached.start || start + n > cached.start + cached.n) {
            const m = Math.min(Math.max(n, block), shape[0]! - start);
            const raw = readAt(handle.fd, m * per * bytes, dataOffset + start * per * bytes, where);
            cached = { start, n: m, data: toFloat64(dtype, npyTypedArray(dtype, raw, m * per)) };
          }
          const from = (start - cached.start) * per;
          return cached.data.slice(from, from + n * per);
        },
        close: () => closeSync(handle.fd),
      };
    },
  };
}

function readCapped(file: string, where: string): Uint8Array {
  const { fd, size } = openRegular(file, where);
  try {
    if (size > MAX_DATASET_BYTES) throw new ModelGateError(`${where}: ${size} bytes is over the 2 GiB limit`);
    return readAt(fd, size, 0, where);
  } finally {
    closeSync(fd);
  }
}

/** An IDX file: read in place by offset like .npy, unless it is gzipped (then inflated in memory, capped). */
export function idxColumn(file: string, where: string): Column {
  const { fd, size } = openRegular(file, where);
  let header;
  try {
    const head = readAt(fd, Math.min(size, 4 + 4 * 8), 0, where);
    if (isGzip(head)) {
      const a = readIdx(readCapped(file, where), where);
      return memoryColumn(where, a.dtype, a.shape, a.data);
    }
    header = readIdxHeader(head, where, size);
  } finally {
    closeSync(fd);
  }
  const { dtype, shape, elementBytes, dataOffset } = header;
  const per = rowSize(shape);
  return {
    where, dtype, shape,
    open() {
      const handle = openRegular(file, where);
      return {
        rows(start: number, n: number) {
          if (n === 0 || per === 0) return new Float64Array(0);
          const raw = readAt(handle.fd, n * per * elementBytes, dataOffset + start * per * elementBytes, where);
          return toFloat64(dtype, decodeBigEndian(raw, dtype, n * per));
        },
        close: () => closeSync(handle.fd),
      };
    },
  };
}

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeader: number;
}

const MAX_ZIP_ENTRIES = 4096;

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/**
 * The central directory of a zip file (zip64 included), read by offset. np.savez stores its arrays
 * uncompressed, so their rows can be read in place like a .npy file.
 */
function zipDirectory(fd: number, size: number, where: string): ZipEntry[] {
  const tailLength = Math.min(size, 65535 + 22);
  const tail = readAt(fd, tailLength, size - tailLength, where);
  const tv = view(tail);
  let eocd = -1;
  for (let i = tailLength - 22; i >= 0; i--) if (tv.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw new Error('no end-of-central-directory record');
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (eocd >= 20 && tv.getUint32(eocd - 20, true) === 0x07064b50) {
    const recordAt = Number(tv.getBigUint64(eocd - 20 + 8, true));
    if (recordAt + 56 > size) throw new Error('zip64 record out of range');
    const rv = view(readAt(fd, 56, recordAt, where));
    if (rv.getUint32(0, true) !== 0x06064b50) throw new Error('bad zip64 end-of-central-directory record');
    count = Number(rv.getBigUint64(32, true));
    cdSize = Number(rv.getBigUint64(40, true));
    cdOffset = Number(rv.getBigUint64(48, true));
  }
  if (count > MAX_ZIP_ENTRIES) throw new Error(`${count} entries (at most ${MAX_ZIP_ENTRIES})`);
  if (cdOffset + cdSize > size || cdSize > 64 << 20) throw new Error('central directory out of range');
  const cd = readAt(fd, cdSize, cdOffset, where);
  const cv = view(cd);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let k = 0; k < count; k++) {
    if (at + 46 > cdSize || cv.getUint32(at, true) !== 0x02014b50) throw new Error('bad central directory entry');
    const nameLength = cv.getUint16(at + 28, true), extraLength = cv.getUint16(at + 30, true), commentLength = cv.getUint16(at + 32, true);
    if (at + 46 + nameLength + extraLength > cdSize) throw new Error('central directory entry out of range');
    const name = new TextDecoder().decode(cd.subarray(at + 46, at + 46 + nameLength));
    let compressedSize = cv.getUint32(at + 20, true), sizeOut = cv.getUint32(at + 24, true), localHeader = cv.getUint32(at + 42, true);
    // Fields at 0xFFFFFFFF live in the zip64 extra field, in this order.
    for (let e = at + 46 + nameLength; e + 4 <= at + 46 + nameLength + extraLength;) {
      const id = cv.getUint16(e, true), len = cv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let f = e + 4;
        const next = () => { const v = Number(cv.getBigUint64(f, true)); f += 8; return v; };
        if (sizeOut === 0xffffffff) sizeOut = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localHeader === 0xffffffff) localHeader = next();
      }
      e += 4 + len;
    }
    entries.push({ name, method: cv.getUint16(at + 10, true), compressedSize, size: sizeOut, localHeader });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/**
 * Every .npy entry of an .npz archive, by name without '.npy'. Stored entries (np.savez) are read in
 * place, a batch of rows at a time; compressed ones (np.savez_compressed) are inflated into memory, capped.
 */
export function readNpz(file: string, where: string): Map<string, Column> {
  const { fd, size } = openRegular(file, where);
  const out = new Map<string, Column>();
  const compressed: ZipEntry[] = [];
  try {
    let entries: ZipEntry[];
    try {
      entries = zipDirectory(fd, size, where).filter((e) => e.name.endsWith('.npy'));
    } catch (err) {
      if (err instanceof ModelGateError) throw err;
      throw new ModelGateError(`${where}: not a readable .npz archive (${errorMessage(err)})`, { cause: err });
    }
    for (const e of entries) {
      const entryWhere = `${where}:${e.name}`;
      if (e.method !== 0) {
        compressed.push(e);
        continue;
      }
      if (e.localHeader + 30 > size) throw new ModelGateError(`${entryWhere}: local header out of range`);
      const lv = view(readAt(fd, 30, e.localHeader, where));
      if (lv.getUint32(0, true) !== 0x04034b50) throw new ModelGateError(`${entryWhere}: bad local header`);
      const dataStart = e.localHeader + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
      if (e.size !== e.compressedSize || dataStart + e.size > size) throw new ModelGateError(`${entryWhere}: stored entry out of range`);
      out.set(e.name.slice(0, -'.npy'.length), npyColumn(file, entryWhere, dataStart, e.size));
    }
  } finally {
    closeSync(fd);
  }
  if (compressed.length > 0) {
    const total = compressed.reduce((n, e) => n + e.size, 0);
    if (total > MAX_DATASET_BYTES || size > MAX_DATASET_BYTES) throw new ModelGateError(`${where}: compressed arrays expand to ${total} bytes, over the 2 GiB limit; save with np.savez (uncompressed) to stream them`);
    const wanted = new Set(compressed.map((e) => e.name));
    let inflated: Record<string, Uint8Array>;
    try {
      inflated = unzipSync(readCapped(file, where), { filter: (f) => wanted.has(f.name) });
    } catch (err) {
      throw new ModelGateError(`${where}: not a readable .npz archive (${errorMessage(err)})`, { cause: err });
    }
    for (const [name, data] of Object.entries(inflated)) {
      const a = readNpy(data, `${where}:${name}`);
      out.set(name.slice(0, -'.npy'.length), memoryColumn(`${where}:${name}`, a.dtype, a.shape, a.data));
    }
  }
  if (out.size === 0) throw new ModelGateError(`${where}: the .npz archive holds no .npy arrays`);
  return out;
}

/** .npy or IDX by file name. */
export function arrayColumn(file: string, where: string): Column {
  const name = path.basename(file).toLowerCase();
  if (name.endsWith('.npy')) return npyColumn(file, where);
  if (/\.idx\d?(-ubyte)?(\.gz)?$|-ubyte(\.gz)?$/.test(name)) return idxColumn(file, where);
  throw new ModelGateError(`${where}: unknown array format; use .npy, .npz or IDX (.idx3-ubyte / .idx1-ubyte, optionally .gz)`);
}

/** Columns feeding model inputs (by input name) and an optional labels column, as one source. */
export function columnsSource(display: string, inputs: Map<string, Column>, labels: Column | undefined): SampleSource {
  const all = [...inputs.values(), ...(labels ? [labels] : [])];
  const total = all[0]!.shape[0]!;
  if (labels && labels.shape[0] !== total) throw new ModelGateError(`${labels.where}: ${labels.shape[0]} labels for ${total} samples in ${all[0]!.where}`);
  for (const c of all) {
    if (c.shape[0] !== total) {
      throw new ModelGateError(`${c.where}: ${c.shape[0]} samples, but ${all[0]!.where} has ${total}; every array needs one row per sample`);
    }
  }
  const keys = new Map([...inputs].map(([k, c]) => [k, rowSize(c.shape)]));
  const source: SampleSource = {
    file: display,
    total,
    keys,
    sampleShapes: new Map([...inputs].map(([k, c]) => [k, c.shape.slice(1)])),
    labelWidth: labels ? rowSize(labels.shape) : 0,
    labelKey: labels ? labels.where : null,
    describe: (i) => `${display} sample ${i}`,
    open(): SampleCursor {
      const readers = [...inputs].map(([k, c]) => [k, c.open()] as const);
      const labelReader = labels?.open();
      let at = 0;
      return {
        read(n: number) {
          const m = Math.max(0, Math.min(n, total - at));
          const values = new Map(readers.map(([k, r]) => [k, r.rows(at, m)]));
          const rows = labelReader ? labelReader.rows(at, m) : null;
          at += m;
          return { values, labels: rows };
        },
        close() {
          for (const [, r] of readers) r.close();
          labelReader?.close();
        },
      };
    },
  };
  return source;
}
