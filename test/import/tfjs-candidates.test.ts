/**
 * TF.js runtime (issue 5): with `tfjs_export`, each TF.js export of a Keras model is a candidate, evaluated
 * by TF.js on the same data as the ONNX candidates and benchmarked in the same interleaved run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runGate } from '../../src/commands/run.js';
import { openSession } from '../../src/runtime/kind.js';
import type { CandidateReport } from '../../src/report/types.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-tfjs-candidates-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TF.js exports as candidates', () => {
  it('evaluates and benchmarks tfjs-uint8 from the Keras MNIST example beside the ORT candidates', async () => {
    const example = path.join(ROOT, 'examples');
    writeFileSync(path.join(dir, 'modelgate.yml'), [
      `model: ${path.join(example, 'keras-mnist/model.h5')}`,
      'dataset:',
      `  inputs: ${path.join(example, 'mnist/test-images.npy')}`,
      `  labels: ${path.join(example, 'mnist/test-labels.npy')}`,
      '  limit: 300',
      '  preprocess: { scale: 0.00392156862745098 }',
      'metric: top1',
      'optimize:',
      '  - { name: int8-dynamic, passes: [{ quantize: { mode: dynamic } }] }',
      'tfjs_export: { quantize: [uint8], runs: 5 }',
      'benchmark: { batch: 1, threads: 1, warmup: 2, runs: 20 }',
      // TF.js dequantizes at load and runs 3–5× slower than ORT here: a generous latency budget lets it be selected on size.
      'gate: { accuracy_drop_max: 0.02, latency_ratio_max: 20 }',
      '',
    ].join('\n'));
    const r = await runGate({ configPath: path.join(dir, 'modelgate.yml'), outDir: path.join(dir, 'out') });
    expect(r.error).toBeUndefined();
    const byId = (id: string): CandidateReport => r.report.candidates.find((c) => c.id === id)!;
    const ref = byId('reference');
    const t = byId('tfjs-uint8');
    expect(r.report.candidates.map((c) => c.id)).toEqual(['reference', 'int8-dynamic', 'tfjs-uint8']);
    expect(ref.runtime_kind).toBe('onnxruntime');
    expect(t.runtime_kind).toBe('tfjs');
    expect(t.error).toBeUndefined();
    expect(t.file).toBe('tfjs/uint8/model.json');
    expect((t.tfjs as { runtime: string }).runtime).toMatch(/^tfjs 4\.\d+\.\d+ \((wasm|tensorflow)\)$/);
    expect(r.report.runtime.tfjs).toBe((t.tfjs as { runtime: string }).runtime);
    expect(ref.accuracy).toBeGreaterThan(0.9);
    expect(Math.abs(t.accuracy! - ref.accuracy!)).toBeLessThanOrEqual(0.01);
    expect(t.agreement).toBeGreaterThan(0.97);
    expect(t.latency!.samples).toBeGreaterThan(0);
    expect(t.latency!.p50_ms).toBeGreaterThan(0);
    // uint8 weights: about a quarter of the float32 ONNX file (model.json and ONNX framing aside).
    expect(t.bytes / ref.bytes).toBeGreaterThan(0.2);
    expect(t.bytes / ref.bytes).toBeLessThan(0.32);
    expect(r.markdown).toMatch(/tfjs-uint8 · TF\.js/);
    // Gated like the ORT candidates: same checks, and it can be selected (smallest passing here).
    expect(t.checks).toEqual([
      expect.objectContaining({ name: 'accuracy_drop_max', passed: true }),
      expect.objectContaining({ name: 'latency_ratio_max', passed: true }),
    ]);
    expect(r.report.gate).toMatchObject({ budgets: [{ name: 'accuracy_drop_max', value: 0.02, source: 'config' }, { name: 'latency_ratio_max', value: 20, source: 'config' }, { name: 'fidelity_min_snr_db', value: 20, source: 'default' }] });
    expect(r.report.selected).toBe('tfjs-uint8');
  });

  it('a TF.js session takes the ONNX model\'s feeds (Keras names, NHWC) and names its outputs like the ONNX graph', async () => {
    const session = await openSession(path.join(dir, 'out', 'tfjs/uint8/model.json'), {}, 'tfjs-uint8');
    const onnx = await openSession(path.join(dir, 'out', 'models/reference.onnx'), {}, 'reference');
    try {
      expect(session.inputNames).toEqual(onnx.inputNames);
      expect(session.outputNames).toEqual(onnx.outputNames);
      const x = Float32Array.from({ length: 2 * 28 * 28 }, (_, i) => ((i * 37) % 255) / 255);
      const feeds = { [onnx.inputNames[0]!]: { type: 'float32' as const, dims: [2, 28, 28, 1], data: x } };
      const a = (await onnx.run(feeds))[onnx.outputNames[0]!]!;
      const b = (await session.run(feeds))[session.outputNames[0]!]!;
      expect(b.dims).toEqual(a.dims);
      const diff = Math.max(...Array.from(a.data as Float32Array, (v, i) => Math.abs(v - (b.data as Float32Array)[i]!)));
      expect(diff).toBeLessThan(0.05);
    } finally {
      await session.release();
      await onnx.release();
    }
  });
});
