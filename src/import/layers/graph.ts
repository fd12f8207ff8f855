/**
 * The ONNX graph under construction while converting a Keras/TF.js layers model, and the layout
 * bookkeeping that keeps transposes to a minimum.
 *
 * Keras keeps channels last; ONNX Conv, pools, BatchNormalization and Resize want channels first.
 * A Value records which of the two its ONNX tensor holds. Layers that need channels first call
 * channelsFirst(), layers that need the Keras order call kerasLayout(); a Transpose is emitted only
 * when a value actually crosses between the two, so a CNN pays one Transpose after its input (or
 * none, with NCHW inputs) and none inside. Where Keras flattens a channels-last map, the ONNX
 * graph flattens channels-first and remembers the permutation (kerasOrder); a following Dense
 * absorbs it into its weight rows, anything else restores Keras order with one Gather.
 */
import type * as tf from '@tensorflow/tfjs';
import { onnx } from '../../model/onnx.js';
import { makeTensor } from '../../model/tensor.js';
import { ModelGateError } from '../../errors.js';

export type LayerConfig = Record<string, unknown>;
export type ElemType = 'float32' | 'int32' | 'int64';

export interface Value {
  name: string;
  /** The Keras shape without the batch dimension. */
  shape: number[];
  /** The ONNX tensor holds the Keras last (channel) axis at axis 1; only for shapes of rank ≥ 2. */
  channelsFirst: boolean;
  /** For a flat value: Keras feature k sits at ONNX index kerasOrder[k]. */
  kerasOrder?: Int32Array;
  /** Element type; float32 when absent. */
  elemType?: ElemType;
  /** Set while the value is still an untouched graph input: lets Embedding report its index range. */
  graphInput?: string;
}

const AttrType = onnx.AttributeProto.AttributeType;
export const intAttr = (name: string, i: number): onnx.IAttributeProto => ({ name, type: AttrType.INT, i });
export const intsAttr = (name: string, ints: number[]): onnx.IAttributeProto => ({ name, type: AttrType.INTS, ints });
export const floatAttr = (name: string, f: number): onnx.IAttributeProto => ({ name, type: AttrType.FLOAT, f });
export const floatsAttr = (name: string, floats: number[]): onnx.IAttributeProto => ({ name, type: AttrType.FLOATS, floats });
export const stringAttr = (name: string, s: string): onnx.IAttributeProto => ({ name, type: AttrType.STRING, s: new TextEncoder().encode(s) });
export const stringsAttr = (name: string, strings: string[]): onnx.IAttributeProto => ({
  name,
  type: AttrType.STRINGS,
  strings: strings.map((s) => new TextEncoder().encode(s)),
});

export const ONNX_ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

/** ONNX permutation taking a channels-first tensor of Keras rank r (batch excluded) back to channels last. */
export function toKerasPerm(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 1 }, (_, i) => i + 2), 1];
}

/** ONNX permutation taking a channels-last tensor of Keras rank r to channels first. */
export function toChannelsFirstPerm(rank: number): number[] {
  return [0, rank, ...Array.from({ length: rank - 1 }, (_, i) => i + 1)];
}

/** ONNX dims of a value without the batch dimension. */
export function onnxDims(v: Value): number[] {
  return v.channelsFirst ? [v.shape[v.shape.length - 1]!, ...v.shape.slice(0, -1)] : v.shape;
}

export const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

export class GraphBuilder {
  readonly nodes: onnx.NodeProto[] = [];
  readonly initializers: onnx.TensorProto[] = [];
  /** Graph inputs read as indices by an Embedding: input name → the embedding's row count. */
  readonly indexInputs = new Map<string, number>();
  private readonly used = new Set<string>();
  /** Initializers by content, so a shared layer or a repeated constant is stored once. */
  private readonly byContent = new Map<string, string>();
  /** The layer being converted: names and messages use it. */
  layer!: tf.layers.Layer;
  /** How the layer is named in messages: 'dense_1' (Dense), or a path inside a nested model. */
  layerLabel = '';

  constructor(
    reserved: string[],
    readonly opset: number,
  ) {
    for (const name of reserved) this.used.add(name);
  }

  /** A value name not used before in this graph. */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  fail(why: string): never {
    throw new ModelGateError(`layer ${this.layerLabel}: ${why}`);
  }

  /** A constant tensor; identical constants are stored once. */
  constant(suffix: string, dims: number[], data: Float32Array | Int32Array | BigInt64Array): string {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const key = `${data.constructor.name}|${dims.join(',')}|${Buffer.from(bytes).toString('base64')}`;
    const known = bytes.length <= 1 << 20 ? this.byContent.get(key) : undefined;
    if (known) return known;
    const name = this.unique(`${this.layer.name}/${suffix}`);
    this.initializers.push(makeTensor(name, dims, data));
    if (bytes.length <= 1 << 20) this.byContent.set(key, name);
    return name;
  }

  floats(suffix: string, dims: number[], data: Float32Array | number[]): string {
    return this.constant(suffix, dims, data instanceof Float32Array ? data : Float32Array.from(data));
  }

  int64s(suffix: string, values: number[]): string {
    return this.constant(suffix, [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
  }

  scalar(suffix: string, value: number): string {
    return this.constant(suffix, [], Float32Array.of(value));
  }

  node(opType: string, inputs: string[], attributes: onnx.IAttributeProto[] = [], suffix = opType): string {
    return this.nodeOutputs(opType, inputs, attributes, [suffix])[0]!;
  }

  /** A node with several outputs; an empty suffix leaves that optional output unnamed. */
  nodeOutputs(opType: string, inputs: string[], attributes: onnx.IAttributeProto[], suffixes: string[]): string[] {
    const outputs = suffixes.map((s) => (s === '' ? '' : this.unique(`${this.layer.name}/${s}`)));
    this.nodes.push(
      onnx.NodeProto.create({
        name: outputs.find((o) => o) ?? this.unique(`${this.layer.name}/${opType}`),
        opType,
        input: inputs,
        output: outputs,
        attribute: attributes.map((a) => onnx.AttributeProto.create(a)),
      }),
    );
    return outputs;
  }

  /** The layer's weights in TF.js order as float32 copies, checked against the expected count and shapes. */
  weights(layer: tf.layers.Layer, shapes: number[][]): Float32Array[] {
    const ws = layer.getWeights();
    if (ws.length !== shapes.length) this.fail(`expected ${shapes.length} weight tensors, found ${ws.length}`);
    return ws.map((w, k) => {
      const want = shapes[k]!;
      if (w.shape.length !== want.length || w.shape.some((d, i) => d !== want[i])) {
        this.fail(`weight ${k} has shape [${w.shape.join(', ')}], expected [${want.join(', ')}]`);
      }
      if (w.dtype !== 'float32') this.fail(`weight ${k} is ${w.dtype}, only float32 weights are supported`);
      return Float32Array.from(w.dataSync() as Float32Array);
    });
  }

  /** Keras axis (1-based, batch = 0, negative from the end) → ONNX axis of v. */
  onnxAxis(v: Value, kerasAxis: number): number {
    const rank = v.shape.length;
    const axis = kerasAxis < 0 ? kerasAxis + rank + 1 : kerasAxis;
    if (!Number.isInteger(axis) || axis < 1 || axis > rank) this.fail(`axis ${kerasAxis} is out of range for an input of rank ${rank + 1}`);
    if (!v.channelsFirst) return axis;
    return axis === rank ? 1 : axis + 1;
  }

  /** Restores Keras feature order with a Gather where a layer cannot absorb a pending flatten permutation. */
  inKerasOrder(v: Value): Value {
    if (!v.kerasOrder) return v;
    const indices = this.constant('keras_order', [v.kerasOrder.length], v.kerasOrder);
    return { name: this.node('Gather', [v.name, indices], [intAttr('axis', 1)], 'keras_order'), shape: v.shape, channelsFirst: false, elemType: v.elemType };
  }

  /** The value in Keras (channels-last) layout. */
  kerasLayout(v: Value): Value {
    if (v.kerasOrder) return this.inKerasOrder(v);
    if (!v.channelsFirst) return v;
    const name = this.node('Transpose', [v.name], [intsAttr('perm', toKerasPerm(v.shape.length))], 'to_channels_last');
    return { name, shape: v.shape, channelsFirst: false, elemType: v.elemType };
  }

  /** The value with channels at ONNX axis 1; only for values of Keras rank ≥ 2. */
  channelsFirst(v: Value): Value {
    if (v.channelsFirst) return v;
    if (v.shape.length < 2) this.fail(`expects an input with a channel axis, got shape [${v.shape.join(', ')}]`);
    const name = this.node('Transpose', [v.name], [intsAttr('perm', toChannelsFirstPerm(v.shape.length))], 'to_channels_first');
    return { name, shape: v.shape, channelsFirst: true, elemType: v.elemType };
  }

  /** ReduceMean/ReduceMax/... over ONNX axes (opsets 13 to 17 take axes as an attribute, ReduceSum as an input). */
  reduce(op: string, input: string, axes: number[], keepdims: boolean, suffix = op): string {
    if (op === 'ReduceSum') return this.node(op, [input, this.int64s('axes', axes)], [intAttr('keepdims', keepdims ? 1 : 0)], suffix);
    return this.node(op, [input], [intsAttr('axes', axes), intAttr('keepdims', keepdims ? 1 : 0)], suffix);
  }

  /** Reshape keeping the batch dimension (ONNX 0 = copy that dim). */
  reshape(input: string, dimsWithoutBatch: number[], suffix = 'reshape'): string {
    return this.node('Reshape', [input, this.int64s('shape', [0, ...dimsWithoutBatch])], [], suffix);
  }
}

/** An integer pair from a Keras argument that may be a number or a list. */
export function tuple(g: GraphBuilder, value: unknown, n: number, what: string, min = 1): number[] {
  const v = Array.isArray(value) ? value : Array.from({ length: n }, () => value);
  if (v.length !== n || !v.every((x) => Number.isInteger(x) && (x as number) >= min)) {
    g.fail(`${what} ${JSON.stringify(value)} is not ${n} integer${n > 1 ? 's' : ''} ≥ ${min}`);
  }
  return v as number[];
}
