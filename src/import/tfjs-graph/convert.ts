/**
 * TF.js graph models (tfjs-converter's "graph-model": a TF GraphDef in model.json) → ONNX, op by op.
 *
 * The walk starts at the model's outputs and converts each node once, after its inputs, through the
 * converter OP_CONVERTERS has for its op; an op without one stops the import naming the node. Graph
 * inputs and outputs keep the TF.js names, dtypes and NHWC layouts, so the feeds that run the TF.js
 * model run the ONNX model. The same model.json gives byte-identical ONNX.
 */
import { onnx, type Model } from '../../model/onnx.js';
import { ModelGateError } from '../../errors.js';
import { InputDimsError, type DeclaredInput } from '../../model/io.js';
import type { TfjsArtifacts } from '../../formats/tfjs/files.js';
import { GraphBuilder, ONNX_TYPE, type Value } from './builder.js';
import { Attrs, decodeWeights, inlineTensor, parseInput, shapeDims, tfDType, type GraphDef, type Signature, type TfDType, type TfNode } from './graph-def.js';
import { OP_CONVERTERS, SUPPORTED_TF_OPS } from './registry.js';

export interface GraphInput {
  /** Placeholder node name: the ONNX input name and the TF.js feed name. */
  name: string;
  /** TF shape including the batch dim; -1 for a dynamic batch. */
  shape: number[];
  dtype: TfDType;
}

export interface GraphOutput {
  /** The ONNX output name. */
  name: string;
  /** The TF tensor name TF.js executes ('Identity', 'Identity:1'). */
  tfName: string;
  shape: number[];
  dtype: TfDType;
}

export interface GraphConversion {
  model: Model;
  inputs: GraphInput[];
  outputs: GraphOutput[];
  /** TF nodes converted (Const and Placeholder not counted). */
  ops: number;
}

export interface GraphConvertOptions {
  /** Shapes without the batch dim, by Placeholder name, for inputs with unknown dims. */
  inputShapes?: Record<string, number[]>;
}

const OPSET = 13;
const IR_VERSION = 8;
const MAX_INPUT_ELEMENTS = 2 ** 27;
const SKIPPED = new Set(['Const', 'Placeholder', 'NoOp']);
const CONTROL_FLOW = new Set(['Enter', 'Merge', 'Switch', 'LoopCond', 'NextIteration']);
/** Ops through which an input of unknown rank still decides a tf.cond's predicate (see decidesCond). */
const COND_PATH = new Set(['Identity', 'Cast', 'Squeeze', 'Reshape', 'Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'LogicalNot']);
/** Iterations a while loop may be unrolled to. */
const MAX_UNROLL = 64;
/** A value on the untaken side of a Switch (TF's dead tensor). */
const DEAD: Value = { name: '', shape: [], dtype: 'float32', dead: true };
const DEAD_OUTPUTS: Value[] = new Array<Value>(8).fill(DEAD);

interface LoopFrame {
  enters: string[];
  merges: string[];
  loopCond: string;
  exits: string[];
}

/**
 * The while loops of a TF1-style graph, by frame name: a frame is every node reachable from its Enter
 * nodes before an Exit. Nested loops are refused.
 */
function loopFrames(graphNodes: TfNode[], file: string): { frames: Map<string, LoopFrame>; frameOf: Map<string, string> } {
  const consumers = new Map<string, string[]>();
  for (const n of graphNodes) for (const r of n.input ?? []) {
    const from = parseInput(r).node;
    consumers.set(from, [...(consumers.get(from) ?? []), n.name]);
  }
  const byName = new Map(graphNodes.map((n) => [n.name, n]));
  const frames = new Map<string, LoopFrame>();
  const frameOf = new Map<string, string>();
  const enters = new Map<string, string[]>();
  for (const n of graphNodes) {
    if (n.op !== 'Enter') continue;
    const frame = new Attrs(n, `${file}: node '${n.name}' (Enter)`).string('frame_name');
    enters.set(frame, [...(enters.get(frame) ?? []), n.name]);
  }
  for (const [frame, list] of enters) {
    const info: LoopFrame = { enters: list, merges: [], loopCond: '', exits: [] };
    const stack = [...list];
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (frameOf.has(name)) {
        if (frameOf.get(name) !== frame) throw new ModelGateError(`${file}: node '${name}' belongs to two while loops; nested loops are not supported`);
        continue;
      }
      const n = byName.get(name)!;
      if (n.op === 'Exit') {
        info.exits.push(name);
        continue;
      }
      frameOf.set(name, frame);
      if (n.op === 'LoopCond') info.loopCond = name;
      if (n.op === 'Merge' && (n.input ?? []).some((r) => list.includes(parseInput(r).node))) info.merges.push(name);
      stack.push(...(consumers.get(name) ?? []));
    }
    if (!info.loopCond) throw new ModelGateError(`${file}: while loop '${frame}' has no LoopCond`);
    info.merges.sort();
    info.exits.sort();
    frames.set(frame, info);
  }
  return { frames, frameOf };
}

/** The TF tensor name of a reference, as TF.js names outputs: 'node' for output 0, else 'node:k'. */
const tensorName = (node: string, index: number): string => (index === 0 ? node : `${node}:${index}`);

export function convertTfjsGraph(artifacts: Pick<TfjsArtifacts, 'jsonFile' | 'json' | 'specs' | 'weightData'>, options: GraphConvertOptions = {}): GraphConversion {
  const file = artifacts.jsonFile;
  const graph = artifacts.json.modelTopology as GraphDef;
  if (!Array.isArray(graph?.node)) throw new ModelGateError(`${file}: modelTopology has no node list; not a TF.js graph model`);
  const nodes = new Map<string, TfNode>();
  for (const n of graph.node) {
    if (!n || typeof n.name !== 'string' || typeof n.op !== 'string') throw new ModelGateError(`${file}: a node without a name or op`);
    if (nodes.has(n.name)) throw new ModelGateError(`${file}: two nodes are named '${n.name}'`);
    nodes.set(n.name, n);
  }
  const weights = decodeWeights(artifacts.specs, artifacts.weightData, file);
  const signature = (artifacts.json.signature ?? (artifacts.json.userDefinedMetadata as { signature?: Signature } | undefined)?.signature) as Signature | undefined;

  // Outputs: the signature's when there is one, else every node nothing reads (graph order, as TF.js).
  const consumed = new Set(graph.node.flatMap((n) => (n.input ?? []).map((r) => parseInput(r).node)));
  const outputRefs: Array<{ node: string; index: number }> = signature?.outputs
    ? Object.values(signature.outputs).map((o) => parseInput(o.name ?? ''))
    : graph.node.filter((n) => !consumed.has(n.name) && !SKIPPED.has(n.op)).map((n) => ({ node: n.name, index: 0 }));
  if (outputRefs.length === 0) throw new ModelGateError(`${file}: the graph has no outputs`);
  for (const r of outputRefs) if (!nodes.has(r.node)) throw new ModelGateError(`${file}: the signature names output '${r.node}', which is not a node`);

  const placeholders = graph.node.filter((n) => n.op === 'Placeholder');
  const g = new GraphBuilder(placeholders.map((p) => p.name));
  const inputs: GraphInput[] = [];
  const values = new Map<string, Value[]>();
  // Every input's declared dims, so that a shape left open can be chosen by the load stage (src/load/assume.ts).
  const declaredInputs: DeclaredInput[] = [];
  const open: string[] = [];
  const consumersOf = (name: string): TfNode[] => graph.node.filter((n) => (n.input ?? []).some((r) => !parseInput(r).control && parseInput(r).node === name));
  const broadcastOnly: Array<{ p: TfNode; uses: TfNode[]; dtype: TfDType }> = [];
  /** Whether the tensor reaches a Switch predicate through value-keeping ops and comparisons (the value decides a tf.cond). */
  const decidesCond = (start: string): boolean => {
    const seen = new Set<string>();
    const stack = [start];
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      for (const n of graph.node) {
        const k = (n.input ?? []).map(parseInput).findIndex((r) => !r.control && r.node === name);
        if (k < 0) continue;
        if (n.op === 'Switch' && k === 1) return true;
        if (COND_PATH.has(n.op)) stack.push(n.name);
      }
    }
    return false;
  };
  for (const p of placeholders) {
    const label = `${file}: input '${p.name}'`;
    const attrs = new Attrs(p, label);
    const sig = signature?.inputs ? Object.values(signature.inputs).find((s) => parseInput(s.name ?? '').node === p.name) : undefined;
    // The Placeholder's shape, its unknown dims filled from the signature's where that names them (an
    // exporter may leave the graph's dims free and fix the served size in the signature).
    const own = shapeDims(attrs.shape('shape'));
    const signed = shapeDims(sig?.tensorShape);
    const declared = own && signed && signed.length === own.length ? own.map((d, k) => (d < 0 && signed[k]! >= 0 ? signed[k]! : d)) : (own ?? signed);
    const given = options.inputShapes?.[p.name];
    if (!declared && !given) {
      // Broadcast to a computed shape only (a recurrent state that starts as zeros of any broadcastable
      // shape): its rank is the target's, known once the graph is converted.
      const uses = consumersOf(p.name);
      if (uses.length > 0 && uses.every((n) => n.op === 'BroadcastTo' && parseInput(n.input?.[0] ?? '').node === p.name)) {
        broadcastOnly.push({ p, uses, dtype: tfDType(attrs.type('dtype') ?? sig?.dtype, label) });
        continue;
      }
      if (decidesCond(p.name)) {
        // TF takes a Switch predicate of one element: the input is one value (a scalar), as tf.scalar feeds it.
        const dtype = tfDType(attrs.type('dtype') ?? sig?.dtype, label);
        declaredInputs.push({ name: p.name, dims: [] });
        inputs.push({ name: p.name, shape: [], dtype });
        values.set(p.name, [{ name: p.name, shape: [], dtype }]);
        continue;
      }
      throw new ModelGateError(`${label} has an unknown rank and the graph does not fix it; give its shape (in modelgate.yml: inputs: { ${p.name}: { shape: [...] } })`);
    }
    let shape = declared ?? [-1, ...given!];
    if (given) {
      if (given.length !== shape.length - 1 || given.some((d, k) => shape[k + 1]! >= 0 && shape[k + 1] !== d)) {
        throw new ModelGateError(`${label}: shape [${given.join(', ')}] does not fit the model's [${shape.slice(1).map((d) => (d < 0 ? '?' : d)).join(', ')}]`);
      }
      shape = [shape[0]!, ...given];
    }
    // A rank-0 input (a scalar setting such as a ratio or a threshold) has no batch axis.
    declaredInputs.push({ name: p.name, dims: shape.map((d) => ({ value: d < 0 ? null : d, param: '' })) });
    if (shape.slice(1).some((d) => d < 0)) {
      open.push(
        `${label} has shape [${shape.map((d) => (d < 0 ? '?' : d)).join(', ')}]: every dimension but the batch must be known; ` +
          `give its shape (in modelgate.yml: inputs: { ${p.name}: { shape: [1, ${shape.slice(1).map((d) => (d < 0 ? '…' : d)).join(', ')}] } })`,
      );
      continue;
    }
    if (shape.slice(1).reduce((a, b) => a * b, 1) > MAX_INPUT_ELEMENTS) throw new ModelGateError(`${label} of shape [${shape.join(', ')}] has more than ${MAX_INPUT_ELEMENTS} elements per sample`);
    const dtype = tfDType(attrs.type('dtype') ?? sig?.dtype, label);
    inputs.push({ name: p.name, shape, dtype });
    values.set(p.name, [{ name: p.name, shape, dtype }]);
  }

  if (open.length > 0) throw new InputDimsError(open.join('\n'), declaredInputs);

  let ops = 0;
  const visiting = new Set<string>();
  const frames = loopFrames(graph.node, file);
  /** The loop iteration being unrolled: its frame, and the values of the frame's nodes in this iteration. */
  let iteration: { frame: string; values: Map<string, Value[]> } | undefined;
  const loopResults = new Map<string, Map<string, Value[]>>();

  const convertNode = (name: string): Value[] => {
    const frame = frames.frameOf.get(name);
    if (frame !== undefined && iteration?.frame !== frame) {
      throw new ModelGateError(`${file}: node '${name}' of loop '${frame}' is read from outside the loop, not through an Exit`);
    }
    const scope = frame !== undefined ? iteration!.values : (branch?.values ?? values);
    const known = scope.get(name) ?? (branch && frame === undefined ? values.get(name) : undefined);
    if (known) return known;
    const node = nodes.get(name)!;
    if (visiting.has(name)) throw new ModelGateError(`${file}: node '${name}' (${node.op}) is part of a cycle that is not a TF while loop`);
    visiting.add(name);
    const label = `${file}: node '${node.name}' (${node.op})`;
    let out: Value[];
    const dataInputs = (): Value[] =>
      (node.input ?? [])
        .map(parseInput)
        .filter((r) => !r.control)
        .map((r) => {
          if (!nodes.has(r.node)) throw new ModelGateError(`${label}: input '${r.node}' is not a node of the graph`);
          const v = convertNode(r.node)[r.index];
          if (!v) throw new ModelGateError(`${label}: input '${tensorName(r.node, r.index)}' does not exist`);
          return v;
        });
    const pending = node.op === 'Placeholder' ? broadcastOnly.find((e) => e.p.name === name) : undefined;
    if (pending) {
      out = withoutBranch(() => resolveBroadcast(pending));
    } else if (node.op === 'Exit') {
      const loop = parseInput(node.input?.[0] ?? '').node;
      const f = frames.frameOf.get(loop);
      if (f === undefined) throw new ModelGateError(`${label}: its input is not part of a while loop`);
      let results = loopResults.get(f);
      if (!results) {
        results = unroll(f);
        loopResults.set(f, results);
      }
      out = results.get(node.name)!;
    } else if (node.op === 'Merge' && frame === undefined && runtimeCond(node.name)) {
      out = runtimeMerge(node, runtimeCond(node.name)!);
    } else if (node.op === 'Switch' && branch && frame === undefined) {
      out = branchSwitch(node, label);
    } else if (CONTROL_FLOW.has(node.op)) {
      out = controlFlow(node, label, dataInputs());
    } else if (node.op === 'Const') {
      const w = weights.get(node.name);
      const attrs = new Attrs(node, label);
      const inline = attrs.tensor('value');
      const c = w ?? (inline ? inlineTensor(inline, label) : undefined);
      if (!c) throw new ModelGateError(`${label}: its value is neither in the weights manifest nor in the node`);
      out = [{ name: '', shape: c.shape, dtype: c.dtype, constant: c.data }];
    } else {
      const convert = OP_CONVERTERS[node.op];
      if (!convert) {
        throw new ModelGateError(`${label}: op ${node.op} is not supported by the TF.js graph importer; supported ops: ${SUPPORTED_TF_OPS.join(', ')}`);
      }
      const ins = dataInputs();
      if (ins.some((v) => v.dead)) {
        out = DEAD_OUTPUTS;
      } else {
        g.node = node;
        g.attrs = new Attrs(node, label);
        ops++;
        const result = convert(g, ins);
        out = Array.isArray(result) ? result : [result];
      }
    }
    visiting.delete(name);
    scope.set(name, out);
    return out;
  };

  /** The If branch being converted: the tf.cond's predicate tensor, the side taken, the branch's values. */
  let branch: { pred: string; side: 0 | 1; values: Map<string, Value[]> } | undefined;
  /** The predicate tensor of each Merge that joins a tf.cond (the Switches its inputs come from), or '' for none. */
  const mergeConds = new Map<string, string>();
  const condOf = (merge: TfNode): string => {
    let pred = mergeConds.get(merge.name);
    if (pred !== undefined) return pred;
    const preds = new Set<string>();
    const seen = new Set<string>();
    const stack = (merge.input ?? []).map(parseInput).filter((r) => !r.control).map((r) => r.node);
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const n = nodes.get(name);
      if (!n) continue;
      if (n.op === 'Switch') {
        const r = parseInput((n.input ?? [])[1] ?? '');
        preds.add(tensorName(r.node, r.index));
        continue;
      }
      for (const r of (n.input ?? []).map(parseInput)) if (!r.control) stack.push(r.node);
    }
    pred = preds.size === 1 ? [...preds][0]! : '';
    mergeConds.set(merge.name, pred);
    return pred;
  };
  /** The predicate tensor of a Merge's tf.cond when the predicate is only known at run time. */
  const runtimeCond = (name: string): string | undefined => {
    const pred = condOf(nodes.get(name)!);
    if (!pred) return undefined;
    const r = parseInput(pred);
    const v = withoutBranch(() => convertNode(r.node)[r.index]);
    return v && !v.constant && !v.dead ? pred : undefined;
  };
  const withoutBranch = <T>(f: () => T): T => {
    const saved = branch;
    branch = undefined;
    try {
      return g.outside(f);
    } finally {
      branch = saved;
    }
  };
  /** A Switch inside an If branch: its value (an outer-scope tensor the body reads) on the branch's side, dead on the other. */
  const branchSwitch = (node: TfNode, label: string): Value[] => {
    const [d, p] = (node.input ?? []).map(parseInput).filter((r) => !r.control);
    if (!d || !p) throw new ModelGateError(`${label}: expects a value and a predicate`);
    if (tensorName(p.node, p.index) !== branch!.pred) throw new ModelGateError(`${label}: a tf.cond inside the branch of another tf.cond with a run-time predicate is not supported`);
    const data = withoutBranch(() => convertNode(d.node)[d.index]);
    if (!data) throw new ModelGateError(`${label}: input '${tensorName(d.node, d.index)}' does not exist`);
    if (data.dead) return DEAD_OUTPUTS;
    return branch!.side ? [DEAD, data] : [data, DEAD];
  };
  /** The If each runtime tf.cond becomes, by predicate tensor: one output per Merge of the cond. */
  const conds = new Map<string, Map<string, Value>>();
  /**
   * A tf.cond whose predicate is computed from the inputs becomes an ONNX If: each branch is converted
   * as a subgraph body (Switches give the outer tensor on their side, dead on the other, as for a
   * constant predicate) and every Merge of the cond is one output of the If. The branches may give
   * different shapes (ONNX If allows it); the If's dims are those both agree on.
   */
  const runtimeMerge = (node: TfNode, pred: string): Value[] => {
    let outs = conds.get(pred);
    if (!outs) {
      const merges = graph.node.filter((n) => n.op === 'Merge' && !frames.frameOf.has(n.name) && condOf(n) === pred);
      const r = parseInput(pred);
      const predValue = withoutBranch(() => convertNode(r.node)[r.index]!);
      const where = `${file}: tf.cond on '${pred}'`;
      // ONNX If: then_branch runs when cond is true, which is the Switch's output 1.
      const bodies = ([1, 0] as const).map((side) => {
        const end = g.enterBody();
        const saved = branch;
        branch = { pred, side, values: new Map() };
        const bodyOutputs: Array<{ name: string; v: Value }> = [];
        try {
          for (const m of merges) {
            g.node = m;
            const live = (m.input ?? []).map(parseInput).filter((x) => !x.control).map((x) => convertNode(x.node)[x.index]).filter((v) => v && !v.dead);
            if (live.length !== 1) throw new ModelGateError(`${where}: Merge '${m.name}' has ${live.length} live inputs in the ${side ? 'true' : 'false'} branch; it takes one`);
            const v = live[0]!;
            if (v.list) throw new ModelGateError(`${where}: Merge '${m.name}' passes a TensorList, which an If branch cannot return`);
            bodyOutputs.push({ name: g.emit('Identity', [g.tf(v)], [], side ? 'then_output' : 'else_output'), v });
          }
        } finally {
          branch = saved;
        }
        const body = end();
        return {
          graph: onnx.GraphProto.create({
            name: `${merges[0]!.name}/${side ? 'then' : 'else'}_branch`,
            node: body,
            output: bodyOutputs.map((o) => valueInfo(o.name, o.v.dtype, o.v.shape, false)),
          }),
          values: bodyOutputs.map((o) => o.v),
        };
      });
      const [then, otherwise] = bodies as [(typeof bodies)[0], (typeof bodies)[0]];
      g.node = merges[0]!;
      g.attrs = new Attrs(merges[0]!, where);
      let cond = g.tf(predValue);
      if (predValue.dtype !== 'bool') cond = g.emit('Cast', [cond], [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: ONNX_TYPE.bool }], 'cond');
      const names = g.emitOutputs(
        'If',
        [cond],
        [
          { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: then.graph },
          { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: otherwise.graph },
        ],
        merges.map((_, k) => `output${k}`),
      );
      outs = new Map();
      for (const [k, m] of merges.entries()) {
        const a = then.values[k]!;
        const b = otherwise.values[k]!;
        if (a.shape.length !== b.shape.length || a.dtype !== b.dtype) {
          throw new ModelGateError(`${where}: Merge '${m.name}' gets [${a.shape.join(', ')}] ${a.dtype} from one branch and [${b.shape.join(', ')}] ${b.dtype} from the other; an If needs the same rank and type`);
        }
        outs.set(m.name, { name: names[k]!, shape: a.shape.map((d, i) => (d === b.shape[i] ? d : -1)), dtype: a.dtype });
      }
      conds.set(pred, outs);
    }
    return [outs.get(node.name)!];
  };

  /**
   * Switch, Merge, Enter, LoopCond, NextIteration outside an unrolled iteration's presets. A Switch
   * on a constant predicate sends its value one way and a dead value the other (TF's dead tensors);
   * a node with a dead input is dead, and Merge passes on its one live input.
   */
  const controlFlow = (node: TfNode, label: string, ins: Value[]): Value[] => {
    if (node.op === 'Merge') {
      const live = ins.filter((v) => !v.dead);
      if (live.length !== 1) throw new ModelGateError(`${label}: ${live.length} of its inputs are live; a Merge takes one (a tf.cond on a predicate known at conversion)`);
      return [live[0]!, { name: '', shape: [], dtype: 'int32', constant: Int32Array.of(ins.indexOf(live[0]!)) }];
    }
    if (ins.some((v) => v.dead)) return DEAD_OUTPUTS;
    if (node.op === 'Switch') {
      const [data, pred] = ins;
      if (!data || !pred) throw new ModelGateError(`${label}: expects a value and a predicate`);
      if (!pred.constant) {
        // A runtime tf.cond is converted from its Merges (runtimeMerge); a Switch reached otherwise is read
        // outside the cond's branches or joins Merges of several conds (nested conds).
        throw new ModelGateError(`${label}: the predicate of this tf.cond is computed from the inputs and its branches do not end in Merges of this cond alone (nested conds are not supported)`);
      }
      return pred.constant[0] ? [DEAD, data] : [data, DEAD];
    }
    // Enter (outside an iteration: the loop is unrolled from its Exit), LoopCond, NextIteration: the value.
    if (!ins[0]) throw new ModelGateError(`${label}: expects an input`);
    return [ins[0]];
  };

  /**
   * Unrolls a TF while loop (Enter → Merge → LoopCond → Switch → body → NextIteration, Exit) whose
   * trip count is known at conversion: the condition is evaluated on constants each iteration and the
   * body converted once per iteration, its Merges preset to the values of the previous one. tf.map_fn
   * over a fixed batch is such a loop. Returns each Exit's value.
   */
  const unroll = (frame: string): Map<string, Value[]> => {
    const info = frames.frames.get(frame)!;
    const where = `${file}: while loop '${frame}'`;
    const enterValues = new Map(info.enters.map((e) => [e, [inputValue(nodes.get(e)!, 0, where)]]));
    const state = new Map<string, Value[]>();
    for (const m of info.merges) {
      const enter = (nodes.get(m)!.input ?? []).map((r) => parseInput(r).node).find((n) => info.enters.includes(n));
      state.set(m, enterValues.get(enter!)!);
    }
    const outer = iteration;
    try {
      for (let k = 0; ; k++) {
        if (k > MAX_UNROLL) throw new ModelGateError(`${where} runs more than ${MAX_UNROLL} iterations; longer loops are not unrolled`);
        iteration = { frame, values: new Map() };
        for (const [e, v] of enterValues) iteration.values.set(e, v);
        for (const [m, v] of state) iteration.values.set(m, [v[0]!, { name: '', shape: [], dtype: 'int32', constant: Int32Array.of(k === 0 ? 0 : 1) }]);
        const pred = inputValue(nodes.get(info.loopCond)!, 0, where);
        if (!pred.constant) {
          throw new ModelGateError(`${where}: its condition depends on the input data (node '${info.loopCond}'); only loops with a trip count known at conversion are supported`);
        }
        if (!pred.constant[0]) {
          const results = new Map<string, Value[]>();
          for (const exit of info.exits) {
            const sw = nodes.get(parseInput(nodes.get(exit)!.input![0]!).node)!;
            results.set(exit, [inputValue(sw, 0, where)]);
          }
          return results;
        }
        for (const m of info.merges) {
          const next = (nodes.get(m)!.input ?? []).map((r) => parseInput(r).node).find((n) => nodes.get(n)?.op === 'NextIteration');
          if (!next) throw new ModelGateError(`${where}: Merge '${m}' has no NextIteration input`);
          state.set(m, [inputValue(nodes.get(next)!, 0, where)]);
        }
      }
    } finally {
      iteration = outer;
    }
  };
  /** The value of a node's k-th data input. */
  const inputValue = (node: TfNode, k: number, where: string): Value => {
    const r = (node.input ?? []).map(parseInput).filter((x) => !x.control)[k];
    const v = r && nodes.has(r.node) ? convertNode(r.node)[r.index] : undefined;
    if (!v) throw new ModelGateError(`${where}: node '${node.name}' (${node.op}) has no input ${k}`);
    return v;
  };

  // Inputs of unknown rank that are only broadcast: [1, ..., 1] of the rank they are broadcast to, the
  // smallest tensor that broadcasts there (a zero state fed as a scalar reaches the same values). The
  // shape one is broadcast to may depend on another (a recurrent state read after the first's cell):
  // each is resolved when the walk first reaches it, or after the walk.
  function resolveBroadcast({ p, uses, dtype }: (typeof broadcastOnly)[number]): Value[] {
    const label = `${file}: input '${p.name}'`;
    const ranks = new Set(
      uses.map((u) => {
        const r = parseInput((u.input ?? [])[1] ?? '');
        const target = nodes.has(r.node) ? convertNode(r.node)[r.index] : undefined;
        const rank = target?.shape.length === 1 ? target.shape[0]! : -1;
        if (!(rank >= 1)) throw new ModelGateError(`${label} has an unknown rank, and the shape node '${u.name}' broadcasts it to has no known length; give its shape (in modelgate.yml: inputs: { ${p.name}: { shape: [...] } })`);
        return rank;
      }),
    );
    if (ranks.size !== 1) throw new ModelGateError(`${label} has an unknown rank and is broadcast to shapes of ranks ${[...ranks].join(' and ')}; give its shape (in modelgate.yml: inputs: { ${p.name}: { shape: [...] } })`);
    const shape = new Array<number>([...ranks][0]!).fill(1);
    inputs.push({ name: p.name, shape, dtype });
    values.set(p.name, [{ name: p.name, shape, dtype }]);
    return values.get(p.name)!;
  }
  for (const entry of broadcastOnly) if (!values.has(entry.p.name)) withoutBranch(() => resolveBroadcast(entry));
  const order = new Map(placeholders.map((p, k) => [p.name, k]));
  inputs.sort((a, b) => order.get(a.name)! - order.get(b.name)!);

  const outputs: GraphOutput[] = [];
  const outputInfos: onnx.ValueInfoProto[] = [];
  const finals = outputRefs.map((r) => {
    const v = convertNode(r.node)[r.index];
    if (!v) throw new ModelGateError(`${file}: output '${tensorName(r.node, r.index)}' does not exist`);
    return { r, v };
  });
  // Names read anywhere, If bodies included (they read outer-scope tensors).
  const readBy = (list: onnx.INodeProto[]): string[] =>
    list.flatMap((n) => [...(n.input ?? []), ...(n.attribute ?? []).flatMap((a) => (a.g ? [...readBy(a.g.node ?? []), ...(a.g.output ?? []).map((o) => o.name ?? '')] : []))]);
  const consumers = new Set(readBy(g.nodes));
  const renamed = new Set<string>();
  for (const { r, v } of finals) {
    g.node = nodes.get(r.node)!;
    const tfName = tensorName(r.node, r.index);
    let name = tfName;
    for (let k = 1; !g.reserve(name); k++) name = `${tfName}_output${k > 1 ? k : ''}`;
    const source = g.tf(v);
    const producer = g.nodes.find((n) => n.output.includes(source));
    if (producer && !consumers.has(source) && !renamed.has(source)) {
      // Name the producing node's output directly rather than adding an Identity.
      producer.output = producer.output.map((o) => (o === source ? name : o));
      renamed.add(source);
    } else {
      g.nodes.push(onnx.NodeProto.create({ name: g.unique(`${name}/Identity_node`), opType: 'Identity', input: [source], output: [name] }));
    }
    outputs.push({ name, tfName, shape: v.shape, dtype: v.dtype });
    outputInfos.push(valueInfo(name, v.dtype, v.shape));
  }

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'modelgate',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: 'tfjs_graph_model',
      node: g.nodes,
      initializer: g.initializers,
      input: inputs.map((i) => valueInfo(i.name, i.dtype, i.shape)),
      output: outputInfos,
    },
  });
  return { model, inputs, outputs, ops };
}

/** A tensor's type; unknown dims are named (N for the batch) or, with named false, left blank (an If branch's outputs, whose sizes may differ). */
function valueInfo(name: string, dtype: TfDType, shape: number[], named = true): onnx.ValueInfoProto {
  const dim = shape.map((d, i) => (d >= 0 ? { dimValue: d } : named ? { dimParam: i === 0 ? 'N' : `d${i}` } : {}));
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: ONNX_TYPE[dtype], shape: { dim } } } });
}
