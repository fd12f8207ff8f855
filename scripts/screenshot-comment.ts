/**
 * Renders the PR comment for one or more report.json files the way a reviewer sees it, and screenshots it:
 * markdown → HTML with markdown-it (tables, autolinks, raw HTML as GitHub allows it), ```mermaid blocks drawn
 * by Mermaid, in a page styled like a GitHub comment, captured by headless Chromium.
 *
 *   npx tsx scripts/screenshot-comment.ts --out docs/comment.png report.json
 *   npx tsx scripts/screenshot-comment.ts --out merged.png --merge linux=a.json macos=b.json
 *
 * Options: --out <png> (required), --html <file> (also keep the page), --width <px> (default 900),
 * --mermaid <mermaid.min.js> (default: $MERMAID_JS, else node_modules/mermaid/dist/mermaid.min.js; without it
 * the charts stay code blocks), --chromium <binary> (default: chromium), --subtitle <text>.
 * Mermaid is not a dependency: `npm pack mermaid@11` in a temp folder and point --mermaid at package/dist/mermaid.min.js.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import MarkdownIt from 'markdown-it';
import { renderComment, renderMergedComment, type Leg } from '../src/report/comment.js';
import type { Report } from '../src/report/types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Args {
  out: string;
  html?: string;
  width: number;
  mermaid?: string;
  chromium: string;
  merge: boolean;
  subtitle?: string;
  inputs: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { out: '', width: 900, chromium: 'chromium', merge: false, inputs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => argv[++i] ?? '';
    if (a === '--out') args.out = value();
    else if (a === '--html') args.html = value();
    else if (a === '--width') args.width = Number(value());
    else if (a === '--mermaid') args.mermaid = value();
    else if (a === '--chromium') args.chromium = value();
    else if (a === '--subtitle') args.subtitle = value();
    else if (a === '--merge') args.merge = true;
    else args.inputs.push(a);
  }
  if (!args.out || args.inputs.length === 0) {
    console.error('usage: screenshot-comment.ts --out <png> [--merge] [--html <file>] [--width <px>] [--mermaid <js>] report.json ... (key=report.json with --merge)');
    process.exit(2);
  }
  return args;
}

/** markdown-it has no GitHub alerts: turn `> [!NOTE]` blockquotes into a styled box, as GitHub does. */
function alerts(html: string): string {
  return html.replace(/<blockquote>\s*<p>\[!(NOTE|WARNING|TIP|IMPORTANT|CAUTION)\]\s*/g, (_, kind: string) => `<blockquote class="alert alert-${kind.toLowerCase()}"><p><strong>${kind[0]}${kind.slice(1).toLowerCase()}</strong><br>`);
}

export function commentHtml(markdown: string, mermaidJs: string | undefined): string {
  const md = new MarkdownIt({ html: true, linkify: true, breaks: false });
  const fence = md.renderer.rules.fence!;
  md.renderer.rules.fence = (tokens, idx, options, env, self) => {
    const token = tokens[idx]!;
    if (mermaidJs && token.info.trim() === 'mermaid') return `<pre class="mermaid">${md.utils.escapeHtml(token.content)}</pre>\n`;
    return fence(tokens, idx, options, env, self);
  };
  const body = alerts(md.render(markdown));
  const script = mermaidJs
    ? `<script>${readFileSync(mermaidJs, 'utf8')}</script>
<script>mermaid.initialize({ startOnLoad: false, theme: 'default', securityLevel: 'strict' });
mermaid.run().then(
  () => { document.title = (document.body.innerText.includes('Syntax error') ? 'mermaid-error ' : '') + 'height:' + document.documentElement.scrollHeight; },
  (err) => { document.title = 'mermaid-error height:' + document.documentElement.scrollHeight + ' ' + err; });</script>`
    : `<script>document.title = 'height:' + document.documentElement.scrollHeight;</script>`;
  return `<!doctype html><html><head><meta charset="utf-8"><style>${CSS}</style></head><body>
<div class="timeline"><div class="avatar">🤖</div><div class="comment">
<div class="comment-header"><strong>github-actions</strong> <span class="bot">bot</span> commented</div>
<div class="comment-body">${body}</div></div></div>
${script}</body></html>`;
}

// A comment box in the spirit of GitHub's light theme: system font, 14px, bordered tables.
const CSS = `
body { margin: 0; padding: 16px; background: #fff; color: #1f2328; font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif, "Noto Color Emoji"; }
.timeline { display: flex; gap: 12px; align-items: flex-start; }
.avatar { width: 40px; height: 40px; border-radius: 50%; background: #f6f8fa; border: 1px solid #d1d9e0; display: flex; align-items: center; justify-content: center; font-size: 22px; flex: none; }
.comment { border: 1px solid #d1d9e0; border-radius: 6px; flex: 1; min-width: 0; }
.comment-header { background: #f6f8fa; border-bottom: 1px solid #d1d9e0; padding: 8px 16px; color: #59636e; border-radius: 6px 6px 0 0; }
.comment-header strong { color: #1f2328; }
.bot { border: 1px solid #d1d9e0; border-radius: 2em; padding: 0 7px; font-size: 12px; }
.comment-body { padding: 16px; }
.comment-body > :first-child { margin-top: 0; }
h3 { font-size: 1.25em; margin: 24px 0 16px; font-weight: 600; }
p, table, pre, blockquote, details { margin: 0 0 16px; }
table { border-collapse: collapse; display: block; width: max-content; max-width: 100%; overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
th { font-weight: 600; }
tr:nth-child(2n) { background: #f6f8fa; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 85%; background: #f6f8fa; border-radius: 6px; }
code { padding: .2em .4em; }
pre { padding: 16px; overflow: auto; }
pre code { padding: 0; background: none; }
pre.mermaid { background: none; text-align: center; }
blockquote { padding: 0 1em; color: #59636e; border-left: .25em solid #d1d9e0; }
blockquote.alert-note { border-left-color: #0969da; color: #1f2328; }
blockquote.alert-note strong:first-child { color: #0969da; }
sub { font-size: 85%; color: #59636e; }
details summary { cursor: pointer; }
a { color: #0969da; text-decoration: none; }
`;

function resolveMermaid(explicit: string | undefined): string | undefined {
  const candidates = [explicit, process.env.MERMAID_JS, path.join(root, 'node_modules/mermaid/dist/mermaid.min.js')];
  return candidates.find((c): c is string => typeof c === 'string' && c !== '' && existsSync(c));
}

function chromiumFlags(userDataDir: string): string[] {
  return [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--hide-scrollbars', `--user-data-dir=${userDataDir}`, '--virtual-time-budget=15000', '--force-device-scale-factor=1',
  ];
}

/** Two passes: the first lays the page out and reports its height in the title, the second captures exactly that. */
export function screenshot(html: string, out: string, width: number, chromium: string): void {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-shot-'));
  try {
    const page = path.join(tmp, 'comment.html');
    writeFileSync(page, html);
    const dom = execFileSync(chromium, [...chromiumFlags(path.join(tmp, 'profile-1')), `--window-size=${width},1000`, '--dump-dom', `file://${page}`], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024,
    });
    if (dom.includes('<title>mermaid-error')) throw new Error(`Mermaid could not draw a chart: ${/<title>([^<]*)/.exec(dom)?.[1]}`);
    const height = Math.min(16_000, Math.max(200, Number(/<title>[^<]*height:(\d+)/.exec(dom)?.[1] ?? 2000)));
    execFileSync(chromium, [...chromiumFlags(path.join(tmp, 'profile-2')), `--window-size=${width},${height}`, `--screenshot=${path.resolve(out)}`, `file://${page}`], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    console.log(`${out}: ${width}×${height}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Report;
  const options = { runUrl: 'https://github.com/octo-org/models/actions/runs/1234567890', artifactName: 'modelgate-modelgate.yml', ...(args.subtitle ? { subtitle: args.subtitle } : {}) };
  let markdown: string;
  if (args.merge) {
    const legs: Leg[] = args.inputs.map((spec) => {
      const at = spec.indexOf('=');
      const key = at > 0 ? spec.slice(0, at) : path.basename(path.dirname(spec));
      return { key, report: read(at > 0 ? spec.slice(at + 1) : spec) };
    });
    markdown = renderMergedComment(legs, options);
  } else {
    markdown = renderComment(read(args.inputs[0]!), options);
  }
  const html = commentHtml(markdown, resolveMermaid(args.mermaid));
  if (args.html) writeFileSync(args.html, html);
  screenshot(html, args.out, args.width, args.chromium);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
