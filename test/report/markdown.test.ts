/** report.md's headline: passed, failed the gate, or could not run (with the error). */
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/report/markdown.js';
import { failingReport, passingReport } from './fixtures.js';

const headline = (md: string) => md.split('\n')[0]!;

describe('report.md headline', () => {
  it('says the run could not run, with the error, when it stopped on one (exit 2)', () => {
    const r = { ...passingReport(), passed: false, selected: null, candidates: [], error: 'modelgate.yml: invalid config:\n  gate.latency_ratio_mx: is not a known key (modelgate.yml:4:3)' };
    const md = renderMarkdown(r);
    expect(headline(md)).toBe('### 💥 **ModelGate could not run**: modelgate.yml: invalid config:');
    expect(md).not.toContain('no candidate passed');
    expect(md).toContain('```\nmodelgate.yml: invalid config:\n  gate.latency_ratio_mx: is not a known key (modelgate.yml:4:3)\n```');
  });

  it('keeps "failed" for a gate that ran and found no passing candidate, and "passed" for one that did', () => {
    expect(headline(renderMarkdown(failingReport()))).toBe('### ❌ **ModelGate failed**: no candidate passed every check');
    expect(headline(renderMarkdown(passingReport()))).toMatch(/^### ✅ \*\*ModelGate passed\*\*: selected `/);
  });
});
