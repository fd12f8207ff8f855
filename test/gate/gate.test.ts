import { describe, expect, it } from 'vitest';
import { checkCandidate, selectCandidate, type GateSubject } from '../../src/gate/gate.js';

const ref: GateSubject = { id: 'reference', bytes: 1000, accuracy: 0.95, agreement: null, mse: null, p50_ms: 1 };
const gate = { accuracy_drop_max: 0.005, latency_ratio_max: 1.1, size_bytes_max: 900 };

function subject(over: Partial<GateSubject>): GateSubject {
  return { id: 'c', bytes: 250, accuracy: 0.948, agreement: 0.99, mse: null, p50_ms: 0.9, latencyVsReference: { ratio: 0.9, ci95: [0.85, 0.95], verdict: 'significant improvement' }, ...over };
}

describe('gate', () => {
  it('checks every budget on every candidate, the reference included', () => {
    const refChecks = checkCandidate(ref, ref, gate, 'top1');
    expect(refChecks.map((c) => [c.name, c.passed])).toEqual([['accuracy_drop_max', true], ['latency_ratio_max', true], ['size_bytes_max', false]]);
    const c = checkCandidate(subject({}), ref, gate, 'top1');
    expect(c.every((k) => k.passed)).toBe(true);
    expect(c[0]!.message).toBe('accuracy 0.9480 vs 0.9500: drop 0.0020 ≤ 0.005');
  });

  it('fails latency only on a significant regression', () => {
    const noisy = subject({ latencyVsReference: { ratio: 1.12, ci95: [1.05, 1.2], verdict: 'within noise' } });
    expect(checkCandidate(noisy, ref, gate, 'top1')[1]!.passed).toBe(true);
    const slow = subject({ latencyVsReference: { ratio: 3.6, ci95: [3.4, 3.8], verdict: 'significant regression' } });
    const check = checkCandidate(slow, ref, gate, 'top1')[1]!;
    expect(check.passed).toBe(false);
    expect(check.message).toContain('3.60× the reference');
  });

  it('gates on agreement without labels and on mse rise for regression', () => {
    const unlabeled = { ...ref, accuracy: null };
    expect(checkCandidate(subject({ accuracy: null, agreement: 0.99 }), unlabeled, gate, 'top1')[0]!.passed).toBe(false);
    expect(checkCandidate(subject({ accuracy: null, agreement: 0.996 }), unlabeled, gate, 'top1')[0]!.passed).toBe(true);
    const mseRef = { ...ref, accuracy: null, mse: 0.1 };
    expect(checkCandidate(subject({ accuracy: null, mse: 0.104 }), mseRef, gate, 'mse')[0]!.passed).toBe(true);
    expect(checkCandidate(subject({ accuracy: null, mse: 0.2 }), mseRef, gate, 'mse')[0]!.passed).toBe(false);
  });

  it('turns a build error into one failed check', () => {
    expect(checkCandidate(subject({ error: 'boom' }), ref, gate, 'top1')).toEqual([{ name: 'build', passed: false, message: 'boom' }]);
  });

  it('selects by rule among candidates that pass, or nothing', () => {
    const a = subject({ id: 'a', bytes: 300, p50_ms: 0.5, accuracy: 0.949 });
    const b = subject({ id: 'b', bytes: 250, p50_ms: 0.8, accuracy: 0.947 });
    const slow = subject({ id: 'slow', bytes: 100, latencyVsReference: { ratio: 3, ci95: [2.9, 3.1], verdict: 'significant regression' } });
    const all = [ref, a, b, slow];
    const checks = new Map(all.map((s) => [s.id, checkCandidate(s, ref, gate, 'top1')]));
    expect(selectCandidate(all, checks, 'smallest-passing')).toBe('b');
    expect(selectCandidate(all, checks, 'fastest-passing')).toBe('a');
    expect(selectCandidate(all, checks, 'most-accurate-passing')).toBe('a');
    expect(selectCandidate([ref, slow], checks, 'smallest-passing')).toBeNull();
  });
});
