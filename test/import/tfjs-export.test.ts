import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { exportTfjsModel } from '../../src/import/tfjs-export.js';
import { readTfjsLayersModel, writeTfjsLayersModel } from '../../src/formats/tfjs/files.js';
import { extraLayer } from '../../src/import/tfjs-extras.js';
import { importModel } from '../../src/import/index.js';
import { ModelGateError } from '../../src/errors.js';
import { kb, krb, useWasm } from '../support/tfjs-check.js';

let dir: string;
beforeAll(async () => {
  await useWasm();
  dir = mkdtempSync(path.join(os.tmpdir(), 'tfjs-export-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model(): tf.LayersModel {
  const m = tf.sequential({ name: 'web' });
  m.add(tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 8, kernelSize: 3, activation: 'relu', name: 'conv', ...kb() }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  // A zero bias: affine quantization must keep exact zeros.
  m.add(tf.layers.dense({ units: 6, activation: 'softmax', name: 'probs', kernelInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 3 }), biasInitializer: 'zeros' }));
  return m;
}

describe('TF.js export with quantized weights', () => {
  it('writes model.json + shards for none, uint8, uint16 and float16; each reloads in TF.js, is smaller, and stays close', async () => {
    const m = model();
    const results = new Map<string, Awaited<ReturnType<typeof exportTfjsModel>>>();
    for (const quantize of ['none', 'uint8', 'uint16', 'float16'] as const) {
      const r = await exportTfjsModel(tf, m, path.join(dir, quantize), { quantize, runs: 5, warmup: 1 });
      results.set(quantize, r);
      expect(r.files[0]).toBe('model.json');
      expect(r.latency.runtime).toMatch(/\(wasm\)$/);
      expect(r.latency.p50_ms).toBeGreaterThan(0);
      const manifest = JSON.parse(readFileSync(path.join(dir, quantize, 'model.json'), 'utf8')).weightsManifest[0].weights as Array<{ quantization?: { dtype: string } }>;
      expect(manifest.every((w) => (quantize === 'none' ? w.quantization === undefined : w.quantization?.dtype === quantize))).toBe(true);
    }
    const full = results.get('none')!;
    expect(full.max_abs_diff).toBe(0);
    expect(results.get('uint8')!.weight_bytes).toBe(full.weight_bytes / 4);
    expect(results.get('uint16')!.weight_bytes).toBe(full.weight_bytes / 2);
    expect(results.get('float16')!.weight_bytes).toBe(full.weight_bytes / 2);
    // Probabilities: uint16 and float16 are near-exact, uint8 within a few hundredths.
    expect(results.get('uint16')!.max_abs_diff).toBeLessThan(1e-3);
    expect(results.get('float16')!.max_abs_diff).toBeLessThan(1e-3);
    expect(results.get('uint8')!.max_abs_diff).toBeGreaterThan(results.get('uint16')!.max_abs_diff);
    expect(results.get('uint8')!.max_abs_diff).toBeLessThan(0.05);

    const reloaded = await readTfjsLayersModel(tf, path.join(dir, 'uint8'));
    expect(Array.from(reloaded.getLayer('probs').getWeights()[1]!.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('a quantized TF.js model.json is a model source too: it imports and converts', async () => {
    const imported = await importModel(path.join(dir, 'uint8', 'model.json'));
    expect(imported.source).toMatchObject({ format: 'tfjs-layers', layers: 3, check: { passed: true } });
  });

  it('refuses models stock TF.js could not load', async () => {
    const m = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [3, 2] }), extraLayer(tf, 'GRUResetAfter', { units: 2, ...krb() })] });
    await expect(exportTfjsModel(tf, m, path.join(dir, 'gru'))).rejects.toThrow(/uses GRUResetAfter, a Keras layer stock TF.js does not have/);
  });

  it('refuses hostile manifests: shard paths outside the folder, and shards that do not match the specs', async () => {
    const target = path.join(dir, 'hostile');
    await writeTfjsLayersModel(model(), target);
    const json = JSON.parse(readFileSync(path.join(target, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../none/group1-shard1of1.bin'];
    writeFileSync(path.join(target, 'escape.json'), JSON.stringify(json));
    await expect(readTfjsLayersModel(tf, path.join(target, 'escape.json'))).rejects.toThrow(/points outside the model's folder/);
    json.weightsManifest[0].paths = ['group1-shard1of1.bin'];
    json.weightsManifest[0].weights[0].shape = [3, 3, 2, 9];
    writeFileSync(path.join(target, 'short.json'), JSON.stringify(json));
    const err = await readTfjsLayersModel(tf, path.join(target, 'short.json')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelGateError);
    expect((err as Error).message).toMatch(/hold \d+ bytes, the manifest describes \d+/);
  });
});
