/**
 * The 'cleanup' pass: graph simplifications that keep the function (up to float rounding).
 * - promote Constant nodes to initializers (so the other passes see their weights);
 * - fold BatchNormalization into the Conv or Gemm before it;
 * - fuse chains one node computes: Conv → Mul/Add by per-channel constants, Pad → Conv, Relu → Clip, Sum of two
 *   (src/passes/cleanup-fuse.ts);
 * - remove Identity and inference-mode Dropout;
 * - fold Shape of a fully known shape, and nodes whose inputs are all constants, evaluated by onnxruntime itself,
 *   when the result is no larger than what it replaces (the file never grows; FoldGrowth);
 * - all of it inside If/Loop/Scan bodies too, which see the enclosing graphs' constants;
 * - drop dead nodes and unused initializers.
 * Exporters leave these behind (Keras and PyTorch exports especially); ORT does some of it at load, but
 * doing it in the file makes the other passes see real weights and makes the file smaller.
 */
import { createHash } from 'node:crypto';
import { DataType, bytesPerElement, cloneModel, dimsOf, encodeModel, onnx, type Model } from '../model/onnx.js';
import { makeTensor, tensorBytes, tensorToFloat32 } from '../model/tensor.js';
import {
  NameAllocator, checkModel, consumerMap, dropInitializerInputs, getFloatAttr, getIntAttr, initializerMap, nodeBodies, nodeInputs, producerMap,
  opsetVersion, removeUnusedInitializers, setInitializer, sortGraph,
} from '../model/graph.js';
import { OrtSession } from '../runtime/session.js';
import { inferTensorTypes, type TensorTypeInfo } from './infer-types.js';
import { fuseOps } from './cleanup-fuse.js';
import type { Pass, PassContext } from './pass.js';

export interface CleanupOptions {
  promote_constants?: boolean;
  fold_batch_norm?: boolean;
  remove_identity?: boolean;
  constant_folding?: boolean;
  fuse?: boolean;
}

export const cleanupSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    promote_constants: { type: 'boolean' },
    fold_batch_norm: { type: 'boolean' },
    remove_identity: { type: 'boolean' },
    constant_folding: { type: 'boolean' },
    fuse: { type: 'boolean' },
  },
} as const;

type IGraph = onnx.IGraphProto;
type INode = onnx.INodeProto;

/** Constant (tensor or scalar/list forms) → initializer named after its output (this graph only). */
export function promoteConstants(graph: IGraph): number {
  let n = 0;
  const kept: INode[] = [];
  const inits = (graph.initializer ??= []);
  const slot = new Map(inits.map((t, i) => [t.name, i]));
  for (const node of graph.node ?? []) {
    const out = node.output?.[0];
    const tensor = node.opType === 'Constant' && (node.domain ?? '') === '' && out ? constantValue(node, out) : undefined;
    if (tensor) {
      // Replaces in place by name, as setInitializer does, without its linear search per Constant.
      const i = slot.get(tensor.name);
      if (i !== undefined) inits[i] = tensor;
      else slot.set(tensor.name, inits.push(tensor) - 1);
      n++;
    } else {
      kept.push(node);
    }
  }
  graph.node = kept;
  return n;
}

function constantValue(node: INode, name: string): onnx.ITensorProto | undefined {
  const attr = (node.attribute ?? [])[0];
  if (!attr || (node.attribute ?? []).length !== 1) return undefined;
  switch (attr.name) {
    case 'value':
      return attr.t ? onnx.TensorProto.create({ ...attr.t, name }) : undefined;
    case 'value_float':
      return makeTensor(name, [], Float32Array.of(attr.f ?? 0));
    case 'value_floats':
      return makeTensor(name, [attr.floats?.length ?? 0], Float32Array.from(attr.floats ?? []));
    case 'value_int':
      return makeTensor(name, [], BigInt64Array.of(BigInt(String(attr.i ?? 0))));
    case 'value_ints':
      return makeTensor(name, [attr.ints?.length ?? 0], BigInt64Array.from((attr.ints ?? []).map((v) => BigInt(String(v)))));
    default:
      return undefined; // sparse_value and strings stay as they are
  }
}

/** Applies `rename` to every node input of the graph and its subgraphs, and to subgraph outputs (which may name outer tensors). */
function renameReads(graph: IGraph, rename: (name: string) => string, isSubgraph = false): void {
  for (const n of graph.node ?? []) {
    if (n.input) for (let i = 0; i < n.input.length; i++) if (n.input[i]) n.input[i] = rename(n.input[i]!);
    for (const a of n.attribute ?? []) for (const sg of a.g ? [a.g] : a.graphs ?? []) renameReads(sg, rename, true);
  }
  if (isSubgraph) for (const o of graph.output ?? []) if (o.name) o.name = rename(o.name);
}

function isDropoutInInference(node: INode, inits: Map<string, onnx.ITensorProto>, read: ReadonlySet<string>): boolean {
  const mask = node.output?.[1];
  if (mask && read.has(mask)) return false;
  const training = node.input?.[2];
  if (!training) return true;
  const t = inits.get(training);
  return !!t && tensorToFloat32(t)[0] === 0;
}

/**
 * Identity, and Dropout in inference mode (no mask output used, training_mode absent or a false constant).
 * Linear in the graph size: readers are redirected through one alias table resolved at the end, instead of
 * rewriting the graph once per removed node (a 100,000-node Identity chain took minutes that way).
 */
export function removeIdentities(graph: IGraph, outerConstants: ReadonlyMap<string, onnx.ITensorProto> = new Map()): number {
  const inits = new Map([...outerConstants, ...initializerMap(graph)]);
  const graphInputs = new Set((graph.input ?? []).map((v) => v.name));
  const graphOutputs = new Set((graph.output ?? []).map((v) => v.name));
  const producers = producerMap(graph);
  const read = new Set<string>(graphOutputs as Set<string>);
  for (const n of graph.node ?? []) for (const i of nodeInputs(n)) read.add(i);
  const alias = new Map<string, string>();
  const resolve = (name: string): string => {
    let target = name;
    while (alias.has(target)) target = alias.get(target)!;
    // Path compression keeps long chains linear overall.
    for (let n = name; n !== target; ) {
      const next = alias.get(n)!;
      alias.set(n, target);
      n = next;
    }
    return target;
  };
  const removed = new Set<INode>();
  for (const node of graph.node ?? []) {
    if ((node.domain ?? '') !== '') continue;
    if (node.opType === 'Dropout') {
      if (!isDropoutInInference(node, inits, read)) continue;
    } else if (node.opType !== 'Identity') {
      continue;
    }
    const dst = node.output?.[0];
    if (!node.input?.[0] || !dst) continue;
    const src = resolve(node.input[0]);
    if (!graphOutputs.has(dst)) {
      alias.set(dst, src);
    } else if (!graphInputs.has(src) && !inits.has(src) && !graphOutputs.has(src) && producers.has(src)) {
      // The output keeps its name: the producer writes it directly.
      const producer = producers.get(src)!;
      producer.output = producer.output!.map((o) => (o === src ? dst : o));
      producers.set(dst, producer);
      alias.set(src, dst);
    } else {
      continue;
    }
    removed.add(node);
  }
  if (removed.size === 0) return 0;
  graph.node = graph.node!.filter((n) => !removed.has(n));
  renameReads(graph, resolve);
  return removed.size;
}

/**
 * BatchNormalization (inference form) right after a Conv or Gemm whose weights are initializers:
 * y = γ (x − μ) / √(σ² + ε) + β folds into the weights (scaled per output channel) and the bias.
 */
export function foldBatchNorms(graph: IGraph, outerConstants: ReadonlyMap<string, onnx.ITensorProto> = new Map(), names = new NameAllocator(graph)): number {
  let folded = 0;
  // The maps are built once and kept current: one rebuild per BatchNormalization was quadratic.
  const inits = new Map([...outerConstants, ...initializerMap(graph)]);
  const producers = producerMap(graph);
  const consumers = consumerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((v) => v.name));
  const removed = new Set<INode>();
  for (const bn of graph.node ?? []) {
    if (bn.opType !== 'BatchNormalization' || (bn.domain ?? '') !== '' || (bn.output ?? []).filter((o) => o).length !== 1) continue;
    if (getIntAttr(bn, 'training_mode', 0) !== 0) continue;
    const x = bn.input![0]!;
    const op = producers.get(x);
    if (!op || (op.domain ?? '') !== '' || (op.opType !== 'Conv' && op.opType !== 'Gemm')) continue;
    if ((consumers.get(x) ?? []).length !== 1 || graphOutputs.has(x)) continue;
    const params = bn.input!.slice(1, 5).map((n) => inits.get(n));
    const w = inits.get(op.input?.[1] ?? '');
    if (params.some((p) => !p || p.dataType !== DataType.FLOAT) || !w || w.dataType !== DataType.FLOAT) continue;
    const [gamma, beta, mean, variance] = params.map((p) => tensorToFloat32(p!)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = getFloatAttr(bn, 'epsilon', 1e-5);
    const channels = gamma.length;
    const wDims = dimsOf(w);
    const wValues = tensorToFloat32(w);
    let bias: Float32Array;
    const biasName = op.input?.[2];
    if (biasName) {
      const b = inits.get(biasName);
      if (!b || b.dataType !== DataType.FLOAT || tensorToFloat32(b).length !== channels) continue;
      bias = tensorToFloat32(b);
    } else {
      bias = new Float32Array(channels);
    }
    // Output channel c of the weight: Conv [M, ...] rows; Gemm transB=1 [N, K] rows; Gemm transB=0 [K, N] columns.
    let channelOf: (i: number) => number;
    if (op.opType === 'Conv') {
      if (wDims[0] !== channels) continue;
      const inner = wValues.length / channels;
      channelOf = (i) => Math.floor(i / inner);
    } else {
      if (getIntAttr(op, 'transA', 0) !== 0 || wDims.length !== 2) continue;
      const transB = getIntAttr(op, 'transB', 0) !== 0;
      if ((transB ? wDims[0] : wDims[1]) !== channels) continue;
      const alpha = getFloatAttr(op, 'alpha', 1);
      const beta2 = getFloatAttr(op, 'beta', 1);
      if (alpha !== 1 || (biasName && beta2 !== 1)) continue;
      const cols = wDims[1]!;
      channelOf = transB ? (i) => Math.floor(i / cols) : (i) => i % cols;
    }
    const scale = Float32Array.from(gamma, (g, c) => g / Math.sqrt(variance[c]! + eps));
    const newW = Float32Array.from(wValues, (v, i) => v * scale[channelOf(i)]!);
    const newB = Float32Array.from(bias, (b, c) => (b - mean[c]!) * scale[c]! + beta[c]!);
    // New initializers: the originals may be shared with other nodes (the unused ones go at the end).
    const wName = names.next(`${op.input![1]}_bn_folded`);
    const bName = names.next(biasName ? `${biasName}_bn_folded` : `${op.output![0]}_bias`);
    const [wTensor, bTensor] = [makeTensor(wName, wDims, newW), makeTensor(bName, [channels], newB)];
    (graph.initializer ??= []).push(wTensor, bTensor);
    inits.set(wName, wTensor);
    inits.set(bName, bTensor);
    op.input = [op.input![0]!, wName, bName];
    op.output = [bn.output![0]!];
    producers.set(bn.output![0]!, op);
    removed.add(bn);
    folded++;
  }
  if (removed.size > 0) graph.node = graph.node!.filter((n) => !removed.has(n));
  return folded;
}

/**
 * Ops never folded: intentional quantization structure, randomness, control flow, or outputs that can be far
 * larger than their inputs (ConstantOfShape is folded only when its shape is known and the result is capped).
 */
const NO_FOLD = new Set([
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike',
  'Multinomial', 'Bernoulli', 'Expand', 'Tile', 'Range', 'If', 'Loop', 'Scan', 'Constant', 'EyeLike',
]);

/** Inputs that hold weights: with `exposeWeights`, a folded tensor read there is stored even when it is larger than its sources. */
const WEIGHT_SLOTS: Record<string, readonly number[]> = {
  MatMul: [1], Gemm: [1, 2], Conv: [1, 2], ConvTranspose: [1, 2], LSTM: [1, 2, 3], GRU: [1, 2, 3], RNN: [1, 2, 3],
};

/** Largest folded tensor stored when it grows the file (a weight, `exposeWeights` only); anything else folds only up to 64 KiB or its sources' size. */
export const MAX_FOLDED_WEIGHT_BYTES = 256 * 2 ** 20;
const SMALL_FOLD_BYTES = 64 * 1024;

/**
 * How much a fold may grow the file.
 * - 'none' (the cleanup pass, lossless): a folded tensor is stored only when it is no larger than what it
 *   replaces, the constants it is computed from plus the encoded nodes that compute it. A ConstantOfShape of
 *   zeros, a Cast of an fp16 weight to float, a broadcast are left as the small expressions they are.
 *   Other folders bound this too: the onnxscript optimizer refuses to fold an output above 256 KiB
 *   (output_size_limit=262144, https://microsoft.github.io/onnxscript/tutorial/optimizer/optimize.html) and
 *   OpenVINO's ConstantFolding lets the weights grow by at most 1024 bytes per fold (openvinotoolkit/openvino
 *   PR #25239); for a file-size gate the stricter rule, no growth at all, is the one that fits.
 * - 'weights' (the quantizers, which replace the weights right after): a tensor read as a weight is stored up
 *   to MAX_FOLDED_WEIGHT_BYTES, anything else up to 64 KiB or its sources' size, so that they see every weight.
 */
export type FoldGrowth = 'none' | 'weights';

function constantOfShapeBytes(node: INode, inits: ReadonlyMap<string, onnx.ITensorProto>): number | undefined {
  const shape = inits.get(node.input?.[0] ?? '');
  if (!shape) return undefined;
  const count = Array.from(tensorToFloat32(shape)).reduce((a, b) => a * b, 1);
  const value = (node.attribute ?? []).find((a) => a.name === 'value')?.t;
  return count * (bytesPerElement(value?.dataType ?? DataType.FLOAT) ?? 8);
}

type HostValue = Awaited<ReturnType<OrtSession['run']>>[string];

/** Runs `nodes` (constant inputs only) in onnxruntime and returns the `outputs` asked for. */
async function evaluateNodes(model: Model, nodes: INode[], inits: ReadonlyMap<string, onnx.ITensorProto>, outputs: string[]): Promise<Record<string, HostValue>> {
  const needed = new Set(nodes.flatMap((n) => nodeInputs(n)));
  const probe = onnx.ModelProto.create({
    irVersion: model.irVersion,
    opsetImport: model.opsetImport,
    graph: {
      name: 'constant_folding',
      node: nodes,
      initializer: [...inits.values()].filter((t) => needed.has(t.name!)),
      output: outputs.map((name) => onnx.ValueInfoProto.create({ name })),
    },
  });
  const session = await OrtSession.create(encodeModel(probe), { graphOptimizationLevel: 'disabled' }, 'constant folding');
  try {
    return await session.run({}, outputs);
  } finally {
    await session.release();
  }
}

/**
 * The first of the foldable nodes (in graph order) whose evaluation fails. A constant expression may be one
 * that never runs: a Gather with an index out of range in the If branch the model's inputs never take (an
 * export specialised to one sample rate keeps the other rate's branch), a Div by a zero the other branch guards
 * against. A prefix of the sorted nodes is closed under their inputs, so a binary search over prefixes finds
 * it in log2(n) evaluations. Called once all of them together have failed.
 */
async function firstFailingNode(model: Model, nodes: INode[], inits: ReadonlyMap<string, onnx.ITensorProto>): Promise<INode> {
  const fails = async (count: number): Promise<boolean> => {
    const prefix = nodes.slice(0, count);
    const outs = prefix.flatMap((n) => (n.output ?? []).filter((o) => o));
    try {
      await evaluateNodes(model, prefix, inits, outs);
      return false;
    } catch {
      return true;
    }
  };
  // Invariant: the first `lo` nodes run, the first `hi` fail.
  let lo = 0;
  let hi = nodes.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (await fails(mid)) hi = mid;
    else lo = mid;
  }
  return nodes[hi - 1]!;
}

/** Constant expressions left unevaluated in one graph before its folding is given up (each costs log2(n) evaluations). */
const MAX_FAILING_FOLDS = 16;

/**
 * Nodes whose inputs are all constants (this graph's initializers, or the enclosing graphs' for a subgraph
 * body) are evaluated by onnxruntime on a small model made of just them, and the tensors the rest of the
 * graph reads become initializers of this graph. ORT rather than our own kernels: it is exact for every op
 * and version, and it is the runtime the model is measured on. Which results are stored depends on `growth`
 * (FoldGrowth); an expression whose evaluation fails is left in the graph as it is.
 */
export async function foldConstants(
  model: Model, graph: IGraph = model.graph!, outerConstants: ReadonlyMap<string, onnx.ITensorProto> = new Map(), growth: FoldGrowth = 'none',
  excluded: ReadonlySet<INode> = new Set(),
): Promise<number> {
  const inits = new Map([...outerConstants, ...initializerMap(graph)]);
  const graphInputs = new Set((graph.input ?? []).map((v) => v.name));
  const constant = new Set<string>([...inits.keys()].filter((n) => !graphInputs.has(n)));
  const foldable: INode[] = [];
  for (const node of graph.node ?? []) {
    if ((node.domain ?? '') !== '' || NO_FOLD.has(node.opType ?? '') || excluded.has(node)) continue;
    if ((node.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0)) continue;
    const ins = nodeInputs(node);
    if (node.opType === 'ConstantOfShape') {
      const bytes = constantOfShapeBytes(node, inits);
      if (bytes === undefined || bytes > MAX_FOLDED_WEIGHT_BYTES) continue;
    } else if (ins.length === 0) {
      continue;
    }
    if (!ins.every((i) => constant.has(i))) continue;
    foldable.push(node);
    for (const o of node.output ?? []) if (o) constant.add(o);
  }
  if (foldable.length === 0) return 0;
  const folded = new Set(foldable);
  const outsideReaders = new Set<string>();
  const weightReads = new Set<string>();
  for (const node of graph.node ?? []) {
    if (folded.has(node)) continue;
    for (const i of nodeInputs(node)) outsideReaders.add(i);
    for (const slot of WEIGHT_SLOTS[node.opType ?? ''] ?? []) if (node.input?.[slot]) weightReads.add(node.input[slot]!);
  }
  for (const o of graph.output ?? []) outsideReaders.add(o.name!);
  const frontier = foldable.flatMap((n) => (n.output ?? []).filter((o) => o && outsideReaders.has(o)));
  if (frontier.length === 0) return 0;

  let values: Record<string, HostValue>;
  try {
    values = await evaluateNodes(model, foldable, inits, frontier);
  } catch {
    // Past the cap this graph keeps its constant expressions as they are (still the same function).
    if (excluded.size >= MAX_FAILING_FOLDS) return 0;
    const failing = await firstFailingNode(model, foldable, inits);
    // Without it, the nodes that read its result are not constant any more.
    return foldConstants(model, graph, outerConstants, growth, new Set([...excluded, failing]));
  }
  // What each frontier tensor replaces: the constants it comes from, and (growth 'none') the nodes computing it.
  const producers = producerMap({ node: foldable });
  const replacedBytes = (t: string, withNodes: boolean, seen = new Set<string>(), seenNodes = new Set<INode>()): number => {
    if (seen.has(t)) return 0;
    seen.add(t);
    const init = inits.get(t);
    if (init) return tensorBytes(init);
    const p = producers.get(t);
    if (!p || seenNodes.has(p)) return 0;
    seenNodes.add(p);
    const own = withNodes ? onnx.NodeProto.encode(p).len : 0;
    return nodeInputs(p).reduce((s, i) => s + replacedBytes(i, withNodes, seen, seenNodes), own);
  };
  const keep = new Set<INode>();
  const markAncestors = (t: string): void => {
    const p = producers.get(t);
    if (!p || keep.has(p)) return;
    keep.add(p);
    for (const i of nodeInputs(p)) markAncestors(i);
  };
  const tensors = new Map<string, onnx.ITensorProto>();
  for (const name of frontier) {
    const tensor = hostToTensor(name, values[name]!);
    const bytes = tensor ? tensorBytes(tensor) : Infinity;
    const fits = growth === 'none'
      ? bytes <= replacedBytes(name, true)
      : bytes <= SMALL_FOLD_BYTES || bytes <= replacedBytes(name, false) || (weightReads.has(name) && bytes <= MAX_FOLDED_WEIGHT_BYTES);
    if (!tensor || !fits) markAncestors(name);
    else tensors.set(name, tensor);
  }
  let n = 0;
  for (const [name, tensor] of tensors) {
    // A tensor whose producer must stay (an oversized sibling needs it) stays computed too.
    if (keep.has(producers.get(name)!)) continue;
    (graph.initializer ??= []).push(tensor);
    n++;
  }
  // Kept nodes read only kept nodes and initializers, so every other folded node can go.
  graph.node = (graph.node ?? []).filter((node) => !folded.has(node) || keep.has(node));
  return n;
}

/**
 * Shape of a tensor whose shape is fully known becomes an int64 initializer (then Gather/Concat/Reshape chains fold).
 * A reported shape of [] is not trusted: ORT reports a tensor of unknown rank (a Reshape to a computed shape, say)
 * exactly as it reports a scalar, and folding it as a scalar's empty shape silently drops a dimension downstream.
 */
export function foldStaticShapes(graph: IGraph, types: ReadonlyMap<string, TensorTypeInfo>): number {
  let n = 0;
  const kept: INode[] = [];
  for (const node of graph.node ?? []) {
    const shape = node.opType === 'Shape' && (node.domain ?? '') === '' && (node.attribute ?? []).length === 0 ? types.get(node.input?.[0] ?? '')?.shape : undefined;
    if (shape && shape.length > 0 && shape.every((d) => typeof d === 'number' && d >= 0) && node.output?.[0]) {
      (graph.initializer ??= []).push(makeTensor(node.output[0], [shape.length], BigInt64Array.from(shape as number[], (d) => BigInt(d))));
      n++;
    } else {
      kept.push(node);
    }
  }
  graph.node = kept;
  return n;
}

function hostToTensor(name: string, v: { type: string; dims: number[]; data: unknown }): onnx.TensorProto | undefined {
  const dataType: Record<string, number> = {
    float32: DataType.FLOAT, float64: DataType.DOUBLE, int8: DataType.INT8, uint8: DataType.UINT8, int16: DataType.INT16,
    uint16: DataType.UINT16, int32: DataType.INT32, int64: DataType.INT64, uint32: DataType.UINT32, bool: DataType.BOOL, float16: DataType.FLOAT16,
  };
  const t = dataType[v.type];
  if (t === undefined) return undefined;
  return makeTensor(name, v.dims, v.data as Float32Array, t);
}

/**
 * Removes nodes none of whose outputs is read by a live node or is a graph output. One backward sweep over
 * the topologically sorted graph (a dead chain no longer costs one full pass per link).
 */
export function removeDeadNodes(graph: IGraph): number {
  const nodes = graph.node ?? [];
  const needed = new Set((graph.output ?? []).map((o) => o.name!));
  const alive: boolean[] = new Array(nodes.length).fill(false);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!(n.output ?? []).some((o) => o && needed.has(o))) continue;
    alive[i] = true;
    for (const name of nodeInputs(n)) needed.add(name);
  }
  graph.node = nodes.filter((_, i) => alive[i]);
  return nodes.length - graph.node.length;
}

/** value_info entries for tensors that no longer exist. */
function pruneValueInfo(graph: IGraph): void {
  const live = new Set<string>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) live.add(o);
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => live.has(v.name!));
}

/** Ops whose kernels onnxruntime packs their constant weights for at load (inputs after the first). */
const WEIGHT_KERNELS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'LSTM', 'GRU', 'RNN']);

/** Smallest initializer (encoded bytes) worth sharing between graphs. */
const SHARE_MIN_BYTES = 1024;

/**
 * Byte-identical initializers of If/Loop/Scan bodies become one initializer of the main graph, which every
 * body sees. Folding makes them: a weight stored once in an enclosing graph and reshaped in each branch that
 * reads it (an LSTM weight Unsqueezed in both branches of an If) is folded into each branch, one copy per
 * branch, and the shared original then goes unused. Names are unique model-wide (ONNX graphs are SSA across
 * scopes), so the bodies' reads are renamed to the shared name without any shadowing.
 */
export function shareIdenticalConstants(main: IGraph): number {
  // Only tensors whose type and dims some body's initializer has are hashed (a main graph's weights mostly are not).
  const kindOf = (t: onnx.ITensorProto): string => `${t.dataType}:${dimsOf(t).join('x')}`;
  const bodyKinds = new Set<string>();
  // A weight a body's kernel reads directly stays in the body: read from the main graph it reaches the kernel
  // as an implicit input on every run instead of being packed at load (an LSTM so fed ran ~2% slower,
  // src/runtime/kernels.ts), so sharing it trades speed for size.
  const kernelWeights = new Set<string>();
  const collect = (graph: IGraph, isBody: boolean): void => {
    if (isBody) for (const t of graph.initializer ?? []) bodyKinds.add(kindOf(t));
    for (const node of graph.node ?? []) {
      if (isBody && WEIGHT_KERNELS.has(node.opType ?? '')) for (const i of (node.input ?? []).slice(1)) if (i) kernelWeights.add(i);
      for (const body of nodeBodies(node)) collect(body, true);
    }
  };
  collect(main, false);
  const groups = new Map<string, Array<{ graph: IGraph; tensor: onnx.ITensorProto }>>();
  const visit = (graph: IGraph): void => {
    for (const tensor of graph.initializer ?? []) {
      if (!bodyKinds.has(kindOf(tensor)) || (graph !== main && kernelWeights.has(tensor.name!))) continue;
      const bytes = onnx.TensorProto.encode({ ...tensor, name: '' }).finish();
      if (bytes.length < SHARE_MIN_BYTES) continue;
      const key = createHash('sha256').update(bytes).digest('hex');
      const list = groups.get(key);
      if (list) list.push({ graph, tensor });
      else groups.set(key, [{ graph, tensor }]);
    }
    for (const node of graph.node ?? []) for (const body of nodeBodies(node)) visit(body);
  };
  visit(main);
  const names = new NameAllocator(main);
  let shared = 0;
  for (const members of groups.values()) {
    const inBodies = members.filter((m) => m.graph !== main);
    if (members.length < 2 || inBodies.length === 0) continue;
    const top = members.find((m) => m.graph === main);
    let name = top?.tensor.name;
    if (!name) {
      name = names.next(inBodies[0]!.tensor.name!);
      (main.initializer ??= []).push(onnx.TensorProto.create({ ...inBodies[0]!.tensor, name }));
    }
    for (const { graph, tensor } of inBodies) {
      graph.initializer = graph.initializer!.filter((t) => t !== tensor);
      const from = tensor.name!, to = name;
      renameReads(graph, (n) => (n === from ? to : n), true);
      shared++;
    }
  }
  return shared;
}

export interface CleanupCounts {
  /** Identical initializers of subgraph bodies replaced by one in the main graph. */
  shared: number;
  promoted: number;
  identities: number;
  batchNorms: number;
  /** Per-channel Mul/Div/Add/Sub folded into the Conv before them (cleanup-fuse.ts). */
  fused: number;
  padsFused: number;
  relusFused: number;
  /** Two-input Sum nodes written as Add. */
  sums: number;
  shapes: number;
  folded: number;
  dead: number;
  initializers: number;
  subgraphs: number;
  /** Constant folds left out because, all together, they made the file bigger than the input. */
  foldingUndone: number;
}

/**
 * Cleans one graph, then the If/Loop/Scan bodies inside it, which see this graph's constants as their outer
 * scope (so a body's MatMul reading an outer Transpose of a weight gets a folded weight too). Dead code and
 * unused initializers go last: a body that stops reading an outer tensor frees it.
 */
async function cleanGraph(
  model: Model, graph: IGraph, outer: ReadonlyMap<string, onnx.ITensorProto>, options: CleanupOptions, names: NameAllocator,
  counts: CleanupCounts, growth: FoldGrowth, types?: ReadonlyMap<string, TensorTypeInfo>,
): Promise<void> {
  if (options.promote_constants ?? true) counts.promoted += promoteConstants(graph);
  if (options.remove_identity ?? true) counts.identities += removeIdentities(graph, outer);
  if (options.fold_batch_norm ?? true) counts.batchNorms += foldBatchNorms(graph, outer, names);
  if (options.constant_folding ?? true) {
    if (types) counts.shapes += foldStaticShapes(graph, types);
    counts.folded += await foldConstants(model, graph, outer, growth);
  }
  if (options.fuse ?? true) {
    const f = fuseOps(graph, outer, names, opsetVersion(model));
    counts.fused += f.affine;
    counts.padsFused += f.pads;
    counts.relusFused += f.relus;
    counts.sums += f.sums;
  }
  const visible = new Map([...outer, ...initializerMap(graph)]);
  for (const v of graph.input ?? []) visible.delete(v.name!);
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      for (const body of a.g ? [a.g] : a.graphs ?? []) {
        counts.subgraphs++;
        await cleanGraph(model, body, visible, options, names, counts, growth);
      }
    }
  }
  counts.dead += removeDeadNodes(graph);
  counts.initializers += removeUnusedInitializers(graph);
  pruneValueInfo(graph);
}

/**
 * What cleanup does to a model, without the pass's logging. `growth` 'none' (the pass) never returns a file
 * larger than the input: when the folds together still grow it (one constant read by two folded expressions
 * is stored twice), it is done again without constant folding. The quantizers run it with 'weights' first so
 * that they see every weight (FoldGrowth).
 */
export async function cleanupModel(
  input: Model, options: CleanupOptions = {}, staticShapes = true, growth: FoldGrowth = 'none',
): Promise<{ model: Model; counts: CleanupCounts }> {
  const model = cloneModel(input);
  dropInitializerInputs(model);
  const graph = model.graph!;
  sortGraph(graph);
  const counts: CleanupCounts = { shared: 0, promoted: 0, identities: 0, batchNorms: 0, fused: 0, padsFused: 0, relusFused: 0, sums: 0, shapes: 0, folded: 0, dead: 0, initializers: 0, subgraphs: 0, foldingUndone: 0 };
  const hasShape = staticShapes && (graph.node ?? []).some((n) => n.opType === 'Shape');
  const types = hasShape && (options.constant_folding ?? true) ? await inferTensorTypes(model).catch(() => undefined) : undefined;
  await cleanGraph(model, graph, new Map(), options, new NameAllocator(graph), counts, growth, types);
  if (counts.subgraphs > 0) counts.shared += shareIdenticalConstants(graph);
  sortGraph(graph);
  if (growth === 'none' && (options.constant_folding ?? true) && counts.shapes + counts.folded > 0 && encodeModel(model).length > encodeModel(input).length) {
    const again = await cleanupModel(input, { ...options, constant_folding: false }, staticShapes, growth);
    return { model: again.model, counts: { ...again.counts, foldingUndone: counts.shapes + counts.folded } };
  }
  return { model, counts };
}

export function describeCleanup(c: CleanupCounts): string[] {
  const done: string[] = [];
  const note = (n: number, what: string): void => {
    if (n > 0) done.push(`${n} ${what}`);
  };
  note(c.promoted, 'Constant nodes promoted to initializers');
  note(c.identities, 'Identity/Dropout removed');
  note(c.batchNorms, 'BatchNormalization folded');
  note(c.fused, 'per-channel Mul/Div/Add/Sub folded into a Conv');
  note(c.padsFused, 'Pad folded into a Conv');
  note(c.relusFused, 'Relu merged into the Clip after it');
  note(c.sums, 'two-input Sum written as Add');
  note(c.shapes, 'static Shape nodes folded');
  note(c.folded, 'constant tensors folded');
  note(c.dead, 'dead nodes removed');
  note(c.initializers, 'unused initializers removed');
  note(c.foldingUndone, 'constant folds left out (together they made the file bigger)');
  note(c.shared, 'copies of identical subgraph initializers shared (one main-graph initializer each)');
  return done;
}

export async function cleanup(input: Model, options: CleanupOptions, ctx: PassContext): Promise<Model> {
  const { model, counts } = await cleanupModel(input, options);
  const done = describeCleanup(counts);
  const where = counts.subgraphs > 0 ? ` (main graph and ${counts.subgraphs} subgraphs)` : '';
  ctx.log(`cleanup: ${done.join(', ') || 'nothing to do'}${done.length ? where : ''}`);
  ctx.note?.(done.length > 0, done.length > 0 ? done.join(', ') : 'no Constant node, Identity/Dropout, foldable BatchNormalization, fusable chain, constant expression or dead node');
  checkModel(model, 'cleanup output');
  return model;
}

export const cleanupPass: Pass<CleanupOptions> = {
  name: 'cleanup',
  schema: cleanupSchema,
  run: cleanup,
};
