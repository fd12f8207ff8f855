/** report.md: the human view of report.json. Everything that comes from the model or config is escaped. */
import type { CandidateReport, Report } from './types.js';

/** Escapes text for a GFM table cell or line: no HTML, no links, no table breaks. */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\\`*_{}[\]()#+!|<>~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/\r?\n/g, ' ');
}

/** Inline code: backticks cannot close it early, and nothing inside is interpreted. */
export function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\r?\n/g, ' ')}\``;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}

const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(2)}%`);

function signed(v: number, digits: number, suffix = ''): string {
  const s = v.toFixed(digits);
  return `${v > 0 ? '+' : ''}${s === `-${(0).toFixed(digits)}` ? (0).toFixed(digits) : s}${suffix}`;
}

export function candidateRow(c: CandidateReport, ref: CandidateReport | undefined, selected: string | null): string[] {
  const isRef = ref !== undefined && c.id === ref.id;
  const sizeDelta = ref && !isRef && ref.bytes > 0 ? ` (${(c.bytes / ref.bytes).toFixed(2)}×)` : '';
  const acc = c.accuracy ?? c.agreement;
  const refAcc = ref ? (c.accuracy !== null ? ref.accuracy : null) : null;
  const accDelta = !isRef && acc !== null && refAcc !== null ? ` (${signed((acc - refAcc) * 100, 2, ' pt')})` : '';
  const lat = c.latency;
  const ratio = typeof lat?.ratio === 'number' ? ` (${(lat.ratio as number).toFixed(2)}×)` : '';
  const failed = c.checks.filter((k) => !k.passed);
  const verdict = failed.length === 0 ? '✅ pass' : `❌ ${failed.map((k) => escapeMarkdown(k.name)).join(', ')}`;
  const label = isRef && c.id !== 'reference' ? `${escapeMarkdown(c.id)} (reference)` : escapeMarkdown(c.id);
  const name = c.id === selected ? `**${label}** ⭐` : label;
  return [
    name,
    `${formatBytes(c.bytes)}${sizeDelta}`,
    `${c.accuracy !== null ? pct(c.accuracy) : c.agreement !== null ? `${pct(c.agreement)} agree` : '–'}${accDelta}`,
    lat ? `${lat.p50_ms.toFixed(3)} ms${ratio}` : '–',
    verdict,
  ];
}

export function renderMarkdown(report: Report): string {
  const ref = report.candidates.find((c) => c.id === report.reference);
  const lines: string[] = [];
  const head = report.passed
    ? `✅ **ModelGate passed**: selected ${code(report.selected ?? '')}`
    : `❌ **ModelGate failed**: no candidate passed every check`;
  lines.push(`### ${head}`, '');
  if (typeof report.error === 'string') lines.push(`> **Error:** ${escapeMarkdown(report.error)}`, '');
  if (report.candidates.length > 0) {
    lines.push('| candidate | size | accuracy | p50 latency | checks |', '|---|---:|---:|---:|---|');
    for (const c of report.candidates) lines.push(`| ${candidateRow(c, ref, report.selected).join(' | ')} |`);
    lines.push('');
    const failing = report.candidates.flatMap((c) => c.checks.filter((k) => !k.passed).map((k) => `- ${code(c.id)} ${code(k.name)}: ${escapeMarkdown(k.message)}`));
    if (failing.length > 0) lines.push('<details><summary>Failed checks</summary>', '', ...failing, '', '</details>', '');
  }
  const hw = report.hardware;
  lines.push(`<sub>${escapeMarkdown(hw.cpu)} · ${hw.cores} cores · ${escapeMarkdown(hw.os)} ${escapeMarkdown(hw.arch)} · onnxruntime ${escapeMarkdown(report.runtime.onnxruntime)} · ${escapeMarkdown(report.tool.name)} ${escapeMarkdown(report.tool.version)}</sub>`);
  return lines.join('\n') + '\n';
}
