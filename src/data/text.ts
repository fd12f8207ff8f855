/**
 * Text datasets read in fixed-size chunks (fs.readSync), one line at a time: CSV with a header and
 * JSON Lines. Only the current chunk and the current batch are in memory, so a 2 GB file streams
 * with flat memory. The dataset interface is synchronous (a generator of batches), which rules out
 * the stream-based CSV parsers; numeric CSV needs only the field splitting below.
 */
import { closeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { ModelGateError } from '../errors.js';
import { openRegular, readAt, type SampleCursor, type SampleSource } from './source.js';

const CHUNK_BYTES = 1 << 20;
/** A line longer than this is not a data row we can use (and would grow memory without bound). */
const MAX_LINE_CHARS = 64 << 20;

/** Lines of a file, read chunk by chunk; `line` is the 1-based number of the last line returned. */
export class LineReader {
  line = 0;
  private readonly fd: number;
  private readonly size: number;
  private position = 0;
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private lines: string[] = [];
  private index = 0;
  private ended = false;

  constructor(file: string, private readonly display: string) {
    const { fd, size } = openRegular(file, display);
    this.fd = fd;
    this.size = size;
  }

  next(): string | null {
    while (this.index >= this.lines.length) {
      if (this.ended) return null;
      this.fill();
    }
    this.line++;
    return this.lines[this.index++]!;
  }

  private fill(): void {
    this.lines = [];
    this.index = 0;
    const n = Math.min(CHUNK_BYTES, this.size - this.position);
    let text: string;
    if (n <= 0) {
      text = this.pending + this.decoder.end();
      this.pending = '';
      this.ended = true;
      if (text.length > 0) this.lines.push(text.endsWith('\r') ? text.slice(0, -1) : text);
      return;
    }
    text = this.pending + this.decoder.write(Buffer.from(readAt(this.fd, n, this.position, this.display)));
    this.position += n;
    const parts = text.split('\n');
    this.pending = parts.pop()!;
    if (this.pending.length > MAX_LINE_CHARS) throw new ModelGateError(`${this.display}: line ${this.line + parts.length + 1} is longer than ${MAX_LINE_CHARS} characters`);
    for (const p of parts) this.lines.push(p.endsWith('\r') ? p.slice(0, -1) : p);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Splits one CSV record (RFC 4180 quoting, without newlines inside quotes). */
export function splitCsv(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let field = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quoted field');
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(field);
      if (i >= line.length) return out;
      if (line[i] !== ',') throw new Error(`text after a quoted field at character ${i + 1}`);
      i++;
    } else {
      const c = line.indexOf(',', i);
      if (c < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

function blank(line: string): boolean {
  return line.trim() === '';
}

/** Data lines (non-blank) after `skip` leading lines, up to `max`: a first streaming pass before any batch. */
function countLines(file: string, display: string, skip: number, max = Infinity): number {
  const r = new LineReader(file, display);
  let n = 0;
  try {
    for (let line = r.next(); line !== null && n < max; line = r.next()) if (r.line > skip && !blank(line)) n++;
  } finally {
    r.close();
  }
  return n;
}

export interface CsvOptions {
  /** The label column, if any. */
  label?: string;
  /** Columns per model input, in order. */
  features: Map<string, string[]> | string[];
  /** The input fed when `features` is a plain list. */
  target: string;
  /** The config section, for messages: 'dataset' or 'calibration'. */
  key: string;
  /** `limit`: counting stops there, so a huge file with a small limit is not read to the end. */
  limit?: number;
}

/**
 * A CSV file with a header row. Samples are data rows; messages give "row N" counting data rows
 * from 1 and the file line.
 */
export function csvSource(file: string, display: string, options: CsvOptions): SampleSource {
  const r = new LineReader(file, display);
  let header: string[];
  try {
    const first = r.next();
    if (first === null || blank(first)) throw new ModelGateError(`${display}: the CSV file is empty; its first line must be a header`);
    header = splitCsv(first.replace(/^\uFEFF/, '')).map((h) => h.trim());
  } catch (err) {
    if (err instanceof ModelGateError) throw err;
    throw new ModelGateError(`${display}: line 1 (the header): ${(err as Error).message}`);
  } finally {
    r.close();
  }
  const column = (name: string, key: string): number => {
    const at = header.indexOf(name);
    if (at < 0) throw new ModelGateError(`${key}: column '${name}' is not in the header of ${display} (${header.slice(0, 20).join(', ')}${header.length > 20 ? ', ...' : ''})`);
    return at;
  };
  const labelAt = options.label !== undefined ? column(options.label, `${options.key}.label`) : -1;
  const groups = new Map<string, number[]>();
  if (Array.isArray(options.features)) {
    const cols = options.features.length > 0 ? options.features.map((c) => column(c, `${options.key}.features`)) : header.map((_, i) => i).filter((i) => i !== labelAt);
    groups.set(options.target, cols);
  } else {
    for (const [input, cols] of options.features) groups.set(input, cols.map((c) => column(c, `${options.key}.features.${input}`)));
  }
  for (const [input, cols] of groups) if (cols.length === 0) throw new ModelGateError(`${options.key}.features: no columns feed input '${input}'`);
  const total = countLines(file, display, 1, options.limit);
  const source: SampleSource = {
    file: display,
    total,
    keys: new Map([...groups].map(([k, cols]) => [k, cols.length])),
    labelWidth: labelAt >= 0 ? 1 : 0,
    labelKey: labelAt >= 0 ? `column '${options.label}'` : null,
    describe: (i) => `${display} row ${i + 1}`,
    open(): SampleCursor {
      const reader = new LineReader(file, display);
      reader.next();
      let row = 0;
      return {
        read(n: number) {
          const values = new Map([...groups].map(([k, cols]) => [k, new Float64Array(n * cols.length)]));
          const labels = labelAt >= 0 ? new Float64Array(n) : null;
          let k = 0;
          while (k < n) {
            const line = reader.next();
            if (line === null) break;
            if (blank(line)) continue;
            const where = `${display} row ${row + 1} (line ${reader.line})`;
            let fields: string[];
            try {
              fields = splitCsv(line);
            } catch (err) {
              throw new ModelGateError(`${where}: ${(err as Error).message}`);
            }
            if (fields.length !== header.length) throw new ModelGateError(`${where}: ragged row, ${fields.length} fields where the header has ${header.length}`);
            const num = (at: number): number => {
              const text = fields[at]!.trim();
              const v = text === '' ? NaN : Number(text);
              if (!Number.isFinite(v)) throw new ModelGateError(`${where}, key '${header[at]}': ${text === '' ? 'empty field' : `'${text.slice(0, 40)}' is not a finite number`}`);
              return v;
            };
            for (const [input, cols] of groups) {
              const out = values.get(input)!;
              for (let j = 0; j < cols.length; j++) out[k * cols.length + j] = num(cols[j]!);
            }
            if (labels) labels[k] = num(labelAt);
            k++;
            row++;
          }
          if (k < n) {
            for (const [key, v] of values) values.set(key, v.subarray(0, k * groups.get(key)!.length));
            return { values, labels: labels ? labels.subarray(0, k) : null };
          }
          return { values, labels };
        },
        close: () => reader.close(),
      };
    },
  };
  return source;
}

/** Flattens nested number arrays, checking that they are rectangular; returns the shape. */
function flatten(value: unknown, out: number[], where: string): number[] {
  if (typeof value === 'number') {
    out.push(value);
    return [];
  }
  if (typeof value === 'boolean') {
    out.push(value ? 1 : 0);
    return [];
  }
  if (!Array.isArray(value)) throw new ModelGateError(`${where}: ${value === null ? 'null' : typeof value} where numbers or nested arrays of numbers belong`);
  let shape: number[] | null = null;
  for (const item of value) {
    const s = flatten(item, out, where);
    if (shape === null) shape = s;
    else if (s.length !== shape.length || s.some((d, i) => d !== shape![i])) throw new ModelGateError(`${where}: ragged nested arrays ([${shape.join(', ')}] then [${s.join(', ')}])`);
  }
  return [value.length, ...(shape ?? [])];
}

/**
 * JSON Lines: one object per line, a key per model input (numbers or nested arrays), plus the label key.
 * `keys` are the inputs to read with their values per sample.
 */
export function jsonlSource(file: string, display: string, keys: Map<string, number>, label: string | undefined, labelWidth: number, limit?: number): SampleSource {
  const total = countLines(file, display, 0, limit);
  return {
    file: display,
    total,
    keys,
    labelWidth: label !== undefined ? labelWidth : 0,
    labelKey: label !== undefined ? `key '${label}'` : null,
    describe: (i) => `${display} sample ${i + 1}`,
    open(): SampleCursor {
      const reader = new LineReader(file, display);
      return {
        read(n: number) {
          const values = new Map([...keys].map(([k, per]) => [k, new Float64Array(n * per)]));
          const labels = label !== undefined ? new Float64Array(n * labelWidth) : null;
          let k = 0;
          while (k < n) {
            const line = reader.next();
            if (line === null) break;
            if (blank(line)) continue;
            const where = `${display} line ${reader.line}`;
            const obj = parseObject(line, where);
            for (const [key, per] of keys) {
              if (!(key in obj)) throw new ModelGateError(`${where}: no key '${key}' (the model input it feeds)`);
              const flat: number[] = [];
              const shape = flatten(obj[key], flat, `${where}, key '${key}'`);
              if (flat.length !== per) throw new ModelGateError(`${where}, key '${key}': ${flat.length} values (shape [${shape.join(', ')}]), the input takes ${per} per sample`);
              const bad = flat.findIndex((v) => !Number.isFinite(v));
              if (bad >= 0) throw new ModelGateError(`${where}, key '${key}': value ${flat[bad]} at position ${bad} is not a finite number`);
              values.get(key)!.set(flat, k * per);
            }
            if (labels && label !== undefined) {
              if (!(label in obj)) throw new ModelGateError(`${where}: no label key '${label}'`);
              const flat: number[] = [];
              flatten(obj[label], flat, `${where}, key '${label}'`);
              if (flat.length !== labelWidth) throw new ModelGateError(`${where}, key '${label}': ${flat.length} label values, the first sample has ${labelWidth}`);
              if (flat.some((v) => !Number.isFinite(v))) throw new ModelGateError(`${where}, key '${label}': the label is not a finite number`);
              labels.set(flat, k * labelWidth);
            }
            k++;
          }
          if (k < n) {
            for (const [key, v] of values) values.set(key, v.subarray(0, k * keys.get(key)!));
            return { values, labels: labels ? labels.subarray(0, k * labelWidth) : null };
          }
          return { values, labels };
        },
        close: () => reader.close(),
      };
    },
  };
}

function parseObject(line: string, where: string): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (err) {
    throw new ModelGateError(`${where}: not valid JSON (${(err as Error).message})`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ModelGateError(`${where}: each line must be a JSON object`);
  return obj as Record<string, unknown>;
}

/** The first object of a JSON Lines file: which keys it has and the label's width. */
export function jsonlFirst(file: string, display: string, key: string): { keys: string[]; labelWidth: (label: string) => number } {
  const r = new LineReader(file, display);
  try {
    for (let line = r.next(); line !== null; line = r.next()) {
      if (blank(line)) continue;
      const obj = parseObject(line, `${display} line ${r.line}`);
      return {
        keys: Object.keys(obj),
        labelWidth: (label) => {
          if (!(label in obj)) throw new ModelGateError(`${key}.label: key '${label}' is not in the first object of ${display} (keys: ${Object.keys(obj).join(', ')})`);
          const flat: number[] = [];
          flatten(obj[label], flat, `${display} line ${r.line}, key '${label}'`);
          return flat.length;
        },
      };
    }
  } finally {
    r.close();
  }
  throw new ModelGateError(`${display}: the JSON Lines file has no samples`);
}
