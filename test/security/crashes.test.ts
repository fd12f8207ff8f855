/** Hostile inputs end in one clean line naming the file and key/node (exit 2, report.json written), never a stack trace. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { runGate } from '../../src/commands/run.js';
import { readTfjsLayersModel } from '../../src/formats/tfjs/files.js';
import { normalizeKerasConfig, MAX_CONFIG_DEPTH, MAX_LAYERS } from '../../src/import/keras-config.js';
import { convertTfjsLayers } from '../../src/import/tfjs-layers.js';
import { decodeTflite, encodeTflite } from '../../src/formats/tflite/flatbuffer.js';
import { exportTflite } from '../../src/export/tflite/export.js';
import { smallCnn } from '../tflite/fixtures.js';
import { ModelGateError } from '../../src/errors.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-sec-crash-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const MNIST = path.resolve('examples/mnist/model.onnx');

async function gate(yaml: string): Promise<{ exitCode: number; error: string }> {
  const dir = mkdtempSync(path.join(tmp, 'run-'));
  writeFileSync(path.join(dir, 'modelgate.yml'), yaml.replace('MODEL', MNIST));
  const result = await runGate({ configPath: path.join(dir, 'modelgate.yml'), outDir: path.join(dir, 'out') });
  const report = JSON.parse(readFileSync(path.join(dir, 'out', 'report.json'), 'utf8')) as { error?: string };
  expect(report.error).toBe(result.error);
  return { exitCode: result.exitCode, error: result.error ?? '' };
}

function clean(error: string): void {
  expect(error).not.toMatch(/internal error|\n\s+at |TypeError|RangeError/);
}

describe('config', () => {
  it('a YAML alias bomb and an undefined alias are invalid YAML', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`), 'model: MODEL'].join('\n');
    const r1 = await gate(bomb);
    expect(r1.exitCode).toBe(2);
    expect(r1.error).toMatch(/modelgate\.yml: invalid YAML: .*alias/i);
    clean(r1.error);
    const r2 = await gate('model: *nowhere\n');
    expect(r2.exitCode).toBe(2);
    expect(r2.error).toMatch(/modelgate\.yml: invalid YAML: .*alias.*nowhere/i);
    clean(r2.error);
  });

  const numeric: Array<[string, string, RegExp]> = [
    ['benchmark: { batch: .inf }', 'benchmark.batch', /finite number, got Infinity/],
    ['benchmark: { warmup: .nan }', 'benchmark.warmup', /finite number, got NaN/],
    ['benchmark: { threads: 1e400 }', 'benchmark.threads', /finite number, got Infinity/],
    ['benchmark: { threads: 100000 }', 'benchmark.threads', /must be <= 256/],
    ['benchmark: { runs: 1e12 }', 'benchmark.runs', /must be <= 1000000/],
    ['dataset: { inputs: x.npy, preprocess: { scale: -.inf } }', 'dataset.preprocess.scale', /finite number, got -Infinity/],
    ['inputs: { Input3: { range: [0, 1e300] } }', 'inputs.Input3.range[1]', /must be <= 1000000000/],
    ['inputs: { Input3: { shape: [1, 1, 28, 1000000000] } }', 'inputs.Input3.shape[3]', /must be <= 268435456/],
    ['gate: { size_bytes_max: 1e300 }', 'gate.size_bytes_max', /must be <= /],
  ];
  for (const [yaml, key, why] of numeric) {
    it(`${yaml} names ${key}`, async () => {
      const r = await gate(`model: MODEL\n${yaml}\n`);
      expect(r.exitCode).toBe(2);
      expect(r.error).toContain(`${key}: `);
      expect(r.error).toMatch(why);
      clean(r.error);
    });
  }

  it('more candidates than the cap is refused with the cap in the message', async () => {
    const list = Array.from({ length: 40 }, (_, i) => `  - { name: c${i}, passes: [{ fp16: {} }] }`).join('\n');
    const r = await gate(`model: MODEL\noptimize:\n${list}\n`);
    expect(r.exitCode).toBe(2);
    expect(r.error).toMatch(/optimize: must NOT have more than 32 items/);
  });
});

describe('model files', () => {
  it('a model path that is a directory', async () => {
    mkdirSync(path.join(tmp, 'dir.onnx'), { recursive: true });
    const r = await gate(`model: ${tmp}/dir.onnx\n`);
    expect(r.error).toMatch(/dir\.onnx: the folder holds no model\.json or \.onnx model/);
    expect(r.exitCode).toBe(2);
    clean(r.error);
  });

  const layer = { class_name: 'Dense', config: { name: 'd', units: 2, batch_input_shape: [null, 2] } };
  const wrongTypes: Array<[string, unknown, RegExp]> = [
    ['null', null, /top level is not a JSON object/],
    ['weightsManifest: "x"', { modelTopology: { class_name: 'Sequential', config: { layers: [layer] } }, weightsManifest: 'x' }, /'weightsManifest' is not a list/],
    ['paths: null', { modelTopology: { class_name: 'Sequential', config: { layers: [layer] } }, weightsManifest: [{ paths: null, weights: [] }] }, /weightsManifest\[0\]\.paths is not a list/],
    ['weights: "w"', { modelTopology: { class_name: 'Sequential', config: { layers: [layer] } }, weightsManifest: [{ paths: [], weights: 'w' }] }, /weightsManifest\[0\]\.weights is not a list/],
    ['shape: "2"', { modelTopology: { class_name: 'Sequential', config: { layers: [layer] } }, weightsManifest: [{ paths: [], weights: [{ name: 'k', dtype: 'float32', shape: '2' }] }] }, /shape is not a list/],
    ['modelTopology: []', { modelTopology: [] }, /'modelTopology' is not an object/],
  ];
  for (const [what, json, why] of wrongTypes) {
    it(`model.json with ${what}`, async () => {
      const dir = mkdtempSync(path.join(tmp, 'tfjs-'));
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      const err = await readTfjsLayersModel(tf, path.join(dir, 'model.json')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelGateError);
      expect((err as Error).message).toMatch(why);
      expect((err as Error).message).toContain('model.json');
    });
  }

  it('a Keras config nested 5,000 levels deep is refused without recursion', () => {
    let inner: Record<string, unknown> = { class_name: 'Sequential', config: { name: 'leaf', layers: [{ class_name: 'Dense', config: { name: 'd', units: 1, batch_input_shape: [null, 1] } }] } };
    for (let i = 0; i < 5000; i++) inner = { class_name: 'Sequential', config: { name: `s${i}`, layers: [inner] } };
    expect(() => normalizeKerasConfig(inner, { source: 'deep.h5' })).toThrow(new RegExp(`deep\\.h5: the model config nests more than ${MAX_CONFIG_DEPTH} levels`));
  });

  it('a Keras config with 20,000 layers is refused; a 2,000-layer chain converts without recursion', async () => {
    const layers = Array.from({ length: 20_000 }, (_, i) => ({ class_name: 'Activation', config: { name: `a${i}`, activation: 'relu', ...(i === 0 ? { batch_input_shape: [null, 2] } : {}) } }));
    expect(() => normalizeKerasConfig({ class_name: 'Sequential', config: { name: 's', layers } }, { source: 'wide.keras' })).toThrow(`wide.keras: the model config has more than ${MAX_LAYERS} layers`);
    // A long functional chain converts with the converter's explicit stack (TF.js itself overflows building one of ~5,000).
    const input = tf.input({ shape: [2] });
    let x: tf.SymbolicTensor = input;
    for (let i = 0; i < 2000; i++) x = tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    const converted = convertTfjsLayers(model, {});
    expect(converted.layers).toBe(2000);
  });

  it('TFLite tensor indices out of range and vector lengths beyond the file are clean errors', async () => {
    const { model, inputs } = smallCnn(3);
    const bytes = (await exportTflite(model, { quantize: 'float32', inputShapes: inputs })).bytes;
    const good = decodeTflite(bytes, 'good.tflite');
    const badIndex = structuredClone(good);
    badIndex.graph.operators[0]!.inputs[0] = 9999;
    expect(() => decodeTflite(encodeTflite(badIndex), 'index.tflite')).toThrow(/index\.tflite: operator 0 \(.*\) names tensor 9999; the graph has \d+ tensors/);
    const badInput = structuredClone(good);
    badInput.graph.inputs = [-5];
    expect(() => decodeTflite(encodeTflite(badInput), 'input.tflite')).toThrow(/input\.tflite: the graph inputs name tensor -5/);
    // Every 4-byte word set to 0x7fffffff in turn: offsets and vector lengths past the end.
    let refused = 0;
    for (let at = 8; at < Math.min(bytes.length, 4000); at += 4) {
      const m = Uint8Array.from(bytes);
      new DataView(m.buffer).setUint32(at, 0x7fffffff, true);
      try {
        decodeTflite(m, 'mutated.tflite');
      } catch (err) {
        expect(err).toBeInstanceOf(ModelGateError);
        expect((err as Error).message).toMatch(/^mutated\.tflite: /);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(20);
  });
});
