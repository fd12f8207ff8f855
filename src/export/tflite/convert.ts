/**
 * ONNX graph → float32 TFLite graph, for the ops CNNs and MLPs use.
 *
 * Layout: ONNX convolutions are NCHW, TFLite's are NHWC. Weights are transposed at export (OIHW → OHWI for
 * CONV_2D, → 1HWO for DEPTHWISE_CONV_2D). Activations are converted lazily: each value carries its layout,
 * 'plain' (the ONNX layout), 'nhwc' (a 4-D NCHW value stored NHWC), or 'flat-nhwc' (a Flatten of an NHWC
 * value, in NHWC element order). A conv or pool asks for NHWC and an op that needs the ONNX layout asks for
 * plain, and only then is a TRANSPOSE (or a RESHAPE, when the permutation moves only size-1 axes) emitted.
 * Flatten → Gemm/MatMul permutes the weight's input columns instead of transposing the activations.
 *
 * Interface: the .tflite keeps the ONNX model's interface: the same input and output names, shapes (NCHW)
 * and element order, so the same feeds run both models and their outputs compare element by element. The
 * NCHW → NHWC conversion is the graph's first op (a RESHAPE for single-channel images such as MNIST, where
 * the two layouts share one memory order); a deployment that feeds NHWC images can drop it.
 *
 * Every tensor records the ONNX value it holds (`sources`), so that calibration ranges measured on the ONNX
 * model in onnxruntime apply to the TFLite tensors (see ./quantize.ts).
 */
import { DataType, dimsOf, onnx, type Model } from '../../model/onnx.js';
import { tensorData, tensorToFloat32, transposeData } from '../../model/tensor.js';
import { consumerMap, describeNode, getFloatAttr, getIntAttr, getIntsAttr, getStringAttr, opsetVersion, topologicalSort } from '../../model/graph.js';
import { runtimeInputs } from '../../model/io.js';
import { ModelGateError } from '../../errors.js';
import type { OptionValue, TfliteGraph, TfliteOperator, TfliteTensor } from '../../formats/tflite/flatbuffer.js';
import { Activation, Op, Padding, TensorType, type ActivationCode } from '../../formats/tflite/schema.js';

type INode = onnx.INodeProto;

export const SUPPORTED_ONNX_OPS = [
  'Conv', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Relu', 'Clip', 'Sigmoid', 'Tanh', 'Softmax', 'MaxPool', 'AveragePool',
  'GlobalAveragePool', 'Reshape', 'Flatten', 'Concat', 'Pad', 'Transpose', 'Identity', 'Dropout',
  'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Max', 'Min', 'Log', 'ReduceMax', 'Squeeze', 'Unsqueeze', 'Resize', 'ConvTranspose',
  'Shape', 'Slice', 'Cast',
] as const;

type Layout = 'plain' | 'nhwc' | 'flat-nhwc';

interface Value {
  /** TFLite tensor index. */
  t: number;
  /** The ONNX (logical) shape. */
  shape: number[];
  layout: Layout;
  /** For 'flat-nhwc': the [C, H, W] the flat axis was made from. */
  chw?: [number, number, number];
}

/** The float graph plus what quantization needs to know about it. */
export interface ConvertedGraph extends TfliteGraph {
  /** The ONNX value each tensor holds (same values, maybe permuted), for calibration. */
  sources: Array<string | undefined>;
  notes: string[];
}

/** Logical (NCHW) axis a → its position in the NHWC tensor. */
const NHWC_POS = [0, 3, 1, 2];
/** NHWC position j → the logical axis stored there. */
const NHWC_AXIS = [0, 2, 3, 1];

function product(a: readonly number[]): number {
  return a.reduce((x, y) => x * y, 1);
}

function fail(node: INode, message: string): never {
  throw new ModelGateError(`TFLite export: node ${describeNode(node)}: ${message}`);
}

/** True when permuting with `perm` leaves the memory order unchanged (it only moves size-1 axes). */
function isMemoryIdentity(dims: readonly number[], perm: readonly number[]): boolean {
  const moved = perm.filter((a) => dims[a] !== 1);
  return moved.every((a, i) => i === 0 || a > moved[i - 1]!);
}

function bytesOf(a: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

interface PaddingChoice {
  padding: number;
  /** [top, left, bottom, right] to apply with a PAD op before a VALID op. */
  explicit?: [number, number, number, number];
}

/**
 * TFLite has SAME and VALID only. SAME pads (k_eff - 1 - (in - 1) % s) in total, the smaller half first;
 * ONNX pads that equal it (or are all zero) map directly, any other padding becomes a PAD op.
 */
function choosePadding(node: INode, inHW: [number, number], k: [number, number], s: [number, number], d: [number, number]): PaddingChoice {
  const autoPad = getStringAttr(node, 'auto_pad', 'NOTSET');
  const pads = getIntsAttr(node, 'pads') ?? [0, 0, 0, 0];
  if (autoPad === 'VALID') return { padding: Padding.VALID };
  const same: number[] = [];
  for (let i = 0; i < 2; i++) {
    const eff = (k[i]! - 1) * d[i]! + 1;
    const out = Math.ceil(inHW[i]! / s[i]!);
    const total = Math.max(0, (out - 1) * s[i]! + eff - inHW[i]!);
    same[i] = Math.floor(total / 2);
    same[i + 2] = total - same[i]!;
  }
  if (autoPad === 'SAME_UPPER') return { padding: Padding.SAME };
  if (autoPad === 'SAME_LOWER') return { padding: Padding.VALID, explicit: [same[2]!, same[3]!, same[0]!, same[1]!] };
  if (pads.length !== 4) fail(node, `pads [${pads.join(', ')}] are not 2-D`);
  if (pads.every((p) => p === 0)) return { padding: Padding.VALID };
  if (pads.every((p, i) => p === same[i])) return { padding: Padding.SAME };
  return { padding: Padding.VALID, explicit: [pads[0]!, pads[1]!, pads[2]!, pads[3]!] };
}

class GraphBuilder {
  readonly tensors: TfliteTensor[] = [];
  readonly operators: TfliteOperator[] = [];
  readonly sources: Array<string | undefined> = [];
  readonly notes: string[] = [];
  private readonly names = new Set<string>();
  private readonly nhwcCache = new Map<number, Value>();
  private readonly plainCache = new Map<number, Value>();

  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  tensor(name: string, shape: number[], source: string | undefined, type: number = TensorType.FLOAT32, data?: Uint8Array): number {
    const t: TfliteTensor = { name: this.uniqueName(name), type, shape: [...shape] };
    if (data) t.data = data;
    this.tensors.push(t);
    this.sources.push(source);
    return this.tensors.length - 1;
  }

  floatConst(name: string, shape: number[], values: Float32Array): number {
    return this.tensor(name, shape, undefined, TensorType.FLOAT32, bytesOf(values));
  }

  intConst(name: string, shape: number[], values: readonly number[]): number {
    return this.tensor(name, shape, undefined, TensorType.INT32, bytesOf(Int32Array.from(values)));
  }

  op(op: number, inputs: number[], outputs: number[], options?: Record<string, OptionValue>): void {
    this.operators.push({ op, version: 1, inputs, outputs, ...(options ? { options } : {}) });
  }

  /** The value in NHWC, converting a plain 4-D value once (cached). */
  nhwc(v: Value, why: INode): Value {
    if (v.layout === 'nhwc') return v;
    if (v.layout === 'flat-nhwc' || v.shape.length !== 4) fail(why, `needs a 4-D NCHW input, got shape [${v.shape.join(', ')}]`);
    const cached = this.nhwcCache.get(v.t);
    if (cached) return cached;
    const phys = NHWC_AXIS.map((a) => v.shape[a]!);
    const out = this.tensor(`${this.tensors[v.t]!.name}_nhwc`, phys, this.sources[v.t]);
    if (isMemoryIdentity(v.shape, NHWC_AXIS)) this.reshape(v.t, out, phys);
    else this.op(Op.TRANSPOSE, [v.t, this.intConst(`${this.tensors[v.t]!.name}_to_nhwc_perm`, [4], NHWC_AXIS)], [out]);
    const r: Value = { t: out, shape: v.shape, layout: 'nhwc' };
    this.nhwcCache.set(v.t, r);
    this.plainCache.set(out, v);
    return r;
  }

  /** The value in the ONNX layout (cached). */
  plain(v: Value): Value {
    if (v.layout === 'plain') return v;
    const cached = this.plainCache.get(v.t);
    if (cached) return cached;
    const name = this.tensors[v.t]!.name;
    let out: number;
    if (v.layout === 'nhwc') {
      const phys = this.tensors[v.t]!.shape;
      out = this.tensor(`${name}_nchw`, v.shape, this.sources[v.t]);
      if (isMemoryIdentity(phys, NHWC_POS)) this.reshape(v.t, out, v.shape);
      else this.op(Op.TRANSPOSE, [v.t, this.intConst(`${name}_to_nchw_perm`, [4], NHWC_POS)], [out]);
    } else {
      const [c, h, w] = v.chw!;
      const batch = v.shape[0]!;
      const as4d = this.tensor(`${name}_nhwc4d`, [batch, h, w, c], this.sources[v.t]);
      this.reshape(v.t, as4d, [batch, h, w, c]);
      const nchw = this.tensor(`${name}_nchw4d`, [batch, c, h, w], this.sources[v.t]);
      this.op(Op.TRANSPOSE, [as4d, this.intConst(`${name}_to_nchw_perm`, [4], NHWC_POS)], [nchw]);
      out = this.tensor(`${name}_flat`, v.shape, this.sources[v.t]);
      this.reshape(nchw, out, v.shape);
    }
    const r: Value = { t: out, shape: v.shape, layout: 'plain' };
    this.plainCache.set(v.t, r);
    return r;
  }

  reshape(input: number, output: number, shape: number[]): void {
    this.op(Op.RESHAPE, [input, this.intConst(`${this.tensors[output]!.name}_shape`, [shape.length], shape)], [output], { new_shape: shape });
  }
}

interface Consts {
  has(name: string): boolean;
  float(name: string): { values: Float32Array; dims: number[] } | undefined;
  ints(name: string): number[] | undefined;
}

function constantsOf(model: Model): Consts {
  const inits = new Map((model.graph!.initializer ?? []).map((t) => [t.name!, t]));
  return {
    has: (name) => inits.has(name),
    float(name) {
      const t = inits.get(name);
      if (!t) return undefined;
      return { values: tensorToFloat32(t), dims: dimsOf(t) };
    },
    ints(name) {
      const t = inits.get(name);
      if (!t) return undefined;
      const d = tensorData(t);
      return Array.from(d as ArrayLike<number | bigint>, (v) => Number(v));
    },
  };
}

function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Relu → RELU, Clip(0, 6) → RELU6, Clip(-1, 1) → RELU_N1_TO_1, Clip(0, ∞) → RELU; anything else: undefined. */
function activationOf(node: INode, consts: Consts, opset: number): ActivationCode | undefined {
  if (node.opType === 'Relu') return Activation.RELU;
  if (node.opType !== 'Clip') return undefined;
  let lo: number, hi: number;
  if (opset < 11) {
    lo = getFloatAttr(node, 'min', -3.4028234663852886e38);
    hi = getFloatAttr(node, 'max', 3.4028234663852886e38);
  } else {
    const min = node.input?.[1] ? consts.float(node.input[1]) : undefined;
    const max = node.input?.[2] ? consts.float(node.input[2]) : undefined;
    if ((node.input?.[1] && !min) || (node.input?.[2] && !max)) return undefined;
    lo = min ? min.values[0]! : -Infinity;
    hi = max ? max.values[0]! : Infinity;
  }
  if (lo === 0 && hi === 6) return Activation.RELU6;
  if (lo === -1 && hi === 1) return Activation.RELU_N1_TO_1;
  if (lo === 0 && hi >= 3.4e38) return Activation.RELU;
  return undefined;
}

const ACTIVATION_OP: Record<number, number> = { [Activation.RELU]: Op.RELU, [Activation.RELU6]: Op.RELU6, [Activation.RELU_N1_TO_1]: Op.RELU_N1_TO_1 };

/** Ops that take a fused activation in TFLite. */
const FUSES = new Set(['Conv', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Concat', 'MaxPool', 'AveragePool']);

/**
 * Converts the ONNX model (inputs with static shapes given in `inputShapes`) to a float32 TFLite graph.
 * The model is expected to be cleaned up already (constants folded, BatchNormalization folded, Constant
 * nodes promoted): the caller runs the cleanup pass first.
 */
export function convertToTfliteGraph(model: Model, inputShapes: Record<string, number[]>): ConvertedGraph {
  const graph = model.graph!;
  const opset = opsetVersion(model);
  const consts = constantsOf(model);
  const g = new GraphBuilder();
  const values = new Map<string, Value>();
  const inputs: number[] = [];

  for (const vi of runtimeInputs(model)) {
    const name = vi.name!;
    const elem = vi.type?.tensorType?.elemType;
    if (elem !== DataType.FLOAT) throw new ModelGateError(`TFLite export: input '${name}' is ${onnx.TensorProto.DataType[elem ?? 0]}; only float32 inputs are supported`);
    const shape = inputShapes[name];
    if (!shape || shape.some((d) => !(d > 0))) throw new ModelGateError(`TFLite export: input '${name}' needs a static shape (got [${shape?.join(', ') ?? ''}])`);
    const t = g.tensor(name, shape, name);
    inputs.push(t);
    values.set(name, { t, shape: [...shape], layout: 'plain' });
  }

  const consumers = consumerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name!));
  const fusedInto = new Map<INode, INode>();

  const get = (node: INode, i: number): Value => {
    const name = node.input?.[i];
    if (!name) fail(node, `input ${i} is missing`);
    const v = values.get(name);
    if (v) return v;
    if (consts.has(name)) fail(node, `input '${name}' is a constant where TFLite needs a computed tensor`);
    fail(node, `input '${name}' is not produced by any node`);
  };
  const outName = (node: INode): string => {
    const o = node.output?.[0];
    if (!o) fail(node, 'has no output');
    return o;
  };

  /** The activation a single Relu/Clip consumer adds, fused into this node; that consumer is then skipped. */
  const fuseActivation = (node: INode): { act: ActivationCode; name: string } => {
    const out = outName(node);
    const readers = consumers.get(out) ?? [];
    if (!FUSES.has(node.opType ?? '') || graphOutputs.has(out) || readers.length !== 1) return { act: Activation.NONE, name: out };
    const act = activationOf(readers[0]!, consts, opset);
    if (act === undefined) return { act: Activation.NONE, name: out };
    fusedInto.set(readers[0]!, node);
    return { act, name: outName(readers[0]!) };
  };

  const setOut = (node: INode, v: Value, name = outName(node)): void => {
    values.set(name, v);
  };

  /** Integer values known at export: shapes of static tensors and what Slice/Cast/Concat make of them. */
  const known = new Map<string, number[]>();
  const intsOf = (name: string | undefined): number[] | undefined => (name ? (known.get(name) ?? consts.ints(name)) : undefined);
  const knownInts = (node: INode): number[] | undefined => {
    const op = node.opType;
    if (op === 'Shape') {
      const v = values.get(node.input?.[0] ?? '');
      if (!v) return undefined;
      const start = getIntAttr(node, 'start', 0), end = node.attribute?.some((a) => a.name === 'end') ? getIntAttr(node, 'end', v.shape.length) : v.shape.length;
      return v.shape.slice(start, end);
    }
    if (op === 'Cast') return intsOf(node.input?.[0]);
    if (op === 'Slice') {
      const data = intsOf(node.input?.[0]);
      const starts = intsOf(node.input?.[1]), ends = intsOf(node.input?.[2]);
      const axes = node.input?.[3] ? intsOf(node.input[3]) : [0];
      const steps = node.input?.[4] ? intsOf(node.input[4]) : [1];
      if (!data || !starts || !ends || !axes || !steps || axes[0] !== 0 || steps[0] !== 1) return undefined;
      const clamp = (i: number) => Math.max(0, Math.min(data.length, i < 0 ? i + data.length : i));
      return data.slice(clamp(starts[0]!), clamp(ends[0]!));
    }
    return undefined;
  };

  /** The input x of Mul(x, HardSigmoid(x)) when the HardSigmoid has TFLite's hard-swish constants (1/6, 1/2). */
  const producers = new Map<string, INode>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) producers.set(o, n);
  const hardSwishInput = (mul: INode): Value | undefined => {
    if (mul.opType !== 'Mul' || (mul.input?.length ?? 0) !== 2) return undefined;
    for (const [gi, xi] of [[0, 1], [1, 0]] as const) {
      const hs = producers.get(mul.input![gi]!);
      if (hs?.opType !== 'HardSigmoid' || hs.input?.[0] !== mul.input![xi]) continue;
      if (Math.abs(getFloatAttr(hs, 'alpha', 0.2) - 1 / 6) > 1e-6 || Math.abs(getFloatAttr(hs, 'beta', 0.5) - 0.5) > 1e-6) continue;
      return values.get(mul.input![xi]!);
    }
    return undefined;
  };

  for (const node of topologicalSort(graph)) {
    if (fusedInto.has(node)) continue;
    const op = node.opType ?? '';
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') fail(node, `op domain '${node.domain}' is not supported by the TFLite export`);
    switch (op) {
      case 'Identity':
      case 'Dropout':
        setOut(node, get(node, 0));
        break;

      case 'Conv': {
        const x = g.nhwc(get(node, 0), node);
        const w = consts.float(node.input?.[1] ?? '');
        if (!w) fail(node, 'the weight is not a constant');
        if (w.dims.length !== 4) fail(node, `only 2-D convolutions are supported (weight shape [${w.dims.join(', ')}])`);
        const [m, cPerGroup, kh, kw] = w.dims as [number, number, number, number];
        const [n, c, h, wd] = x.shape as [number, number, number, number];
        const group = getIntAttr(node, 'group', 1);
        const strides = (getIntsAttr(node, 'strides') ?? [1, 1]) as [number, number];
        const dil = (getIntsAttr(node, 'dilations') ?? [1, 1]) as [number, number];
        const bias = node.input?.[2] ? consts.float(node.input[2]) : undefined;
        if (node.input?.[2] && !bias) fail(node, 'the bias is not a constant');
        const depthwise = group > 1 && group === c && cPerGroup === 1;
        if (group === 1 && cPerGroup !== c) fail(node, `the weight expects ${cPerGroup} input channels, the input has ${c}`);
        if (group !== 1 && !depthwise) fail(node, `grouped convolution (group=${group}, ${c} input channels) is not supported; only group=1 and depthwise`);
        const pad = choosePadding(node, [h, wd], [kh, kw], strides, dil);
        let input = x;
        let inH = h, inW = wd;
        if (pad.explicit) {
          input = padNhwc(g, x, pad.explicit, 0, node);
          inH += pad.explicit[0] + pad.explicit[2];
          inW += pad.explicit[1] + pad.explicit[3];
        }
        const outH = pad.padding === Padding.SAME ? Math.ceil(inH / strides[0]) : Math.floor((inH - ((kh - 1) * dil[0] + 1)) / strides[0]) + 1;
        const outW = pad.padding === Padding.SAME ? Math.ceil(inW / strides[1]) : Math.floor((inW - ((kw - 1) * dil[1] + 1)) / strides[1]) + 1;
        const { act, name } = fuseActivation(node);
        const wName = node.input![1]!;
        const filter = depthwise
          ? g.floatConst(wName, [1, kh, kw, m], transposeData(w.values, [m, kh, kw], [1, 2, 0]))
          : g.floatConst(wName, [m, kh, kw, cPerGroup], transposeData(w.values, [m, cPerGroup, kh, kw], [0, 2, 3, 1]));
        const b = g.floatConst(node.input?.[2] || `${wName}_bias`, [m], bias ? bias.values : new Float32Array(m));
        const out = g.tensor(name, [n, outH, outW, m], name);
        const common = { padding: pad.padding, stride_w: strides[1], stride_h: strides[0], fused_activation_function: act, dilation_w_factor: dil[1], dilation_h_factor: dil[0] };
        if (depthwise) g.op(Op.DEPTHWISE_CONV_2D, [input.t, filter, b], [out], { ...common, depth_multiplier: m / c });
        else g.op(Op.CONV_2D, [input.t, filter, b], [out], common);
        setOut(node, { t: out, shape: [n, m, outH, outW], layout: 'nhwc' }, name);
        break;
      }

      case 'MaxPool':
      case 'AveragePool': {
        const x = g.nhwc(get(node, 0), node);
        const [n, c, h, w] = x.shape as [number, number, number, number];
        const k = getIntsAttr(node, 'kernel_shape') as [number, number] | undefined;
        if (!k || k.length !== 2) fail(node, 'only 2-D pooling is supported');
        const s = (getIntsAttr(node, 'strides') ?? [1, 1]) as [number, number];
        const dil = getIntsAttr(node, 'dilations') ?? [1, 1];
        if (dil.some((d) => d !== 1)) fail(node, 'dilated pooling is not supported');
        if ((node.output?.length ?? 1) > 1 && node.output![1]) fail(node, 'the Indices output of MaxPool is not supported');
        const pad = choosePadding(node, [h, w], k, s, [1, 1]);
        const pads = getIntsAttr(node, 'pads') ?? [0, 0, 0, 0];
        const floorOut = (i: number): number => Math.floor((x.shape[2 + i]! + pads[i]! + pads[i + 2]! - k[i]!) / s[i]!) + 1;
        const ceilOut = (i: number): number => Math.ceil((x.shape[2 + i]! + pads[i]! + pads[i + 2]! - k[i]!) / s[i]!) + 1;
        if (getIntAttr(node, 'ceil_mode', 0) === 1 && (floorOut(0) !== ceilOut(0) || floorOut(1) !== ceilOut(1))) fail(node, 'ceil_mode=1 changes the output shape here; TFLite pools round down');
        let input = x;
        let inH = h, inW = w;
        if (pad.explicit) {
          if (op === 'AveragePool' && getIntAttr(node, 'count_include_pad', 0) === 0) {
            fail(node, `AveragePool pads [${pads.join(', ')}] that are not TensorFlow's SAME padding, with count_include_pad=0, have no TFLite equivalent`);
          }
          input = padNhwc(g, x, pad.explicit, op === 'MaxPool' ? -3.4028234663852886e38 : 0, node);
          inH += pad.explicit[0] + pad.explicit[2];
          inW += pad.explicit[1] + pad.explicit[3];
        } else if (op === 'AveragePool' && pad.padding === Padding.SAME && getIntAttr(node, 'count_include_pad', 0) === 1) {
          fail(node, 'AveragePool with count_include_pad=1 and SAME padding has no TFLite equivalent (TFLite averages over the valid cells only)');
        }
        const outH = pad.padding === Padding.SAME ? Math.ceil(inH / s[0]) : Math.floor((inH - k[0]) / s[0]) + 1;
        const outW = pad.padding === Padding.SAME ? Math.ceil(inW / s[1]) : Math.floor((inW - k[1]) / s[1]) + 1;
        const { act, name } = fuseActivation(node);
        const out = g.tensor(name, [n, outH, outW, c], name);
        g.op(op === 'MaxPool' ? Op.MAX_POOL_2D : Op.AVERAGE_POOL_2D, [input.t], [out], {
          padding: pad.padding, stride_w: s[1], stride_h: s[0], filter_width: k[1], filter_height: k[0], fused_activation_function: act,
        });
        setOut(node, { t: out, shape: [n, c, outH, outW], layout: 'nhwc' }, name);
        break;
      }

      case 'GlobalAveragePool': {
        const x = g.nhwc(get(node, 0), node);
        const [n, c] = x.shape as [number, number];
        const name = outName(node);
        const out = g.tensor(name, [n, 1, 1, c], name);
        g.op(Op.MEAN, [x.t, g.intConst(`${name}_axes`, [2], [1, 2])], [out], { keep_dims: true });
        setOut(node, { t: out, shape: [n, c, 1, 1], layout: 'nhwc' });
        break;
      }

      case 'Gemm':
      case 'MatMul': {
        const a = get(node, 0);
        const bName = node.input?.[1] ?? '';
        const bConst = consts.float(bName);
        if (!bConst && op === 'MatMul' && values.has(bName)) {
          const x = g.plain(a), y = g.plain(get(node, 1));
          if (x.shape.length < 2 || y.shape.length < 2) fail(node, 'MatMul of a 1-D activation is not supported');
          const batchDims = broadcastShape(x.shape.slice(0, -2), y.shape.slice(0, -2));
          const outShape = [...batchDims, x.shape[x.shape.length - 2]!, y.shape[y.shape.length - 1]!];
          const name = outName(node);
          const out = g.tensor(name, outShape, name);
          g.op(Op.BATCH_MATMUL, [x.t, y.t], [out], { adj_x: false, adj_y: false });
          setOut(node, { t: out, shape: outShape, layout: 'plain' });
          break;
        }
        if (!bConst) fail(node, `the second input '${bName}' is not a constant; TFLite export supports ${op} with constant weights only`);
        if (bConst.dims.length !== 2) fail(node, `the weight has shape [${bConst.dims.join(', ')}]; only 2-D weights are supported`);
        let weight: Float32Array; // [N, K] as FULLY_CONNECTED wants
        let nOut: number, k: number;
        let bias: Float32Array | undefined;
        if (op === 'Gemm') {
          if (getIntAttr(node, 'transA', 0) !== 0) fail(node, 'transA=1 is not supported');
          const alpha = getFloatAttr(node, 'alpha', 1);
          const beta = getFloatAttr(node, 'beta', 1);
          const transB = getIntAttr(node, 'transB', 0) === 1;
          [nOut, k] = transB ? [bConst.dims[0]!, bConst.dims[1]!] : [bConst.dims[1]!, bConst.dims[0]!];
          weight = transB ? Float32Array.from(bConst.values) : transposeData(bConst.values, bConst.dims, [1, 0]);
          if (alpha !== 1) for (let i = 0; i < weight.length; i++) weight[i] = weight[i]! * alpha;
          if (node.input?.[2]) {
            bias = new Float32Array(nOut);
            const c = consts.float(node.input[2]);
            if (!c) fail(node, 'the bias C is not a constant');
            if (c.values.length === 1) bias.fill(c.values[0]! * beta);
            else if (c.values.length === nOut && product(c.dims) === nOut && (c.dims.length === 1 || c.dims[0] === 1)) for (let i = 0; i < nOut; i++) bias[i] = c.values[i]! * beta;
            else fail(node, `the bias C has shape [${c.dims.join(', ')}]; only a per-output bias is supported`);
          }
          if (a.shape.length !== 2) fail(node, `input A has rank ${a.shape.length}; Gemm takes 2-D inputs`);
        } else {
          [k, nOut] = bConst.dims as [number, number];
          weight = transposeData(bConst.values, bConst.dims, [1, 0]);
        }
        if (a.shape[a.shape.length - 1] !== k) fail(node, `input A has ${a.shape[a.shape.length - 1]} columns, the weight expects ${k}`);
        let input: Value;
        if (a.layout === 'flat-nhwc' && a.shape.length === 2) {
          // The activations are in NHWC order: reorder the weight's columns to match instead of transposing them.
          const [c, h, w] = a.chw!;
          weight = transposeData(weight, [nOut, c, h, w], [0, 2, 3, 1]);
          input = a;
        } else {
          input = g.plain(a);
        }
        const { act, name } = fuseActivation(node);
        const outShape = [...a.shape.slice(0, -1), nOut];
        const out = g.tensor(name, outShape, name);
        const wt = g.floatConst(bName, [nOut, k], weight);
        // No bias (or an all-zero one): FULLY_CONNECTED's optional input is omitted (-1) rather than stored as zeros.
        const bt = bias && bias.some((v) => v !== 0) ? g.floatConst(node.input![2]!, [nOut], bias) : -1;
        g.op(Op.FULLY_CONNECTED, [input.t, wt, bt], [out], { fused_activation_function: act, keep_num_dims: outShape.length > 2 });
        setOut(node, { t: out, shape: outShape, layout: 'plain' }, name);
        break;
      }

      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Max':
      case 'Min': {
        if ((op === 'Max' || op === 'Min') && (node.input ?? []).filter((i) => i).length !== 2) fail(node, `${op} of ${node.input?.length ?? 0} inputs is not supported (only 2)`);
        // x * HardSigmoid(x) with TFLite's constants is HARD_SWISH (the import writes HARD_SWISH that way).
        if (op === 'Mul') {
          const swish = hardSwishInput(node);
          if (swish) {
            const x = swish;
            const name = outName(node);
            const out = g.tensor(name, g.tensors[x.t]!.shape, name);
            g.op(Op.HARD_SWISH, [x.t], [out]);
            setOut(node, { ...x, t: out });
            break;
          }
        }
        const [aName, bName] = [node.input?.[0] ?? '', node.input?.[1] ?? ''];
        const aConst = !values.has(aName) ? consts.float(aName) : undefined;
        const bConst = !values.has(bName) ? consts.float(bName) : undefined;
        if (aConst && bConst) fail(node, 'both inputs are constants (run the cleanup pass to fold them)');
        if (aConst && op === 'Sub') fail(node, 'a constant minuend is not supported');
        let x: Value, yT: number;
        let outShape: number[];
        if (aConst || bConst) {
          const k = (aConst ?? bConst)!;
          const v0 = get(node, aConst ? 1 : 0);
          outShape = broadcastShape(v0.shape, k.dims);
          x = v0.layout === 'flat-nhwc' && product(k.dims) > 1 ? g.plain(v0) : v0;
          let data = k.values, dims = k.dims;
          if (x.layout === 'nhwc') {
            if (k.dims.length > 4) fail(node, `a rank-${k.dims.length} constant does not broadcast against a 4-D input`);
            const full = [...new Array<number>(4 - k.dims.length).fill(1), ...k.dims];
            data = transposeData(k.values, full, NHWC_AXIS);
            dims = NHWC_AXIS.map((a) => full[a]!);
          }
          yT = g.floatConst(aConst ? aName : bName, dims, data);
        } else {
          let a = get(node, 0), b = get(node, 1);
          outShape = broadcastShape(a.shape, b.shape);
          const sameRank4 = a.shape.length === 4 && b.shape.length === 4;
          if (sameRank4 && (a.layout === 'nhwc' || b.layout === 'nhwc')) {
            a = g.nhwc(a, node);
            b = g.nhwc(b, node);
          } else if (!(a.layout === 'flat-nhwc' && b.layout === 'flat-nhwc' && a.chw!.join() === b.chw!.join())) {
            a = g.plain(a);
            b = g.plain(b);
          }
          x = a;
          yT = b.t;
        }
        const { act, name } = fuseActivation(node);
        const phys = x.layout === 'nhwc' ? NHWC_AXIS.map((i) => outShape[i]!) : outShape;
        const out = g.tensor(name, phys, name);
        const inputsOrder = aConst ? [yT, x.t] : [x.t, yT];
        if (op === 'Max' || op === 'Min') g.op(op === 'Max' ? Op.MAXIMUM : Op.MINIMUM, inputsOrder, [out]);
        else g.op(op === 'Add' ? Op.ADD : op === 'Sub' ? Op.SUB : Op.MUL, inputsOrder, [out], { fused_activation_function: act });
        setOut(node, { t: out, shape: outShape, layout: x.layout, ...(x.chw ? { chw: x.chw } : {}) }, name);
        break;
      }

      case 'Relu':
      case 'Clip':
      case 'Sigmoid':
      case 'Tanh': {
        const x = get(node, 0);
        let tfl: number;
        if (op === 'Sigmoid') tfl = Op.LOGISTIC;
        else if (op === 'Tanh') tfl = Op.TANH;
        else {
          const act = activationOf(node, consts, opset);
          if (act === undefined) fail(node, 'only Clip(0, 6), Clip(-1, 1) and Clip(0, ∞) (ReLU variants) are supported');
          tfl = ACTIVATION_OP[act]!;
        }
        const name = outName(node);
        const out = g.tensor(name, g.tensors[x.t]!.shape, name);
        g.op(tfl, [x.t], [out]);
        setOut(node, { ...x, t: out });
        break;
      }

      case 'LeakyRelu':
      case 'Log':
      case 'HardSwish': {
        const x0 = get(node, 0);
        const x = x0;
        const name = outName(node);
        const out = g.tensor(name, g.tensors[x.t]!.shape, name);
        if (op === 'LeakyRelu') g.op(Op.LEAKY_RELU, [x.t], [out], { alpha: getFloatAttr(node, 'alpha', 0.01) });
        else g.op(op === 'Log' ? Op.LOG : Op.HARD_SWISH, [x.t], [out]);
        setOut(node, { ...x, t: out });
        break;
      }

      case 'HardSigmoid': {
        // max(0, min(1, alpha·x + beta)): MUL, ADD with a fused RELU, MINIMUM with 1.
        const x = get(node, 0);
        const readers = consumers.get(outName(node)) ?? [];
        // Read only by the Mul of a hard swish: that Mul emits HARD_SWISH, nothing to compute here.
        if (readers.length > 0 && readers.every((r) => hardSwishInput(r) !== undefined)) break;
        const alpha = getFloatAttr(node, 'alpha', 0.2), beta = getFloatAttr(node, 'beta', 0.5);
        const name = outName(node);
        const phys = g.tensors[x.t]!.shape;
        const scaled = g.tensor(`${name}_scaled`, phys, undefined);
        g.op(Op.MUL, [x.t, g.floatConst(`${name}_alpha`, [], Float32Array.of(alpha))], [scaled], { fused_activation_function: Activation.NONE });
        const shifted = g.tensor(`${name}_shifted`, phys, undefined);
        g.op(Op.ADD, [scaled, g.floatConst(`${name}_beta`, [], Float32Array.of(beta))], [shifted], { fused_activation_function: Activation.RELU });
        const out = g.tensor(name, phys, name);
        g.op(Op.MINIMUM, [shifted, g.floatConst(`${name}_one`, [], Float32Array.of(1))], [out]);
        setOut(node, { ...x, t: out });
        break;
      }

      case 'ReduceMax': {
        const x = g.plain(get(node, 0));
        const rank = x.shape.length;
        let axes = opset >= 18 && node.input?.[1] ? consts.ints(node.input[1]) : getIntsAttr(node, 'axes');
        if (opset >= 18 && node.input?.[1] && !axes) fail(node, 'the axes are not a constant');
        if (!axes || axes.length === 0) axes = x.shape.map((_, i) => i);
        axes = [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
        const keep = getIntAttr(node, 'keepdims', 1) === 1;
        const outShape = keep ? x.shape.map((d, i) => (axes!.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes!.includes(i));
        const name = outName(node);
        const out = g.tensor(name, outShape, name);
        g.op(Op.REDUCE_MAX, [x.t, g.intConst(`${name}_axes`, [axes.length], axes)], [out], { keep_dims: keep });
        setOut(node, { t: out, shape: outShape, layout: 'plain' });
        break;
      }

      case 'Squeeze':
      case 'Unsqueeze': {
        const x = g.plain(get(node, 0));
        const rank = x.shape.length;
        let axes = opset >= 13 ? (node.input?.[1] ? consts.ints(node.input[1]) : undefined) : getIntsAttr(node, 'axes');
        if (opset >= 13 && node.input?.[1] && !axes) fail(node, 'the axes are not a constant');
        let outShape: number[];
        if (op === 'Squeeze') {
          const ax = (axes ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => (a < 0 ? a + rank : a));
          outShape = x.shape.filter((_, i) => !ax.includes(i));
        } else {
          if (!axes) fail(node, 'Unsqueeze needs axes');
          const outRank = rank + axes.length;
          const ax = axes.map((a) => (a < 0 ? a + outRank : a));
          outShape = [];
          let k = 0;
          for (let i = 0; i < outRank; i++) outShape.push(ax.includes(i) ? 1 : x.shape[k++]!);
        }
        const name = outName(node);
        const out = g.tensor(name, outShape, name);
        g.reshape(x.t, out, outShape);
        setOut(node, { t: out, shape: outShape, layout: 'plain' });
        break;
      }

      case 'Shape':
      case 'Slice':
      case 'Cast': {
        // Shape arithmetic (the sizes of a Resize): computed here, the static shapes being known.
        const v = knownInts(node);
        if (!v) fail(node, `${op} is supported only on shapes known at export (static shape arithmetic)`);
        known.set(outName(node), v);
        break;
      }

      case 'Resize': {
        const x = g.nhwc(get(node, 0), node);
        const mode = getStringAttr(node, 'mode', 'nearest');
        const ctm = getStringAttr(node, 'coordinate_transformation_mode', 'half_pixel');
        if (mode !== 'linear') fail(node, `Resize mode '${mode}' is not supported (only linear)`);
        const [n, c, h, w] = x.shape as [number, number, number, number];
        let outH: number, outW: number;
        const sizes = node.input?.[3] ? (known.get(node.input[3]) ?? consts.ints(node.input[3])) : undefined;
        const scales = node.input?.[2] ? consts.float(node.input[2]) : undefined;
        if (sizes && sizes.length === 4) [outH, outW] = [sizes[2]!, sizes[3]!];
        else if (scales && scales.values.length === 4) [outH, outW] = [Math.floor(h * scales.values[2]!), Math.floor(w * scales.values[3]!)];
        else fail(node, 'the sizes or scales are not constants of 4 values');
        if ((sizes && (sizes[0] !== n || sizes[1] !== c)) || (scales && !sizes && (scales.values[0] !== 1 || scales.values[1] !== 1))) fail(node, 'only the spatial axes may be resized');
        const flags = ctm === 'half_pixel' || ctm === 'pytorch_half_pixel' ? { align_corners: false, half_pixel_centers: true }
          : ctm === 'align_corners' ? { align_corners: true, half_pixel_centers: false }
          : ctm === 'asymmetric' ? { align_corners: false, half_pixel_centers: false }
          : fail(node, `coordinate_transformation_mode '${ctm}' is not supported`);
        if (ctm === 'pytorch_half_pixel' && (outH === 1 || outW === 1)) fail(node, 'pytorch_half_pixel to a size of 1 is not supported');
        const name = outName(node);
        const out = g.tensor(name, [n, outH, outW, c], name);
        g.op(Op.RESIZE_BILINEAR, [x.t, g.intConst(`${name}_size`, [2], [outH, outW])], [out], { new_height: outH, new_width: outW, ...flags });
        setOut(node, { t: out, shape: [n, c, outH, outW], layout: 'nhwc' });
        break;
      }

      case 'ConvTranspose': {
        const x = g.nhwc(get(node, 0), node);
        const w = consts.float(node.input?.[1] ?? '');
        if (!w || w.dims.length !== 4) fail(node, 'only 2-D ConvTranspose with a constant weight is supported');
        if (getIntAttr(node, 'group', 1) !== 1) fail(node, 'grouped ConvTranspose is not supported');
        const [cin, m, kh, kw] = w.dims as [number, number, number, number];
        const [n, c, h, wd] = x.shape as [number, number, number, number];
        if (cin !== c) fail(node, `the weight expects ${cin} input channels, the input has ${c}`);
        const s2 = (getIntsAttr(node, 'strides') ?? [1, 1]) as [number, number];
        if ((getIntsAttr(node, 'dilations') ?? [1, 1]).some((d) => d !== 1)) fail(node, 'dilated ConvTranspose is not supported');
        const outPad = getIntsAttr(node, 'output_padding') ?? [0, 0];
        const autoPad = getStringAttr(node, 'auto_pad', 'NOTSET');
        const pads = getIntsAttr(node, 'pads') ?? [0, 0, 0, 0];
        const full = [s2[0] * (h - 1) + kh, s2[1] * (wd - 1) + kw];
        let outHW: number[];
        let padding: number;
        const outputShape = getIntsAttr(node, 'output_shape');
        if (autoPad === 'SAME_UPPER' || (outputShape && outputShape.length === 2 && outputShape[0] === h * s2[0] && outputShape[1] === wd * s2[1])) {
          outHW = [h * s2[0], wd * s2[1]];
          padding = Padding.SAME;
        } else if (autoPad === 'VALID' || (autoPad === 'NOTSET' && !outputShape && pads.every((p) => p === 0) && outPad.every((p) => p === 0))) {
          outHW = full;
          padding = Padding.VALID;
        } else {
          outHW = [full[0]! - pads[0]! - pads[2]! + outPad[0]!, full[1]! - pads[1]! - pads[3]! + outPad[1]!];
          // TFLite's SAME: output = input·stride, the padding's smaller half first.
          const same = outHW[0] === h * s2[0] && outHW[1] === wd * s2[1] && [0, 1].every((i) => pads[i] === Math.floor((full[i]! - outHW[i]!) / 2));
          if (!same) fail(node, `pads [${pads.join(', ')}] / output_padding [${outPad.join(', ')}] are neither SAME nor VALID`);
          padding = Padding.SAME;
        }
        const name = outName(node);
        const wName = node.input![1]!;
        const filter = g.floatConst(wName, [m, kh, kw, cin], transposeData(w.values, [cin, m, kh, kw], [1, 2, 3, 0]));
        const bias = node.input?.[2] ? consts.float(node.input[2]) : undefined;
        if (node.input?.[2] && !bias) fail(node, 'the bias is not a constant');
        const phys = [n, outHW[0]!, outHW[1]!, m];
        const out = g.tensor(name, phys, name);
        // The bias is TRANSPOSE_CONV's optional 4th input (op version 3).
        const ins = [g.intConst(`${name}_output_shape`, [4], phys), filter, x.t, ...(bias ? [g.floatConst(node.input![2]!, [m], bias.values)] : [])];
        g.op(Op.TRANSPOSE_CONV, ins, [out], { padding, stride_w: s2[1], stride_h: s2[0] });
        if (bias) g.operators[g.operators.length - 1]!.version = 3;
        setOut(node, { t: out, shape: [n, m, outHW[0]!, outHW[1]!], layout: 'nhwc' });
        break;
      }

      case 'Softmax': {
        const x = get(node, 0);
        const rank = x.shape.length;
        let axis = getIntAttr(node, 'axis', opset >= 13 ? -1 : 1);
        if (axis < 0) axis += rank;
        const name = outName(node);
        let input: Value;
        if (x.layout === 'nhwc' && axis === 1 && (opset >= 13 || (x.shape[2] === 1 && x.shape[3] === 1))) {
          input = x; // the channel axis is the last one in NHWC
        } else if (x.layout === 'flat-nhwc' && axis === 1 && rank === 2) {
          input = x; // a softmax over a whole row does not depend on the order of the row
        } else if (axis === rank - 1) {
          input = g.plain(x);
        } else {
          fail(node, `softmax over axis ${axis} of a rank-${rank} tensor is not supported (TFLite normalizes the last axis)`);
        }
        const out = g.tensor(name, g.tensors[input.t]!.shape, name);
        g.op(Op.SOFTMAX, [input.t], [out], { beta: 1 });
        setOut(node, { ...input, t: out });
        break;
      }

      case 'Flatten':
      case 'Reshape': {
        const x = get(node, 0);
        let target: number[];
        if (op === 'Flatten') {
          let axis = getIntAttr(node, 'axis', 1);
          if (axis < 0) axis += x.shape.length;
          target = [product(x.shape.slice(0, axis)), product(x.shape.slice(axis))];
        } else {
          const spec = consts.ints(node.input?.[1] ?? '');
          if (!spec) fail(node, 'the target shape is not a constant');
          const allowZero = getIntAttr(node, 'allowzero', 0) === 1;
          target = spec.map((d, i) => (d === 0 && !allowZero ? x.shape[i]! : d));
          const known = product(target.filter((d) => d !== -1));
          target = target.map((d) => (d === -1 ? product(x.shape) / known : d));
          if (product(target) !== product(x.shape)) fail(node, `cannot reshape [${x.shape.join(', ')}] to [${spec.join(', ')}]`);
        }
        const name = outName(node);
        const flattensNhwc = x.layout === 'nhwc' && target.length === 2 && target[0] === x.shape[0];
        if (x.layout === 'flat-nhwc' && target.length === 2 && target[0] === x.shape[0]) {
          setOut(node, x);
        } else if (flattensNhwc) {
          // Flatten the NHWC tensor as it is; consumers that need the NCHW order get it from plain().
          const [, c, h, w] = x.shape as [number, number, number, number];
          const out = g.tensor(name, target, name);
          g.reshape(x.t, out, target);
          const trivial = isMemoryIdentity(x.shape, NHWC_AXIS);
          setOut(node, trivial ? { t: out, shape: target, layout: 'plain' } : { t: out, shape: target, layout: 'flat-nhwc', chw: [c, h, w] });
        } else {
          const p = g.plain(x);
          const out = g.tensor(name, target, name);
          g.reshape(p.t, out, target);
          setOut(node, { t: out, shape: target, layout: 'plain' });
        }
        break;
      }

      case 'Concat': {
        if ((node.input ?? []).every((i) => known.has(i) || (!values.has(i) && consts.ints(i) !== undefined)) && (node.input ?? []).some((i) => known.has(i))) {
          known.set(outName(node), (node.input ?? []).flatMap((i) => intsOf(i)!));
          break;
        }
        let axis = getIntAttr(node, 'axis', 0);
        const ins = (node.input ?? []).filter((i) => i);
        const live = ins.map((n) => values.get(n));
        const first = live.find((v) => v)!;
        if (!first) fail(node, 'every input is a constant');
        const rank = first.shape.length;
        if (axis < 0) axis += rank;
        const useNhwc = rank === 4 && live.some((v) => v?.layout === 'nhwc');
        const tensors = ins.map((n, i) => {
          const v = live[i];
          if (v) return (useNhwc ? g.nhwc(v, node) : g.plain(v)).t;
          const k = consts.float(n);
          if (!k) fail(node, `input '${n}' is neither computed nor a float constant`);
          return useNhwc
            ? g.floatConst(n, NHWC_AXIS.map((a) => k.dims[a]!), transposeData(k.values, k.dims, NHWC_AXIS))
            : g.floatConst(n, k.dims, k.values);
        });
        const shapes = ins.map((n, i) => live[i]?.shape ?? consts.float(n)!.dims);
        const outShape = [...first.shape];
        outShape[axis] = shapes.reduce((s, d) => s + d[axis]!, 0);
        const { act, name } = fuseActivation(node);
        const phys = useNhwc ? NHWC_AXIS.map((a) => outShape[a]!) : outShape;
        const out = g.tensor(name, phys, name);
        g.op(Op.CONCATENATION, tensors, [out], { axis: useNhwc ? NHWC_POS[axis]! : axis, fused_activation_function: act });
        setOut(node, { t: out, shape: outShape, layout: useNhwc ? 'nhwc' : 'plain' }, name);
        break;
      }

      case 'Pad': {
        const x0 = get(node, 0);
        const mode = getStringAttr(node, 'mode', 'constant');
        if (mode !== 'constant') fail(node, `Pad mode '${mode}' is not supported (only constant)`);
        let pads: number[] | undefined;
        let value = 0;
        if (opset < 11) {
          pads = getIntsAttr(node, 'pads');
          value = getFloatAttr(node, 'value', 0);
        } else {
          pads = consts.ints(node.input?.[1] ?? '');
          if (node.input?.[2]) {
            const v = consts.float(node.input[2]);
            if (!v) fail(node, 'the constant_value is not a constant');
            value = v.values[0] ?? 0;
          }
          if (node.input?.[3]) fail(node, 'the axes input is not supported');
        }
        if (!pads) fail(node, 'the pads are not a constant');
        const rank = x0.shape.length;
        if (pads.length !== 2 * rank) fail(node, `${pads.length} pads for a rank-${rank} input`);
        if (pads.some((p) => p < 0)) fail(node, 'negative pads (cropping) are not supported');
        const x = x0.layout === 'flat-nhwc' ? g.plain(x0) : x0;
        const outShape = x.shape.map((d, i) => d + pads![i]! + pads![i + rank]!);
        const axes = x.layout === 'nhwc' ? NHWC_AXIS : x.shape.map((_, i) => i);
        const paddings = axes.flatMap((a) => [pads![a]!, pads![a + rank]!]);
        const name = outName(node);
        const out = g.tensor(name, axes.map((a) => outShape[a]!), name);
        const pt = g.intConst(`${name}_paddings`, [rank, 2], paddings);
        if (value === 0) g.op(Op.PAD, [x.t, pt], [out]);
        else g.op(Op.PADV2, [x.t, pt, g.floatConst(`${name}_value`, [], Float32Array.of(value))], [out]);
        setOut(node, { t: out, shape: outShape, layout: x.layout });
        break;
      }

      case 'Transpose': {
        const x0 = get(node, 0);
        const x = x0.layout === 'flat-nhwc' ? g.plain(x0) : x0;
        const rank = x.shape.length;
        const perm = getIntsAttr(node, 'perm') ?? x.shape.map((_, i) => rank - 1 - i);
        const outShape = perm.map((a) => x.shape[a]!);
        // On an NHWC tensor, logical axis a sits at NHWC_POS[a].
        const physPerm = x.layout === 'nhwc' ? perm.map((a) => NHWC_POS[a]!) : perm;
        const name = outName(node);
        if (physPerm.every((a, i) => a === i)) {
          setOut(node, { t: x.t, shape: outShape, layout: 'plain' });
          break;
        }
        // NHWC → NCHW of a plain tensor: the tensor as it is holds the result in NHWC (no op; what an imported
        // TFLite graph does around every convolution).
        if (x.layout === 'plain' && rank === 4 && physPerm.every((a, i) => a === NHWC_POS[i])) {
          setOut(node, { t: x.t, shape: outShape, layout: 'nhwc' });
          break;
        }
        const out = g.tensor(name, outShape, name);
        if (isMemoryIdentity(g.tensors[x.t]!.shape, physPerm)) g.reshape(x.t, out, outShape);
        else g.op(Op.TRANSPOSE, [x.t, g.intConst(`${name}_perm`, [rank], physPerm)], [out]);
        setOut(node, { t: out, shape: outShape, layout: 'plain' });
        break;
      }

      default:
        fail(node, `op '${op}' is not supported by the TFLite export (supported: ${SUPPORTED_ONNX_OPS.join(', ')})`);
    }
  }

  const outputs: number[] = [];
  for (const o of graph.output ?? []) {
    const v = values.get(o.name!);
    if (!v) throw new ModelGateError(`TFLite export: graph output '${o.name}' is not computed by the graph`);
    let p = g.plain(v);
    if (inputs.includes(p.t) || outputs.includes(p.t)) {
      // An output that is an input (or another output) needs its own tensor: copy it through a RESHAPE.
      const copy = g.tensor(o.name!, p.shape, g.sources[p.t]);
      g.reshape(p.t, copy, p.shape);
      p = { ...p, t: copy };
    }
    const t = g.tensors[p.t]!;
    if (t.name !== o.name) {
      // Give the output tensor the ONNX output's name, so feeds and fetches use the same names in both runtimes.
      const holder = g.tensors.find((x) => x.name === o.name);
      if (holder) holder.name = `${holder.name}_inner`;
      t.name = o.name!;
    }
    outputs.push(p.t);
  }
  return { tensors: g.tensors, inputs, outputs, operators: g.operators, sources: g.sources, notes: g.notes };
}

/** PAD (or PADV2 with `value`) of an NHWC value by [top, left, bottom, right]. */
function padNhwc(g: GraphBuilder, x: Value, p: [number, number, number, number], value: number, node: INode): Value {
  const [n, h, w, c] = g.tensors[x.t]!.shape as [number, number, number, number];
  const name = `${g.tensors[x.t]!.name}_padded`;
  const out = g.tensor(name, [n, h + p[0] + p[2], w + p[1] + p[3], c], g.sources[x.t]);
  const pt = g.intConst(`${name}_paddings`, [4, 2], [0, 0, p[0], p[2], p[1], p[3], 0, 0]);
  if (value === 0) g.op(Op.PAD, [x.t, pt], [out]);
  else g.op(Op.PADV2, [x.t, pt, g.floatConst(`${name}_value`, [], Float32Array.of(value))], [out]);
  g.notes.push(`${describeNode(node)}: pads [${p.join(', ')}] are not TensorFlow's SAME padding; exported as an explicit ${value === 0 ? 'PAD' : 'PADV2'}`);
  return { t: out, shape: [n, x.shape[1]!, h + p[0] + p[2], w + p[1] + p[3]], layout: 'nhwc' };
}

