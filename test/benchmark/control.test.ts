/**
 * The A/A control: the baseline timed in a second worker in every measurement, and the combined CI
 * widened by the spread between measurements that the control shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineComparisons, controlId, type LatencyComparison } from '../../src/benchmark/runner.js';
import { tQuantile975, workerSpread } from '../../src/benchmark/stats.js';
import { comparePair, measureRuns } from '../../src/benchmark/measure.js';
import { matMulFeeds, tempDir, writeMatMul } from './fixtures.js';

const cmp = (ratio: number, lo: number, hi: number): LatencyComparison => ({ ratio, ci95: [lo, hi], verdict: 'within noise', resampling: 'paired rounds' });

describe('workerSpread', () => {
  it('pools the controls (null draws) with the scatter of the ratios', () => {
    const ratios = [1.04, 1.0, 1.02];
    const controls = [1.03, 0.98, 1.01];
    const s = workerSpread(ratios, controls)!;
    const d = ratios.map(Math.log);
    const mean = (d[0]! + d[1]! + d[2]!) / 3;
    const variance = (controls.reduce((t, c) => t + Math.log(c) ** 2, 0) + d.reduce((t, x) => t + (x - mean) ** 2, 0)) / 5;
    expect(s.dof).toBe(5);
    expect(s.sigma).toBeCloseTo(Math.sqrt(variance), 12);
    expect(s.halfWidth).toBeCloseTo((2.571 * Math.sqrt(variance)) / Math.sqrt(3), 12);
  });

  it('is zero when the controls read 1 and the measurements agree, and absent without two controlled measurements', () => {
    expect(workerSpread([1.1, 1.1], [1, 1])!.halfWidth).toBe(0);
    expect(workerSpread([1.1], [1.02])).toBeUndefined();
    expect(workerSpread([1.1, 1.0], [1.02])).toBeUndefined();
  });

  it('reads t quantiles off the table, and 1.96 past it', () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(5)).toBe(2.571);
    expect(tQuantile975(100)).toBe(1.96);
    expect(() => tQuantile975(0)).toThrow(/degrees of freedom/);
  });
});

describe('combineComparisons with an A/A control', () => {
  it('widens a CI that the worker spread exceeds, so a copy-level difference is noise', () => {
    // Three measurements reading a candidate 3-4% slower with tight bootstrap CIs, while two copies of the
    // reference read 3% apart too: the measurements cannot tell the candidate from a copy.
    const each = [cmp(1.04, 1.02, 1.06), cmp(1.03, 1.015, 1.045), cmp(1.035, 1.02, 1.05)];
    const plain = combineComparisons(each, 1.01);
    expect(plain.ci95[0]).toBeGreaterThan(1.01);
    expect(plain.verdict).toBe('significant regression');
    const controlled = combineComparisons(each, 1.01, [1.03, 0.97, 1.035]);
    expect(controlled.ratio).toBe(plain.ratio);
    expect(controlled.ci95[0]).toBeLessThan(1.01);
    expect(controlled.ci95[1]).toBeGreaterThan(plain.ci95[1]);
    expect(controlled.verdict).toBe('within noise');
    expect(controlled.control!.ratios).toEqual([1.03, 0.97, 1.035]);
    expect(controlled.control!.worker_sigma).toBeGreaterThan(0.015);
  });

  it('never narrows the bootstrap CI, and keeps a clear regression a regression', () => {
    const each = [cmp(1.3, 1.2, 1.4), cmp(1.32, 1.22, 1.42), cmp(1.31, 1.21, 1.41)];
    const c = combineComparisons(each, 1.05, [1.0, 1.005, 0.995]);
    expect(c.ci95[0]).toBe(1.21);
    expect(c.ci95[1]).toBe(1.41);
    expect(c.verdict).toBe('significant regression');
  });
});

describe('measureRuns with controls (real workers)', () => {
  const tmp = tempDir('mg-control-');
  let ref: string;
  let cand: string;
  beforeAll(() => {
    ref = writeMatMul(tmp.dir, 'ref.onnx');
    cand = writeMatMul(tmp.dir, 'cand.onnx');
  });
  afterAll(tmp.cleanup);

  const subjects = () => [
    { id: 'reference', file: ref, runtimeKind: 'onnxruntime' as const, runtimeOptions: {} },
    { id: 'cand', file: cand, runtimeKind: 'onnxruntime' as const, runtimeOptions: {} },
  ];
  const settings = { batch: 2, threads: 1, warmup: 2, minSamples: 10, timeBudgetMs: 2_000 };

  it('times the baseline in a second worker in every measurement, and reports the control', async () => {
    const runs = await measureRuns(subjects(), matMulFeeds(2, 16), { ...settings, measurements: 2, controls: ['reference'] });
    expect(runs).toHaveLength(2);
    for (const r of runs) expect([...r.keys()]).toEqual(['reference', controlId('reference'), 'cand']);
    const pair = comparePair(runs, 'reference', 'cand', 1.05)!;
    expect(pair.comparison.measurements).toBe(2);
    expect(pair.comparison.control!.ratios).toHaveLength(2);
    for (const r of pair.comparison.control!.ratios) expect(r).toBeGreaterThan(0);
    expect(pair.comparison.ci95[0]).toBeLessThanOrEqual(pair.comparison.ratio);
    expect(pair.comparison.ci95[1]).toBeGreaterThanOrEqual(pair.comparison.ratio);
  }, 60_000);

  it('adds no control to a single measurement', async () => {
    const runs = await measureRuns(subjects(), matMulFeeds(2, 16), { ...settings, measurements: 1, controls: ['reference'] });
    expect([...runs[0]!.keys()]).toEqual(['reference', 'cand']);
    expect(comparePair(runs, 'reference', 'cand', 1.05)!.comparison.control).toBeUndefined();
  }, 60_000);
});
