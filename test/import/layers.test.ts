/**
 * Every supported layer class, converted and run in onnxruntime against TF.js (wasm backend) on the
 * same inputs. Several layers share a model to keep the suite quick; each test's name lists the
 * classes it covers, and the shape check after every layer names the layer when a converter slips.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { extraLayer, registerKerasExtras } from '../../src/import/tfjs-extras.js';
import { bnInit, expectConversionMatches, init, kb, krb, opTypes, useWasm } from '../support/tfjs-check.js';

beforeAll(useWasm);

describe('convolutions and pooling', () => {
  it('Conv2D (valid, same with odd sizes, strides, dilation, no bias), MaxPooling2D (same), Flatten, Dense', async () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [14, 13, 2], filters: 4, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'tanh', ...kb() }));
    m.add(tf.layers.conv2d({ filters: 3, kernelSize: 2, dilationRate: 3, padding: 'same', useBias: false, kernelInitializer: init() }));
    m.add(tf.layers.conv2d({ filters: 3, kernelSize: 2, strides: [1, 2], padding: 'valid', activation: 'sigmoid', ...kb() }));
    m.add(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 6, ...kb() }));
    const { conversion } = await expectConversionMatches(m);
    // NCHW input by default: no Transpose, and the flatten order lives in the Dense weights (no Gather).
    expect(opTypes(conversion)).toEqual(['Conv', 'Tanh', 'Conv', 'Conv', 'Sigmoid', 'MaxPool', 'Flatten', 'Gemm']);
  });

  it('NHWC inputs cost one Transpose at the input and none inside', async () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [6, 5, 3], filters: 4, kernelSize: 3, activation: 'relu', ...kb() }));
    m.add(tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }));
    m.add(tf.layers.conv2d({ filters: 2, kernelSize: 1, ...kb() }));
    const { conversion } = await expectConversionMatches(m, { imageLayout: 'nhwc' });
    const ops = opTypes(conversion);
    expect(ops.filter((o) => o === 'Transpose')).toHaveLength(2); // in and out
    expect(ops[0]).toBe('Transpose');
    expect(conversion.inputs[0]!.onnxDims).toEqual([6, 5, 3]);
    expect(conversion.outputs[0]!.onnxDims).toEqual([2, 2, 2]);
  });

  it('Conv1D (causal, same, dilation), MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D', async () => {
    const input = tf.input({ shape: [12, 3] });
    // TF.js cannot run 'causal' itself; Keras models get the registered CausalConv1D.
    let x = extraLayer(tf, 'CausalConv1D', { filters: 4, kernelSize: 3, padding: 'causal', dilationRate: 2, activation: 'relu', ...kb() }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.conv1d({ filters: 4, kernelSize: 2, strides: 2, padding: 'same', ...kb() }).apply(x) as tf.SymbolicTensor;
    const a = tf.layers.maxPooling1d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
    const b = tf.layers.averagePooling1d({ poolSize: 3, strides: 1, padding: 'same' }).apply(x) as tf.SymbolicTensor;
    const ga = tf.layers.globalMaxPooling1d({}).apply(a) as tf.SymbolicTensor;
    const gb = tf.layers.globalAveragePooling1d({}).apply(b) as tf.SymbolicTensor;
    const out = tf.layers.concatenate().apply([ga, gb]) as tf.SymbolicTensor;
    await expectConversionMatches(tf.model({ inputs: input, outputs: out }));
  });

  it('DepthwiseConv2D (multiplier 2, stride 2), SeparableConv2D, BatchNormalization, GlobalAveragePooling2D, GlobalMaxPooling2D', async () => {
    const input = tf.input({ shape: [9, 8, 3] });
    let x = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', depthwiseInitializer: init(), biasInitializer: init() }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ ...bnInit() }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.separableConv2d({ filters: 5, kernelSize: 2, depthMultiplier: 2, activation: 'relu', depthwiseInitializer: init(), pointwiseInitializer: init(), biasInitializer: init() }).apply(x) as tf.SymbolicTensor;
    const avg = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    const max = tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
    const { conversion } = await expectConversionMatches(tf.model({ inputs: input, outputs: [avg, max] }));
    expect(conversion.outputs.map((o) => o.shape)).toEqual([[5], [5]]);
  });

  it('Conv2DTranspose: same with stride 2, valid with kernel > stride, valid with kernel < stride', async () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2dTranspose({ inputShape: [4, 3, 2], filters: 3, kernelSize: 3, strides: 2, padding: 'same', ...kb() }));
    m.add(tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid', ...kb() }));
    m.add(tf.layers.conv2dTranspose({ filters: 2, kernelSize: 1, strides: 2, padding: 'valid', activation: 'relu', ...kb() }));
    await expectConversionMatches(m);
  });
});

describe('normalization and activation layers', () => {
  it('BatchNormalization and LayerNormalization on channels-first maps, flattened vectors and sequences', async () => {
    const image = tf.input({ shape: [5, 4, 3] });
    let x = tf.layers.conv2d({ filters: 3, kernelSize: 2, ...kb() }).apply(image) as tf.SymbolicTensor;
    x = tf.layers.layerNormalization({ gammaInitializer: init(0.5, 1.5), betaInitializer: init() }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
    // Both see a flatten-permuted vector: their per-feature constants must follow the permutation.
    x = tf.layers.batchNormalization({ ...bnInit() }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.layerNormalization({ gammaInitializer: init(0.5, 1.5), betaInitializer: init() }).apply(x) as tf.SymbolicTensor;
    const flat = tf.layers.dense({ units: 3, ...kb() }).apply(x) as tf.SymbolicTensor;

    const sequence = tf.input({ shape: [4, 6] });
    let s = tf.layers.batchNormalization({ ...bnInit() }).apply(sequence) as tf.SymbolicTensor;
    s = tf.layers.layerNormalization({ axis: [-2, -1], gammaInitializer: init(0.5, 1.5), betaInitializer: init() }).apply(s) as tf.SymbolicTensor;
    await expectConversionMatches(tf.model({ inputs: [image, sequence], outputs: [flat, s] }));
  });

  it('ReLU (max_value), LeakyReLU, ELU, PReLU, ThresholdedReLU, Softmax (axis), Activation', async () => {
    const input = tf.input({ shape: [4, 3, 2] });
    const conv = tf.layers.conv2d({ filters: 3, kernelSize: 1, kernelInitializer: init(-3, 3), biasInitializer: init(-1, 1) }).apply(input) as tf.SymbolicTensor;
    const outs = [
      tf.layers.reLU({ maxValue: 0.8 }).apply(conv),
      tf.layers.leakyReLU({ alpha: 0.1 }).apply(conv),
      tf.layers.elu({}).apply(conv),
      tf.layers.prelu({ alphaInitializer: init(0, 0.5) }).apply(conv),
      tf.layers.prelu({ alphaInitializer: init(0, 0.5), sharedAxes: [1, 2] }).apply(conv),
      tf.layers.thresholdedReLU({ theta: 0.3 }).apply(conv),
      tf.layers.softmax({ axis: -1 }).apply(tf.layers.reshape({ targetShape: [4, 9] }).apply(conv)),
      tf.layers.activation({ activation: 'softmax' }).apply(conv),
    ] as tf.SymbolicTensor[];
    await expectConversionMatches(tf.model({ inputs: input, outputs: outs }));
  });

  // The last five are Keras activations TF.js lacks, registered by tfjs-extras.ts (Keras 3 names, camel-cased as TF.js reads them).
  const activations = ['relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'tanh', 'softmax', 'softplus', 'softsign', 'swish', 'mish', 'gelu', 'linear', 'leakyRelu', 'silu', 'hardSilu', 'exponential', 'keras3HardSigmoid'] as const;
  it(`activation arguments: ${activations.join(', ')}`, async () => {
    registerKerasExtras(tf);
    const input = tf.input({ shape: [7] });
    // Weights wide enough to reach every branch (relu6's cap, hard_sigmoid's clip).
    const outs = activations.map(
      (activation) => tf.layers.dense({ units: 5, activation: activation as 'relu', kernelInitializer: init(-4, 4), biasInitializer: init() }).apply(input) as tf.SymbolicTensor,
    );
    const { conversion } = await expectConversionMatches(tf.model({ inputs: input, outputs: outs }));
    expect(conversion.outputs).toHaveLength(activations.length);
  });
});

describe('shape layers', () => {
  it('Dropout and the other training-only layers, Rescaling, Reshape, Permute, ZeroPadding2D, Cropping2D, UpSampling2D (nearest, bilinear), RepeatVector', async () => {
    const input = tf.input({ shape: [4, 6, 2] });
    let x = tf.layers.rescaling({ scale: 1 / 255, offset: -0.5 }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 3, kernelSize: 1, ...kb() }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dropout({ rate: 0.5 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.gaussianNoise({ stddev: 1 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.gaussianDropout({ rate: 0.5 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.alphaDropout({ rate: 0.5 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.cropping2D({ cropping: [[0, 1], [2, 1]] }).apply(x) as tf.SymbolicTensor;
    const nearest = tf.layers.upSampling2d({ size: [2, 3] }).apply(x) as tf.SymbolicTensor;
    const bilinear = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(x) as tf.SymbolicTensor;
    const reshaped = tf.layers.reshape({ targetShape: [-1, 3] }).apply(x) as tf.SymbolicTensor;
    const permuted = tf.layers.permute({ dims: [2, 1] }).apply(tf.layers.spatialDropout1d({ rate: 0.5 }).apply(reshaped)) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
    const repeated = tf.layers.repeatVector({ n: 2 }).apply(tf.layers.dense({ units: 3, ...kb() }).apply(flat)) as tf.SymbolicTensor;
    await expectConversionMatches(tf.model({ inputs: input, outputs: [nearest, bilinear, permuted, repeated] }));
  });

  it('a Flatten at the end of a channels-first map is put back in Keras order with one Gather', async () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [5, 4, 2], filters: 3, kernelSize: 2, ...kb() }));
    m.add(tf.layers.flatten());
    const { conversion } = await expectConversionMatches(m);
    expect(opTypes(conversion)).toEqual(['Conv', 'Flatten', 'Gather']);
  });
});

describe('functional models', () => {
  it('branches merged by Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate (images and flattened vectors)', async () => {
    const input = tf.input({ shape: [6, 6, 2] });
    const a = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', ...kb() }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ filters: 3, kernelSize: 1, ...kb() }).apply(input) as tf.SymbolicTensor;
    const merged = [
      tf.layers.add().apply([a, b]),
      extraLayer(tf, 'Subtract', {}).apply([a, b]),
      tf.layers.multiply().apply([a, b]),
      tf.layers.average().apply([a, b]),
      tf.layers.maximum().apply([a, b]),
      tf.layers.minimum().apply([a, b]),
    ] as tf.SymbolicTensor[];
    const image = tf.layers.concatenate({ axis: -1 }).apply(merged) as tf.SymbolicTensor;
    // Flattened channels-first maps concatenated: the permutation carries into the Dense.
    const flats = [a, b].map((t) => tf.layers.flatten().apply(t) as tf.SymbolicTensor);
    const vector = tf.layers.dense({ units: 4, ...kb() }).apply(tf.layers.concatenate().apply(flats)) as tf.SymbolicTensor;
    const { conversion } = await expectConversionMatches(tf.model({ inputs: input, outputs: [image, vector] }));
    expect(opTypes(conversion)).not.toContain('Gather');
  });

  it('several inputs, a shared layer, and a nested Sequential', async () => {
    const left = tf.input({ shape: [5], name: 'left' });
    const right = tf.input({ shape: [5], name: 'right' });
    const shared = tf.layers.dense({ units: 4, activation: 'tanh', name: 'shared', ...kb() });
    const tower = tf.sequential({ name: 'tower', layers: [tf.layers.dense({ inputShape: [8], units: 6, activation: 'relu', ...kb() }), tf.layers.dense({ units: 2, ...kb() })] });
    const joined = tf.layers.concatenate().apply([shared.apply(left), shared.apply(right)] as tf.SymbolicTensor[]) as tf.SymbolicTensor;
    const out = tower.apply(joined) as tf.SymbolicTensor;
    const { conversion } = await expectConversionMatches(tf.model({ inputs: [left, right], outputs: out }));
    expect(conversion.inputs.map((i) => i.name)).toEqual(['left', 'right']);
    // The shared layer's weights are stored once.
    expect(conversion.model.graph!.initializer!.filter((t) => t.name!.startsWith('shared/'))).toHaveLength(2);
  });
});

describe('sequences', () => {
  it('Embedding, LSTM (sequences), GRU (last step), SimpleRNN, LSTM going backwards', async () => {
    const tokens = tf.input({ shape: [6], dtype: 'int32' });
    const embedded = tf.layers.embedding({ inputDim: 11, outputDim: 4, embeddingsInitializer: init(-1, 1) }).apply(tokens) as tf.SymbolicTensor;
    const seq = tf.layers.lstm({ units: 3, returnSequences: true, ...krb() }).apply(embedded) as tf.SymbolicTensor;
    const last = tf.layers.gru({ units: 4, ...krb() }).apply(seq) as tf.SymbolicTensor;
    const rnn = tf.layers.simpleRNN({ units: 2, ...krb() }).apply(embedded) as tf.SymbolicTensor;
    const back = tf.layers.lstm({ units: 2, goBackwards: true, returnSequences: true, recurrentActivation: 'sigmoid', ...krb() }).apply(embedded) as tf.SymbolicTensor;
    const { conversion } = await expectConversionMatches(tf.model({ inputs: tokens, outputs: [seq, last, rnn, back] }));
    expect(conversion.inputs[0]).toMatchObject({ elemType: 'int32', indexRange: 11 });
  });

  it('Bidirectional LSTM (concat, sequences) and GRU (sum, ave, mul; last step), on float token ids', async () => {
    const tokens = tf.input({ shape: [5] });
    const embedded = tf.layers.embedding({ inputDim: 7, outputDim: 3, embeddingsInitializer: init(-1, 1) }).apply(tokens) as tf.SymbolicTensor;
    const both = tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, returnSequences: true, ...krb() }) as tf.RNN, mergeMode: 'concat' }).apply(embedded) as tf.SymbolicTensor;
    const outs = (['sum', 'ave', 'mul'] as const).map(
      (mergeMode) => tf.layers.bidirectional({ layer: tf.layers.gru({ units: 2, ...krb() }) as tf.RNN, mergeMode }).apply(both) as tf.SymbolicTensor,
    );
    const { conversion } = await expectConversionMatches(tf.model({ inputs: tokens, outputs: [both, ...outs] }));
    expect(conversion.inputs[0]).toMatchObject({ elemType: 'float32', indexRange: 7 });
  });

  it("Keras' GRU with reset_after=True: the registered TF.js layer follows Keras' equations, and converts", async () => {
    const units = 2;
    const gru = extraLayer(tf, 'GRUResetAfter', { units, returnSequences: true, recurrentActivation: 'sigmoid', ...krb() });
    const m = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [3, 2] }), gru] });
    // Keras: z, r from sigmoid(x·Wk + bi + h·Wr + br); hh = tanh(x·Wk_h + bi_h + r ⊙ (h·Wr_h + br_h)); h = z ⊙ h + (1 − z) ⊙ hh.
    const [kernel, recurrent, bias] = gru.getWeights().map((w) => w.arraySync() as number[][]);
    expect((bias as unknown as number[][]).length).toBe(2);
    const x = [[0.3, -0.7], [0.9, 0.1], [-0.4, 0.5]];
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    let h = [0, 0];
    const expected: number[][] = [];
    for (const xt of x) {
      const mx = Array.from({ length: 3 * units }, (_, j) => xt.reduce((acc, v, i) => acc + v * kernel![i]![j]!, 0) + bias![0]![j]!);
      const mh = Array.from({ length: 3 * units }, (_, j) => h.reduce((acc, v, i) => acc + v * recurrent![i]![j]!, 0) + bias![1]![j]!);
      h = h.map((hPrev, u) => {
        const z = sigmoid(mx[u]! + mh[u]!);
        const r = sigmoid(mx[units + u]! + mh[units + u]!);
        const candidate = Math.tanh(mx[2 * units + u]! + r * mh[2 * units + u]!);
        return z * hPrev + (1 - z) * candidate;
      });
      expected.push([...h]);
    }
    const got = (m.predict(tf.tensor3d([x])) as tf.Tensor).arraySync() as number[][][];
    got[0]!.forEach((row, t) => row.forEach((v, u) => expect(Math.abs(v - expected[t]![u]!)).toBeLessThan(1e-5)));

    const bi = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [4, 3] }), tf.layers.bidirectional({ layer: extraLayer(tf, 'GRUResetAfter', { units: 3, ...krb() }) as tf.RNN })] });
    await expectConversionMatches(m);
    const { conversion } = await expectConversionMatches(bi);
    const node = conversion.model.graph!.node!.find((n) => n.opType === 'GRU')!;
    expect(node.attribute!.find((a) => a.name === 'linear_before_reset')?.i).toBe(1);
  });
});
