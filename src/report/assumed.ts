/**
 * The warning that report.md, the PR comment and the job summary show when ModelGate chose input dims
 * (or rank-0 values) that neither the model nor the config fixes (report.json `inputs_assumed`).
 * Every name and the snippet come from the model file, so they are escaped here.
 */
import type { Report } from './types.js';
import { mdText } from './escape.js';

const MAX_LISTED = 12;
// C0/C1 controls and the bidirectional overrides, as escape.ts removes them; spaces stay (they indent YAML).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A fenced block that no backtick run inside it can close, each line stripped of controls. */
function codeBlock(text: string, maxLines = 24): string[] {
  const lines = text.split('\n').slice(0, maxLines).map((l) => [...l.replace(CONTROL, '')].slice(0, 400).join(''));
  const longest = Math.max(2, ...lines.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((r) => r.length))));
  const fence = '`'.repeat(longest + 1);
  return [`${fence}yaml`, ...lines, fence];
}

/** Markdown lines (a block quote) for `report.inputs_assumed`, or none when nothing was assumed. */
export function assumedInputsLines(report: Report): string[] {
  const assumed = Array.isArray(report.inputs_assumed) ? report.inputs_assumed : [];
  if (assumed.length === 0) return [];
  const items = assumed.slice(0, MAX_LISTED).map((a) => {
    const where = a.axis === null ? `${mdText(a.input, 80)} (value)` : `${mdText(a.input, 80)} axis ${Number(a.axis)}${a.name ? ` (${mdText(a.name, 80)})` : ''}`;
    return `- ${where} = **${Number(a.value)}**: ${mdText(a.why, 200)}`;
  });
  if (assumed.length > MAX_LISTED) items.push(`- … and ${assumed.length - MAX_LISTED} more (report.json inputs_assumed)`);
  const count = `${assumed.length} input value${assumed.length === 1 ? '' : 's'}`;
  const body = [
    `⚠️ **ModelGate assumed ${count}** that neither the model nor the config fixes, and checked each by running the reference model once on synthetic inputs. The figures below hold for these shapes; pin them in the config:`,
    '',
    ...items,
    ...(typeof report.inputs_snippet === 'string' ? ['', ...codeBlock(report.inputs_snippet)] : []),
  ];
  return [...body.map((l) => (l === '' ? '>' : `> ${l}`)), ''];
}
