import { describe, expect, it } from 'vitest';
import {
  bootstrapRatioCI, latencyVerdict, mean, median, medianCI, quantile, stddev, summarize,
} from '../../src/benchmark/stats.js';
import { seededRandom } from '../../src/data/random.js';

/** Log-normal latencies: skewed like real ones, with a known median exp(mu). */
function lognormal(n: number, mu: number, sigma: number, random: () => number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u1 = 1 - random();
    const u2 = random();
    out.push(Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)));
  }
  return out;
}

describe('quantile (type 7)', () => {
  it('interpolates between order statistics like NumPy', () => {
    const x = [4, 1, 3, 2];
    expect(quantile(x, 0)).toBe(1);
    expect(quantile(x, 1)).toBe(4);
    expect(quantile(x, 0.5)).toBe(2.5);
    expect(quantile(x, 0.9)).toBeCloseTo(3.7, 12);
    expect(median([5, 1, 3])).toBe(3);
    expect(() => quantile([], 0.5)).toThrow(RangeError);
    expect(() => quantile([1], 1.5)).toThrow(RangeError);
  });

  it('mean, sample stddev and summary', () => {
    const x = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(x)).toBe(5);
    expect(stddev(x)).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(stddev([3])).toBe(0);
    const s = summarize(x);
    expect(s).toMatchObject({ samples: 8, mean: 5, min: 2, max: 9, p50: 4.5 });
    expect(s.cv).toBeCloseTo(Math.sqrt(32 / 7) / 5, 12);
  });
});

describe('medianCI (order statistics)', () => {
  const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it('picks the textbook ranks', () => {
    // P(B ≤ 1) = 11/1024 ≤ 2.5% < P(B ≤ 2) for n = 10: ranks 2 and 9.
    expect(medianCI(oneTo(10))).toEqual([2, 9]);
    expect(medianCI(oneTo(100))).toEqual([40, 61]);
    // n = 6 is the smallest sample that reaches 95%: P(B = 0) = 1/64.
    expect(medianCI(oneTo(6))).toEqual([1, 6]);
    expect(medianCI([3, 1, 2])).toEqual([1, 3]);
    // Large n must not underflow into a degenerate interval.
    const [lo, hi] = medianCI(oneTo(20001));
    expect(lo).toBeLessThan(10001);
    expect(hi).toBeGreaterThan(10001);
    expect(hi - lo).toBeLessThan(300);
  });

  it('covers the true median at least ~95% of the time', () => {
    const random = seededRandom(7);
    let covered = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      const [lo, hi] = medianCI(lognormal(50, 1, 0.4, random));
      if (lo <= Math.E && Math.E <= hi) covered++;
    }
    // The exact coverage at n = 50 is 96.7%; allow sampling error over 400 trials.
    expect(covered / trials).toBeGreaterThan(0.93);
    expect(covered / trials).toBeLessThan(0.995);
  });
});

describe('bootstrapRatioCI', () => {
  it('is deterministic for a seed', () => {
    const random = seededRandom(1);
    const a = lognormal(100, 0, 0.2, random);
    const b = lognormal(100, 0, 0.2, random);
    const r1 = bootstrapRatioCI(a, b, { seed: 42 });
    const r2 = bootstrapRatioCI(a, b, { seed: 42 });
    const r3 = bootstrapRatioCI(a, b, { seed: 43 });
    expect(r2).toEqual(r1);
    expect(r3.ci).not.toEqual(r1.ci);
    expect(r1.ratio).toBeCloseTo(median(b) / median(a), 12);
    expect(r1.ci[0]).toBeLessThanOrEqual(r1.ratio);
    expect(r1.ci[1]).toBeGreaterThanOrEqual(r1.ratio);
  });

  it('identical distributions are within noise', () => {
    const random = seededRandom(2);
    for (let t = 0; t < 10; t++) {
      const a = lognormal(200, 0, 0.15, random);
      const b = lognormal(200, 0, 0.15, random);
      const { ratio, ci } = bootstrapRatioCI(a, b, { seed: t });
      expect(latencyVerdict(ci, ratio, 1.1)).toBe('within noise');
    }
  });

  it('a 30% slowdown is a regression at 1.1, a 30% speedup an improvement', () => {
    const random = seededRandom(3);
    const a = lognormal(200, 0, 0.05, random);
    const slower = lognormal(200, 0, 0.05, random).map((v) => v * 1.3);
    const faster = lognormal(200, 0, 0.05, random).map((v) => v / 1.3);
    const up = bootstrapRatioCI(a, slower, { seed: 1 });
    expect(up.ratio).toBeGreaterThan(1.2);
    expect(latencyVerdict(up.ci, up.ratio, 1.1)).toBe('significant regression');
    const down = bootstrapRatioCI(a, faster, { seed: 1 });
    expect(latencyVerdict(down.ci, down.ratio, 1.1)).toBe('significant improvement');
    // The same 30% is within a 50% tolerance.
    expect(latencyVerdict(up.ci, up.ratio, 1.5)).toBe('within noise');
  });

  it('covers the true ratio of medians about 95% of the time', () => {
    const random = seededRandom(4);
    let covered = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const a = lognormal(100, 0, 0.3, random);
      const b = lognormal(100, Math.log(1.2), 0.3, random);
      const { ci } = bootstrapRatioCI(a, b, { seed: t, resamples: 500 });
      if (ci[0] <= 1.2 && 1.2 <= ci[1]) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.88);
    expect(covered / trials).toBeLessThan(0.995);
  });

  describe('paired blocks', () => {
    const rounds = 30;
    const burst = 20;
    /** Round k of both sides shares a drift factor; `disturb` rounds slow only b by 40%. */
    function interleaved(slowdown: number, disturb: number[], seed: number, drift = 0.2, sigma = 0.02): { a: number[]; b: number[] } {
      const random = seededRandom(seed);
      const a: number[] = [];
      const b: number[] = [];
      for (let k = 0; k < rounds; k++) {
        const d = 1 + drift * Math.sin(k / 3);
        for (const v of lognormal(burst, 0, sigma, random)) a.push(v * d);
        for (const v of lognormal(burst, 0, sigma, random)) b.push(v * d * slowdown * (disturb.includes(k) ? 1.4 : 1));
      }
      return { a, b };
    }

    it('does not mistake a few disturbed rounds for a regression', () => {
      // 12 of 30 rounds where a neighbour slowed only b: its median moves ~5%, which sample-by-sample
      // resampling calls significant; resampling rounds sees how much that depends on a few rounds.
      const { a, b } = interleaved(1, [1, 2, 4, 6, 8, 11, 13, 15, 18, 22, 25, 29], 5, 0, 0.05);
      const iid = bootstrapRatioCI(a, b, { seed: 1 });
      const paired = bootstrapRatioCI(a, b, { seed: 1, blocks: { a: burst, b: burst } });
      expect(paired.ratio).toBe(iid.ratio);
      expect(iid.ratio).toBeGreaterThan(1.02);
      expect(latencyVerdict(iid.ci, iid.ratio, 1.02)).toBe('significant regression');
      expect(latencyVerdict(paired.ci, paired.ratio, 1.02)).toBe('within noise');
    });

    it('still finds a real 15% slowdown under shared drift, deterministically', () => {
      const { a, b } = interleaved(1.15, [], 6);
      const paired = bootstrapRatioCI(a, b, { seed: 2, blocks: { a: burst, b: burst } });
      expect(paired).toEqual(bootstrapRatioCI(a, b, { seed: 2, blocks: { a: burst, b: burst } }));
      expect(paired.ci[0]).toBeLessThan(1.15);
      expect(paired.ci[1]).toBeGreaterThan(1.15);
      expect(latencyVerdict(paired.ci, paired.ratio, 1.1)).toBe('significant regression');
    });

    it('needs blocks that cut both sides into the same number of rounds', () => {
      expect(() => bootstrapRatioCI([1, 2, 3, 4], [1, 2, 3], { seed: 1, blocks: { a: 2, b: 2 } })).toThrow(RangeError);
      expect(() => bootstrapRatioCI([1, 2, 3, 4], [1, 2, 3, 4], { seed: 1, blocks: { a: 3, b: 2 } })).toThrow(RangeError);
      expect(bootstrapRatioCI([1, 2, 3, 4], [2, 4, 6, 8, 10, 12], { seed: 1, blocks: { a: 2, b: 3 } }).ratio).toBe(7 / 2.5);
    });
  });

  it('rejects bad input', () => {
    expect(() => bootstrapRatioCI([], [1], { seed: 1 })).toThrow(RangeError);
    expect(() => bootstrapRatioCI([1], [1], { seed: 1, resamples: 0 })).toThrow(RangeError);
  });
});

describe('latencyVerdict', () => {
  it('needs the whole interval past the bound, strictly', () => {
    expect(latencyVerdict([1.11, 1.2], 1.15, 1.1)).toBe('significant regression');
    expect(latencyVerdict([1.1, 1.2], 1.15, 1.1)).toBe('within noise');
    expect(latencyVerdict([1.05, 1.3], 1.2, 1.1)).toBe('within noise');
    expect(latencyVerdict([0.8, 0.9], 0.85, 1.1)).toBe('significant improvement');
    expect(latencyVerdict([0.85, 0.95], 0.9, 1.1)).toBe('within noise');
    expect(latencyVerdict([1.01, 1.02], 1.015, 1)).toBe('significant regression');
    expect(latencyVerdict([0.98, 0.99], 0.985, 1)).toBe('significant improvement');
  });

  it('rejects a threshold below 1 or a broken interval', () => {
    expect(() => latencyVerdict([1, 1.1], 1.05, 0.9)).toThrow(RangeError);
    expect(() => latencyVerdict([1.2, 1.1], 1.15, 1.1)).toThrow(RangeError);
    expect(() => latencyVerdict([1, 1.1], NaN, 1.1)).toThrow(RangeError);
  });
});
