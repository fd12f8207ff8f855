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
  for (const p of placeholders) {
    const label = `${file}: input '${p.name}'`;
    const attrs = new Attrs(p, label);
    const sig = signature?.inputs ? Object.values(signature.inputs).find((s) => parseInput(s.name ?? '').node === p.name) : undefined;
    const declared = shapeDims(attrs.shape('shape')) ?? shapeDims(sig?.tensorShape);
    const given = options.inputShapes?.[p.name];
    if (!declared && !given) throw new ModelGateError(`${label} has an unknown rank; give its shape (in modelgate.yml: inputs: { ${p.name}: { shape: [...] } })`);
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
  const convertNode = (name: string): Value[] => {
    const known = values.get(name);
    if (known) return known;
    const node = nodes.get(name)!;
    if (visiting.has(name)) throw new ModelGateError(`${file}: node '${name}' (${node.op}) is part of a cycle; control flow is not supported`);
    visiting.add(name);
    const label = `${file}: node '${node.name}' (${node.op})`;
    let out: Value[];
    if (node.op === 'Const') {
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
      const refs = (node.input ?? []).map(parseInput).filter((r) => !r.control);
      const ins = refs.map((r) => {
        if (!nodes.has(r.node)) throw new ModelGateError(`${label}: input '${r.node}' is not a node of the graph`);
        const v = convertNode(r.node)[r.index];
        if (!v) throw new ModelGateError(`${label}: input '${tensorName(r.node, r.index)}' does not exist`);
        return v;
      });
      g.node = node;
      g.attrs = new Attrs(node, label);
      ops++;
      const result = convert(g, ins);
      out = Array.isArray(result) ? result : [result];
    }
    visiting.delete(name);
    values.set(name, out);
    return out;
  };

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
