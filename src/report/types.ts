/**
 * report.json, version 2: the one definition. schema/report.schema.json is generated from these types
 * (`npm run schema`; a test keeps the two equal), and artifacts from other jobs are validated against it
 * (src/publish/untrusted.ts). Field by field: docs/report.md.
 */
import type { HardwareFingerprint } from '../benchmark/hardware.js';
import type { DecoderLatencySummary } from '../benchmark/decoder.js';
import type { LatencyVerdict } from '../benchmark/stats.js';
import type { AutoReport } from '../candidates/search-report.js';
import type { TfliteCandidateInfo } from '../candidates/tflite-export.js';
import type { AppliedBudget, CheckResult } from '../gate/rules.js';
import type { ExportResult } from '../import/export-command.js';
import type { ModelSource, TfjsExportReport } from '../import/index.js';
import type { AssumedInput } from '../model/io.js';
import type { RuntimeKind } from '../runtime/kind.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { TfliteRuntimeInfo } from '../runtime/tflite.js';
import type { Metric, SelectRule } from '../config/types.js';
import type { PassNote } from '../passes/pass.js';
import type { RecoveryNote } from '../passes/recover.js';
import type { FinetuneNote } from '../passes/pass.js';

export type { CheckResult };

export const REPORT_SCHEMA_VERSION = 2;

/** Where it was measured: cpu, cores, arch and os always, the rest when known (src/benchmark/hardware.ts). */
export interface ReportHardware {
  cpu: string;
  cores: number;
  arch: string;
  os: string;
  memory_bytes?: number;
  isa?: Partial<Record<keyof HardwareFingerprint['isa'], boolean | null>>;
  isa_source?: HardwareFingerprint['isa_source'];
  node?: string;
  onnxruntime?: string;
}

export interface LatencyResult {
  /** @minimum 0 */
  batch: number;
  /** @minimum 0 */
  threads: number;
  /** @minimum 0 */
  p50_ms: number;
  /** @minimum 0 */
  p90_ms: number;
  /** @minimum 0 */
  p99_ms: number;
  /** @minimum 0 */
  samples: number;
  mean_ms?: number;
  stddev_ms?: number;
  cv?: number;
  /** 95% CI of the median (order statistics). */
  ci95_ms?: [number, number];
  throughput_items_per_s?: number;
  cold_start_ms?: number;
  peak_rss_bytes?: number;
  /** Latency percentiles for the comment's chart: p10 … p99. */
  percentiles_ms?: Record<string, number>;
  /** Against the reference: median ratio of the interleaved measurements, its bootstrap CI (widened by the A/A control's worker spread) and verdict. */
  ratio?: number;
  ratio_ci95?: [number, number];
  verdict?: LatencyVerdict;
  measurements?: number;
  /**
   * The A/A control: the baseline timed in a second worker in each measurement, that worker against
   * the first (what two copies of one model read apart on this runner), and the spread σ (relative)
   * between two workers estimated from them (median |log ratio| / 0.6745). The CI spans its effect.
   */
  control?: { ratios: number[]; worker_sigma: number };
}

export interface CandidateReport {
  id: string;
  recipe: unknown[];
  /** Relative to the out dir; '' when the build failed. */
  file: string;
  /** @minimum 0 */
  bytes: number;
  /** The model file(s) gzip-compressed at level 9. */
  gzip_bytes?: number;
  /**
   * 0..1, or null without labels (or for mse).
   * @minimum 0
   * @maximum 1
   */
  accuracy: number | null;
  /**
   * Top-1 agreement with the reference's outputs, 0..1, or null.
   * @minimum 0
   * @maximum 1
   */
  agreement: number | null;
  mse?: number;
  mae?: number;
  /** Macro F1 (metric f1_macro; `accuracy` holds the same figure). */
  f1_macro?: number;
  latency: LatencyResult | null;
  checks: CheckResult[];
  runtime_kind?: RuntimeKind;
  /** Session options the candidate needs: measured with them, shipped with them. */
  runtime_options?: RuntimeOptions;
  /** A .tflite candidate's export facts, or how TFLite runs a .tflite reference. */
  tflite?: TfliteCandidateInfo | { runtime: TfliteRuntimeInfo };
  tfjs?: { runtime: string; quantize: string };
  /** What the auto search tried and why it chose this recipe. */
  auto?: AutoReport;
  /** Byte for byte the reference: reported, not a separate candidate. */
  unchanged?: boolean;
  /** Each pass of the recipe: whether it changed the model, and why not when it did not. */
  pass_notes?: PassNote[];
  /** prune/lowrank with `recover`: per re-fitted layer, the relative output error before and after, and the time it took. */
  recovery?: RecoveryNote[];
  /** prune/lowrank with `finetune`: how the changed model was trained (loss, epochs, samples, the TF.js runtime, the time). */
  finetune?: FinetuneNote[];
  /** Numerical fidelity against the reference on every output (every candidate but the reference). */
  fidelity?: FidelityReport;
  /** Decoders: time to first token and per-token decode latency, and their ratios against the reference. */
  decoder?: DecoderLatencySummary;
  /** Decoders: next-token top-1 agreement and logit fidelity against the reference on seeded prompts. */
  decoder_quality?: DecoderQualityReport;
  error?: string;
}

/** One output's fidelity. `snr_db` is null when the outputs are identical (an infinite SNR). */
export interface OutputFidelityReport {
  name: string;
  cosine: number;
  snr_db: number | null;
  /** @minimum 0 */
  max_abs_error: number;
  /**
   * True for a discrete output: integer or boolean, or computed through a decision on computed values (an
   * index, a comparison such as a peak mask, a rounding). Its SNR counts near-ties broken the other way, so
   * the gate reads the continuous outputs' SNR while there is one; exact_match is its figure.
   */
  discrete?: boolean;
  /**
   * Share of the output's values equal to the reference's; given for discrete outputs.
   * @minimum 0
   * @maximum 1
   */
  exact_match?: number;
  /**
   * What snr_db and cosine were measured on: `output` (the output's values) or `logit`. An output squashed by a
   * Sigmoid or a Softmax (`squash`) is measured on its probabilities and on their logits (the sigmoid inverted on
   * p clamped to [ε, 1 − ε], ε = 2^-24 for float32; a softmax's log-probabilities centred per row); snr_db is
   * the better of output_snr_db and logit_snr_db capped at −20·log10(max_abs_error), and domain says which.
   * Always written; optional so that a report.json written before it was added still validates (read it as `output`).
   */
  domain?: 'output' | 'logit';
  /** The op that squashed the output into probabilities, when one did. */
  squash?: 'sigmoid' | 'softmax';
  /** For a squashed output: the SNR on its probabilities; null when identical. */
  output_snr_db?: number | null;
  /** For a squashed output: the SNR on its logits; null when identical. */
  logit_snr_db?: number | null;
  /**
   * For a discrete output: the decision inputs (FidelityReport.decision_inputs) it was judged through, every
   * one of which was measured in the candidate. Absent when it has none, or when decision_inputs_missing says why not.
   */
  decision_inputs?: string[];
  /** For a discrete output with decision inputs: why they could not stand for it; it is then judged on its own values, as when it has none. */
  decision_inputs_missing?: string;
}

/** A node that reads a decision input where the computation turns discrete. */
export interface DecisionReaderReport {
  /** The node's name; empty for an unnamed node. */
  node: string;
  op_type: string;
  /** Which input of the node the tensor is; -1 when a body (If/Loop/Scan) of the node reads it. */
  input_index: number;
  /** `decision`: the node decides on the tensor (an ArgMax's data, a NonMaxSuppression's scores); `combined`: it combines it with a decision's result (a GatherND of offsets at an argmax). */
  role: 'decision' | 'combined';
}

/**
 * A decision input of a discrete output: a continuous tensor the output is computed from where its computation
 * turns discrete (the heat map an ArgMax reads, the offsets a GatherND picks at the argmax). It is no graph
 * output: both models are run from copies that expose it as one (the model files are unchanged). Its figures
 * are absent when `missing` says why it could not be measured.
 */
export interface DecisionInputFidelityReport {
  /** The reference's tensor. */
  tensor: string;
  readers: DecisionReaderReport[];
  /** The discrete graph outputs it feeds. */
  outputs: string[];
  /** The candidate's tensor it was compared with: the input its reader reads there (`<tensor>_dequantized` after static QDQ), else the same name. */
  candidate_tensor?: string;
  missing?: string;
  cosine?: number;
  /** dB; null when identical. */
  snr_db?: number | null;
  /** @minimum 0 */
  max_abs_error?: number;
  domain?: 'output' | 'logit';
  squash?: 'sigmoid' | 'softmax';
  output_snr_db?: number | null;
  logit_snr_db?: number | null;
}

export interface FidelityReport {
  /** @minimum 0 */
  samples: number;
  /**
   * The judged tensor with the lowest SNR; cosine and snr_db below are its figures. Judged: the continuous
   * outputs; the decision inputs of each discrete output whose decision inputs were all measured; and, when no
   * output is continuous, the discrete outputs themselves, except on synthetic inputs those whose decision
   * inputs stand for them (a near-tie broken the other way on a picture with no peak says nothing).
   */
  worst_output: string;
  /** `decision_input` when worst_output names a tensor of decision_inputs, not a graph output. Absent in reports written before it was added: read it as `output`. */
  worst_kind?: 'output' | 'decision_input';
  cosine: number;
  /** dB, reference as the signal; null when identical. */
  snr_db: number | null;
  /**
   * The largest absolute error over every output.
   * @minimum 0
   */
  max_abs_error: number;
  /** Whether top-1 agreement fits the first output (a class axis); when not, and without labels, the gate reads snr_db. */
  top1_fits: boolean;
  outputs: OutputFidelityReport[];
  /** The discrete outputs' decision inputs, when the reference's graph has any. */
  decision_inputs?: DecisionInputFidelityReport[];
}

export interface DecoderQualityReport {
  /**
   * @minimum 0
   * @maximum 1
   */
  top1_agreement: number;
  /** Mean cosine similarity of the next-token logits. */
  cosine: number;
  /** SNR of the logits, dB; null when identical. */
  snr_db: number | null;
  /** @minimum 0 */
  max_abs_error: number;
  /** @minimum 0 */
  positions: number;
  /** @minimum 0 */
  prompts: number;
  /** @minimum 0 */
  prompt_length: number;
  /** @minimum 0 */
  decode_steps: number;
}

export interface GateReport {
  accuracy_drop_max?: number;
  latency_ratio_max?: number;
  size_bytes_max?: number;
  fidelity_min_snr_db?: number;
  ttft_ratio_max?: number;
  decode_ratio_max?: number;
  select: SelectRule;
  metric: Metric;
  /** Every budget that applied, with where it came from (the config, or the default). */
  budgets?: AppliedBudget[];
}

/**
 * A synthetic input fed as seeded pictures rather than uniform noise (src/data/synthetic-image.ts): its
 * layout, the value range and where the range comes from ('config': inputs.<name>.range; 'dtype': an
 * integer image, 0..255; 'model': the graph's own preprocessing, `why` says which nodes; 'default': [0, 1]).
 */
export interface SyntheticImageReport {
  input: string;
  layout: 'NCHW' | 'NHWC';
  range: [number, number];
  range_from: 'config' | 'dtype' | 'model' | 'default';
  why?: string;
}

export interface Report {
  schemaVersion: 2;
  passed: boolean;
  tool: { name: string; version: string };
  hardware: ReportHardware;
  runtime: { onnxruntime: string; tfjs?: string; tflite?: string };
  reference: string;
  selected: string | null;
  candidates: CandidateReport[];
  /** The config path, relative to the working directory. */
  config?: string;
  /** Set when the run could not run (exit 2). */
  error?: string;
  export?: ExportResult;
  /** A converted source model (Keras, TF.js): its format, layers and numerical check. */
  source?: ModelSource;
  tfjs_export?: TfjsExportReport[];
  /**
   * Input dims (and rank-0 values) that neither the model, the config nor the dataset fixed: ModelGate chose
   * them and checked them by running the reference model once (README.md, "Dimensions the model leaves open").
   * Absent when nothing was assumed.
   */
  inputs_assumed?: AssumedInput[];
  /** The `inputs:` section that pins `inputs_assumed` (present with it). */
  inputs_snippet?: string;
  /** What the candidates were evaluated on, and what calibrating passes learned from (overlapping when there is no `calibration:`). */
  dataset?: { samples: number; labelled: boolean; synthetic: boolean; source?: string; calibration?: { source?: string; overlaps_evaluation: boolean }; synthetic_images?: SyntheticImageReport[] };
  gate?: GateReport;
  /** `modelgate compare` adds these (the head's own run is the rest of the report). */
  mode?: 'compare';
  base?: BaseSide;
  head?: HeadSide;
  comparison?: PairComparison[];
  checks?: CompareCheck[];
  warnings?: string[];
  /** Seconds for the whole compare (extraction, both pipelines, interleaved measurement). */
  duration_s?: number;
}

/** A `modelgate compare` report: a run report with the compare fields present. */
export type CompareReport = Report & Required<Pick<Report, 'mode' | 'base' | 'head' | 'comparison' | 'checks' | 'warnings'>>;

/** One model's numbers, as measured for the comparison. */
export interface SideMetrics {
  /** The candidate id on that side ('reference' is the repo's model itself). */
  candidate: string;
  bytes: number;
  /** The model file gzip-compressed (level 9), from the side's pipeline run; null when unknown. */
  gzip_bytes: number | null;
  accuracy: number | null;
  mse: number | null;
  mae?: number | null;
  p50_ms: number | null;
  p90_ms: number | null;
  p99_ms: number | null;
  throughput_items_per_s: number | null;
  cold_start_ms: number | null;
  peak_rss_bytes: number | null;
  samples: number | null;
  /** Decoders: p50 of one decode step with a KV cache of the prefill's length, ms. */
  decode_ms_per_token?: number | null;
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
  /**
   * The A/A control: the baseline timed in a second worker in each measurement, that worker against
   * the first (what two copies of one model read apart on this runner), and the spread σ (relative)
   * between two workers estimated from them (median |log ratio| / 0.6745). The CI spans its effect.
   */
  control?: { ratios: number[]; worker_sigma: number };
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
  /** Head's fidelity to base on every output, on the head's dataset (when both ran on the same data). */
  fidelity?: FidelityReport;
  /** True when both models were evaluated on the head's dataset (accuracy deltas are on the same data). */
  same_data: boolean;
  /** Head against base: p50 latency, or time to first token for a decoder. */
  latency: LatencyDelta | null;
  /** Decoders: per-token decode time with a KV cache, head against base. */
  decode_latency?: LatencyDelta;
  /** Decoders: head's next-token agreement and logit fidelity against base, on seeded prompts. */
  decoder_quality?: DecoderQualityReport;
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
