/**
 * The A/A control: the baseline timed in a second worker in every measurement, and the combined CI
 * widened by the spread between measurements that the control shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineComparisons, compareLatency, controlId, type LatencyComparison } from '../../src/benchmark/runner.js';
import { widenByWorkerSpread, workerSpread } from '../../src/benchmark/stats.js';
import { comparePair, measureRuns } from '../../src/benchmark/measure.js';
import { matMulFeeds, tempDir, writeMatMul } from './fixtures.js';

const cmp = (ratio: number, lo: number, hi: number): LatencyComparison => ({ ratio, ci95: [lo, hi], verdict: 'within noise', resampling: 'paired rounds' });

describe('workerSpread', () => {
  it('is median(|log control|) / 0.6745, so one grossly wrong control of three does not set it', () => {
    const sigma = workerSpread([1.02, 0.97, 1.4])!;
    expect(sigma).toBeCloseTo(Math.abs(Math.log(0.97)) / 0.6745, 12);
    expect(workerSpread([1, 1, 1])).toBe(0);
    expect(workerSpread([])).toBeUndefined();
  });

  it('widens a CI in quadrature with the median-of-M worker effect on the log scale, and never narrows it', () => {
    const z = 1.96 * 0.02 * Math.sqrt(Math.PI / 6);
    const [lo, hi] = widenByWorkerSpread(1.1, [1.09, 1.12], 0.02, 3);
    expect(Math.log(1.1 / lo)).toBeCloseTo(Math.hypot(Math.log(1.1 / 1.09), z), 12);
    expect(Math.log(hi / 1.1)).toBeCloseTo(Math.hypot(Math.log(1.12 / 1.1), z), 12);
    const [lo0, hi0] = widenByWorkerSpread(1.1, [1.09, 1.12], 0, 3);
    expect(lo0).toBeCloseTo(1.09, 12);
    expect(hi0).toBeCloseTo(1.12, 12);
  });
});

describe('combineComparisons with an A/A control', () => {
  it('widens each CI by the spread the controls show, so a copy-level difference is noise', () => {
    // Three measurements reading a candidate 3-4% slower with tight bootstrap CIs, while two copies of the
    // reference read about 3% apart too: the measurements cannot tell the candidate from a copy.
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
    expect(controlled.control!.worker_sigma).toBeCloseTo(-Math.log(0.97) / 0.6745, 12);
  });

  it('keeps a 9% slowdown a regression at 1.05 when one control of three is grossly wrong', () => {
    const each = [cmp(1.09, 1.08, 1.1), cmp(1.1, 1.09, 1.11), cmp(1.085, 1.075, 1.095)];
    const c = combineComparisons(each, 1.05, [1.01, 0.7, 0.985]);
    expect(c.verdict).toBe('significant regression');
    expect(c.ci95[0]).toBeGreaterThan(1.05);
  });

  it('never narrows the bootstrap CI, and keeps a clear regression a regression', () => {
    const each = [cmp(1.3, 1.2, 1.4), cmp(1.32, 1.22, 1.42), cmp(1.31, 1.21, 1.41)];
    const c = combineComparisons(each, 1.05, [1.0, 1.005, 0.995]);
    expect(c.ci95[0]).toBeLessThanOrEqual(1.21);
    expect(c.ci95[0]).toBeGreaterThan(1.2);
    expect(c.ci95[1]).toBeGreaterThanOrEqual(1.41);
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
    // Each control reads what compareLatency would: the second worker's p50 over the first's.
    runs.forEach((r, k) => {
      expect(pair.comparison.control!.ratios[k]).toBe(compareLatency(r.get('reference')!, r.get(controlId('reference'))!, 1.05, 1).ratio);
    });
    expect(pair.comparison.ci95[0]).toBeLessThanOrEqual(pair.comparison.ratio);
    expect(pair.comparison.ci95[1]).toBeGreaterThanOrEqual(pair.comparison.ratio);
  }, 60_000);

  it('adds no control to a single measurement', async () => {
    const runs = await measureRuns(subjects(), matMulFeeds(2, 16), { ...settings, measurements: 1, controls: ['reference'] });
    expect([...runs[0]!.keys()]).toEqual(['reference', 'cand']);
    expect(comparePair(runs, 'reference', 'cand', 1.05)!.comparison.control).toBeUndefined();
  }, 60_000);
});
