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
  inputs: string;
  labels?: string;
  limit?: number;
  preprocess?: PreprocessSpec;
}

/** One pass in a recipe: a single-key object, `{ quantize: { mode: dynamic } }`. */
export type PassSpec = Record<string, Record<string, unknown>>;

export interface CandidateSpec {
  name: string;
  passes: PassSpec[];
}

export interface BenchmarkSpec {
  batch: number;
  threads: number;
  /** Warm-up runs before timing. */
  warmup: number;
  /** Timed runs (the minimum when adaptive sampling is on). */
  runs: number;
}

export interface GateSpec {
  accuracy_drop_max?: number;
  latency_ratio_max?: number;
  size_bytes_max?: number;
}

export type Metric = 'top1' | 'top5' | 'mse';
export type SelectRule = 'smallest-passing' | 'fastest-passing' | 'most-accurate-passing';

export interface Config {
  model: string;
  inputs: Record<string, InputSpec>;
  dataset?: DatasetSpec;
  metric: Metric;
  optimize: CandidateSpec[];
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
