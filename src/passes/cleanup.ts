/**
 * The 'cleanup' pass: graph simplifications that keep the function (up to float rounding).
 * - promote Constant nodes to initializers (so the other passes see their weights);
 * - fold BatchNormalization into the Conv or Gemm before it;
 * - remove Identity and inference-mode Dropout;
 * - fold nodes whose inputs are all constants, evaluated by onnxruntime itself;
 * - drop dead nodes and unused initializers.
 * Exporters leave these behind (Keras and PyTorch exports especially); ORT does some of it at load, but
 * doing it in the file makes the other passes see real weights and makes the file smaller.
 */
import { DataType, cloneModel, dimsOf, encodeModel, onnx, type Model } from '../model/onnx.js';
import { makeTensor, tensorBytes, tensorToFloat32 } from '../model/tensor.js';
import {
  NameAllocator, checkModel, consumerMap, dropInitializerInputs, getFloatAttr, getIntAttr, initializerMap, nodeInputs, producerMap,
  removeUnusedInitializers, setInitializer, sortGraph,
} from '../model/graph.js';
import { OrtSession } from '../runtime/session.js';
import type { Pass, PassContext } from './pass.js';

export interface CleanupOptions {
  promote_constants?: boolean;
  fold_batch_norm?: boolean;
  remove_identity?: boolean;
  constant_folding?: boolean;
}

export const cleanupSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    promote_constants: { type: 'boolean' },
    fold_batch_norm: { type: 'boolean' },
    remove_identity: { type: 'boolean' },
    constant_folding: { type: 'boolean' },
  },
} as const;

type IGraph = onnx.IGraphProto;
type INode = onnx.INodeProto;

/** Constant (tensor or scalar/list forms) → initializer named after its output. */
export function promoteConstants(graph: IGraph): number {
  let n = 0;
  const kept: INode[] = [];
  for (const node of graph.node ?? []) {
    const out = node.output?.[0];
    const tensor = node.opType === 'Constant' && (node.domain ?? '') === '' && out ? constantValue(node, out) : undefined;
    if (tensor) {
      setInitializer(graph, tensor);
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

/** Renames every use of tensor `from` to `to` (node inputs, graph outputs, value_info), subgraphs included. */
function renameUses(graph: IGraph, from: string, to: string): void {
  const visit = (g: IGraph): void => {
    for (const n of g.node ?? []) {
      n.input = (n.input ?? []).map((i) => (i === from ? to : i));
      for (const a of n.attribute ?? []) for (const sg of a.g ? [a.g] : a.graphs ?? []) visit(sg);
    }
  };
  visit(graph);
}

/** Identity, and Dropout in inference mode (no mask output used, training_mode absent or a false constant). */
export function removeIdentities(graph: IGraph): number {
  const inits = initializerMap(graph);
  const graphInputs = new Set((graph.input ?? []).map((v) => v.name));
  const graphOutputs = new Set((graph.output ?? []).map((v) => v.name));
  let removed = 0;
  for (const node of [...(graph.node ?? [])]) {
    if ((node.domain ?? '') !== '') continue;
    if (node.opType === 'Dropout') {
      const mask = node.output?.[1];
      if (mask && (consumerMap(graph).has(mask) || graphOutputs.has(mask))) continue;
      const training = node.input?.[2];
      if (training) {
        const t = inits.get(training);
        if (!t || tensorToFloat32(t)[0] !== 0) continue;
      }
    } else if (node.opType !== 'Identity') {
      continue;
    }
    const src = node.input?.[0];
    const dst = node.output?.[0];
    if (!src || !dst) continue;
    if (!graphOutputs.has(dst)) {
      renameUses(graph, dst, src);
    } else if (!graphInputs.has(src) && !inits.has(src) && !graphOutputs.has(src) && producerMap(graph).has(src)) {
      // The output keeps its name: the producer writes it directly.
      const producer = producerMap(graph).get(src)!;
      producer.output = producer.output!.map((o) => (o === src ? dst : o));
      renameUses(graph, src, dst);
    } else {
      continue;
    }
    graph.node = graph.node!.filter((n) => n !== node);
    removed++;
  }
  return removed;
}

/**
 * BatchNormalization (inference form) right after a Conv or Gemm whose weights are initializers:
 * y = γ (x − μ) / √(σ² + ε) + β folds into the weights (scaled per output channel) and the bias.
 */
export function foldBatchNorms(graph: IGraph): number {
  let folded = 0;
  for (const bn of [...(graph.node ?? [])]) {
    if (bn.opType !== 'BatchNormalization' || (bn.domain ?? '') !== '' || (bn.output ?? []).filter((o) => o).length !== 1) continue;
    if (getIntAttr(bn, 'training_mode', 0) !== 0) continue;
    const inits = initializerMap(graph);
    const producers = producerMap(graph);
    const consumers = consumerMap(graph);
    const graphOutputs = new Set((graph.output ?? []).map((v) => v.name));
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
    const names = new NameAllocator(graph);
    const wName = names.next(`${op.input![1]}_bn_folded`);
    const bName = names.next(biasName ? `${biasName}_bn_folded` : `${op.output![0]}_bias`);
    setInitializer(graph, makeTensor(wName, wDims, newW));
    setInitializer(graph, makeTensor(bName, [channels], newB));
    op.input = [op.input![0]!, wName, bName];
    op.output = [bn.output![0]!];
    graph.node = graph.node!.filter((n) => n !== bn);
    folded++;
  }
  return folded;
}

/** Ops never folded: intentional quantization structure, randomness, or outputs far larger than inputs. */
const NO_FOLD = new Set([
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike',
  'Multinomial', 'Bernoulli', 'ConstantOfShape', 'Expand', 'Tile', 'Range', 'If', 'Loop', 'Scan', 'Constant',
]);

/**
 * Nodes whose inputs are all initializers (or outputs of such nodes) are evaluated by onnxruntime, and the
 * tensors the rest of the graph reads become initializers. A result bigger than the constants it came from
 * (and over 64 KiB) is not folded: that would grow the file.
 */
export async function foldConstants(model: Model): Promise<number> {
  const graph = model.graph!;
  const constant = new Set<string>((graph.initializer ?? []).map((t) => t.name!));
  const graphInputs = new Set((graph.input ?? []).map((v) => v.name));
  const foldable: INode[] = [];
  for (const node of graph.node ?? []) {
    if ((node.domain ?? '') !== '' || NO_FOLD.has(node.opType ?? '')) continue;
    if ((node.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0)) continue;
    const ins = nodeInputs(node);
    if (ins.length === 0 || !ins.every((i) => constant.has(i) && !graphInputs.has(i))) continue;
    foldable.push(node);
    for (const o of node.output ?? []) if (o) constant.add(o);
  }
  if (foldable.length === 0) return 0;
  const folded = new Set(foldable);
  const outsideReaders = new Set<string>();
  for (const node of graph.node ?? []) if (!folded.has(node)) for (const i of nodeInputs(node)) outsideReaders.add(i);
  for (const o of graph.output ?? []) outsideReaders.add(o.name!);
  const frontier = foldable.flatMap((n) => (n.output ?? []).filter((o) => o && outsideReaders.has(o)));
  if (frontier.length === 0) return 0;

  const probe = onnx.ModelProto.create({
    irVersion: model.irVersion,
    opsetImport: model.opsetImport,
    graph: {
      name: 'constant_folding',
      node: foldable,
      initializer: (graph.initializer ?? []).filter((t) => foldable.some((n) => nodeInputs(n).includes(t.name!))),
      output: frontier.map((name) => onnx.ValueInfoProto.create({ name })),
    },
  });
  const session = await OrtSession.create(encodeModel(probe), { graphOptimizationLevel: 'disabled' }, 'constant folding');
  let values: Awaited<ReturnType<OrtSession['run']>>;
  try {
    values = await session.run({}, frontier);
  } finally {
    await session.release();
  }
  // Which initializers each frontier tensor comes from, to compare sizes.
  const producers = producerMap({ node: foldable });
  const inits = initializerMap(graph);
  const sourceBytes = (t: string, seen = new Set<string>()): number => {
    if (seen.has(t)) return 0;
    seen.add(t);
    const init = inits.get(t);
    if (init) return tensorBytes(init);
    return nodeInputs(producers.get(t) ?? {}).reduce((s, i) => s + sourceBytes(i, seen), 0);
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
    const v = values[name]!;
    const tensor = hostToTensor(name, v);
    if (!tensor || (tensorBytes(tensor) > 65536 && tensorBytes(tensor) > sourceBytes(name))) markAncestors(name);
    else tensors.set(name, tensor);
  }
  let n = 0;
  for (const [name, tensor] of tensors) {
    // A tensor whose producer must stay (an oversized sibling needs it) stays computed too.
    if (keep.has(producers.get(name)!)) continue;
    setInitializer(graph, tensor);
    n++;
  }
  // Kept nodes read only kept nodes and initializers, so every other folded node can go.
  graph.node = (graph.node ?? []).filter((node) => !folded.has(node) || keep.has(node));
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

/** Removes nodes none of whose outputs is read by another node or is a graph output (repeatedly). */
export function removeDeadNodes(graph: IGraph): number {
  const before = graph.node?.length ?? 0;
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  let changed = true;
  while (changed) {
    changed = false;
    const read = new Set<string>();
    for (const n of graph.node ?? []) for (const i of nodeInputs(n)) read.add(i);
    const alive = (graph.node ?? []).filter((n) => (n.output ?? []).some((o) => o && (read.has(o) || outputs.has(o))));
    if (alive.length !== graph.node!.length) {
      graph.node = alive;
      changed = true;
    }
  }
  return before - (graph.node?.length ?? 0);
}

/** value_info entries for tensors that no longer exist. */
function pruneValueInfo(graph: IGraph): void {
  const live = new Set<string>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) live.add(o);
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => live.has(v.name!));
}

export async function cleanup(input: Model, options: CleanupOptions, ctx: PassContext): Promise<Model> {
  const model = cloneModel(input);
  dropInitializerInputs(model);
  const graph = model.graph!;
  sortGraph(graph);
  const done: string[] = [];
  const note = (n: number, what: string): void => {
    if (n > 0) done.push(`${n} ${what}`);
  };
  if (options.promote_constants ?? true) note(promoteConstants(graph), 'Constant nodes promoted to initializers');
  if (options.remove_identity ?? true) note(removeIdentities(graph), 'Identity/Dropout removed');
  if (options.fold_batch_norm ?? true) note(foldBatchNorms(graph), 'BatchNormalization folded');
  if (options.constant_folding ?? true) note(await foldConstants(model), 'constant tensors folded');
  note(removeDeadNodes(graph), 'dead nodes removed');
  note(removeUnusedInitializers(graph), 'unused initializers removed');
  pruneValueInfo(graph);
  sortGraph(graph);
  ctx.log(`cleanup: ${done.join(', ') || 'nothing to do'}`);
  checkModel(model, 'cleanup output');
  return model;
}

export const cleanupPass: Pass<CleanupOptions> = {
  name: 'cleanup',
  schema: cleanupSchema,
  run: cleanup,
};
