/**
 * The pipeline with TFLite: `tflite` recipe steps become .tflite candidates evaluated and benchmarked in the
 * TFLite runtime beside the ORT ones, and a .tflite file can be the config's model.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax, randomFeeds, smallCnn } from './fixtures.js';
import { encodeModel } from '../../src/model/onnx.js';
import { writeNpy } from '../../src/data/npy.js';
import { OrtSession } from '../../src/runtime/session.js';
import { runGate } from '../../src/commands/run.js';
import { splitTfliteStep } from '../../src/candidates/tflite-export.js';
import type { CandidateReport } from '../../src/report/types.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-tflite-pipeline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SAMPLES = 64;

beforeAll(async () => {
  const { model, inputs } = smallCnn(11);
  writeFileSync(path.join(dir, 'cnn.onnx'), encodeModel(model));
  // Labels are the model's own predictions, so the reference scores 100% and any loss is the candidate's.
  const images = new Float32Array(SAMPLES * 512);
  const labels = new Int32Array(SAMPLES);
  const ort = await OrtSession.create(encodeModel(model));
  for (let s = 0; s < SAMPLES; s++) {
    const feeds = randomFeeds(inputs, 4000 + s);
    images.set(feeds.x!.data as Float32Array, s * 512);
    labels[s] = argmax((await ort.run(feeds)).probs!.data as Float32Array);
  }
  await ort.release();
  writeFileSync(path.join(dir, 'images.npy'), writeNpy('float32', [SAMPLES, 8, 8, 8], images));
  writeFileSync(path.join(dir, 'labels.npy'), writeNpy('int32', [SAMPLES], labels));
});

function config(model: string, optimize: string): string {
  return [
    `model: ${model}`,
    'dataset: { inputs: images.npy, labels: labels.npy }',
    'optimize:',
    optimize,
    'benchmark: { batch: 1, threads: 1, runs: 30 }',
    'gate: { accuracy_drop_max: 0.2 }',
  ].join('\n');
}

const byId = (cands: CandidateReport[], id: string): CandidateReport => cands.find((c) => c.id === id)!;

describe('pipeline with TFLite candidates', () => {
  it('exports float32 and int8 .tflite candidates, verifies them, and measures them in TFLite in the same run as the ORT ones', async () => {
    writeFileSync(path.join(dir, 'a.yml'), config('cnn.onnx', [
      '  - { name: ort-int8, passes: [{ quantize: { mode: dynamic } }] }',
      '  - { name: tfl-f32, passes: [{ tflite: { quantize: float32 } }] }',
      '  - { name: tfl-int8, passes: [{ cleanup: {} }, { tflite: { quantize: int8, samples: 32 } }] }',
    ].join('\n')));
    const r = await runGate({ configPath: path.join(dir, 'a.yml'), outDir: path.join(dir, 'out-a') });
    expect(r.error).toBeUndefined();
    const c = r.report.candidates;
    expect(c.map((x) => [x.id, x.runtime_kind])).toEqual([['reference', 'onnxruntime'], ['ort-int8', 'onnxruntime'], ['tfl-f32', 'tflite'], ['tfl-int8', 'tflite']]);
    for (const x of c) expect(x.latency?.p50_ms).toBeGreaterThan(0);
    const f32 = byId(c, 'tfl-f32'), i8 = byId(c, 'tfl-int8');
    expect(f32.file).toBe('models/tfl-f32.tflite');
    expect(readFileSync(path.join(dir, 'out-a', f32.file)).subarray(4, 8).toString()).toBe('TFL3');
    expect((f32.tflite as { verification: { max_abs_diff: number } }).verification.max_abs_diff).toBeLessThan(1e-5);
    expect(f32.accuracy).toBe(1);
    expect(i8.bytes).toBeLessThan(0.5 * f32.bytes);
    expect((i8.tflite as { verification: { top1_agreement: number } }).verification.top1_agreement).toBeGreaterThan(0.8);
    expect(r.report.runtime.tflite).toMatch(/tfjs-tflite-node@0\.0\.2/);
    expect((f32.tflite as { runtime: { xnnpack: string } }).runtime.xnnpack).toBe('applied');
    expect(r.markdown).toMatch(/tfl-int8 · TFLite/);
    expect(r.markdown).toMatch(/`tfl-f32`: TFLite float32, float32 I\/O, batch 1, 1 thread, XNNPACK; vs its ONNX source on \d+ samples: max \|Δ\| \d/);
  });

  it('runs a .tflite given as the config model as the reference, in TFLite, with ORT candidates from its ONNX import', async () => {
    const first = path.join(dir, 'out-a', 'models', 'tfl-f32.tflite');
    writeFileSync(path.join(dir, 'cnn.tflite'), readFileSync(first));
    writeFileSync(path.join(dir, 'b.yml'), config('cnn.tflite', '  - { name: ort, passes: [{ cleanup: {} }] }'));
    const r = await runGate({ configPath: path.join(dir, 'b.yml'), outDir: path.join(dir, 'out-b') });
    expect(r.error).toBeUndefined();
    const [ref, ort] = r.report.candidates;
    expect(ref).toMatchObject({ id: 'reference', runtime_kind: 'tflite', file: 'models/reference.tflite', accuracy: 1, tflite: { runtime: { xnnpack: 'applied' } } });
    expect(ort).toMatchObject({ id: 'ort', runtime_kind: 'onnxruntime', accuracy: 1, agreement: 1 });
    expect(ref!.latency?.p50_ms).toBeGreaterThan(0);
  });

  it('auto on a .tflite reference sizes and measures its trials against the .tflite, as the gate compares them', async () => {
    writeFileSync(path.join(dir, 'c.yml'), config('cnn.tflite', '  - { auto: { recipes: [weight_only, dynamic], time_budget_s: 30 } }'));
    const r = await runGate({ configPath: path.join(dir, 'c.yml'), outDir: path.join(dir, 'out-c') });
    expect(r.error).toBeUndefined();
    const auto = byId(r.report.candidates, 'auto').auto!;
    const tfliteBytes = readFileSync(path.join(dir, 'cnn.tflite')).length;
    const built = auto.tried.filter((t) => t.bytes !== null);
    expect(built.length).toBeGreaterThan(0);
    for (const t of built) expect(t.size_ratio).toBeCloseTo(t.bytes! / tfliteBytes, 9);
    // Every measured trial has a ratio against the TFLite reference (the search's measurement ran it).
    expect(auto.tried.some((t) => t.latency_ratio !== null)).toBe(true);
  }, 120_000);

  it('auto on a .tflite reference: a tflite_* winner comes back as a verified .tflite run in TFLite', async () => {
    // latency_ratio_max: the winner is the smallest within the accuracy budget, whatever this loaded machine measures.
    writeFileSync(path.join(dir, 'c.yml'), config('cnn.tflite', '  - { auto: { recipes: [tflite_weight_only, tflite_fp16, tflite_dynamic_int8], time_budget_s: 30, latency_ratio_max: 100 } }'));
    const r = await runGate({ configPath: path.join(dir, 'c.yml'), outDir: path.join(dir, 'out-t') });
    expect(r.error).toBeUndefined();
    const c = byId(r.report.candidates, 'auto');
    const search = c.auto!;
    expect(search.tried.map((t) => t.id)).toEqual(expect.arrayContaining(['tflite_weight_only', 'tflite_fp16', 'tflite_dynamic_int8']));
    // int8 weights behind DEQUANTIZE: smaller than the float16 trial, with float16's quality or close to it.
    const trial = (id: string) => search.tried.find((t) => t.id === id)!;
    expect(trial('tflite_weight_only').recipe.at(-1)).toEqual({ tflite: { quantize: 'weight-only-int8' } });
    expect(trial('tflite_weight_only').size_ratio!).toBeLessThan(0.8 * trial('tflite_fp16').size_ratio!);
    expect(search.winner).toMatch(/^tflite_/);
    expect(c.file).toBe('models/auto.tflite');
    expect(c.runtime_kind).toBe('tflite');
    expect(c.bytes).toBeLessThan(readFileSync(path.join(dir, 'cnn.tflite')).length);
    // Exported and verified against its ONNX source, as a tflite step is.
    expect(c.tflite && 'verification' in c.tflite ? c.tflite.verification.samples : 0).toBeGreaterThan(0);
  }, 180_000);

  it('a tflite step that is not last, or has an unknown option, is a config error naming the entry', async () => {
    expect(() => splitTfliteStep([{ tflite: { quantize: 'int8' } }, { cleanup: {} }], 'optimize[0].passes')).toThrow(/optimize\[0\]\.passes\[0\]: the 'tflite' step must be the last step/);
    expect(() => splitTfliteStep([{ tflite: { quantize: 'int4' } }], 'p')).toThrow(/p\[0\] 'tflite': option 'quantize' must be one of float32, float16, weight-only-int8, dynamic-int8, int8/);
    expect(() => splitTfliteStep([{ tflite: { quantize: 'float32', io_type: 'int8' } }], 'p')).toThrow(/io_type int8 needs quantize: int8/);
    writeFileSync(path.join(dir, 'c.yml'), config('cnn.onnx', '  - { name: bad, passes: [{ tflite: { quantize: int8 } }, { cleanup: {} }] }'));
    const r = await runGate({ configPath: path.join(dir, 'c.yml'), outDir: path.join(dir, 'out-c') });
    expect(r.exitCode).toBe(2);
    expect(r.error).toMatch(/optimize\[0\]\.passes\[0\]: the 'tflite' step must be the last step/);
  });
});
