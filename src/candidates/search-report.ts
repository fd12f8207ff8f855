/**
 * What the `auto` search reports about itself. It is data that three layers read: the search writes it,
 * a candidate carries it as its provenance, and the report prints it; so it is declared here, below all
 * three, and src/search/auto.ts re-exports it.
 */
import type { AutoFamily, PassSpec } from '../config/types.js';
import type { RuntimeOptions } from '../runtime/session.js';

/** 'blocked': weight_only with a scale per block of an output channel instead of one per channel. */
export type SearchStage = 'base' | 'op type' | 'per channel' | 'blocked' | 'node';

/** The op mix of a model as the search saw it: share of multiply-adds by kind. */
export interface OpMix {
  conv: number;
  matmul: number;
  recurrent: number;
  attention: number;
}

export interface ParetoPoint {
  id: string;
  bytes: number;
  latency_ratio: number;
  drop: number | null;
  within_accuracy_budget: boolean;
}

export interface AutoTried {
  id: string;
  stage: SearchStage;
  recipe: PassSpec[];
  why: string;
  from?: string;
  bytes: number | null;
  size_ratio: number | null;
  accuracy: number | null;
  agreement: number | null;
  drop: number | null;
  latency_ratio: number | null;
  latency_ci95: [number, number] | null;
  confirm_ratio?: number;
  confirm_ci95?: [number, number];
  /** Checked for the families meant to run at fp32 speed: onnxruntime runs it with the reference's kernels, op for op (then it is not slower by construction). */
  same_kernels?: boolean;
  runtime_options?: RuntimeOptions;
  outcome: string;
  seconds?: number;
}

export interface AutoReport {
  winner: string;
  recipe: PassSpec[];
  runtime_options?: RuntimeOptions;
  reason: string;
  accuracy_drop_max: number;
  /** What accuracy_drop_max was applied to: accuracy against labels, top-1 agreement with fp32, or mse. */
  quality_basis: QualityBasis;
  latency_ratio_max: number;
  /** How the winner was chosen among the qualifiers (auto.prefer): 'balanced' (size × time), 'size' or 'speed'. */
  prefer: 'balanced' | 'size' | 'speed';
  time_budget_s: number;
  elapsed_s: number;
  budget_exhausted: boolean;
  isa: string[];
  model: { mix: OpMix; quantizable_nodes: number; recurrent: boolean; attention: boolean };
  tried: AutoTried[];
  skipped: Array<{ family: AutoFamily; why: string }>;
  pareto: ParetoPoint[];
  /**
   * Per-node sensitivity of the trials repaired for accuracy: with only that node left in float,
   * the disagreement with fp32 on the first SENSITIVITY_SAMPLES samples (the accuracy drop or mse rise
   * where there is no agreement); lower means the node costs more accuracy.
   */
  sensitivity: Array<{ trial: string; nodes: Array<{ node: string; op_type: string; drop_without: number | null }> }>;
}

/** 'fidelity': no labels and no class axis on the output; drop is the noise-to-signal energy ratio 10^(−SNR/10) against fp32. */
export type QualityBasis = 'accuracy' | 'agreement' | 'mse' | 'fidelity';
