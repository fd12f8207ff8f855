import { describe, expect, it } from 'vitest';
import { combineComparisons, type LatencyComparison } from '../../src/benchmark/runner.js';

const cmp = (ratio: number, lo: number, hi: number, verdict: LatencyComparison['verdict']): LatencyComparison => ({ ratio, ci95: [lo, hi], verdict, resampling: 'paired rounds' });

describe('combineComparisons', () => {
  it('lets two sound measurements outvote one grossly wrong one', () => {
    // A model 9% slower: one measurement reads a tight 0.62x "improvement", the other two a regression over 1.05.
    const c = combineComparisons([cmp(1.091, 1.08, 1.1, 'significant regression'), cmp(0.622, 0.61, 0.63, 'significant improvement'), cmp(1.085, 1.07, 1.09, 'significant regression')], 1.05);
    expect(c.ratio).toBe(1.085);
    expect(c.ci95).toEqual([1.07, 1.09]);
    expect(c.verdict).toBe('significant regression');
    expect(c.central).toBe(2);
    expect(c.measurements).toBe(3);
    expect(c.runs.map((r) => r.verdict)).toEqual(['significant regression', 'significant improvement', 'significant regression']);
  });

  it('does not fail on one outlier regression among noise', () => {
    const c = combineComparisons([cmp(1.0, 0.99, 1.01, 'within noise'), cmp(1.3, 1.25, 1.35, 'significant regression'), cmp(1.01, 0.995, 1.02, 'within noise')], 1.1);
    expect(c.verdict).toBe('within noise');
    expect(c.central).toBe(2);
  });

  it('passes a single measurement through, and refuses none', () => {
    expect(combineComparisons([cmp(1.5, 1.4, 1.6, 'significant regression')], 1.1)).toMatchObject({ ratio: 1.5, ci95: [1.4, 1.6], verdict: 'significant regression', central: 0 });
    expect(() => combineComparisons([], 1.1)).toThrow(/no measurement/);
  });
});
