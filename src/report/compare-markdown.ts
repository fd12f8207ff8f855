/** report.md and the CLI table for a compare: base → head for every metric of every compared pair. */
import { candidateRow, code, escapeMarkdown, formatBytes } from './markdown.js';
import type { CompareReport, PairComparison, SideMetrics } from './types.js';

type Row = { label: string; base: string; head: string; delta: string };

const signed = (v: number, digits: number, suffix = ''): string => {
  const s = v.toFixed(digits);
  return `${v > 0 ? '+' : ''}${/^-0\.?0*$/.test(s) ? s.slice(1) : s}${suffix}`;
};
const ms = (v: number | null) => (v === null ? '–' : `${v.toFixed(3)} ms`);
const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(2)}%`);
const ratioOf = (b: number | null, h: number | null) => (b !== null && h !== null && b > 0 ? ` (${(h / b).toFixed(2)}×)` : '');

function signedBytes(v: number): string {
  const abs = formatBytes(Math.abs(v));
  return v > 0 ? `+${abs}` : v < 0 ? `-${abs}` : '±0 B';
}

/** One row per metric; the latency row carries the interleaved ratio, its CI and the verdict. */
function pairRows(p: PairComparison): Row[] {
  const b: SideMetrics = p.base;
  const h: SideMetrics = p.head;
  const rows: Row[] = [
    { label: 'size', base: formatBytes(b.bytes), head: formatBytes(h.bytes), delta: `${signedBytes(h.bytes - b.bytes)}${ratioOf(b.bytes, h.bytes)}` },
  ];
  if (b.gzip_bytes !== null && h.gzip_bytes !== null) {
    rows.push({ label: 'gzip size', base: formatBytes(b.gzip_bytes), head: formatBytes(h.gzip_bytes), delta: `${signedBytes(h.gzip_bytes - b.gzip_bytes)}${ratioOf(b.gzip_bytes, h.gzip_bytes)}` });
  }
  if (b.accuracy !== null || h.accuracy !== null) {
    rows.push({ label: 'accuracy', base: pct(b.accuracy), head: pct(h.accuracy), delta: p.delta.accuracy === null ? '–' : signed(p.delta.accuracy * 100, 2, ' pt') });
  }
  if (b.mse !== null || h.mse !== null) {
    rows.push({ label: 'mse', base: b.mse === null ? '–' : b.mse.toPrecision(4), head: h.mse === null ? '–' : h.mse.toPrecision(4), delta: p.delta.mse === null ? '–' : signed(p.delta.mse, 6) });
  }
  const dq = p.decoder_quality;
  if (p.agreement !== null) rows.push({ label: dq ? 'next-token agreement with base' : 'top-1 agreement with base', base: '', head: pct(p.agreement), delta: '' });
  if (dq) rows.push({ label: 'logit SNR against base', base: '', head: dq.snr_db === null ? '∞ dB (identical)' : `${dq.snr_db.toFixed(1)} dB`, delta: '' });
  const verdict = (l: PairComparison['latency']) => (l
    ? `${l.ratio.toFixed(3)}× (95% CI ${l.ci95[0].toFixed(3)}–${l.ci95[1].toFixed(3)}): ${l.verdict}${l.gated ? '' : ', not gated'}` +
      `${(l.measurements ?? 1) > 1 ? `, median of ${l.measurements} measurements` : ''}` +
      `${l.control ? `; A/A control ${l.control.ratios.map((r) => `${r.toFixed(3)}×`).join(', ')} (σ ≈ ${(l.control.worker_sigma * 100).toFixed(1)}%)` : ''}`
    : '–');
  // A decoder's p50 is its prefill: the time to first token.
  const decoder = p.decode_latency !== undefined || dq !== undefined;
  rows.push({ label: decoder ? 'time to first token (p50)' : 'p50 latency', base: ms(b.p50_ms), head: ms(h.p50_ms), delta: verdict(p.latency) });
  if (p.decode_latency) rows.push({ label: 'decode time per token (p50)', base: ms(b.decode_ms_per_token ?? null), head: ms(h.decode_ms_per_token ?? null), delta: verdict(p.decode_latency) });
  rows.push({ label: 'p90 latency', base: ms(b.p90_ms), head: ms(h.p90_ms), delta: p.delta.p90_ms === null ? '–' : `${signed(p.delta.p90_ms, 3, ' ms')}${ratioOf(b.p90_ms, h.p90_ms)}` });
  rows.push({ label: 'p99 latency', base: ms(b.p99_ms), head: ms(h.p99_ms), delta: p.delta.p99_ms === null ? '–' : `${signed(p.delta.p99_ms, 3, ' ms')}${ratioOf(b.p99_ms, h.p99_ms)}` });
  const tp = (v: number | null) => (v === null ? '–' : `${v.toFixed(0)}/s`);
  rows.push({ label: 'throughput', base: tp(b.throughput_items_per_s), head: tp(h.throughput_items_per_s), delta: p.delta.throughput_items_per_s === null ? '–' : `${signed(p.delta.throughput_items_per_s, 0, '/s')}${ratioOf(b.throughput_items_per_s, h.throughput_items_per_s)}` });
  rows.push({ label: 'cold start', base: ms(b.cold_start_ms), head: ms(h.cold_start_ms), delta: p.delta.cold_start_ms === null ? '–' : signed(p.delta.cold_start_ms, 1, ' ms') });
  rows.push({
    label: 'peak RSS', base: b.peak_rss_bytes === null ? '–' : formatBytes(b.peak_rss_bytes), head: h.peak_rss_bytes === null ? '–' : formatBytes(h.peak_rss_bytes),
    delta: p.delta.peak_rss_bytes === null ? '–' : signedBytes(p.delta.peak_rss_bytes),
  });
  return rows;
}

function pairTitle(p: PairComparison): string {
  const names = p.base.candidate === p.head.candidate ? code(p.head.candidate) : `${code(p.base.candidate)} → ${code(p.head.candidate)}`;
  return p.id === 'reference' ? `the model (${names})` : `selected candidate (${names})`;
}

function headline(r: CompareReport): string {
  const base = `${code(r.base.ref)}${r.base.sha ? ` (${r.base.sha.slice(0, 8)})` : ''}`;
  if (typeof r.error === 'string') return `❌ **ModelGate compare error** against ${base}`;
  const failed = r.checks.filter((c) => !c.passed).length;
  if (r.base.missing !== undefined) return `${r.passed ? '✅' : '❌'} **ModelGate compare ${r.passed ? 'passed' : 'failed'}**: nothing to compare against at ${base}; head's own gate ${r.head.passed ? 'passed' : 'failed'}`;
  return r.passed
    ? `✅ **ModelGate compare passed**: no regression against ${base}`
    : `❌ **ModelGate compare failed**: ${failed} check${failed === 1 ? '' : 's'} failed against ${base}`;
}

export function renderCompareMarkdown(r: CompareReport): string {
  const lines: string[] = [`### ${headline(r)}`, ''];
  if (typeof r.error === 'string') lines.push(`> **Error:** ${escapeMarkdown(r.error)}`, '');
  if (r.base.missing !== undefined) lines.push(`> ${escapeMarkdown(r.base.missing)}`, '');
  for (const w of r.warnings) lines.push(`> ⚠️ ${escapeMarkdown(w)}`, '');
  for (const p of r.comparison) {
    lines.push(`#### Base → head: ${pairTitle(p)}`, '', '| metric | base | head | Δ |', '|---|---:|---:|---|');
    // Every cell is computed here from numbers and verdict names: nothing to escape.
    for (const row of pairRows(p)) lines.push(`| ${row.label} | ${row.base} | ${row.head} | ${row.delta} |`);
    lines.push('');
  }
  if (r.checks.length > 0) {
    lines.push('#### Checks', '');
    for (const c of r.checks) lines.push(`- ${c.passed ? '✅' : '❌'} ${escapeMarkdown(c.subject)} ${code(c.name)}: ${escapeMarkdown(c.message)}`);
    lines.push('');
  }
  if (r.candidates.length > 0) {
    const ref = r.candidates.find((c) => c.id === r.reference);
    lines.push(`<details><summary>Head candidates (head's own gate: ${r.head.passed ? `selected ${escapeMarkdown(r.head.selected ?? '')}` : 'no candidate passed'})</summary>`, '');
    lines.push('| candidate | size | accuracy | p50 latency | checks |', '|---|---:|---:|---:|---|');
    for (const c of r.candidates) lines.push(`| ${candidateRow(c, ref, r.selected).join(' | ')} |`);
    lines.push('', '</details>', '');
  }
  const hw = r.hardware;
  const shas = `base ${r.base.sha ? r.base.sha.slice(0, 8) : escapeMarkdown(r.base.ref)} → head ${r.head.sha ? r.head.sha.slice(0, 8) : 'working tree'}`;
  const took = typeof r.duration_s === 'number' ? ` · ${r.duration_s.toFixed(1)} s` : '';
  lines.push(`<sub>${shas} · ${escapeMarkdown(hw.cpu)} · ${hw.cores} cores · ${escapeMarkdown(hw.os)} ${escapeMarkdown(hw.arch)} · onnxruntime ${escapeMarkdown(r.runtime.onnxruntime)}${took}</sub>`);
  return lines.join('\n') + '\n';
}

/** The plain-text summary the CLI prints. */
export function renderCompareTable(r: CompareReport): string {
  const out: string[] = [];
  for (const p of r.comparison) {
    out.push(`${p.id === 'reference' ? 'model' : 'selected'}: ${p.base.candidate} -> ${p.head.candidate}`);
    const rows = pairRows(p).map((row) => [row.label, row.base, row.head, row.delta]);
    const table = [['metric', 'base', 'head', 'delta'], ...rows];
    const widths = [0, 1, 2].map((j) => Math.max(...table.map((t) => t[j]!.length)));
    for (const t of table) out.push(`  ${t[0]!.padEnd(widths[0]!)}  ${t[1]!.padStart(widths[1]!)}  ${t[2]!.padStart(widths[2]!)}  ${t[3]}`.trimEnd());
    out.push('');
  }
  for (const w of r.warnings) out.push(`warning: ${w}`);
  if (r.base.missing !== undefined) out.push(`base: ${r.base.missing}`);
  for (const c of r.checks) out.push(`${c.passed ? 'pass' : 'FAIL'}  ${c.subject} ${c.name}: ${c.message}`);
  const failed = r.checks.filter((c) => !c.passed).length;
  out.push('', typeof r.error === 'string' ? `ERROR: ${r.error}` : r.passed ? 'PASSED: no regression against base' : `FAILED: ${failed} check${failed === 1 ? '' : 's'} failed`);
  return out.join('\n');
}
