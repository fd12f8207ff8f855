import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { tfjsLayersToOnnx, SUPPORTED_TFJS_LAYERS } from '../../src/import/tfjs-layers.js';
import { encodeModel, decodeModel, toNumber, type onnx } from '../../src/model/onnx.js';
import { OrtSession } from '../../src/runtime/session.js';
import { ModelGateError } from '../../src/errors.js';
import { InputDimsError } from '../../src/model/io.js';

let seed = 1;
/** Seeded, nonzero weights and biases, so that a wrong row order or a missing bias shows. */
const init = () => tf.initializers.randomUniform({ minval: -0.6, maxval: 0.6, seed: seed++ });
const weights = { kernelInitializer: init(), biasInitializer: init() } as const;
const fresh = () => ({ kernelInitializer: init(), biasInitializer: init() });

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Runs the model in TF.js and its ONNX export in onnxruntime on the same seeded batch; returns max |diff|. */
async function maxDiffAgainstOrt(model: tf.Sequential, batch = 3): Promise<number> {
  const onnxModel = tfjsLayersToOnnx(model, { inputName: 'x', outputName: 'y' });
  const inShape = model.inputs[0]!.shape.slice(1) as number[];
  const x = tf.randomUniform([batch, ...inShape], 0, 1, 'float32', seed++);
  const expectedT = model.predict(x) as tf.Tensor;
  // ONNX images are NCHW on both ends.
  const toOnnxLayout = (t: tf.Tensor) => (t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : t);
  const feed = toOnnxLayout(x);
  const expected = toOnnxLayout(expectedT);

  const session = await OrtSession.create(encodeModel(onnxModel));
  const out = await session.run({ x: { type: 'float32', dims: feed.shape, data: feed.dataSync() as Float32Array } });
  await session.release();
  expect(out.y!.dims).toEqual(expected.shape);
  const actual = out.y!.data as Float32Array;
  const want = expected.dataSync();
  // A model whose output ignores its input (all padding, saturated) would compare nothing.
  const row = want.length / batch;
  expect(want.slice(0, row).some((v, k) => Math.abs(v - want[row + k]!) > 1e-3)).toBe(true);
  let worst = 0;
  for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(actual[k]! - want[k]!));
  tf.dispose([x, expectedT, feed, expected]);
  return worst;
}

describe('tfjsLayersToOnnx matches TF.js under onnxruntime', () => {
  it('the seed CNN shape: Conv2D valid relu, MaxPooling2D, Flatten, Dense softmax (3 input channels)', async () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [9, 7, 3], filters: 5, kernelSize: 3, activation: 'relu', ...weights }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 4, activation: 'softmax', ...fresh() }));
    expect(await maxDiffAgainstOrt(m)).toBeLessThan(1e-4);
    // No runtime Transpose or Gather: the flatten order lives in the Dense weights.
    const ops = tfjsLayersToOnnx(m).graph!.node!.map((n) => n.opType);
    expect(ops).toEqual(['Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm', 'Softmax']);
  });

  it('same padding with odd sizes, strides 2 and [1, 2], pooling with same padding, dilation', async () => {
    const m = tf.sequential();
    // 'same' with an odd total pad puts the extra pixel at the end: 14x13 → 7x7 (pads 0+1 on both axes).
    m.add(tf.layers.conv2d({ inputShape: [14, 13, 2], filters: 4, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'tanh', ...fresh() }));
    // A 2-tap kernel dilated by 3 spans 4 pixels: pads 1+2.
    m.add(tf.layers.conv2d({ filters: 3, kernelSize: 2, dilationRate: 3, padding: 'same', useBias: false, kernelInitializer: init() }));
    m.add(tf.layers.conv2d({ filters: 3, kernelSize: 2, strides: [1, 2], padding: 'valid', activation: 'sigmoid', ...fresh() }));
    // 6x3 → 3x2, pads 0+1 on rows and 1+1 on columns.
    m.add(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 6, activation: 'linear', ...fresh() }));
    m.add(tf.layers.dense({ units: 3, activation: 'sigmoid', useBias: false, kernelInitializer: init() }));
    expect(await maxDiffAgainstOrt(m)).toBeLessThan(1e-4);
  });

  it('keeps the flatten order through elementwise layers, and restores it with a Gather where no Dense follows', async () => {
    const viaActivation = tf.sequential();
    viaActivation.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, ...fresh() }));
    viaActivation.add(tf.layers.flatten());
    viaActivation.add(tf.layers.activation({ activation: 'relu' }));
    viaActivation.add(tf.layers.dropout({ rate: 0.5 }));
    viaActivation.add(tf.layers.dense({ units: 2, ...fresh() }));
    expect(await maxDiffAgainstOrt(viaActivation)).toBeLessThan(1e-4);

    const endsFlat = tf.sequential();
    endsFlat.add(tf.layers.conv2d({ inputShape: [5, 4, 2], filters: 3, kernelSize: 2, ...fresh() }));
    endsFlat.add(tf.layers.flatten());
    expect(await maxDiffAgainstOrt(endsFlat)).toBeLessThan(1e-4);
    expect(tfjsLayersToOnnx(endsFlat).graph!.node!.map((n) => n.opType)).toEqual(['Conv', 'Flatten', 'Gather']);

    const softmaxAfterFlatten = tf.sequential();
    softmaxAfterFlatten.add(tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2, ...fresh() }));
    softmaxAfterFlatten.add(tf.layers.flatten());
    softmaxAfterFlatten.add(tf.layers.activation({ activation: 'softmax' }));
    expect(await maxDiffAgainstOrt(softmaxAfterFlatten)).toBeLessThan(1e-4);
  });

  it('image outputs come out NCHW, and softmax on them runs over channels', async () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'softmax', ...fresh() }));
    expect(await maxDiffAgainstOrt(m)).toBeLessThan(1e-4);
  });

  const activations = ['relu', 'sigmoid', 'tanh', 'softmax', 'linear', 'elu', 'selu', 'softplus', 'softsign', 'relu6', 'hardSigmoid'] as const;
  for (const activation of activations) {
    it(`Dense with ${activation}`, async () => {
      const m = tf.sequential();
      // Weights wide enough to reach every branch (relu6's cap, hardSigmoid's clip).
      m.add(tf.layers.dense({ inputShape: [7], units: 5, activation, kernelInitializer: tf.initializers.randomUniform({ minval: -4, maxval: 4, seed: seed++ }), biasInitializer: init() }));
      expect(await maxDiffAgainstOrt(m, 8)).toBeLessThan(1e-4);
    });
  }
});

describe('the exported model', () => {
  /** Names fixed, as in a model loaded from model.json (TF.js otherwise numbers them per process). */
  function mnistLike(): tf.Sequential {
    const m = tf.sequential({ name: 'mnist_like' });
    m.add(tf.layers.conv2d({ name: 'conv', inputShape: [28, 28, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
    m.add(tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }));
    m.add(tf.layers.flatten({ name: 'flat' }));
    m.add(tf.layers.dense({ name: 'dense', units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }));
    return m;
  }

  it('has the NCHW input with a symbolic batch, OIHW kernels, opset 13, ir_version 8, producer modelgate', () => {
    const model = tfjsLayersToOnnx(mnistLike(), { inputName: 'Input3', outputName: 'probabilities' });
    expect(toNumber(model.irVersion)).toBe(8);
    expect(model.producerName).toBe('modelgate');
    expect(model.opsetImport.map((o) => [o.domain, toNumber(o.version)])).toEqual([['', 13]]);
    const graph = model.graph!;
    const dims = (v: onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || toNumber(d.dimValue));
    expect(graph.input!.map((v) => v.name)).toEqual(['Input3']);
    expect(dims(graph.input![0]!)).toEqual(['N', 1, 28, 28]);
    expect(graph.output!.map((v) => v.name)).toEqual(['probabilities']);
    expect(dims(graph.output![0]!)).toEqual(['N', 10]);
    expect(graph.initializer!.map((t) => [t.name, t.dims!.map(toNumber)])).toEqual([
      ['conv/kernel', [4, 1, 3, 3]],
      ['conv/bias', [4]],
      ['dense/kernel', [676, 10]],
      ['dense/bias', [10]],
    ]);
  });

  it('is byte-identical for the same weights and names, and decodes back', () => {
    const m = mnistLike();
    const a = encodeModel(tfjsLayersToOnnx(m, { inputName: 'Input3' }));
    const b = encodeModel(tfjsLayersToOnnx(m, { inputName: 'Input3' }));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(decodeModel(a).graph!.node!.length).toBe(6);
    const other = encodeModel(tfjsLayersToOnnx(mnistLike(), { inputName: 'Input3' }));
    expect(Buffer.from(other).equals(Buffer.from(a))).toBe(true);
  });
});

describe('unsupported input', () => {
  it('names the layer and its class, and lists the supported classes', () => {
    const m = tf.sequential();
    m.add(tf.layers.conv3d({ inputShape: [4, 4, 4, 1], filters: 2, kernelSize: 2, name: 'volume_conv' }));
    let err: unknown;
    try {
      tfjsLayersToOnnx(m);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelGateError);
    const message = (err as Error).message;
    expect(message).toContain("layer 'volume_conv' (Conv3D) is not supported by the converter");
    expect(message).toMatch(/supported layers: InputLayer, Dense, .*Conv2D, .*BatchNormalization, .*LSTM, GRU, SimpleRNN, Bidirectional/);
    expect(SUPPORTED_TFJS_LAYERS).toContain('Dense');
    expect(SUPPORTED_TFJS_LAYERS).not.toContain('KerasUpSampling2D');
  });

  it('rejects unsupported paddings, recurrent options and opsets by name', () => {
    const causal = tf.sequential();
    causal.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, padding: 'causal', name: 'causal_conv' }));
    expect(() => tfjsLayersToOnnx(causal)).toThrow(/'causal_conv' \(Conv2D\): padding 'causal' is only defined for Conv1D/);

    const stateful = tf.sequential();
    stateful.add(tf.layers.lstm({ batchInputShape: [1, 3, 2], units: 2, stateful: true, name: 'stateful_lstm' }));
    expect(() => tfjsLayersToOnnx(stateful)).toThrow(/'stateful_lstm' \(LSTM\): stateful=True is not supported/);

    const ok = tf.sequential();
    ok.add(tf.layers.dense({ inputShape: [4], units: 3 }));
    expect(() => tfjsLayersToOnnx(ok, { opset: 11 })).toThrow(/opset 11 is not supported: use 13 to 17/);
    expect(() => tfjsLayersToOnnx(ok, { opset: 18 })).toThrow(ModelGateError);
  });

  it('asks for the shape of inputs with unknown dims, and takes it from inputShapes', () => {
    const m = tf.sequential();
    m.add(tf.layers.lstm({ inputShape: [null, 3] as unknown as number[], units: 2, name: 'any_length' }));
    expect(() => tfjsLayersToOnnx(m)).toThrow(/every dimension but the batch must be known/);
    const inputName = m.inputs[0]!.sourceLayer.name;
    // The error carries every input's declared dims, for the load stage to choose the open ones (src/load/assume.ts).
    let declared: unknown;
    try {
      tfjsLayersToOnnx(m);
    } catch (err) {
      expect(err).toBeInstanceOf(InputDimsError);
      declared = (err as InputDimsError).declared;
    }
    expect(declared).toEqual([{ name: inputName, dims: [{ value: null, param: '' }, { value: null, param: '' }, { value: 3, param: '' }] }]);
    const model = tfjsLayersToOnnx(m, { inputShapes: { [inputName]: [5, 3] } });
    expect(model.graph!.input![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || toNumber(d.dimValue))).toEqual(['N', 5, 3]);
    expect(() => tfjsLayersToOnnx(m, { inputShapes: { [inputName]: [5, 4] } })).toThrow(/does not fit the model's \[\?, 3\]/);
  });
});
