/**
 * Which outputs of a model are probabilities squashed from logits: a Sigmoid's output (and anything that
 * only moves, selects or averages such values: a Squeeze, a Reshape, a ReduceMean over time, an If whose
 * every branch gives one), or a Softmax's output.
 *
 * Why it matters: a squashing function flattens its tails. A detector's probability map on noise sits at
 * logits of −12 to −47, i.e. probabilities below 1e-5; a quantized candidate that moves those logits by a
 * few percent changes the probabilities by a few millionths, but relative to a signal that small the SNR
 * reads −10 dB. The fidelity pass (src/evaluate/fidelity.ts) measures such outputs in the logit domain as
 * well, where an error is weighed against the model's confidence instead of against the squashed value.
 */
import type { onnx } from './onnx.js';

export type Squash =
  | { op: 'sigmoid' }
  /** `axis` as written (negative counts from the end); `coerce2d`: opset < 13 semantics, the softmax runs over every axis from `axis` on. */
  | { op: 'softmax'; axis: number; coerce2d: boolean };

/** Ops that only rearrange, select or average their first input's values: a probability stays a probability. */
const KEEPS_FIRST: ReadonlySet<string> = new Set([
  'Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Transpose', 'Flatten', 'Expand', 'Tile', 'Slice', 'Gather',
  'GatherElements', 'GatherND', 'Split', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'MaxPool', 'AveragePool',
  'GlobalAveragePool', 'GlobalMaxPool', 'SpaceToDepth', 'DepthToSpace',
]);
/** Ops whose output is a probability when every input is one. */
const KEEPS_ALL: ReadonlySet<string> = new Set(['Concat', 'Max', 'Min', 'Mean']);

function defaultOpset(model: onnx.IModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  return entry?.version ? Number(entry.version) : 1;
}

function walk(graph: onnx.IGraphProto, outer: ReadonlyMap<string, Squash>, opset: number): Map<string, Squash> {
  const scope = new Map(outer);
  for (const node of graph.node ?? []) {
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') continue;
    const op = node.opType ?? '';
    const ins = (node.input ?? []).filter((n) => n !== '');
    const outs = node.output ?? [];
    const set = (i: number, s: Squash) => { if (outs[i]) scope.set(outs[i]!, s); };
    if (op === 'Sigmoid') set(0, { op: 'sigmoid' });
    else if (op === 'Softmax') {
      const a = node.attribute?.find((x) => x.name === 'axis')?.i;
      const coerce2d = opset < 13;
      set(0, { op: 'softmax', axis: a !== undefined && a !== null ? Number(a) : coerce2d ? 1 : -1, coerce2d });
    } else if (op === 'Identity' && ins[0] && scope.has(ins[0])) set(0, scope.get(ins[0])!);
    else if (KEEPS_FIRST.has(op) && ins[0] && scope.get(ins[0])?.op === 'sigmoid') outs.forEach((_, i) => set(i, { op: 'sigmoid' }));
    else if (KEEPS_ALL.has(op) && ins.length > 0 && ins.every((n) => scope.get(n)?.op === 'sigmoid')) set(0, { op: 'sigmoid' });
    else if (op === 'If') {
      // An output is squashed when every branch gives the same squash for it.
      const branches = (node.attribute ?? []).flatMap((a) => (a.g ? [a.g] : []));
      const found = branches.map((g) => {
        const inner = walk(g, scope, opset);
        return (g.output ?? []).map((o) => (o.name ? inner.get(o.name) : undefined));
      });
      outs.forEach((_, i) => {
        const first = found[0]?.[i];
        if (first && found.every((f) => f[i] && JSON.stringify(f[i]) === JSON.stringify(first))) set(i, first);
      });
    }
  }
  return scope;
}

/** The graph outputs that are squashed probabilities, by name (see the file comment). */
export function squashedOutputs(model: onnx.IModelProto): Map<string, Squash> {
  return squashedTensors(model, (model.graph?.output ?? []).flatMap((o) => (o.name ? [o.name] : [])));
}

/** The tensors of the main graph among `names` that are squashed probabilities (a decision input may be one: a heat map). */
export function squashedTensors(model: onnx.IModelProto, names: Iterable<string>): Map<string, Squash> {
  const graph = model.graph;
  if (!graph) return new Map();
  const scope = walk(graph, new Map(), defaultOpset(model));
  const out = new Map<string, Squash>();
  for (const n of names) {
    const s = scope.get(n);
    if (s) out.set(n, s);
  }
  return out;
}
