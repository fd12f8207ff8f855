/**
 * The 'prune' pass.
 * - unstructured: in each selected weight, the `sparsity` share of smallest-magnitude values become 0.
 *   The file only shrinks once compressed, and ORT's CPU kernels do not skip zeros: it is a step before
 *   compression or sparse runtimes, and it has to be measured like the rest.
 * - structured: whole output channels of a Conv (or units of a MatMul/Gemm) with the smallest L1 norm are
 *   removed, together with the matching input channels of the next Conv (or MatMul/Gemm). Per-channel ops
 *   in between (activations, pooling, bias Add/Mul, BatchNormalization) are sliced too. The model gets
 *   smaller and faster for real; accuracy drops until fine-tuned, so the gate decides.
 */
import { DataType, cloneModel, dimsOf, type Model, type onnx } from '../model/onnx.js';
import { makeTensor, tensorToFloat32 } from '../model/tensor.js';
import {
  NameAllocator, checkModel, consumerMap, describeNode, dropInitializerInputs, getInitializer, getIntAttr, removeUnusedInitializers,
  setInitializer, sortGraph,
} from '../model/graph.js';
import type { Pass, PassContext } from './pass.js';
import { selectNodes } from './quant-common.js';

export interface PruneOptions {
  mode?: 'unstructured' | 'structured';
  sparsity: number;
  op_types?: string[];
  nodes_include?: string[];
  nodes_exclude?: string[];
  /** unstructured: leave weights with fewer elements alone (default 1024: first layers are sensitive). */
  min_elements?: number;
}

const list = { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true };
export const pruneSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['sparsity'],
  properties: {
    mode: { enum: ['unstructured', 'structured'] },
    sparsity: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    op_types: list,
    nodes_include: list,
    nodes_exclude: list,
    min_elements: { type: 'integer', minimum: 1 },
  },
} as const;

const SUPPORTED = ['Conv', 'MatMul', 'Gemm'] as const;

/** Zeroes the `count` smallest |values| (ties broken by position, so the result is deterministic). */
export function magnitudePrune(values: Float32Array, count: number): Float32Array {
  const order = Array.from(values.keys()).sort((a, b) => Math.abs(values[a]!) - Math.abs(values[b]!) || a - b);
  const out = Float32Array.from(values);
  for (let i = 0; i < count; i++) out[order[i]!] = 0;
  return out;
}

/** Keeps the entries at `keep` (sorted indices) along `axis`. */
export function sliceAxis(values: Float32Array, dims: readonly number[], axis: number, keep: readonly number[]): { values: Float32Array; dims: number[] } {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const size = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(outer * keep.length * inner);
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const k of keep) {
      const start = (a * size + k) * inner;
      out.set(values.subarray(start, start + inner), o);
      o += inner;
    }
  }
  const newDims = [...dims];
  newDims[axis] = keep.length;
  return { values: out, dims: newDims };
}

function channelL1(values: Float32Array, dims: readonly number[], axis: number): Float64Array {
  const size = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const norms = new Float64Array(size);
  values.forEach((v, i) => (norms[Math.floor(i / inner) % size]! += Math.abs(v)));
  return norms;
}

const UNARY = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Softsign', 'Gelu', 'Mish', 'Identity', 'Dropout', 'Clip']);
const POOL = new Set(['MaxPool', 'AveragePool', 'LpPool']);
const BINARY = new Set(['Add', 'Sub', 'Mul', 'Div']);

type Kind = 'conv' | 'dense';

/** Output-channel axis of a producer's weight, or undefined when the node cannot be a producer. */
function producerAxis(node: onnx.INodeProto, dims: number[]): { kind: Kind; axis: number } | undefined {
  if (node.opType === 'Conv') return getIntAttr(node, 'group', 1) === 1 && dims.length >= 3 ? { kind: 'conv', axis: 0 } : undefined;
  if (dims.length !== 2) return undefined;
  if (node.opType === 'MatMul') return { kind: 'dense', axis: 1 };
  if (node.opType === 'Gemm' && getIntAttr(node, 'transA', 0) === 0) return { kind: 'dense', axis: getIntAttr(node, 'transB', 0) ? 0 : 1 };
  return undefined;
}

/** Input-channel axis of a consumer's weight. */
function consumerAxis(node: onnx.INodeProto, dims: number[]): { kind: Kind; axis: number } | undefined {
  if (node.opType === 'Conv') return getIntAttr(node, 'group', 1) === 1 && dims.length >= 3 ? { kind: 'conv', axis: 1 } : undefined;
  if (dims.length !== 2) return undefined;
  if (node.opType === 'MatMul') return { kind: 'dense', axis: 0 };
  if (node.opType === 'Gemm' && getIntAttr(node, 'transA', 0) === 0) return { kind: 'dense', axis: getIntAttr(node, 'transB', 0) ? 1 : 0 };
  return undefined;
}

interface Edit {
  node: onnx.INodeProto;
  slot: number;
  axis: number;
}

export async function prune(input: Model, options: PruneOptions, ctx: PassContext): Promise<Model> {
  const model = cloneModel(input);
  dropInitializerInputs(model);
  const graph = model.graph!;
  sortGraph(graph);
  const mode = options.mode ?? 'unstructured';
  const targets = selectNodes(graph, options, SUPPORTED, SUPPORTED, 'prune', `${mode} pruning`);
  const names = new NameAllocator(graph);
  const floatInit = (name: string | undefined): { values: Float32Array; dims: number[] } | undefined => {
    const t = name ? getInitializer(graph, name) : undefined;
    return t && t.dataType === DataType.FLOAT ? { values: tensorToFloat32(t), dims: dimsOf(t) } : undefined;
  };
  /** Writes a new initializer and points this node's input at it (the original may be shared). */
  const replaceInput = (node: onnx.INodeProto, slot: number, values: Float32Array, dims: number[]): void => {
    const base = node.input![slot]!;
    const name = names.next(`${base.replace(/_pruned(_\d+)?$/, '')}_pruned`);
    setInitializer(graph, makeTensor(name, dims, values));
    node.input![slot] = name;
  };
  const done: string[] = [];
  const skipped: string[] = [];

  if (mode === 'unstructured') {
    const minElements = options.min_elements ?? 1024;
    let zeroed = 0, total = 0;
    const pruned = new Map<string, string>();
    for (const node of targets) {
      const name = node.input?.[1];
      const w = floatInit(name);
      if (!w || w.values.length < minElements) continue;
      const already = pruned.get(name!);
      if (already) {
        node.input![1] = already;
        continue;
      }
      const count = Math.floor(options.sparsity * w.values.length);
      replaceInput(node, 1, magnitudePrune(w.values, count), w.dims);
      pruned.set(name!, node.input![1]!);
      zeroed += count;
      total += w.values.length;
    }
    done.push(`${pruned.size} weights, ${zeroed} of ${total} values set to 0`);
  } else {
    const graphOutputs = new Set((graph.output ?? []).map((o) => o.name));
    for (const producer of targets) {
      const consumers = consumerMap(graph);
      const w = floatInit(producer.input?.[1]);
      const pAxis = w && producerAxis(producer, w.dims);
      if (!w || !pAxis) {
        skipped.push(`${describeNode(producer)}: not a prunable producer`);
        continue;
      }
      const channels = w.dims[pAxis.axis]!;
      // Follow the output through per-channel ops to the next weighted op of the same kind.
      const edits: Edit[] = [];
      let tensor = producer.output![0]!;
      let consumer: onnx.INodeProto | undefined;
      let why = '';
      for (;;) {
        const next = consumers.get(tensor) ?? [];
        if (next.length !== 1 || graphOutputs.has(tensor)) {
          why = `'${tensor}' has ${next.length} readers${graphOutputs.has(tensor) ? ' and is a graph output' : ''}`;
          break;
        }
        const n = next[0]!;
        if ((n.domain ?? '') !== '' || n.input![0] !== tensor) {
          why = `${describeNode(n)} reads it in another position`;
          break;
        }
        const cw = floatInit(n.input?.[1]);
        const cAxis = cw && (n.opType === 'Conv' || n.opType === 'MatMul' || n.opType === 'Gemm') ? consumerAxis(n, cw.dims) : undefined;
        if (cAxis) {
          if (cAxis.kind !== pAxis.kind || cw!.dims[cAxis.axis] !== channels) why = `${describeNode(n)} does not read the ${channels} channels directly`;
          else consumer = n;
          edits.push({ node: n, slot: 1, axis: cAxis.axis });
          break;
        }
        const op = n.opType ?? '';
        if (UNARY.has(op) || (POOL.has(op) && pAxis.kind === 'conv')) {
          if ((n.input ?? []).slice(1).some((i) => i && (floatInit(i)?.values.length ?? 1) !== 1)) {
            why = `${describeNode(n)} has per-element parameters`;
            break;
          }
        } else if (BINARY.has(op)) {
          const p = floatInit(n.input?.[1]);
          if (!p) {
            why = `${describeNode(n)} reads a computed tensor`;
            break;
          }
          if (p.values.length !== 1) {
            // Per-channel: [M] / [1, M] for dense, [M, 1, 1] / [1, M, 1, 1] for conv.
            const axis = pAxis.kind === 'dense' ? p.dims.length - 1 : p.dims.length - (w.dims.length - 1);
            if (axis < 0 || p.dims[axis] !== channels || p.dims.some((d, i) => i !== axis && d !== 1)) {
              why = `${describeNode(n)} does not broadcast per channel`;
              break;
            }
            edits.push({ node: n, slot: 1, axis });
          }
        } else if (op === 'BatchNormalization' && (n.output ?? []).filter((o) => o).length === 1) {
          for (let slot = 1; slot <= 4; slot++) edits.push({ node: n, slot, axis: 0 });
        } else {
          why = `${describeNode(n)} is not per-channel`;
          break;
        }
        tensor = n.output![0]!;
      }
      if (!consumer) {
        skipped.push(`${describeNode(producer)}: ${why}`);
        continue;
      }
      const norms = channelL1(w.values, w.dims, pAxis.axis);
      const drop = Math.min(channels - 1, Math.floor(options.sparsity * channels));
      if (drop === 0) continue;
      const order = Array.from(norms.keys()).sort((a, b) => norms[a]! - norms[b]! || a - b);
      const dropped = new Set(order.slice(0, drop));
      const keep = Array.from({ length: channels }, (_, i) => i).filter((i) => !dropped.has(i));
      edits.unshift({ node: producer, slot: 1, axis: pAxis.axis });
      const bias = floatInit(producer.input?.[2]);
      if (bias && bias.values.length === channels) edits.unshift({ node: producer, slot: 2, axis: bias.dims.length - 1 });
      for (const e of edits) {
        const t = floatInit(e.node.input![e.slot])!;
        const sliced = sliceAxis(t.values, t.dims, e.axis, keep);
        replaceInput(e.node, e.slot, sliced.values, sliced.dims);
      }
      // Shapes recorded for the sliced tensors are stale now.
      const stale = new Set<string>([producer.output![0]!, ...edits.map((e) => e.node.output![0]!)]);
      stale.delete(consumer.output![0]!);
      graph.valueInfo = (graph.valueInfo ?? []).filter((v) => !stale.has(v.name!));
      done.push(`${describeNode(producer)} → ${describeNode(consumer)}: ${drop} of ${channels} channels`);
    }
  }
  removeUnusedInitializers(graph);
  ctx.log(`prune (${mode}, sparsity ${options.sparsity}): ${done.join('; ') || 'nothing pruned'}${skipped.length ? `; skipped: ${skipped.join('; ')}` : ''}`);
  checkModel(model, 'prune output');
  return model;
}

export const prunePass: Pass<PruneOptions> = {
  name: 'prune',
  schema: pruneSchema,
  run: prune,
};
