/** Writing a finished report: report.json (2-space JSON, newline-terminated) and report.md side by side in the out dir. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function writeReportFiles(outDir: string, report: object, markdown: string): { reportPath: string; markdownPath: string } {
  mkdirSync(outDir, { recursive: true });
  const reportPath = path.join(outDir, 'report.json');
  const markdownPath = path.join(outDir, 'report.md');
  writeFileSync(reportPath, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(markdownPath, markdown);
  return { reportPath, markdownPath };
}
