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
      { name: 'fidelity_min_snr_db', value: 20, source: 'default' },
    ]);
    expect(resolveBudgets({ latency_ratio_max: 1.2 }).map((b) => b.source)).toEqual(['default', 'config', 'default']);
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

  it('reads fidelity when there are no labels and top-1 does not fit the output', () => {
    const noLabels = against(fast, { ...ref, accuracy: null });
    const at = (snr: number | null, over: Partial<GateSubject> = {}) => checkAgainst(subject({ accuracy: null, agreement: 0.4, top1_fits: false, fidelity_snr_db: snr, fidelity_output: 'map', ...over }), noLabels, budgets, 'top1');
    expect(budgets.find((b) => b.name === 'fidelity_min_snr_db')).toEqual({ name: 'fidelity_min_snr_db', value: 20, source: 'default' });
    const pass = at(31.25);
    expect(pass.map((k) => [k.name, k.passed])).toEqual([['fidelity_min_snr_db', true], ['latency_ratio_max', true], ['size_bytes_max', true]]);
    expect(pass[0]!.message).toBe("no labels, and top-1 agreement does not fit the output (no class axis): SNR of the worst output 'map' against the reference 31.3 dB ≥ 20 dB");
    expect(at(19.9)[0]!.passed).toBe(false);
    expect(at(Infinity)[0]!.message).toContain('∞ dB (identical)');
    const unmeasured = at(null, { fidelity_error: 'outputs differ' })[0]!;
    expect(unmeasured).toMatchObject({ name: 'fidelity_min_snr_db', passed: false });
    expect(unmeasured.message).toContain('not measured');
    expect(unmeasured.message).toContain('(outputs differ)');
    // Labels win: accuracy is the figure whatever the output's shape.
    expect(checkAgainst(subject({ top1_fits: false, fidelity_snr_db: 5 }), against(fast), budgets, 'top1')[0]!.name).toBe('accuracy_drop_max');
    // Where top-1 fits, agreement is the figure; a configured budget is reported as such.
    const strict = resolveBudgets({ fidelity_min_snr_db: 40 });
    expect(strict.find((b) => b.name === 'fidelity_min_snr_db')!.source).toBe('config');
    expect(checkAgainst(subject({ accuracy: null, top1_fits: false, fidelity_snr_db: 35 }), noLabels, strict, 'top1')[0]!.passed).toBe(false);
    expect(checkAgainst(subject({ accuracy: null, top1_fits: true, fidelity_snr_db: 5 }), noLabels, strict, 'top1')[0]!.name).toBe('accuracy_drop_max');
  });

  it('budgets a decoder on time to first token and decode time, failing only when the whole CI is above', () => {
    const dec = resolveBudgets({ latency_ratio_max: 1.2, ttft_ratio_max: 1.5 }, { decoder: true });
    expect(dec.map((b) => [b.name, b.value, b.source])).toEqual([
      ['accuracy_drop_max', 0.005, 'default'], ['fidelity_min_snr_db', 20, 'default'], ['ttft_ratio_max', 1.5, 'config'], ['decode_ratio_max', 1.2, 'default'],
    ]);
    const a = (ttft: [number, number], decode: [number, number]): Against => ({
      baseline: ref, name: 'the reference',
      ttft: { ratio: (ttft[0] + ttft[1]) / 2, ci95: ttft, verdict: 'within noise' }, decode: { ratio: (decode[0] + decode[1]) / 2, ci95: decode, verdict: 'within noise' },
    });
    const names = (c: ReturnType<typeof checkAgainst>) => c.map((k) => [k.name, k.passed]);
    expect(names(checkAgainst(subject({}), a([1.4, 1.6], [1.1, 1.3]), dec, 'top1'))).toEqual([['accuracy_drop_max', true], ['ttft_ratio_max', true], ['decode_ratio_max', true]]);
    const slow = checkAgainst(subject({}), a([1.4, 1.6], [1.25, 1.3]), dec, 'top1');
    expect(slow[2]).toMatchObject({ name: 'decode_ratio_max', passed: false });
    expect(slow[2]!.message).toContain('decode time per token 1.275× the reference (95% CI 1.250–1.300): significantly above 1.2×');
    const none = checkAgainst(subject({}), { baseline: ref, name: 'the reference' }, dec, 'top1');
    expect(none.slice(1).map((k) => [k.passed, k.message.startsWith('not measured')])).toEqual([[false, true], [false, true]]);
  });
});
