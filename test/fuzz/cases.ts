/**
 * The fuzz cases: a seeded mutation of one corpus input per case, written into its own folder,
 * handed to the reader that format goes through in a run, and checked. Shared by the fuzz worker
 * (scripts/fuzz/worker.ts) and the regression tests (regressions.test.ts), so a case that once
 * failed replays exactly.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { deflateSync, inflateSync } from 'node:zlib';
import { seededRandom } from '../../src/data/random.js';
import { ModelGateError, errorMessage } from '../../src/errors.js';

export const CORPUS = path.resolve(import.meta.dirname, 'corpus');
const MNIST_ONNX = path.resolve(import.meta.dirname, '../../examples/mnist/model.onnx');

export type Format = 'onnx' | 'onnx-external' | 'tflite' | 'keras-h5' | 'keras-zip' | 'tfjs' | 'npy' | 'yaml';

/** Where a symlinked file points: things outside the case folder that must never be read. */
export type LinkTarget = 'canary' | 'passwd' | 'environ' | 'devzero' | 'fifo' | 'dir';

/** A case, self-contained: the bytes of every file (base64 in regressions) and the links to make. */
export interface CaseSpec {
  format: Format;
  /** The file the reader is given, relative to the case folder. */
  entry: string;
  files: Record<string, Uint8Array>;
  links: Array<{ name: string; to: LinkTarget }>;
  mutation: string;
}

export interface CaseOutcome {
  outcome: 'ok' | 'error' | 'crash';
  message?: string;
  ms: number;
  /** runGate's exit code, for cases that ran it. */
  exitCode?: number;
}

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);

const FORMATS: Array<[Format, number]> = [
  ['onnx', 18], ['onnx-external', 14], ['tflite', 16], ['npy', 16], ['yaml', 16], ['tfjs', 8], ['keras-zip', 6], ['keras-h5', 3],
];

const read = (rel: string): Uint8Array => new Uint8Array(readFileSync(path.join(CORPUS, rel)));

// ---------------------------------------------------------------------------------------------
// Mutators
// ---------------------------------------------------------------------------------------------

const INTERESTING32 = [0, 1, 0x7f, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x10000, 0x3fffffff];

function mutateBytes(src: Uint8Array, rng: Rng): { bytes: Uint8Array; what: string } {
  let b: Uint8Array = Uint8Array.from(src);
  const ops: string[] = [];
  const n = 1 + int(rng, 4);
  for (let k = 0; k < n; k++) {
    const len = b.length;
    // Headers hold most of the structure: bias positions toward the start.
    const at = len === 0 ? 0 : rng() < 0.5 ? int(rng, Math.min(len, 256)) : int(rng, len);
    switch (int(rng, 7)) {
      case 0: if (len) { b[at] = b[at]! ^ (1 << int(rng, 8)); ops.push(`flip@${at}`); } break;
      case 1: if (len) { b[at] = pick(rng, [0, 0xff, 0x7f, 0x80, 1]); ops.push(`byte@${at}`); } break;
      case 2: if (len >= 4) { const p = Math.min(at, len - 4); new DataView(b.buffer).setUint32(p, pick(rng, [...INTERESTING32, len, len + 1, len * 2]) >>> 0, rng() < 0.5); ops.push(`word@${p}`); } break;
      case 3: { const cut = int(rng, len + 1); b = b.slice(0, cut); ops.push(`truncate@${cut}`); break; }
      case 4: { const extra = Uint8Array.from({ length: 1 + int(rng, 64) }, () => int(rng, 256)); b = concat(b.slice(0, at), extra, b.slice(at)); ops.push(`insert${extra.length}@${at}`); break; }
      case 5: if (len) { const from = int(rng, len); const size = Math.min(1 + int(rng, 512), len - from); b = concat(b.slice(0, at), b.slice(from, from + size), b.slice(at)); ops.push(`dup${size}@${at}`); } break;
      case 6: if (len) { const size = Math.min(1 + int(rng, 64), len - at); b.fill(0, at, at + size); ops.push(`zero${size}@${at}`); } break;
    }
  }
  return { bytes: b, what: ops.join(',') };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function deepNest(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { class_name: 'Sequential', config: { layers: [v] } };
  return v;
}

const JSON_VALUES: Array<(rng: Rng) => unknown> = [
  () => null, () => 'x', () => '', () => 1e308, () => -1, () => 0, () => 2 ** 31, () => [], () => ({}), () => true,
  () => '../../../../etc/passwd', () => '/proc/self/environ', () => '\n::error::injected', () => [null],
  () => Array.from({ length: 20_000 }, (_, i) => ({ class_name: 'Activation', config: { name: `a${i}`, activation: 'relu' } })),
  () => deepNest(1000), () => [-1, 1e9, 3], () => 'a'.repeat(100_000),
];

function mutateJson(text: string, rng: Rng): { text: string; what: string } {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return { text, what: 'unparsable' };
  }
  const paths: Array<Array<string | number>> = [[]];
  const stack: Array<{ v: unknown; p: Array<string | number> }> = [{ v: root, p: [] }];
  while (stack.length) {
    const { v, p } = stack.pop()!;
    if (Array.isArray(v)) v.forEach((x, i) => { paths.push([...p, i]); stack.push({ v: x, p: [...p, i] }); });
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { paths.push([...p, k]); stack.push({ v: x, p: [...p, k] }); }
  }
  const ops: string[] = [];
  for (let k = 1 + int(rng, 2); k > 0; k--) {
    const p = pick(rng, paths);
    const value = pick(rng, JSON_VALUES)(rng);
    if (p.length === 0) {
      root = value;
    } else {
      let parent = root as Record<string | number, unknown>;
      for (const key of p.slice(0, -1)) parent = (parent?.[key] ?? {}) as Record<string | number, unknown>;
      if (parent && typeof parent === 'object') {
        if (rng() < 0.15 && !Array.isArray(parent)) delete parent[p.at(-1)!];
        else parent[p.at(-1)!] = value;
      }
    }
    ops.push(`json@${p.join('.')}`);
  }
  return { text: JSON.stringify(root), what: ops.join(',') };
}

const YAML_TOKENS = [
  '.inf', '-.inf', '.nan', '1e400', '-1', '0', '99999999999', 'null', '~', '[]', '{}', '"x"', '*nowhere', '!!binary AAAA',
  '/proc/self/environ', '/dev/zero', '../../../../etc/passwd', 'linked.onnx', '"\\n::error::x"', '[[[[[[[[[[]]]]]]]]]]', '3.5', 'true',
];

function mutateYaml(text: string, rng: Rng): { text: string; what: string } {
  const kind = int(rng, 5);
  if (kind === 0) {
    const levels = 'abcdefgh'.split('');
    const bomb = [`a: &a [x, x, x, x, x, x, x, x, x]`, ...levels.slice(1).map((k, i) => `${k}: &${k} [${Array(9).fill(`*${levels[i]}`).join(', ')}]`)].join('\n');
    return { text: `${bomb}\n${text}`, what: 'alias-bomb' };
  }
  if (kind === 1) return { text: text + `${'['.repeat(5000)}${']'.repeat(5000)}\n`, what: 'deep-flow' };
  const values = [...text.matchAll(/: ([^\n{}[\],#]+)/g)];
  if (kind <= 3 && values.length > 0) {
    let out = text;
    const ops: string[] = [];
    for (let k = 1 + int(rng, 3); k > 0; k--) {
      const m = pick(rng, values);
      const token = pick(rng, YAML_TOKENS);
      out = out.replace(m[0], `: ${token}`);
      ops.push(`${m[1]!.trim()}→${token}`);
    }
    return { text: out, what: ops.join(',') };
  }
  const b = mutateBytes(new TextEncoder().encode(text), rng);
  return { text: new TextDecoder().decode(b.bytes), what: `bytes:${b.what}` };
}

const LINK_TARGETS: LinkTarget[] = ['canary', 'passwd', 'environ', 'devzero', 'fifo', 'dir'];

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/** The case for (seed, index): the same on every machine. */
export function makeCase(seed: number, index: number): CaseSpec {
  const rng = seededRandom((seed * 1_000_003 + index) >>> 0);
  const total = FORMATS.reduce((n, [, w]) => n + w, 0);
  let r = rng() * total;
  const format = FORMATS.find(([, w]) => (r -= w) < 0)?.[0] ?? 'onnx';
  const link = (name: string) => ({ name, to: pick(rng, LINK_TARGETS) });
  switch (format) {
    case 'onnx': {
      const m = mutateBytes(new Uint8Array(readFileSync(MNIST_ONNX)), rng);
      return { format, entry: 'model.onnx', files: { 'model.onnx': m.bytes }, links: [], mutation: m.what };
    }
    case 'onnx-external': {
      const files: Record<string, Uint8Array> = { 'model.onnx': read('onnx-external/model.onnx'), 'weights.bin': read('onnx-external/weights.bin') };
      if (rng() < 0.35) {
        delete files['weights.bin'];
        const l = link('weights.bin');
        return { format, entry: 'model.onnx', files, links: [l], mutation: `link:weights.bin→${l.to}` };
      }
      const target = rng() < 0.8 ? 'model.onnx' : 'weights.bin';
      const m = mutateBytes(files[target]!, rng);
      files[target] = m.bytes;
      return { format, entry: 'model.onnx', files, links: [], mutation: `${target}:${m.what}` };
    }
    case 'tflite': {
      const m = mutateBytes(read('tflite/model.tflite'), rng);
      return { format, entry: 'model.tflite', files: { 'model.tflite': m.bytes }, links: [], mutation: m.what };
    }
    case 'npy': {
      const name = pick(rng, ['f4.npy', 'u1.npy', 'i8.npy', 'f2.npy']);
      if (rng() < 0.1) return { format, entry: name, files: {}, links: [{ name, to: pick(rng, LINK_TARGETS) }], mutation: 'link' };
      const m = mutateBytes(read(`npy/${name}`), rng);
      return { format, entry: name, files: { [name]: m.bytes }, links: [], mutation: m.what };
    }
    case 'keras-h5': {
      const m = mutateBytes(read('keras-h5/model.h5'), rng);
      return { format, entry: 'model.h5', files: { 'model.h5': m.bytes }, links: [], mutation: m.what };
    }
    case 'keras-zip': {
      const zip = read('keras-zip/model.keras');
      if (rng() < 0.5) {
        const m = mutateBytes(zip, rng);
        return { format, entry: 'model.keras', files: { 'model.keras': m.bytes }, links: [], mutation: `zip:${m.what}` };
      }
      const entries = unzipSync(zip);
      const j = mutateJson(new TextDecoder().decode(entries['config.json']), rng);
      entries['config.json'] = new TextEncoder().encode(j.text);
      return { format, entry: 'model.keras', files: { 'model.keras': zipSync(entries, { level: 0 }) }, links: [], mutation: `config.json:${j.what}` };
    }
    case 'tfjs': {
      const files: Record<string, Uint8Array> = { 'model.json': read('tfjs/model.json'), 'group1-shard1of1.bin': read('tfjs/group1-shard1of1.bin') };
      const roll = rng();
      if (roll < 0.2) {
        delete files['group1-shard1of1.bin'];
        const l = link('group1-shard1of1.bin');
        return { format, entry: 'model.json', files, links: [l], mutation: `link:shard→${l.to}` };
      }
      if (roll < 0.4) {
        const m = mutateBytes(files['group1-shard1of1.bin']!, rng);
        files['group1-shard1of1.bin'] = m.bytes;
        return { format, entry: 'model.json', files, links: [], mutation: `shard:${m.what}` };
      }
      const j = mutateJson(new TextDecoder().decode(files['model.json']), rng);
      files['model.json'] = new TextEncoder().encode(j.text);
      return { format, entry: 'model.json', files, links: [], mutation: j.what };
    }
    case 'yaml': {
      const base = new TextDecoder().decode(read(`yaml/${pick(rng, ['full.yml', 'anchors.yml'])}`));
      const y = mutateYaml(base, rng);
      const files: Record<string, Uint8Array> = {
        'modelgate.yml': new TextEncoder().encode(y.text),
        'model.onnx': read('onnx-external/model.onnx'), 'weights.bin': read('onnx-external/weights.bin'),
        'f4.npy': read('npy/f4.npy'), 'i8.npy': read('npy/i8.npy'),
      };
      return { format, entry: 'modelgate.yml', files, links: [{ name: 'linked.onnx', to: pick(rng, LINK_TARGETS) }], mutation: y.what };
    }
  }
}

/** Writes a case into `dir`; links point at the canary or at special files outside it. */
export function materialize(spec: CaseSpec, dir: string, canaryFile: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(spec.files)) writeFileSync(path.join(dir, name), bytes);
  for (const { name, to } of spec.links) {
    const at = path.join(dir, name);
    if (to === 'fifo') execFileSync('mkfifo', [at]);
    else if (to === 'dir') mkdirSync(at);
    else symlinkSync({ canary: canaryFile, passwd: '/etc/passwd', environ: '/proc/self/environ', devzero: '/dev/zero' }[to], at);
  }
}

// ---------------------------------------------------------------------------------------------
// Running and checking
// ---------------------------------------------------------------------------------------------

/** Runs the reader the format goes through in a pipeline run. A ModelGateError is a clean refusal. */
export async function runCase(spec: CaseSpec, dir: string): Promise<CaseOutcome> {
  const started = performance.now();
  const file = path.join(dir, spec.entry);
  try {
    let exitCode: number | undefined;
    switch (spec.format) {
      case 'onnx':
      case 'onnx-external': {
        const { loadModel } = await import('../../src/model/onnx.js');
        const { resolveInputs } = await import('../../src/model/io.js');
        resolveInputs(loadModel(file), {}, 1, spec.entry);
        break;
      }
      case 'tflite': {
        const { importTfliteFile } = await import('../../src/import/tflite.js');
        importTfliteFile(file);
        break;
      }
      case 'npy': {
        const { readArrayFile } = await import('../../src/data/dataset.js');
        readArrayFile(file);
        break;
      }
      case 'keras-h5':
      case 'keras-zip':
      case 'tfjs': {
        // The readers and the converter; the numerical check (an ORT session per case) is left to the tests.
        const { loadTfjs } = await import('../../src/runtime/tfjs.js');
        const { readKerasH5 } = await import('../../src/import/keras-h5.js');
        const { readKerasZip } = await import('../../src/import/keras-zip.js');
        const { readTfjsLayersModel } = await import('../../src/formats/tfjs/files.js');
        const { convertTfjsLayers } = await import('../../src/import/tfjs-layers.js');
        const { tf } = await loadTfjs();
        const model = spec.format === 'tfjs' ? await readTfjsLayersModel(tf, file) : (spec.format === 'keras-h5' ? await readKerasH5(tf, file) : await readKerasZip(tf, file)).model;
        try {
          convertTfjsLayers(model, {});
        } catch (err) {
          if (err instanceof ModelGateError) throw err;
          // importModel turns these into a ModelGateError naming the file; the fuzz case counts it the same way.
          throw new ModelGateError(`${spec.entry}: the model could not be converted (${errorMessage(err)})`);
        } finally {
          model.dispose();
        }
        break;
      }
      case 'yaml': {
        const { loadConfig } = await import('../../src/config/load.js');
        try {
          loadConfig(file);
        } catch (err) {
          // A config that does not load: the whole run must still end with exit 2 and a report.
          const { runGate } = await import('../../src/commands/run.js');
          const result = await runGate({ configPath: file, outDir: path.join(dir, 'out') });
          exitCode = result.exitCode;
          if (!existsSync(result.reportPath)) return { outcome: 'crash', message: 'runGate wrote no report.json', ms: performance.now() - started, exitCode };
          const report = JSON.parse(readFileSync(result.reportPath, 'utf8')) as { error?: string };
          if (result.exitCode !== 2) return { outcome: 'crash', message: `runGate exit ${result.exitCode} for a config loadConfig refused`, ms: performance.now() - started, exitCode };
          if (report.error !== result.error) return { outcome: 'crash', message: 'report.json error differs from the run error', ms: performance.now() - started, exitCode };
          throw err;
        }
        break;
      }
    }
    return { outcome: 'ok', ms: performance.now() - started, ...(exitCode !== undefined ? { exitCode } : {}) };
  } catch (err) {
    const message = errorMessage(err);
    const clean = err instanceof ModelGateError;
    return { outcome: clean ? 'error' : 'crash', message: clean ? message : `${(err as Error)?.name ?? 'thrown'}: ${message}`, ms: performance.now() - started };
  }
}

/** What is wrong with an outcome; empty when the case passed. */
export function problems(outcome: CaseOutcome, canaryText: string, dir: string, budgetMs: number): string[] {
  const found: string[] = [];
  if (outcome.outcome === 'crash') found.push(`crash: ${outcome.message}`);
  const message = outcome.message ?? '';
  if (/internal error|\n\s+at [\w<.]+ ?\(|\n\s+at file:/.test(message)) found.push('stack trace or internal error in the message');
  if (message.includes(canaryText)) found.push('canary content in the message');
  if (message.length > 20_000) found.push(`message of ${message.length} characters`);
  if (outcome.ms > budgetMs) found.push(`took ${Math.round(outcome.ms)} ms (budget ${budgetMs})`);
  // Nothing the case wrote may hold the canary.
  for (const f of listFiles(dir)) {
    try {
      if (readFileSync(f).includes(canaryText)) found.push(`canary content in ${path.relative(dir, f)}`);
    } catch {
      // a FIFO or a dangling link made by the case itself
    }
  }
  return found;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

export function removeCase(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Regressions: cases stored as JSON, files base64
// ---------------------------------------------------------------------------------------------

/** Files are stored deflated: a mutated config of 20,000 layers is 2 MB raw and a few KB deflated. */
export function encodeCase(spec: CaseSpec, note: string): string {
  return JSON.stringify({ ...spec, note, files: Object.fromEntries(Object.entries(spec.files).map(([k, v]) => [k, Buffer.from(deflateSync(v, { level: 9 })).toString('base64')])) }, null, 1) + '\n';
}

export function decodeCase(text: string): CaseSpec & { note: string } {
  const raw = JSON.parse(text) as CaseSpec & { note: string; files: Record<string, string> };
  return { ...raw, files: Object.fromEntries(Object.entries(raw.files).map(([k, v]) => [k, new Uint8Array(inflateSync(Buffer.from(v, 'base64')))])) };
}
