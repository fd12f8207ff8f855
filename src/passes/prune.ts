/**
 * The 'prune' pass.
 * - unstructured: in each selected weight, the `sparsity` share of smallest-magnitude values become 0.
 *   The file only shrinks once compressed, and ORT's CPU kernels do not skip zeros: it is a step before
 *   compression or sparse runtimes, and it has to be measured like the rest.
 * - structured: whole output channels of a Conv (or units of a MatMul/Gemm) with the smallest L1 norm are
 *   removed, together with the matching input channels of the next Conv (or MatMul/Gemm). Per-channel ops
 *   in between (activations, pooling, bias Add/Mul, BatchNormalization) are sliced too. A Conv may also
 *   feed a MatMul/Gemm through Flatten (axis 1) or Reshape to [N, C·H·W]: channel c is then the block of
 *   rows c·H·W .. (c+1)·H·W − 1 of the dense weight (NCHW order; H·W from ORT's shape inference). The
 *   model gets smaller and faster for real; accuracy drops until fine-tuned, so the gate decides.
 *   Channels go in L1-norm order, ties by index, so the choice is deterministic. With `recover`, they are
 *   chosen by their effect on the next layer's output over calibration samples instead, and that layer is
 *   re-fitted (src/passes/recover.ts).
 */
import { DataType, cloneModel, dimsOf, type Model, type onnx } from '../model/onnx.js';
import { makeTensor, tensorData, tensorToFloat32 } from '../model/tensor.js';
import {
  NameAllocator, checkModel, consumerMap, describeNode, dropInitializerInputs, getInitializer, getIntAttr, removeUnusedInitializers,
  setInitializer, sortGraph,
} from '../model/graph.js';
import type { Pass, PassContext } from './pass.js';
import { selectNodes } from './quant-common.js';
import { inferTensorTypes, type TensorTypeInfo } from './infer-types.js';
import { Recovery, recoverSchema, type RecoverOptions } from './recover.js';
import { ModelGateError } from '../errors.js';
import { checkFinetuneSource, finetune, finetuneSchema, type FinetuneOptions } from './finetune.js';

export interface PruneOptions {
  mode?: 'unstructured' | 'structured';
  sparsity: number;
  op_types?: string[];
  nodes_include?: string[];
  nodes_exclude?: string[];
  /** unstructured: leave weights with fewer elements alone (default 1024: first layers are sensitive). */
  min_elements?: number;
  /**
   * structured: keep a multiple of this many channels (rounding the count kept up, so never more than
   * `sparsity` is removed) when the layer has a multiple of it. Default 16 for Conv, 1 for MatMul/Gemm:
   * ORT runs Conv in its blocked NCHWc layout only for channel counts that are multiples of the block
   * (16 with AVX-512, 8 with AVX2), and measured here on the MNIST CNN, 24 or 28 channels ran 1.13-1.19x
   * slower than the original 32, and 16 channels 0.70x.
   */
  channel_multiple?: number;
  /**
   * structured: choose the channels by their contribution to the next layer's output on calibration
   * samples and re-fit that layer by least squares (src/passes/recover.ts). The next layer may be a
   * MatMul/Gemm or an ungrouped 2-D Conv; another keeps the L1 choice and is listed as not recovered.
   */
  recover?: RecoverOptions;
  /** structured, Keras/TF.js sources: train the pruned model in TF.js afterwards (./finetune.ts). */
  finetune?: FinetuneOptions;
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
    channel_multiple: { type: 'integer', minimum: 1 },
    recover: recoverSchema,
    finetune: finetuneSchema,
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

/** How many of `channels` to remove: floor(sparsity · channels), fewer so that a multiple of `multiple` stays, at least one kept. */
export function channelsToDrop(channels: number, sparsity: number, multiple: number): number {
  let keep = channels - Math.floor(sparsity * channels);
  if (multiple > 1 && channels % multiple === 0) keep = Math.ceil(keep / multiple) * multiple;
  return Math.max(0, Math.min(channels - 1, channels - keep));
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
const POOL = new Set(['MaxPool', 'AveragePool', 'LpPool', 'GlobalMaxPool', 'GlobalAveragePool', 'GlobalLpPool']);
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
  /** Each channel is this many consecutive entries along `axis` (a flattened C·H·W input). */
  block?: number;
}

/** Channel indices → the entries of `block`-sized channel blocks, in order (NCHW flatten order). */
export function expandBlocks(keep: readonly number[], block: number): number[] {
  const out: number[] = [];
  for (const c of keep) for (let i = 0; i < block; i++) out.push(c * block + i);
  return out;
}

/**
 * A Flatten/Reshape that turns a conv output [N, C, H, W] into [N, C·H·W]: the per-channel block size
 * H·W (from shape inference), and for a Reshape the target shape when it spells C·H·W out (it must then
 * shrink with the channels). A string says why the node is not such a flatten.
 */
function flattenBlock(
  node: onnx.INodeProto, channels: number, shapes: Map<string, TensorTypeInfo>, graph: onnx.IGraphProto,
): { block: number; shape?: BigInt64Array } | string {
  const what = describeNode(node);
  const inShape = shapes.get(node.input![0]!)?.shape;
  const spatial = inShape?.slice(2) ?? [];
  if (!inShape || inShape.length < 3 || inShape[1] !== channels || !spatial.every((d) => typeof d === 'number' && d > 0)) {
    return `${what}: the shape of its input is not known as [N, ${channels}, H, W]`;
  }
  const block = (spatial as number[]).reduce((a, b) => a * b, 1);
  if (node.opType === 'Flatten') {
    const axis = getIntAttr(node, 'axis', 1);
    return (axis < 0 ? axis + inShape.length : axis) === 1 ? { block } : `${what} does not flatten from axis 1`;
  }
  const t = node.input?.[1] ? getInitializer(graph, node.input[1]) : undefined;
  const target = t && t.dataType === DataType.INT64 ? (tensorData(t) as BigInt64Array) : undefined;
  const outShape = shapes.get(node.output![0]!)?.shape;
  if (!target || target.length !== 2 || outShape?.length !== 2 || outShape[1] !== channels * block) {
    return `${what} does not reshape to [N, ${channels * block}]`;
  }
  if (getIntAttr(node, 'allowzero', 0) !== 0 && target.includes(0n)) return `${what} has allowzero=1`;
  return target.includes(BigInt(channels * block)) ? { block, shape: target } : { block };
}

export async function prune(input: Model, options: PruneOptions, ctx: PassContext): Promise<Model> {
  const model = cloneModel(input);
  dropInitializerInputs(model);
  const graph = model.graph!;
  sortGraph(graph);
  const mode = options.mode ?? 'unstructured';
  if (options.recover && mode !== 'structured') {
    throw new ModelGateError(`pass 'prune': option 'recover' needs mode: structured (unstructured pruning keeps every channel, so there is no layer to re-fit)`);
  }
  if (options.finetune && mode !== 'structured') {
    throw new ModelGateError(`pass 'prune': option 'finetune' needs mode: structured (training would fill the zeroed weights in again)`);
  }
  if (options.finetune) checkFinetuneSource(ctx, 'prune');
  const reference = options.recover || options.finetune ? cloneModel(model) : undefined;
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
    const recovery = options.recover ? await Recovery.open(reference!, options.recover, ctx, 'prune', targets) : undefined;
    const graphOutputs = new Set((graph.output ?? []).map((o) => o.name));
    let shapes: Map<string, TensorTypeInfo> | undefined;
    for (const producer of targets) {
      const consumers = consumerMap(graph);
      const w = floatInit(producer.input?.[1]);
      const pAxis = w && producerAxis(producer, w.dims);
      if (!w || !pAxis) {
        skipped.push(`${describeNode(producer)}: not a prunable producer`);
        continue;
      }
      const channels = w.dims[pAxis.axis]!;
      // Follow the output through per-channel ops to the next weighted op of the same kind, or, for a
      // Conv, through one Flatten/Reshape to [N, C·H·W] into a MatMul/Gemm that reads C blocks of H·W rows.
      const edits: Edit[] = [];
      const chain: string[] = [];
      let shapeRewrite: { node: onnx.INodeProto; values: BigInt64Array } | undefined;
      /** H·W once the chain went through a flatten (each channel is then a block of that many features). */
      let block: number | undefined;
      let tensor = producer.output![0]!;
      let consumer: onnx.INodeProto | undefined;
      let why = '';
      for (;;) {
        chain.push(tensor);
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
          const kind = block === undefined ? pAxis.kind : 'dense';
          const width = channels * (block ?? 1);
          if (cAxis.kind !== kind || cw!.dims[cAxis.axis] !== width) why = `${describeNode(n)} does not read the ${channels} channels directly`;
          else consumer = n;
          edits.push({ node: n, slot: 1, axis: cAxis.axis, block });
          break;
        }
        const op = n.opType ?? '';
        if (block !== undefined && !UNARY.has(op)) {
          why = `${describeNode(n)} follows the flatten and is not elementwise`;
          break;
        }
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
        } else if ((op === 'Flatten' || op === 'Reshape') && pAxis.kind === 'conv') {
          shapes ??= await inferTensorTypes(model);
          const flat = flattenBlock(n, channels, shapes, graph);
          if (typeof flat === 'string') {
            why = flat;
            break;
          }
          block = flat.block;
          if (flat.shape) shapeRewrite = { node: n, values: flat.shape };
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
      const drop = channelsToDrop(channels, options.sparsity, options.channel_multiple ?? (pAxis.kind === 'conv' ? 16 : 1));
      if (drop === 0) {
        skipped.push(`${describeNode(producer)}: sparsity ${options.sparsity} of ${channels} channels leaves nothing to remove`);
        continue;
      }
      const order = Array.from(norms.keys()).sort((a, b) => norms[a]! - norms[b]! || a - b);
      const dropped = new Set(order.slice(0, drop));
      let keep = Array.from({ length: channels }, (_, i) => i).filter((i) => !dropped.has(i));
      const recovering = recovery?.wants(producer)
        ? await recovery.chooseChannels(model, producer, consumer, channels, block ?? 1, keep.length, keep)
        : undefined;
      if (recovering) keep = recovering;
      edits.unshift({ node: producer, slot: 1, axis: pAxis.axis });
      const bias = floatInit(producer.input?.[2]);
      if (bias && bias.values.length === channels) edits.unshift({ node: producer, slot: 2, axis: bias.dims.length - 1 });
      for (const e of edits) {
        const t = floatInit(e.node.input![e.slot])!;
        const sliced = sliceAxis(t.values, t.dims, e.axis, e.block ? expandBlocks(keep, e.block) : keep);
        replaceInput(e.node, e.slot, sliced.values, sliced.dims);
      }
      if (shapeRewrite) {
        // A literal feature count in the Reshape target shrinks with the channels.
        const values = shapeRewrite.values.map((v) => (v === BigInt(channels * block!) ? BigInt(keep.length * block!) : v));
        const name = names.next(`${shapeRewrite.node.input![1]!.replace(/_pruned(_\d+)?$/, '')}_pruned`);
        setInitializer(graph, makeTensor(name, [values.length], values));
        shapeRewrite.node.input![1] = name;
      }
      // Shapes recorded for the tensors between producer and consumer are stale now.
      const stale = new Set<string>(chain);
      graph.valueInfo = (graph.valueInfo ?? []).filter((v) => !stale.has(v.name!));
      if (recovering) await recovery!.refit(model, consumer, replaceInput);
      const via = block !== undefined ? ` (flattened: ${drop * block} of ${channels * block} features)` : '';
      done.push(`${describeNode(producer)} → ${describeNode(consumer)}: ${drop} of ${channels} channels${via}`);
    }
    if (recovery) {
      ctx.log(`prune ${recovery.summary()}`);
      ctx.detail?.({ recovery: recovery.note() });
    }
  }
  removeUnusedInitializers(graph);
  ctx.log(`prune (${mode}, sparsity ${options.sparsity}): ${done.join('; ') || 'nothing pruned'}${skipped.length ? `; skipped: ${skipped.join('; ')}` : ''}`);
  if (options.finetune) {
    if (done.length === 0) ctx.log('prune finetune: skipped, nothing was pruned');
    else ctx.detail?.({ finetune: await finetune(model, reference!, options.finetune, ctx, 'prune') });
  }
  checkModel(model, 'prune output');
  return model;
}

export const prunePass: Pass<PruneOptions> = {
  name: 'prune',
  schema: pruneSchema,
  run: prune,
};
