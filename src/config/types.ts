/** The validated configuration (modelgate.yml). The JSON Schema in ./schema.ts is the source of truth for its shape. */
export type DType = 'float32' | 'float16' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

export interface InputSpec {
  shape?: number[];
  dtype?: DType;
  /** Synthetic data range; also fixes integer inputs ([16000, 16000] = constant). */
  range?: [number, number];
}

export interface PreprocessSpec {
  scale?: number;
  mean?: number | number[];
  std?: number | number[];
}

export interface DatasetSpec {
  /** .npy | .npz | IDX | .csv | .jsonl; one of `inputs` and `images` is set. */
  inputs?: string;
  /** A labels file (.npy or IDX), one row per sample. */
  labels?: string;
  /** The label's CSV column, JSON Lines key or .npz array name, in the inputs file. */
  label?: string;
  /** CSV: the columns feeding the input, in order, or the columns per model input. */
  features?: string[] | Record<string, string[]>;
  /** An image folder, one subfolder per class. */
  images?: string;
  /** Class order for an image folder (default: sorted folder names). */
  classes?: string[];
  limit?: number;
  preprocess?: PreprocessSpec;
}

/** One pass in a recipe: a single-key object, `{ quantize: { mode: dynamic } }`. */
export type PassSpec = Record<string, Record<string, unknown>>;

export interface CandidateSpec {
  name: string;
  passes: PassSpec[];
}

// auto: optimize entries searched on the runner (src/search/auto.ts)
export type AutoFamily = 'cleanup' | 'dynamic' | 'dynamic_weight_only' | 'static' | 'weight_only' | 'dynamic_conv' | 'fp16' | 'lowrank' | 'prune' | 'int4_weight_only' | 'int8_weight_only' | 'fp32' | 'tflite_weight_only' | 'tflite_fp16' | 'tflite_dynamic_int8' | 'tflite_int8';

/** Families that change the model's function, which auto may propose with accuracy recovery. */
export type AutoAllow = 'prune' | 'lowrank';

export interface AutoSpec {
  /** Accuracy drop allowed against the reference; default gate.accuracy_drop_max, else 0.005. */
  accuracy_drop_max?: number;
  /** Search budget in seconds; default 120 for models up to 20 MB, proportionally more above. */
  time_budget_s?: number;
  /** Largest p50 latency ratio against fp32 the winner may have; default 1.0 (not slower). */
  latency_ratio_max?: number;
  /** Recipe families to try; default: those that fit the model and the CPU. */
  recipes?: AutoFamily[];
  /**
   * How the winner is chosen among the candidates that qualify: 'balanced' (default) the lowest size × time
   * (size ratio times p50 ratio against fp32), 'size' the smallest, 'speed' the fastest.
   */
  prefer?: 'balanced' | 'size' | 'speed';
  /** Let the search propose pruned or factorized candidates, with recovery (`recover`), under the same rules. */
  allow?: AutoAllow[];
}

/** `{ auto: {...} }`, optionally named (default 'auto'): becomes one candidate, the search's winner. */
export interface AutoCandidateSpec {
  name?: string;
  auto: AutoSpec | null;
}

export type OptimizeSpec = CandidateSpec | AutoCandidateSpec;

// export step: src/import/export-command.ts
/** A command that produces the model (torch.onnx.export, tf2onnx, ...), run in the config's folder before everything else. */
export interface ExportStepSpec {
  run: string;
  /** The file the command must write; default: `model`. */
  output?: string;
  /** Seconds before the command is killed. */
  timeout: number;
}

/** Issue 5: the source model written as TF.js layers models with quantized weights, reloaded and timed on TF.js. */
export interface TfjsExportStepSpec {
  quantize: Array<'none' | 'uint8' | 'uint16' | 'float16'>;
  runs: number;
}

export interface BenchmarkSpec {
  batch: number;
  threads: number;
  /** Warm-up runs before timing. */
  warmup: number;
  /** Timed runs (the minimum when adaptive sampling is on). */
  runs: number;
  /** Independent interleaved measurements (fresh workers each); the median one decides. */
  measurements: number;
  /** Decoder models: the prompt length of the time-to-first-token measurement and the cache length of the decode step. */
  decoder?: { prefill_tokens: number };
}

export interface GateSpec {
  accuracy_drop_max?: number;
  latency_ratio_max?: number;
  size_bytes_max?: number;
  /** Least SNR (dB) of the worst output against the reference, when there are no labels and top-1 does not fit. */
  fidelity_min_snr_db?: number;
  /** Decoders: time-to-first-token and per-token decode latency ratios against the reference. */
  ttft_ratio_max?: number;
  decode_ratio_max?: number;
}

export type Metric = 'top1' | 'top5' | 'mse' | 'mae' | 'binary' | 'f1_macro';

export interface MetricOptions {
  /** The model output the metric reads; default: the first. */
  output?: string;
  /** binary: the probability above which a sample is class 1. */
  threshold?: number;
  /** binary: how output values become the class-1 probability (default sigmoid for one value, softmax for two). */
  activation?: 'sigmoid' | 'softmax' | 'none';
}
export type SelectRule = 'smallest-passing' | 'fastest-passing' | 'most-accurate-passing';

export interface Config {
  model: string;
  inputs: Record<string, InputSpec>;
  dataset?: DatasetSpec;
  /** The data that calibrating passes learn from; without it they use `dataset` (and the report says so). */
  calibration?: DatasetSpec;
  metric: Metric;
  metric_options?: MetricOptions;
  /** Issue 5: a command that writes the model before the pipeline runs. */
  export?: ExportStepSpec;
  tfjs_export?: TfjsExportStepSpec;
  optimize: OptimizeSpec[];
  benchmark: BenchmarkSpec;
  gate: GateSpec;
  select: SelectRule;
}

export interface SourcePosition {
  line: number;
  col: number;
}

export interface LoadedConfig {
  config: Config;
  /** The config file as given (for messages) and its folder (paths resolve against it). */
  file: string;
  dir: string;
  /** Where a key sits in the YAML, for messages and annotations: locate(['gate', 'latency_ratio_max']). */
  locate(path: ReadonlyArray<string | number>): SourcePosition | undefined;
  /** An absolute path for a config-relative one. */
  resolve(relative: string): string;
}
