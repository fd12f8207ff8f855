/** The report stage: typed pipeline results → report.json's candidates. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { recipeOf, REFERENCE_ID } from '../candidates/types.js';
import type { CandidateResult } from '../gate/result.js';
import { latencyPercentiles } from './charts.js';
import type { CandidateReport, DecoderQualityReport, FidelityReport } from './types.js';
import type { DecoderQuality } from '../evaluate/decoder-quality.js';
import type { Fidelity } from '../evaluate/fidelity.js';
import { summarizeDecoderLatency } from '../benchmark/decoder.js';

const rel = (outDir: string, file: string) => path.relative(outDir, file).split(path.sep).join('/');

/** Gzip-compressed size (level 9): unstructured sparsity only pays once a file is compressed. */
function gzipBytes(r: CandidateResult): number | undefined {
  const c = r.candidate;
  if (!c.file) return undefined;
  const files = c.provenance.kind === 'tfjs-export' ? c.provenance.files.map((f) => path.join(path.dirname(c.file), f)) : [c.file];
  return files.reduce((n, f) => n + gzipSync(readFileSync(f), { level: 9 }).length, 0);
}

/** JSON has no Infinity: an infinite SNR (identical outputs) is written as null, a zero reference against noise (-Infinity) as -999. */
const finite = (v: number): number | null => (v === Infinity ? null : Number.isFinite(v) ? v : -999);

export function fidelityReport(f: Fidelity): FidelityReport {
  return {
    samples: f.samples, worst_output: f.worst_output, worst_kind: f.worst_kind, cosine: f.cosine, snr_db: finite(f.snr_db), max_abs_error: f.max_abs_error, top1_fits: f.top1_fits,
    outputs: f.outputs.map((o) => ({
      name: o.name, cosine: o.cosine, snr_db: finite(o.snr_db), max_abs_error: o.max_abs_error, ...(o.discrete ? { discrete: true, exact_match: o.exact_match } : {}),
      domain: o.domain, ...(o.squash ? { squash: o.squash, output_snr_db: finite(o.output_snr_db!), logit_snr_db: finite(o.logit_snr_db!) } : {}),
      ...(o.decision_inputs ? { decision_inputs: o.decision_inputs } : {}), ...(o.decision_inputs_missing ? { decision_inputs_missing: o.decision_inputs_missing } : {}),
    })),
    ...(f.decision_inputs
      ? {
        decision_inputs: f.decision_inputs.map((d) => ({
          tensor: d.tensor, readers: d.readers.map((r) => ({ ...r })), outputs: [...d.outputs], ...(d.candidate_tensor !== undefined ? { candidate_tensor: d.candidate_tensor } : {}),
          ...(d.missing !== undefined
            ? { missing: d.missing }
            : {
              cosine: d.cosine!, snr_db: finite(d.snr_db!), max_abs_error: d.max_abs_error!, domain: d.domain!,
              ...(d.squash ? { squash: d.squash, output_snr_db: finite(d.output_snr_db!), logit_snr_db: finite(d.logit_snr_db!) } : {}),
            }),
        })),
      }
      : {}),
  };
}

export function candidateReport(r: CandidateResult, outDir: string): CandidateReport {
  const c = r.candidate;
  const lat = r.latency;
  const vs = r.vsReference;
  const out: CandidateReport = {
    id: c.id,
    recipe: recipeOf(c.provenance),
    file: c.file ? rel(outDir, c.file) : '',
    bytes: c.bytes,
    accuracy: r.quality?.accuracy ?? null,
    // A top-1 over a single value or a map's pixels is no agreement figure: the fidelity is.
    agreement: c.id === REFERENCE_ID || r.fidelity?.top1_fits === false ? null : r.decoderQuality?.top1_agreement ?? r.quality?.agreement ?? null,
    latency: lat
      ? {
          batch: lat.batch, threads: lat.threads, p50_ms: lat.p50_ms, p90_ms: lat.p90_ms, p99_ms: lat.p99_ms, samples: lat.samples,
          mean_ms: lat.mean_ms, stddev_ms: lat.stddev_ms, cv: lat.cv, ci95_ms: lat.ci95_ms, throughput_items_per_s: lat.throughput_items_per_s,
          cold_start_ms: lat.cold_start_ms, peak_rss_bytes: lat.peak_rss_bytes, percentiles_ms: latencyPercentiles(lat.raw_ms),
          ...(vs ? { ratio: vs.ratio, ratio_ci95: vs.ci95, verdict: vs.verdict, measurements: vs.measurements, ...(vs.control ? { control: vs.control } : {}) } : {}),
        }
      : null,
    checks: r.checks ?? [],
  };
  if (r.quality?.mse != null) out.mse = r.quality.mse;
  if (r.quality?.mae != null) out.mae = r.quality.mae;
  if (r.quality?.f1_macro != null) out.f1_macro = r.quality.f1_macro;
  const gz = gzipBytes(r);
  if (gz !== undefined) out.gzip_bytes = gz;
  out.runtime_kind = c.runtimeKind;
  const p = c.provenance;
  if (p.kind === 'tflite' || (p.kind === 'auto' && p.export)) out.tflite = p.export;
  else if (c.tfliteRuntime) out.tflite = { runtime: c.tfliteRuntime };
  if (p.kind === 'tfjs-export') out.tfjs = { runtime: p.runtime, quantize: p.export.quantize };
  if (p.kind === 'auto') out.auto = p.search;
  if (Object.keys(c.runtimeOptions).length > 0) out.runtime_options = c.runtimeOptions;
  if (r.sameAsReference) out.unchanged = true;
  if (c.passNotes) out.pass_notes = c.passNotes;
  if (c.recovery) out.recovery = c.recovery;
  if (c.finetune) out.finetune = c.finetune;
  if (r.fidelity) out.fidelity = fidelityReport(r.fidelity);
  if (r.decoder) {
    const vs = r.decoder.vsReference;
    out.decoder = summarizeDecoderLatency(r.decoder.latency, vs ? { ttft: vs.ttft, decode: vs.decode } : undefined);
  }
  if (r.decoderQuality) out.decoder_quality = decoderQualityReport(r.decoderQuality);
  if (r.error) out.error = r.error;
  return out;
}

/** What report.json keeps of a decoder's next-token quality (candidates[], and compare pairs). */
export function decoderQualityReport(q: DecoderQuality): DecoderQualityReport {
  return {
    top1_agreement: q.top1_agreement, cosine: q.cosine, snr_db: finite(q.snr_db), max_abs_error: q.max_abs_error,
    positions: q.positions, prompts: q.prompts, prompt_length: q.prompt_length, decode_steps: q.decode_steps,
  };
}
