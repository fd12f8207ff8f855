/**
 * Array files as sample sources: .npy (read by offset, a batch of rows at a time), IDX and .npz
 * (decompressed in memory, capped). Sample i is row i of the leading dimension of every array.
 */
import { closeSync } from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import type { HostDType } from '../model/host-tensor.js';
import type { TypedArray } from '../model/tensor.js';
import { halfToFloat } from '../model/tensor.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { MAX_DATASET_BYTES, readIdx } from './idx.js';
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

/** A .npy file read lazily: only the rows of the current batch are in memory. */
export function npyColumn(file: string, where: string): Column {
  const { fd, size } = openRegular(file, where);
  let header;
  try {
    const head = readAt(fd, Math.min(size, 65536 + 12), 0, where);
    header = readNpyHeader(head, where, size);
  } finally {
    closeSync(fd);
  }
  const { dtype, shape, dataOffset } = header;
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

export function idxColumn(file: string, where: string): Column {
  const a = readIdx(readCapped(file, where), where);
  return memoryColumn(where, a.dtype, a.shape, a.data);
}

/** Every .npy entry of an .npz archive (np.savez or np.savez_compressed), by name without '.npy'. */
export function readNpz(file: string, where: string): Map<string, Column> {
  const bytes = readCapped(file, where);
  let entries: Record<string, Uint8Array>;
  let total = 0;
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        if (!f.name.endsWith('.npy')) return false;
        total += f.originalSize;
        if (total > MAX_DATASET_BYTES) throw new Error(`entries expand to more than ${MAX_DATASET_BYTES} bytes`);
        return true;
      },
    });
  } catch (err) {
    throw new ModelGateError(`${where}: not a readable .npz archive (${errorMessage(err)})`, { cause: err });
  }
  const out = new Map<string, Column>();
  for (const [name, data] of Object.entries(entries)) {
    const key = name.slice(0, -'.npy'.length);
    const a = readNpy(data, `${where}:${name}`);
    out.set(key, memoryColumn(`${where}:${name}`, a.dtype, a.shape, a.data));
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
