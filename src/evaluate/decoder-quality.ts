/**
 * Generation quality of a decoder candidate against its reference, without a dataset: on seeded prompts,
 * does the candidate pick the same next token (top-1 agreement of the next-token logits), and how close
 * are its logits (cosine similarity, and signal-to-noise ratio in dB with the reference as the signal)?
 *
 * Each prompt is prefilled with an empty cache, then extended for a few teacher-forced decode steps (the
 * reference's greedy token, fed to both), each model reading back its own cache: this checks the
 * past → present path of the candidate too, not only its prefill.
 */
import type { ModelSession } from '../runtime/kind.js';
import type { HostTensor } from '../model/host-tensor.js';
import { decoderFeeds, presentAsPast, seededPrompt, type DecoderSignature } from '../model/decoder.js';
import { seededRandom } from '../data/random.js';
import { ModelGateError } from '../errors.js';
import { FidelityAccumulator, floatValues } from './fidelity.js';

export { FidelityAccumulator, floatValues };

export interface DecoderQualityOptions {
  /** Seeded prompts; 8 by default. */
  prompts?: number;
  /** Tokens per prompt; 32 by default. */
  promptLength?: number;
  /** Teacher-forced decode steps after each prefill; 4 by default. */
  decodeSteps?: number;
  seed?: number;
}

export interface LogitFidelity {
  /** Mean over compared positions of the cosine similarity of the logit vectors. */
  cosine: number;
  /** 10·log10(Σ ref² / Σ (ref − cand)²) over every compared logit; Infinity when identical. */
  snr_db: number;
  /** Largest |ref − cand| over every compared logit. */
  max_abs_error: number;
}

export interface DecoderQuality extends LogitFidelity {
  /** Share of compared positions where both models pick the same next token, 0..1. */
  top1_agreement: number;
  /** Positions compared: prompts × (1 + decode steps). */
  positions: number;
  prompts: number;
  prompt_length: number;
  decode_steps: number;
}

/** Fidelity of two equally long logit arrays, one row. */
export function logitFidelity(ref: ArrayLike<number>, cand: ArrayLike<number>): LogitFidelity {
  const acc = new FidelityAccumulator();
  acc.add(ref, cand, 'decoder quality: logits');
  const { cosine, snr_db, max_abs_error } = acc.result();
  return { cosine, snr_db, max_abs_error };
}

/** The logits of the last position of a batch-1 run: the next-token distribution. */
export function lastLogits(outputs: Record<string, HostTensor>, label: string): Float32Array {
  const t = outputs.logits;
  if (!t) throw new ModelGateError(`${label}: the decoder returned no 'logits'`);
  const vocab = t.dims[t.dims.length - 1]!;
  const all = floatValues(t);
  return all.subarray(all.length - vocab);
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

export async function decoderQuality(
  reference: Pick<ModelSession, 'label' | 'run'>,
  candidate: Pick<ModelSession, 'label' | 'run'>,
  sig: DecoderSignature,
  options: DecoderQualityOptions = {},
  /** The candidate's own signature when its cache type differs (an fp32 candidate of an fp16 reference). */
  candidateSig: DecoderSignature = sig,
): Promise<DecoderQuality> {
  const prompts = options.prompts ?? 8;
  const length = options.promptLength ?? 32;
  const steps = options.decodeSteps ?? 4;
  const rand = seededRandom(options.seed ?? 1);
  const acc = new FidelityAccumulator();
  let vocab = sig.vocab;
  for (let p = 0; p < prompts; p++) {
    // Without a declared vocabulary the prompt stays in the first 100 ids, which every tokenizer has.
    const tokens = seededPrompt(rand, length, vocab ?? 100);
    let refPast: Record<string, HostTensor> | null = null;
    let candPast: Record<string, HostTensor> | null = null;
    let next = tokens;
    let pastLength = 0;
    for (let s = 0; s <= steps; s++) {
      const refOut = await reference.run(decoderFeeds(sig, next, pastLength, refPast));
      const candOut = await candidate.run(decoderFeeds(candidateSig, next, pastLength, candPast));
      const r = lastLogits(refOut, reference.label);
      acc.add(r, lastLogits(candOut, candidate.label), `${candidate.label}: logits`);
      vocab ??= r.length;
      refPast = presentAsPast(sig, refOut, reference.label);
      candPast = presentAsPast(candidateSig, candOut, candidate.label);
      pastLength += next.length;
      next = [argmax(r)];
    }
  }
  const f = acc.result();
  return { cosine: f.cosine, snr_db: f.snr_db, max_abs_error: f.max_abs_error, top1_agreement: f.top1_agreement, positions: acc.rows, prompts, prompt_length: length, decode_steps: steps };
}
