import { describe, expect, it } from 'vitest';
import { checkAgainst, resolveBudgets, selectCandidate, type Against, type GateSubject, type LatencyComparison } from '../../src/gate/rules.js';

const ref: GateSubject = { id: 'reference', bytes: 1000, accuracy: 0.95, agreement: null, loss: null, p50_ms: 1 };
const budgets = resolveBudgets({ accuracy_drop_max: 0.005, latency_ratio_max: 1.1, size_bytes_max: 900 });
const fast: LatencyComparison = { ratio: 0.9, ci95: [0.85, 0.95], verdict: 'significant improvement' };
const against = (latency?: LatencyComparison, baseline = ref): Against => ({ baseline, name: 'the reference', ...(latency ? { latency } : {}) });

function subject(over: Partial<GateSubject>): GateSubject {
  return { id: 'c', bytes: 250, accuracy: 0.948, agreement: 0.99, loss: null, p50_ms: 0.9, ...over };
}

describe('gate rules', () => {
  it('checks every budget on every candidate, the reference included', () => {
    const refChecks = checkAgainst(ref, against(), budgets, 'top1');
    expect(refChecks.map((c) => [c.name, c.passed])).toEqual([['accuracy_drop_max', true], ['latency_ratio_max', true], ['size_bytes_max', false]]);
    const c = checkAgainst(subject({}), against(fast), budgets, 'top1');
    expect(c.every((k) => k.passed)).toBe(true);
    expect(c[0]!.message).toBe('accuracy 0.9480 vs 0.9500 (the reference): drop 0.0020 ≤ 0.005');
  });

  it('fails latency only on a significant regression', () => {
    expect(checkAgainst(subject({}), against({ ratio: 1.12, ci95: [1.05, 1.2], verdict: 'within noise' }), budgets, 'top1')[1]!.passed).toBe(true);
    const check = checkAgainst(subject({}), against({ ratio: 3.6, ci95: [3.4, 3.8], verdict: 'significant regression' }), budgets, 'top1')[1]!;
    expect(check.passed).toBe(false);
    expect(check.message).toContain('3.600× the reference');
  });

  it('never passes what was not measured: no quality figure, no latency', () => {
    const c = checkAgainst(subject({ accuracy: null, agreement: null }), against(undefined, { ...ref, accuracy: null }), budgets, 'top1');
    expect(c.map((k) => [k.name, k.passed])).toEqual([['accuracy_drop_max', false], ['latency_ratio_max', false], ['size_bytes_max', true]]);
    expect(c[0]!.message).toContain('not measured');
    expect(c[1]!.message).toContain('not measured');
  });

  it('reports an explicit reason the latency budget cannot apply instead of failing it', () => {
    const c = checkAgainst(subject({}), { ...against(), latencyNotApplicable: 'different hardware' }, budgets, 'top1');
    expect(c[1]).toMatchObject({ name: 'latency_ratio_max', passed: true, message: 'not gated (different hardware)' });
  });

  it('applies default budgets when the config sets none, and says where each came from', () => {
    expect(resolveBudgets({})).toEqual([
      { name: 'accuracy_drop_max', value: 0.005, source: 'default' },
      { name: 'latency_ratio_max', value: 1.05, source: 'default' },
    ]);
    expect(resolveBudgets({ latency_ratio_max: 1.2 }).map((b) => b.source)).toEqual(['default', 'config']);
  });

  it('gates on agreement without labels and on mse rise for regression', () => {
    const unlabeled = { ...ref, accuracy: null };
    expect(checkAgainst(subject({ accuracy: null, agreement: 0.99 }), against(fast, unlabeled), budgets, 'top1')[0]!.passed).toBe(false);
    expect(checkAgainst(subject({ accuracy: null, agreement: 0.996 }), against(fast, unlabeled), budgets, 'top1')[0]!.passed).toBe(true);
    const mseRef = { ...ref, accuracy: null, loss: 0.1 };
    expect(checkAgainst(subject({ accuracy: null, loss: 0.104 }), against(fast, mseRef), budgets, 'mse')[0]!.passed).toBe(true);
    expect(checkAgainst(subject({ accuracy: null, loss: 0.2 }), against(fast, mseRef), budgets, 'mse')[0]!.passed).toBe(false);
  });

  it('turns a build error into one failed check', () => {
    expect(checkAgainst(subject({ error: 'boom' }), against(fast), budgets, 'top1')).toEqual([{ name: 'build', passed: false, message: 'boom' }]);
  });

  it('selects by rule among candidates that pass, or nothing', () => {
    const a = subject({ id: 'a', bytes: 300, p50_ms: 0.5, accuracy: 0.949 });
    const b = subject({ id: 'b', bytes: 250, p50_ms: 0.8, accuracy: 0.947 });
    const slow = subject({ id: 'slow', bytes: 100 });
    const all = [ref, a, b, slow];
    const lat = new Map<string, LatencyComparison>([['a', fast], ['b', fast], ['slow', { ratio: 3, ci95: [2.9, 3.1], verdict: 'significant regression' }]]);
    const relaxed = resolveBudgets({ accuracy_drop_max: 0.005, latency_ratio_max: 1.1 });
    const checks = new Map(all.map((s) => [s.id, checkAgainst(s, against(s === ref ? undefined : lat.get(s.id)), relaxed, 'top1')]));
    expect(selectCandidate(all, checks, 'smallest-passing')).toBe('b');
    expect(selectCandidate(all, checks, 'fastest-passing')).toBe('a');
    expect(selectCandidate(all, checks, 'most-accurate-passing')).toBe('reference');
    expect(selectCandidate([slow], checks, 'smallest-passing')).toBeNull();
  });
});
