/**
 * The numerical check every conversion ends with: the source model (TF.js) and the ONNX model
 * (onnxruntime) run on the same seeded inputs, and the largest difference must stay within a
 * tolerance relative to the output scale.
 *
 * "Relative to the output scale" means limit = tolerance · max(1, max |reference output|): a
 * classifier's probabilities get 1e-4 absolute, a regression head emitting thousands gets room in
 * proportion. The floor of 1 keeps near-zero outputs from asking more than float32 arithmetic can give.
 */
import type * as tf from '@tensorflow/tfjs';
import { encodeModel } from '../model/onnx.js';
import { OrtSession } from '../runtime/session.js';
import { seededRandom } from '../data/random.js';
import type { TfjsConversion } from './tfjs-layers.js';

export const DEFAULT_TOLERANCE = 1e-4;

export interface CheckOptions {
  /** Relative tolerance; default 1e-4. */
  tolerance?: number;
  /** Samples in the one batch both runtimes see; default 4. */
  samples?: number;
  seed?: number;
  /** The TF.js runtime's name, recorded with the figure ('tfjs 4.22.0 (wasm)'). */
  runtime?: string;
}

export interface NumericalCheck {
  max_abs_diff: number;
  /** max |reference output| over all outputs. */
  output_scale: number;
  tolerance: number;
  /** The absolute limit the difference was held to: tolerance · max(1, output_scale). */
  limit: number;
  samples: number;
  /** Which TF.js runtime produced the reference outputs. */
  runtime: string;
  passed: boolean;
  /** The output where the largest difference was, for the message. */
  worst_output?: string;
  /** False when every sample gave the same reference output: then the comparison says little. */
  input_sensitive: boolean;
}

/** Channels-last → channels-first for one batch: [N, ...spatial, C] → [N, C, ...spatial]. */
export function toChannelsFirst<T extends Float32Array | Int32Array>(data: T, batch: number, kerasShape: number[]): T {
  const c = kerasShape[kerasShape.length - 1]!;
  const s = kerasShape.slice(0, -1).reduce((a, b) => a * b, 1);
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let n = 0; n < batch; n++) for (let p = 0; p < s; p++) for (let ch = 0; ch < c; ch++) out[(n * c + ch) * s + p] = data[(n * s + p) * c + ch]!;
  return out;
}

/** Channels-first → channels-last, the inverse of toChannelsFirst. */
export function toChannelsLast(data: Float32Array, batch: number, kerasShape: number[]): Float32Array {
  const c = kerasShape[kerasShape.length - 1]!;
  const s = kerasShape.slice(0, -1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(data.length);
  for (let n = 0; n < batch; n++) for (let p = 0; p < s; p++) for (let ch = 0; ch < c; ch++) out[(n * s + p) * c + ch] = data[(n * c + ch) * s + p]!;
  return out;
}

const sameDims = (a: number[], b: number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Seeded inputs for a converted model: indices in range for inputs an Embedding reads, small
 * integers for other integer inputs, uniform [0, 1) floats otherwise (what scaled images look like).
 */
export function seededInputs(conversion: TfjsConversion, samples: number, seed: number): Array<Float32Array | Int32Array> {
  return conversion.inputs.map((input, i) => {
    const random = seededRandom(seed + 7919 * i);
    const n = samples * input.shape.reduce((a, b) => a * b, 1);
    if (input.indexRange !== undefined || input.elemType !== 'float32') {
      const range = input.indexRange ?? 10;
      const ints = Int32Array.from({ length: n }, () => Math.floor(random() * range));
      return input.elemType === 'float32' ? Float32Array.from(ints) : ints;
    }
    return Float32Array.from({ length: n }, () => random());
  });
}

export async function checkConversion(tfjs: typeof tf, source: tf.LayersModel, conversion: TfjsConversion, options: CheckOptions = {}): Promise<NumericalCheck> {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const samples = options.samples ?? 4;
  const data = seededInputs(conversion, samples, options.seed ?? 20261127);

  const expected = tfjs.tidy(() => {
    const xs = conversion.inputs.map((input, i) => tfjs.tensor(data[i]!, [samples, ...input.shape], input.elemType === 'float32' ? 'float32' : 'int32'));
    const out = source.predict(xs.length === 1 ? xs[0]! : xs);
    return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
  });

  const session = await OrtSession.create(encodeModel(conversion.model), {}, 'converted model');
  let actual: Float32Array[];
  try {
    const feeds = Object.fromEntries(
      conversion.inputs.map((input, i) => {
        const d = sameDims(input.onnxDims, input.shape) ? data[i]! : toChannelsFirst(data[i]!, samples, input.shape);
        return [input.name, { type: input.elemType === 'int32' ? ('int32' as const) : ('float32' as const), dims: [samples, ...input.onnxDims], data: d }];
      }),
    );
    const result = await session.run(feeds);
    actual = conversion.outputs.map((o) => {
      const d = result[o.name]!.data as Float32Array;
      return sameDims(o.onnxDims, o.shape) ? d : toChannelsLast(d, samples, o.shape);
    });
  } finally {
    await session.release();
  }

  return compareOutputs(expected, actual, conversion.outputs.map((o) => o.name), samples, tolerance, options.runtime ?? `tfjs ${tfjs.version.tfjs ?? ''} (${tfjs.getBackend()})`.trim());
}

/**
 * The check's verdict from reference and converted outputs (one flat array per output, `samples`
 * rows each): the largest difference, the limit it is held to, and whether the inputs mattered.
 */
export function compareOutputs(expected: ArrayLike<number>[], actual: ArrayLike<number>[], names: string[], samples: number, tolerance: number, runtime: string): NumericalCheck {
  let maxAbsDiff = 0;
  let scale = 0;
  let worst: string | undefined;
  expected.forEach((want, k) => {
    const got = actual[k]!;
    if (got.length !== want.length) {
      maxAbsDiff = Infinity;
      worst = names[k];
      return;
    }
    for (let j = 0; j < want.length; j++) {
      scale = Math.max(scale, Math.abs(want[j]!));
      // NaN anywhere counts as an infinite difference.
      const d = Math.abs(got[j]! - want[j]!);
      const diff = Number.isNaN(d) ? Infinity : d;
      if (diff > maxAbsDiff) {
        maxAbsDiff = diff;
        worst = names[k];
      }
    }
  });
  const limit = tolerance * Math.max(1, scale);
  const inputSensitive = expected.some((want) => {
    const row = want.length / samples;
    for (let n = 1; n < samples; n++) for (let j = 0; j < row; j++) if (Math.abs(want[n * row + j]! - want[j]!) > 1e-6 * Math.max(1, scale)) return true;
    return false;
  });
  return {
    max_abs_diff: maxAbsDiff,
    output_scale: scale,
    tolerance,
    limit,
    samples,
    runtime,
    passed: maxAbsDiff <= limit,
    input_sensitive: inputSensitive,
    ...(worst ? { worst_output: worst } : {}),
  };
}
