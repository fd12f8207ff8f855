/**
 * The measure stage: all models interleaved in `measurements` independent runs (fresh workers each),
 * then each candidate against its baseline in every run, with the median run deciding. `run` measures
 * candidates against the reference, `compare` head against base, the auto search trials against fp32:
 * all three through these two functions.
 */
import type { Feeds } from '../model/host-tensor.js';
import type { RuntimeKind } from '../runtime/kind.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { combineComparisons, compareLatency, controlId, controlRatio, measureInterleaved, withControls, type LatencyStats, type MeasureOptions, type RepeatedComparison } from './runner.js';

/** Seed of the bootstrap CIs; run k of a measurement uses BOOTSTRAP_SEED + k. */
export const BOOTSTRAP_SEED = 20261127;

export interface MeasureSubject {
  id: string;
  file: string;
  runtimeKind: RuntimeKind;
  runtimeOptions: RuntimeOptions;
  /** Feeds for this model only, when its inputs differ from the shared ones. */
  feeds?: Feeds;
}

export interface MeasureSettings {
  batch: number;
  threads: number;
  warmup: number;
  /** Fewest timed samples per model. */
  minSamples: number;
  /** Independent interleaved runs; the median decides. */
  measurements: number;
  /**
   * The ids of the subjects others are compared against: with two or more measurements each is timed
   * in a second worker as well (its A/A control, see withControls), which comparePair reads.
   */
  controls?: readonly string[];
  timeBudgetMs?: number;
  log?: (message: string) => void;
  /** Seconds of the measurement's time budget used so far, of the whole budget. */
  progress?: (step: string, k: number, n: number) => void;
}

/** One interleaved measurement per run, each a map from subject id to its stats. */
export type MeasureRuns = Array<Map<string, LatencyStats>>;

export async function measureRuns(subjects: readonly MeasureSubject[], feeds: Feeds, s: MeasureSettings): Promise<MeasureRuns> {
  const runs: MeasureRuns = [];
  subjects = withControls(subjects, s.controls, s.measurements);
  const options: MeasureOptions = { batch: s.batch, warmupMin: s.warmup, minSamples: s.minSamples, ...(s.timeBudgetMs !== undefined ? { timeBudgetMs: s.timeBudgetMs } : {}) };
  for (let k = 0; k < s.measurements; k++) {
    s.log?.(`benchmark ${subjects.length} models interleaved (batch ${s.batch}, ${s.threads} thread${s.threads > 1 ? 's' : ''}${s.measurements > 1 ? `; measurement ${k + 1} of ${s.measurements}` : ''})`);
    runs.push(await measureInterleaved(
      subjects.map((m) => ({ id: m.id, path: m.file, runtime: { ...m.runtimeOptions, intraOpThreads: s.threads }, runtimeKind: m.runtimeKind, ...(m.feeds ? { feeds: m.feeds } : {}) })),
      feeds, options, (message, p) => {
        s.log?.(message);
        if (p.budgetMs > 0) s.progress?.('benchmark', Math.round(Math.min(p.budgetMs, p.elapsedMs) / 1000), Math.round(p.budgetMs / 1000));
      },
    ));
  }
  return runs;
}

export interface PairMeasurement {
  /** The baseline's and the candidate's stats from the run whose ratio is the median. */
  baseline: LatencyStats;
  candidate: LatencyStats;
  comparison: RepeatedComparison;
}

/**
 * `candidateId` against `baselineId` in every run; undefined when no run measured both. When the runs
 * timed the baseline in a second worker too (MeasureSettings.controls), that worker against the first
 * widens the combined CI by the worker-to-worker spread it shows (combineComparisons).
 */
export function comparePair(runs: MeasureRuns, baselineId: string, candidateId: string, threshold: number): PairMeasurement | undefined {
  const each = runs.flatMap((stats, k) => {
    const c = stats.get(candidateId);
    // More models than live workers are measured in groups that each include the first model: compare
    // against that model as measured in the candidate's own group.
    const b = (c?.anchor && firstId(stats) === baselineId ? c.anchor : undefined) ?? stats.get(baselineId);
    if (!b || !c) return [];
    // The control ran next to the baseline (in the first group, when there were several).
    const a = stats.get(controlId(baselineId));
    const first = stats.get(baselineId);
    return [{ b, c, cmp: compareLatency(b, c, threshold, BOOTSTRAP_SEED + k), control: a && first ? controlRatio(first, a) : undefined }];
  });
  if (each.length === 0) return undefined;
  const controls = each.every((e) => e.control !== undefined) ? each.map((e) => e.control!) : undefined;
  const comparison = combineComparisons(each.map((e) => e.cmp), threshold, controls);
  const central = each[comparison.central]!;
  return { baseline: central.b, candidate: central.c, comparison };
}

/** The first model of a measurement (the anchor of every group). */
function firstId(stats: Map<string, LatencyStats>): string | undefined {
  return stats.keys().next().value;
}

/** A model's own stats across runs: the run with the median p50. */
export function centralStats(runs: MeasureRuns, id: string): LatencyStats | undefined {
  const all = runs.flatMap((stats) => (stats.has(id) ? [stats.get(id)!] : []));
  if (all.length === 0) return undefined;
  const order = all.map((s, i) => [s.p50_ms, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return all[order[(order.length - 1) >> 1]![1]];
}
