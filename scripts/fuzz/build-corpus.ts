/**
 * Writes the fuzz corpus (test/fuzz/corpus/): one small, valid seed per format, so the fuzzer's
 * mutations start from files ModelGate accepts and reach deep into each reader. Run once; the
 * files are committed (tsx scripts/fuzz/build-corpus.ts).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DataType, encodeModel, onnx } from '../../src/model/onnx.js';
import { exportTflite } from '../../src/export/tflite/export.js';
import { writeTfjsLayersModel } from '../../src/formats/tfjs/files.js';
import { writeKerasH5, writeKerasZip } from '../../test/support/keras-fixtures.js';
import { smallCnn } from '../../test/tflite/fixtures.js';

const root = path.resolve(import.meta.dirname, '../../test/fuzz/corpus');
rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });

function npy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

// ONNX: an Add with its weight in an external-data file beside it (the MNIST CNN is taken from examples/).
const vi = (name: string) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 4 }] } } } });
mkdirSync(path.join(root, 'onnx-external'));
writeFileSync(path.join(root, 'onnx-external', 'model.onnx'), encodeModel(onnx.ModelProto.create({
  irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
  graph: {
    name: 'g', node: [{ opType: 'Add', input: ['x', 'w'], output: ['y'], name: 'add' }], input: [vi('x')], output: [vi('y')],
    initializer: [onnx.TensorProto.create({ name: 'w', dims: [4], dataType: DataType.FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: '0' }, { key: 'length', value: '16' }] })],
  },
})));
writeFileSync(path.join(root, 'onnx-external', 'weights.bin'), new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));

// TFLite: the small CNN the TFLite tests use, float32.
const cnn = smallCnn(3);
mkdirSync(path.join(root, 'tflite'));
writeFileSync(path.join(root, 'tflite', 'model.tflite'), (await exportTflite(cnn.model, { quantize: 'float32', inputShapes: cnn.inputs })).bytes);

// Keras (.h5, .keras) and TF.js: a two-layer dense model.
const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: 'relu' }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
mkdirSync(path.join(root, 'keras-h5'));
await writeKerasH5(model, path.join(root, 'keras-h5', 'model.h5'));
mkdirSync(path.join(root, 'keras-zip'));
await writeKerasZip(model, path.join(root, 'keras-zip', 'model.keras'));
await writeTfjsLayersModel(model, path.join(root, 'tfjs'));

// npy: the types datasets use.
mkdirSync(path.join(root, 'npy'));
writeFileSync(path.join(root, 'npy', 'f4.npy'), npy('<f4', [3, 4], new Uint8Array(new Float32Array(12).map((_, i) => i / 12).buffer)));
writeFileSync(path.join(root, 'npy', 'u1.npy'), npy('|u1', [3, 2, 2], Uint8Array.from({ length: 12 }, (_, i) => i * 20)));
writeFileSync(path.join(root, 'npy', 'i8.npy'), npy('<i8', [3], new Uint8Array(new BigInt64Array([0n, 1n, 2n]).buffer)));
writeFileSync(path.join(root, 'npy', 'f2.npy'), npy('<f2', [2, 2], new Uint8Array(new Uint16Array([0x3c00, 0x4000, 0x0000, 0xbc00]).buffer)));

// YAML: the examples' configs, pointing at the ONNX seed.
mkdirSync(path.join(root, 'yaml'));
writeFileSync(path.join(root, 'yaml', 'full.yml'), `model: model.onnx
inputs:
  x: { shape: [1, 4], dtype: float32, range: [0, 1] }
dataset:
  inputs: f4.npy
  labels: i8.npy
  limit: 3
  preprocess: { scale: 0.5, mean: [0.1], std: 1 }
metric: top1
optimize:
  - name: int8-dynamic
    passes: [{ quantize: { mode: dynamic } }]
  - { auto: { accuracy_drop_max: 0.01, time_budget_s: 10 } }
export: { run: "true", output: model.onnx, timeout: 5 }
benchmark: { batch: 1, threads: 1, warmup: 2, runs: 10, measurements: 1 }
gate: { accuracy_drop_max: 0.005, latency_ratio_max: 1.1, size_bytes_max: 300000 }
select: smallest-passing
`);
writeFileSync(path.join(root, 'yaml', 'anchors.yml'), `defaults: &d { batch: 1, threads: 1 }
model: model.onnx
benchmark: *d
`);
console.log(`corpus written to ${root}`);
