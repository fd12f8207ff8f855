/** The evaluation's batching and its first-N-samples view of a dataset, shared by quality and fidelity. */
import type { Dataset } from '../data/dataset.js';

/** Evaluation batch for models with a dynamic batch dimension: large enough to amortize per-run overhead. */
export const EVAL_BATCH = 100;

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
