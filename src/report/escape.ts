/**
 * Every escaper for text that ModelGate did not write itself: names and messages from a model file
 * (input, dimension and node names), a config, or an artifact a fork uploaded. Markdown (report.md,
 * the comment, the job summary), raw HTML, Mermaid labels, shell words, and the Actions log, where a
 * line that starts with `::` is a workflow command.
 */

// C0/C1 controls, and the bidirectional overrides and isolates that can make text read differently than it is.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const ZWSP = '\u200b';

/** One line of plain text: controls and bidi overrides removed, whitespace runs collapsed, cut to maxChars code points. */
export function plainText(value: unknown, maxChars = 300): string {
  const text = String(value ?? '')
    .replace(/[\r\n\t]+/g, ' ')
    .replace(CONTROL, '')
    .replace(/ {2,}/g, ' ')
    .trim();
  const points = [...text];
  return points.length > maxChars ? `${points.slice(0, Math.max(0, maxChars - 1)).join('')}…` : text;
}

/**
 * GitHub turns `@name` into a mention (a notification), `#12` and `owner/repo#12` into cross-references
 * (a timeline entry on that issue), `GH-12` likewise, and bare URLs and www. into links. A zero-width space
 * after the trigger defuses each and reads the same.
 */
function defuseAutolinks(text: string): string {
  return text
    .replace(/@/g, `@${ZWSP}`)
    .replace(/#/g, `#${ZWSP}`)
    .replace(/\b(GH)-(?=\d)/gi, `$1${ZWSP}-`)
    .replace(/:\/\//g, `:${ZWSP}//`)
    .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}${ZWSP}.`);
}

/**
 * Text for a markdown paragraph or table cell. Every ASCII punctuation character that can open markup is
 * backslash-escaped (the escape is invisible), so no emphasis, code, link, image, HTML tag, entity,
 * math (`$`), strikethrough, autolink or table cell break (`|`) can start inside it; what only matters at
 * the start of a line is escaped there.
 */
export function mdText(value: unknown, maxChars = 300): string {
  return defuseAutolinks(plainText(value, maxChars))
    .replace(/[\\`*_{}[\]()#+!|<>~&$^@]/g, (c) => `\\${c}`)
    // What only means something at the start of a line (a list item, a thematic break or setext underline).
    .replace(/^(\d+)([.)])/, '$1\\$2')
    .replace(/^([-=])/, '\\$1');
}

/**
 * Text inside raw HTML (a `<summary>` line is an HTML block, where markdown escapes would show as
 * backslashes): only entities, so no tag or attribute can open.
 */
export function htmlText(value: unknown, maxChars = 300): string {
  const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  return defuseAutolinks(plainText(value, maxChars)).replace(/[&<>"']/g, (c) => entities[c]!);
}

/** A label inside a Mermaid block: letters, digits and a few separators, nothing Mermaid parses. */
export function mermaidLabel(value: unknown, maxChars = 24): string {
  const label = plainText(value, 1000)
    .replace(/[^A-Za-z0-9 ._+-]+/g, '_')
    .replace(/_+/g, '_')
    .trim();
  const points = [...label];
  return (points.length > maxChars ? `${points.slice(0, maxChars - 2).join('').trimEnd()}..` : label) || '_';
}

/** A path or git ref shown inside a shell code block: only when it is made of characters that need no quoting. */
export function shellWord(value: unknown): string | null {
  const text = String(value ?? '');
  return /^[A-Za-z0-9._/@+-]{1,200}$/.test(text) && !text.startsWith('-') && !text.includes('`') ? text : null;
}

/** Escapes text for a GFM table cell or line: no HTML, no links, no table breaks. */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\\`*_{}[\]()#+!|<>~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/\r?\n/g, ' ');
}

/**
 * Text for the Actions log (core.info, stdout of a CLI step). The runner reads every line of a
 * step's output that starts with `::name::` (after leading spaces) as a workflow command, and the
 * legacy `##[name]` form anywhere in a line; a model may name an input "\n::error::..." or
 * "::stop-commands::x". A zero-width space splits every `::` and `##[`, so no line of the text can
 * start a command however it is broken into lines; it reads the same. Controls other than newline
 * and tab (a carriage return could hide what precedes it) and bidi overrides are dropped.
 */
export function workflowText(value: unknown, maxChars = 20_000): string {
  const text = String(value ?? '')
    .replace(/\r\n?/g, '\n')
    .replace(LOG_CONTROL, '')
    .replace(/::/g, `:${ZWSP}:`)
    .replace(/##\[/g, `#${ZWSP}#[`);
  const points = [...text];
  return points.length > maxChars ? `${points.slice(0, Math.max(0, maxChars - 1)).join('')}…` : text;
}

// eslint-disable-next-line no-control-regex
const LOG_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
