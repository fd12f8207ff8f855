/** report.json, version 1. Fields may be added; none may be removed or change meaning. */
export interface CheckResult {
  name: string;
  passed: boolean;
  message: string;
}

export interface LatencyResult {
  batch: number;
  threads: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  samples: number;
  [extra: string]: unknown;
}

export interface CandidateReport {
  id: string;
  recipe: unknown[];
  /** Relative to the out dir. */
  file: string;
  bytes: number;
  /** 0..1, or null without labels (or for mse). */
  accuracy: number | null;
  /** Top-1 agreement with the reference's outputs, 0..1, or null. */
  agreement: number | null;
  latency: LatencyResult | null;
  checks: CheckResult[];
  [extra: string]: unknown;
}

export interface Report {
  schemaVersion: 1;
  passed: boolean;
  tool: { name: string; version: string };
  hardware: { cpu: string; cores: number; arch: string; os: string; [extra: string]: unknown };
  runtime: { onnxruntime: string; [extra: string]: unknown };
  reference: string;
  selected: string | null;
  candidates: CandidateReport[];
  [extra: string]: unknown;
}
