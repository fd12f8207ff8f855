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

/** Evaluation batch for models with a dynamic batch dimension: large enough to amortize per-run overhead. */
export const EVAL_BATCH = 100;

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

/** The first `n` samples of a dataset (the evaluation keeps one prediction per sample, in order). */
export function firstSamples(dataset: Dataset, n: number): Dataset {
  if (n >= dataset.count) return dataset;
  return {
    ...dataset,
    count: n,
    *batches(size: number, pad = false) {
      let seen = 0;
      for (const b of dataset.batches(size, pad)) {
        if (seen >= n) return;
        const take = Math.min(b.count, n - seen);
        // Extra rows in the feeds are run and ignored: evaluate reads `count` rows.
        yield take === b.count ? b : { ...b, count: take, labels: b.labels ? b.labels.subarray(0, take * b.labelWidth) : null };
        seen += take;
      }
    },
  };
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

export type Evaluation = { quality: EvalResult; error?: undefined } | { quality?: undefined; error: string };

/**
 * Evaluates `candidates` in order; the first is the baseline whose predictions the others' agreement is
 * measured against. A baseline that cannot be evaluated throws (nothing can be judged without it); any
 * other failure is that candidate's error.
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

export async function evaluateAll(
  candidates: readonly Candidate[], dataset: Dataset,
  options: Omit<EvaluateOptions, 'reference' | 'samples'> & { log?: (m: string) => void; progress?: (step: string, k: number, n: number) => void; baseline?: Int32Array },
): Promise<Map<string, Evaluation>> {
  const out = new Map<string, Evaluation>();
  let reference = options.baseline;
  for (const [i, c] of candidates.entries()) {
    options.log?.(`evaluate ${c.id} on ${dataset.count} samples`);
    try {
      const data = options.progress ? counted(dataset, `evaluate ${c.id}`, options.progress) : dataset;
      const quality = await evaluateCandidate(c, data, { metric: options.metric, threads: options.threads, ...(options.metricOptions ? { metricOptions: options.metricOptions } : {}), ...(reference ? { reference } : {}) });
      out.set(c.id, { quality });
      if (i === 0 && !reference) reference = quality.predictions;
    } catch (err) {
      if (i === 0 && !options.baseline) throw err;
      out.set(c.id, { error: `evaluation failed: ${errorMessage(err)}` });
    }
  }
  return out;
}
