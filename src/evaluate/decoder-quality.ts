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
import { halfToFloat } from '../model/tensor.js';
import { decoderFeeds, presentAsPast, seededPrompt, type DecoderSignature } from '../model/decoder.js';
import { seededRandom } from '../data/random.js';
import { ModelGateError } from '../errors.js';

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

/** Accumulates fidelity over logit rows. */
export class FidelityAccumulator {
  private signal = 0;
  private noise = 0;
  private cosSum = 0;
  private agree = 0;
  rows = 0;

  add(ref: ArrayLike<number>, cand: ArrayLike<number>): void {
    if (ref.length !== cand.length) throw new ModelGateError(`decoder quality: logits of ${ref.length} and ${cand.length} values`);
    let dot = 0, rr = 0, cc = 0, noise = 0, ra = 0, ca = 0;
    for (let i = 0; i < ref.length; i++) {
      const r = ref[i]!, c = cand[i]!;
      dot += r * c;
      rr += r * r;
      cc += c * c;
      noise += (r - c) * (r - c);
      if (r > ref[ra]!) ra = i;
      if (c > cand[ca]!) ca = i;
    }
    this.signal += rr;
    this.noise += noise;
    this.cosSum += rr > 0 && cc > 0 ? dot / Math.sqrt(rr * cc) : rr === cc ? 1 : 0;
    if (ra === ca) this.agree++;
    this.rows++;
  }

  result(): LogitFidelity & { top1_agreement: number } {
    return {
      cosine: this.rows ? this.cosSum / this.rows : NaN,
      snr_db: this.noise === 0 ? Infinity : 10 * Math.log10(this.signal / this.noise),
      top1_agreement: this.rows ? this.agree / this.rows : NaN,
    };
  }
}

/** Fidelity of two equally long logit arrays, one row. */
export function logitFidelity(ref: ArrayLike<number>, cand: ArrayLike<number>): LogitFidelity {
  const acc = new FidelityAccumulator();
  acc.add(ref, cand);
  const { cosine, snr_db } = acc.result();
  return { cosine, snr_db };
}

/** A tensor's values as floats (ORT hands float16 back as raw bits). */
export function floatValues(t: HostTensor): Float32Array {
  if (t.type === 'float16') return Float32Array.from(t.data as Uint16Array, halfToFloat);
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) return Float32Array.from(t.data, Number);
  return Float32Array.from(t.data as ArrayLike<number>);
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
      const candOut = await candidate.run(decoderFeeds(sig, next, pastLength, candPast));
      const r = lastLogits(refOut, reference.label);
      acc.add(r, lastLogits(candOut, candidate.label));
      vocab ??= r.length;
      refPast = presentAsPast(sig, refOut, reference.label);
      candPast = presentAsPast(sig, candOut, candidate.label);
      pastLength += next.length;
      next = [argmax(r)];
    }
  }
  return { ...acc.result(), positions: acc.rows, prompts, prompt_length: length, decode_steps: steps };
}
