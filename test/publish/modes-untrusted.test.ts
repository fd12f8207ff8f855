import { deflateRawSync } from 'node:zlib';
import MarkdownIt from 'markdown-it';
import { REPORT_LIMITS } from '../../src/report/validate.js';
import { describe, expect, it } from 'vitest';
import {
  LIMITS,
  UntrustedDataError,
  htmlText,
  mdText,
  mermaidLabel,
  parseUntrustedContext,
  parseUntrustedReport,
  plainText,
  readZipEntries,
  shellWord,
} from '../../src/publish/untrusted.js';
import { writeZip } from '../support/github-server.js';
import { passingReport } from '../report/fixtures.js';

// linkify stands in for GitHub's autolinking of bare URLs and www.
const md = new MarkdownIt({ html: true, linkify: true });

const HOSTILE = [
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  '[click](https://evil.example/phish)',
  '![x](https://evil.example/pixel.png)',
  'https://evil.example/a www.evil.example',
  '**bold** _em_ `code` ~~gone~~',
  '| a | b |',
  '@octocat @org/team please look',
  'fixes #1 and octo-org/models#2',
  '$\\sqrt{x}$',
  '&lt;b&gt; &amp;',
  '<!-- modelgate:other -->',
  '</details><details open>',
  'line one\nline two\r\n# heading',
  'a\u202eevil\u202c b\u0000c',
];

describe('mdText', () => {
  it.each(HOSTILE)('renders %j as plain text: no tag, link, image, mention, code or emphasis', (payload) => {
    const html = md.renderInline(`| ${mdText(payload)} |`);
    expect(html).not.toMatch(/<(img|script|a|code|strong|em|s|del|details|!--)\b/i);
    // Whatever was in it reads back, less the invisible parts.
    const visible = html.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/\u200b/g, '');
    expect(visible).toBe(`| ${plainText(payload)} |`);
  });

  it('keeps a table cell one cell, and defuses mentions, references and URLs with a zero-width space', () => {
    const row = md.render(`| a | b |\n|---|---|\n| ${mdText('x | y')} | z |`);
    expect((row.match(/<td>/g) ?? []).length).toBe(2);
    expect(mdText('@octocat')).toBe('\\@\u200boctocat');
    expect(mdText('#12')).toBe('\\#\u200b12');
    expect(mdText('https://a.b')).toContain(':\u200b//');
  });

  it('escapes what only matters at the start of a line', () => {
    expect(md.render(`> ${mdText('1. item')}`)).not.toContain('<ol');
    expect(md.render(`> ${mdText('- item')}`)).not.toContain('<ul');
  });

  it('cuts long values to the limit, in code points', () => {
    expect([...plainText('🙂'.repeat(50), 10)]).toHaveLength(10);
    expect(plainText('x'.repeat(500), 20)).toMatch(/^x{19}…$/);
  });
});

describe('htmlText and mermaidLabel', () => {
  it('leaves no tag in an HTML block', () => {
    const html = md.render(`<details><summary>${htmlText('</summary><img src=x onerror=alert(1)>')}</summary>\n\nbody\n\n</details>`);
    expect(html).not.toMatch(/<img/);
    expect(html).toContain('&lt;/summary&gt;');
  });

  it('reduces a Mermaid label to harmless characters', () => {
    expect(mermaidLabel('a"]; click A call evil()%%{init}')).toMatch(/^[A-Za-z0-9 ._+-]+$/);
    expect(mermaidLabel('int8-dynamic')).toBe('int8-dynamic');
  });

  it('quotes nothing in a shell line: odd paths are not shown at all', () => {
    expect(shellWord('examples/mnist/modelgate.yml')).toBe('examples/mnist/modelgate.yml');
    expect(shellWord('a; rm -rf /')).toBeNull();
    expect(shellWord('$(id)')).toBeNull();
    expect(shellWord('--exec=x')).toBeNull();
  });
});

describe('parseUntrustedReport', () => {
  const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));

  it('accepts a real report, and refuses a field the report definition does not have', () => {
    expect(parseUntrustedReport(bytes(passingReport())).selected).toBe('int8-dynamic');
    const r = { ...passingReport(), future_field: { anything: [1, 2] } };
    expect(() => parseUntrustedReport(bytes(r))).toThrow(/must NOT have additional properties/);
  });

  it.each([
    ['a string where a number belongs', (r: any) => (r.candidates[1].bytes = '57255 <img>')],
    ['a negative size', (r: any) => (r.candidates[1].bytes = -1)],
    ['an accuracy over 1', (r: any) => (r.candidates[1].accuracy = 3)],
    ['an unknown verdict', (r: any) => (r.candidates[1].latency.verdict = 'fine, trust me')],
    ['schema version 3', (r: any) => (r.schemaVersion = 3)],
    ['a huge id', (r: any) => (r.candidates[1].id = 'x'.repeat(REPORT_LIMITS.stringChars + 1))],
    ['too many candidates', (r: any) => (r.candidates = Array.from({ length: LIMITS.candidates + 1 }, () => r.candidates[0]))],
    ['a missing hardware block', (r: any) => delete r.hardware],
  ])('refuses %s', (_, mutate) => {
    const r = passingReport();
    mutate(r);
    expect(() => parseUntrustedReport(bytes(r))).toThrow(UntrustedDataError);
  });

  it('refuses non-JSON and oversized files before parsing', () => {
    expect(() => parseUntrustedReport(Buffer.from('{"schemaVersion": 1,'))).toThrow(/not JSON/);
    expect(() => parseUntrustedReport(Buffer.alloc(LIMITS.reportBytes + 1, 32))).toThrow(/over the/);
  });

  it('checks the context: PR number, sha format and key', () => {
    const ctx = { kind: 'modelgate-context', version: 1, key: 'mnist', pull_request: 17, head_sha: 'a'.repeat(40), base_sha: null };
    expect(parseUntrustedContext(bytes(ctx)).pull_request).toBe(17);
    expect(() => parseUntrustedContext(bytes({ ...ctx, pull_request: '17' }))).toThrow(UntrustedDataError);
    expect(() => parseUntrustedContext(bytes({ ...ctx, head_sha: 'HEAD' }))).toThrow(UntrustedDataError);
    expect(() => parseUntrustedContext(bytes({ ...ctx, key: '--> <script>' }))).toThrow(UntrustedDataError);
  });
});

describe('readZipEntries', () => {
  it('reads only the wanted entries, stored or deflated', () => {
    const zip = writeZip({ 'report.json': '{"a":1}', 'models/big.onnx': Buffer.alloc(1000), '../../escape': 'x' });
    const entries = readZipEntries(zip, { 'report.json': 100, missing: 10 });
    expect([...entries.keys()]).toEqual(['report.json']);
    expect(entries.get('report.json')!.toString()).toBe('{"a":1}');
  });

  it('stops a zip bomb at the cap, whatever the header claims', () => {
    // A 64 MiB run of zeros deflates to ~64 KB; the central directory lies that it is 10 bytes.
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024));
    const zip = writeZip({ 'report.json': bomb });
    const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt16LE(8, central + 10); // method: deflate
    zip.writeUInt32LE(10, central + 24); // uncompressed size: a lie
    expect(() => readZipEntries(zip, { 'report.json': 1024 * 1024 })).toThrow(/cannot inflate within 1048576 bytes/);
  });

  it('refuses duplicate names, truncation and non-zips', () => {
    const dup = writeZip({ 'report.json': '{"honest":1}', 'report.jsoX': '{"evil":1}' });
    for (let at = dup.indexOf('report.jsoX'); at >= 0; at = dup.indexOf('report.jsoX', at + 1)) dup.write('report.json', at);
    expect(() => readZipEntries(dup, { 'report.json': 100 })).toThrow(/appears twice/);
    const one = writeZip({ 'report.json': 'a' });
    expect(() => readZipEntries(one.subarray(0, one.length - 30), { 'report.json': 10 })).toThrow(UntrustedDataError);
    expect(() => readZipEntries(Buffer.from('not a zip at all, just text padding it out'), { 'report.json': 10 })).toThrow(/no end of central directory/);
  });
});
