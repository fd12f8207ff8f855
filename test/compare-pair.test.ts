/** A head-vs-base pair on a model whose output has no class axis: judged on fidelity to base, as `run` judges candidates. */
import { describe, expect, it } from 'vitest';
import { buildPair } from '../src/compare/pair.js';
import type { Fidelity } from '../src/evaluate/fidelity.js';
import type { SideMetrics } from '../src/report/types.js';

const side = (candidate: string): SideMetrics => ({
  candidate, bytes: 1000, gzip_bytes: null, accuracy: null, mse: null, p50_ms: 1, p90_ms: 1, p99_ms: 1,
  throughput_items_per_s: null, cold_start_ms: null, peak_rss_bytes: null, samples: 64,
});
const fidelity = (snr: number, top1: boolean): Fidelity => ({
  samples: 64, worst_output: 'map', worst_kind: 'output', cosine: 0.999, snr_db: snr, max_abs_error: 0.01, top1_fits: top1, outputs: [{ name: 'map', cosine: 0.999, snr_db: snr, max_abs_error: 0.01, domain: 'output' }],
});
const latency = { ratio: 1, ci95: [0.98, 1.02] as [number, number], verdict: 'within noise' as const, threshold: 1.05, method: 'paired rounds' as const, gated: true };

describe('compare pair fidelity', () => {
  it('reads fidelity instead of a top-1 over pixels, and reports it', () => {
    const pass = buildPair({ id: 'reference', base: side('reference'), head: side('reference'), agreement: 0.1, sameData: true, latency, fidelity: fidelity(Infinity, false) }, {}, 'top1');
    expect(pass.agreement).toBeNull();
    expect(pass.checks[0]).toMatchObject({ name: 'fidelity_min_snr_db', passed: true });
    expect(pass.checks[0]!.message).toContain('against base ∞ dB (identical)');
    expect(pass.fidelity).toMatchObject({ snr_db: null, worst_output: 'map', top1_fits: false });
    const fail = buildPair({ id: 'reference', base: side('reference'), head: side('reference'), agreement: 1, sameData: true, latency, fidelity: fidelity(12, false) }, { fidelity_min_snr_db: 15 }, 'top1');
    expect(fail.checks[0]).toMatchObject({ name: 'fidelity_min_snr_db', passed: false });
    // A class output keeps its agreement.
    const classes = buildPair({ id: 'reference', base: side('reference'), head: side('reference'), agreement: 1, sameData: true, latency, fidelity: fidelity(12, true) }, {}, 'top1');
    expect(classes.agreement).toBe(1);
    expect(classes.checks[0]).toMatchObject({ name: 'accuracy_drop_max', passed: true });
  });
});
