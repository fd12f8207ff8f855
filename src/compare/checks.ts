/**
 * Head against base under the head config's budgets. Size and accuracy are deterministic and gated
 * exactly; latency only fails on a 'significant regression' (the ratio's whole CI above the budget).
 * compareReports does the same for two report.json files produced elsewhere, where no interleaved
 * measurement exists: it refuses to gate latency across different hardware.
 */
import type { GateSpec, Metric } from '../config/types.js';
import type { CandidateReport, CheckResult, Report } from '../report/types.js';
import { latencyVerdict } from '../benchmark/stats.js';
import { sameHardware } from '../benchmark/hardware.js';
import { UNGATED_LATENCY_THRESHOLD } from '../run.js';
import type { CompareCheck, LatencyDelta, PairComparison, SideMetrics } from './types.js';

export interface PairInput {
  id: PairComparison['id'];
  base: SideMetrics;
  head: SideMetrics;
  agreement: number | null;
  sameData: boolean;
  latency: LatencyDelta | null;
  /** Why latency is reported but not gated, e.g. different hardware. */
  latencyNotGated?: string;
}

const fmt = (v: number, digits = 4) => (Number.isInteger(v) ? String(v) : v.toFixed(digits));
const diff = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : b - a);

/** The verdict threshold: the latency budget, or the default that keeps A/A runs quiet when there is none. */
export function latencyThreshold(gate: GateSpec): number {
  return gate.latency_ratio_max ?? UNGATED_LATENCY_THRESHOLD;
}

function accuracyCheck(p: PairInput, max: number, metric: Metric): CheckResult {
  const name = 'accuracy_drop_max';
  const where = p.sameData ? '' : " (each side measured on its own dataset)";
  if (metric === 'mse' && p.base.mse !== null && p.head.mse !== null) {
    const rise = p.head.mse - p.base.mse;
    return { name, passed: rise <= max, message: `mse ${fmt(p.base.mse, 6)} → ${fmt(p.head.mse, 6)}: rise ${fmt(rise, 6)} ${rise <= max ? '≤' : '>'} ${max}${where}` };
  }
  if (p.base.accuracy !== null && p.head.accuracy !== null) {
    const drop = p.base.accuracy - p.head.accuracy;
    const ok = drop <= max + 1e-12;
    return { name, passed: ok, message: `accuracy ${fmt(p.base.accuracy)} → ${fmt(p.head.accuracy)}: drop ${fmt(drop)} ${ok ? '≤' : '>'} ${max}${where}` };
  }
  if (p.agreement !== null) {
    const drop = 1 - p.agreement;
    const ok = drop <= max + 1e-12;
    return { name, passed: ok, message: `no labels: top-1 agreement with base ${fmt(p.agreement)}, disagreement ${fmt(drop)} ${ok ? '≤' : '>'} ${max}` };
  }
  return { name, passed: true, message: 'not gated: neither accuracy, mse nor agreement with base could be measured on both sides' };
}

function latencyCheck(p: PairInput, max: number): CheckResult {
  const name = 'latency_ratio_max';
  const l = p.latency;
  if (!l) return { name, passed: true, message: 'not gated: latency was not measured on both sides' };
  const what = `p50 ${l.ratio.toFixed(3)}× base (95% CI ${l.ci95[0].toFixed(3)}–${l.ci95[1].toFixed(3)}): ${l.verdict} against ${max}×`;
  if (!l.gated) return { name, passed: true, message: `not gated (${p.latencyNotGated ?? 'reported only'}): ${what}` };
  return { name, passed: l.verdict !== 'significant regression', message: what };
}

function sizeCheck(p: PairInput, max: number): CheckResult {
  const passed = p.head.bytes <= max;
  return { name: 'size_bytes_max', passed, message: `${p.head.bytes} bytes ${passed ? '≤' : '>'} ${max} (base ${p.base.bytes}, ${signedInt(p.head.bytes - p.base.bytes)})` };
}

const signedInt = (v: number) => `${v > 0 ? '+' : ''}${v}`;

/** The pair with its deltas and the head config's checks. */
export function buildPair(p: PairInput, gate: GateSpec, metric: Metric): PairComparison {
  const checks: CheckResult[] = [];
  if (gate.accuracy_drop_max !== undefined) checks.push(accuracyCheck(p, gate.accuracy_drop_max, metric));
  if (gate.latency_ratio_max !== undefined) checks.push(latencyCheck(p, gate.latency_ratio_max));
  if (gate.size_bytes_max !== undefined) checks.push(sizeCheck(p, gate.size_bytes_max));
  const { base, head } = p;
  return {
    id: p.id,
    base,
    head,
    delta: {
      bytes: head.bytes - base.bytes,
      gzip_bytes: diff(base.gzip_bytes, head.gzip_bytes),
      accuracy: diff(base.accuracy, head.accuracy),
      mse: diff(base.mse, head.mse),
      p50_ms: diff(base.p50_ms, head.p50_ms),
      p90_ms: diff(base.p90_ms, head.p90_ms),
      p99_ms: diff(base.p99_ms, head.p99_ms),
      throughput_items_per_s: diff(base.throughput_items_per_s, head.throughput_items_per_s),
      cold_start_ms: diff(base.cold_start_ms, head.cold_start_ms),
      peak_rss_bytes: diff(base.peak_rss_bytes, head.peak_rss_bytes),
    },
    agreement: p.agreement,
    same_data: p.sameData,
    latency: p.latency,
    checks,
  };
}

export function flattenChecks(pairs: PairComparison[]): CompareCheck[] {
  return pairs.flatMap((p) => p.checks.map((c) => ({ ...c, subject: p.id })));
}

/** A candidate's numbers from a report.json. */
export function sideFromReport(c: CandidateReport): SideMetrics {
  const lat = c.latency;
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return {
    candidate: c.id,
    bytes: c.bytes,
    gzip_bytes: num(c.gzip_bytes),
    accuracy: c.accuracy,
    mse: num(c.mse),
    p50_ms: lat ? lat.p50_ms : null,
    p90_ms: lat ? lat.p90_ms : null,
    p99_ms: lat ? lat.p99_ms : null,
    throughput_items_per_s: num(lat?.throughput_items_per_s),
    cold_start_ms: num(lat?.cold_start_ms),
    peak_rss_bytes: num(lat?.peak_rss_bytes),
    samples: lat ? lat.samples : null,
  };
}

/**
 * Latency from two separately measured reports. Without the raw samples of an interleaved run there
 * is nothing to bootstrap, so the CI is the conservative one built from the two median CIs:
 * [head.lo / base.hi, head.hi / base.lo].
 */
function latencyFromReports(base: CandidateReport, head: CandidateReport, threshold: number, gated: boolean): LatencyDelta | null {
  if (!base.latency || !head.latency || !(base.latency.p50_ms > 0)) return null;
  const ratio = head.latency.p50_ms / base.latency.p50_ms;
  const ciOf = (l: CandidateReport['latency']): [number, number] => {
    const ci = l?.ci95_ms;
    return Array.isArray(ci) && ci.length === 2 && ci.every((v) => typeof v === 'number' && v > 0) ? [ci[0] as number, ci[1] as number] : [l!.p50_ms, l!.p50_ms];
  };
  const [bLo, bHi] = ciOf(base.latency);
  const [hLo, hHi] = ciOf(head.latency);
  const ci95: [number, number] = [Math.min(ratio, hLo / bHi), Math.max(ratio, hHi / bLo)];
  return { ratio, ci95, verdict: latencyVerdict(ci95, ratio, threshold), threshold, method: 'separate reports', gated };
}

export interface CompareReportsOptions {
  /** Budgets to apply; by default the head report's own `gate` (what its config said). */
  gate?: GateSpec;
  metric?: Metric;
}

export interface ReportComparison {
  comparison: PairComparison[];
  checks: CompareCheck[];
  warnings: string[];
  sameHardware: boolean;
}

/**
 * Compares two report.json files produced elsewhere (e.g. the base branch's stored report). The
 * latency verdict is reported but not gated when the hardware fingerprints differ; accuracies are
 * each report's own (the datasets may differ), and no agreement can be computed.
 */
export function compareReports(baseReport: Report, headReport: Report, options: CompareReportsOptions = {}): ReportComparison {
  const headGate = (headReport.gate ?? {}) as GateSpec & { metric?: Metric };
  const gate: GateSpec = options.gate ?? {
    ...(headGate.accuracy_drop_max !== undefined ? { accuracy_drop_max: headGate.accuracy_drop_max } : {}),
    ...(headGate.latency_ratio_max !== undefined ? { latency_ratio_max: headGate.latency_ratio_max } : {}),
    ...(headGate.size_bytes_max !== undefined ? { size_bytes_max: headGate.size_bytes_max } : {}),
  };
  const metric: Metric = options.metric ?? headGate.metric ?? 'top1';
  const warnings: string[] = [];
  const same = sameHardware(baseReport.hardware, headReport.hardware);
  let notGated: string | undefined;
  if (!same) {
    notGated = 'different hardware';
    warnings.push(
      `base and head were measured on different hardware (base: ${baseReport.hardware.cpu}, ${baseReport.hardware.cores} cores, ${baseReport.hardware.arch}; ` +
        `head: ${headReport.hardware.cpu}, ${headReport.hardware.cores} cores, ${headReport.hardware.arch}): latency is reported, not gated`,
    );
  } else {
    warnings.push('base and head latencies come from separate runs, not interleaved: machine drift between the runs is not controlled for');
  }
  const threshold = latencyThreshold(gate);
  const gated = same && gate.latency_ratio_max !== undefined;
  if (gate.latency_ratio_max === undefined) notGated ??= 'no latency_ratio_max';
  const pairs: PairComparison[] = [];
  const add = (id: PairComparison['id'], b: CandidateReport | undefined, h: CandidateReport | undefined) => {
    if (!b || !h) return;
    const input: PairInput = {
      id, base: sideFromReport(b), head: sideFromReport(h), agreement: null, sameData: false,
      latency: latencyFromReports(b, h, threshold, gated),
    };
    if (notGated) input.latencyNotGated = notGated;
    pairs.push(buildPair(input, gate, metric));
  };
  const find = (r: Report, id: string | null) => (id === null ? undefined : r.candidates.find((c) => c.id === id));
  add('reference', find(baseReport, baseReport.reference), find(headReport, headReport.reference));
  if (baseReport.selected && headReport.selected && !(baseReport.selected === baseReport.reference && headReport.selected === headReport.reference)) {
    add('selected', find(baseReport, baseReport.selected), find(headReport, headReport.selected));
  }
  if (pairs.length === 0) warnings.push('the base report has no reference candidate to compare with');
  return { comparison: pairs, checks: flattenChecks(pairs), warnings, sameHardware: same };
}
