/**
 * The evaluate stage: every candidate on the same data, the reference first, so that each candidate's
 * agreement is with the reference's predictions. `run`, `compare` and the auto search all evaluate through
 * evaluateCandidate.
 */
import type { Metric, MetricOptions } from '../config/types.js';
import type { Dataset } from '../data/dataset.js';
import { errorMessage } from '../errors.js';
import { openSession } from '../runtime/kind.js';
import type { Candidate } from '../candidates/types.js';
import { evaluate, type EvalResult } from './metrics.js';
import { EVAL_BATCH, firstSamples } from './samples.js';
import { FIDELITY_SAMPLES, measureFidelity, type Fidelity, type OutputFacts } from './fidelity.js';
import { decoderQuality, type DecoderQuality, type DecoderQualityOptions } from './decoder-quality.js';
import { decoderSignature, type DecoderSignature } from '../model/decoder.js';
import { loadModel } from '../model/onnx.js';

export { EVAL_BATCH, firstSamples };

export interface EvaluateOptions {
  metric: Metric;
  /** Which output the metric reads, and binary's threshold and activation. */
  metricOptions?: MetricOptions;
  threads: number;
  /** The reference's top-1 predictions, for agreement. */
  reference?: Int32Array;
  /** Only the first `samples` samples (the search's quick looks). */
  samples?: number;
}

export async function evaluateCandidate(candidate: Pick<Candidate, 'id' | 'file' | 'runtimeKind' | 'runtimeOptions' | 'batch'>, dataset: Dataset, options: EvaluateOptions): Promise<EvalResult> {
  const session = await openSession(candidate.file, { ...candidate.runtimeOptions, intraOpThreads: options.threads }, candidate.id, candidate.runtimeKind);
  try {
    const data = options.samples === undefined ? dataset : firstSamples(dataset, options.samples);
    const b = candidate.batch;
    return await evaluate(session, data, {
      ...options.metricOptions, metric: options.metric, batchSize: b.kind === 'fixed' ? b.batch : EVAL_BATCH, pad: b.kind === 'fixed', ...(options.reference ? { reference: options.reference } : {}),
    });
  } finally {
    await session.release();
  }
}

export interface Evaluation {
  quality?: EvalResult;
  /** Against the first candidate (the reference), on every output; not for the first candidate itself. */
  fidelity?: Fidelity;
  /** Why fidelity could not be measured (the candidate is still judged on what was measured). */
  fidelityError?: string;
  /** Decoders: next-token agreement and logit fidelity on seeded prompts, instead of the dataset evaluation. */
  decoderQuality?: DecoderQuality;
  error?: string;
}

export interface EvaluateAllOptions extends Omit<EvaluateOptions, 'reference' | 'samples'> {
  log?: (message: string) => void;
  /** k of n samples evaluated, per candidate. */
  progress?: (step: string, k: number, n: number) => void;
  /** Predictions to measure agreement against instead of the first candidate's (then no fidelity pass runs). */
  baseline?: Int32Array;
  /** Samples of the fidelity pass; FIDELITY_SAMPLES by default, 0 turns it off. */
  fidelitySamples?: number;
  /** The reference's discrete and squashed outputs (outputFacts()), when its graph is known; else read from the reference's ONNX file. */
  outputs?: OutputFacts;
  /** Set for a decoder reference: quality is decoderQuality on seeded prompts, not the dataset. */
  decoder?: { signature: DecoderSignature; options?: DecoderQualityOptions };
}

/**
 * Evaluates `candidates` in order; the first is the baseline whose predictions the others' agreement is
 * measured against, and whose outputs their fidelity is. A baseline that cannot be evaluated throws
 * (nothing can be judged without it); any other failure is that candidate's error.
 */
/** The same dataset, reporting how many samples the evaluation has read after each batch. */
function counted(dataset: Dataset, step: string, progress: (step: string, k: number, n: number) => void): Dataset {
  return {
    ...dataset,
    *batches(size: number, pad = false) {
      let seen = 0;
      progress(step, 0, dataset.count);
      for (const b of dataset.batches(size, pad)) {
        yield b;
        seen += b.count;
        progress(step, seen, dataset.count);
      }
    },
  };
}

export async function evaluateAll(candidates: readonly Candidate[], dataset: Dataset, options: EvaluateAllOptions): Promise<Map<string, Evaluation>> {
  if (options.decoder) return evaluateDecoders(candidates, options.decoder, options);
  const out = new Map<string, Evaluation>();
  let reference = options.baseline;
  const fidelitySamples = options.baseline ? 0 : options.fidelitySamples ?? FIDELITY_SAMPLES;
  for (const [i, c] of candidates.entries()) {
    options.log?.(`evaluate ${c.id} on ${dataset.count} samples`);
    let e: Evaluation;
    try {
      const data = options.progress ? counted(dataset, `evaluate ${c.id}`, options.progress) : dataset;
      const quality = await evaluateCandidate(c, data, { metric: options.metric, threads: options.threads, ...(options.metricOptions ? { metricOptions: options.metricOptions } : {}), ...(reference ? { reference } : {}) });
      e = { quality };
      if (i === 0 && !reference) reference = quality.predictions;
    } catch (err) {
      if (i === 0 && !options.baseline) throw err;
      out.set(c.id, { error: `evaluation failed: ${errorMessage(err)}` });
      continue;
    }
    if (i > 0 && fidelitySamples > 0) {
      try {
        e.fidelity = await measureFidelity(candidates[0]!, c, dataset, {
          samples: fidelitySamples, threads: options.threads, ...(options.outputs ? { outputs: options.outputs } : {}),
        });
      } catch (err) {
        e.fidelityError = errorMessage(err);
        options.log?.(`fidelity of ${c.id} could not be measured: ${e.fidelityError}`);
      }
    }
    out.set(c.id, e);
  }
  return out;
}

/** One decoder candidate against an open reference session on seeded prompts, fed its own cache type. */
async function decoderQualityAgainst(
  ref: Awaited<ReturnType<typeof openSession>>, c: Candidate, decoder: NonNullable<EvaluateAllOptions['decoder']>, threads: number,
): Promise<DecoderQuality> {
  const signature = decoderSignature(loadModel(c.file, { inlineExternalData: false }), c.file);
  const s = await openSession(c.file, { ...c.runtimeOptions, intraOpThreads: threads }, c.id, c.runtimeKind);
  try {
    return await decoderQuality(ref, s, decoder.signature, decoder.options ?? {}, signature);
  } finally {
    await s.release();
  }
}

/**
 * `candidate`'s next-token agreement and logit fidelity against `reference` (compare: head against base).
 * `decoder.signature` is the reference's.
 */
export async function evaluateDecoderPair(
  reference: Candidate, candidate: Candidate, decoder: NonNullable<EvaluateAllOptions['decoder']>, threads: number,
): Promise<DecoderQuality> {
  const ref = await openSession(reference.file, { ...reference.runtimeOptions, intraOpThreads: threads }, reference.id, reference.runtimeKind);
  try {
    return await decoderQualityAgainst(ref, candidate, decoder, threads);
  } finally {
    await ref.release();
  }
}

/** Decoders: each candidate against the first on seeded prompts, each model fed its own cache type. */
async function evaluateDecoders(candidates: readonly Candidate[], decoder: NonNullable<EvaluateAllOptions['decoder']>, options: EvaluateAllOptions): Promise<Map<string, Evaluation>> {
  const out = new Map<string, Evaluation>();
  const [first, ...rest] = candidates;
  if (!first) return out;
  out.set(first.id, {});
  const ref = await openSession(first.file, { ...first.runtimeOptions, intraOpThreads: options.threads }, first.id, first.runtimeKind);
  try {
    for (const c of rest) {
      options.log?.(`evaluate ${c.id}: next-token agreement with ${first.id} on seeded prompts`);
      try {
        out.set(c.id, { decoderQuality: await decoderQualityAgainst(ref, c, decoder, options.threads) });
      } catch (err) {
        out.set(c.id, { error: `evaluation failed: ${errorMessage(err)}` });
      }
    }
  } finally {
    await ref.release();
  }
  return out;
}
