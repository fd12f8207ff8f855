/**
 * a TF.js layers model (model.json + shards) behind the same session shape as
 * onnxruntime and TFLite, so an exported TF.js variant is evaluated and benchmarked as a candidate.
 *
 * It takes the ONNX model's feeds as they are: a Keras/TF.js import keeps the Keras input names and
 * NHWC shapes (importModel's default imageLayout), and its outputs carry the names convertTfjsLayers
 * gives them, repeated here so that evaluation finds the same output under the same name.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Feeds, HostTensor } from '../model/host-tensor.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { readTfjsLayersModel } from '../formats/tfjs/files.js';
import { loadTfjs, type TfjsRuntime } from './tfjs.js';

/** Output names as convertTfjsLayers (src/import/tfjs-layers.ts) assigns them to the ONNX graph's outputs. */
export function tfjsOutputNames(model: tf.LayersModel): string[] {
  const taken = new Set(model.inputs.map((t) => t.sourceLayer.name));
  return model.outputs.map((t) => {
    let name = model.outputs.filter((o) => o.sourceLayer === t.sourceLayer).length > 1 ? `${t.sourceLayer.name}_${t.tensorIndex}` : t.sourceLayer.name;
    if (taken.has(name)) name = `${name}_output`;
    for (let k = 1; taken.has(name); k++) name = `${name}_${k}`;
    taken.add(name);
    return name;
  });
}

export class TfjsSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private inputs: tf.Tensor[] | undefined;

  private constructor(
    private readonly rt: TfjsRuntime,
    private readonly model: tf.LayersModel,
    readonly label: string,
  ) {
    this.inputNames = model.inputs.map((t) => t.sourceLayer.name);
    this.outputNames = tfjsOutputNames(model);
  }

  /** 'tfjs 4.22.0 (wasm)': the runtime that produced this session's figures. */
  get runtimeLabel(): string {
    return this.rt.label;
  }

  static async create(file: string, label = file): Promise<TfjsSession> {
    const rt = await loadTfjs();
    return new TfjsSession(rt, await readTfjsLayersModel(rt.tf, file), label);
  }

  private toTensors(feeds: Feeds): tf.Tensor[] {
    const t = this.rt.tf;
    return this.model.inputs.map((input, i) => {
      const name = this.inputNames[i]!;
      const feed = feeds[name];
      if (!feed) throw new ModelGateError(`${this.label}: no feed for input '${name}'`);
      // TF.js has float32 and int32 tensors only: index inputs (int32/int64 in ONNX) become int32, the rest float32.
      if (input.dtype === 'int32') return t.tensor(Int32Array.from(feed.data as ArrayLike<number | bigint>, Number), feed.dims, 'int32');
      const data = feed.data instanceof Float32Array ? feed.data : Float32Array.from(feed.data as ArrayLike<number | bigint>, Number);
      return t.tensor(data, feed.dims, 'float32');
    });
  }

  private predict(xs: tf.Tensor[]): Array<Float32Array | Int32Array> {
    return this.rt.tf.tidy(() => {
      const out = this.model.predict(xs.length === 1 ? xs[0]! : xs);
      return (Array.isArray(out) ? out : [out]).map((o) => o.dataSync() as Float32Array | Int32Array);
    });
  }

  async run(feeds: Feeds, outputNames?: readonly string[]): Promise<Record<string, HostTensor>> {
    const xs = this.toTensors(feeds);
    try {
      const shapes = this.model.outputs.map((o) => o.shape);
      const values = this.predict(xs);
      const batch = xs[0]?.shape[0] ?? 1;
      const result: Record<string, HostTensor> = {};
      this.outputNames.forEach((name, k) => {
        if (outputNames && !outputNames.includes(name)) return;
        const data = values[k]!;
        result[name] = { type: data instanceof Int32Array ? 'int32' : 'float32', dims: [batch, ...(shapes[k]!.slice(1) as number[])], data };
      });
      return result;
    } catch (err) {
      if (err instanceof ModelGateError) throw err;
      throw new ModelGateError(`${this.label}: TF.js inference failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      this.rt.tf.dispose(xs);
    }
  }

  /** For the benchmark worker: the feeds become TF.js tensors once, outside the timed region. */
  setInputs(feeds: Feeds): void {
    if (this.inputs) this.rt.tf.dispose(this.inputs);
    this.inputs = this.toTensors(feeds);
  }

  /** predict() + a synchronous read of every output: what a page waits for. The worker's timed region. */
  invoke(): void {
    if (!this.inputs) throw new Error(`${this.label}: invoke before setInputs`);
    this.predict(this.inputs);
  }

  async release(): Promise<void> {
    if (this.inputs) this.rt.tf.dispose(this.inputs);
    this.inputs = undefined;
    this.model.dispose();
  }
}
