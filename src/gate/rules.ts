/**
 * The gate rules: budgets → named checks, for a candidate against the reference (`run`) and for head
 * against base (`compare`) alike. One policy for what was not measured: it never passes. Size and quality
 * are deterministic and gated exactly; latency is gated on the significance-aware verdict, so only a
 * regression whose whole 95% CI lies above the budget fails.
 */
import type { GateSpec, Metric, SelectRule } from '../config/types.js';
import type { LatencyVerdict } from '../benchmark/stats.js';

export type { LatencyVerdict };

export interface CheckResult {
  name: string;
  passed: boolean;
  message: string;
}

/** What the verdict of a latency comparison says, for the gate. */
export interface LatencyComparison {
  ratio: number;
  ci95: [number, number];
  verdict: LatencyVerdict;
}

/** Budgets in force when the config sets none: never silently slower, never silently less accurate. */
export const DEFAULT_BUDGETS = {
  /** The auto search's default accuracy budget too. */
  accuracy_drop_max: 0.005,
  /**
   * Not significantly slower: two worker processes running the same model differ by up to 1.5–4.5%
   * (measured here), which no in-run CI sees; at 1.05, 20 A/A runs raised no false alarm (docs/benchmarks.md).
   */
  latency_ratio_max: 1.05,
  /**
   * Fidelity of the worst output against the reference, when top-1 agreement does not fit it and there are
   * no labels: 20 dB is a noise energy of 1% of the signal's. Measured on the one-logit and dense-map test
   * models (test/evaluate/fidelity.test.ts): dynamic int8 43-47 dB, fp16 74-81 dB, 90% magnitude pruning
   * 2.5-6.6 dB; int4 weight-only on the tiny decoder's logits 19 dB. 20 dB passes the 8- and 16-bit
   * recipes with a wide margin and stops changes that break the model; int4 sits at the line.
   */
  fidelity_min_snr_db: 20,
} as const;

export interface AppliedBudget {
  name: 'accuracy_drop_max' | 'latency_ratio_max' | 'size_bytes_max' | 'fidelity_min_snr_db' | 'ttft_ratio_max' | 'decode_ratio_max';
  value: number;
  source: 'config' | 'default';
}

/**
 * The budgets that apply, each with where it came from. A decoder's latency budget is two budgets, time
 * to first token and per-token decode time, each by default at the latency budget in force.
 */
export function resolveBudgets(gate: GateSpec, scope: { decoder?: boolean } = {}): AppliedBudget[] {
  const out: AppliedBudget[] = [];
  const add = (name: AppliedBudget['name'], configured: number | undefined, fallback?: number) => {
    if (configured !== undefined) out.push({ name, value: configured, source: 'config' });
    else if (fallback !== undefined) out.push({ name, value: fallback, source: 'default' });
  };
  add('accuracy_drop_max', gate.accuracy_drop_max, DEFAULT_BUDGETS.accuracy_drop_max);
  // A decoder's latency is its two phases, each budgeted on its own.
  if (!scope.decoder) add('latency_ratio_max', gate.latency_ratio_max, DEFAULT_BUDGETS.latency_ratio_max);
  add('size_bytes_max', gate.size_bytes_max);
  add('fidelity_min_snr_db', gate.fidelity_min_snr_db, DEFAULT_BUDGETS.fidelity_min_snr_db);
  if (scope.decoder) {
    const latency = latencyThreshold(gate);
    add('ttft_ratio_max', gate.ttft_ratio_max, latency);
    add('decode_ratio_max', gate.decode_ratio_max, latency);
  }
  return out;
}

/** A decoder's two latency budgets in force (time to first token, per-token decode). */
export function decoderThresholds(gate: GateSpec): { ttft: number; decode: number } {
  const budgets = resolveBudgets(gate, { decoder: true });
  return { ttft: budgets.find((b) => b.name === 'ttft_ratio_max')!.value, decode: budgets.find((b) => b.name === 'decode_ratio_max')!.value };
}

/** The latency verdict's threshold: the budget in force. */
export function latencyThreshold(gate: GateSpec): number {
  return gate.latency_ratio_max ?? DEFAULT_BUDGETS.latency_ratio_max;
}

export interface GateSubject {
  id: string;
  bytes: number;
  accuracy: number | null;
  /** Top-1 agreement with the baseline's outputs, 0..1. */
  agreement: number | null;
  /** The lower-is-better figure of metric mse or mae. */
  loss: number | null;
  /**
   * False when top-1 agreement does not fit the first output (a single value, a dense map): then,
   * without labels, quality is the fidelity below. Undefined: not known, agreement is used.
   */
  top1_fits?: boolean;
  /** SNR of the worst output against the baseline, dB (Infinity: identical); null when not measured. */
  fidelity_snr_db?: number | null;
  /** The output that SNR is of. */
  fidelity_output?: string;
  /** How the message names what that SNR is of, when it is no graph output (a discrete output's decision input). */
  fidelity_judged?: string;
  /** Why fidelity could not be measured. */
  fidelity_error?: string;
  p50_ms: number | null;
  /** Set when the candidate could not be built, evaluated or measured. */
  error?: string;
}

export interface Against {
  baseline: GateSubject;
  /** How messages name the baseline: 'the reference', 'base'. */
  name: string;
  /** Subject vs baseline latency; undefined when it was not measured. */
  latency?: LatencyComparison;
  /** An explicit reason the latency budget cannot apply (e.g. different hardware): reported, not gated. */
  latencyNotApplicable?: string;
  /** Decoders: time to first token and per-token decode time against the baseline. */
  ttft?: LatencyComparison;
  decode?: LatencyComparison;
}

const fmt = (v: number, digits = 4) => (Number.isInteger(v) ? String(v) : v.toFixed(digits));
const EPS = 1e-12;

const dB = (v: number) => (v === Infinity ? '∞ dB (identical)' : `${v.toFixed(1)} dB`);

function fidelityCheck(c: GateSubject, a: Against, minSnr: number, why: string): CheckResult {
  const name = 'fidelity_min_snr_db';
  const snr = c.fidelity_snr_db;
  if (snr === null || snr === undefined) {
    return { name, passed: false, message: `not measured: ${why}, and fidelity against ${a.name} could not be measured${c.fidelity_error ? ` (${c.fidelity_error})` : ''}; an unmeasured candidate never passes` };
  }
  const passed = snr >= minSnr;
  return { name, passed, message: `${why}: SNR of ${c.fidelity_judged ?? `the worst output${c.fidelity_output ? ` '${c.fidelity_output}'` : ''}`} against ${a.name} ${dB(snr)} ${passed ? '≥' : '<'} ${minSnr} dB` };
}

function qualityCheck(c: GateSubject, a: Against, max: number, minSnr: number, metric: Metric): CheckResult {
  const name = 'accuracy_drop_max';
  const ref = a.baseline;
  if ((metric === 'mse' || metric === 'mae') && c.loss !== null && ref.loss !== null) {
    const rise = c.loss - ref.loss;
    const passed = rise <= max + EPS;
    return { name, passed, message: `${metric} ${fmt(c.loss, 6)} vs ${fmt(ref.loss, 6)} (${a.name}): rise ${fmt(rise, 6)} ${passed ? '≤' : '>'} ${max}` };
  }
  if (c.accuracy !== null && ref.accuracy !== null) {
    const drop = ref.accuracy - c.accuracy;
    const passed = drop <= max + EPS;
    return { name, passed, message: `accuracy ${fmt(c.accuracy)} vs ${fmt(ref.accuracy)} (${a.name}): drop ${fmt(drop)} ${passed ? '≤' : '>'} ${max}` };
  }
  if (c.top1_fits === false) return fidelityCheck(c, a, minSnr, 'no labels, and top-1 agreement does not fit the output (no class axis)');
  if (c.agreement !== null) {
    const drop = 1 - c.agreement;
    const passed = drop <= max + EPS;
    return { name, passed, message: `no labels: top-1 agreement with ${a.name} ${fmt(c.agreement)}, disagreement ${fmt(drop)} ${passed ? '≤' : '>'} ${max}` };
  }
  if (c.fidelity_snr_db !== null && c.fidelity_snr_db !== undefined) return fidelityCheck(c, a, minSnr, 'no labels and no top-1 agreement');
  return { name, passed: false, message: `not measured: no accuracy, loss, agreement or fidelity with ${a.name} could be measured, and an unmeasured candidate never passes` };
}

/** A decoder phase: fails only when the whole CI of the ratio lies above the budget. */
function decoderLatencyCheck(name: 'ttft_ratio_max' | 'decode_ratio_max', cmp: LatencyComparison | undefined, a: Against, max: number): CheckResult {
  const what = name === 'ttft_ratio_max' ? 'time to first token' : 'decode time per token';
  if (a.latencyNotApplicable) return { name, passed: true, message: `not gated (${a.latencyNotApplicable})` };
  if (!cmp) return { name, passed: false, message: `not measured: no ${what} against ${a.name}, and an unmeasured candidate never passes` };
  const passed = !(cmp.ci95[0] > max);
  return { name, passed, message: `${what} ${cmp.ratio.toFixed(3)}× ${a.name} (95% CI ${cmp.ci95[0].toFixed(3)}–${cmp.ci95[1].toFixed(3)}): ${passed ? 'not significantly above' : 'significantly above'} ${max}×` };
}

function latencyCheck(a: Against, max: number): CheckResult {
  const name = 'latency_ratio_max';
  const cmp = a.latency;
  const what = cmp ? `p50 ${cmp.ratio.toFixed(3)}× ${a.name} (95% CI ${cmp.ci95[0].toFixed(3)}–${cmp.ci95[1].toFixed(3)}): ${cmp.verdict} against ${max}×` : '';
  if (a.latencyNotApplicable) return { name, passed: true, message: `not gated (${a.latencyNotApplicable})${what ? `: ${what}` : ''}` };
  if (!cmp) return { name, passed: false, message: `not measured: no latency against ${a.name}, and an unmeasured candidate never passes` };
  return { name, passed: cmp.verdict !== 'significant regression', message: what };
}

function sizeCheck(c: GateSubject, a: Against, max: number): CheckResult {
  const passed = c.bytes <= max;
  const delta = c.bytes - a.baseline.bytes;
  return { name: 'size_bytes_max', passed, message: `${c.bytes} bytes ${passed ? '≤' : '>'} ${max}${c === a.baseline ? '' : ` (${a.name} ${a.baseline.bytes}, ${delta > 0 ? '+' : ''}${delta})`}` };
}

/**
 * One check per budget in force. The baseline itself passes the relative budgets by definition; a
 * candidate that failed to build, evaluate or run gets one failed check naming why.
 */
export function checkAgainst(c: GateSubject, a: Against, budgets: readonly AppliedBudget[], metric: Metric): CheckResult[] {
  if (c.error) return [{ name: 'build', passed: false, message: c.error }];
  const self = c === a.baseline;
  const minSnr = budgets.find((b) => b.name === 'fidelity_min_snr_db')?.value ?? DEFAULT_BUDGETS.fidelity_min_snr_db;
  return budgets.flatMap((b): CheckResult[] => {
    switch (b.name) {
      case 'accuracy_drop_max': return [self ? { name: b.name, passed: true, message: `${a.name} itself` } : qualityCheck(c, a, b.value, minSnr, metric)];
      // Read by the quality check when top-1 does not fit: not a check of its own.
      case 'fidelity_min_snr_db': return [];
      case 'latency_ratio_max': return [self ? { name: b.name, passed: true, message: `${a.name} itself (ratio 1.00)` } : latencyCheck(a, b.value)];
      case 'size_bytes_max': return [sizeCheck(c, a, b.value)];
      case 'ttft_ratio_max': return [self ? { name: b.name, passed: true, message: `${a.name} itself` } : decoderLatencyCheck(b.name, a.ttft, a, b.value)];
      case 'decode_ratio_max': return [self ? { name: b.name, passed: true, message: `${a.name} itself` } : decoderLatencyCheck(b.name, a.decode, a, b.value)];
    }
  });
}

/** The select rule over the subjects that pass every check; ties break on size, then latency, then id. */
export function selectCandidate(subjects: readonly GateSubject[], checks: ReadonlyMap<string, readonly CheckResult[]>, rule: SelectRule): string | null {
  const passing = subjects.filter((s) => !s.error && (checks.get(s.id) ?? [{ passed: false }]).every((c) => c.passed));
  if (passing.length === 0) return null;
  const p50 = (s: GateSubject) => s.p50_ms ?? Number.POSITIVE_INFINITY;
  const quality = (s: GateSubject) => s.accuracy ?? (s.loss !== null ? -s.loss : (s.top1_fits === false ? null : s.agreement) ?? (s.fidelity_snr_db != null ? 1 - 10 ** (-s.fidelity_snr_db / 10) : 0));
  const key: Record<SelectRule, (a: GateSubject, b: GateSubject) => number> = {
    'smallest-passing': (a, b) => a.bytes - b.bytes,
    'fastest-passing': (a, b) => p50(a) - p50(b),
    'most-accurate-passing': (a, b) => quality(b) - quality(a),
  };
  return [...passing].sort((a, b) => key[rule](a, b) || a.bytes - b.bytes || p50(a) - p50(b) || (a.id < b.id ? -1 : 1))[0]!.id;
}
