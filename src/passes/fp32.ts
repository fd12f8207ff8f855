/**
 * The 'fp32' pass: a float16 model computed in float32. fp16 exports (LLM decoders above all) are made for
 * GPUs; on x86 CPUs without fp16 arithmetic onnxruntime emulates them, inserting a Cast pair around every
 * node it has no fp16 kernel for, which is slow.
 *
 * Float16 initializers and Constant values become float32, Casts (and dtype attributes) that target float16
 * target float32, and value_info types follow. The graph's float16 inputs and outputs keep their declared
 * type: a candidate must take the same feeds as the reference and hand back the same types (a decoder's
 * past_key_values come from its own present outputs), so a Cast to float32 follows each fp16 input and
 * a Cast back to float16 precedes each fp16 output.
 */
import { DataType, cloneModel, dimsOf, type Model, type onnx } from '../model/onnx.js';
import { makeTensor, tensorToFloat32 } from '../model/tensor.js';
import { NameAllocator, checkModel, dropInitializerInputs, intAttr, makeNode, setIntAttr, sortGraph, getIntAttr } from '../model/graph.js';
import { ModelGateError } from '../errors.js';
import type { Pass, PassContext } from './pass.js';

export type Fp32Options = Record<string, never>;

export const fp32Schema = { type: 'object', additionalProperties: false, properties: {} } as const;

/** Integer attributes that name an element type: Cast.to, and dtype on the ops that create tensors. */
const TYPE_ATTRIBUTES: Record<string, string> = {
  Cast: 'to', EyeLike: 'dtype', RandomNormal: 'dtype', RandomUniform: 'dtype', RandomNormalLike: 'dtype', RandomUniformLike: 'dtype',
  Bernoulli: 'dtype', Multinomial: 'dtype',
};

function toFloatTensor(t: onnx.ITensorProto): onnx.TensorProto {
  return makeTensor(t.name ?? '', dimsOf(t), tensorToFloat32(t));
}

function retypeValueInfo(v: onnx.IValueInfoProto): boolean {
  const tt = v.type?.tensorType;
  if (tt?.elemType === DataType.FLOAT16) {
    tt.elemType = DataType.FLOAT;
    return true;
  }
  return false;
}

export async function convertToFp32(input: Model, _options: Fp32Options, ctx: PassContext): Promise<Model> {
  const model = cloneModel(input);
  dropInitializerInputs(model);
  const graph = model.graph!;
  sortGraph(graph);
  let tensors = 0, nodes = 0;
  graph.initializer = (graph.initializer ?? []).map((t) => {
    if (t.dataType !== DataType.FLOAT16) return t as onnx.TensorProto;
    tensors++;
    return toFloatTensor(t);
  });
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      if (a.g || (a.graphs && a.graphs.length > 0)) {
        throw new ModelGateError(`pass 'fp32': node '${node.name || node.opType}' (${node.opType}) has a subgraph; converting subgraphs is not supported`);
      }
      if (a.t && a.t.dataType === DataType.FLOAT16) {
        a.t = toFloatTensor(a.t);
        tensors++;
      }
    }
    const typeAttr = (node.domain ?? '') === '' ? TYPE_ATTRIBUTES[node.opType ?? ''] : undefined;
    if (typeAttr && getIntAttr(node, typeAttr, -1) === DataType.FLOAT16) {
      setIntAttr(node, typeAttr, DataType.FLOAT);
      nodes++;
    }
  }
  for (const v of graph.valueInfo ?? []) retypeValueInfo(v);

  const names = new NameAllocator(graph);
  const head: onnx.NodeProto[] = [];
  const tail: onnx.NodeProto[] = [];
  const renamed = new Map<string, string>();
  for (const v of graph.input ?? []) {
    if (v.type?.tensorType?.elemType !== DataType.FLOAT16) continue;
    const inner = names.next(`${v.name}_fp32`);
    renamed.set(v.name!, inner);
    head.push(makeNode('Cast', [v.name!], [inner], { name: names.next(`${v.name}_to_fp32`), attributes: [intAttr('to', DataType.FLOAT)] }));
  }
  for (const node of graph.node ?? []) node.input = (node.input ?? []).map((i) => renamed.get(i) ?? i);
  const outputRenamed = new Map<string, string>();
  for (const v of graph.output ?? []) {
    // An input passed straight through stays float16 without help.
    if (v.type?.tensorType?.elemType !== DataType.FLOAT16 || renamed.has(v.name!)) continue;
    const inner = names.next(`${v.name}_fp32`);
    outputRenamed.set(v.name!, inner);
    tail.push(makeNode('Cast', [inner], [v.name!], { name: names.next(`${v.name}_to_fp16`), attributes: [intAttr('to', DataType.FLOAT16)] }));
  }
  for (const node of graph.node ?? []) {
    node.output = (node.output ?? []).map((o) => outputRenamed.get(o) ?? o);
    // A node reading a graph output reads the float32 value too.
    node.input = (node.input ?? []).map((i) => outputRenamed.get(i) ?? i);
  }
  graph.node = [...head, ...(graph.node ?? []), ...tail];
  sortGraph(graph);
  ctx.log(`fp32: ${tensors} float16 tensor(s) and ${nodes} type attribute(s) to float32; ${head.length} input and ${tail.length} output Cast(s) keep the float16 interface`);
  checkModel(model, 'fp32 output');
  return model;
}

export const fp32Pass: Pass<Fp32Options> = {
  name: 'fp32',
  schema: fp32Schema,
  run: convertToFp32,
};
