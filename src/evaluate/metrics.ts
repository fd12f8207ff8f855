/**
 * Quality of a candidate on the dataset: top-1/top-5 accuracy, binary accuracy, macro F1, MSE or
 * MAE against labels, and top-1 agreement with the reference's predictions. Runs batch by batch and
 * keeps only one int per sample (its predicted class), so memory stays flat as the dataset grows.
 */
import type { ModelSession } from '../runtime/kind.js';
import type { Dataset } from '../data/dataset.js';
import type { Metric, MetricOptions } from '../config/types.js';
import type { HostTensor } from '../model/host-tensor.js';
import { ModelGateError } from '../errors.js';

export interface EvalResult {
  /**
   * The metric's figure when higher is better (top1, top5, binary: accuracy; f1_macro: macro F1),
   * in 0..1; null without labels or for mse/mae.
   */
  accuracy: number | null;
  /** Mean squared error against the labels (metric mse), else null. */
  mse: number | null;
  /** Mean absolute error against the labels (metric mae), else null. */
  mae: number | null;
  /** Macro-averaged F1 over the classes seen in labels or predictions (metric f1_macro), else null. */
  f1_macro: number | null;
  /** The configured metric and its value (null without labels). */
  score: { metric: Metric; value: number | null; higherIsBetter: boolean };
  /** The output the metric read. */
  output: string;
  /** Top-1 agreement with the reference, 0..1, null when there is no reference or no class axis. */
  agreement: number | null;
  samples: number;
  /** Predicted class per sample (-1 where the output has no class axis). */
  predictions: Int32Array;
}

export interface EvalOptions extends MetricOptions {
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

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Class-1 probability of a binary classifier's row: one logit or two class scores. */
function positiveProbability(values: ArrayLike<number>, offset: number, width: number, activation: MetricOptions['activation']): number {
  if (width === 1) {
    const v = values[offset]!;
    return activation === 'none' ? v : sigmoid(v);
  }
  const a = values[offset]!, b = values[offset + 1]!;
  if (activation === 'none') return b;
  if (activation === 'sigmoid') return sigmoid(b);
  return 1 / (1 + Math.exp(a - b));
}

const CLASS_METRICS = new Set<Metric>(['top1', 'top5', 'binary', 'f1_macro']);

export async function evaluate(session: Pick<ModelSession, 'label' | 'outputNames' | 'run'>, dataset: Dataset, options: EvalOptions): Promise<EvalResult> {
  const metric = options.metric;
  const predictions = new Int32Array(dataset.count);
  if (options.output !== undefined && !session.outputNames.includes(options.output)) {
    throw new ModelGateError(`metric_options.output: ${session.label} has no output '${options.output}' (it has ${session.outputNames.map((n) => `'${n}'`).join(', ')})`);
  }
  const outName = options.output ?? session.outputNames[0]!;
  const threshold = options.threshold ?? 0.5;
  let seen = 0;
  let correct = 0;
  let errSum = 0;
  let errCount = 0;
  let tp: Float64Array | null = null, fp: Float64Array | null = null, fn: Float64Array | null = null;
  const k = metric === 'top5' ? 5 : 1;
  for (const batch of dataset.batches(options.batchSize, options.pad)) {
    const out = (await session.run(batch.feeds, [outName]))[outName]!;
    const rows = out.dims[0] ?? 1;
    const width = rows > 0 ? out.data.length / rows : 0;
    if (rows < batch.count) throw new ModelGateError(`${session.label}: output '${outName}' has ${rows} rows for a batch of ${batch.count}`);
    const values = asNumbers(out);
    for (let i = 0; i < batch.count * width; i++) {
      if (!Number.isFinite(values[i]!)) {
        const s = (batch.start ?? seen) + Math.floor(i / width);
        throw new ModelGateError(`${session.label}: output '${outName}' is ${values[i]} for ${describe(dataset, s)}; a model whose outputs are not finite cannot be evaluated`);
      }
    }
    // A one-value output is a binary classifier's logit for class metrics (and for binary); else a regression.
    const binary = metric === 'binary' || (width === 1 && (metric === 'top1' || metric === 'f1_macro'));
    if (binary && width > 2) throw new ModelGateError(`metric binary: output '${outName}' has ${width} values per sample; binary reads one logit or two class scores`);
    const classes = binary ? 2 : width;
    if (metric === 'f1_macro' && !tp) {
      tp = new Float64Array(classes);
      fp = new Float64Array(classes);
      fn = new Float64Array(classes);
    }
    for (let i = 0; i < batch.count; i++) {
      let ranked: number[];
      if (binary) ranked = [positiveProbability(values, i * width, width, options.activation) > threshold ? 1 : 0];
      else ranked = width > 1 && CLASS_METRICS.has(metric) ? topK(values, i * width, width, k) : width > 1 ? [argmax(values, i * width, width)] : [];
      predictions[seen + i] = ranked[0] ?? -1;
      if (!batch.labels) continue;
      if (metric === 'mse' || metric === 'mae') {
        if (batch.labelWidth !== width) throw new ModelGateError(`${labelPlace(dataset, (batch.start ?? seen) + i)}: ${batch.labelWidth} values per sample, output '${outName}' has ${width}`);
        for (let j = 0; j < width; j++) {
          const d = values[i * width + j]! - batch.labels[i * width + j]!;
          errSum += metric === 'mse' ? d * d : Math.abs(d);
        }
        errCount += width;
      } else {
        const label = classLabel(batch.labels, i, batch.labelWidth, classes, dataset, (batch.start ?? seen) + i, outName);
        if (ranked.includes(label)) correct++;
        if (tp && fp && fn) {
          const p = ranked[0]!;
          if (p === label) tp[label]++;
          else {
            fp[p]++;
            fn[label]++;
          }
        }
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
  const f1 = labelled && tp && fp && fn ? macroF1(tp, fp, fn) : null;
  const accuracy = !labelled ? null : metric === 'f1_macro' ? f1 : CLASS_METRICS.has(metric) ? correct / seen : null;
  const mse = labelled && metric === 'mse' ? errSum / Math.max(1, errCount) : null;
  const mae = labelled && metric === 'mae' ? errSum / Math.max(1, errCount) : null;
  return {
    accuracy,
    mse,
    mae,
    f1_macro: f1,
    score: { metric, value: accuracy ?? mse ?? mae, higherIsBetter: CLASS_METRICS.has(metric) },
    output: outName,
    agreement,
    samples: seen,
    predictions,
  };
}

function describe(dataset: Dataset, index: number): string {
  return dataset.describeSample?.(index) ?? `sample ${index}`;
}

function labelPlace(dataset: Dataset, index: number): string {
  return `${describe(dataset, index)}, ${dataset.labelKey ?? 'label'}`;
}

/**
 * A class id from a label row: an integer in [0, classes), or a one-hot row exactly as wide as the output.
 * Anything else (negative, fractional, out of range, wrong width) is a data error, not a miss.
 */
function classLabel(labels: Float64Array, i: number, labelWidth: number, classes: number, dataset: Dataset, index: number, outName: string): number {
  if (labelWidth !== 1) {
    if (labelWidth !== classes) {
      throw new ModelGateError(`${labelPlace(dataset, index)}: a one-hot label of width ${labelWidth}, but output '${outName}' has ${classes} classes`);
    }
    return argmax(labels, i * labelWidth, labelWidth);
  }
  const v = labels[i]!;
  if (!Number.isInteger(v)) throw new ModelGateError(`${labelPlace(dataset, index)}: label ${v} is not a class id (a whole number)`);
  if (v < 0 || v >= classes) throw new ModelGateError(`${labelPlace(dataset, index)}: label ${v} is out of range; output '${outName}' has ${classes} classes (0 to ${classes - 1})`);
  return v;
}

/** F1 averaged over the classes that occur in the labels or the predictions (as scikit-learn's f1_score(average='macro')). */
function macroF1(tp: Float64Array, fp: Float64Array, fn: Float64Array): number {
  let sum = 0;
  let n = 0;
  for (let c = 0; c < tp.length; c++) {
    const denom = 2 * tp[c]! + fp[c]! + fn[c]!;
    if (denom === 0) continue;
    sum += (2 * tp[c]!) / denom;
    n++;
  }
  return n === 0 ? 0 : sum / n;
}

function argmax(a: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (a[offset + j]! > a[offset + best]!) best = j;
  return best;
}
