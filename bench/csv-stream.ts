/**
 * A large CSV dataset streams through the whole gate (`runGate`) with flat memory.
 *   npm run bench:csv-stream [-- --sizes 16,1024] [--keep]
 * For each size (MB), writes a seeded CSV (16 feature columns and a label) and a 16→4 MatMul model
 * into out/bench-csv/ inside the working tree, runs `runGate` on it in a fresh process, and prints
 * the CSV's size, the rows evaluated, the exit code, the wall time and the process's peak RSS.
 * Peak RSS must stay under 1 GB for a 1 GB CSV, and close to the small file's figure.
 * Not a test: the figures belong to this machine and its load.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DataType, onnx, saveModel } from '../src/model/onnx.js';
import { makeTensor } from '../src/model/tensor.js';
import { seededRandom } from '../src/data/random.js';
import { runGate } from '../src/commands/run.js';

const FEATURES = 16;
const CLASSES = 4;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'out', 'bench-csv');

function writeModel(file: string): void {
  const rand = seededRandom(3);
  const info = (name: string, dims: Array<number | string>): onnx.IValueInfoProto => ({
    name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  saveModel(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'csv-linear',
      node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['logits'] }],
      initializer: [makeTensor('w', [FEATURES, CLASSES], Float32Array.from({ length: FEATURES * CLASSES }, () => rand() * 2 - 1))],
      input: [info('x', ['batch', FEATURES])],
      output: [info('logits', ['batch', CLASSES])],
    },
  }), file);
}

/** Writes about `mb` megabytes of rows, a few MB at a time; returns the row count. */
function writeCsv(file: string, mb: number): number {
  const rand = seededRandom(11);
  const fd = openSync(file, 'w');
  let bytes = 0;
  let rows = 0;
  try {
    const header = [...Array.from({ length: FEATURES }, (_, j) => `f${j}`), 'label'].join(',') + '\n';
    writeSync(fd, header);
    bytes += header.length;
    while (bytes < mb * 1e6) {
      const lines: string[] = [];
      for (let k = 0; k < 20000; k++) {
        const f = Array.from({ length: FEATURES }, () => (rand() * 2 - 1).toFixed(3));
        lines.push(`${f.join(',')},${Math.floor(rand() * CLASSES)}`);
      }
      const chunk = lines.join('\n') + '\n';
      writeSync(fd, chunk);
      bytes += chunk.length;
      rows += lines.length;
    }
  } finally {
    closeSync(fd);
  }
  return rows;
}

async function child(mb: number): Promise<void> {
  const dir = path.join(ROOT, `${mb}mb`);
  mkdirSync(dir, { recursive: true });
  const csv = path.join(dir, 'data.csv');
  const rows = writeCsv(csv, mb);
  writeModel(path.join(dir, 'model.onnx'));
  writeFileSync(path.join(dir, 'modelgate.yml'), [
    'model: model.onnx',
    'dataset: { inputs: data.csv, label: label }',
    'metric: top1',
    'benchmark: { batch: 1, threads: 1, warmup: 2, runs: 20, measurements: 1 }',
  ].join('\n') + '\n');
  const started = process.hrtime.bigint();
  const result = await runGate({ configPath: path.join(dir, 'modelgate.yml'), outDir: path.join(dir, 'out') });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const ref = result.report.candidates[0] as { accuracy?: number | null } | undefined;
  const peakMb = process.resourceUsage().maxRSS / 1024;
  const samples = (result.report as { dataset?: { samples: number } }).dataset?.samples ?? 0;
  console.log(JSON.stringify({ mb, rows, samples, exit: result.exitCode, error: result.error, accuracy: ref?.accuracy ?? null, seconds, peakMb }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '16,1024' }, keep: { type: 'boolean', default: false }, child: { type: 'string' } } });
  if (values.child) return child(Number(values.child));
  const rows: string[] = [];
  for (const mb of values.sizes!.split(',').map(Number)) {
    // A fresh process per size: peak RSS is a high-water mark and must not carry over.
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', String(mb)], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      console.error(r.stderr || r.stdout);
      throw new Error(`size ${mb} MB: the child failed (exit ${r.status})`);
    }
    const m = JSON.parse(line);
    rows.push(`| ${m.mb} MB | ${m.rows.toLocaleString('en')} | ${m.samples.toLocaleString('en')} | ${m.exit}${m.error ? ` (${m.error})` : ''} | ${m.seconds.toFixed(0)} s | ${m.peakMb.toFixed(0)} MB |`);
    if (!values.keep) rmSync(path.join(ROOT, `${mb}mb`), { recursive: true, force: true });
  }
  console.log('| CSV size | rows | samples evaluated | exit | wall time | peak RSS (runGate process) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

await main();
