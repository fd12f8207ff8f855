/**
 * The graph import's numerical check: TF.js runs the model.json it came from (tf.loadGraphModel on
 * the artifacts in memory) and onnxruntime runs the ONNX model, on the same seeded inputs.
 * A model with a fixed batch runs twice with different inputs, so the check can still tell whether
 * the outputs depend on them.
 */
import type * as tf from '@tensorflow/tfjs';
import { encodeModel } from '../../model/onnx.js';
import { comparedConstant } from '../../model/io.js';
import { OrtSession } from '../../runtime/session.js';
import { seededRandom } from '../../data/random.js';
import { ModelGateError, errorMessage } from '../../errors.js';
import { compareOutputs, DEFAULT_TOLERANCE, type NumericalCheck } from '../check.js';
import type { TfjsArtifacts } from '../../formats/tfjs/files.js';
import type { GraphConversion, GraphInput } from './convert.js';

export interface GraphCheckOptions {
  tolerance?: number;
  /** Rows per run when the batch is dynamic; default 4. */
  samples?: number;
  seed?: number;
  runtime?: string;
}

/** Loads the graph model into TF.js from the artifacts already read (no second read of the files). */
export async function loadGraphModel(t: typeof tf, artifacts: TfjsArtifacts): Promise<tf.GraphModel> {
  const { json, specs, weightData } = artifacts;
  try {
    const buffer = weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength) as ArrayBuffer;
    return await t.loadGraphModel(
      t.io.fromMemory({
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        weightSpecs: specs as tf.io.WeightsManifestEntry[],
        weightData: buffer,
        ...(json.signature ? { signature: json.signature as object } : {}),
        ...(json.userDefinedMetadata ? { userDefinedMetadata: json.userDefinedMetadata } : {}),
      }),
    );
  } catch (err) {
    throw new ModelGateError(`${artifacts.jsonFile}: TF.js could not load the graph model: ${errorMessage(err)}`, { cause: err });
  }
}

/** The dims an input is fed with: the batch and its other dims, or none for a rank-0 input. */
const feedDims = (input: GraphInput, batch: number): number[] => (input.shape.length === 0 ? [] : [batch, ...input.shape.slice(1)]);

/** Uniform [0, 1) floats (scaled images), small integers for int32 inputs, a mix for bool. */
function seeded(input: GraphInput, batch: number, seed: number): Float32Array | Int32Array {
  const random = seededRandom(seed);
  const n = feedDims(input, batch).reduce((a, b) => a * b, 1);
  if (input.dtype === 'float32') return Float32Array.from({ length: n }, () => random());
  const range = input.dtype === 'bool' ? 2 : 10;
  return Int32Array.from({ length: n }, () => Math.floor(random() * range));
}

/**
 * Runs the graph synchronously, or asynchronously when it has data-dependent ops (NonMaxSuppression,
 * Where, control flow): TF.js refuses those in execute() with a message that says to use executeAsync().
 */
async function execute(model: tf.GraphModel, feeds: tf.NamedTensorMap, names: string[]): Promise<tf.Tensor | tf.Tensor[]> {
  try {
    return model.execute(feeds, names);
  } catch (err) {
    if (!/executeAsync/.test(errorMessage(err))) throw err;
    return model.executeAsync(feeds, names);
  }
}

export async function checkGraphConversion(t: typeof tf, model: tf.GraphModel, conversion: GraphConversion, options: GraphCheckOptions = {}): Promise<NumericalCheck> {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const fixed = conversion.inputs.find((i) => i.shape[0]! >= 0)?.shape[0];
  const batch = fixed ?? options.samples ?? 4;
  // A rank-0 input the graph compares with a constant (a tf.cond on `ratio == 1`) is fed that constant in
  // the first run and another value in the second, so that both sides of the comparison are checked.
  const encoded = encodeModel(conversion.model);
  const compared = new Map(conversion.inputs.flatMap((i) => (i.shape.length === 0 ? [[i.name, comparedConstant(conversion.model, i.name)?.value]] : [])).filter((e): e is [string, number] => e[1] !== undefined));
  const runs = fixed !== undefined || compared.size > 0 ? 2 : 1;
  const seed = options.seed ?? 20261127;
  const expected: number[][] = conversion.outputs.map(() => []);
  const actual: number[][] = conversion.outputs.map(() => []);
  const session = await OrtSession.create(encoded, {}, 'converted model');
  try {
    for (let run = 0; run < runs; run++) {
      const data = conversion.inputs.map((input, i) => {
        const c = compared.get(input.name);
        if (c === undefined) return seeded(input, batch, seed + 7919 * i + 104729 * run);
        // The other value: half the constant (a ratio of 0.5 against 1), or 1 against 0.
        const v = run === 0 ? c : c !== 0 ? c / 2 : 1;
        return input.dtype === 'float32' ? Float32Array.of(v) : Int32Array.of(Math.round(v));
      });
      const feeds: tf.NamedTensorMap = {};
      conversion.inputs.forEach((input, i) => {
        feeds[input.name] = t.tensor(data[i]!, feedDims(input, batch), input.dtype);
      });
      let want: number[][];
      try {
        const names = conversion.outputs.map((o) => o.tfName);
        const out = await execute(model, feeds, names);
        const list = Array.isArray(out) ? out : [out];
        want = list.map((o) => Array.from(o.dataSync() as ArrayLike<number>));
        t.dispose(list);
      } finally {
        t.dispose(Object.values(feeds));
      }
      const result = await session.run(
        Object.fromEntries(
          conversion.inputs.map((input, i) => [
            input.name,
            input.dtype === 'bool'
              ? { type: 'bool' as const, dims: feedDims(input, batch), data: Uint8Array.from(data[i]!) }
              : { type: input.dtype, dims: feedDims(input, batch), data: data[i]! },
          ]),
        ),
      );
      conversion.outputs.forEach((o, k) => {
        for (const v of want[k]!) expected[k]!.push(v);
        const got = result[o.name]!.data as ArrayLike<number | bigint>;
        for (let j = 0; j < got.length; j++) actual[k]!.push(Number(got[j]));
      });
    }
  } finally {
    await session.release();
  }
  const runtime = options.runtime ?? `tfjs ${t.version.tfjs ?? ''} (${t.getBackend()})`.trim();
  return compareOutputs(expected, actual, conversion.outputs.map((o) => o.name), batch * runs, tolerance, runtime);
}
