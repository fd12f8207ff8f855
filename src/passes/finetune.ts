/**
 * Fine-tuning after structured pruning or low-rank factorization (the `finetune` option of prune and
 * lowrank): the changed model is trained with back-propagation in TF.js, then its weights go back into the
 * ONNX graph, which keeps its structure and names.
 *
 * - The graph runs as TF.js ops (./tf-graph.ts); its Conv/MatMul/Gemm weights and biases (and
 *   BatchNormalization scale and shift, PRelu slopes, Embedding tables) are trained, nothing else.
 * - Data: the calibration samples (the `calibration:` data, else the dataset). With labels, the loss is the
 *   cross-entropy of the metric's output (on its logits when the output is a Softmax) for class metrics,
 *   or the mean squared error for regression metrics. Without labels, the model is distilled from the pass's
 *   input model (the one before pruning or factorization): the KL divergence from its scores to the
 *   model's on a Softmax/LogSoftmax output (0 when they agree), the mean squared error of every output otherwise.
 * - Adam with learning rate 0.001 and batches of 128 by default (as the seed's training, examples/mnist/train.ts),
 *   the samples shuffled each epoch by a seeded generator: the same model, data and options give the same
 *   bytes on the same backend.
 * - Backend: tfjs-node when it is installed (native TensorFlow), else TF.js's cpu backend (the wasm backend
 *   has no Conv2DBackpropFilter kernel); the process's backend is switched to cpu for the training and back.
 * - Only for Keras and TF.js source models: the forward pass covers the ops their importers emit.
 */
import type * as tf from '@tensorflow/tfjs';
import { DataType, dimsOf, type Model } from '../model/onnx.js';
import { makeTensor } from '../model/tensor.js';
import { getIntAttr, opsetVersion, producerMap, setInitializer } from '../model/graph.js';
import type { Feeds, HostTensor } from '../model/host-tensor.js';
import { seededRandom } from '../data/random.js';
import { loadTfjs } from '../runtime/tfjs.js';
import { installFastConvFilterGrad, installFastMaxPoolGrad } from '../runtime/tfjs-conv-grad.js';
import { ModelGateError, errorMessage } from '../errors.js';
import type { FinetuneNote, PassContext, TrainingSamples } from './pass.js';
import { buildTfGraph, type TfGraph } from './tf-graph.js';

export interface FinetuneOptions {
  /** Passes over the samples (default 1). */
  epochs?: number;
  /** Adam's learning rate (default 0.001). */
  learning_rate?: number;
  /** Samples per step (default 128). */
  batch_size?: number;
  /** Calibration samples to train on (default 10,000; fewer when the data has fewer). */
  samples?: number;
  /** Seed of the per-epoch shuffle (default 20261127). */
  seed?: number;
}

export const finetuneSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    epochs: { type: 'integer', minimum: 1, maximum: 1000 },
    learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    batch_size: { type: 'integer', minimum: 1 },
    samples: { type: 'integer', minimum: 1 },
    seed: { type: 'integer', minimum: 0 },
  },
} as const;

export const FINETUNE_DEFAULTS = { epochs: 1, learning_rate: 0.001, batch_size: 128, samples: 10000, seed: 20261127 } as const;
const SOURCE_FORMATS = new Set(['keras-h5', 'keras-zip', 'tfjs-layers', 'tfjs-graph']);

/** Fails early (before the pass does its work) when the source model is not one finetune trains. */
export function checkFinetuneSource(ctx: PassContext, pass: string): void {
  if (ctx.sourceFormat && SOURCE_FORMATS.has(ctx.sourceFormat)) return;
  const what = ctx.sourceFormat ? `the source model is ${ctx.sourceFormat === 'onnx' ? 'an ONNX file' : ctx.sourceFormat}` : 'the source model format is not known here';
  throw new ModelGateError(`pass '${pass}': option 'finetune' needs a Keras (.h5, .keras) or TF.js source model, which it trains in TF.js; ${what}. Use 'recover: {}' (no training) for other models.`);
}

interface Column {
  name: string;
  /** Per-sample dims (without the batch axis). */
  dims: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** The samples' feeds stacked per input along the batch axis (axis 0; each feed is one sample). */
function stack(feeds: readonly Feeds[], pass: string): Column[] {
  const names = Object.keys(feeds[0]!);
  return names.map((name) => {
    const first = feeds[0]![name]!;
    if (first.dims[0] !== 1) throw new ModelGateError(`pass '${pass}' finetune: input '${name}' has batch axis of size ${first.dims[0]} in a one-sample feed; finetune stacks samples on axis 0`);
    const per = first.data.length;
    const float = !/int|bool/.test(first.type);
    const data = float ? new Float32Array(per * feeds.length) : new Int32Array(per * feeds.length);
    feeds.forEach((f, i) => {
      const h: HostTensor | undefined = f[name];
      if (!h || h.data.length !== per) throw new ModelGateError(`pass '${pass}' finetune: sample ${i} has no input '${name}' of ${per} values`);
      for (let k = 0; k < per; k++) data[i * per + k] = Number(h.data[k]!);
    });
    return { name, dims: first.dims.slice(1), dtype: float ? 'float32' : 'int32', data };
  });
}

function gatherRows(t: typeof tf, col: { dims: number[]; dtype: 'float32' | 'int32'; data: Float32Array | Int32Array }, idx: ArrayLike<number>): tf.Tensor {
  const per = col.dims.reduce((a, b) => a * b, 1);
  const out = col.dtype === 'float32' ? new Float32Array(idx.length * per) : new Int32Array(idx.length * per);
  for (let i = 0; i < idx.length; i++) out.set(col.data.subarray(idx[i]! * per, (idx[i]! + 1) * per), i * per);
  return t.tensor(out, [idx.length, ...col.dims], col.dtype);
}

/** How one output is scored: on logits (the input of a final Softmax/LogSoftmax/Sigmoid) or as is. */
interface Head {
  output: string;
  /** The tensor the loss reads. */
  tensor: string;
  kind: 'softmax' | 'sigmoid' | 'plain';
  /** The output is a LogSoftmax. */
  logProbabilities?: boolean;
}

function headOf(model: Model, output: string): Head {
  const producer = producerMap(model.graph!).get(output);
  const op = producer?.opType ?? '';
  // -1, or 1 for the [N, classes] outputs of classifiers (the default axis before opset 13).
  const axis = producer ? getIntAttr(producer, 'axis', opsetVersion(model) >= 13 ? -1 : 1) : 0;
  if ((op === 'Softmax' || op === 'LogSoftmax') && (axis === -1 || axis === 1)) return { output, tensor: producer!.input![0]!, kind: 'softmax', ...(op === 'LogSoftmax' ? { logProbabilities: true } : {}) };
  if (op === 'Sigmoid') return { output, tensor: producer!.input![0]!, kind: 'sigmoid' };
  return { output, tensor: output, kind: 'plain' };
}

/** Trains `model`'s weights in place (the pass's own copy) and returns what it did. */
export async function finetune(model: Model, reference: Model, options: FinetuneOptions, ctx: PassContext, pass: string): Promise<FinetuneNote> {
  const o = { ...FINETUNE_DEFAULTS, ...options };
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const data: TrainingSamples = ctx.trainingSamples
    ? await ctx.trainingSamples(o.samples)
    : { feeds: await ctx.calibration(o.samples), labels: null, labelWidth: 0, task: 'classification' };
  const count = data.feeds.length;
  if (count === 0) throw new ModelGateError(`pass '${pass}': finetune needs calibration samples and the dataset gave none`);
  const inputs = stack(data.feeds, pass);
  const graphOutputs = (model.graph!.output ?? []).map((v) => v.name!);
  const target = data.output ?? graphOutputs[0]!;
  if (!graphOutputs.includes(target)) throw new ModelGateError(`pass '${pass}' finetune: the model has no output '${target}'`);
  const labelled = data.labels !== null;
  // Regression targets are compared with the output itself; class labels and a teacher's scores with the logits.
  const heads = labelled ? [data.task === 'regression' ? { output: target, tensor: target, kind: 'plain' as const } : headOf(model, target)] : graphOutputs.map((name) => headOf(model, name));

  const rt = await loadTfjs();
  const t = rt.tf;
  const previous = t.getBackend();
  const backend = rt.backend === 'tensorflow' ? 'tensorflow' : 'cpu';
  if (previous !== backend) await t.setBackend(backend);
  if (backend === 'cpu') {
    installFastConvFilterGrad(t);
    installFastMaxPoolGrad(t);
    // The cpu backend prints a banner recommending tfjs-node on first use; the note names the backend.
    (t.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
  const runtime = `tfjs ${rt.version} (${backend})`;
  let student: TfGraph | undefined;
  let optimizer: tf.Optimizer | undefined;
  const targets: Array<Float32Array | undefined> = [];
  const targetDims: number[][] = [];
  try {
    student = buildTfGraph(t, model, `pass '${pass}' finetune`);
    const batch = Math.min(o.batch_size, count);
    const all = Int32Array.from({ length: count }, (_, i) => i);
    const batches = (order: Int32Array) => Array.from({ length: Math.ceil(count / batch) }, (_, b) => order.subarray(b * batch, Math.min(count, (b + 1) * batch)));
    const feedsOf = (idx: Int32Array) => Object.fromEntries(inputs.map((c) => [c.name, gatherRows(t, c, idx)]));

    // Targets: the labels, or the reference model's outputs on every sample (computed once, batch by batch).
    let lossName: FinetuneNote['loss'];
    if (labelled) {
      const width = t.tidy(() => student!.run(feedsOf(all.subarray(0, 1)), [target])[0]!.shape.slice(1));
      if (width.length !== 1) throw new ModelGateError(`pass '${pass}' finetune: output '${target}' has shape [N, ${width.join(', ')}]; training on labels needs one row per sample`);
      const classes = width[0]!;
      const rows = new Float32Array(count * classes);
      const lw = data.labelWidth;
      if (data.task === 'regression') {
        if (lw !== classes) throw new ModelGateError(`pass '${pass}' finetune: the labels have ${lw} values per sample, output '${target}' has ${classes}`);
        rows.set(Float32Array.from(data.labels!.subarray(0, count * classes)));
        lossName = 'mse';
      } else {
        for (let i = 0; i < count; i++) {
          if (lw === classes && classes > 1) {
            for (let c = 0; c < classes; c++) rows[i * classes + c] = data.labels![i * lw + c]!;
          } else if (lw === 1) {
            const v = data.labels![i]!;
            if (classes === 1) rows[i] = v;
            else if (!Number.isInteger(v) || v < 0 || v >= classes) throw new ModelGateError(`pass '${pass}' finetune: sample ${i} has label ${v}, not a class id of output '${target}' (0 to ${classes - 1})`);
            else rows[i * classes + v] = 1;
          } else {
            throw new ModelGateError(`pass '${pass}' finetune: the labels have ${lw} values per sample, output '${target}' has ${classes} classes`);
          }
        }
        lossName = 'cross-entropy';
      }
      targets.push(rows);
      targetDims.push([classes]);
    } else {
      const teacher = buildTfGraph(t, reference, `pass '${pass}' finetune (reference)`);
      try {
        const parts: Float32Array[][] = heads.map(() => []);
        for (const idx of batches(all)) {
          t.tidy(() => {
            const outs = teacher.run(feedsOf(idx), heads.map((h) => h.output));
            outs.forEach((y, k) => {
              // A LogSoftmax output gives log-probabilities; the KL divergence reads probabilities.
              parts[k]!.push((heads[k]!.logProbabilities ? t.exp(y) : y).dataSync() as Float32Array);
              if (targetDims[k] === undefined) targetDims[k] = y.shape.slice(1);
            });
          });
        }
        for (const p of parts) {
          const joined = new Float32Array(p.reduce((n, a) => n + a.length, 0));
          let at = 0;
          for (const a of p) {
            joined.set(a, at);
            at += a.length;
          }
          targets.push(joined);
        }
      } finally {
        teacher.dispose();
      }
      lossName = heads[0]!.kind === 'softmax' ? 'distillation (KL divergence)' : 'distillation (mse)';
    }

    const lossOf = (feeds: Record<string, tf.Tensor>, ys: tf.Tensor[]): tf.Scalar => {
      const outs = student!.run(feeds, heads.map((h) => h.tensor));
      let total: tf.Tensor = t.scalar(0);
      heads.forEach((h, k) => {
        const y = outs[k]!;
        const want = ys[k]!;
        let loss: tf.Tensor;
        if (lossName === 'mse' || (h.kind === 'plain' && lossName !== 'cross-entropy')) {
          loss = t.mean(t.square(t.sub(y, want)));
        } else if (h.kind === 'sigmoid' && !labelled) {
          loss = t.mean(t.square(t.sub(t.sigmoid(y), want)));
        } else if (h.kind === 'sigmoid' || (h.kind === 'plain' && y.shape[1] === 1)) {
          loss = t.losses.sigmoidCrossEntropy(want, y);
        } else if (h.kind === 'plain' && lossName === 'cross-entropy') {
          // Not a Softmax output: read it as logits.
          loss = t.losses.softmaxCrossEntropy(want, y);
        } else {
          // Softmax output, on its logits over the last axis: cross-entropy with the labels, or the KL divergence
          // from the teacher's probabilities (the cross-entropy less the teacher's entropy, so 0 means agreement).
          const logq = t.logSoftmax(y);
          loss = labelled
            ? t.neg(t.mean(t.sum(t.mul(want, logq), -1)))
            : t.mean(t.sum(t.mul(want, t.sub(t.log(t.maximum(want, 1e-30)), logq)), -1));
        }
        total = t.add(total, loss);
      });
      return total as tf.Scalar;
    };
    const targetRows = (idx: Int32Array) => targets.map((data_, k) => gatherRows(t, { dims: targetDims[k]!, dtype: 'float32', data: data_! }, idx));

    // The loss before any step, over all samples.
    let initial = 0;
    for (const idx of batches(all)) {
      const feeds = feedsOf(idx);
      const ys = targetRows(idx);
      initial += t.tidy(() => lossOf(feeds, ys).dataSync()[0]!) * idx.length;
      t.dispose([...Object.values(feeds), ...ys]);
    }
    initial /= count;

    optimizer = t.train.adam(o.learning_rate);
    const varList = [...student.variables.values()];
    const random = seededRandom(o.seed);
    const steps = Math.ceil(count / batch);
    const label = `finetune ${pass}`;
    ctx.log(`${label}: ${o.epochs} epoch${o.epochs === 1 ? '' : 's'} on ${count} ${labelled ? 'labelled ' : ''}samples (${lossName}), Adam ${o.learning_rate}, batch ${batch}, ${runtime}; loss before ${initial.toFixed(4)}`);
    const epochLoss: number[] = [];
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const order = Int32Array.from(all);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let sum = 0;
      for (const [b, idx] of batches(order).entries()) {
        const feeds = feedsOf(idx);
        const ys = targetRows(idx);
        const cost = optimizer.minimize(() => lossOf(feeds, ys), true, varList)!;
        const v = cost.dataSync()[0]!;
        t.dispose([cost, ...Object.values(feeds), ...ys]);
        if (!Number.isFinite(v)) throw new ModelGateError(`pass '${pass}' finetune: the loss became ${v} in epoch ${epoch}, step ${b + 1}; lower finetune.learning_rate`);
        sum += v * idx.length;
        ctx.progress?.(label, (epoch - 1) * steps + b + 1, o.epochs * steps, `epoch ${epoch}/${o.epochs} · loss ${(sum / Math.min(count, (b + 1) * batch)).toFixed(4)}`);
      }
      epochLoss.push(sum / count);
    }

    let parameters = 0;
    for (const [name, v] of student.variables) {
      const values = Float32Array.from(v.dataSync() as Float32Array);
      const init = model.graph!.initializer!.find((x) => x.name === name)!;
      if (init.dataType !== DataType.FLOAT) continue;
      setInitializer(model.graph!, makeTensor(name, dimsOf(init), values));
      parameters += values.length;
    }
    const cpu = process.cpuUsage(cpuStarted);
    const note: FinetuneNote = {
      loss: lossName, epochs: o.epochs, samples: count, batch_size: batch, learning_rate: o.learning_rate, seed: o.seed,
      epoch_loss: epochLoss.map(round), initial_loss: round(initial), weights: student.variables.size, parameters, runtime,
      seconds: round((performance.now() - started) / 1000), cpu_seconds: round((cpu.user + cpu.system) / 1e6),
    };
    ctx.log(`${label}: loss ${initial.toFixed(4)} → ${epochLoss.map((l) => l.toFixed(4)).join(' → ')} (${note.weights} weight tensors, ${parameters} values trained) in ${note.seconds.toFixed(1)} s`);
    if (data.overlapsEvaluation && labelled) {
      ctx.log(`${label}: trained on the evaluation data's labels (no calibration: section), so the accuracy the gate measures is on training samples; give finetune its own data under calibration:`);
    }
    return note;
  } catch (err) {
    // A TF.js failure (a shape the graph fixes, an op without a gradient) says which pass and step it came from.
    if (err instanceof ModelGateError) throw err;
    throw new ModelGateError(`pass '${pass}' finetune: TF.js could not train the model (${runtime}): ${errorMessage(err).split('\n')[0]}`, { cause: err });
  } finally {
    optimizer?.dispose();
    student?.dispose();
    if (t.getBackend() !== previous) await t.setBackend(previous);
  }
}

function round(v: number): number {
  return Number(v.toPrecision(6));
}
