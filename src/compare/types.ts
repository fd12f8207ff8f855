/**
 * The parts of report.json (v1) that `modelgate compare` adds. The head's own run report is the
 * body (candidates, selected, hardware, ...), so a reader of `run` reports can read a compare report.
 */
import type { CheckResult, Report } from '../report/types.js';
import type { LatencyVerdict } from '../benchmark/stats.js';

/** One model's numbers, as measured for the comparison. */
export interface SideMetrics {
  /** The candidate id on that side ('reference' is the repo's model itself). */
  candidate: string;
  bytes: number;
  /** The model file gzip-compressed (level 9), from the side's pipeline run; null when unknown. */
  gzip_bytes: number | null;
  accuracy: number | null;
  mse: number | null;
  p50_ms: number | null;
  p90_ms: number | null;
  p99_ms: number | null;
  throughput_items_per_s: number | null;
  cold_start_ms: number | null;
  peak_rss_bytes: number | null;
  samples: number | null;
}

export interface LatencyDelta {
  /** median(head) / median(base). */
  ratio: number;
  ci95: [number, number];
  verdict: LatencyVerdict;
  /** The ratio the verdict was taken against: the head config's latency_ratio_max, or the default. */
  threshold: number;
  /**
   * 'paired rounds': base and head measured interleaved in this job and resampled round by round;
   * 'independent samples': interleaved but not round-aligned; 'separate reports': two reports
   * produced elsewhere, with a conservative CI from their two median CIs.
   */
  method: 'paired rounds' | 'independent samples' | 'separate reports';
  /** False when the verdict is reported but not gated (no latency budget, different hardware). */
  gated: boolean;
  /**
   * Independent interleaved measurements (fresh worker processes each). `ratio` is the median of
   * their ratios and `ci95` the medians of their bounds, so the verdict is the majority verdict.
   */
  measurements?: number;
  runs?: Array<{ ratio: number; ci95: [number, number]; verdict: LatencyVerdict }>;
}

export interface PairComparison {
  /** 'reference': the repo's model on both sides. 'selected': each side's selected candidate. */
  id: 'reference' | 'selected';
  base: SideMetrics;
  head: SideMetrics;
  /** head − base; null where either side has no value. */
  delta: {
    bytes: number;
    gzip_bytes: number | null;
    accuracy: number | null;
    mse: number | null;
    p50_ms: number | null;
    p90_ms: number | null;
    p99_ms: number | null;
    throughput_items_per_s: number | null;
    cold_start_ms: number | null;
    peak_rss_bytes: number | null;
  };
  /** Top-1 agreement of head's outputs with base's on the head's dataset, 0..1, or null. */
  agreement: number | null;
  /** True when both models were evaluated on the head's dataset (accuracy deltas are on the same data). */
  same_data: boolean;
  latency: LatencyDelta | null;
  checks: CheckResult[];
}

export interface CompareCheck extends CheckResult {
  /** The pair the check is about, or 'head' for the head's own gate. */
  subject: 'reference' | 'selected' | 'head';
}

export interface BaseSide {
  /** The ref as given (--base), or the base report's path. */
  ref: string;
  /** The merge base that was read; null for --base-report. */
  sha: string | null;
  /** The tip of `ref`. */
  ref_sha?: string;
  /** Set when the base has no config or model: the compare ran against nothing. */
  missing?: string;
  /** The base's own gate run: did it pass, what did it select, its error if it failed to run. */
  passed?: boolean;
  selected?: string | null;
  error?: string;
  candidates?: Array<{ id: string; bytes: number; accuracy: number | null; p50_ms: number | null }>;
  /** Only for --base-report: where the base was measured. */
  hardware?: Report['hardware'];
  /** Depth fetched to find the merge base in a shallow clone, when a fetch was needed. */
  fetched_depth?: number | null;
}

export interface HeadSide {
  sha: string | null;
  /** The head's own gate. */
  passed: boolean;
  selected: string | null;
}

export interface CompareFields {
  mode: 'compare';
  base: BaseSide;
  head: HeadSide;
  comparison: PairComparison[];
  checks: CompareCheck[];
  warnings: string[];
  /** Seconds for the whole compare (extraction, both pipelines, interleaved measurement). */
  duration_s?: number;
}

export type CompareReport = Report & CompareFields;
