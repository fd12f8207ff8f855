/**
 * The 'lowrank' pass: a large MatMul/Gemm weight W [K, N] becomes two factors from its truncated SVD,
 * x·W ≈ (x·L)·R with L [K, r] and R [r, N]. Fewer parameters and multiply-adds when r(K + N) < K·N.
 * The rank is explicit (`rank`) or the smallest that keeps `energy` of ‖W‖²_F (default 0.95).
 * Accuracy loss depends on the model: it must be measured, which is what the gate does.
 * With `recover`, the SVD is whitened by the layer's input activations on calibration samples and the factors
 * are re-fitted by least squares (src/passes/recover.ts), so the truncation minimizes the output error.
 */
import { cloneModel, type Model } from '../model/onnx.js';
import { makeTensor } from '../model/tensor.js';
import {
  NameAllocator, checkModel, describeNode, dropInitializerInputs, getFloatAttr, getIntAttr, initializerMap, makeNode, removeAttribute,
  removeUnusedInitializers, setInitializer, sortGraph,
} from '../model/graph.js';
import { ModelGateError } from '../errors.js';
import type { Pass, PassContext } from './pass.js';
import { floatInitializer, selectNodes, transpose2d } from './quant-common.js';
import { truncatedSvd } from './linalg.js';
import { Recovery, recoverSchema, type RecoverOptions } from './recover.js';
import { checkFinetuneSource, finetune, finetuneSchema, type FinetuneOptions } from './finetune.js';

export interface LowRankOptions {
  rank?: number;
  energy?: number;
  /** Only weights with at least this many elements (default 16384). */
  min_elements?: number;
  /** Skip a factorization that keeps more than this share of the parameters (default 0.8). */
  max_param_ratio?: number;
  op_types?: string[];
  nodes_include?: string[];
  nodes_exclude?: string[];
  recover?: RecoverOptions;
  /** Keras/TF.js sources: train the factorized model in TF.js afterwards (./finetune.ts). */
  finetune?: FinetuneOptions;
}

const list = { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true };
export const lowRankSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rank: { type: 'integer', minimum: 1 },
    energy: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    min_elements: { type: 'integer', minimum: 1 },
    max_param_ratio: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    op_types: list,
    nodes_include: list,
    nodes_exclude: list,
    recover: recoverSchema,
    finetune: finetuneSchema,
  },
} as const;

const SUPPORTED = ['MatMul', 'Gemm'] as const;
/** The eigen solver is O(n³) in the smaller side: above this it takes minutes in JavaScript. */
const MAX_SMALL_SIDE = 1536;

export async function factorizeLowRank(input: Model, options: LowRankOptions, ctx: PassContext): Promise<Model> {
  if (options.rank !== undefined && options.energy !== undefined) {
    throw new ModelGateError(`pass 'lowrank': give option 'rank' or option 'energy', not both`);
  }
  const model = cloneModel(input);
  dropInitializerInputs(model);
  const graph = model.graph!;
  sortGraph(graph);
  if (options.finetune) checkFinetuneSource(ctx, 'lowrank');
  const reference = options.recover || options.finetune ? cloneModel(model) : undefined;
  const targets = new Set(
    selectNodes(graph, options, SUPPORTED, SUPPORTED, 'lowrank', 'low-rank factorization'),
  );
  const inits = initializerMap(graph);
  const names = new NameAllocator(graph);
  const minElements = options.min_elements ?? 16384;
  const maxRatio = options.max_param_ratio ?? 0.8;
  const choose = options.rank !== undefined ? { rank: options.rank } : { energy: options.energy ?? 0.95 };
  const done: string[] = [];
  const skipped: string[] = [];
  const recovery = options.recover ? await Recovery.open(reference!, options.recover, ctx, 'lowrank', [...targets]) : undefined;
  // Each factorization goes into the graph at once: a recovered layer sees the activations of the factorized
  // layers before it.
  for (const node of [...(graph.node ?? [])]) {
    if (!targets.has(node)) continue;
    const w = floatInitializer(inits, node.input?.[1]);
    const why = ((): string | null => {
      if (!w) return 'weight is not a float32 initializer';
      if (w.dims.length !== 2) return `weight has rank ${w.dims.length}`;
      if (w.values.length < minElements) return `${w.values.length} weights < min_elements`;
      if (Math.min(...w.dims) > MAX_SMALL_SIDE) return `both sides are over ${MAX_SMALL_SIDE}`;
      if (node.opType === 'Gemm' && getIntAttr(node, 'transA', 0) !== 0) return 'transA=1 is not handled';
      return null;
    })();
    if (why || !w) {
      if (why && !why.includes('min_elements')) skipped.push(`${describeNode(node)}: ${why}`);
      continue;
    }
    const transB = node.opType === 'Gemm' && getIntAttr(node, 'transB', 0) !== 0;
    const [K, N] = transB ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!];
    const kn = transB ? transpose2d(w.values, N, K) : w.values;
    let f: { left: Float32Array; right: Float32Array; rank: number; energy: number } = truncatedSvd(kn, K, N, choose);
    const ratio = (f.rank * (K + N)) / (K * N);
    if (ratio > maxRatio) {
      skipped.push(`${describeNode(node)}: rank ${f.rank} keeps ${(ratio * 100).toFixed(0)}% of the parameters`);
      continue;
    }
    if (recovery?.wants(node)) {
      // The dense view folds Gemm's alpha into the weight; the node keeps alpha, so undo it on the right.
      const alpha = node.opType === 'Gemm' ? getFloatAttr(node, 'alpha', 1) : 1;
      const plain = alpha === 1 ? f : { ...f, left: Float32Array.from(f.left, (v) => v * alpha) };
      const r = await recovery.factorize(model, node, plain);
      if (r) {
        f = { left: r.left, right: alpha === 1 ? r.right : Float32Array.from(r.right, (v) => v / alpha), rank: r.rank, energy: f.energy };
      }
    }
    const base = w.tensor.name!;
    const left = names.next(`${base}_lowrank_left`);
    const right = names.next(`${base}_lowrank_right`);
    setInitializer(graph, makeTensor(left, [K, f.rank], f.left));
    setInitializer(graph, makeTensor(right, [f.rank, N], f.right));
    const hidden = names.next(`${node.name || node.output![0]}_lowrank_hidden`);
    const first = makeNode('MatMul', [node.input![0]!, left], [hidden], { name: names.next(`${node.name || base}_lowrank_MatMul`) });
    graph.node!.splice(graph.node!.indexOf(node), 0, first);
    // The second factor takes the node's place (a Gemm keeps its bias, alpha and beta).
    node.input = [hidden, right, ...node.input!.slice(2)];
    if (transB) removeAttribute(node, 'transB');
    done.push(`${describeNode(node)} rank ${f.rank} (${(f.energy * 100).toFixed(1)}% energy, ${(ratio * 100).toFixed(0)}% params)`);
  }
  removeUnusedInitializers(graph);
  sortGraph(graph);
  ctx.log(`lowrank: ${done.length ? done.join('; ') : 'nothing factorized'}${skipped.length ? `; skipped: ${skipped.join('; ')}` : ''}`);
  if (recovery) {
    ctx.log(`lowrank ${recovery.summary()}`);
    ctx.detail?.({ recovery: recovery.note() });
  }
  if (options.finetune) {
    if (done.length === 0) ctx.log('lowrank finetune: skipped, nothing was factorized');
    else ctx.detail?.({ finetune: await finetune(model, reference!, options.finetune, ctx, 'lowrank') });
  }
  checkModel(model, 'lowrank output');
  return model;
}

export const lowRankPass: Pass<LowRankOptions> = {
  name: 'lowrank',
  schema: lowRankSchema,
  run: factorizeLowRank,
};
