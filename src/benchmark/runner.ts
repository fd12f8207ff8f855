/**
 * Interleaved latency measurement. Each model runs in its own worker process; only one worker
 * runs at a time, and the models take turns in short bursts (A B, B A, A B, ...) so that slow
 * drift of a shared runner (thermal state, noisy neighbours, frequency scaling) lands on all of
 * them alike instead of on whichever model happened to be measured last.
 */
import type { Feeds } from '../model/host-tensor.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { RuntimeKind } from '../runtime/kind.js';
import { ModelGateError } from '../errors.js';
import { bootstrapRatioCI, latencyVerdict, median, medianCISorted, quantileSorted, sortedCopy, summarize, widenByWorkerSpread, workerSpread, type LatencyVerdict } from './stats.js';
import { BenchmarkWorker, benchmarkWorkerEntry, type WorkerEntry } from './worker-client.js';

export interface BenchmarkModel {
  id: string;
  path: string;
  runtime: RuntimeOptions;
  /** Feeds for this model only, when its inputs differ from the shared ones. */
  feeds?: Feeds;
  /** The runtime that runs the model: 'onnxruntime' by default; 'tflite' for .tflite files (intraOpThreads = its threads). */
  runtimeKind?: RuntimeKind;
}

export interface MeasureOptions {
  /** Items per run (the batch dimension of the feeds): for throughput. */
  batch: number;
  /** Warm-up runs per model before the stability check starts; 5 by default. */
  warmupMin?: number;
  /** Stop once every model's median 95% CI lies within ±ciWidth of its median; 0.02 by default. */
  ciWidth?: number;
  /** Wall-clock budget for warm-up and rounds (not worker start or model load), ms; 30 000 by default. */
  timeBudgetMs?: number;
  /** Fewest timed samples per model before the CI may stop measuring; 30 by default. */
  minSamples?: number;
  rounds?: {
    /** Runs per model per round; by default sized so one burst takes about 25 ms (1..200 runs). */
    burst?: number;
    /**
     * Fewest rounds before the CI may stop measuring; 20 by default. A fast model reaches a narrow
     * CI within one burst, and one burst per model is not interleaving; compareLatency also
     * resamples whole rounds, which needs a fair number of them.
     */
    min?: number;
    /** Round cap; reaching it counts as running out of budget. 100 000 by default. */
    max?: number;
  };
  /** Stop (as a budget stop) once a model has this many samples; 100 000 by default, which bounds report size and bootstrap time. */
  maxSamples?: number;
  /** Override where the worker script is (tests, unusual layouts). */
  workerEntry?: WorkerEntry;
  /** Most worker processes alive at once; MAX_LIVE_WORKERS by default. */
  maxWorkers?: number;
}

/**
 * Worker processes alive at once. Each holds Node, a runtime and a session (100–300 MB measured
 * here for small models), and a config's candidate list comes from the PR: without a cap, 200
 * candidates started 200 workers and passed 5 GB. More models than this are measured in groups.
 */
export const MAX_LIVE_WORKERS = 12;

export interface LatencyStats {
  batch: number;
  threads: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  mean_ms: number;
  stddev_ms: number;
  cv: number;
  samples: number;
  /** 95% CI of the median (order statistics). */
  ci95_ms: [number, number];
  /** batch / mean latency: the steady rate of one session running back to back. */
  throughput_items_per_s: number;
  /** Session create + first run in a fresh worker, onnxruntime already loaded. */
  cold_start_ms: number;
  /** Peak RSS of the model's worker process (node + onnxruntime + the session). */
  peak_rss_bytes: number;
  /** Every timed sample, in measurement order: `rounds` bursts of `burst` samples. */
  raw_ms: number[];
  /** Samples per round (the same in every round). */
  burst: number;
  /**
   * When there were more models than live workers: the first model's stats from the same group,
   * measured interleaved with this one (compare against these, not the first group's).
   */
  anchor?: LatencyStats;
  /** 'ci' when the median CI reached the requested width, else 'budget' (time or round cap). */
  stopped_by: 'ci' | 'budget';
  /** Providers actually used: the requested ones, or ['cpu'] after a fallback. */
  executionProviders: string[];
  fallback_reason?: string;
  warmup_runs: number;
  rounds: number;
}

export interface MeasureProgress {
  phase: 'load' | 'warmup' | 'measure' | 'done';
  id?: string;
  round: number;
  samples: Record<string, number>;
  elapsedMs: number;
  budgetMs: number;
}

export type ProgressListener = (message: string, progress: MeasureProgress) => void;

const WARMUP_BLOCK_MS = 50;
/** A warm-up block whose median is no more than this much faster than the previous block's ends warm-up. */
const WARMUP_TOLERANCE = 0.03;
const BURST_MS = 25;
const PROGRESS_EVERY_MS = 5000;

interface Subject {
  model: BenchmarkModel;
  worker: BenchmarkWorker;
  coldStartMs: number;
  executionProviders: string[];
  fallbackReason?: string;
  warmupRuns: number;
  burst: number;
  samples: number[];
  peakRss: number;
  /** Sample count at the last CI check, to re-sort only after meaningful growth. */
  checkedAt: number;
  converged: boolean;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** Relative half-width of the median CI: max(median − lo, hi − median) / median. */
function ciHalfWidth(samples: readonly number[]): number {
  const sorted = sortedCopy(samples);
  const m = quantileSorted(sorted, 0.5);
  const [lo, hi] = medianCISorted(sorted);
  return m > 0 ? Math.max(m - lo, hi - m) / m : Infinity;
}

/**
 * Measures every model with the same feeds and returns stats by id. Worker processes are started
 * and loaded one after another up front (so cold starts do not compete), warmed up one at a time,
 * then measured in rotating rounds until each model's median CI is within `ciWidth`
 * (with at least `minSamples` samples) or the time budget runs out.
 */
export async function measureInterleaved(
  models: BenchmarkModel[],
  feeds: Feeds,
  opts: MeasureOptions,
  onProgress?: ProgressListener,
): Promise<Map<string, LatencyStats>> {
  if (models.length === 0) return new Map();
  const ids = new Set(models.map((m) => m.id));
  if (ids.size !== models.length) throw new ModelGateError(`benchmark: model ids must be unique, got ${models.map((m) => m.id).join(', ')}`);
  const maxWorkers = Math.floor(opts.maxWorkers ?? MAX_LIVE_WORKERS);
  if (!(maxWorkers >= 2)) throw new RangeError(`maxWorkers must be at least 2, got ${opts.maxWorkers}`);
  if (models.length <= maxWorkers) return measureGroup(models, feeds, opts, onProgress);
  // Too many for one group: the first model (the reference) joins every group, so each model is
  // still measured interleaved with it, and at most maxWorkers processes are alive at any time.
  const [anchor, ...rest] = models as [BenchmarkModel, ...BenchmarkModel[]];
  const out = new Map<string, LatencyStats>();
  for (let i = 0; i < rest.length; i += maxWorkers - 1) {
    const group = [anchor, ...rest.slice(i, i + maxWorkers - 1)];
    onProgress?.(`benchmark: group ${i / (maxWorkers - 1) + 1} of ${Math.ceil(rest.length / (maxWorkers - 1))} (${group.length} models, at most ${maxWorkers} workers at once)`, {
      phase: 'load', round: 0, samples: {}, elapsedMs: 0, budgetMs: opts.timeBudgetMs ?? 30_000,
    });
    const stats = await measureGroup(group, feeds, opts, onProgress);
    const anchorStats = stats.get(anchor.id)!;
    if (!out.has(anchor.id)) out.set(anchor.id, anchorStats);
    for (const m of group.slice(1)) out.set(m.id, { ...stats.get(m.id)!, anchor: anchorStats });
  }
  return out;
}

async function measureGroup(
  models: BenchmarkModel[],
  feeds: Feeds,
  opts: MeasureOptions,
  onProgress?: ProgressListener,
): Promise<Map<string, LatencyStats>> {
  if (!(opts.batch > 0)) throw new RangeError(`benchmark batch must be positive, got ${opts.batch}`);
  if (opts.ciWidth !== undefined && !(opts.ciWidth >= 0)) throw new RangeError(`ciWidth must be ≥ 0, got ${opts.ciWidth}`);
  const warmupMin = Math.max(1, Math.floor(opts.warmupMin ?? 5));
  const ciWidth = opts.ciWidth ?? 0.02;
  const budgetMs = opts.timeBudgetMs ?? 30_000;
  const minSamples = Math.max(2, Math.floor(opts.minSamples ?? 30));
  const maxRounds = opts.rounds?.max ?? 100_000;
  const minRounds = Math.min(opts.rounds?.min ?? 20, maxRounds);
  const maxSamples = opts.maxSamples ?? 100_000;
  const entry = opts.workerEntry ?? benchmarkWorkerEntry();

  const subjects: Subject[] = [];
  let round = 0;
  let start = performance.now();
  const progress = (phase: MeasureProgress['phase'], message: string, id?: string): void => {
    if (!onProgress) return;
    const samples = Object.fromEntries(subjects.map((s) => [s.model.id, s.samples.length]));
    onProgress(message, { phase, id, round, samples, elapsedMs: performance.now() - start, budgetMs });
  };

  try {
    for (const model of models) {
      progress('load', `benchmark: loading ${model.id}`, model.id);
      const worker = await BenchmarkWorker.start(model.id, entry, model.runtimeKind);
      // Registered before load so that a failing load still closes this worker below.
      const subject: Subject = {
        model, worker, coldStartMs: 0, executionProviders: [], warmupRuns: 0, burst: 1, samples: [], peakRss: 0, checkedAt: 0, converged: false,
      };
      subjects.push(subject);
      const loaded = await worker.load(model.path, model.runtime, model.feeds ?? feeds, model.runtimeKind);
      subject.coldStartMs = loaded.coldStartMs;
      subject.executionProviders = loaded.executionProviders;
      if (loaded.fallbackReason) {
        subject.fallbackReason = loaded.fallbackReason;
        progress('load', `benchmark: ${model.id}: ${loaded.fallbackReason}`, model.id);
      }
    }

    start = performance.now();
    // Warm-up may take at most half the budget, shared between the models.
    const warmupCapMs = budgetMs / 2 / subjects.length;
    for (const s of subjects) {
      progress('warmup', `benchmark: warming up ${s.model.id}`, s.model.id);
      const typical = await warmUp(s, warmupMin, warmupCapMs);
      s.burst = opts.rounds?.burst ?? clamp(Math.round(BURST_MS / Math.max(typical, 1e-3)), 1, 200);
    }

    let stoppedByCi = false;
    let lastReport = performance.now();
    while (round < maxRounds) {
      for (let k = 0; k < subjects.length; k++) {
        const s = subjects[(round + k) % subjects.length]!;
        const ran = await s.worker.run(s.burst);
        for (const d of ran.durationsMs) s.samples.push(d);
        s.peakRss = Math.max(s.peakRss, ran.peakRssBytes);
      }
      round++;
      for (const s of subjects) {
        // Sorting for the CI costs O(n log n): redo it only once the sample grew by 5%.
        if (s.samples.length >= minSamples && s.samples.length >= s.checkedAt * 1.05) {
          s.converged = ciHalfWidth(s.samples) <= ciWidth;
          s.checkedAt = s.samples.length;
        }
      }
      if (round >= minRounds && subjects.every((s) => s.converged)) {
        stoppedByCi = true;
        break;
      }
      if (performance.now() - start >= budgetMs) break;
      if (subjects.some((s) => s.samples.length >= maxSamples)) break;
      if (performance.now() - lastReport >= PROGRESS_EVERY_MS) {
        lastReport = performance.now();
        progress('measure', `benchmark: round ${round}, ${subjects.map((s) => `${s.model.id} ${s.samples.length}`).join(', ')} samples`);
      }
    }
    progress('done', `benchmark: ${round} rounds, stopped by ${stoppedByCi ? 'CI width' : 'budget'}`);

    const out = new Map<string, LatencyStats>();
    for (const s of subjects) {
      // Final verdict on convergence uses every sample, not the last periodic check.
      const converged = round >= minRounds && s.samples.length >= minSamples && ciHalfWidth(s.samples) <= ciWidth;
      out.set(s.model.id, latencyStats(s, opts.batch, converged ? 'ci' : 'budget', round));
    }
    return out;
  } finally {
    await Promise.all(subjects.map((s) => s.worker.close()));
  }
}

/**
 * Runs `warmupMin` untimed-for-the-report runs, then blocks of about 50 ms until a block's median is
 * no longer faster than the previous one's by more than 3% (caches, allocator arenas and thread
 * pools have settled), or the time cap is reached. Only a drop counts as drift: noise in either
 * direction would otherwise keep a stable model warming up forever. Returns the last block median.
 */
async function warmUp(s: Subject, warmupMin: number, capMs: number): Promise<number> {
  const t0 = performance.now();
  const first = await s.worker.run(warmupMin);
  s.warmupRuns += warmupMin;
  s.peakRss = Math.max(s.peakRss, first.peakRssBytes);
  let previous = median(first.durationsMs);
  while (performance.now() - t0 < capMs) {
    const block = clamp(Math.ceil(WARMUP_BLOCK_MS / Math.max(previous, 1e-3)), 5, 1000);
    const ran = await s.worker.run(block);
    s.warmupRuns += block;
    s.peakRss = Math.max(s.peakRss, ran.peakRssBytes);
    const current = median(ran.durationsMs);
    const settled = current >= previous * (1 - WARMUP_TOLERANCE);
    previous = current;
    if (settled) break;
  }
  return previous;
}

function latencyStats(s: Subject, batch: number, stoppedBy: 'ci' | 'budget', rounds: number): LatencyStats {
  const sum = summarize(s.samples);
  const stats: LatencyStats = {
    batch,
    threads: s.model.runtime.intraOpThreads ?? 1,
    p50_ms: sum.p50,
    p90_ms: sum.p90,
    p99_ms: sum.p99,
    mean_ms: sum.mean,
    stddev_ms: sum.stddev,
    cv: sum.cv,
    samples: sum.samples,
    ci95_ms: sum.ci95,
    throughput_items_per_s: sum.mean > 0 ? (batch * 1000) / sum.mean : 0,
    cold_start_ms: s.coldStartMs,
    peak_rss_bytes: s.peakRss,
    raw_ms: s.samples,
    burst: s.burst,
    stopped_by: stoppedBy,
    executionProviders: s.executionProviders,
    warmup_runs: s.warmupRuns,
    rounds,
  };
  if (s.fallbackReason) stats.fallback_reason = s.fallbackReason;
  return stats;
}

/** What a comparison reads of a measurement: every sample, cut into `rounds` bursts of `burst`. */
export type RoundSamples = Pick<LatencyStats, 'raw_ms' | 'burst' | 'rounds'>;

/** The id of a baseline's second worker, the A/A control. */
export const controlId = (baselineId: string): string => `${baselineId}~control`;

/**
 * The models to measure with the A/A controls added: each model named in `controls` again, as its own
 * file in a worker of its own, right after it (so the first model's control is in the first group when
 * there are more models than live workers). One measurement has nothing to estimate a spread from but
 * itself, so a single measurement gets no control.
 */
export function withControls<M extends { id: string }>(models: readonly M[], controls: readonly string[] | undefined, measurements: number): M[] {
  const controlled = new Set(measurements >= 2 && models.length >= 2 ? controls ?? [] : []);
  return models.flatMap((m) => (controlled.has(m.id) ? [m, { ...m, id: controlId(m.id) }] : [m]));
}

/**
 * The A/A control's reading: the baseline's second worker against its first, p50 over p50 (the ratio
 * compareLatency reports; only its value is used, so no bootstrap is drawn for it).
 */
export function controlRatio(first: Pick<LatencyStats, 'p50_ms'>, second: Pick<LatencyStats, 'p50_ms'>): number {
  return second.p50_ms / first.p50_ms;
}

export interface LatencyComparison {
  /** median(candidate) / median(reference). */
  ratio: number;
  /** 95% percentile-bootstrap CI of that ratio. */
  ci95: [number, number];
  verdict: LatencyVerdict;
  /** How the bootstrap resampled: whole rounds, paired (interleaved stats), or single samples (anything else). */
  resampling: 'paired rounds' | 'independent samples';
}

/**
 * Candidate vs reference: bootstrap CI of the median ratio and its verdict at `threshold` (see
 * latencyVerdict). Stats from the same measureInterleaved call (same round count) are resampled by
 * paired rounds, which keeps a burst disturbed by a neighbour process from passing for a real
 * difference: on a loaded 2-core machine, A/A runs resampled sample by sample gave CIs like
 * [1.061, 1.074], and by paired rounds [1.018, 1.364].
 */
export function compareLatency(ref: RoundSamples, cand: RoundSamples, threshold: number, seed: number): LatencyComparison {
  const paired = ref.rounds >= 2 && ref.rounds === cand.rounds && ref.raw_ms.length === ref.rounds * ref.burst && cand.raw_ms.length === cand.rounds * cand.burst;
  const { ratio, ci } = bootstrapRatioCI(ref.raw_ms, cand.raw_ms, { seed, ...(paired ? { blocks: { a: ref.burst, b: cand.burst } } : {}) });
  return { ratio, ci95: ci, verdict: latencyVerdict(ci, ratio, threshold), resampling: paired ? 'paired rounds' : 'independent samples' };
}

export interface RepeatedComparison extends LatencyComparison {
  /** Independent interleaved measurements combined (fresh workers each). */
  measurements: number;
  runs: Array<Pick<LatencyComparison, 'ratio' | 'ci95' | 'verdict'>>;
  /** Index of the measurement whose ratio is the median: its stats are the ones to report. */
  central: number;
  /**
   * The A/A control, when each measurement timed the baseline in a second worker: that worker against
   * the first, per measurement (what two copies of one model read apart), and the worker-to-worker
   * spread σ estimated from them (see workerSpread).
   */
  control?: { ratios: number[]; worker_sigma: number };
}

/**
 * Several independent measurements of the same pair → one verdict. About one interleaved measurement
 * in 40 on a shared 2-core runner comes out grossly wrong, with a tight CI (0.62× for a model 9% slower)
 * or one too wide to decide; taking the median ratio and the medians of the CI bounds makes the verdict
 * the majority's, wrong only when two of three are.
 */
export function combineComparisons(each: readonly LatencyComparison[], threshold: number, controls?: readonly number[]): RepeatedComparison {
  if (each.length === 0) throw new Error('combineComparisons: no measurement');
  const ratio = median(each.map((e) => e.ratio));
  const order = each.map((e, i) => [e.ratio, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const central = order[(order.length - 1) >> 1]![1];
  let ci95: [number, number] = [median(each.map((e) => e.ci95[0])), median(each.map((e) => e.ci95[1]))];
  // With an A/A control per measurement, the interval also spans the worker spread the controls show.
  const sigma = controls && controls.length === each.length ? workerSpread(controls) : undefined;
  if (sigma !== undefined) ci95 = widenByWorkerSpread(ratio, ci95, sigma, each.length);
  return {
    ratio, ci95, verdict: latencyVerdict(ci95, ratio, threshold), resampling: each[central]!.resampling,
    measurements: each.length, runs: each.map((e) => ({ ratio: e.ratio, ci95: e.ci95, verdict: e.verdict })), central,
    ...(sigma !== undefined && controls ? { control: { ratios: [...controls], worker_sigma: sigma } } : {}),
  };
}
