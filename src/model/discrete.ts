/**
 * Which outputs of a model carry a discrete decision taken on computed values: an index (ArgMax, TopK's
 * indices, NonMaxSuppression), a comparison (Equal, Greater, ...: a peak mask such as x · (x == MaxPool(x))),
 * a rounding (Round, Floor, Cast to an integer type), and anything computed from one of those.
 *
 * Why it matters: such an output jumps where its continuous input crosses a threshold or a tie. Two
 * near-equal neighbours of a heat map swap which one is the peak for a change far below any visible
 * difference, and the output's SNR then measures how many ties were broken the other way, not how close
 * the model is. The fidelity pass (src/evaluate/fidelity.ts) judges the continuous outputs on SNR and
 * reports an exact-match rate for these.
 *
 * "Computed values" means values that depend on the model's float weights (float tensors of more than one
 * element: what quantizers, weight-only storage and fp16 change). A decision on a model input, on shapes
 * or against a scalar threshold only (an If on `sr == 16000`, Shape → Equal, x > 0.5) is taken identically
 * by the reference and any candidate, so it does not make an output discrete.
 *
 * decisionInputs() names the continuous tensors where a discrete output's computation turns discrete:
 * the heat map an ArgMax reads, the scores a NonMaxSuppression reads, and the continuous values combined
 * with a decision's result (the offsets a GatherND picks at an argmax). Those tensors are what the network
 * computes; how closely a candidate reproduces them is the fidelity of the output that the decision hides.
 */
import { DataType, dimsOf, type onnx } from './onnx.js';
import { nodeInputs, producerMap } from './graph.js';

const FLOAT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16]);

/** Ops whose every output is a decision on their inputs' values. */
const DECISION_OPS: ReadonlySet<string> = new Set([
  'Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'ArgMax', 'ArgMin', 'NonMaxSuppression', 'NonZero',
  'Round', 'Floor', 'Ceil', 'Sign', 'Hardmax', 'Unique',
]);
/** Ops that read only their input's shape: their output does not depend on computed values. */
const SHAPE_OPS: ReadonlySet<string> = new Set(['Shape', 'Size']);

function decisionOutputs(node: onnx.INodeProto): ReadonlySet<number> | null {
  const op = node.opType ?? '';
  if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') return null;
  if (DECISION_OPS.has(op)) return new Set((node.output ?? []).map((_, i) => i));
  if (op === 'TopK') return new Set([1]); // the values are sorted, so they move smoothly; the indices jump
  if (op === 'Cast') {
    const to = node.attribute?.find((a) => a.name === 'to')?.i;
    const t = typeof to === 'number' ? to : to ? Number(to) : undefined;
    return t !== undefined && !FLOAT_TYPES.has(t) && t !== DataType.STRING ? new Set([0]) : null;
  }
  return null;
}

interface Scope {
  /** Depends on float weights (an initializer of float type). */
  computed: Set<string>;
  /** Carries a decision taken on computed values. */
  discrete: Set<string>;
}

/** A float tensor of more than one element: a weight a candidate may store or compute differently. */
const isWeight = (t: onnx.ITensorProto | null | undefined): boolean => !!t && FLOAT_TYPES.has(t.dataType ?? 0) && dimsOf(t).reduce((a, b) => a * b, 1) > 1;

function walk(graph: onnx.IGraphProto, outer: Scope): Scope {
  const scope: Scope = { computed: new Set(outer.computed), discrete: new Set(outer.discrete) };
  for (const t of graph.initializer ?? []) if (t.name && isWeight(t)) scope.computed.add(t.name);
  for (const node of graph.node ?? []) {
    if (node.opType === 'Constant' && isWeight(node.attribute?.find((a) => a.name === 'value')?.t)) for (const o of node.output ?? []) if (o) scope.computed.add(o);
    const inputs = nodeInputs(node);
    let computed = inputs.some((n) => scope.computed.has(n));
    let discrete = inputs.some((n) => scope.discrete.has(n));
    // A control-flow body: its outputs carry whatever its nodes decide.
    for (const attr of node.attribute ?? []) {
      for (const body of attr.g ? [attr.g] : attr.graphs ?? []) {
        const inner = walk(body, scope);
        for (const o of body.output ?? []) {
          if (!o.name) continue;
          computed ||= inner.computed.has(o.name);
          discrete ||= inner.discrete.has(o.name);
        }
      }
    }
    const op = node.opType ?? '';
    const decided = computed ? decisionOutputs(node) : null;
    (node.output ?? []).forEach((name, i) => {
      if (!name) return;
      if (SHAPE_OPS.has(op)) {
        if (discrete) scope.discrete.add(name); // the shape of NonZero's output is a count of decisions
        return;
      }
      if (computed) scope.computed.add(name);
      if (discrete || decided?.has(i)) scope.discrete.add(name);
    });
  }
  return scope;
}

/** Names of the graph outputs that carry a decision on computed values (see the file comment). */
export function discreteOutputs(model: onnx.IModelProto): Set<string> {
  const graph = model.graph;
  if (!graph) return new Set();
  const scope = walk(graph, { computed: new Set(), discrete: new Set() });
  return new Set((graph.output ?? []).map((o) => o.name ?? '').filter((n) => scope.discrete.has(n)));
}

/** A node that reads a decision input, and whose output is discrete. */
export interface DecisionReader {
  /** The node's name; empty for an unnamed node. */
  node: string;
  op_type: string;
  /** Which input of the node the tensor is; -1 when a body (If/Loop/Scan) of the node reads it. */
  input_index: number;
  /**
   * `decision`: the node decides on the tensor (the data of an ArgMax, the scores of a NonMaxSuppression, the
   * value a Round rounds). `combined`: the node combines it with a decision's result (a Gather of offsets at an argmax).
   */
  role: 'decision' | 'combined';
}

/** A continuous tensor that a discrete output's computation reads where it turns discrete (see decisionInputs). */
export interface DecisionInput {
  /** The tensor: computed from the weights, not itself discrete, produced by a node of the main graph. */
  tensor: string;
  /** The nodes that read it there, in graph order. */
  readers: DecisionReader[];
  /** The discrete graph outputs it feeds, in graph output order. */
  outputs: string[];
}

/**
 * The continuous tensors each discrete graph output is computed from, where its computation turns discrete:
 * walking back from the output through discrete tensors, every input of a node with a discrete output that
 * is computed from the weights but not itself discrete (and is produced by a node of the main graph, not a
 * weight or a Constant). Ordered by the first node that reads each, then by input position.
 */
export function decisionInputs(model: onnx.IModelProto): DecisionInput[] {
  const graph = model.graph;
  if (!graph) return [];
  const scope = walk(graph, { computed: new Set(), discrete: new Set() });
  const producers = producerMap(graph);
  const activations = new Set<string>();
  for (const node of graph.node ?? []) if (node.opType !== 'Constant') for (const o of node.output ?? []) if (o) activations.add(o);
  const order = new Map((graph.node ?? []).map((n, i) => [n, i]));
  const found = new Map<string, { input: DecisionInput; at: Map<onnx.INodeProto, DecisionReader> }>();
  for (const out of graph.output ?? []) {
    const name = out.name ?? '';
    if (!scope.discrete.has(name)) continue;
    const visited = new Set<onnx.INodeProto>();
    const stack = [name];
    while (stack.length > 0) {
      const node = producers.get(stack.pop()!);
      if (!node || visited.has(node)) continue;
      visited.add(node);
      const decides = decisionOutputs(node) !== null;
      for (const input of nodeInputs(node)) {
        if (scope.discrete.has(input)) {
          stack.push(input);
          continue;
        }
        if (!scope.computed.has(input) || !activations.has(input)) continue;
        let entry = found.get(input);
        if (!entry) found.set(input, (entry = { input: { tensor: input, readers: [], outputs: [] }, at: new Map() }));
        if (!entry.at.has(node)) entry.at.set(node, { node: node.name ?? '', op_type: node.opType ?? '', input_index: (node.input ?? []).indexOf(input), role: decides ? 'decision' : 'combined' });
        if (!entry.input.outputs.includes(name)) entry.input.outputs.push(name);
      }
    }
  }
  const slot = (i: number): number => (i < 0 ? Number.MAX_SAFE_INTEGER : i);
  const first = (e: { at: Map<onnx.INodeProto, DecisionReader> }): [number, number] => {
    const [node, r] = [...e.at].sort(([a], [b]) => order.get(a)! - order.get(b)!)[0]!;
    return [order.get(node)!, slot(r.input_index)];
  };
  return [...found.values()]
    .map((e) => ({ e, key: first(e) }))
    .sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || (a.e.input.tensor < b.e.input.tensor ? -1 : 1))
    .map(({ e }) => ({ ...e.input, readers: [...e.at].sort(([a], [b]) => order.get(a)! - order.get(b)!).map(([, r]) => r) }));
}
