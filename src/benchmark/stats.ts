/**
 * Statistics for latency samples. Everything here is a pure function of its inputs (the bootstrap
 * takes a seed), so a report recomputed from the same raw samples gives the same numbers.
 */
import { seededRandom } from '../data/random.js';


/**
 * Linear interpolation between order statistics (Hyndman & Fan type 7, the default of R and NumPy):
 * with the sample sorted ascending, h = (n - 1)·p and Q(p) = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋]).
 * Q(0) is the minimum, Q(1) the maximum, and Q(0.5) the usual median (mean of the middle two when n is even).
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('quantile of an empty sample');
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile probability ${p} is outside [0, 1]`);
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export function sortedCopy(samples: ArrayLike<number>): Float64Array {
  return Float64Array.from(samples).sort();
}

export function quantile(samples: ArrayLike<number>, p: number): number {
  return quantileSorted(sortedCopy(samples), p);
}

export function median(samples: ArrayLike<number>): number {
  return quantile(samples, 0.5);
}

export function mean(samples: ArrayLike<number>): number {
  if (samples.length === 0) throw new RangeError('mean of an empty sample');
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]!;
  return sum / samples.length;
}

/** Sample standard deviation (n − 1 denominator); 0 for a single sample. */
export function stddev(samples: ArrayLike<number>): number {
  const n = samples.length;
  if (n < 2) return 0;
  const m = mean(samples);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (samples[i]! - m) ** 2;
  return Math.sqrt(ss / (n - 1));
}

/**
 * Distribution-free confidence interval for the median from order statistics.
 * The number of samples below the true median is Binomial(n, ½), so [x₍ⱼ₎, x₍ₙ₋ⱼ₊₁₎] (1-based)
 * covers it with probability 1 − 2·P(B ≤ j − 1). We take the largest j whose coverage is still
 * ≥ `confidence`, i.e. the narrowest such interval. It assumes independent samples, nothing about
 * their shape, which suits skewed latency distributions. With too few samples to reach the level
 * (n ≤ 5 at 95%) the interval is the whole range [min, max].
 */
export function medianCISorted(sorted: ArrayLike<number>, confidence = 0.95): [number, number] {
  const n = sorted.length;
  if (n === 0) throw new RangeError('median CI of an empty sample');
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence ${confidence} is outside (0, 1)`);
  const tail = (1 - confidence) / 2;
  // Walk the binomial CDF upward in log space: 0.5^n underflows for n > 1074.
  let logPmf = -n * Math.LN2; // P(B = 0)
  let cdf = 0;
  let j = 0; // largest j with P(B ≤ j − 1) ≤ tail
  for (let k = 0; k <= Math.floor((n - 1) / 2); k++) {
    cdf += Math.exp(logPmf);
    if (cdf > tail) break;
    j = k + 1;
    logPmf += Math.log((n - k) / (k + 1));
  }
  if (j === 0) return [sorted[0]!, sorted[n - 1]!];
  return [sorted[j - 1]!, sorted[n - j]!];
}

export function medianCI(samples: ArrayLike<number>, confidence = 0.95): [number, number] {
  return medianCISorted(sortedCopy(samples), confidence);
}

export interface SampleSummary {
  samples: number;
  mean: number;
  stddev: number;
  /** Coefficient of variation, stddev / mean. */
  cv: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
  /** 95% CI of the median (order-statistic method). */
  ci95: [number, number];
}

export function summarize(samples: ArrayLike<number>): SampleSummary {
  const sorted = sortedCopy(samples);
  const m = mean(sorted);
  const sd = stddev(sorted);
  return {
    samples: sorted.length,
    mean: m,
    stddev: sd,
    cv: m === 0 ? 0 : sd / m,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    p50: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
    p99: quantileSorted(sorted, 0.99),
    ci95: medianCISorted(sorted, 0.95),
  };
}


/** Type-7 median of a multiset given as counts over the positions of `sorted` (n items in all). */
function medianFromCounts(sorted: Float64Array, counts: Uint32Array, n: number): number {
  const rankLo = Math.floor((n - 1) / 2);
  const rankHi = n - 1 - rankLo;
  let seen = 0;
  let lo = NaN;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (Number.isNaN(lo) && seen > rankLo) lo = sorted[i]!;
    if (seen > rankHi) return (lo + sorted[i]!) / 2;
  }
  return lo;
}

/**
 * Median of a resample drawn with replacement from `sorted`. Counting how often each position is
 * drawn and walking the counts finds the middle ranks in O(n) without sorting the resample.
 */
function resampledMedian(sorted: Float64Array, counts: Uint32Array, random: () => number): number {
  const n = sorted.length;
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[Math.floor(random() * n)]!++;
  return medianFromCounts(sorted, counts, n);
}

/** A sample prepared for block resampling: sorted values and each sample's position among them. */
interface Ranked {
  sorted: Float64Array;
  /** rank[i] = position of sample i (measurement order) in `sorted`. */
  rank: Uint32Array;
  blockLength: number;
}

function ranked(samples: ArrayLike<number>, blockLength: number): Ranked {
  const order = Array.from({ length: samples.length }, (_, i) => i).sort((x, y) => samples[x]! - samples[y]!);
  const sorted = new Float64Array(samples.length);
  const rank = new Uint32Array(samples.length);
  order.forEach((sampleIndex, position) => {
    sorted[position] = samples[sampleIndex]!;
    rank[sampleIndex] = position;
  });
  return { sorted, rank, blockLength };
}

/** Median of the resample made of block k taken multiplicity[k] times, for every k. */
function blockResampledMedian(r: Ranked, multiplicity: Uint32Array, counts: Uint32Array): number {
  counts.fill(0);
  for (let k = 0; k < multiplicity.length; k++) {
    const m = multiplicity[k]!;
    if (m === 0) continue;
    for (let i = k * r.blockLength; i < (k + 1) * r.blockLength; i++) counts[r.rank[i]!]! += m;
  }
  return medianFromCounts(r.sorted, counts, r.sorted.length);
}

export interface BootstrapOptions {
  /** Bootstrap resamples; 2000 by default. */
  resamples?: number;
  /** 0.95 by default. */
  confidence?: number;
  /** Required: the same seed and samples always give the same interval. */
  seed: number;
  /**
   * Paired block resampling: a and b are cut into consecutive blocks of these lengths (both must
   * divide evenly into the same number of blocks), and each resample draws block indices with
   * replacement, the same indices for a and b. For interleaved measurements a block is one round's
   * burst: samples inside a burst share the machine's momentary state, so they are not independent,
   * and the two bursts of a round ran back to back, so drawing them together keeps what the
   * interleaving cancelled cancelled.
   */
  blocks?: { a: number; b: number };
}

export interface RatioCI {
  /** median(b) / median(a) on the samples as measured. */
  ratio: number;
  /** Percentile bootstrap interval of that ratio. */
  ci: [number, number];
}

/**
 * Confidence interval of median(b) / median(a) by the percentile bootstrap. Without `blocks`, a and b
 * are resampled independently, sample by sample; with `blocks`, by paired blocks (see BootstrapOptions).
 * The interval is read off the sorted resampled ratios at (1 ± confidence) / 2 with type-7 interpolation.
 */
export function bootstrapRatioCI(a: ArrayLike<number>, b: ArrayLike<number>, opts: BootstrapOptions): RatioCI {
  if (a.length === 0 || b.length === 0) throw new RangeError('bootstrapRatioCI needs samples on both sides');
  const resamples = opts.resamples ?? 2000;
  const confidence = opts.confidence ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence ${confidence} is outside (0, 1)`);
  const random = seededRandom(opts.seed);
  const ratios = new Float64Array(resamples);
  let ratio: number;
  if (opts.blocks) {
    const { a: la, b: lb } = opts.blocks;
    const blocks = a.length / la;
    if (!(Number.isInteger(la) && Number.isInteger(lb) && la > 0 && lb > 0 && Number.isInteger(blocks) && b.length / lb === blocks)) {
      throw new RangeError(`blocks of ${la} and ${lb} do not cut ${a.length} and ${b.length} samples into the same number of blocks`);
    }
    const ra = ranked(a, la);
    const rb = ranked(b, lb);
    ratio = quantileSorted(rb.sorted, 0.5) / quantileSorted(ra.sorted, 0.5);
    const multiplicity = new Uint32Array(blocks);
    const countsA = new Uint32Array(a.length);
    const countsB = new Uint32Array(b.length);
    for (let r = 0; r < resamples; r++) {
      multiplicity.fill(0);
      for (let k = 0; k < blocks; k++) multiplicity[Math.floor(random() * blocks)]!++;
      ratios[r] = blockResampledMedian(rb, multiplicity, countsB) / blockResampledMedian(ra, multiplicity, countsA);
    }
  } else {
    const sa = sortedCopy(a);
    const sb = sortedCopy(b);
    ratio = quantileSorted(sb, 0.5) / quantileSorted(sa, 0.5);
    const countsA = new Uint32Array(sa.length);
    const countsB = new Uint32Array(sb.length);
    for (let r = 0; r < resamples; r++) {
      const ma = resampledMedian(sa, countsA, random);
      const mb = resampledMedian(sb, countsB, random);
      ratios[r] = mb / ma;
    }
  }
  ratios.sort();
  const tail = (1 - confidence) / 2;
  return { ratio, ci: [quantileSorted(ratios, tail), quantileSorted(ratios, 1 - tail)] };
}

export type LatencyVerdict = 'significant regression' | 'within noise' | 'significant improvement';

/**
 * Verdict on a candidate/reference latency ratio with tolerance `threshold` (≥ 1, e.g. 1.10):
 *   - 'significant regression' when the whole CI lies above threshold (lo > threshold): even the
 *     most favourable reading of the data is slower than the tolerance allows;
 *   - 'significant improvement' when the whole CI lies below 1 / threshold (hi < 1 / threshold):
 *     the same bar mirrored, so a 10% tolerance means "faster by more than 1.1×";
 *   - 'within noise' otherwise, which includes a CI that straddles a bound.
 * Why the whole CI and not the point estimate: a shared CI runner's noise easily moves a median
 * by several percent, and a gate that fails a PR must be right when it does. A change the data
 * cannot separate from the tolerance gets the benefit of the doubt; the report still shows the
 * ratio and its interval. The bounds are strict, so threshold 1 means "any change the CI excludes".
 * `ratio` is the point estimate: it is checked to be finite, and the verdict rests on the interval alone.
 */
export function latencyVerdict(ci: readonly [number, number], ratio: number, threshold: number): LatencyVerdict {
  const [lo, hi] = ci;
  if (!(threshold >= 1) || !Number.isFinite(threshold)) throw new RangeError(`latency threshold must be a finite ratio ≥ 1, got ${threshold}`);
  if (!(lo <= hi)) throw new RangeError(`latency CI [${lo}, ${hi}] is not an interval`);
  if (!Number.isFinite(ratio)) throw new RangeError(`latency ratio ${ratio} is not finite`);
  if (lo > threshold) return 'significant regression';
  if (hi < 1 / threshold) return 'significant improvement';
  return 'within noise';
}

/** median(|x|) of a normal with mean 0 is 0.6745σ (the normal's 75th percentile). */
const HALF_NORMAL_MEDIAN = 0.6745;

/**
 * The spread σ (log scale, about relative) between two workers running the same model, from the A/A
 * controls of a run: each control_k = log(second worker / first) on the baseline's own file, a draw of
 * what a candidate that runs just like the baseline reads (mean 0). Estimated as median(|control_k|) /
 * 0.6745, so that one grossly wrong measurement among three (about one in 40 on a shared 2-core runner,
 * docs/benchmarks.md) does not set it. Undefined without a finite control.
 */
export function workerSpread(controls: readonly number[]): number | undefined {
  const e = controls.map((c) => Math.abs(Math.log(c))).filter(Number.isFinite);
  if (e.length === 0) return undefined;
  return median(e) / HALF_NORMAL_MEDIAN;
}

/**
 * The combined ratio's CI widened by the worker spread σ. A bootstrap resamples the rounds of the two
 * workers it has and cannot see how far another pair of workers would read (its CIs are 0.006–0.013
 * wide here, while two workers running the same file read 0.955–1.055 apart). The combined ratio is the
 * median of M measurements with fresh workers each, whose worker effect has a standard deviation of
 * about σ·√(π / 2M) (the asymptotic variance of a median of normals, π/2 · σ²/M; at M = 3 the exact
 * factor is 1.35, so this errs wide). That effect's 1.96 standard deviations add to the bootstrap's
 * half-widths in quadrature, on the log scale.
 */
export function widenByWorkerSpread(ratio: number, ci: readonly [number, number], sigma: number, measurements: number): [number, number] {
  const z = 1.96 * sigma * Math.sqrt(Math.PI / (2 * Math.max(1, measurements)));
  const lo = Math.log(ratio / ci[0]);
  const hi = Math.log(ci[1] / ratio);
  return [ratio * Math.exp(-Math.hypot(Math.max(0, lo), z)), ratio * Math.exp(Math.hypot(Math.max(0, hi), z))];
}
