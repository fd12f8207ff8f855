/**
 * Where samples come from. A source reads samples in file order, a batch at a time, as plain
 * numbers per model input (and per label row); dataset.ts turns them into typed, laid-out feeds.
 * Every source names the file and the sample in its messages, because the data is the user's
 * (or a hostile PR's), not ours.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ModelGateError, errorMessage } from '../errors.js';

export interface SampleRows {
  /** Per model input: n × (values per sample), in the sample's C order. */
  values: Map<string, Float64Array>;
  /** n × labelWidth, or null when the source has no labels. */
  labels: Float64Array | null;
}

export interface SampleCursor {
  /** The next `n` samples (fewer only at the end of the file). */
  read(n: number): SampleRows;
  close(): void;
}

export interface SampleSource {
  /** The file or folder as the config names it. */
  file: string;
  /** Samples in the source, before `limit`. */
  total: number;
  /** Model inputs this source feeds, with their values per sample. */
  keys: Map<string, number>;
  /** The stored sample shape per input, where the format has one (arrays), for messages. */
  sampleShapes?: Map<string, number[]>;
  /** Values per label row; 0 without labels. */
  labelWidth: number;
  /** Where the labels sit, for messages: "labels.npy", "column 'label'". */
  labelKey: string | null;
  /** Reads from the first sample; each call starts over, so memory never holds the whole file. */
  open(): SampleCursor;
  /** A sample's place, for messages: "data.csv row 7", "val/cat/3.png". */
  describe(index: number): string;
}

/** Files larger than this are refused outright (2 GiB; streaming formats read them in chunks, so this is not a memory bound). */
export const MAX_STREAMED_BYTES = 2 ** 31 - 1;

/**
 * Opens a regular file for chunked reads. FIFOs and devices are refused: they block or never end,
 * and a size from fstat would not bound them.
 */
export function openRegular(file: string, display: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new ModelGateError(`${display}: cannot open (${errorMessage(err)})`, { cause: err });
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new ModelGateError(`${display}: not a regular file`);
  }
  return { fd, size: st.size };
}

/** Reads exactly `length` bytes at `position`. */
export function readAt(fd: number, length: number, position: number, display: string): Uint8Array {
  const out = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, out, got, length - got, position + got);
    if (n === 0) throw new ModelGateError(`${display}: file ended early (read ${got} of ${length} bytes at offset ${position})`);
    got += n;
  }
  return out;
}

/** A NaN or infinite value fed to a model would silently poison every metric: refuse it with its place. */
export function checkFinite(values: Float64Array, per: number, first: number, source: SampleSource, key: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      throw new ModelGateError(`${source.describe(first + Math.floor(i / per))}, key '${key}': value ${v} is not a finite number`);
    }
  }
}
