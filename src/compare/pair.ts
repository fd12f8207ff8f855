/** One head-vs-base pair judged by the gate rules, with base as the baseline: shared by `compare` and `compare --base-report`. */
import type { GateSpec, Metric } from '../config/types.js';
import { checkAgainst, resolveBudgets, type GateSubject } from '../gate/rules.js';
import { judgedOf } from '../gate/result.js';
import type { LatencyDelta, PairComparison, SideMetrics } from '../report/types.js';
import type { Fidelity } from '../evaluate/fidelity.js';
import type { DecoderQuality } from '../evaluate/decoder-quality.js';
import { decoderQualityReport, fidelityReport } from '../report/build.js';

export interface PairInput {
  id: PairComparison['id'];
  base: SideMetrics;
  head: SideMetrics;
  /** Top-1 agreement of head with base on the same data, or null. */
  agreement: number | null;
  /** Both sides evaluated on the head's dataset. */
  sameData: boolean;
  latency: LatencyDelta | null;
  /** Head against base on every output, on the same data. */
  fidelity?: Fidelity;
  /** Why the latency budget cannot apply (e.g. different hardware): reported, not gated. */
  latencyNotApplicable?: string;
  /**
   * Decoders: judged as `run` judges them, on generation. `latency` is then time to first token, `decode`
   * the per-token decode time, and quality is next-token agreement and logit fidelity on seeded prompts.
   */
  decoder?: { decode: LatencyDelta | null; quality: DecoderQuality | null };
}

const diff = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : b - a);

export function buildPair(p: PairInput, gate: GateSpec, metric: Metric): PairComparison {
  const { base, head } = p;
  const subject = (s: SideMetrics, agreement: number | null): GateSubject => ({ id: s.candidate, bytes: s.bytes, accuracy: s.accuracy, agreement, loss: s.mse ?? s.mae ?? null, p50_ms: s.p50_ms });
  const baseline = subject(base, null);
  const f = p.fidelity;
  const dq = p.decoder?.quality ?? null;
  // Where top-1 does not fit the output, agreement is no figure and fidelity is (as in run).
  const agreement = dq ? dq.top1_agreement : f?.top1_fits === false ? null : p.agreement;
  const headSubject: GateSubject = {
    ...subject(head, agreement),
    ...(dq ? { top1_fits: true, fidelity_snr_db: dq.snr_db, fidelity_output: 'logits' } : f ? { top1_fits: f.top1_fits, fidelity_snr_db: f.snr_db, fidelity_output: f.worst_output, ...judgedOf(f) } : {}),
  };
  const latency = p.latency ? (p.decoder ? { ttft: p.latency } : { latency: p.latency }) : {};
  const checks = checkAgainst(headSubject, {
    baseline, name: 'base', ...latency, ...(p.decoder?.decode ? { decode: p.decoder.decode } : {}),
    ...(p.latencyNotApplicable ? { latencyNotApplicable: p.latencyNotApplicable } : {}),
  }, resolveBudgets(gate, { decoder: p.decoder !== undefined }), metric).map((c) => ((c.name === 'accuracy_drop_max' || c.name === 'fidelity_min_snr_db') && !p.sameData ? { ...c, message: `${c.message} (each side measured on its own dataset)` } : c));
  return {
    id: p.id, base, head,
    delta: {
      bytes: head.bytes - base.bytes,
      gzip_bytes: diff(base.gzip_bytes, head.gzip_bytes),
      accuracy: diff(base.accuracy, head.accuracy),
      mse: diff(base.mse, head.mse),
      p50_ms: diff(base.p50_ms, head.p50_ms),
      p90_ms: diff(base.p90_ms, head.p90_ms),
      p99_ms: diff(base.p99_ms, head.p99_ms),
      throughput_items_per_s: diff(base.throughput_items_per_s, head.throughput_items_per_s),
      cold_start_ms: diff(base.cold_start_ms, head.cold_start_ms),
      peak_rss_bytes: diff(base.peak_rss_bytes, head.peak_rss_bytes),
    },
    agreement, same_data: p.sameData, latency: p.latency,
    ...(p.decoder?.decode ? { decode_latency: p.decoder.decode } : {}), ...(dq ? { decoder_quality: decoderQualityReport(dq) } : {}),
    checks, ...(f ? { fidelity: fidelityReport(f) } : {}),
  };
}
