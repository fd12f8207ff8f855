import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareLatency, measureInterleaved, type LatencyStats, type MeasureProgress } from '../../src/benchmark/runner.js';
import { bootstrapRatioCI } from '../../src/benchmark/stats.js';
import { matMulFeeds, tempDir, writeMatMul } from './fixtures.js';

describe('measureInterleaved', () => {
  const tmp = tempDir('mg-runner-');
  let a: string;
  let b: string;
  beforeAll(() => {
    a = writeMatMul(tmp.dir, 'a.onnx');
    b = writeMatMul(tmp.dir, 'b.onnx');
  });
  afterAll(tmp.cleanup);

  it('stops on the CI once every model has minSamples, in whole rounds of bursts', async () => {
    const events: MeasureProgress[] = [];
    const stats = await measureInterleaved(
      [
        { id: 'ref', path: a, runtime: { intraOpThreads: 1 } },
        { id: 'cand', path: b, runtime: { intraOpThreads: 2, executionProviders: ['no-such-provider'] } },
      ],
      matMulFeeds(2, 16),
      // A CI width no sample can miss makes the stopping point a pure function of the counts.
      { batch: 2, warmupMin: 3, ciWidth: 1e9, minSamples: 12, rounds: { burst: 4, min: 2 }, timeBudgetMs: 60_000 },
      (_message, p) => events.push(p),
    );
    expect([...stats.keys()]).toEqual(['ref', 'cand']);
    const ref = stats.get('ref')!;
    const cand = stats.get('cand')!;
    for (const s of [ref, cand]) {
      expect(s.samples).toBe(12);
      expect(s.raw_ms).toHaveLength(12);
      expect(s.rounds).toBe(3);
      expect(s.stopped_by).toBe('ci');
      expect(s.batch).toBe(2);
      expect(s.warmup_runs).toBeGreaterThanOrEqual(3);
      expect(s.p50_ms).toBeGreaterThan(0);
      expect(s.p50_ms).toBeLessThanOrEqual(s.p90_ms);
      expect(s.p90_ms).toBeLessThanOrEqual(s.p99_ms);
      expect(s.ci95_ms[0]).toBeLessThanOrEqual(s.p50_ms);
      expect(s.ci95_ms[1]).toBeGreaterThanOrEqual(s.p50_ms);
      expect(s.throughput_items_per_s).toBeCloseTo((2 * 1000) / s.mean_ms, 6);
      expect(s.cv).toBeCloseTo(s.stddev_ms / s.mean_ms, 9);
      expect(s.cold_start_ms).toBeGreaterThan(0);
      expect(s.peak_rss_bytes).toBeGreaterThan(0);
    }
    expect(ref.threads).toBe(1);
    expect(cand.threads).toBe(2);
    expect(ref.executionProviders).toEqual(['cpu']);
    expect(ref.fallback_reason).toBeUndefined();
    expect(cand.executionProviders).toEqual(['cpu']);
    expect(cand.fallback_reason).toMatch(/no-such-provider/);
    expect(events.map((e) => e.phase)).toEqual(expect.arrayContaining(['load', 'warmup', 'done']));
    expect(events.at(-1)!.samples).toEqual({ ref: 12, cand: 12 });

    expect(ref.burst).toBe(4);
    const cmp = compareLatency(ref, cand, 1.1, 7);
    expect(cmp).toEqual(compareLatency(ref, cand, 1.1, 7));
    expect(cmp.resampling).toBe('paired rounds');
    expect(cmp.ratio).toBeCloseTo(cand.p50_ms / ref.p50_ms, 9);
    expect(cmp.ci95[0]).toBeLessThanOrEqual(cmp.ci95[1]);
    expect(['significant regression', 'within noise', 'significant improvement']).toContain(cmp.verdict);
  });

  it('measures at least rounds.min rounds even when the CI is already narrow', async () => {
    const stats = await measureInterleaved(
      [{ id: 'only', path: a, runtime: {} }],
      matMulFeeds(2, 16),
      { batch: 2, warmupMin: 1, ciWidth: 1e9, minSamples: 2, rounds: { burst: 3, min: 4 } },
    );
    expect(stats.get('only')).toMatchObject({ samples: 12, rounds: 4, stopped_by: 'ci' });
  });

  it('reports a budget stop when the round cap comes first', async () => {
    const stats = await measureInterleaved(
      [{ id: 'only', path: a, runtime: {} }],
      matMulFeeds(2, 16),
      { batch: 2, warmupMin: 1, ciWidth: 0, minSamples: 2, rounds: { burst: 3, max: 2 } },
    );
    const s = stats.get('only')!;
    expect(s.samples).toBe(6);
    expect(s.rounds).toBe(2);
    expect(s.stopped_by).toBe('budget');
  });

  it('fails with the model id when a model cannot load, and rejects duplicate ids', async () => {
    await expect(
      measureInterleaved([{ id: 'ok', path: a, runtime: {} }, { id: 'broken', path: `${tmp.dir}/none.onnx`, runtime: {} }], matMulFeeds(2, 16), { batch: 2 }),
    ).rejects.toThrow(/broken: onnxruntime could not load/);
    await expect(measureInterleaved([{ id: 'x', path: a, runtime: {} }, { id: 'x', path: b, runtime: {} }], matMulFeeds(2, 16), { batch: 2 })).rejects.toThrow(/unique/);
  });
});

describe('compareLatency', () => {
  const stats = (raw: number[], rounds = 0, burst = 0): LatencyStats => ({
    batch: 1, threads: 1, p50_ms: 0, p90_ms: 0, p99_ms: 0, mean_ms: 0, stddev_ms: 0, cv: 0, samples: raw.length, ci95_ms: [0, 0],
    throughput_items_per_s: 0, cold_start_ms: 0, peak_rss_bytes: 0, raw_ms: raw, burst, stopped_by: 'ci', executionProviders: ['cpu'], warmup_runs: 0, rounds,
  });
  it('flags a clear 50% slowdown and passes identical samples', () => {
    const base = Array.from({ length: 60 }, (_, i) => 10 + (i % 5) * 0.1);
    expect(compareLatency(stats(base), stats(base.map((v) => v * 1.5)), 1.1, 1).verdict).toBe('significant regression');
    const same = compareLatency(stats(base), stats([...base].reverse()), 1.1, 1);
    expect(same.ratio).toBe(1);
    expect(same.verdict).toBe('within noise');
    expect(same.resampling).toBe('independent samples');
  });

  it('resamples paired rounds when both sides come from the same interleaved run', () => {
    // 12 rounds of 5; in rounds 3 and 7 a neighbour slowed only the candidate's burst by 40%.
    const ref = Array.from({ length: 60 }, (_, i) => 10 + (i % 5) * 0.01);
    const cand = ref.map((v, i) => ([3, 7].includes(Math.floor(i / 5)) ? v * 1.4 : v * 1.001));
    const byRounds = compareLatency(stats(ref, 12, 5), stats(cand, 12, 5), 1.001, 3);
    expect(byRounds.resampling).toBe('paired rounds');
    expect(byRounds.ci95).toEqual(bootstrapRatioCI(ref, cand, { seed: 3, blocks: { a: 5, b: 5 } }).ci);
    const bySamples = compareLatency(stats(ref), stats(cand), 1.001, 3);
    expect(bySamples.ci95).toEqual(bootstrapRatioCI(ref, cand, { seed: 3 }).ci);
    expect(bySamples.ci95).not.toEqual(byRounds.ci95);
    // Mismatched round counts cannot be paired.
    expect(compareLatency(stats(ref, 12, 5), stats(cand.slice(0, 55), 11, 5), 1.1, 3).resampling).toBe('independent samples');
  });
});
