/**
 * Quality of a candidate on the dataset: top-1/top-5 accuracy or MSE against labels, and top-1
 * agreement with the reference's predictions. Runs batch by batch and keeps only one int per
 * sample (its top-1 class), so memory stays flat as the dataset grows.
 */
import type { ModelSession } from '../runtime/kind.js';
import type { Dataset } from '../data/dataset.js';
import type { Metric } from '../config/types.js';
import type { HostTensor } from '../model/host-tensor.js';
import { ModelGateError } from '../errors.js';

export interface EvalResult {
  /** top1/top5 accuracy in 0..1, null without labels or for mse. */
  accuracy: number | null;
  /** Mean squared error against the labels (metric mse), else null. */
  mse: number | null;
  /** Top-1 agreement with the reference, 0..1, null when there is no reference or no class axis. */
  agreement: number | null;
  samples: number;
  /** Top-1 class per sample (-1 where the output has no class axis). */
  predictions: Int32Array;
}

export interface EvalOptions {
  metric: Metric;
  batchSize: number;
  /** Pad the last batch (the model's batch dim is fixed). */
  pad: boolean;
  reference?: Int32Array;
}

function topK(row: ArrayLike<number>, offset: number, width: number, k: number): number[] {
  const best: number[] = [];
  for (let j = 0; j < width; j++) {
    const v = row[offset + j]!;
    let pos = best.length;
    while (pos > 0 && row[offset + best[pos - 1]!]! < v) pos--;
    if (pos < k) {
      best.splice(pos, 0, j);
      if (best.length > k) best.pop();
    }
  }
  return best;
}

function asNumbers(t: HostTensor): ArrayLike<number> {
  if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) return Float64Array.from(t.data, Number);
  return t.data as ArrayLike<number>;
}

export async function evaluate(session: Pick<ModelSession, 'label' | 'outputNames' | 'run'>, dataset: Dataset, options: EvalOptions): Promise<EvalResult> {
  const predictions = new Int32Array(dataset.count);
  const outName = session.outputNames[0]!;
  let seen = 0;
  let correct = 0;
  let sqErr = 0;
  let sqCount = 0;
  const k = options.metric === 'top5' ? 5 : 1;
  for (const batch of dataset.batches(options.batchSize, options.pad)) {
    const out = (await session.run(batch.feeds, [outName]))[outName]!;
    const rows = out.dims[0] ?? 1;
    const width = rows > 0 ? out.data.length / rows : 0;
    if (rows < batch.count) throw new ModelGateError(`${session.label}: output '${outName}' has ${rows} rows for a batch of ${batch.count}`);
    const values = asNumbers(out);
    for (let i = 0; i < batch.count; i++) {
      const ranked = width > 1 ? topK(values, i * width, width, k) : [];
      predictions[seen + i] = ranked[0] ?? -1;
      if (!batch.labels) continue;
      if (options.metric === 'mse') {
        if (batch.labelWidth !== width) throw new ModelGateError(`dataset.labels: ${batch.labelWidth} values per sample, output '${outName}' has ${width}`);
        for (let j = 0; j < width; j++) {
          const d = values[i * width + j]! - batch.labels[i * width + j]!;
          sqErr += d * d;
        }
        sqCount += width;
      } else {
        const label = batch.labelWidth === 1 ? batch.labels[i]! : argmax(batch.labels, i * batch.labelWidth, batch.labelWidth);
        if (ranked.includes(label)) correct++;
      }
    }
    seen += batch.count;
  }
  let agreement: number | null = null;
  if (options.reference && predictions.some((p) => p >= 0)) {
    let same = 0;
    for (let i = 0; i < seen; i++) if (predictions[i] === options.reference[i]) same++;
    agreement = same / seen;
  }
  const labelled = dataset.hasLabels;
  return {
    accuracy: labelled && options.metric !== 'mse' ? correct / seen : null,
    mse: labelled && options.metric === 'mse' ? sqErr / Math.max(1, sqCount) : null,
    agreement,
    samples: seen,
    predictions,
  };
}

function argmax(a: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (a[offset + j]! > a[offset + best]!) best = j;
  return best;
}
