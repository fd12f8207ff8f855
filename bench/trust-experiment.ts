/**
 * Can the compare's latency verdict be trusted on this machine? Runs the real `modelgate compare`
 * (runCompare: git merge base, both pipelines, base vs head interleaved, bootstrap CI) on the example.
 *
 *   npx tsx bench/trust-experiment.ts [--example examples/mnist] [--compares 20] [--slowdown 0.10]
 *                                     [--threshold 1.05] [--json results.json] [--only aa|ab]
 *
 * A temporary git repository gets the example (its config and the files the config references) as
 * `main`, then two branches:
 *   aa: a docs-only commit, so head's model is base's model. Every 'significant regression' is a false alarm.
 *   ab: the model made slower by real extra work in its graph, calibrated with the benchmark harness
 *       itself (base vs copy, interleaved, a secant search) so that p50 rises by about `slowdown`:
 *       Neg pairs on the input for a model under 0.5 ms (the example: ~24 µs at batch 1, where one
 *       inserted node already costs ~2%), else x' = x + 0 · ReduceSum(Conv1×1(x, W)) with W's width
 *       calibrated. Values do not change, and onnxruntime neither folds nor prunes the extra nodes.
 *       Every compare should flag it.
 * The experiment's config is the example's with `gate.latency_ratio_max` set to `threshold`: the
 * CI must lie wholly above the budget to fail, so a 10% slowdown is only reliably caught with a
 * budget below 1.10 (1.05 is the default verdict threshold when no budget is set). Verdicts at
 * 1.02 and 1.10 are recomputed from the same ratios and CIs. Not a test: it takes minutes.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cloneModel, loadModel, onnx, saveModel, type Model } from '../src/model/onnx.js';
import { makeTensor } from '../src/model/tensor.js';
import { OrtSession } from '../src/runtime/session.js';
import type { Feeds } from '../src/model/host-tensor.js';
import { loadConfig } from '../src/config/load.js';
import { resolveInputs } from '../src/model/io.js';
import { loadDataset, syntheticDataset } from '../src/data/dataset.js';
import { batchPolicyOf, benchmarkBatch } from '../src/candidates/reference.js';
import { compareLatency, measureInterleaved } from '../src/benchmark/runner.js';
import { latencyVerdict, median, type LatencyVerdict } from '../src/benchmark/stats.js';
import { seededRandom } from '../src/data/random.js';
import { runCompare, type PairComparison } from '../src/commands/compare.js';

const { values: args } = parseArgs({
  options: {
    example: { type: 'string', default: 'examples/mnist' },
    compares: { type: 'string', default: '20' },
    slowdown: { type: 'string', default: '0.10' },
    threshold: { type: 'string', default: '1.05' },
    json: { type: 'string' },
    only: { type: 'string' },
  },
});
const compares = Number(args.compares);
const slowdown = Number(args.slowdown);
const threshold = Number(args.threshold);
const VERDICT_THRESHOLDS = [1.02, 1.05, 1.1];

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 'trust', GIT_AUTHOR_EMAIL: 'trust@example.com', GIT_COMMITTER_NAME: 'trust', GIT_COMMITTER_EMAIL: 'trust@example.com',
  GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
};
const git = (cwd: string, ...a: string[]) => execFileSync('git', a, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

const ints = (name: string, values: number[]): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
const int = (name: string, value: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });

/** The model with x' = x + 0 · ReduceSum(W ⊛ x) in front: W is a 1×1 Conv with `width` output channels (a MatMul for non-image inputs). */
function withExtraWork(model: Model, inputName: string, dims: number[], width: number): Model {
  const m = cloneModel(model);
  const graph = m.graph!;
  const random = seededRandom(3);
  const tensor = (name: string, shape: number[], data?: Float32Array) =>
    makeTensor(name, shape, data ?? Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() - 0.5));
  const rewired = 'mg_input';
  for (const node of graph.node!) node.input = node.input!.map((name) => (name === inputName ? rewired : name));
  const extra: onnx.INodeProto[] = [];
  if (dims.length === 4) {
    graph.initializer!.push(tensor('mg_extra_w', [width, dims[1]!, 1, 1]));
    extra.push({ opType: 'Conv', input: [inputName, 'mg_extra_w'], output: ['mg_extra'], attribute: [ints('kernel_shape', [1, 1])] });
  } else {
    graph.initializer!.push(tensor('mg_extra_w', [dims.slice(1).reduce((a, b) => a * b, 1), width]));
    extra.push({ opType: 'Flatten', input: [inputName], output: ['mg_flat'], attribute: [int('axis', 1)] });
    extra.push({ opType: 'MatMul', input: ['mg_flat', 'mg_extra_w'], output: ['mg_extra'] });
  }
  graph.initializer!.push(tensor('mg_zero', [], new Float32Array([0])));
  extra.push(
    { opType: 'ReduceSum', input: ['mg_extra'], output: ['mg_extra_sum'], attribute: [int('keepdims', 0)] },
    { opType: 'Mul', input: ['mg_extra_sum', 'mg_zero'], output: ['mg_extra_zero'] },
    { opType: 'Add', input: [inputName, 'mg_extra_zero'], output: [rewired] },
  );
  graph.node!.unshift(...extra.map((n) => onnx.NodeProto.create(n)));
  return m;
}

/**
 * The model with `pairs` pairs of Neg nodes on its first input (x → −x → x → …): the values do not
 * change, and onnxruntime neither folds nor fuses them, so each pair adds one small, real pass over
 * the input plus two kernel dispatches. For a model of a few tens of µs this is the step size that
 * can reach +10%: one inserted Conv already costs more, and widening the model's own Conv changes
 * its channel count away from the vector block size, which costs far more (+39% for one channel).
 */
function withNegPairs(model: Model, inputName: string, pairs: number): Model {
  const m = cloneModel(model);
  const graph = m.graph!;
  const out = `mg_neg_${2 * pairs - 1}`;
  for (const node of graph.node!) node.input = node.input!.map((name) => (name === inputName ? out : name));
  const chain: onnx.NodeProto[] = [];
  for (let k = 0; k < 2 * pairs; k++) chain.push(onnx.NodeProto.create({ opType: 'Neg', input: [k === 0 ? inputName : `mg_neg_${k - 1}`], output: [`mg_neg_${k}`] }));
  graph.node!.unshift(...chain);
  return m;
}

/** Largest absolute difference between the two models' outputs on the feeds. */
async function maxOutputDiff(fileA: string, fileB: string, feeds: Feeds): Promise<number> {
  const a = await OrtSession.create(fileA);
  const b = await OrtSession.create(fileB);
  try {
    const ra = await a.run(feeds);
    const rb = await b.run(feeds);
    let max = 0;
    for (const [name, t] of Object.entries(ra)) {
      const x = t.data as Float32Array;
      const y = rb[name]!.data as Float32Array;
      for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
    }
    return max;
  } finally {
    await a.release();
    await b.release();
  }
}

interface Outcome {
  exitCode: number;
  seconds: number;
  load1: number;
  pairs: Array<{ id: string; ratio: number; ci95: [number, number]; verdict: LatencyVerdict; method: string; runs: Array<{ ratio: number; ci95: [number, number] }> }>;
}

const exampleDir = path.resolve(args.example!);
const loaded = loadConfig(path.join(exampleDir, 'modelgate.yml'));
const { config } = loaded;
const exampleModel = loaded.resolve(config.model);
const root = mkdtempSync(path.join(os.tmpdir(), 'mg-trust-'));
try {
  // The repository: the config and exactly the files it references, under ex/.
  const repo = path.join(root, 'repo');
  const ex = path.join(repo, 'ex');
  mkdirSync(ex, { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  const referenced = [config.model, config.dataset?.inputs, config.dataset?.labels].filter((p): p is string => !!p);
  for (const p of referenced) {
    mkdirSync(path.dirname(path.join(ex, p)), { recursive: true });
    copyFileSync(loaded.resolve(p), path.join(ex, p));
  }
  const yaml = readFileSync(loaded.file, 'utf8');
  const budget = /latency_ratio_max:\s*[0-9.]+/;
  const experimentYaml = budget.test(yaml) ? yaml.replace(budget, `latency_ratio_max: ${threshold}`) : yaml.replace(/^gate:\s*$/m, `gate:\n  latency_ratio_max: ${threshold}`);
  if (!experimentYaml.includes(`latency_ratio_max: ${threshold}`)) throw new Error('could not set gate.latency_ratio_max in the config copy');
  writeFileSync(path.join(ex, 'modelgate.yml'), experimentYaml);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'base');
  const modelBytes = readFileSync(exampleModel).length;
  console.log(`example: ${path.relative(process.cwd(), exampleDir) || exampleDir} (${config.model}, ${modelBytes} bytes); batch ${config.benchmark.batch}, ` +
    `${config.benchmark.threads} thread(s); gate.latency_ratio_max ${threshold}; load average ${load()}; ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} cores`);

  // Calibration with the benchmark harness itself: base vs slowed copy, interleaved, secant on the width.
  const model = loadModel(exampleModel);
  const inputs = resolveInputs(model, config.inputs, config.benchmark.batch, config.model);
  const dataset = config.dataset ? loadDataset(config.dataset, loaded.resolve, inputs) : syntheticDataset(inputs);
  const feeds: Feeds = dataset.feedsForBatch(benchmarkBatch(batchPolicyOf(inputs, config.benchmark.batch), config.benchmark.batch));
  const first = inputs[0]!;
  const calDir = path.join(root, 'calibration');
  mkdirSync(calDir);
  const fileA = path.join(calDir, 'a.onnx');
  saveModel(model, fileA);
  const fileB = path.join(calDir, 'b.onnx');
  const runtime = { intraOpThreads: config.benchmark.threads };
  // Extra work: Neg pairs for a fast model (per-node cost is the finest step), a calibrated 1×1 Conv otherwise.
  const baseStats = await measureInterleaved([{ id: 'a', path: fileA, runtime }], feeds, { batch: config.benchmark.batch, warmupMin: config.benchmark.warmup, minSamples: config.benchmark.runs });
  const fast = baseStats.get('a')!.p50_ms < 0.5;
  const slowed = (amount: number): Model => (fast ? withNegPairs(model, first.name, amount) : withExtraWork(model, first.name, feeds[first.name]!.dims, amount));
  const unit = fast ? 'Neg pairs on the input' : 'channels of an extra 1×1 Conv';
  console.log(`base p50 ${(baseStats.get('a')!.p50_ms * 1000).toFixed(1)} µs: slowing it down with ${unit}`);
  const ratioAt = async (amount: number): Promise<number> => {
    saveModel(slowed(amount), fileB);
    const ratios: number[] = [];
    for (let rep = 0; rep < 5; rep++) {
      const stats = await measureInterleaved([{ id: 'a', path: fileA, runtime }, { id: 'b', path: fileB, runtime }], feeds,
        { batch: config.benchmark.batch, warmupMin: config.benchmark.warmup, minSamples: config.benchmark.runs, rounds: { min: 40 } });
      ratios.push(compareLatency(stats.get('a')!, stats.get('b')!, 1.05, rep).ratio);
    }
    const r = median(ratios);
    console.log(`calibration: ${amount} ${unit} → ×${r.toFixed(3)} (5 interleaved runs: ${ratios.map((x) => x.toFixed(3)).join(', ')})`);
    return r;
  };
  const tried = new Map<number, number>();
  const at = async (amount: number) => {
    if (!tried.has(amount)) tried.set(amount, await ratioAt(amount));
    return tried.get(amount)!;
  };
  let [w0, r0] = [1, await at(1)];
  let [w1, r1] = [fast ? 3 : 16, await at(fast ? 3 : 16)];
  for (let step = 0; step < 5 && Math.abs(r1 - 1 - slowdown) > 0.01; step++) {
    const slope = (r1 - r0) / (w1 - w0);
    const next = Math.max(1, Math.round(slope > 0 ? w1 + (1 + slowdown - r1) / slope : w1 * 2));
    if (tried.has(next)) break;
    [w0, r0] = [w1, r1];
    [w1, r1] = [next, await at(next)];
  }
  // The amount whose measured slowdown came closest to the target.
  const [width, calibrated] = [...tried].sort((a, b) => Math.abs(a[1] - 1 - slowdown) - Math.abs(b[1] - 1 - slowdown))[0]!;
  saveModel(slowed(width), fileB);
  const diff = await maxOutputDiff(fileA, fileB, feeds);
  console.log(`calibrated: ${width} ${unit}, ×${calibrated.toFixed(3)} (target ×${(1 + slowdown).toFixed(2)}); largest output difference ${diff.toExponential(2)}`);

  git(repo, 'checkout', '-q', '-b', 'aa', 'main');
  writeFileSync(path.join(repo, 'README.md'), 'docs only\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'aa: docs only');
  git(repo, 'checkout', '-q', '-b', 'ab', 'main');
  saveModel(slowed(width), path.join(ex, config.model));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', `ab: model ×${calibrated.toFixed(3)} slower`);

  const results: Record<string, Outcome[]> = {};
  for (const branch of ['aa', 'ab'] as const) {
    if (args.only && args.only !== branch) continue;
    git(repo, 'checkout', '-q', branch);
    const label = branch === 'aa' ? 'A/A' : 'A/B';
    const outcomes: Outcome[] = [];
    for (let i = 0; i < compares; i++) {
      const load1 = os.loadavg()[0]!;
      const t0 = performance.now();
      const r = await runCompare({ configPath: path.join(ex, 'modelgate.yml'), baseRef: 'main', outDir: path.join(root, 'out', `${branch}-${i}`) });
      const seconds = (performance.now() - t0) / 1000;
      if (r.exitCode === 2) throw new Error(`compare failed: ${r.error}`);
      const pairs = r.report.comparison.filter((p): p is PairComparison & { latency: NonNullable<PairComparison['latency']> } => p.latency !== null)
        .map((p) => ({ id: p.id, ratio: p.latency.ratio, ci95: p.latency.ci95, verdict: p.latency.verdict, method: p.latency.method, runs: p.latency.runs ?? [] }));
      outcomes.push({ exitCode: r.exitCode, seconds, load1, pairs });
      process.stderr.write(`${label} ${i + 1}/${compares}: exit ${r.exitCode}, ${pairs.map((p) => `${p.id} ×${p.ratio.toFixed(3)} [${p.ci95[0].toFixed(3)}, ${p.ci95[1].toFixed(3)}] ${p.verdict} (runs ${p.runs.map((x) => x.ratio.toFixed(3)).join(', ')})`).join('; ')} (${seconds.toFixed(1)} s, load ${load1.toFixed(2)})\n`);
    }
    results[branch] = outcomes;

    const ids = [...new Set(outcomes.flatMap((o) => o.pairs.map((p) => p.id)))];
    const secs = outcomes.map((o) => o.seconds);
    console.log(`\n${label}: ${compares} compares; exit 1 in ${outcomes.filter((o) => o.exitCode === 1).length}/${compares}; ` +
      `${median(secs).toFixed(1)} s per compare (median; min ${Math.min(...secs).toFixed(1)}, max ${Math.max(...secs).toFixed(1)}); ` +
      `load average during the runs ${Math.min(...outcomes.map((o) => o.load1)).toFixed(2)}–${Math.max(...outcomes.map((o) => o.load1)).toFixed(2)}`);
    console.log('| pair | median ratio | median CI width | ' + VERDICT_THRESHOLDS.map((t) => `regression at ${t}`).join(' | ') + ` | within noise at ${threshold} | single measurements flagged at ${threshold} |`);
    console.log('|---|---:|---:|' + VERDICT_THRESHOLDS.map(() => '---:').join('|') + '|---:|---:|');
    for (const id of ids) {
      const ps = outcomes.flatMap((o) => o.pairs.filter((p) => p.id === id));
      const at = (t: number) => ps.filter((p) => latencyVerdict(p.ci95, p.ratio, t) === 'significant regression').length;
      const noise = ps.filter((p) => latencyVerdict(p.ci95, p.ratio, threshold) === 'within noise').length;
      const single = (list: typeof ps) => {
        const all = list.flatMap((p) => p.runs);
        return `${all.filter((x) => latencyVerdict(x.ci95, x.ratio, threshold) === 'significant regression').length}/${all.length}`;
      };
      console.log(`| ${id} | ${median(ps.map((p) => p.ratio)).toFixed(3)} | ${median(ps.map((p) => p.ci95[1] - p.ci95[0])).toFixed(3)} | ` +
        VERDICT_THRESHOLDS.map((t) => `${at(t)}/${ps.length}`).join(' | ') + ` | ${noise}/${ps.length} | ${single(ps)} |`);
    }
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ method: unit, amount: width, calibratedRatio: calibrated, threshold, results }, null, 2) + '\n');
} finally {
  rmSync(root, { recursive: true, force: true });
}
