/**
 * Keras .h5 (Keras 2 layout) and .keras (Keras 3 layout) files written by the fixtures from TF.js
 * models: each must import, convert, and give the original TF.js model's outputs under onnxruntime.
 * Then the hostile files: truncated, not HDF5, zip entries escaping the folder, a zip bomb.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { zipSync } from 'fflate';
import { importModel } from '../../src/import/index.js';
import { encodeModel } from '../../src/model/onnx.js';
import { OrtSession } from '../../src/runtime/session.js';
import { ModelGateError } from '../../src/errors.js';
import { seededInputs } from '../../src/import/check.js';
import { bnInit, init, kb, krb, useWasm } from '../support/tfjs-check.js';
import { extraLayer } from '../../src/import/tfjs-extras.js';
import { writeKerasH5, writeKerasZip, keras3Config } from '../support/keras-fixtures.js';

let dir: string;
beforeAll(async () => {
  await useWasm();
  dir = mkdtempSync(path.join(os.tmpdir(), 'keras-import-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Imports `file` and checks its ONNX outputs against the TF.js model the file was written from. */
async function expectImportMatches(file: string, original: tf.LayersModel): Promise<Awaited<ReturnType<typeof importModel>>> {
  const imported = await importModel(file);
  expect(imported.source.check!.passed).toBe(true);
  const inputs = imported.source.inputs!;
  const samples = 2;
  const conversion = { inputs: inputs.map((i) => ({ ...i, kerasName: i.name })), outputs: [], model: imported.model, layers: 0 };
  const data = seededInputs(conversion as never, samples, 99);
  const want = tf.tidy(() => {
    const xs = inputs.map((inp, i) => tf.tensor(data[i]!, [samples, ...inp.shape], inp.elemType === 'float32' ? 'float32' : 'int32'));
    const out = original.predict(xs.length === 1 ? xs[0]! : xs);
    return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
  });
  const session = await OrtSession.create(encodeModel(imported.model));
  const got = await session.run(Object.fromEntries(inputs.map((inp, i) => [inp.name, { type: inp.elemType === 'int32' ? 'int32' : 'float32', dims: [samples, ...inp.onnxDims], data: data[i]! }])));
  await session.release();
  const outputs = imported.model.graph!.output!.map((o) => o.name!);
  want.forEach((w, k) => {
    const g = got[outputs[k]!]!.data as Float32Array;
    expect(g.length).toBe(w.length);
    let worst = 0;
    for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(g[j]! - w[j]!));
    expect(worst).toBeLessThan(1e-4);
  });
  return imported;
}

function cnn(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: 'image' });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'stem', ...kb() }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'stem_bn', ...bnInit() }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({}).apply(x) as tf.SymbolicTensor;
  const branch = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw', depthwiseInitializer: init(), biasInitializer: init() }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.add({ name: 'residual' }).apply([x, branch]) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  const head = tf.sequential({ name: 'head', layers: [tf.layers.flatten({ inputShape: [4, 4, 4] }), tf.layers.dense({ units: 5, activation: 'softmax', name: 'probs', ...kb() })] });
  return tf.model({ inputs: input, outputs: head.apply(x) as tf.SymbolicTensor, name: 'cnn' });
}

function sequence(): tf.LayersModel {
  const m = tf.sequential({ name: 'seq' });
  m.add(tf.layers.embedding({ inputShape: [6], inputDim: 9, outputDim: 4, embeddingsInitializer: init(-1, 1), name: 'tokens' }));
  // sigmoid gates, the Keras 2 and 3 default (TF.js defaults to hard_sigmoid, whose meaning changed in Keras 3).
  m.add(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, returnSequences: true, recurrentActivation: 'sigmoid', name: 'lstm', ...krb() }) as tf.RNN, name: 'bi' }));
  m.add(tf.layers.gru({ units: 4, recurrentActivation: 'sigmoid', name: 'gru', ...krb() }));
  m.add(tf.layers.dense({ units: 2, name: 'out', ...kb() }));
  return m;
}

describe('Keras 2 .h5 files', () => {
  it('a functional CNN with a nested Sequential head loads, converts, and matches the model it was written from', async () => {
    const model = cnn();
    const file = path.join(dir, 'cnn.h5');
    await writeKerasH5(model, file);
    const imported = await expectImportMatches(file, model);
    expect(imported.source).toMatchObject({ format: 'keras-h5', keras_version: '2.15.0', layers: 8 });
    // Keras shapes at the ONNX boundary by default.
    expect(imported.source.inputs![0]).toMatchObject({ name: 'image', shape: [8, 8, 3], onnxDims: [8, 8, 3] });
  });

  it("the .h5 Keras 3 writes (variable paths without ':0', a top_level_model_weights group) loads too", async () => {
    const model = cnn();
    const file = path.join(dir, 'cnn-keras3.h5');
    await writeKerasH5(model, file, { keras3Legacy: true, kerasVersion: '3.5.0' });
    const imported = await expectImportMatches(file, model);
    expect(imported.source).toMatchObject({ format: 'keras-h5', keras_version: '3.5.0' });
  });

  it('an Embedding + Bidirectional LSTM + GRU Sequential loads, with weight names split over several attributes', async () => {
    const model = sequence();
    const file = path.join(dir, 'seq.h5');
    await writeKerasH5(model, file, { chunkedAttributes: true });
    const imported = await expectImportMatches(file, model);
    expect(imported.source.inputs![0]!.indexRange).toBe(9);
  });
});

describe('Keras 3 .keras files', () => {
  it('the same CNN and sequence models load from the Keras 3 layout (class-named weight groups, nested layers/)', async () => {
    for (const [name, make] of [['cnn', cnn], ['seq', sequence]] as const) {
      const model = make();
      const file = path.join(dir, `${name}.keras`);
      await writeKerasZip(model, file);
      const imported = await expectImportMatches(file, model);
      expect(imported.source).toMatchObject({ format: 'keras-zip', keras_version: '3.5.0' });
    }
  });

  it("hard_sigmoid means clip(0.2x + 0.5) in a Keras 2 file and relu6(x + 3) / 6 in a Keras 3 file", async () => {
    const linear = tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 8, kernelInitializer: init(-4, 4), biasInitializer: init(-2, 2), name: 'd' })] });
    const hard = tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 8, activation: 'hardSigmoid', name: 'd' })] });
    hard.setWeights(linear.getWeights());
    const x = tf.randomUniform([4, 6], 0, 1, 'float32', 5);
    const z = (linear.predict(x) as tf.Tensor).dataSync();
    for (const [version, ext, formula] of [
      ['2.15.0', 'h5', (v: number) => Math.min(1, Math.max(0, 0.2 * v + 0.5))],
      ['3.5.0', 'keras', (v: number) => Math.min(6, Math.max(0, v + 3)) / 6],
    ] as const) {
      const file = path.join(dir, `hard_sigmoid_${version}.${ext}`);
      if (ext === 'h5') await writeKerasH5(hard, file, { kerasVersion: version });
      else await writeKerasZip(hard, file, { kerasVersion: version });
      const imported = await importModel(file);
      const session = await OrtSession.create(encodeModel(imported.model));
      const out = await session.run({ [imported.model.graph!.input![0]!.name!]: { type: 'float32', dims: [4, 6], data: x.dataSync() as Float32Array } });
      await session.release();
      const got = Object.values(out)[0]!.data as Float32Array;
      z.forEach((v, i) => expect(Math.abs(got[i]! - formula(v))).toBeLessThan(1e-5));
    }
  });

  it('reads Keras 3 config features: batch_shape, DTypePolicy objects, module wrappers, call-record inbound nodes', () => {
    const config = JSON.stringify(keras3Config(cnn()));
    for (const feature of ['"batch_shape"', '"DTypePolicy"', '"registered_name"', '"__keras_tensor__"', '"module":"keras.layers"']) expect(config).toContain(feature);
  });
});

describe('Keras semantics TF.js lacks', () => {
  it('GRU(reset_after=True), causal Conv1D and bilinear UpSampling2D survive a trip through .h5 and .keras', async () => {
    const seq = tf.input({ shape: [6, 3], name: 'signal' });
    let s = extraLayer(tf, 'CausalConv1D', { filters: 4, kernelSize: 3, padding: 'causal', name: 'causal', ...kb() }).apply(seq) as tf.SymbolicTensor;
    s = extraLayer(tf, 'GRUResetAfter', { units: 3, recurrentActivation: 'sigmoid', name: 'gru', ...krb() }).apply(s) as tf.SymbolicTensor;
    const image = tf.input({ shape: [3, 4, 2], name: 'picture' });
    const up = extraLayer(tf, 'KerasUpSampling2D', { size: [2, 2], interpolation: 'bilinear', name: 'up' }).apply(image) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [seq, image], outputs: [s, up] });
    for (const ext of ['h5', 'keras']) {
      const file = path.join(dir, `semantics.${ext}`);
      if (ext === 'h5') await writeKerasH5(model, file);
      else await writeKerasZip(model, file);
      // The file holds plain Keras classes: GRU with reset_after, Conv1D causal, UpSampling2D bilinear.
      await expectImportMatches(file, model);
    }
    const config = JSON.stringify(keras3Config(model));
    expect(config).toContain('"class_name":"GRU"');
    expect(config).toContain('"reset_after":true');
    expect(config).not.toContain('GRUResetAfter');
  });

  it('bilinear UpSampling2D uses half-pixel centers, as Keras does (TF.js alone samples the corners)', async () => {
    const model = tf.sequential({ layers: [extraLayer(tf, 'KerasUpSampling2D', { inputShape: [2, 2, 1], size: [2, 2], interpolation: 'bilinear' })] });
    const out = (model.predict(tf.tensor4d([0, 1, 2, 3], [1, 2, 2, 1])) as tf.Tensor).dataSync();
    // Row 0 of a 2x upsampled [[0, 1], [2, 3]] with half-pixel centers: 0, 0.25, 0.75, 1.
    expect(Array.from(out.slice(0, 4))).toEqual([0, 0.25, 0.75, 1]);
  });
});

describe('hostile and unsupported files exit with a clear ModelGateError', () => {
  const expectRejected = async (file: string, message: RegExp) => {
    const err = await importModel(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelGateError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(file);
  };

  it('truncated .h5 and .keras files', async () => {
    const model = sequence();
    const h5 = path.join(dir, 'whole.h5');
    const keras = path.join(dir, 'whole.keras');
    await writeKerasH5(model, h5);
    await writeKerasZip(model, keras);
    const cutH5 = path.join(dir, 'truncated.h5');
    const cutKeras = path.join(dir, 'truncated.keras');
    const h5Bytes = readFileSync(h5);
    writeFileSync(cutH5, h5Bytes.subarray(0, Math.floor(h5Bytes.length * 0.6)));
    const kerasBytes = readFileSync(keras);
    writeFileSync(cutKeras, kerasBytes.subarray(0, Math.floor(kerasBytes.length * 0.6)));
    await expectRejected(cutH5, /corrupt or truncated HDF5 file/);
    await expectRejected(cutKeras, /not a readable zip archive/);
  });

  it('a file that is not HDF5, and a weights-only .h5', async () => {
    const text = path.join(dir, 'text.h5');
    writeFileSync(text, 'not a model');
    await expectRejected(text, /not an HDF5 file/);
  });

  it('zip entries that escape the folder: ../ and absolute paths', async () => {
    const model = sequence();
    for (const [name, entry] of [['slip', '../../evil.sh'], ['absolute', '/etc/cron.d/evil'], ['windows', 'C:\\evil.bat'], ['nested', 'assets/../../evil']] as const) {
      const file = path.join(dir, `${name}.keras`);
      await writeKerasZip(model, file, { extraEntries: { [entry]: new TextEncoder().encode('#!/bin/sh\n') } });
      await expectRejected(file, /points outside the archive's folder; refusing the file/);
    }
  });

  it('a zip bomb entry', async () => {
    const file = path.join(dir, 'bomb.keras');
    writeFileSync(file, zipSync({ 'config.json': new TextEncoder().encode('{}'), 'assets/zeros.bin': [new Uint8Array(8 * 2 ** 20), { level: 9 }] }));
    await expectRejected(file, /expands \d+x; refusing a likely zip bomb/);
  });

  it('an unsupported Keras layer is named with its class and the supported list', async () => {
    const model = sequence();
    const file = path.join(dir, 'lambda.keras');
    await writeKerasZip(model, file);
    const config = keras3Config(model) as { config: { layers: Array<Record<string, unknown>> } };
    config.config.layers.splice(2, 0, { module: 'keras.layers', class_name: 'Lambda', config: { name: 'my_lambda', function: { class_name: '__lambda__' } }, registered_name: null });
    const entries = { 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'metadata.json': new TextEncoder().encode('{"keras_version":"3.5.0"}'), 'model.weights.h5': new Uint8Array(8) };
    writeFileSync(file, zipSync(entries));
    await expectRejected(file, /layer 'my_lambda' \(Lambda\): is not supported by the converter; supported layers: InputLayer, Dense, .*LSTM/);
  });
});
