/**
 * What the benchmark harness adds over a bare `session.run` loop.
 *   npx tsx bench/harness-overhead.ts [iterations=4000] [trials=3]
 * Three questions, per model (after 500 warm-up runs each):
 *   1. timer cost: in this process, blocks of 20 runs alternate between a bare loop (one timer
 *      pair per block) and the worker's exact timed loop (process.hrtime.bigint around every
 *      awaited run). Alternating blocks in one process share its state, so the difference is the
 *      timed loop's own cost. Compared by the median of block means.
 *   2. process boundary: the p50 of the worker's per-run durations (BenchmarkWorker, a separate
 *      process, what the gate uses) against the p50 of the same timed loop run in this process.
 *   3. IPC: the worker's run(iterations) call as seen from this process, per run, against the
 *      worker's own per-run mean (the IPC round trip is paid once per burst and is not in the samples).
 * Medians over `trials`. Not a test: numbers depend on the machine and its load.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, loadModel, onnx, saveModel, toNumber } from '../src/model/onnx.js';
import { makeTensor } from '../src/model/tensor.js';
import type { Feeds } from '../src/model/host-tensor.js';
import { OrtSession } from '../src/runtime/session.js';
import { BenchmarkWorker } from '../src/benchmark/worker-client.js';
import { median } from '../src/benchmark/stats.js';

const iterations = Number(process.argv[2] ?? 4000);
const trials = Number(process.argv[3] ?? 3);
const WARMUP = 500;
const BLOCK = 20;

function matMul(batch: number, k: number, n: number): { model: onnx.ModelProto; feeds: Feeds } {
  const info = (name: string, dims: number[]): onnx.IValueInfoProto => ({
    name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'matmul',
      node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'] }],
      initializer: [makeTensor('w', [k, n], Float32Array.from({ length: k * n }, (_, i) => ((i * 7) % 13) / 13 - 0.5))],
      input: [info('x', [batch, k])],
      output: [info('y', [batch, n])],
    },
  });
  return { model, feeds: { x: { type: 'float32', dims: [batch, k], data: Float32Array.from({ length: batch * k }, (_, i) => (i % 5) / 5) } } };
}

async function inProcess(file: string, feeds: Feeds, n: number): Promise<{ bareBlock: number; timedBlock: number; timedP50: number }> {
  const session = await OrtSession.create(file, { intraOpThreads: 1 });
  const ortFeeds = session.toOrtFeeds(feeds);
  for (let i = 0; i < WARMUP; i++) await session.runOrt(ortFeeds);
  const bareBlocks: number[] = [];
  const timedBlocks: number[] = [];
  const durationsMs = new Float64Array(BLOCK);
  const perRun: number[] = [];
  for (let done = 0; done < n; done += 2 * BLOCK) {
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < BLOCK; i++) await session.runOrt(ortFeeds);
    bareBlocks.push(Number(process.hrtime.bigint() - t0) / 1e6 / BLOCK);
    t0 = process.hrtime.bigint();
    // The worker's loop, verbatim.
    for (let i = 0; i < BLOCK; i++) {
      const start = process.hrtime.bigint();
      await session.runOrt(ortFeeds);
      durationsMs[i] = Number(process.hrtime.bigint() - start) / 1e6;
    }
    timedBlocks.push(Number(process.hrtime.bigint() - t0) / 1e6 / BLOCK);
    perRun.push(...durationsMs);
  }
  await session.release();
  return { bareBlock: median(bareBlocks), timedBlock: median(timedBlocks), timedP50: median(perRun) };
}

async function inWorker(file: string, feeds: Feeds, n: number): Promise<{ p50: number; mean: number; parentMean: number }> {
  const worker = await BenchmarkWorker.start(path.basename(file));
  try {
    await worker.load(file, { intraOpThreads: 1 }, feeds);
    await worker.run(WARMUP);
    const t0 = process.hrtime.bigint();
    const ran = await worker.run(n);
    const parentMs = Number(process.hrtime.bigint() - t0) / 1e6;
    let sum = 0;
    for (const d of ran.durationsMs) sum += d;
    return { p50: median(ran.durationsMs), mean: sum / n, parentMean: parentMs / n };
  } finally {
    await worker.close();
  }
}

/** Float inputs of a model file filled with 0.5, dynamic dims as 1. */
function onesFor(file: string): Feeds {
  const graph = loadModel(file).graph!;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const feeds: Feeds = {};
  for (const input of graph.input ?? []) {
    if (initializers.has(input.name!)) continue;
    const dims = (input.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : 1));
    feeds[input.name!] = { type: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.5) };
  }
  return feeds;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-overhead-'));
const cases: Array<{ name: string; file: string; feeds: Feeds }> = [];
for (const [name, b, k, n] of [['matmul 1x16x8', 1, 16, 8], ['matmul 32x256x256', 32, 256, 256]] as const) {
  const { model, feeds } = matMul(b, k, n);
  const file = path.join(dir, `${name.replace(/\W+/g, '-')}.onnx`);
  saveModel(model, file);
  cases.push({ name, file, feeds });
}
const mnist = path.resolve('examples/mnist/model.onnx');
if (existsSync(mnist)) cases.push({ name: 'examples/mnist (batch 1)', file: mnist, feeds: onesFor(mnist) });

console.log(`iterations ${iterations}, trials ${trials}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('| model | bare loop, median block (µs/run) | timed loop, median block (µs/run) | 1. timer cost | timed loop p50 here (µs) | worker p50 (µs) | 2. process boundary | worker mean (µs) | parent-observed mean (µs) | 3. IPC per run |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const us = (ms: number) => (ms * 1000).toFixed(2);
const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)}%`;
for (const c of cases) {
  const here: Array<Awaited<ReturnType<typeof inProcess>>> = [];
  const there: Array<Awaited<ReturnType<typeof inWorker>>> = [];
  try {
    for (let t = 0; t < trials; t++) {
      here.push(await inProcess(c.file, c.feeds, iterations));
      there.push(await inWorker(c.file, c.feeds, iterations));
    }
  } catch (err) {
    console.log(`| ${c.name} | failed: ${(err as Error).message.split('\n')[0]} |`);
    continue;
  }
  const m = <T>(rows: T[], f: (r: T) => number) => median(rows.map(f));
  const bare = m(here, (r) => r.bareBlock);
  const timed = m(here, (r) => r.timedBlock);
  const hereP50 = m(here, (r) => r.timedP50);
  const workerP50 = m(there, (r) => r.p50);
  const workerMean = m(there, (r) => r.mean);
  const parentMean = m(there, (r) => r.parentMean);
  console.log(`| ${c.name} | ${us(bare)} | ${us(timed)} | ${pct(bare, timed)} | ${us(hereP50)} | ${us(workerP50)} | ${pct(hereP50, workerP50)} | ${us(workerMean)} | ${us(parentMean)} | ${pct(workerMean, parentMean)} |`);
}
rmSync(dir, { recursive: true, force: true });
