/** Text from a model file cannot start a workflow command or inject markdown on its way to the log, summary or comment. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import MarkdownIt from 'markdown-it';
import { workflowText, mdText, escapeMarkdown } from '../../src/report/escape.js';
import { mdText as publishMdText } from '../../src/publish/untrusted.js';
import { renderComment } from '../../src/report/comment.js';
import { runGate } from '../../src/commands/run.js';
import { DataType, encodeModel, onnx } from '../../src/model/onnx.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-sec-esc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const HOSTILE = ['\n::error::pwned', '::stop-commands::tok', '  ::set-output name=passed::true', 'x\r::warning file=a::b', '##[error]legacy', '::add-mask::x\n##[group]g', '\u202e::error::bidi'];

/** What the runner would read as a command in a step's output. */
function commandLines(text: string): string[] {
  return text.split('\n').filter((l) => /^\s*::[A-Za-z-]+/.test(l) || l.includes('##['));
}

describe('workflowText', () => {
  for (const h of HOSTILE) {
    it(`defuses ${JSON.stringify(h)}`, () => {
      const out = workflowText(`input name: ${h}`);
      expect(commandLines(out)).toEqual([]);
      expect(out).not.toMatch(/\r|\u202e/);
      // Still readable: the same characters apart from zero-width spaces and dropped controls.
      expect(out.replace(/\u200b/g, '')).toBe(`input name: ${h}`.replace(/\r/g, '\n').replace(/\u202e/g, ''));
    });
  }

  it('keeps ordinary text byte for byte', () => {
    expect(workflowText('benchmark: round 3, reference 120 samples (a:b)')).toBe('benchmark: round 3, reference 120 samples (a:b)');
  });
});

describe('markdown', () => {
  it('the escapers moved to report/escape.ts and publish re-exports the same functions', () => {
    expect(publishMdText).toBe(mdText);
    const md = new MarkdownIt({ html: true, linkify: true });
    for (const h of ['<img src=x onerror=alert(1)>', '[click](https://evil.example)', '@octocat #1', '| a | b |', '![x](y)']) {
      const html = md.renderInline(mdText(h));
      expect(html).not.toMatch(/<img|<a |@octocat\b/);
      expect(md.renderInline(escapeMarkdown(h))).not.toMatch(/<img/);
    }
  });
});

describe('a model whose input is named to inject', () => {
  it('every log line of a run and its comment are free of commands and markup', async () => {
    const name = 'x\n::error::injected\n<img src=x onerror=alert(1)>';
    const vi = (n: string, dims: Array<number | string>) => onnx.ValueInfoProto.create({
      name: n, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
    });
    const model = onnx.ModelProto.create({
      irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
      graph: { name: 'g', node: [{ opType: 'Relu', input: [name], output: ['y'], name: '::warning::node' }], input: [vi(name, ['\n::error::dim', 4])], output: [vi('y', ['\n::error::dim', 4])] },
    });
    writeFileSync(path.join(tmp, 'model.onnx'), encodeModel(model));
    // A dataset naming an input the model does not have makes the run fail with the hostile names in the message.
    writeFileSync(path.join(tmp, 'modelgate.yml'), 'model: model.onnx\ninputs: { "::error::cfg": { shape: [1, 4] } }\nbenchmark: { runs: 5, warmup: 1, measurements: 1 }\n');
    const log: string[] = [];
    const result = await runGate({ configPath: path.join(tmp, 'modelgate.yml'), outDir: path.join(tmp, 'out'), log: (m) => log.push(workflowText(m)) });
    const all = [...log, workflowText(result.error ?? '')].join('\n');
    expect(all.length).toBeGreaterThan(0);
    expect(commandLines(all)).toEqual([]);
    const comment = renderComment(result.report, {});
    expect(comment).toContain('injected');
    expect(new MarkdownIt({ html: true, linkify: true }).render(comment)).not.toMatch(/<img src=x/);
    expect(commandLines(comment)).toEqual([]);
  }, 60_000);
});
