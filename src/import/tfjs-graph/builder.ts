/**
 * The ONNX graph under construction while a TF GraphDef is converted, and the layout bookkeeping.
 *
 * TF keeps images NHWC; ONNX Conv, pools and Resize want NCHW. A Value is the TF tensor; its ONNX
 * tensor holds either the TF layout or, for rank-4 values a channels-first op produced, the NCHW
 * transpose (`nchw`). Converters ask for the layout they need (tf(), nchw()) and a Transpose is
 * emitted only where a value crosses between the two, once per value: a chain of convolutions,
 * activations, residual adds and pads stays channels-first with no Transpose inside.
 * Constants stay as data until an op asks for them, so a kernel is stored once, already in the
 * layout its Conv reads.
 */
import { onnx, DataType } from '../../model/onnx.js';
import { makeTensor } from '../../model/tensor.js';
import { ModelGateError } from '../../errors.js';
import { Attrs, type ConstData, type TfDType, type TfNode } from './graph-def.js';

export interface Value {
  /** ONNX tensor name; empty for a constant not yet materialized. */
  name: string;
  /** TF shape, batch included; -1 where unknown. */
  shape: number[];
  dtype: TfDType;
  /** The ONNX tensor is the NCHW transpose of this rank-4 NHWC tensor. */
  nchw?: boolean;
  /** The value, in TF layout, when the graph computes it from constants only. */
  constant?: ConstData;
  /** A TensorList (TF's TensorArray), held at conversion time: its items, or the tensor it unstacks. */
  list?: TensorList;
  /** The untaken side of a Switch: nothing computes it. */
  dead?: boolean;
}

export interface TensorList {
  items: Array<Value | undefined>;
  /** TensorListFromTensor's tensor: item k is its row k until set. */
  source?: Value;
  dtype: TfDType;
}

export const ONNX_TYPE: Record<TfDType, number> = { float32: DataType.FLOAT, int32: DataType.INT32, bool: DataType.BOOL };

const AttrType = onnx.AttributeProto.AttributeType;
export const intAttr = (name: string, i: number): onnx.IAttributeProto => ({ name, type: AttrType.INT, i });
export const intsAttr = (name: string, ints: number[]): onnx.IAttributeProto => ({ name, type: AttrType.INTS, ints });
export const floatAttr = (name: string, f: number): onnx.IAttributeProto => ({ name, type: AttrType.FLOAT, f });
export const stringAttr = (name: string, s: string): onnx.IAttributeProto => ({ name, type: AttrType.STRING, s: new TextEncoder().encode(s) });

/** NHWC → NCHW and back. */
export const TO_NCHW = [0, 3, 1, 2];
export const TO_NHWC = [0, 2, 3, 1];

export const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
export const known = (dims: readonly number[]): boolean => dims.every((d) => d >= 0);

/** Transposes row-major data of the given dims by perm. */
export function transposeData<T extends ConstData>(data: T, dims: number[], perm: number[]): T {
  const rank = dims.length;
  const outDims = perm.map((p) => dims[p]!);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * dims[i + 1]!;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += idx[k]! * inStrides[perm[k]!]!;
    out[o] = data[src]!;
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < outDims[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** The graph around a subgraph body being built. */
interface Enclosing {
  nodes: onnx.NodeProto[];
  layout: Map<string, string>;
  enclosing: Enclosing | undefined;
}

export class GraphBuilder {
  /** The nodes of the graph being built: the model's, or a subgraph body's between enterBody() and its end. */
  nodes: onnx.NodeProto[] = [];
  readonly initializers: onnx.TensorProto[] = [];
  private readonly used = new Set<string>();
  private otherLayout = new Map<string, string>();
  private readonly materialized = new WeakMap<Value, string>();
  /** The TF node being converted: names and messages use it. */
  node!: TfNode;
  attrs!: Attrs;

  constructor(reserved: string[]) {
    for (const name of reserved) this.used.add(name);
  }

  get label(): string {
    return `node '${this.node.name}' (${this.node.op})`;
  }

  fail(why: string): never {
    throw new ModelGateError(`${this.label}: ${why}`);
  }

  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /**
   * Starts a subgraph body (an If branch): nodes go to a list of their own until the returned function
   * ends the body and returns them. Layout transposes made in the body stay there; the outer ones are
   * visible (ONNX subgraphs read outer-scope names). Initializers stay the model's.
   */
  enterBody(): () => onnx.NodeProto[] {
    const outer = { nodes: this.nodes, layout: this.otherLayout, enclosing: this.enclosing };
    this.nodes = [];
    this.otherLayout = new Map(outer.layout);
    this.enclosing = outer;
    return () => {
      const body = this.nodes;
      this.nodes = outer.nodes;
      this.otherLayout = outer.layout;
      this.enclosing = outer.enclosing;
      return body;
    };
  }

  /** Runs f with nodes going to the graph enclosing the current body (a tensor the body reads from outside). */
  outside<T>(f: () => T): T {
    const outer = this.enclosing;
    if (!outer) return f();
    const body = { nodes: this.nodes, layout: this.otherLayout };
    this.nodes = outer.nodes;
    this.otherLayout = outer.layout;
    this.enclosing = outer.enclosing;
    try {
      return f();
    } finally {
      this.nodes = body.nodes;
      this.otherLayout = body.layout;
      this.enclosing = outer;
    }
  }
  private enclosing: Enclosing | undefined;

  /** Reserves an exact name (a TF tensor name kept for a graph output); false when taken. */
  reserve(name: string): boolean {
    if (this.used.has(name)) return false;
    this.used.add(name);
    return true;
  }

  constant(suffix: string, dims: number[], data: ConstData | BigInt64Array, dtype?: TfDType): string {
    const name = this.unique(`${this.node.name}/${suffix}`);
    this.initializers.push(makeTensor(name, dims, data, data instanceof Uint8Array ? (dtype === 'bool' ? DataType.BOOL : DataType.UINT8) : undefined));
    return name;
  }

  floats(suffix: string, dims: number[], data: Float32Array | number[]): string {
    return this.constant(suffix, dims, data instanceof Float32Array ? data : Float32Array.from(data));
  }

  int64s(suffix: string, values: number[]): string {
    return this.constant(suffix, [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
  }

  emit(opType: string, inputs: string[], attributes: onnx.IAttributeProto[] = [], suffix = opType): string {
    return this.emitOutputs(opType, inputs, attributes, [suffix])[0]!;
  }

  emitOutputs(opType: string, inputs: string[], attributes: onnx.IAttributeProto[], suffixes: string[]): string[] {
    const outputs = suffixes.map((s) => (s === '' ? '' : this.unique(`${this.node.name}/${s}`)));
    this.nodes.push(
      onnx.NodeProto.create({
        name: this.unique(`${this.node.name}/${opType}_node`),
        opType,
        input: inputs,
        output: outputs,
        attribute: attributes.map((a) => onnx.AttributeProto.create(a)),
      }),
    );
    return outputs;
  }

  /** The value's ONNX tensor in TF layout. */
  tf(v: Value): string {
    if (v.list) this.fail('a TensorList is used as a tensor');
    if (v.constant && !v.name) {
      let name = this.materialized.get(v);
      if (!name) {
        name = this.constant('value', v.shape, v.constant, v.dtype);
        this.materialized.set(v, name);
      }
      return name;
    }
    if (!v.nchw) return v.name;
    return this.transposed(v.name, TO_NHWC, 'to_nhwc');
  }

  /** The rank-4 value's ONNX tensor in NCHW layout. */
  nchw(v: Value): string {
    if (v.shape.length !== 4) this.fail(`expects a rank-4 (NHWC) input, got shape [${v.shape.join(', ')}]`);
    if (v.nchw) return v.name;
    if (v.constant && !v.name) return this.constant('value_nchw', TO_NCHW.map((p) => v.shape[p]!), transposeData(v.constant, v.shape, TO_NCHW), v.dtype);
    return this.transposed(v.name, TO_NCHW, 'to_nchw');
  }

  private transposed(name: string, perm: number[], suffix: string): string {
    const memo = this.otherLayout.get(name);
    if (memo) return memo;
    const out = this.emit('Transpose', [name], [intsAttr('perm', perm)], suffix);
    this.otherLayout.set(name, out);
    this.otherLayout.set(out, name);
    return out;
  }

  /** The input's constant value, or a message that the op needs one. */
  constValue(v: Value | undefined, what: string): ConstData {
    if (!v?.constant) this.fail(`${what} must be a constant (computed values are not supported)`);
    return v.constant;
  }

  /** A constant read as integers (axes, sizes, paddings). */
  constInts(v: Value | undefined, what: string): number[] {
    return Array.from(this.constValue(v, what), Number);
  }

  /** Normalizes a TF axis (negative from the end) for a rank. */
  axis(a: number, rank: number): number {
    const ax = a < 0 ? a + rank : a;
    if (!Number.isInteger(ax) || ax < 0 || ax >= rank) this.fail(`axis ${a} is out of range for rank ${rank}`);
    return ax;
  }

  /** A int32/bool tensor as int64 (for ONNX inputs that need it), of the same shape; Cast when not constant. */
  int64(v: Value, suffix: string): string {
    if (v.constant) return this.constant(suffix, v.shape, BigInt64Array.from(v.constant, (x) => BigInt(x)));
    return this.emit('Cast', [this.tf(v)], [intAttr('to', DataType.INT64)], suffix);
  }

  /** ReduceMean/Max/... over axes (opsets 13 to 17 take axes as an attribute, ReduceSum as an input). */
  reduce(op: string, input: string, axes: number[], keepdims: boolean): string {
    if (op === 'ReduceSum') return this.emit(op, [input, this.int64s('axes', axes)], [intAttr('keepdims', keepdims ? 1 : 0)]);
    return this.emit(op, [input], [intsAttr('axes', axes), intAttr('keepdims', keepdims ? 1 : 0)]);
  }
}
