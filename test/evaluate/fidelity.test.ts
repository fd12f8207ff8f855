/**
 * Fidelity on every output, and the gate and auto reading it where top-1 does not fit: a one-logit
 * (sigmoid) classifier and a dense per-pixel map, both without labels.
 */
import Long from 'long';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onnx, saveModel, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { FidelityAccumulator, measureFidelity, top1Fits } from '../../src/evaluate/fidelity.js';
import { runGate } from '../../src/commands/run.js';
import { checkReport } from '../../src/report/validate.js';
import { searchAuto } from '../../src/search/env.js';
import { randn, rng } from '../passes/fixtures.js';
import { arrayDataset as dataset, onnxCandidate as candidate } from './fixtures.js';

function model(nodes: onnx.INodeProto[], inits: onnx.ITensorProto[], inputs: onnx.IValueInfoProto[], outputs: onnx.IValueInfoProto[]): Model {
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8), producerName: 'modelgate-test', opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: { name: 'g', node: nodes, initializer: inits, input: inputs, output: outputs },
  });
}

/** x [N, 64] → a hidden layer → one logit → sigmoid: a binary classifier with a single-value output; `scale` multiplies the last weights. */
function sigmoidModel(scale = 1): Model {
  const rand = rng(3);
  const w1 = randn(64 * 256, 0.2, rand), w2 = randn(256, 0.1, rand).map((v) => v * scale);
  return model(
    [makeNode('MatMul', ['x', 'w1'], ['h'], { name: 'fc1' }), makeNode('Relu', ['h'], ['hr'], { name: 'relu' }), makeNode('MatMul', ['hr', 'w2'], ['logit'], { name: 'fc2' }), makeNode('Sigmoid', ['logit'], ['p'], { name: 'sigmoid' })],
    [makeTensor('w1', [64, 256], w1), makeTensor('w2', [256, 1], w2)],
    [tensorValueInfo('x', FLOAT, ['N', 64])], [tensorValueInfo('p', FLOAT, ['N', 1])],
  );
}

/** x [N, 256] → a 256×256 layer → [N, 1, 16, 16]: a dense per-pixel map (and the raw map as a second output). */
function denseMapModel(): Model {
  const rand = rng(5);
  return model(
    [
      makeNode('MatMul', ['x', 'w'], ['raw'], { name: 'fc' }),
      makeNode('Reshape', ['raw', 'shape'], ['map'], { name: 'reshape' }),
      makeNode('Sigmoid', ['map'], ['prob'], { name: 'sigmoid' }),
    ],
    [makeTensor('w', [256, 256], randn(256 * 256, 0.1, rand)), makeTensor('shape', [4], new BigInt64Array([-1n, 1n, 16n, 16n]), onnx.TensorProto.DataType.INT64)],
    [tensorValueInfo('x', FLOAT, ['N', 256])], [tensorValueInfo('prob', FLOAT, ['N', 1, 16, 16]), tensorValueInfo('raw', FLOAT, ['N', 256])],
  );
}


describe('fidelity', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-fidelity-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('top-1 fits a class axis only', () => {
    expect(top1Fits([8, 10])).toBe(true);
    expect(top1Fits([1, 1000, 1, 1])).toBe(true);
    expect(top1Fits([4, 1, 5])).toBe(true);
    expect(top1Fits([8, 1])).toBe(false); // one logit
    expect(top1Fits([8])).toBe(false);
    expect(top1Fits([1, 1, 320, 320])).toBe(false); // a detector's map
    expect(top1Fits([1, 7, 512])).toBe(false); // per-position scores
  });

  it('SNR, cosine and max abs error of a known error, per row and in total', () => {
    const acc = new FidelityAccumulator();
    acc.add([3, 4], [3.3, 4.4]); // 10% off: 20 dB, same direction
    acc.add([1, 0], [0, 1]); // orthogonal
    const f = acc.result();
    expect(f.snr_db).toBeCloseTo(10 * Math.log10(26 / (0.09 + 0.16 + 2)), 9);
    expect(f.cosine).toBeCloseTo(0.5, 9);
    expect(f.max_abs_error).toBeCloseTo(1, 9);
    expect(f.top1_agreement).toBe(0.5);
    expect(() => acc.add([1], [1, 2], 'out')).toThrow(/out: 1 reference values against 2/);
  });

  it('measures every output of a candidate and names the worst', async () => {
    const ref = path.join(dir, 'map.onnx');
    saveModel(denseMapModel(), ref);
    const m = denseMapModel();
    // Scale the weights by 1.1: 'raw' is off by exactly 10% (20 dB); 'prob' goes through a sigmoid, which squashes the error.
    const w = m.graph!.initializer!.find((t) => t.name === 'w')!;
    const values = new Float32Array(w.rawData!.slice().buffer);
    w.rawData = new Uint8Array(values.map((v) => v * 1.1).buffer);
    const cand = path.join(dir, 'map-1.1.onnx');
    saveModel(m, cand);
    const f = await measureFidelity(candidate('reference', ref), candidate('scaled', cand), dataset(256, 40), { samples: 30, threads: 1 });
    expect(f.samples).toBe(30);
    expect(f.top1_fits).toBe(false);
    expect(f.outputs.map((o) => o.name)).toEqual(['prob', 'raw']);
    const raw = f.outputs[1]!;
    expect(raw.snr_db).toBeCloseTo(20, 3);
    expect(raw.cosine).toBeCloseTo(1, 6);
    expect(f.outputs[0]!.snr_db).toBeGreaterThan(raw.snr_db);
    expect(f.worst_output).toBe('raw');
    expect(f.snr_db).toBe(raw.snr_db);
    const same = await measureFidelity(candidate('reference', ref), candidate('same', ref), dataset(256, 40), { threads: 1 });
    expect(same.samples).toBe(40);
    expect(same.snr_db).toBe(Infinity);
    expect(same.max_abs_error).toBe(0);
  });

  async function gate(name: string, m: Model, lines: string[]) {
    const sub = path.join(dir, name);
    rmSync(sub, { recursive: true, force: true });
    saveModel(m, path.join(sub, 'model.onnx'));
    writeFileSync(path.join(sub, 'modelgate.yml'), ['model: model.onnx', ...lines, 'benchmark: { warmup: 2, runs: 10, measurements: 1 }', 'gate: { latency_ratio_max: 100 }', ''].join('\n'));
    return runGate({ configPath: path.join(sub, 'modelgate.yml'), outDir: path.join(sub, 'out') });
  }

  it('gates a one-logit classifier and a dense map on fidelity, not on top-1', async () => {
    const recipes = ['optimize:', '  - { name: int8, passes: [{ quantize: { mode: dynamic } }] }', '  - { name: fp16, passes: [{ fp16: {} }] }', '  - { name: broken, passes: [{ prune: { sparsity: 0.9 } }] }'];
    for (const [name, m] of [['sigmoid', sigmoidModel()], ['map', denseMapModel()]] as const) {
      const r = await gate(name, m, recipes);
      expect(r.error).toBeUndefined();
      expect(checkReport(JSON.parse(JSON.stringify(r.report)))).not.toHaveProperty('errors');
      expect(r.report.gate!.budgets!.find((b) => b.name === 'fidelity_min_snr_db')).toEqual({ name: 'fidelity_min_snr_db', value: 20, source: 'default' });
      const by = Object.fromEntries(r.report.candidates.map((c) => [c.id, c]));
      expect(by.reference!.fidelity).toBeUndefined();
      for (const id of ['int8', 'fp16', 'broken']) {
        const c = by[id]!;
        expect(c.fidelity!.top1_fits).toBe(false);
        expect(c.fidelity!.samples).toBe(64);
        expect(c.agreement).toBeNull();
        const q = c.checks.find((k) => k.name === 'fidelity_min_snr_db')!;
        expect(q.message).toContain('top-1 agreement does not fit');
        expect(c.checks.some((k) => k.name === 'accuracy_drop_max')).toBe(false);
      }
      // Measured: int8 ~30-40 dB, fp16 over 60 dB, 90% pruned under 10 dB.
      expect(by.int8!.fidelity!.snr_db!).toBeGreaterThan(25);
      expect(by.fp16!.fidelity!.snr_db!).toBeGreaterThan(55);
      expect(by.broken!.fidelity!.snr_db!).toBeLessThan(12);
      expect(by.int8!.checks.find((k) => k.name === 'fidelity_min_snr_db')!.passed).toBe(true);
      expect(by.broken!.checks.find((k) => k.name === 'fidelity_min_snr_db')!.passed).toBe(false);
      expect(r.report.selected).not.toBe('broken');
      expect(r.markdown).toMatch(/\| (\*\*int8\*\* ⭐|int8) \| [^|]+ \| \d+\.\d dB SNR \|/);
      expect(r.exitCode).toBe(0);
    }
  }, 120_000);

  it('auto judges a one-logit classifier on fidelity instead of rejecting every candidate', async () => {
    const result = await searchAuto('auto', { time_budget_s: 30, recipes: ['dynamic', 'weight_only'], latency_ratio_max: 100 }, undefined, {
      model: sigmoidModel(), dataset: dataset(64, 100), inputs: [{ name: 'x', dtype: 'float32', shape: [1, 64], dynamicBatch: true }],
      metric: 'top1', benchmark: { batch: 1, threads: 1, warmup: 2, runs: 10, measurements: 1 }, log: () => {},
    });
    const r = result.report;
    expect(r.quality_basis).toBe('fidelity');
    expect(r.accuracy_drop_max).toBeCloseTo(0.01, 12); // 20 dB as a noise-to-signal ratio
    const base = r.tried.filter((t) => t.stage === 'base');
    expect(base.length).toBe(2);
    for (const t of base) {
      // The drop is the noise-to-signal ratio of the one logit, not a disagreement count.
      expect(t.drop).not.toBeNull();
      expect(t.drop!).toBeLessThan(0.01);
      expect(t.outcome).not.toMatch(/accuracy/);
    }
    expect(result.winner).not.toBe('reference');
    expect(r.reason).toMatch(/SNR \d+\.\d dB against fp32 \(budget: an SNR of at least 20\.0 dB\)/);
  }, 120_000);
});
