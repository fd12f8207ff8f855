/**
 * prune/lowrank `finetune`: tiny TF.js models built here, converted to ONNX as a Keras/TF.js source is,
 * then pruned or factorized and trained for one epoch on a few hundred samples in TF.js.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { encodeModel, type Model } from '../../src/model/onnx.js';
import { dimsOf } from '../../src/model/onnx.js';
import { tensorToFloat32 } from '../../src/model/tensor.js';
import { convertTfjsLayers } from '../../src/import/tfjs-layers.js';
import { runRecipe, validateRecipe } from '../../src/passes/registry.js';
import { buildTfGraph } from '../../src/passes/tf-graph.js';
import type { PassContext, PassDetails, TrainingSamples } from '../../src/passes/pass.js';
import type { Feeds } from '../../src/model/host-tensor.js';
import { seededRandom } from '../../src/data/random.js';
import { OrtSession } from '../../src/runtime/session.js';
import { init, kb, useWasm } from '../support/tfjs-check.js';
import { trainingSamples } from '../../src/candidates/build.js';
import type { Dataset } from '../../src/data/dataset.js';
import type { Config } from '../../src/config/types.js';

const SIDE = 8;
const SAMPLES = 320;

/** Images with one bright 3×3 blob; the label is the blob's quadrant (4 classes): learnable from the conv features. */
function blobs(count: number, seed: number): { x: Float32Array; labels: Float64Array } {
  const random = seededRandom(seed);
  const x = new Float32Array(count * SIDE * SIDE);
  const labels = new Float64Array(count);
  for (let s = 0; s < count; s++) {
    for (let p = 0; p < SIDE * SIDE; p++) x[s * SIDE * SIDE + p] = random() * 0.2;
    const [r, c] = [Math.floor(random() * (SIDE - 2)), Math.floor(random() * (SIDE - 2))];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) x[s * SIDE * SIDE + (r + i) * SIDE + c + j] = 1;
    labels[s] = (r + 1 < SIDE / 2 ? 0 : 2) + (c + 1 < SIDE / 2 ? 0 : 1);
  }
  return { x, labels };
}

function cnnSource(): Model {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [SIDE, SIDE, 1], filters: 8, kernelSize: 3, activation: 'relu', ...kb() }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 4, activation: 'softmax', ...kb() }));
  const onnx = convertTfjsLayers(m, { imageLayout: 'nhwc' }).model;
  m.dispose();
  return onnx;
}

function context(model: Model, data: { x: Float32Array; labels: Float64Array | null }, sourceFormat = 'keras-h5') {
  const name = model.graph!.input![0]!.name!;
  const per = data.x.length / SAMPLES;
  const dims = [1, ...model.graph!.input![0]!.type!.tensorType!.shape!.dim!.slice(1).map((d) => Number(d.dimValue))];
  const feeds: Feeds[] = Array.from({ length: SAMPLES }, (_, i) => ({ [name]: { type: 'float32', dims, data: data.x.slice(i * per, (i + 1) * per) } }));
  const details: PassDetails[] = [];
  const progress: Array<[number, number, string | undefined]> = [];
  const ctx: PassContext = {
    log: () => {},
    sourceFormat,
    calibration: async (n) => feeds.slice(0, n),
    trainingSamples: async (n): Promise<TrainingSamples> => ({
      feeds: feeds.slice(0, n), labels: data.labels ? data.labels.slice(0, n) : null, labelWidth: data.labels ? 1 : 0, task: 'classification',
    }),
    detail: (d) => details.push(d),
    progress: (_step, k, n, detail) => progress.push([k, n, detail]),
  };
  return { ctx, details, progress };
}

const same = (a: Model, b: Model) => Buffer.from(encodeModel(a)).equals(Buffer.from(encodeModel(b)));
const structure = (m: Model) => ({
  nodes: m.graph!.node!.map((n) => [n.opType, n.name, ...(n.input ?? [])].join(' ')),
  inits: m.graph!.initializer!.map((t) => `${t.name} [${dimsOf(t).join(',')}]`),
});

async function accuracy(model: Model, data: { x: Float32Array; labels: Float64Array }): Promise<number> {
  const session = await OrtSession.create(encodeModel(model));
  try {
    const name = model.graph!.input![0]!.name!;
    const out = await session.run({ [name]: { type: 'float32', dims: [SAMPLES, SIDE, SIDE, 1], data: data.x } });
    const y = Object.values(out)[0]!.data as Float32Array;
    let right = 0;
    for (let s = 0; s < SAMPLES; s++) {
      let best = 0;
      for (let c = 1; c < 4; c++) if (y[s * 4 + c]! > y[s * 4 + best]!) best = c;
      right += best === data.labels[s] ? 1 : 0;
    }
    return right / SAMPLES;
  } finally {
    await session.release();
  }
}

describe('finetune', () => {
  it('runs a converted Keras model in TF.js as ONNX Runtime does (the forward pass it trains)', async () => {
    await useWasm();
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [SIDE, SIDE, 2], filters: 4, kernelSize: 3, padding: 'same', strides: 2, ...kb() }));
    m.add(tf.layers.batchNormalization({ gammaInitializer: init(0.5, 1.5), betaInitializer: init(), movingMeanInitializer: init(), movingVarianceInitializer: init(0.5, 2) }));
    m.add(tf.layers.leakyReLU({ alpha: 0.2 }));
    m.add(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', ...{ depthwiseInitializer: init(), biasInitializer: init() } }));
    m.add(tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 5, activation: 'tanh', ...kb() }));
    m.add(tf.layers.dense({ units: 3, activation: 'softmax', ...kb() }));
    const onnx = convertTfjsLayers(m, { imageLayout: 'nhwc' }).model;
    const random = seededRandom(5);
    const x = Float32Array.from({ length: 4 * SIDE * SIDE * 2 }, () => random());
    const want = (m.predict(tf.tensor(x, [4, SIDE, SIDE, 2])) as tf.Tensor).dataSync();
    m.dispose();
    const rt = tf.getBackend();
    await tf.setBackend('cpu');
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    try {
      const g = buildTfGraph(tf, onnx, 'test');
      const got = tf.tidy(() => g.run({ [onnx.graph!.input![0]!.name!]: tf.tensor(x, [4, SIDE, SIDE, 2]) }, [onnx.graph!.output![0]!.name!])[0]!.dataSync());
      // Trained: the two convolutions' kernels and biases, BatchNormalization's scale and shift, both dense layers.
      expect([...g.variables.keys()].length).toBeGreaterThanOrEqual(8);
      g.dispose();
      let worst = 0;
      want.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got[i]!))));
      expect(worst).toBeLessThan(1e-5);
    } finally {
      await tf.setBackend(rt);
    }
  });

  it('trains a 50% structured-pruned CNN on labels: better than pruning alone, same structure, same bytes on a rerun', async () => {
    await useWasm();
    const source = cnnSource();
    const data = blobs(SAMPLES, 11);
    const prune = { mode: 'structured', sparsity: 0.5, channel_multiple: 1 };
    const plain = (await runRecipe(source, [{ prune }], context(source, data).ctx)).model;
    const first = context(source, data);
    const spec = [{ prune: { ...prune, finetune: { epochs: 1, batch_size: 32, learning_rate: 0.01 } } }];
    const tuned = (await runRecipe(source, spec, first.ctx)).model;
    expect(tf.getBackend(), 'the process keeps its TF.js backend').toBe('wasm');

    expect(structure(tuned)).toEqual(structure(plain));
    expect(same(tuned, plain)).toBe(false);
    const note = first.details.find((d) => d.finetune)!.finetune!;
    expect(note).toMatchObject({ loss: 'cross-entropy', epochs: 1, samples: SAMPLES, batch_size: 32, runtime: expect.stringContaining('(cpu)') });
    expect(note.epoch_loss[0]!).toBeLessThan(note.initial_loss);
    expect(first.progress.at(-1)).toEqual([10, 10, expect.stringMatching(/^epoch 1\/1 · loss \d+\.\d{4}$/)]);
    expect(await accuracy(tuned, data)).toBeGreaterThan(await accuracy(plain, data));

    const again = (await runRecipe(source, spec, context(source, data).ctx)).model;
    expect(same(again, tuned), 'a finetune run is seeded: same inputs, same bytes').toBe(true);
    const otherSeed = (await runRecipe(source, [{ prune: { ...prune, finetune: { epochs: 1, batch_size: 32, learning_rate: 0.01, seed: 7 } } }], context(source, data).ctx)).model;
    expect(same(otherSeed, tuned), 'the seed drives the shuffle').toBe(false);
  }, 120_000);

  it('distills a factorized MLP from the model before factorization when the data has no labels', async () => {
    await useWasm();
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [SIDE * SIDE], units: 48, activation: 'relu', ...kb() }));
    m.add(tf.layers.dense({ units: 4, activation: 'softmax', ...kb() }));
    const source = convertTfjsLayers(m, {}).model;
    m.dispose();
    const data = blobs(SAMPLES, 12);
    const { ctx, details } = context(source, { x: data.x, labels: null });
    const tuned = (await runRecipe(source, [{ lowrank: { rank: 4, min_elements: 1, finetune: { batch_size: 64, learning_rate: 0.003 } } }], ctx)).model;
    const note = details.find((d) => d.finetune)!.finetune!;
    expect(note.loss).toBe('distillation (KL divergence)');
    expect(note.epoch_loss[0]!).toBeLessThan(note.initial_loss);
    expect(tuned.graph!.node!.filter((n) => n.opType === 'MatMul').length).toBeGreaterThanOrEqual(1);
    const w = tuned.graph!.initializer!.find((t) => t.name!.includes('lowrank_left'))!;
    expect(tensorToFloat32(w).every(Number.isFinite)).toBe(true);
  }, 60_000);

  it('reads its samples and labels from the calibration data a run gives the passes', () => {
    const labels = [3, 1, 4, 1, 5];
    const calibration: Dataset = {
      count: 5, hasLabels: true, synthetic: false, overlapsEvaluation: true,
      *batches(size: number) {
        for (let s = 0; s < 5; s += size) yield { feeds: { x: { type: 'float32', dims: [1, 2], data: Float32Array.of(s, -s) } }, labels: Float64Array.of(labels[s]!), labelWidth: 1, count: 1 };
      },
      feedsForBatch: () => ({}),
    };
    const got = trainingSamples({ calibration, config: { metric: 'top1', metric_options: { output: 'probs' } } as unknown as Config }, 3);
    expect(got.feeds.map((f) => Array.from(f.x!.data as Float32Array))).toEqual([[0, -0], [1, -1], [2, -2]]);
    expect(Array.from(got.labels!)).toEqual([3, 1, 4]);
    expect(got).toMatchObject({ labelWidth: 1, task: 'classification', output: 'probs', overlapsEvaluation: true });
    const regression = trainingSamples({ calibration: { ...calibration, hasLabels: false }, config: { metric: 'mse' } as unknown as Config }, 10);
    expect(regression).toMatchObject({ labels: null, task: 'regression' });
    expect(regression.feeds).toHaveLength(5);
  });

  it('needs a Keras or TF.js source, structured pruning, and valid options', async () => {
    const source = cnnSource();
    const data = blobs(SAMPLES, 13);
    await expect(runRecipe(source, [{ prune: { mode: 'structured', sparsity: 0.5, finetune: {} } }], context(source, data, 'onnx').ctx))
      .rejects.toThrow(/option 'finetune' needs a Keras \(\.h5, \.keras\) or TF\.js source model.*an ONNX file/);
    await expect(runRecipe(source, [{ prune: { sparsity: 0.5, finetune: {} } }], context(source, data).ctx)).rejects.toThrow(/option 'finetune' needs mode: structured/);
    expect(() => validateRecipe([{ prune: { mode: 'structured', sparsity: 0.5, finetune: { epoch: 1 } } }])).toThrow(/unknown option 'finetune.epoch'/);
    expect(() => validateRecipe([{ lowrank: { finetune: { learning_rate: 0 } } }])).toThrow(/option 'finetune.learning_rate'/);
    expect(() => validateRecipe([{ lowrank: { finetune: { batch_size: 1.5 } } }])).toThrow(/option 'finetune.batch_size' must be integer/);
  });
});
