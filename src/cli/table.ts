/** The plain-text table the CLI prints at the end. */
import type { Report } from '../report/types.js';
import { formatBytes } from '../report/markdown.js';

export function renderTable(report: Report): string {
  const ref = report.candidates.find((c) => c.id === report.reference);
  const rows: string[][] = [['candidate', 'size', 'Δ size', 'accuracy', 'Δ acc', 'p50 ms', 'ratio', 'verdict']];
  for (const c of report.candidates) {
    const acc = c.accuracy ?? c.agreement;
    const refAcc = c.accuracy !== null ? ref?.accuracy ?? null : null;
    const failed = c.checks.filter((k) => !k.passed).map((k) => k.name);
    rows.push([
      `${c.id}${c.id === report.selected ? ' *' : ''}`,
      formatBytes(c.bytes),
      ref && c.id !== ref.id && ref.bytes ? `${(c.bytes / ref.bytes).toFixed(2)}x` : '',
      acc === null ? '-' : `${(acc * 100).toFixed(2)}%${c.accuracy === null ? ' agr' : ''}`,
      acc !== null && refAcc !== null && c.id !== ref?.id ? `${((acc - refAcc) * 100).toFixed(2)} pt` : '',
      c.latency ? c.latency.p50_ms.toFixed(3) : '-',
      typeof c.latency?.ratio === 'number' ? `${(c.latency.ratio as number).toFixed(2)}x` : '',
      failed.length ? `FAIL ${failed.join(',')}` : 'pass',
    ]);
  }
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  const line = (r: string[]) => r.map((v, j) => (j === 0 || j === r.length - 1 ? v.padEnd(widths[j]!) : v.padStart(widths[j]!))).join('  ').trimEnd();
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  const error = typeof report.error === 'string' ? report.error.split('\n')[0] : undefined;
  out.push('', report.passed ? `PASSED: selected ${report.selected}` : error ? `COULD NOT RUN: ${error}` : 'FAILED: no candidate passed every check');
  return out.join('\n');
}
