/**
 * TF.js export for web deployment: the layers model written back as model.json + shards with
 * uint8, uint16 or float16 weights, reloaded from disk to prove it loads and to measure what the
 * quantization cost (max |reloaded − source| on seeded inputs), and timed on the TF.js runtime
 * (wasm here, tfjs-node when installed), the runtime named with every figure.
 */
import type * as tf from '@tensorflow/tfjs';
import { ModelGateError } from '../errors.js';
import { seededRandom } from '../data/random.js';
import { EXTRA_ACTIVATION_NAMES, EXTRA_LAYER_CLASSES } from './tfjs-extras.js';
import { readTfjsLayersModel, writeTfjsLayersModel, type WeightQuantization } from '../formats/tfjs/files.js';

export interface TfjsExportOptions {
  quantize?: WeightQuantization;
  /** Timed predict() calls after warm-up; default 50. */
  runs?: number;
  warmup?: number;
  /** Batch size of the timed calls; default 1. */
  batch?: number;
  /** Name of the runtime for the report, e.g. 'tfjs 4.22.0 (wasm)'. */
  runtime?: string;
  seed?: number;
}

export interface TfjsLatency {
  runtime: string;
  batch: number;
  runs: number;
  p50_ms: number;
  p90_ms: number;
  mean_ms: number;
}

export interface TfjsExportResult {
  dir: string;
  files: string[];
  bytes: number;
  weight_bytes: number;
  quantize: WeightQuantization;
  /** Reloaded model vs the source model, same seeded inputs. */
  max_abs_diff: number;
  output_scale: number;
  latency: TfjsLatency;
}

/** Stock TF.js (the browser) cannot load the classes registered for Keras semantics. */
export function checkExportable(model: tf.LayersModel): void {
  const text = JSON.stringify(model.toJSON(null, false));
  for (const cls of EXTRA_LAYER_CLASSES) {
    if (text.includes(`"class_name":"${cls}"`)) {
      throw new ModelGateError(`the model uses ${cls}, a Keras layer stock TF.js does not have, so a browser could not load the TF.js export`);
    }
  }
  for (const name of EXTRA_ACTIVATION_NAMES) {
    const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (text.includes(`"activation":"${snake}"`) || text.includes(`"recurrent_activation":"${snake}"`)) {
      throw new ModelGateError(`the model uses the activation ${snake}, which stock TF.js does not have, so a browser could not load the TF.js export`);
    }
  }
}

/** Seeded inputs for a TF.js model: uniform [0, 1) floats, small integers for int32 inputs. */
export function seededTfjsInputs(t: typeof tf, model: tf.LayersModel, batch: number, seed: number): tf.Tensor[] {
  return model.inputs.map((input, i) => {
    const dims = input.shape.slice(1);
    if (dims.some((d) => d == null)) throw new ModelGateError(`input '${input.name}' has unknown dims [${input.shape.join(', ')}]; TF.js timing needs fixed shapes`);
    const shape = [batch, ...(dims as number[])];
    const n = shape.reduce((a, b) => a * b, 1);
    const random = seededRandom(seed + 7919 * i);
    if (input.dtype === 'int32') return t.tensor(Int32Array.from({ length: n }, () => Math.floor(random() * 10)), shape, 'int32');
    return t.tensor(Float32Array.from({ length: n }, () => random()), shape, 'float32');
  });
}

function outputsOf(t: typeof tf, model: tf.LayersModel, xs: tf.Tensor[]): Float32Array[] {
  return t.tidy(() => {
    const out = model.predict(xs.length === 1 ? xs[0]! : xs);
    return (Array.isArray(out) ? out : [out]).map((o) => o.dataSync() as Float32Array);
  });
}

/** predict() + a synchronous read of every output, which is what a page waits for. */
export function benchmarkTfjs(t: typeof tf, model: tf.LayersModel, options: { batch?: number; runs?: number; warmup?: number; runtime?: string; seed?: number } = {}): TfjsLatency {
  const batch = options.batch ?? 1;
  const runs = options.runs ?? 50;
  const xs = seededTfjsInputs(t, model, batch, options.seed ?? 7);
  try {
    for (let k = 0; k < (options.warmup ?? 5); k++) outputsOf(t, model, xs);
    const times: number[] = [];
    for (let k = 0; k < runs; k++) {
      const t0 = performance.now();
      outputsOf(t, model, xs);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
    return {
      runtime: options.runtime ?? `tfjs ${t.version.tfjs ?? ''} (${t.getBackend()})`,
      batch,
      runs,
      p50_ms: at(0.5),
      p90_ms: at(0.9),
      mean_ms: times.reduce((a, b) => a + b, 0) / times.length,
    };
  } finally {
    t.dispose(xs);
  }
}

export async function exportTfjsModel(t: typeof tf, model: tf.LayersModel, dir: string, options: TfjsExportOptions = {}): Promise<TfjsExportResult> {
  checkExportable(model);
  const quantize = options.quantize ?? 'uint8';
  const written = await writeTfjsLayersModel(model, dir, { quantize });
  const reloaded = await readTfjsLayersModel(t, dir);
  try {
    const xs = seededTfjsInputs(t, model, 4, options.seed ?? 20261127);
    let maxAbsDiff = 0;
    let scale = 0;
    try {
      const want = outputsOf(t, model, xs);
      const got = outputsOf(t, reloaded, xs);
      want.forEach((w, k) => {
        for (let j = 0; j < w.length; j++) {
          scale = Math.max(scale, Math.abs(w[j]!));
          maxAbsDiff = Math.max(maxAbsDiff, Math.abs(w[j]! - got[k]![j]!));
        }
      });
    } finally {
      t.dispose(xs);
    }
    const latency = benchmarkTfjs(t, reloaded, { batch: options.batch, runs: options.runs, warmup: options.warmup, runtime: options.runtime });
    return { dir, files: written.files, bytes: written.bytes, weight_bytes: written.weightBytes, quantize, max_abs_diff: maxAbsDiff, output_scale: scale, latency };
  } finally {
    reloaded.dispose();
  }
}
