/**
 * Budgets → named checks. Every candidate, the reference included, gets one check per budget.
 * Size and accuracy are deterministic and gated exactly; latency is gated on the significance-aware
 * verdict, so only a regression whose whole confidence interval is above the budget fails.
 */
import type { GateSpec, Metric, SelectRule } from '../config/types.js';
import type { CheckResult } from '../report/types.js';

export type LatencyVerdict = 'significant regression' | 'within noise' | 'significant improvement';

export interface LatencyComparison {
  ratio: number;
  ci95: [number, number];
  verdict: LatencyVerdict;
}

export interface GateSubject {
  id: string;
  bytes: number;
  accuracy: number | null;
  agreement: number | null;
  mse: number | null;
  p50_ms: number | null;
  /** Against the reference; absent for the reference itself or when latency was not measured. */
  latencyVsReference?: LatencyComparison;
  /** Set when the candidate could not be built, loaded or run. */
  error?: string;
}

const fmt = (v: number, digits = 4) => (Number.isInteger(v) ? String(v) : v.toFixed(digits));

function accuracyCheck(c: GateSubject, ref: GateSubject, max: number, metric: Metric): CheckResult {
  const name = 'accuracy_drop_max';
  if (metric === 'mse' && c.mse !== null && ref.mse !== null) {
    const rise = c.mse - ref.mse;
    return { name, passed: rise <= max, message: `mse ${fmt(c.mse, 6)} vs ${fmt(ref.mse, 6)}: rise ${fmt(rise, 6)} ${rise <= max ? '≤' : '>'} ${max}` };
  }
  if (c.accuracy !== null && ref.accuracy !== null) {
    const drop = ref.accuracy - c.accuracy;
    return { name, passed: drop <= max + 1e-12, message: `accuracy ${fmt(c.accuracy)} vs ${fmt(ref.accuracy)}: drop ${fmt(drop)} ${drop <= max + 1e-12 ? '≤' : '>'} ${max}` };
  }
  if (c.id === ref.id) return { name, passed: true, message: 'reference' };
  if (c.agreement !== null) {
    const drop = 1 - c.agreement;
    return { name, passed: drop <= max + 1e-12, message: `no labels: top-1 agreement with the reference ${fmt(c.agreement)}, disagreement ${fmt(drop)} ${drop <= max + 1e-12 ? '≤' : '>'} ${max}` };
  }
  return { name, passed: false, message: 'no accuracy, mse or agreement could be measured' };
}

function latencyCheck(c: GateSubject, ref: GateSubject, max: number): CheckResult {
  const name = 'latency_ratio_max';
  if (c.id === ref.id) return { name, passed: true, message: 'reference (ratio 1.00)' };
  const cmp = c.latencyVsReference;
  if (!cmp) return { name, passed: false, message: 'latency was not measured' };
  const ci = `95% CI ${cmp.ci95[0].toFixed(2)}–${cmp.ci95[1].toFixed(2)}`;
  const passed = cmp.verdict !== 'significant regression';
  return { name, passed, message: `p50 ${cmp.ratio.toFixed(2)}× the reference (${ci}): ${cmp.verdict} against ${max}×` };
}

function sizeCheck(c: GateSubject, max: number): CheckResult {
  const passed = c.bytes <= max;
  return { name: 'size_bytes_max', passed, message: `${c.bytes} bytes ${passed ? '≤' : '>'} ${max}` };
}

export function checkCandidate(c: GateSubject, ref: GateSubject, gate: GateSpec, metric: Metric): CheckResult[] {
  if (c.error) return [{ name: 'build', passed: false, message: c.error }];
  const checks: CheckResult[] = [];
  if (gate.accuracy_drop_max !== undefined) checks.push(accuracyCheck(c, ref, gate.accuracy_drop_max, metric));
  if (gate.latency_ratio_max !== undefined) checks.push(latencyCheck(c, ref, gate.latency_ratio_max));
  if (gate.size_bytes_max !== undefined) checks.push(sizeCheck(c, gate.size_bytes_max));
  return checks;
}

/** The select rule over the candidates that pass every check; ties break on size, then latency, then id. */
export function selectCandidate(subjects: GateSubject[], checks: Map<string, CheckResult[]>, rule: SelectRule): string | null {
  const passing = subjects.filter((s) => !s.error && (checks.get(s.id) ?? []).every((c) => c.passed));
  if (passing.length === 0) return null;
  const p50 = (s: GateSubject) => s.p50_ms ?? Number.POSITIVE_INFINITY;
  const quality = (s: GateSubject) => s.accuracy ?? (s.mse !== null ? -s.mse : s.agreement ?? 0);
  const key: Record<SelectRule, (a: GateSubject, b: GateSubject) => number> = {
    'smallest-passing': (a, b) => a.bytes - b.bytes,
    'fastest-passing': (a, b) => p50(a) - p50(b),
    'most-accurate-passing': (a, b) => quality(b) - quality(a),
  };
  passing.sort((a, b) => key[rule](a, b) || a.bytes - b.bytes || p50(a) - p50(b) || (a.id < b.id ? -1 : 1));
  return passing[0]!.id;
}
