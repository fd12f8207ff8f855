/**
 * How long importing a deep Keras model takes: a 100+-layer residual CNN (conv/BN/ReLU blocks with
 * skip connections, depthwise convolutions, a dense head) and a 100+-layer sequence model, written
 * as .h5 and .keras by the test fixtures, then imported end to end: read the file, rebuild in
 * TF.js, convert to ONNX, and run the numerical check (TF.js wasm vs onnxruntime).
 *
 *   npx tsx bench/convert.ts [repeats=3]
 *
 * Prints the median of `repeats` per phase. The goal: a 100-layer model in under 5 s. Not a
 * test: numbers depend on the machine and its load.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadTfjs } from '../src/runtime/tfjs.js';
import { readKerasH5 } from '../src/import/keras-h5.js';
import { readKerasZip } from '../src/import/keras-zip.js';
import { convertTfjsLayers } from '../src/import/tfjs-layers.js';
import { checkConversion } from '../src/import/check.js';
import { encodeModel } from '../src/model/onnx.js';
import { writeKerasH5, writeKerasZip } from '../test/support/keras-fixtures.js';

const repeats = Number(process.argv[2] ?? 3);

function residualCnn(blocks: number): tf.LayersModel {
  const input = tf.input({ shape: [32, 32, 3], name: 'image' });
  let x = tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', name: 'stem' }).apply(input) as tf.SymbolicTensor;
  for (let b = 0; b < blocks; b++) {
    let y = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: `dw${b}` }).apply(x) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization({ name: `bn${b}a` }).apply(y) as tf.SymbolicTensor;
    y = tf.layers.reLU({ maxValue: 6, name: `relu${b}a` }).apply(y) as tf.SymbolicTensor;
    y = tf.layers.conv2d({ filters: 32, kernelSize: 1, name: `pw${b}` }).apply(y) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization({ name: `bn${b}b` }).apply(y) as tf.SymbolicTensor;
    x = tf.layers.add({ name: `add${b}` }).apply([x, y]) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: 'relu', name: `relu${b}b` }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 10, activation: 'softmax', name: 'probs' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'residual_cnn' });
}

function sequenceStack(blocks: number): tf.LayersModel {
  const m = tf.sequential({ name: 'sequence_stack' });
  m.add(tf.layers.embedding({ inputShape: [16], inputDim: 1000, outputDim: 32, name: 'tokens' }));
  for (let b = 0; b < blocks; b++) {
    m.add(tf.layers.dense({ units: 32, activation: 'gelu', name: `ff${b}` }));
    m.add(tf.layers.layerNormalization({ name: `ln${b}` }));
    m.add(tf.layers.dropout({ rate: 0.1, name: `drop${b}` }));
  }
  m.add(tf.layers.lstm({ units: 32, recurrentActivation: 'sigmoid', recurrentInitializer: 'glorotUniform', name: 'lstm' }));
  m.add(tf.layers.dense({ units: 4, activation: 'softmax', name: 'out' }));
  return m;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const t0 = performance.now();
  const rt = await loadTfjs('wasm');
  const loadMs = performance.now() - t0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-convert-'));
  const rows: string[][] = [];
  try {
    for (const [name, make] of [['residual CNN', () => residualCnn(15)], ['sequence stack', () => sequenceStack(33)]] as const) {
      const model = make();
      for (const ext of ['h5', 'keras'] as const) {
        const file = path.join(dir, `${name.replace(' ', '_')}.${ext}`);
        if (ext === 'h5') await writeKerasH5(model, file);
        else await writeKerasZip(model, file);
        const phases: Record<string, number[]> = { read: [], convert: [], check: [], total: [] };
        let layers = 0;
        let onnxBytes = 0;
        let diff = 0;
        for (let r = 0; r < repeats; r++) {
          const a = performance.now();
          const k = ext === 'h5' ? await readKerasH5(rt.tf, file) : await readKerasZip(rt.tf, file);
          const b = performance.now();
          const conversion = convertTfjsLayers(k.model, { imageLayout: 'nhwc' });
          const c = performance.now();
          const check = await checkConversion(rt.tf, k.model, conversion, { runtime: rt.label });
          const d = performance.now();
          phases.read!.push(b - a);
          phases.convert!.push(c - b);
          phases.check!.push(d - c);
          phases.total!.push(d - a);
          layers = conversion.layers;
          onnxBytes = encodeModel(conversion.model).length;
          diff = check.max_abs_diff;
          k.model.dispose();
        }
        rows.push([
          `${name} (.${ext})`,
          String(layers),
          `${(statSync(file).size / 1024).toFixed(0)} KB`,
          `${(onnxBytes / 1024).toFixed(0)} KB`,
          ...(['read', 'convert', 'check', 'total'] as const).map((p) => `${(median(phases[p]!) / 1000).toFixed(2)} s`),
          diff.toExponential(1),
          median(phases.total!) < 5000 ? 'yes' : 'NO',
        ]);
      }
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const header = ['model', 'layers', 'file', 'onnx', 'read+rebuild', 'convert', 'check', 'total', 'max diff', '< 5 s'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`${rt.label}, TF.js load ${(loadMs / 1000).toFixed(2)} s (once per process, not in the table); median of ${repeats}\n`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
