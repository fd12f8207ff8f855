/**
 * What the dynamic and static quantizers share: the options, the integer math (scales, zero points,
 * rounding), weight and bias quantization, and node selection by op type and name.
 */
import { DataType, dimsOf, onnx, type Model } from '../model/onnx.js';
import { makeTensor, tensorToFloat32 } from '../model/tensor.js';
import { describeNode, getIntAttr, nodeBodies, opsetVersion } from '../model/graph.js';
import { ModelGateError, errorMessage } from '../errors.js';
import type { PassContext } from './pass.js';
import { cleanupModel } from './cleanup.js';
import { upgradeOpset } from './upgrade-opset.js';

export type QuantType = 'int8' | 'uint8';

export interface QuantizeOptions {
  mode: 'dynamic' | 'static';
  /** One scale per output channel for weights. Default: true for static, false for dynamic (ORT's choices for speed). */
  per_channel?: boolean;
  /** Symmetric weights (zero point 0 for int8, 128 for uint8). Activations are always asymmetric. Default true. */
  symmetric?: boolean;
  op_types?: string[];
  nodes_include?: string[];
  nodes_exclude?: string[];
  calibration?: 'minmax' | 'percentile' | 'entropy';
  /**
   * Static: add to each bias the mean error int8 weight rounding puts on the output, (W − Ŵ)·E[x], with E[x]
   * the input's mean per channel on the calibration samples. Default true.
   */
  bias_correction?: boolean;
  percentile?: number;
  samples?: number;
  activation_type?: QuantType;
  weight_type?: QuantType;
}

const stringList = { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true };

export const quantizeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['mode'],
  properties: {
    mode: { enum: ['dynamic', 'static'] },
    per_channel: { type: 'boolean' },
    symmetric: { type: 'boolean' },
    op_types: stringList,
    nodes_include: stringList,
    nodes_exclude: stringList,
    calibration: { enum: ['minmax', 'percentile', 'entropy'] },
    bias_correction: { type: 'boolean' },
    percentile: { type: 'number', exclusiveMinimum: 50, maximum: 100 },
    samples: { type: 'integer', minimum: 1, maximum: 100000 },
    activation_type: { enum: ['uint8', 'int8'] },
    weight_type: { enum: ['int8', 'uint8'] },
  },
} as const;

export function onnxQuantType(t: QuantType): number {
  return t === 'int8' ? DataType.INT8 : DataType.UINT8;
}

function qRange(t: QuantType): [number, number] {
  return t === 'int8' ? [-128, 127] : [0, 255];
}

/** Round half to even, as QuantizeLinear (and numpy) do. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QuantParams {
  /** float32-representable */
  scale: number;
  zeroPoint: number;
  type: QuantType;
}

/**
 * Asymmetric affine parameters for an activation range. The range always contains 0 (so that zero
 * padding is exact), which also makes the zero point land on qmin for non-negative tensors: exactly what
 * ORT's Relu+QuantizeLinear fusion requires.
 */
export function activationParams(min: number, max: number, type: QuantType): QuantParams {
  const [qmin, qmax] = qRange(type);
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  if (!(hi > lo) || !Number.isFinite(hi - lo)) {
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new ModelGateError(`calibration produced a non-finite range [${min}, ${max}]`);
    return { scale: 1, zeroPoint: 0, type };
  }
  const scale = Math.fround((hi - lo) / (qmax - qmin));
  const zeroPoint = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - lo / scale)));
  return { scale, zeroPoint, type };
}

export interface QuantizedWeight {
  data: Int8Array | Uint8Array;
  scales: Float32Array;
  zeroPoints: Int8Array | Uint8Array;
  /** Channel axis, or null when per-tensor (scales and zeroPoints have one element). */
  axis: number | null;
  /** Scales raised to the `minScales` floor given to quantizeWeight. */
  raised?: number;
}

/**
 * Quantizes a weight per tensor or per channel along `axis`. Symmetric int8 uses [-127, 127] (so that
 * negation is exact and the u8×s8 kernels have one less saturating case); symmetric uint8 is the same
 * grid shifted by 128.
 */
export function quantizeWeight(
  values: Float32Array,
  dims: readonly number[],
  type: QuantType,
  symmetric: boolean,
  axis: number | null,
  minScales?: ArrayLike<number>,
): QuantizedWeight {
  const channels = axis === null ? 1 : dims[axis]!;
  const inner = axis === null ? values.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number): number => (axis === null ? 0 : Math.floor(i / inner) % channels);
  const lo = new Float64Array(channels).fill(0);
  const hi = new Float64Array(channels).fill(0);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i), v = values[i]!;
    if (v < lo[c]!) lo[c] = v;
    if (v > hi[c]!) hi[c] = v;
  }
  const scales = new Float32Array(channels);
  let raised = 0;
  const zeroPoints = type === 'int8' ? new Int8Array(channels) : new Uint8Array(channels);
  const [qmin, qmax] = symmetric ? (type === 'int8' ? [-127, 127] : [1, 255]) : qRange(type);
  for (let c = 0; c < channels; c++) {
    if (symmetric) {
      const absMax = Math.max(-lo[c]!, hi[c]!);
      scales[c] = absMax > 0 ? absMax / 127 : 1;
      zeroPoints[c] = type === 'int8' ? 0 : 128;
    } else {
      const p = activationParams(lo[c]!, hi[c]!, type);
      scales[c] = p.scale;
      zeroPoints[c] = p.zeroPoint;
    }
    const floor = minScales?.[c] ?? 0;
    if (scales[c]! < floor) {
      raised++;
      // A coarser grid for this channel only; an asymmetric zero point keeps zero exact on it.
      scales[c] = Math.fround(floor);
      if (!symmetric) zeroPoints[c] = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - lo[c]! / scales[c]!)));
    }
  }
  const data = type === 'int8' ? new Int8Array(values.length) : new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    const q = roundHalfEven(values[i]! / scales[c]!) + zeroPoints[c]!;
    data[i] = Math.min(qmax, Math.max(qmin, q));
  }
  return { data, scales, zeroPoints, axis, raised };
}

/** The float values a quantized weight stands for (for tests and error estimates). */
export function dequantizeWeight(w: QuantizedWeight, dims: readonly number[]): Float32Array {
  const channels = w.scales.length;
  const inner = w.axis === null ? w.data.length : dims.slice(w.axis + 1).reduce((a, b) => a * b, 1);
  return Float32Array.from(w.data, (q, i) => {
    const c = w.axis === null ? 0 : Math.floor(i / inner) % channels;
    return (q - w.zeroPoints[c]!) * w.scales[c]!;
  });
}

/**
 * Largest |bias| / (input_scale × weight_scale) a quantized bias may reach: 2^30, which leaves the int32
 * accumulator half its range for the products it adds to the bias.
 */
export const BIAS_INT_LIMIT = 2 ** 30;

/**
 * The smallest weight scale per output channel (one for all when `perChannel` is false) at which the bias
 * still fits int32 on the grid input_scale × weight_scale. A channel whose weights are all (nearly) zero,
 * as batch-norm folding leaves behind for a dead filter, gets a weight scale near zero; its bias, often the
 * channel's whole output, then overflows int32 and is clamped to next to nothing. Raising that channel's
 * weight scale instead loses only weights too small to matter. (onnxruntime's quantize_static adjusts
 * weight scales for the same overflow: its test TestAdjustWeightScaleForInt32BiasQOperator.)
 */
export function biasSafeWeightScales(bias: Float32Array, inputScale: number, perChannel: boolean): Float32Array {
  const floors = new Float32Array(perChannel ? bias.length : 1);
  for (let c = 0; c < bias.length; c++) {
    const need = Math.abs(bias[c]!) / (inputScale * BIAS_INT_LIMIT);
    const k = perChannel ? c : 0;
    if (need > floors[k]!) floors[k] = need;
  }
  // Rounded up to float32, so that input_scale × weight_scale never lands just under the bound.
  return floors.map((f) => (f > 0 ? f * (1 + 2 ** -20) : 0));
}

/** int32 bias on the grid of input_scale × weight_scale (per channel), zero point 0: what QLinearConv/QGemm take. */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { data: Int32Array; scales: Float32Array } {
  const perChannel = weightScales.length > 1;
  const scales = new Float32Array(perChannel ? bias.length : 1);
  for (let c = 0; c < scales.length; c++) scales[c] = Math.fround(inputScale * weightScales[c]!);
  const data = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const s = scales[perChannel ? c : 0]!;
    data[c] = Math.max(-(2 ** 31) + 1, Math.min(2 ** 31 - 1, roundHalfEven(bias[c]! / s)));
  }
  return { data, scales };
}

export function weightTensors(base: { q: string; scale: string; zp: string }, dims: readonly number[], w: QuantizedWeight, scaleDims?: number[]) {
  const sDims = scaleDims ?? (w.axis === null ? [] : [w.scales.length]);
  return {
    q: makeTensor(base.q, dims, w.data),
    scale: makeTensor(base.scale, sDims, w.scales),
    zp: makeTensor(base.zp, sDims, w.zeroPoints),
  };
}

export function scalarTensors(scaleName: string, zpName: string, p: QuantParams) {
  return {
    scale: makeTensor(scaleName, [], Float32Array.of(p.scale)),
    zp: makeTensor(zpName, [], p.type === 'int8' ? Int8Array.of(p.zeroPoint) : Uint8Array.of(p.zeroPoint)),
  };
}

/** A float32 initializer's values and dims, or undefined when the name is not a float32 initializer. */
export function floatInitializer(inits: Map<string, onnx.ITensorProto>, name: string | undefined): { values: Float32Array; dims: number[]; tensor: onnx.ITensorProto } | undefined {
  if (!name) return undefined;
  const t = inits.get(name);
  if (!t || t.dataType !== DataType.FLOAT) return undefined;
  return { values: tensorToFloat32(t), dims: dimsOf(t), tensor: t };
}

/** How include/exclude lists name a node: its name, or its first output for unnamed nodes. */
export function nodeKey(node: onnx.INodeProto): string {
  return node.name || (node.output ?? []).find((o) => o) || '';
}

export interface NodeFilter {
  op_types?: string[];
  nodes_include?: string[];
  nodes_exclude?: string[];
}

/**
 * The nodes the user asked for: op type in `op_types` (else `defaults`), in nodes_include when given, not in
 * nodes_exclude. Unknown names and op types fail loudly: a typo must not silently change nothing.
 * `what` completes "which <what> does not handle" in messages.
 */
export function selectNodes(
  graph: onnx.IGraphProto,
  filter: NodeFilter,
  supported: readonly string[],
  defaults: readonly string[],
  pass: string,
  what: string,
  subgraphs = false,
): onnx.INodeProto[] {
  const opTypes = filter.op_types ?? defaults;
  for (const op of opTypes) {
    if (!supported.includes(op)) {
      throw new ModelGateError(`pass '${pass}': option 'op_types' lists '${op}', which ${what} does not handle (supported: ${supported.join(', ')})`);
    }
  }
  const nodes = subgraphs ? [...allGraphs(graph)].flatMap((g) => g.node ?? []) : graph.node ?? [];
  const byKey = new Map(nodes.map((n) => [nodeKey(n), n]));
  for (const key of ['nodes_include', 'nodes_exclude'] as const) {
    for (const name of filter[key] ?? []) {
      if (!byKey.has(name)) throw new ModelGateError(`pass '${pass}': option '${key}' names '${name}', which is not a node of the model`);
    }
  }
  const include = filter.nodes_include ? new Set(filter.nodes_include) : undefined;
  const exclude = new Set(filter.nodes_exclude ?? []);
  if (include) {
    for (const name of include) {
      const node = byKey.get(name)!;
      if (!opTypes.includes(node.opType ?? '')) {
        throw new ModelGateError(`pass '${pass}': option 'nodes_include' names ${describeNode(node)}, but op_types (${opTypes.join(', ')}) does not include ${node.opType}`);
      }
    }
  }
  return nodes.filter((n) => (n.domain ?? '') === '' && opTypes.includes(n.opType ?? '') && (!include || include.has(nodeKey(n))) && !exclude.has(nodeKey(n)));
}

/** The graph and every If/Loop/Scan body inside it, outermost first. */
export function* allGraphs(graph: onnx.IGraphProto): Generator<onnx.IGraphProto> {
  yield graph;
  for (const node of graph.node ?? []) for (const g of nodeBodies(node)) yield* allGraphs(g);
}

/** Ops of a weight's dequantizing chain that may move into the bodies that read it (no compute worth sharing). */
const SINKABLE = new Set(['DequantizeLinear', 'Reshape', 'Transpose', 'Unsqueeze', 'Squeeze', 'Cast']);

/**
 * Moves a constant dequantizing chain (DequantizeLinear of an initializer, and the Reshape/Transpose/… of its
 * result) that one If/Loop/Scan body alone reads into that body, with the initializers only it reads, from
 * `graph` down. Why: onnxruntime folds a constant chain into an initializer of the graph the chain sits in,
 * and a kernel inside a body that reads its weight from an enclosing graph gets it as an implicit input on
 * each run instead of packing it once at load. On silero-vad-16k-op15 (an LSTM in each branch of an If, the
 * two then reading one copy of their weights from the main graph) the weights folded into the main graph ran
 * at 1.022x the reference's time, the same float weights inside the body at 0.992x, and a copy of the
 * reference at 0.996x (means of 8 interleaved runs, docs/benchmarks.md). cleanup keeps such a weight in its
 * body (shareIdenticalConstants); a chain several bodies read here stays shared, since moving it would store
 * its int8 weight twice. Returns the chains moved.
 */
export function sinkConstantChains(graph: onnx.IGraphProto, outer: ReadonlySet<string> = new Set()): number {
  let moved = 0;
  const constants = new Set([...outer, ...(graph.initializer ?? []).map((t) => t.name!)]);
  for (const v of graph.input ?? []) constants.delete(v.name!);
  const nodes = graph.node ?? [];
  // Nodes computed from constants only, through sinkable ops.
  const constNode = new Set<onnx.INodeProto>();
  const constValue = new Set(constants);
  for (const n of nodes) {
    if ((n.domain ?? '') !== '' || !SINKABLE.has(n.opType ?? '') || nodeBodies(n).length > 0) continue;
    if ((n.input ?? []).every((i) => !i || constValue.has(i))) {
      constNode.add(n);
      for (const o of n.output ?? []) constValue.add(o);
    }
  }
  const bodies = nodes.flatMap(nodeBodies);
  const readHere = new Set([...nodes.flatMap((n) => n.input ?? []), ...(graph.output ?? []).map((o) => o.name!)]);
  // A chain ends at a constant node whose outputs only bodies read; its producers come along when only it reads them.
  const sinks = bodies.length > 0 ? [...constNode].filter((n) => (n.output ?? []).every((o) => !readHere.has(o))) : [];
  if (sinks.length > 0) {
    const producer = new Map<string, onnx.INodeProto>();
    for (const n of constNode) for (const o of n.output ?? []) producer.set(o, n);
    const chainOf = (end: onnx.INodeProto): onnx.INodeProto[] => {
      const chain: onnx.INodeProto[] = [];
      const walk = (n: onnx.INodeProto): void => {
        if (chain.includes(n)) return;
        for (const i of n.input ?? []) {
          const p = producer.get(i);
          // A producer that this graph's own nodes also read stays (and is read from the body as outer scope).
          if (p && !nodes.some((m) => m !== n && !constNode.has(m) && (m.input ?? []).includes(i))) walk(p);
        }
        chain.push(n);
      };
      walk(end);
      return chain;
    };
    const chains = new Map(sinks.map((end) => [end, chainOf(end)] as const));
    const reads = bodies.map((body) => {
      const names = new Set<string>();
      for (const g of allGraphs(body)) for (const n of g.node ?? []) for (const i of n.input ?? []) names.add(i);
      return { body, names };
    });
    const remove = new Set<onnx.INodeProto>();
    for (const [end, chain] of chains) {
      // One reading body takes the chain and the initializers only it reads: the weight is then the body's own,
      // as if it had been stored there (onnxruntime's QDQ fusions look for a DequantizeLinear's weight in the
      // DequantizeLinear's own graph). A chain several bodies read stays shared.
      const readers = reads.filter((r) => (end.output ?? []).some((o) => r.names.has(o)));
      if (readers.length !== 1) continue;
      // Moved only when no other sink's chain needs the same producers (they stay shared then).
      if (chain.some((c) => c !== end && [...chains].some(([other, otherChain]) => other !== end && otherChain.includes(c)))) continue;
      const body = readers[0]!.body;
      const chainReads = new Set(chain.flatMap((c) => c.input ?? []));
      const otherReads = new Set([
        ...nodes.filter((m) => !chain.includes(m)).flatMap((m) => m.input ?? []),
        ...(graph.output ?? []).map((o) => o.name!),
        ...reads.filter((r) => r.body !== body).flatMap((r) => [...r.names]),
      ]);
      const own = (graph.initializer ?? []).filter((t) => chainReads.has(t.name!) && !otherReads.has(t.name!));
      graph.initializer = (graph.initializer ?? []).filter((t) => !own.includes(t));
      body.initializer = [...(body.initializer ?? []), ...own];
      body.node = [...chain, ...(body.node ?? [])];
      for (const c of chain) remove.add(c);
      moved++;
    }
    graph.node = nodes.filter((n) => !remove.has(n));
  }
  // The bodies see this graph's constants, and the constant chains that stayed, as their outer scope.
  const visible = new Set([...constants, ...(graph.node ?? []).filter((n) => constNode.has(n)).flatMap((n) => n.output ?? [])]);
  for (const b of (graph.node ?? []).flatMap(nodeBodies)) moved += sinkConstantChains(b, visible);
  return moved;
}

/** Row-major transpose of a [rows, cols] matrix. */
export function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

export interface PrepareOptions {
  /** Below this opset the pass cannot work at all: upgrade, and fail if the upgrade fails. */
  required: number;
  /** Below this opset the pass works less well (e.g. per-channel needs 13): upgrade if possible, else go on. */
  preferred?: number;
  /** Promote Constant nodes and fold constant expressions into initializers (default true). */
  exposeWeights?: boolean;
}

/**
 * What every quantizing pass does first. An older opset is upgraded to 13 (upgradeOpset) instead of being
 * refused. Then Constant nodes, and weights behind a Transpose/Reshape/Cast/Identity/Unsqueeze or a
 * ConstantOfShape, become initializers, in subgraph bodies too: without that a pass sees no weight and
 * silently changes nothing (mnist-12 keeps its weights in Constant nodes; TFLite imports transpose them).
 */
/**
 * The model with its weights where the quantizers look for them: Constant nodes promoted and constant
 * expressions folded into initializers (a weight behind a Reshape, a Transpose, a Cast of float16), however
 * much that grows the file ('weights'), since the quantizers replace those weights right after.
 */
export function exposeWeights(model: Model): ReturnType<typeof cleanupModel> {
  return cleanupModel(model, { promote_constants: true, constant_folding: true, remove_identity: false, fold_batch_norm: false }, false, 'weights');
}

export async function prepareForQuantization(input: Model, pass: string, want: PrepareOptions, ctx: PassContext): Promise<Model> {
  let model = input;
  const from = opsetVersion(model);
  const preferred = want.preferred ?? want.required;
  if (from < preferred) {
    try {
      const up = await upgradeOpset(model);
      const rewritten = Object.entries(up.rewritten).map(([op, n]) => `${op} ${n}`).join(', ');
      ctx.log(`${pass}: upgraded the model from opset ${from} to ${up.to} first${rewritten ? ` (rewrote ${rewritten})` : ''}`);
      model = up.model;
    } catch (err) {
      if (from < want.required) throw new ModelGateError(`pass '${pass}' needs opset ${want.required} or later; ${errorMessage(err)}`, { cause: err });
      ctx.log(`${pass}: kept opset ${from} (${errorMessage(err)})`);
    }
  }
  if (want.exposeWeights === false) return model;
  const { model: exposed, counts } = await exposeWeights(model);
  if (counts.promoted + counts.folded > 0) {
    ctx.log(`${pass}: ${counts.promoted} Constant nodes and ${counts.folded} constant expressions became initializers first`);
  }
  return exposed;
}

/**
 * The mean error int8 weights put on each output channel, (W − Ŵ)·E[x], with E[x] the input's mean per
 * channel: what bias correction adds to the bias (Nagel et al. 2019, "Data-Free Quantization Through Weight
 * Equalization and Bias Correction", ICCV, section 4.2; here E[x] is measured on the calibration samples).
 * It matters where a filter's weights are large and cancel (a depthwise edge filter whose taps sum to about
 * zero): rounding moves that sum, and a flat input region then shifts the whole channel; and through a deep
 * network such shifts add up (weight_only on a MobileNetV2-style detector: most of the error). `values` is the
 * weight as the node reads it (Conv [O, I/group, k...], MatMul [K, N], Gemm [K, N] or [N, K] with transB),
 * `rounded` its int8 version dequantized, `mean` the input's mean per channel (Conv: NCHW axis 1; else the last
 * axis). Null when the input's channels do not match the weight.
 */
export function biasShift(node: onnx.INodeProto, values: Float32Array, dims: readonly number[], rounded: Float32Array, mean: Float64Array): Float64Array | null {
  if (node.opType === 'Conv') {
    const group = getIntAttr(node, 'group', 1);
    const [outC, perGroup] = [dims[0]!, dims[1]!];
    if (perGroup * group !== mean.length || outC % group !== 0) return null;
    const kernel = values.length / (outC * perGroup);
    const shift = new Float64Array(outC);
    for (let o = 0; o < outC; o++) {
      const g = Math.floor(o / (outC / group));
      let sum = 0;
      for (let i = 0; i < perGroup; i++) {
        let err = 0;
        for (let k = 0, at = (o * perGroup + i) * kernel; k < kernel; k++, at++) err += values[at]! - rounded[at]!;
        sum += err * mean[g * perGroup + i]!;
      }
      shift[o] = sum;
    }
    return shift;
  }
  // Gemm/MatMul: [K, N], or [N, K] for Gemm with transB.
  if (dims.length !== 2) return null;
  const transposed = node.opType === 'Gemm' && getIntAttr(node, 'transB', 0) !== 0;
  const [n, k] = transposed ? [dims[0]!, dims[1]!] : [dims[1]!, dims[0]!];
  if (k !== mean.length) return null;
  const shift = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let sum = 0;
    for (let i = 0; i < k; i++) {
      const at = transposed ? j * k + i : i * n + j;
      sum += (values[at]! - rounded[at]!) * mean[i]!;
    }
    shift[j] = sum;
  }
  return shift;
}
