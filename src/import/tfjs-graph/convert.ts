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
      throw new ModelGateError(`${label} has an unknown rank and the graph does not fix it; give its shape (in modelgate.yml: inputs: { ${p.name}: { shape: [...] } })`);
    }
    let shape = declared ?? [-1, ...given!];
    if (given) {
      if (given.length !== shape.length - 1 || given.some((d, k) => shape[k + 1]! >= 0 && shape[k + 1] !== d)) {
        throw new ModelGateError(`${label}: shape [${given.join(', ')}] does not fit the model's [${shape.slice(1).map((d) => (d < 0 ? '?' : d)).join(', ')}]`);
      }
      shape = [shape[0]!, ...given];
    }
    if (shape.length === 0) throw new ModelGateError(`${label} is a scalar; inputs need a batch dimension`);
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
    const scope = frame !== undefined ? iteration!.values : values;
    const known = scope.get(name);
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
    if (node.op === 'Exit') {
      const loop = parseInput(node.input?.[0] ?? '').node;
      const f = frames.frameOf.get(loop);
      if (f === undefined) throw new ModelGateError(`${label}: its input is not part of a while loop`);
      let results = loopResults.get(f);
      if (!results) {
        results = unroll(f);
        loopResults.set(f, results);
      }
      out = results.get(node.name)!;
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
        throw new ModelGateError(`${label}: the predicate of this tf.cond is computed from the inputs; only conditions known at conversion are supported (a graph input that sets it must be given a constant value)`);
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
  // smallest tensor that broadcasts there (a zero state fed as a scalar reaches the same values).
  for (const { p, uses, dtype } of broadcastOnly) {
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
  }
  const order = new Map(placeholders.map((p, k) => [p.name, k]));
  inputs.sort((a, b) => order.get(a.name)! - order.get(b.name)!);

  const outputs: GraphOutput[] = [];
  const outputInfos: onnx.ValueInfoProto[] = [];
  const finals = outputRefs.map((r) => {
    const v = convertNode(r.node)[r.index];
    if (!v) throw new ModelGateError(`${file}: output '${tensorName(r.node, r.index)}' does not exist`);
    return { r, v };
  });
  const consumers = new Set(g.nodes.flatMap((n) => n.input));
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

function valueInfo(name: string, dtype: TfDType, shape: number[]): onnx.ValueInfoProto {
  const dim = shape.map((d, i) => (d >= 0 ? { dimValue: d } : { dimParam: i === 0 ? 'N' : `d${i}` }));
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: ONNX_TYPE[dtype], shape: { dim } } } });
}
