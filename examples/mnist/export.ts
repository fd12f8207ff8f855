/**
 * Exports the trained TF.js model (tfjs/model.json + weights.bin) to model.onnx and checks it on the
 * test digits: ONNX (onnxruntime-node) against TF.js outputs, and ONNX top-1 accuracy.
 *
 *   npx tsx examples/mnist/export.ts [--dir DIR]      (DIR defaults to this folder)
 *
 * The ONNX model takes Input3: float32 [N, 1, 28, 28] with pixels scaled to [0, 1] (grey level / 255),
 * and returns probabilities: float32 [N, 10].
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { readNpy } from '../../src/data/npy.js';
import { tfjsLayersToOnnx } from '../../src/import/tfjs-layers.js';
import { saveModel } from '../../src/model/onnx.js';
import { OrtSession } from '../../src/runtime/session.js';
import { loadLayersModel } from './tfjs-files.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const INPUT_NAME = 'Input3';
export const OUTPUT_NAME = 'probabilities';
/** ORT and TF.js must agree this closely on every probability. */
const MAX_ABS_DIFF = 1e-4;

export interface ExportSummary {
  bytes: number;
  maxAbsDiff: number;
  onnxAccuracy: number;
  tfjsAccuracy: number;
  count: number;
}

function argmaxRows(data: Float32Array, classes: number): Int32Array {
  const out = new Int32Array(data.length / classes);
  for (let r = 0; r < out.length; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (data[r * classes + c]! > data[r * classes + best]!) best = c;
    out[r] = best;
  }
  return out;
}

export async function exportMnist(dir: string): Promise<ExportSummary> {
  await tf.setBackend('cpu');
  const model = await loadLayersModel(path.join(dir, 'tfjs'));
  const onnxFile = path.join(dir, 'model.onnx');
  const bytes = saveModel(tfjsLayersToOnnx(model, { inputName: INPUT_NAME, outputName: OUTPUT_NAME }), onnxFile);

  const images = readNpy(readFileSync(path.join(dir, 'test-images.npy')), 'test-images.npy');
  const labels = readNpy(readFileSync(path.join(dir, 'test-labels.npy')), 'test-labels.npy');
  const [count, height, width] = images.shape as [number, number, number];
  const pixels = Float32Array.from(images.data as Uint8Array, (v) => v / 255);

  // With one channel, NHWC and NCHW hold the same bytes.
  const expected = tf.tidy(() => (model.predict(tf.tensor4d(pixels, [count, height, width, 1]), { batchSize: 256 }) as tf.Tensor).dataSync() as Float32Array);
  const session = await OrtSession.create(onnxFile);
  const result = await session.run({ [INPUT_NAME]: { type: 'float32', dims: [count, 1, height, width], data: pixels } });
  await session.release();
  const actual = result[OUTPUT_NAME]!.data as Float32Array;
  if (actual.length !== expected.length) throw new Error(`ONNX returned ${actual.length} values, TF.js ${expected.length}`);

  let maxAbsDiff = 0;
  for (let k = 0; k < actual.length; k++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[k]! - expected[k]!));
  const classes = actual.length / count;
  const truth = labels.data as Uint8Array;
  const accuracy = (pred: Int32Array) => pred.reduce((n, p, i) => n + (p === truth[i] ? 1 : 0), 0) / count;
  if (!(maxAbsDiff < MAX_ABS_DIFF)) throw new Error(`${onnxFile}: ONNX and TF.js outputs differ by ${maxAbsDiff} (limit ${MAX_ABS_DIFF})`);
  return { bytes, maxAbsDiff, onnxAccuracy: accuracy(argmaxRows(actual, classes)), tfjsAccuracy: accuracy(argmaxRows(expected, classes)), count };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--dir');
  const dir = path.resolve(i >= 0 ? process.argv[i + 1]! : HERE);
  const s = await exportMnist(dir);
  console.log(`wrote ${path.join(dir, 'model.onnx')} (${s.bytes} bytes)`);
  console.log(`${s.count} test digits: max |ONNX - TF.js| = ${s.maxAbsDiff.toExponential(2)}; top-1 ONNX ${s.onnxAccuracy.toFixed(4)}, TF.js ${s.tfjsAccuracy.toFixed(4)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
