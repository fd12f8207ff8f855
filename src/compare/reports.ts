/**
 * `compare --base-report`: head against a report.json produced elsewhere (a stored base run). There is
 * no interleaved measurement to bootstrap, so the latency CI is the conservative one built from the two
 * median CIs, and it is not gated across different hardware; accuracies are each report's own.
 */
import type { GateSpec, Metric } from '../config/types.js';
import type { CandidateReport, Report } from '../report/types.js';
import { latencyVerdict } from '../benchmark/stats.js';
import { sameHardware } from '../benchmark/hardware.js';
import { latencyThreshold } from '../gate/rules.js';
import { buildPair } from './pair.js';
import type { CompareCheck, LatencyDelta, PairComparison, SideMetrics } from '../report/types.js';

/** A candidate's numbers from a report.json. */
export function sideFromReport(c: CandidateReport): SideMetrics {
  const lat = c.latency;
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return {
    candidate: c.id, bytes: c.bytes, gzip_bytes: num(c.gzip_bytes), accuracy: c.accuracy, mse: num(c.mse),
    p50_ms: lat ? lat.p50_ms : null, p90_ms: lat ? lat.p90_ms : null, p99_ms: lat ? lat.p99_ms : null,
    throughput_items_per_s: num(lat?.throughput_items_per_s), cold_start_ms: num(lat?.cold_start_ms), peak_rss_bytes: num(lat?.peak_rss_bytes),
    samples: lat ? lat.samples : null,
  };
}

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

export function flattenChecks(pairs: PairComparison[]): CompareCheck[] {
  return pairs.flatMap((p) => p.checks.map((c) => ({ ...c, subject: p.id })));
}

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
  const notApplicable = same ? undefined : 'different hardware';
  if (!same) {
    warnings.push(
      `base and head were measured on different hardware (base: ${baseReport.hardware.cpu}, ${baseReport.hardware.cores} cores, ${baseReport.hardware.arch}; ` +
        `head: ${headReport.hardware.cpu}, ${headReport.hardware.cores} cores, ${headReport.hardware.arch}): latency is reported, not gated`,
    );
  } else {
    warnings.push('base and head latencies come from separate runs, not interleaved: machine drift between the runs is not controlled for');
  }
  const threshold = latencyThreshold(gate);
  const pairs: PairComparison[] = [];
  const add = (id: PairComparison['id'], b: CandidateReport | undefined, h: CandidateReport | undefined) => {
    if (!b || !h) return;
    pairs.push(buildPair({
      id, base: sideFromReport(b), head: sideFromReport(h), agreement: null, sameData: false,
      latency: latencyFromReports(b, h, threshold, same), ...(notApplicable ? { latencyNotApplicable: notApplicable } : {}),
    }, gate, metric));
  };
  const find = (r: Report, id: string | null) => (id === null ? undefined : r.candidates.find((c) => c.id === id));
  add('reference', find(baseReport, baseReport.reference), find(headReport, headReport.reference));
  if (baseReport.selected && headReport.selected && !(baseReport.selected === baseReport.reference && headReport.selected === headReport.reference)) {
    add('selected', find(baseReport, baseReport.selected), find(headReport, headReport.selected));
  }
  if (pairs.length === 0) warnings.push('the base report has no reference candidate to compare with');
  return { comparison: pairs, checks: flattenChecks(pairs), warnings, sameHardware: same };
}
