/**
 * The pull request comment (and job summary): built to be read in five seconds. The first lines say
 * passed or failed and how the selected model's size, accuracy and latency moved against the base (or
 * the reference model), each with a compressed-size-style emoji band; a table per candidate follows with
 * every check's verdict under a header that names its threshold; charts and the details a reviewer
 * digs into (Pareto front, runner, how to reproduce) come after, the details collapsed.
 *
 * The report may come from an untrusted artifact (mode: publish), so every string in it is escaped here
 * (mdText in markdown, htmlText in HTML blocks, mermaidLabel in charts); numbers are formatted here.
 */
import type { CandidateReport, CheckResult, Report } from './types.js';
import type { CompareCheck, PairComparison, SideMetrics } from './types.js';
import { formatBytes } from './markdown.js';
import { htmlText, mdText, plainText, shellWord } from './escape.js';
import { assumedInputsLines } from './assumed.js';
import { latencyChart, sizeAccuracyChart, type LatencyLike, type SizeAccuracyPoint } from './charts.js';

/** GitHub rejects issue comments longer than this (characters). */
export const COMMENT_LIMIT = 65_536;

// ---------------------------------------------------------------------------------------------
// Bands: one emoji per delta, so the eye finds the problem before reading a number.
// ---------------------------------------------------------------------------------------------

export type Band = '🎉' | '👏' | '🆗' | '⚠️' | '🚨';

/**
 * The bands, as documented in docs/reporting.md. Size is relative (like compressed-size-action), accuracy in
 * absolute percentage points, latency follows the benchmark's significance verdict. A failed check is always 🚨.
 */
export const BANDS = {
  size: { great: -0.5, better: -0.05, worse: 0.05, bad: 0.2 },
  /** Percentage points. */
  accuracy: { great: 1, better: 0.1, worse: -0.1, bad: -1 },
  /** mse, relative: lower is better. */
  mse: { better: -0.05, worse: 0.05, bad: 0.2 },
  /** A significant speed-up to half the time or less. */
  latencyGreat: 0.5,
} as const;

/** ratio = new bytes / old bytes. */
/** A relative change rounded to the 0.1% the comment prints, so a band never disagrees with its number. */
const shown = (ratio: number) => Math.round((ratio - 1) * 1000) / 1000;

export function sizeBand(ratio: number, failed = false): Band {
  const change = shown(ratio);
  if (failed || change > BANDS.size.bad) return '🚨';
  if (change > BANDS.size.worse) return '⚠️';
  if (change <= BANDS.size.great) return '🎉';
  if (change < BANDS.size.better) return '👏';
  return '🆗';
}

/**
 * deltaPoints = new − old accuracy in percentage points. With a budget, only a failed check is 🚨 (a drop
 * inside the budget is ⚠️); without one, a drop of a point or more is.
 */
export function accuracyBand(deltaPoints: number, failed = false, hasBudget = false): Band {
  if (failed) return '🚨';
  if (!hasBudget && deltaPoints <= BANDS.accuracy.bad) return '🚨';
  if (deltaPoints < BANDS.accuracy.worse) return '⚠️';
  if (deltaPoints >= BANDS.accuracy.great) return '🎉';
  if (deltaPoints > BANDS.accuracy.better) return '👏';
  return '🆗';
}

/** relative = new mse / old mse − 1 (lower mse is better). */
export function mseBand(relative: number, failed = false): Band {
  relative = shown(relative + 1);
  if (failed || relative > BANDS.mse.bad) return '🚨';
  if (relative > BANDS.mse.worse) return '⚠️';
  if (relative < BANDS.mse.better) return '👏';
  return '🆗';
}

/**
 * Latency trusts the verdict (the ratio's whole 95% CI against the threshold), not the point estimate:
 * a significant regression is 🚨, a significant improvement 👏 (🎉 at half the time or less), and a change
 * the data cannot separate from noise is 🆗, or ⚠️ when its point estimate alone is over the threshold.
 */
export function latencyBand(ratio: number, verdict: string | undefined, threshold: number | undefined, failed = false): Band {
  if (failed || verdict === 'significant regression') return '🚨';
  if (verdict === 'significant improvement') return ratio <= BANDS.latencyGreat ? '🎉' : '👏';
  if (threshold !== undefined && ratio > threshold) return '⚠️';
  return '🆗';
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
function signed(v: number, digits: number, suffix = ''): string {
  const s = v.toFixed(digits);
  const zero = /^-?0(\.0*)?$/.test(s);
  return `${zero ? '±' : v > 0 ? '+' : '−'}${s.replace(/^-/, '')}${suffix}`;
}
function ms(v: number): string {
  if (v < 1) return `${(v * 1000).toPrecision(3)} µs`;
  if (v < 1000) return `${v.toPrecision(3)} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}
/** 0.88 → "12% faster", 1.6 → "60% slower", 2.4 → "2.4× slower". */
function speed(ratio: number): string {
  if (ratio >= 2) return `${ratio.toFixed(1)}× slower`;
  if (ratio <= 0.5) return `${(1 / ratio).toFixed(1)}× faster`;
  const change = Math.round(Math.abs(ratio - 1) * 100);
  return change === 0 ? 'same speed' : `${change}% ${ratio > 1 ? 'slower' : 'faster'}`;
}
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const num = (v: unknown): number | undefined => (finite(v) ? v : undefined);
/** A sha from the report, shown only if it is one. */
const shortSha = (v: unknown): string | null => (typeof v === 'string' && /^[0-9a-f]{7,40}$/.test(v) ? v.slice(0, 8) : null);

/** One delta: band, the headline change, and where it came from. */
export interface Delta {
  band: Band;
  change: string;
  from: string;
  to: string;
}

interface Deltas {
  size?: Delta;
  accuracy?: Delta;
  latency?: Delta;
}

interface GateView {
  accuracyBudget?: number;
  latencyBudget?: number;
  sizeBudget?: number;
  metric?: string;
}

function gateView(report: Report): GateView {
  const g = (report.gate ?? {}) as Record<string, unknown>;
  return {
    accuracyBudget: num(g.accuracy_drop_max),
    latencyBudget: num(g.latency_ratio_max),
    sizeBudget: num(g.size_bytes_max),
    metric: typeof g.metric === 'string' ? g.metric : undefined,
  };
}

const failedCheck = (checks: readonly CheckResult[], name: string) => checks.some((c) => c.name === name && !c.passed);

function sizeDelta(from: number, to: number, failed: boolean): Delta | undefined {
  if (!(from > 0)) return undefined;
  const ratio = to / from;
  return { band: sizeBand(ratio, failed), change: signed((ratio - 1) * 100, 1, '%'), from: formatBytes(from), to: formatBytes(to) };
}

function qualityDelta(
  from: { accuracy: number | null; mse?: number | null },
  to: { accuracy: number | null; mse?: number | null; agreement?: number | null },
  failed: boolean,
  gate: GateView,
): Delta | undefined {
  if (from.accuracy !== null && to.accuracy !== null) {
    const points = (to.accuracy - from.accuracy) * 100;
    return { band: accuracyBand(points, failed, gate.accuracyBudget !== undefined), change: signed(points, 2, ' pt'), from: pct(from.accuracy), to: pct(to.accuracy) };
  }
  if (finite(from.mse) && finite(to.mse) && from.mse > 0) {
    const relative = to.mse / from.mse - 1;
    return { band: mseBand(relative, failed), change: `mse ${signed(relative * 100, 1, '%')}`, from: from.mse.toPrecision(4), to: to.mse.toPrecision(4) };
  }
  if (finite(to.agreement)) {
    return { band: failed ? '🚨' : to.agreement >= 0.999 ? '🆗' : '⚠️', change: `${pct(to.agreement)} agree`, from: 'top-1', to: 'agreement' };
  }
  return undefined;
}

function latencyDelta(
  fromMs: number | null | undefined,
  toMs: number | null | undefined,
  cmp: object | undefined,
  failed: boolean,
  threshold: number | undefined,
): Delta | undefined {
  const c = (cmp ?? {}) as { ratio?: unknown; verdict?: unknown; threshold?: unknown };
  const ratio = num(c.ratio) ?? (finite(fromMs) && finite(toMs) && fromMs > 0 ? toMs / fromMs : undefined);
  if (ratio === undefined) return undefined;
  const verdict = typeof c.verdict === 'string' ? c.verdict : undefined;
  const band = latencyBand(ratio, verdict, num(c.threshold) ?? threshold, failed);
  const noise = verdict === 'within noise' && band === '🆗' ? ' (noise)' : '';
  return {
    band,
    change: `${ratio.toFixed(2)}×${noise}`,
    from: finite(fromMs) ? ms(fromMs) : '–',
    to: finite(toMs) ? `${ms(toMs)}, ${speed(ratio)}` : speed(ratio),
  };
}

function candidateDeltas(c: CandidateReport, ref: CandidateReport, gate: GateView): Deltas {
  const isRef = c.id === ref.id;
  const out: Deltas = {};
  if (!isRef) {
    const size = sizeDelta(ref.bytes, c.bytes, failedCheck(c.checks, 'size_bytes_max'));
    if (size) out.size = size;
    const quality = qualityDelta(
      { accuracy: ref.accuracy, mse: num(ref.mse) ?? null },
      { accuracy: c.accuracy, mse: num(c.mse) ?? null, agreement: c.agreement },
      failedCheck(c.checks, 'accuracy_drop_max'),
      gate,
    );
    if (quality) out.accuracy = quality;
    const l = c.latency;
    const lat = latencyDelta(ref.latency?.p50_ms, l?.p50_ms, l ?? undefined, failedCheck(c.checks, 'latency_ratio_max'), gate.latencyBudget);
    if (lat && l && finite(l.ratio)) out.latency = lat;
  }
  return out;
}

function pairDeltas(p: PairComparison, gate: GateView): Deltas {
  const out: Deltas = {};
  const size = sizeDelta(p.base.bytes, p.head.bytes, failedCheck(p.checks, 'size_bytes_max'));
  if (size) out.size = size;
  const quality = qualityDelta(
    { accuracy: p.base.accuracy, mse: p.base.mse ?? null },
    { accuracy: p.head.accuracy, mse: p.head.mse ?? null, agreement: p.agreement ?? null },
    failedCheck(p.checks, 'accuracy_drop_max'),
    gate,
  );
  if (quality) out.accuracy = quality;
  const lat = latencyDelta(p.base.p50_ms, p.head.p50_ms, p.latency ?? undefined, failedCheck(p.checks, 'latency_ratio_max'), gate.latencyBudget);
  if (lat) out.latency = lat;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report shapes
// ---------------------------------------------------------------------------------------------

interface CompareView {
  base: { ref?: string; sha?: string | null; missing?: string; passed?: boolean; selected?: string | null };
  head: { sha?: string | null; passed?: boolean; selected?: string | null };
  comparison: PairComparison[];
  checks: CompareCheck[];
  warnings: string[];
}

/** The compare fields (src/report/compare-types.ts) when the report is a `modelgate compare` report. */
function compareView(report: Report): CompareView | undefined {
  if (!Array.isArray(report.comparison) || typeof report.base !== 'object' || report.base === null) return undefined;
  return {
    base: report.base as CompareView['base'],
    head: (typeof report.head === 'object' && report.head !== null ? report.head : {}) as CompareView['head'],
    comparison: report.comparison as PairComparison[],
    checks: Array.isArray(report.checks) ? (report.checks as CompareCheck[]) : [],
    warnings: Array.isArray(report.warnings) ? (report.warnings as unknown[]).filter((w): w is string => typeof w === 'string') : [],
  };
}

/** The pair the headline is about: each side's selected model, else the model itself. */
function headlinePair(view: CompareView): PairComparison | undefined {
  return view.comparison.find((p) => p.id === 'selected') ?? view.comparison.find((p) => p.id === 'reference');
}

/** Machine-readable deltas for the action's `deltas` output: the numbers behind the headline. */
export interface ReportDeltas {
  against: 'base' | 'reference';
  /** The model the numbers are for (head side), and what it is compared with. */
  candidate: string;
  compared_with: string;
  size?: { from_bytes: number; to_bytes: number; ratio: number };
  accuracy?: { from: number; to: number; delta: number };
  mse?: { from: number; to: number; ratio: number };
  latency?: { from_p50_ms: number | null; to_p50_ms: number | null; ratio: number; ci95: [number, number] | null; verdict: string | null };
}

export function reportDeltas(report: Report): ReportDeltas | null {
  const view = compareView(report);
  const pair = view ? headlinePair(view) : undefined;
  if (pair) {
    const out: ReportDeltas = { against: 'base', candidate: pair.head.candidate, compared_with: pair.base.candidate };
    if (pair.base.bytes > 0) out.size = { from_bytes: pair.base.bytes, to_bytes: pair.head.bytes, ratio: pair.head.bytes / pair.base.bytes };
    if (pair.base.accuracy !== null && pair.head.accuracy !== null) out.accuracy = { from: pair.base.accuracy, to: pair.head.accuracy, delta: pair.head.accuracy - pair.base.accuracy };
    if (finite(pair.base.mse) && finite(pair.head.mse) && pair.base.mse > 0) out.mse = { from: pair.base.mse, to: pair.head.mse, ratio: pair.head.mse / pair.base.mse };
    if (pair.latency) out.latency = { from_p50_ms: pair.base.p50_ms, to_p50_ms: pair.head.p50_ms, ratio: pair.latency.ratio, ci95: pair.latency.ci95, verdict: pair.latency.verdict };
    return out;
  }
  const ref = report.candidates.find((c) => c.id === report.reference);
  const sel = report.candidates.find((c) => c.id === report.selected);
  if (!ref || !sel) return null;
  const out: ReportDeltas = { against: 'reference', candidate: sel.id, compared_with: ref.id };
  if (ref.bytes > 0) out.size = { from_bytes: ref.bytes, to_bytes: sel.bytes, ratio: sel.bytes / ref.bytes };
  if (ref.accuracy !== null && sel.accuracy !== null) out.accuracy = { from: ref.accuracy, to: sel.accuracy, delta: sel.accuracy - ref.accuracy };
  if (finite(ref.mse) && finite(sel.mse) && ref.mse > 0) out.mse = { from: ref.mse, to: sel.mse, ratio: sel.mse / ref.mse };
  const l = sel.latency;
  if (l && finite(l.ratio) && sel.id !== ref.id) {
    const ci = Array.isArray(l.ratio_ci95) && l.ratio_ci95.length === 2 ? (l.ratio_ci95 as [number, number]) : null;
    out.latency = { from_p50_ms: ref.latency?.p50_ms ?? null, to_p50_ms: l.p50_ms, ratio: l.ratio, ci95: ci, verdict: typeof l.verdict === 'string' ? l.verdict : null };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------------------------

/** How much to show: the renderer steps down these levels until the comment fits. */
interface Level {
  charts: boolean;
  details: boolean;
  /** Candidate rows in a table. */
  rows: number;
  /** Failed-check messages listed. */
  messages: number;
}
const LEVELS: Level[] = [
  { charts: true, details: true, rows: 1000, messages: 40 },
  { charts: true, details: true, rows: 60, messages: 20 },
  { charts: true, details: false, rows: 30, messages: 10 },
  { charts: false, details: false, rows: 12, messages: 5 },
  { charts: false, details: false, rows: 0, messages: 3 },
];

function scoreCell(d: Delta | undefined): string {
  if (!d) return '–';
  return `${d.band} **${d.change}**<br><sub>${d.from} → ${d.to}</sub>`;
}

/** The three big numbers under the headline. */
function scoreboard(d: Deltas): string[] {
  if (!d.size && !d.accuracy && !d.latency) return [];
  return ['| size | accuracy | p50 latency |', '|:-:|:-:|:-:|', `| ${scoreCell(d.size)} | ${scoreCell(d.accuracy)} | ${scoreCell(d.latency)} |`, ''];
}

/** A check named after its budget, for prose: "p50 ≤ 1.10×". */
function checkHeader(name: string, gate: GateView): string {
  if (name === 'accuracy_drop_max' && gate.accuracyBudget !== undefined) {
    return gate.metric === 'mse' ? `mse rise ≤ ${gate.accuracyBudget}` : `accuracy drop ≤ ${+(gate.accuracyBudget * 100).toFixed(3)} pt`;
  }
  if (name === 'latency_ratio_max' && gate.latencyBudget !== undefined) return `p50 ≤ ${gate.latencyBudget.toFixed(2)}×`;
  if (name === 'size_bytes_max' && gate.sizeBudget !== undefined) return `size ≤ ${formatBytes(gate.sizeBudget)}`;
  if (name === 'build') return 'builds';
  return mdText(name, 40);
}

/** The metric column each budget's verdict is shown in. */
const METRIC_OF_CHECK: Record<string, 'size' | 'accuracy' | 'latency'> = {
  size_bytes_max: 'size',
  accuracy_drop_max: 'accuracy',
  latency_ratio_max: 'latency',
};

interface Cell {
  value: string;
  delta?: Delta;
}

interface Row {
  mark: string;
  label: string;
  size: Cell;
  accuracy: Cell;
  latency: Cell;
  checks: readonly CheckResult[];
}

const EMPTY: Cell = { value: '–' };
const cell = (value: string, delta: Delta | undefined): Cell => (delta ? { value, delta } : { value });

function candidateRow(c: CandidateReport, ref: CandidateReport | undefined, selected: string | null, gate: GateView): Row {
  const d = ref ? candidateDeltas(c, ref, gate) : {};
  const passed = c.checks.every((k) => k.passed) && !c.error;
  const isRef = ref !== undefined && c.id === ref.id;
  const quality = c.accuracy !== null ? pct(c.accuracy) : finite(c.mse) ? `mse ${c.mse.toPrecision(4)}` : c.agreement !== null ? `${pct(c.agreement)} agree` : '–';
  const l = c.latency;
  return {
    mark: c.id === selected ? '⭐' : passed ? '✅' : '❌',
    label: `${c.id === selected ? `**${mdText(c.id, 60)}**` : mdText(c.id, 60)}${isRef && c.id !== 'reference' ? '<br><sub>reference</sub>' : ''}`,
    size: c.error && c.bytes === 0 ? EMPTY : cell(formatBytes(c.bytes), d.size),
    accuracy: c.error ? EMPTY : cell(quality, d.accuracy),
    latency: l ? cell(ms(l.p50_ms), d.latency) : EMPTY,
    checks: c.checks,
  };
}

function metricHeader(metric: 'size' | 'accuracy' | 'latency', gate: GateView, against: string): string {
  if (metric === 'size') return `size${gate.sizeBudget !== undefined ? `<br><sub>budget ≤ ${formatBytes(gate.sizeBudget)}</sub>` : ''}`;
  if (metric === 'accuracy') {
    const budget = gate.accuracyBudget;
    if (budget === undefined) return 'accuracy';
    return `accuracy<br><sub>${gate.metric === 'mse' ? `mse rise ≤ ${budget}` : `drop ≤ ${+(budget * 100).toFixed(3)} pt`}</sub>`;
  }
  return `p50 latency${gate.latencyBudget !== undefined ? `<br><sub>≤ ${gate.latencyBudget.toFixed(2)}× ${against}</sub>` : ''}`;
}

/** A metric cell: the check's verdict (when that metric is gated), the value, and the band and change under it. */
function renderCell(c: Cell, check: CheckResult | undefined): string {
  const verdict = check ? `${check.passed ? '✅' : '❌'} ` : '';
  return `${verdict}${c.value}${c.delta ? `<br><sub>${c.delta.band} ${c.delta.change}</sub>` : ''}`;
}

/**
 * A row per candidate (or per base/head pair). A budget's verdict sits in its metric's column, under a header
 * that names the threshold; checks that belong to no metric column (a build failure) get a column of their own.
 */
function table(rows: Row[], gate: GateView, firstColumn: string, limit: number, against = 'ref'): string[] {
  if (rows.length === 0 || limit === 0) return [];
  const shown = rows.slice(0, limit);
  const other = shown.some((r) => r.checks.some((k) => !METRIC_OF_CHECK[k.name]));
  const lines = [
    `| | ${firstColumn} | ${metricHeader('size', gate, against)} | ${metricHeader('accuracy', gate, against)} | ${metricHeader('latency', gate, against)} |${other ? ' other checks |' : ''}`,
    `|:-:|---|--:|--:|--:|${other ? '---|' : ''}`,
  ];
  for (const r of shown) {
    const find = (metric: string) => r.checks.find((k) => METRIC_OF_CHECK[k.name] === metric);
    const rest = r.checks.filter((k) => !METRIC_OF_CHECK[k.name]).map((k) => `${k.passed ? '✅' : '❌'} ${checkHeader(k.name, gate)}`);
    lines.push(
      `| ${r.mark} | ${r.label} | ${renderCell(r.size, find('size'))} | ${renderCell(r.accuracy, find('accuracy'))} | ${renderCell(r.latency, find('latency'))} |${other ? ` ${rest.join('<br>')} |` : ''}`,
    );
  }
  if (rows.length > shown.length) lines.push('', `*${rows.length - shown.length} more not shown here: see the job summary or report.json in the artifact.*`);
  lines.push('');
  return lines;
}

function failedMessages(items: Array<{ who: string; check: CheckResult }>, gate: GateView, limit: number): string[] {
  const failed = items.filter((i) => !i.check.passed);
  if (failed.length === 0 || limit === 0) return [];
  const lines = failed.slice(0, limit).map((i) => `> ❌ **${i.who}** · ${checkHeader(i.check.name, gate)}: ${mdText(i.check.message, 300)}<br>`);
  if (failed.length > limit) lines.push(`> *…and ${failed.length - limit} more failed checks.*`);
  return [...lines, ''];
}

function details(summary: string, body: string[]): string[] {
  return [`<details><summary>${summary}</summary>`, '', ...body, '', '</details>', ''];
}

function qualityOf(c: CandidateReport): number | null {
  if (c.accuracy !== null) return c.accuracy;
  if (finite(c.mse)) return -c.mse;
  return c.agreement;
}

/** Candidates no other candidate beats on size, quality and p50 at once. */
export function paretoFront(candidates: CandidateReport[]): CandidateReport[] {
  const ok = candidates.filter((c) => !c.error && c.latency && qualityOf(c) !== null);
  const q = (c: CandidateReport) => qualityOf(c) ?? -Infinity;
  const p = (c: CandidateReport) => c.latency?.p50_ms ?? Infinity;
  const dominates = (a: CandidateReport, b: CandidateReport) =>
    a.bytes <= b.bytes && q(a) >= q(b) && p(a) <= p(b) && (a.bytes < b.bytes || q(a) > q(b) || p(a) < p(b));
  return ok.filter((c) => !ok.some((o) => o !== c && dominates(o, c))).sort((a, b) => a.bytes - b.bytes);
}

function paretoDetails(report: Report, gate: GateView, limit: number): string[] {
  const front = paretoFront(report.candidates);
  if (front.length === 0) return [];
  const ref = report.candidates.find((c) => c.id === report.reference);
  const rows = front.map((c) => candidateRow(c, ref, report.selected, gate));
  return details(
    `Pareto front: ${front.length} of ${report.candidates.length} candidates`,
    ['No other candidate is smaller, more accurate and faster at once.', '', ...table(rows, gate, 'candidate', limit)],
  );
}

function runnerDetails(report: Report, extra: Array<[string, string]> = []): string[] {
  const hw = report.hardware;
  const isa = hw.isa && typeof hw.isa === 'object' ? Object.entries(hw.isa as Record<string, unknown>).filter(([, v]) => v === true).map(([k]) => k) : [];
  const runtimes = Object.entries(report.runtime)
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `${mdText(k, 30)} ${mdText(v, 80)}`);
  const rows: Array<[string, string]> = [
    ['CPU', `${mdText(hw.cpu, 120)} (${finite(hw.cores) ? hw.cores : '?'} logical cores)`],
    ['OS / arch', `${mdText(hw.os, 120)} / ${mdText(hw.arch, 30)}`],
  ];
  if (finite(hw.memory_bytes)) rows.push(['memory', `${(hw.memory_bytes / 2 ** 30).toFixed(1)} GiB`]);
  if (isa.length > 0) rows.push(['ISA', mdText(isa.join(' '), 300)]);
  if (typeof hw.node === 'string') rows.push(['node', mdText(hw.node, 40)]);
  if (runtimes.length > 0) rows.push(['runtimes', runtimes.join(', ')]);
  rows.push(['ModelGate', `${mdText(report.tool.name, 40)} ${mdText(report.tool.version, 40)}`]);
  const lat = report.candidates.find((c) => c.latency)?.latency;
  if (lat) rows.push(['benchmark', `batch ${lat.batch}, ${lat.threads} thread${lat.threads === 1 ? '' : 's'}, ${lat.samples} timed runs per model`]);
  const dataset = report.dataset as { samples?: unknown } | undefined;
  if (dataset && finite(dataset.samples)) rows.push(['dataset', `${dataset.samples} samples`]);
  rows.push(...extra);
  return details(`Runner: ${htmlText(hw.cpu, 60)}, ${htmlText(hw.os.split(' ')[0], 20)} ${htmlText(hw.arch, 20)}`, [
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  ]);
}

function reproduceDetails(report: Report, view: CompareView | undefined): string[] {
  const config = shellWord(report.config) ?? 'modelgate.yml';
  const base = view ? shellWord(view.base.ref) : null;
  const command = view && base ? `npx modelgate compare --config ${config} --base ${base}` : `npx modelgate run --config ${config}`;
  return details('How to reproduce', [
    'On a machine like the runner above (latency depends on the CPU):',
    '',
    '```sh',
    command,
    '```',
    '',
    'It writes `modelgate-out/report.json` (every number here) and `report.md`.',
  ]);
}

/**
 * The latency chart for the headline pair, and size against quality for the candidates. The centre of the
 * second is the reference, or for a comparison the base's model, so "below the middle" means "worse than
 * before this PR".
 */
function charts(
  pairBars: { label: string; latency: LatencyLike } | undefined,
  pairLine: { label: string; latency: LatencyLike } | undefined,
  report: Report,
  baseCentre?: { label: string; bytes: number; accuracy: number | null },
): string[] {
  const out: string[] = [];
  if (pairBars && pairLine) {
    const chart = latencyChart(pairBars, pairLine);
    if (chart) out.push(chart, '');
  }
  const ref = report.candidates.find((c) => c.id === report.reference);
  const refQuality = ref ? qualityOf(ref) : null;
  if (ref && refQuality !== null) {
    const useBase = baseCentre !== undefined && baseCentre.accuracy !== null && ref.accuracy !== null;
    const points: SizeAccuracyPoint[] = report.candidates
      .filter((c) => (useBase || c !== ref) && !c.error && qualityOf(c) !== null && c.bytes > 0)
      .slice(0, 40)
      .map((c) => ({ label: c.id, bytes: c.bytes, quality: qualityOf(c)! }));
    const name = ref.accuracy !== null ? 'accuracy' : finite(ref.mse) ? 'quality' : 'agreement';
    const centre = useBase ? { label: 'base model', bytes: baseCentre.bytes, quality: baseCentre.accuracy! } : { label: ref.id, bytes: ref.bytes, quality: refQuality };
    const chart = sizeAccuracyChart(centre, points, name);
    if (chart) out.push(chart, '');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One report
// ---------------------------------------------------------------------------------------------

export interface CommentOptions {
  /** Link to the workflow run, where the job summary and the artifact are. */
  runUrl?: string;
  /** The artifact holding report.json. */
  artifactName?: string;
  /** The budget for the whole comment, marker included (the caller adds it). Default: GitHub's limit minus room for the marker. */
  limit?: number;
  /** A line under the headline, e.g. the config path. Escaped here. */
  subtitle?: string;
}

function trimNotice(options: CommentOptions): string {
  const where = options.runUrl ? `[job summary](${options.runUrl})` : 'job summary';
  const artifact = options.artifactName ? ` and in report.json in the **${mdText(options.artifactName, 120)}** artifact` : ' and in report.json';
  return `> [!NOTE]\n> Shortened to fit GitHub's 65,536-character comment limit. The full report is in the ${where}${artifact}.`;
}

/** Where the rest lives: the run (job summary, logs) and the artifact with report.json and the models. */
function footer(options: CommentOptions): string {
  const parts: string[] = [];
  if (options.runUrl) parts.push(`[workflow run and job summary](${options.runUrl})`);
  if (options.artifactName) parts.push(`report.json in the **${mdText(options.artifactName, 120)}** artifact`);
  return `<sub>Full report: ${parts.join(' · ')}</sub>`;
}

function subtitleLine(report: Report, options: CommentOptions, extra: string[]): string {
  const parts: string[] = [];
  if (options.subtitle) parts.push(mdText(options.subtitle, 120));
  else if (typeof report.config === 'string') parts.push(mdText(report.config, 120));
  parts.push(...extra);
  const hw = report.hardware;
  parts.push(`${mdText(hw.os.split(' ')[0], 20)} ${mdText(hw.arch, 20)}, ${mdText(hw.cpu, 60)}`);
  return `<sub>${parts.join(' · ')}</sub>`;
}

function renderRunReport(report: Report, level: Level, options: CommentOptions): string[] {
  const gate = gateView(report);
  const ref = report.candidates.find((c) => c.id === report.reference);
  const sel = report.candidates.find((c) => c.id === report.selected);
  const lines: string[] = [];
  const count = `${report.candidates.length} candidate${report.candidates.length === 1 ? '' : 's'}`;
  if (typeof report.error === 'string') {
    lines.push('### 💥 ModelGate could not run', '', subtitleLine(report, options, []), '', `> ${mdText(report.error, 2000)}`, '');
  } else if (report.passed && sel) {
    const what = sel.id === report.reference ? `kept **${mdText(sel.id, 60)}**: no optimized candidate passed` : `selected **${mdText(sel.id, 60)}**`;
    lines.push(`### ✅ ModelGate passed: ${what}`, '', subtitleLine(report, options, [count, 'against the reference model']), '');
  } else {
    const failedNames = [...new Set(report.candidates.flatMap((c) => c.checks.filter((k) => !k.passed).map((k) => checkHeader(k.name, gate))))];
    lines.push(`### ❌ ModelGate failed: no candidate passed the gate`, '', subtitleLine(report, options, [count, failedNames.length ? `failing: ${failedNames.slice(0, 4).join(', ')}` : '']), '');
  }
  lines.push(...assumedInputsLines(report));
  if (sel && ref && sel !== ref) lines.push(...scoreboard(candidateDeltas(sel, ref, gate)));
  const rows = report.candidates.map((c) => candidateRow(c, ref, report.selected, gate));
  lines.push(...table(rows, gate, 'candidate', level.rows));
  lines.push(...failedMessages(report.candidates.flatMap((c) => c.checks.map((check) => ({ who: mdText(c.id, 60), check }))), gate, level.messages));
  if (level.charts) {
    const line = sel && sel !== ref ? sel : report.candidates.find((c) => c !== ref && c.latency);
    lines.push(
      ...charts(ref?.latency ? { label: ref.id, latency: ref.latency } : undefined, line?.latency ? { label: line.id, latency: line.latency } : undefined, report),
    );
  }
  if (level.details) {
    lines.push(...paretoDetails(report, gate, Math.min(level.rows, 30)));
    lines.push(...runnerDetails(report));
    lines.push(...reproduceDetails(report, undefined));
  }
  return lines;
}

function pairRow(p: PairComparison, gate: GateView): Row {
  const d = pairDeltas(p, gate);
  const names = p.base.candidate === p.head.candidate ? mdText(p.head.candidate, 40) : `${mdText(p.base.candidate, 40)} → ${mdText(p.head.candidate, 40)}`;
  const quality = (s: SideMetrics) => (s.accuracy !== null ? pct(s.accuracy) : finite(s.mse) ? `mse ${s.mse.toPrecision(4)}` : '–');
  return {
    mark: p.checks.every((c) => c.passed) ? '✅' : '❌',
    label: `${names}<br><sub>${p.id === 'reference' ? 'the model itself' : 'selected candidate'}</sub>`,
    size: cell(formatBytes(p.head.bytes), d.size),
    accuracy: cell(quality(p.head), d.accuracy),
    latency: finite(p.head.p50_ms) ? cell(ms(p.head.p50_ms), d.latency) : EMPTY,
    checks: p.checks,
  };
}

/** "accuracy −5.10 pt, p50 1.63×": the failed budgets of the headline pair, as the changes that failed them. */
function worseWhat(view: CompareView, gate: GateView): string {
  const pair = headlinePair(view);
  const failed = pair ? pair.checks.filter((c) => !c.passed) : [];
  const d = pair ? pairDeltas(pair, gate) : {};
  const words = failed.map((c) => {
    const metric = METRIC_OF_CHECK[c.name];
    const delta = metric ? d[metric] : undefined;
    if (!delta) return checkHeader(c.name, gate);
    return metric === 'latency' ? `p50 ${delta.change}` : `${metric} ${delta.change}`;
  });
  if (words.length > 0) return [...new Set(words)].join(', ');
  return [...new Set(view.checks.filter((c) => !c.passed && c.subject !== 'head').map((c) => checkHeader(c.name, gate)))].slice(0, 3).join(', ');
}

function renderCompareReport(report: Report, view: CompareView, level: Level, options: CommentOptions): string[] {
  const gate = gateView(report);
  const base = `**${mdText(view.base.ref ?? 'base', 60)}**${shortSha(view.base.sha) ? ` (${shortSha(view.base.sha)})` : ''}`;
  const pairFailures = view.checks.filter((c) => !c.passed && c.subject !== 'head');
  const lines: string[] = [];
  const against = [`against base ${base}${shortSha(view.head.sha) ? ` → ${shortSha(view.head.sha)}` : ''}`];
  if (typeof report.error === 'string') {
    lines.push('### 💥 ModelGate could not compare', '', subtitleLine(report, options, against), '', `> ${mdText(report.error, 2000)}`, '');
  } else if (pairFailures.length > 0) {
    lines.push(`### ❌ ModelGate: this PR makes the model worse: ${worseWhat(view, gate)}`, '', subtitleLine(report, options, against), '');
  } else if (view.base.missing !== undefined) {
    const verdict = report.passed ? '✅ ModelGate passed' : '❌ ModelGate failed: no candidate passed the gate';
    lines.push(`### ${verdict} (the base was not available; the head was gated on its own)`, '', subtitleLine(report, options, against), '', `> ${mdText(view.base.missing, 300)}`, '');
  } else if (!report.passed) {
    lines.push('### ❌ ModelGate failed: no candidate passed the gate', '', subtitleLine(report, options, against), '');
  } else {
    lines.push('### ✅ ModelGate: no regression against base', '', subtitleLine(report, options, against), '');
  }
  for (const w of view.warnings.slice(0, 5)) lines.push(`> ⚠️ ${mdText(w, 300)}`, '');
  lines.push(...assumedInputsLines(report));
  const pair = headlinePair(view);
  if (pair) lines.push(...scoreboard(pairDeltas(pair, gate)));
  lines.push(...table(view.comparison.map((p) => pairRow(p, gate)), gate, 'head vs base', level.rows, 'base'));
  lines.push(...failedMessages(view.checks.map((check) => ({ who: mdText(check.subject ?? '', 20), check })), gate, level.messages));
  if (level.charts) {
    const refPair = view.comparison.find((p) => p.id === 'reference');
    const centre = refPair ? { label: refPair.base.candidate, bytes: refPair.base.bytes, accuracy: refPair.base.accuracy } : undefined;
    lines.push(...charts(pair ? { label: 'base', latency: pair.base } : undefined, pair ? { label: 'head', latency: pair.head } : undefined, report, centre));
  }
  if (level.details) {
    const ref = report.candidates.find((c) => c.id === report.reference);
    if (report.candidates.length > 0 && level.rows > 0) {
      const rows = report.candidates.map((c) => candidateRow(c, ref, report.selected, gate));
      lines.push(...details(`Head's candidates against its reference (${report.candidates.length})`, table(rows, gate, 'candidate', level.rows)));
    }
    lines.push(...paretoDetails(report, gate, Math.min(level.rows, 30)));
    lines.push(...runnerDetails(report));
    lines.push(...reproduceDetails(report, view));
  }
  return lines;
}

/** Steps down the levels until the body fits, adding the notice whenever anything was left out. */
function fit(render: (level: Level) => string[], options: CommentOptions): string {
  const limit = options.limit ?? COMMENT_LIMIT - 200;
  let last = '';
  for (const [i, level] of LEVELS.entries()) {
    const lines = render(level);
    if (i > 0) lines.push(trimNotice(options), '');
    else if (options.runUrl || options.artifactName) lines.push(footer(options), '');
    last = lines.join('\n').replace(/\n{3,}/g, '\n\n');
    if (last.length <= limit) return last;
  }
  // Only a report whose single strings are huge gets here: every string is already capped, so cut at a line.
  const notice = trimNotice(options);
  const cut = last.lastIndexOf('\n', limit - notice.length - 4);
  return `${last.slice(0, Math.max(0, cut))}\n\n${notice}\n`;
}

/** The comment body for one report (the caller adds the sticky marker). */
export function renderComment(report: Report, options: CommentOptions = {}): string {
  const view = compareView(report);
  return fit((level) => (view ? renderCompareReport(report, view, level, options) : renderRunReport(report, level, options)), options);
}

// ---------------------------------------------------------------------------------------------
// Several runners (mode: merge, or publish of a matrix)
// ---------------------------------------------------------------------------------------------

export interface Leg {
  /** The leg's publish key (artifact modelgate-<key>). */
  key: string;
  report: Report;
  /** RUNNER_OS / RUNNER_ARCH / RUNNER_NAME of the leg, when it recorded them. */
  runner?: { os?: string; arch?: string; name?: string };
}

function legPassed(leg: Leg): boolean {
  return leg.report.passed && typeof leg.report.error !== 'string';
}

function legHeader(leg: Leg): string {
  const hw = leg.report.hardware;
  const os = leg.runner?.os || hw.os.split(' ')[0] || '';
  const arch = leg.runner?.arch || hw.arch;
  return `**${mdText(leg.key, 40)}**<br><sub>${mdText(`${os} ${arch}`.trim(), 30)} · ${mdText(hw.cpu, 40)}</sub>`;
}

function legCell(leg: Leg, id: string): string {
  const r = leg.report;
  const c = r.candidates.find((x) => x.id === id);
  if (!c) return '–';
  const ref = r.candidates.find((x) => x.id === r.reference);
  const gate = gateView(r);
  const d = ref ? candidateDeltas(c, ref, gate) : {};
  const passed = c.checks.every((k) => k.passed) && !c.error;
  const mark = c.id === r.selected ? '⭐' : passed ? '✅' : '❌';
  const latency = c.latency ? (d.latency ? `${d.latency.band} ${d.latency.change}` : ms(c.latency.p50_ms)) : '–';
  const failed = c.checks.filter((k) => !k.passed).map((k) => checkHeader(k.name, gate));
  return `${mark} ${latency}${d.accuracy ? ` · ${d.accuracy.band} ${d.accuracy.change}` : ''}${failed.length ? `<br><sub>❌ ${failed.join(', ')}</sub>` : ''}`;
}

/** ONE comment for several legs: a column per runner, failing when any leg fails. */
export function renderMergedComment(legs: Leg[], options: CommentOptions = {}): string {
  const sorted = [...legs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const failed = sorted.filter((l) => !legPassed(l));
  return fit((level) => {
    const lines: string[] = [];
    const n = sorted.length;
    lines.push(
      failed.length === 0
        ? `### ✅ ModelGate passed on all ${n} runner${n === 1 ? '' : 's'}`
        : `### ❌ ModelGate failed on ${failed.length} of ${n} runner${n === 1 ? '' : 's'}: ${failed.map((l) => `**${mdText(l.key, 40)}**`).join(', ')}`,
      '',
    );
    if (options.subtitle) lines.push(`<sub>${mdText(options.subtitle, 120)}</sub>`, '');
    const columns = sorted.slice(0, 20);
    const ids: string[] = [];
    for (const leg of columns) for (const c of leg.report.candidates) if (!ids.includes(c.id)) ids.push(c.id);
    lines.push(`| | ${columns.map(legHeader).join(' | ')} |`, `|---|${columns.map(() => ':-:|').join('')}`);
    lines.push(`| **gate** | ${columns.map((l) => (typeof l.report.error === 'string' ? '💥 error' : legPassed(l) ? '✅ passed' : '❌ failed')).join(' | ')} |`);
    lines.push(`| **selected** | ${columns.map((l) => (l.report.selected ? `⭐ ${mdText(l.report.selected, 40)}` : '–')).join(' | ')} |`);
    const sizeOf = (l: Leg) => {
      const r = l.report;
      const sel = r.candidates.find((c) => c.id === r.selected);
      const ref = r.candidates.find((c) => c.id === r.reference);
      const d = sel && ref && sel !== ref ? sizeDelta(ref.bytes, sel.bytes, false) : undefined;
      return sel ? `${formatBytes(sel.bytes)}${d ? ` ${d.band} ${d.change}` : ''}` : '–';
    };
    lines.push(`| **selected size** | ${columns.map(sizeOf).join(' | ')} |`);
    for (const id of ids.slice(0, level.rows)) lines.push(`| ${mdText(id, 40)} | ${columns.map((l) => legCell(l, id)).join(' | ')} |`);
    if (ids.length > level.rows) lines.push('', `*${ids.length - level.rows} more candidates in each runner's report.*`);
    lines.push('', '<sub>Per candidate: p50 latency against the reference on that runner · accuracy change · ⭐ selected, ✅ passed, ❌ failed.</sub>', '');
    if (sorted.length > columns.length) lines.push(`*${sorted.length - columns.length} more runners are in the job summary.*`, '');
    for (const leg of failed.slice(0, 10)) {
      const gate = gateView(leg.report);
      if (typeof leg.report.error === 'string') lines.push(`> 💥 **${mdText(leg.key, 40)}**: ${mdText(leg.report.error, 500)}`, '');
      lines.push(...failedMessages(leg.report.candidates.flatMap((c) => c.checks.map((check) => ({ who: `${mdText(leg.key, 40)} · ${mdText(c.id, 40)}`, check }))), gate, level.messages));
    }
    if (level.details) {
      for (const leg of sorted) {
        const body = renderRunReport(leg.report, { ...level, charts: false }, {}).filter((l) => !l.startsWith('### '));
        lines.push(...details(`${legPassed(leg) ? '✅' : '❌'} ${htmlText(leg.key, 40)}: ${htmlText(leg.report.hardware.cpu, 60)}`, body));
      }
    }
    return lines;
  }, options);
}
