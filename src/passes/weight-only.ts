/**
 * The 'weight_only' pass: large float weights are stored as int8 plus a per-channel scale, and a
 * DequantizeLinear node rebuilds the float tensor under its original name. The file shrinks to about a
 * quarter; compute stays float.
 *
 * Speed depends on a session option, so the pass declares it: by default ORT keeps DequantizeLinear on
 * weights (waiting for QDQ fusion) and runs it on every inference (up to 2x slower, shared/anchors.md);
 * with 'session.disable_quant_qdq' = '1' ORT constant-folds them at load and runs at fp32 speed.
 */
import { DataType, cloneModel, dimsOf, encodeModel, type Model, type onnx } from '../model/onnx.js';
import { makeTensor, tensorToFloat32 } from '../model/tensor.js';
import {
  NameAllocator, checkModel, dropInitializerInputs, getFloatAttr, getIntAttr, initializerMap, intAttr, makeNode, opsetVersion,
  removeInitializer, setInitializer, sortGraph,
} from '../model/graph.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { Pass, PassContext } from './pass.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { allGraphs, biasShift, dequantizeWeight, nodeKey, prepareForQuantization, quantizeWeight, sinkConstantChains, weightTensors, type QuantType } from './quant-common.js';
import { calibrate } from './calibrate.js';
import { createHash } from 'node:crypto';

export interface WeightOnlyOptions {
  min_elements?: number;
  per_channel?: boolean;
  weight_type?: QuantType;
  symmetric?: boolean;
  /** Only weights that these op types read (all readers must match). Default: any reader. */
  op_types?: string[];
  /**
   * Nodes (name, else first output; If/Loop/Scan bodies included) whose weights stay float32: a weight any of
   * them reads is not quantized. The auto search's repair for weights whose int8 rounding costs the most fidelity.
   */
  nodes_exclude?: string[];
  /**
   * Finer scales: one per `block_size` consecutive weights of an output channel (fewer when the channel's
   * size has no such divisor; at least half of it, else that weight keeps one scale per channel). For
   * weights whose channel is their first axis (Conv, Gemm with transB): stored as [rows, block] behind a
   * per-row DequantizeLinear and a Reshape, which ORT folds at load like the rest (opset 13, no blocked
   * DequantizeLinear of opset 21 needed). Per-channel scales fail where a few large weights set each
   * channel's scale and round the rest to a coarse grid.
   */
  block_size?: number;
  /**
   * Add to the bias of each Conv/Gemm whose weight was quantized the mean error the rounding puts on its output,
   * (W − Ŵ)·E[x], with E[x] the node's input mean per channel on calibration samples (biasShift in
   * quant-common.ts). Default true; MatMul has no bias to correct.
   */
  bias_correction?: boolean;
  /** Calibration samples for bias correction's input means. Default 32 (on M-LSD 4 samples gave 20.9 dB, 16 to 64 gave 21.3). */
  samples?: number;
}

export const weightOnlySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    min_elements: { type: 'integer', minimum: 1 },
    per_channel: { type: 'boolean' },
    weight_type: { enum: ['int8', 'uint8'] },
    symmetric: { type: 'boolean' },
    op_types: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
    nodes_exclude: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
    block_size: { type: 'integer', minimum: 2 },
    bias_correction: { type: 'boolean' },
    samples: { type: 'integer', minimum: 1, maximum: 100000 },
  },
} as const;

export const WEIGHT_ONLY_RUNTIME: RuntimeOptions = { configEntries: { 'session.disable_quant_qdq': '1' } };

/** The output-channel axis of a weight, from how its readers use it; axis 0 when they disagree. */
export function channelAxis(readers: onnx.INodeProto[], name: string, rank: number): number {
  const axes = new Set(
    readers.map((n) => {
      const slot = (n.input ?? []).indexOf(name);
      if (slot !== 1 || rank < 2) return 0;
      if (n.opType === 'MatMul') return rank - 1;
      if (n.opType === 'Gemm') return getIntAttr(n, 'transB', 0) !== 0 ? 0 : 1;
      return 0;
    }),
  );
  return axes.size === 1 ? [...axes][0]! : 0;
}

/** Tensor name → the nodes that read it directly, in this graph or any body nested in it (names are unique across scopes). */
export function directReaders(graph: onnx.IGraphProto, into = new Map<string, onnx.INodeProto[]>()): Map<string, onnx.INodeProto[]> {
  for (const node of graph.node ?? []) {
    for (const name of new Set(node.input ?? [])) {
      if (!name) continue;
      const list = into.get(name);
      if (list) list.push(node);
      else into.set(name, [node]);
    }
    for (const a of node.attribute ?? []) for (const g of a.g ? [a.g] : a.graphs ?? []) directReaders(g, into);
  }
  return into;
}

/** The block length for a channel of `inner` weights: the largest divisor ≤ `size`, if at least half of it; null when per channel is as fine. */
export function blockLength(inner: number, size: number): number | null {
  if (inner <= size) return null;
  for (let d = size; d >= Math.ceil(size / 2); d--) if (inner % d === 0) return d;
  return null;
}

export async function quantizeWeightsOnly(input: Model, options: WeightOnlyOptions, ctx: PassContext): Promise<Model> {
  // DequantizeLinear exists from 10; its per-channel form from 13.
  const prepared = await prepareForQuantization(input, 'weight_only', { required: 10, preferred: options.per_channel ?? true ? 13 : 10 }, ctx);
  const model = prepared === input ? cloneModel(input) : prepared;
  dropInitializerInputs(model);
  const main = model.graph!;
  sortGraph(main);
  const opset = opsetVersion(model);
  let perChannel = options.per_channel ?? true;
  if (perChannel && opset < 13) {
    ctx.log(`weight_only: opset ${opset} has no per-channel DequantizeLinear (needs 13); weights are quantized per tensor`);
    perChannel = false;
  }
  const minElements = options.min_elements ?? 1024;
  const weightType = options.weight_type ?? 'int8';
  const symmetric = options.symmetric ?? true;
  const readersOf = directReaders(main);
  const excluded = new Set(options.nodes_exclude ?? []);
  if (excluded.size > 0) {
    const keys = new Set([...allGraphs(main)].flatMap((g) => (g.node ?? []).map(nodeKey)));
    for (const name of excluded) {
      if (!keys.has(name)) throw new ModelGateError(`pass 'weight_only': option 'nodes_exclude' names '${name}', which is not a node of the model`);
    }
  }
  // Bias correction needs the float model's input means of the Conv/Gemm nodes that may get a quantized
  // weight: measured now, before the rewrite.
  const correctable = (options.bias_correction ?? true) ? biasCorrectable(model, minElements) : [];
  const means = correctable.length > 0 ? await inputMeans(model, correctable, options.samples ?? BIAS_SAMPLES, ctx) : new Map<string, Float64Array>();
  const rounded = new Map<string, { values: Float32Array; dims: number[]; rounded: Float32Array }>();
  let kept = 0, blocked = 0;
  const names = new NameAllocator(main);
  let quantized = 0, before = 0, after = 0, graphs = 0;
  // Each graph's own initializers get their DequantizeLinear in that graph: If/Loop/Scan bodies keep theirs.
  for (const graph of allGraphs(main)) {
    const graphOutputs = new Set((graph.output ?? []).map((o) => o.name));
    const dqNodes: onnx.INodeProto[] = [];
    for (const t of [...(graph.initializer ?? [])]) {
      if (t.dataType !== DataType.FLOAT || graphOutputs.has(t.name)) continue;
      const dims = dimsOf(t);
      if (dims.reduce((a, b) => a * b, 1) < minElements) continue;
      const readers = readersOf.get(t.name!) ?? [];
      if (readers.length === 0) continue;
      if (options.op_types && !readers.every((r) => options.op_types!.includes(r.opType ?? ''))) continue;
      if (readers.some((r) => excluded.has(nodeKey(r)))) {
        kept++;
        continue;
      }
      const values = tensorToFloat32(t);
      const axis = perChannel && dims.length > 0 ? channelAxis(readers, t.name!, dims.length) : null;
      const base = t.name!;
      const block = options.block_size && axis === 0 && dims.length >= 2 ? blockLength(values.length / dims[0]!, options.block_size) : null;
      const stored = block ? [values.length / block, block] : dims;
      const q = quantizeWeight(values, stored, weightType, symmetric, block ? 0 : axis);
      if (graph === main && means.size > 0) rounded.set(base, { values, dims, rounded: dequantizeWeight(q, stored) });
      const w = weightTensors({ q: names.next(`${base}_quantized`), scale: names.next(`${base}_scale`), zp: names.next(`${base}_zero_point`) }, stored, q);
      removeInitializer(graph, base);
      for (const x of [w.q, w.scale, w.zp]) setInitializer(graph, x);
      const attributes = block || axis !== null ? [intAttr('axis', block ? 0 : axis!)] : [];
      // The weight's name ends the chain (DequantizeLinear, or Reshape after a blocked one): no reader changes.
      const dqOut = block ? names.next(`${base}_blocks`) : base;
      dqNodes.push(makeNode('DequantizeLinear', [w.q.name, w.scale.name, w.zp.name], [dqOut], { name: names.next(`${base}_DequantizeLinear`), attributes }));
      if (block) {
        const shape = makeTensor(names.next(`${base}_shape`), [dims.length], BigInt64Array.from(dims, (d) => BigInt(d)));
        setInitializer(graph, shape);
        dqNodes.push(makeNode('Reshape', [dqOut, shape.name], [base], { name: names.next(`${base}_Reshape`) }));
        blocked++;
      }
      before += values.length * 4;
      after += values.length + q.scales.length * 5;
    }
    if (dqNodes.length === 0) continue;
    quantized += dqNodes.length;
    if (graph !== main) graphs++;
    graph.node = [...dqNodes, ...(graph.node ?? [])];
    sortGraph(graph);
  }
  const corrected = correctBiases(main, correctable, rounded, means, names);
  // Dequantizing chains only bodies read go into those bodies, so onnxruntime folds each weight where its kernel is.
  const sunk = sinkConstantChains(main);
  const where = graphs > 0 ? ` (${graphs} of them in subgraphs)` : '';
  const float =
    (blocked > 0 ? `; ${blocked} with a scale per block of ${options.block_size}` : '') +
    (kept > 0 ? `; ${kept} left in float (nodes_exclude)` : '');
  const correction = (corrected > 0 ? `; bias correction on ${corrected} node${corrected > 1 ? 's' : ''}` : '') + (sunk > 0 ? `; ${sunk} dequantizing chain${sunk > 1 ? 's' : ''} moved into the body that reads ${sunk > 1 ? 'each' : 'it'}` : '');
  ctx.log(
    `weight_only: ${quantized} weights to ${weightType}${perChannel ? ' per channel' : ''}${where}${float} (${(before / 1024).toFixed(0)} KiB → ${(after / 1024).toFixed(0)} KiB)${correction}; ` +
      `needs session option session.disable_quant_qdq=1 to run at float speed`,
  );
  ctx.note?.(
    quantized > 0,
    quantized > 0
      ? `${quantized} weights stored as ${weightType}${where}${float}${correction}`
      : `no float32 initializer with at least ${minElements} elements${options.op_types ? ` read only by ${options.op_types.join('/')}` : ''}`,
  );
  checkModel(model, 'weight_only output');
  return model;
}

/** Calibration samples bias correction averages its input means over by default. */
export const BIAS_SAMPLES = 32;

/**
 * Main-graph Conv and Gemm (transA=0) nodes whose weight weight_only may quantize (a float32 initializer of at
 * least `minElements`), reading a computed input, with a 1-D float32 initializer bias (Gemm: [N] or [1, N])
 * that can take the correction.
 */
function biasCorrectable(model: Model, minElements: number): onnx.INodeProto[] {
  const graph = model.graph!;
  const inits = initializerMap(graph);
  const isFloat = (name: string | undefined, min: number): onnx.ITensorProto | undefined => {
    const t = name ? inits.get(name) : undefined;
    return t && t.dataType === DataType.FLOAT && dimsOf(t).reduce((a, b) => a * b, 1) >= min ? t : undefined;
  };
  return (graph.node ?? []).filter((n) => {
    if ((n.domain ?? '') !== '' || (n.opType !== 'Conv' && n.opType !== 'Gemm')) return false;
    if (n.opType === 'Gemm' && getIntAttr(n, 'transA', 0) !== 0) return false;
    const x = n.input?.[0] ?? '';
    const w = isFloat(n.input?.[1], minElements);
    if (!x || inits.has(x) || !w) return false;
    const out = n.opType === 'Conv' || getIntAttr(n, 'transB', 0) !== 0 ? dimsOf(w)[0]! : dimsOf(w)[1]!;
    // Only nodes with a bias: adding one would grow the file for what is often a small gain.
    const bias = isFloat(n.input?.[2], 0);
    const dims = bias ? dimsOf(bias) : [];
    return !!bias && dims.reduce((a, c) => a * c, 1) === out && (dims.length === 1 || (n.opType === 'Gemm' && dims.length === 2 && dims[0] === 1));
  });
}

/** Each node's input mean per channel (Conv: NCHW axis 1, Gemm: the last axis), kept in ctx.memo per model and samples. */
async function inputMeans(model: Model, nodes: onnx.INodeProto[], samples: number, ctx: PassContext): Promise<Map<string, Float64Array>> {
  const axes = new Map(nodes.map((n) => [n.input![0]!, n.opType === 'Conv' ? 1 : -1]));
  const memo = ctx.memo;
  const base = memo ? `weight_only|means|${createHash('sha256').update(encodeModel(model)).digest('hex')}|${samples}|` : '';
  const key = (t: string): string => `${base}${axes.get(t)}|${t}`;
  const missing = new Map([...axes].filter(([t]) => !memo?.has(key(t))));
  const out = new Map<string, Float64Array>();
  if (missing.size > 0) {
    let means: Map<string, Float64Array>;
    try {
      const feeds = await ctx.calibration(samples);
      if (feeds.length === 0) throw new ModelGateError('no calibration samples');
      ({ means } = await calibrate(model, [], feeds, { method: 'minmax', means: missing }));
    } catch (err) {
      // The correction refines the int8 weights; without samples to measure them on, they stay as they are.
      ctx.log(`weight_only: no bias correction (${errorMessage(err)})`);
      return new Map();
    }
    for (const [t, m] of means) {
      memo?.set(key(t), m);
      out.set(t, m);
    }
  }
  for (const t of axes.keys()) if (!out.has(t)) out.set(t, memo!.get(key(t)) as Float64Array);
  return out;
}

/** Adds biasShift to the bias of every correctable node whose weight was quantized; returns how many changed. */
function correctBiases(
  graph: onnx.IGraphProto,
  nodes: onnx.INodeProto[],
  rounded: ReadonlyMap<string, { values: Float32Array; dims: number[]; rounded: Float32Array }>,
  means: ReadonlyMap<string, Float64Array>,
  names: NameAllocator,
): number {
  const readers = directReaders(graph);
  const inits = initializerMap(graph);
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  let corrected = 0;
  for (const node of nodes) {
    const w = rounded.get(node.input![1]!);
    const mean = means.get(node.input![0]!);
    if (!w || !mean) continue;
    const shift = biasShift(node, w.values, w.dims, w.rounded, mean);
    if (!shift) continue;
    // Gemm computes alpha·A·B + beta·C: the shift is alpha's, C carries it divided by beta.
    const gain = node.opType === 'Gemm' ? getFloatAttr(node, 'alpha', 1) / getFloatAttr(node, 'beta', 1) : 1;
    const biasName = node.input![2]!;
    const bias = inits.get(biasName);
    if (!bias) continue; // quantized itself meanwhile (a bias of min_elements or more)
    const values = tensorToFloat32(bias).map((v, c) => v + gain * shift[c]!);
    // A bias other readers share (or a graph output) keeps its values: this node gets its own copy.
    const own = (readers.get(biasName) ?? []).length === 1 && !outputs.has(biasName);
    const name = own ? biasName : names.next(`${biasName}_corrected`);
    setInitializer(graph, makeTensor(name, dimsOf(bias), values));
    node.input![2] = name;
    corrected++;
  }
  return corrected;
}

export const weightOnlyPass: Pass<WeightOnlyOptions> = {
  name: 'weight_only',
  schema: weightOnlySchema,
  run: quantizeWeightsOnly,
  runtimeOptions: () => structuredClone(WEIGHT_ONLY_RUNTIME),
};
