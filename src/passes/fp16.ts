/**
 * The 'fp16' pass: float32 weights and activations become float16. Ops in the block list stay float32,
 * with Casts around them; with keep_io_types (the default) the model's inputs and outputs stay float32
 * and Casts sit at the edges, so callers feed and read the same types as before.
 *
 * Each float tensor has a home precision (float16, or float32 when a blocked node or a kept input makes
 * it); a consumer that needs the other precision reads a Cast, made once per tensor.
 */
import { DataType, cloneModel, dimsOf, onnx, type Model } from '../model/onnx.js';
import { floatToHalf, makeTensor, tensorToFloat32 } from '../model/tensor.js';
import {
  NameAllocator, checkModel, describeNode, dropInitializerInputs, getAttribute, getIntAttr, initializerMap, intAttr, makeNode, nodeInputs,
  outerScopeInputs, removeAttribute, removeUnusedInitializers, setAttribute, setInitializer, sortGraph, tensorAttr,
} from '../model/graph.js';
import { errorMessage } from '../errors.js';
import type { Pass, PassContext } from './pass.js';
import { inferTensorTypes, type TensorTypeInfo } from './infer-types.js';
import { prepareForQuantization } from './quant-common.js';

export interface Fp16Options {
  op_block_list?: string[];
  keep_io_types?: boolean;
}

/**
 * Ops kept in float32 whatever the user's list says: their spec pins some float input to float32
 * (Resize/Upsample scales, quantization scales before opset 19, NonMaxSuppression boxes), their output
 * type comes from a dtype attribute (Random*), or they carry subgraphs we do not convert (If/Loop/Scan).
 */
export const DEFAULT_FP16_BLOCK_LIST = [
  'Resize', 'Upsample', 'NonMaxSuppression', 'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger',
  'ConvInteger', 'QLinearConv', 'QLinearMatMul', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike',
  'Multinomial', 'Bernoulli', 'If', 'Loop', 'Scan', 'SequenceMap',
] as const;

export const fp16Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    op_block_list: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
    keep_io_types: { type: 'boolean' },
  },
} as const;

const FP16_MAX = 65504;
type Precision = 'fp32' | 'fp16';
const ELEM: Record<Precision, number> = { fp32: DataType.FLOAT, fp16: DataType.FLOAT16 };

/** float32 values → float16 bits, saturating at ±65504 instead of overflowing to infinity. */
function toHalfTensor(name: string, t: onnx.ITensorProto): { tensor: onnx.TensorProto; clamped: number } {
  const values = tensorToFloat32(t);
  let clamped = 0;
  const bits = Uint16Array.from(values, (v) => {
    if (Math.abs(v) > FP16_MAX && Number.isFinite(v)) {
      clamped++;
      return floatToHalf(Math.sign(v) * FP16_MAX);
    }
    return floatToHalf(v);
  });
  return { tensor: makeTensor(name, dimsOf(t), bits, DataType.FLOAT16), clamped };
}

function renameInSubgraphs(node: onnx.INodeProto, from: string, to: string): void {
  const visit = (g: onnx.IGraphProto): void => {
    for (const n of g.node ?? []) {
      n.input = (n.input ?? []).map((i) => (i === from ? to : i));
      for (const a of n.attribute ?? []) for (const sg of a.g ? [a.g] : a.graphs ?? []) visit(sg);
    }
    for (const o of g.output ?? []) if (o.name === from) o.name = to;
  };
  for (const a of node.attribute ?? []) for (const g of a.g ? [a.g] : a.graphs ?? []) visit(g);
}

interface Fp16Run {
  keepIo: boolean;
  blocked: (n: onnx.INodeProto) => boolean;
  names: NameAllocator;
  ctx: PassContext;
  model: Model;
  stats: { converted: number; casts: number; clamped: number; bodies: number; bodiesKept: string[] };
}

export async function convertToFp16(input: Model, options: Fp16Options, ctx: PassContext): Promise<Model> {
  // Nothing here needs a newer opset, but the old forms of Clip/Upsample/Pad... are upgraded like the quantizers do.
  const prepared = await prepareForQuantization(input, 'fp16', { required: 0, preferred: 11, exposeWeights: false }, ctx);
  // A prepared model is already a copy; only the input itself must not be mutated.
  const model = prepared === input ? cloneModel(input) : prepared;
  dropInitializerInputs(model);
  const graph = model.graph!;
  sortGraph(graph);
  const blockList = new Set<string>([...DEFAULT_FP16_BLOCK_LIST, ...(options.op_block_list ?? [])]);
  const run: Fp16Run = {
    keepIo: options.keep_io_types ?? true,
    blocked: (n) => (n.domain ?? '') !== '' || blockList.has(n.opType ?? ''),
    names: new NameAllocator(graph),
    ctx,
    model,
    stats: { converted: 0, casts: 0, clamped: 0, bodies: 0, bodiesKept: [] },
  };
  await convertGraph(graph, await inferTensorTypes(model), [], run);
  const { converted, casts, clamped, bodies, bodiesKept } = run.stats;
  const blockedCount = (graph.node ?? []).filter((n) => n.opType !== 'Cast' && run.blocked(n)).length;
  const inBodies = bodies > 0 ? `, ${bodies} subgraph bodies converted inside` : '';
  const kept = bodiesKept.length > 0 ? `; kept in float32: ${bodiesKept.join('; ')}` : '';
  ctx.log(`fp16: ${converted} initializers converted, ${casts} Casts added, ${blockedCount} nodes kept in float32${inBodies}${clamped ? `, ${clamped} weights beyond ±65504 saturated` : ''}${kept}`);
  const changed = converted > 0 || casts > 0 || bodies > 0 || !run.keepIo;
  ctx.note?.(changed, changed ? `${converted} initializers to float16${inBodies}` : 'no float32 tensor to convert');
  checkModel(model, 'fp16 output');
  return model;
}

/**
 * Element types inside a subgraph body: the body as a model of its own, whose inputs are its declared
 * inputs plus the outer-scope tensors it reads (typed from the enclosing graph), run through inferTensorTypes.
 */
async function bodyTypes(body: onnx.IGraphProto, outerTypes: ReadonlyMap<string, TensorTypeInfo>, model: Model): Promise<Map<string, TensorTypeInfo>> {
  const copy = onnx.GraphProto.decode(onnx.GraphProto.encode(body).finish());
  for (const name of outerScopeInputs(body)) {
    const t = outerTypes.get(name);
    if (!t) throw new Error(`the type of outer tensor '${name}' is unknown`);
    copy.input.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: t.elemType } } }));
  }
  const probe = onnx.ModelProto.create({ irVersion: model.irVersion, opsetImport: model.opsetImport, graph: copy });
  return inferTensorTypes(probe);
}

/**
 * Converts one graph. `outer` lists the enclosing scope's tensors a subgraph body reads: like kept inputs,
 * they arrive as float32 (the If/Loop/Scan node itself stays float32) and are cast inside the body. Bodies are
 * converted first, with keep_io semantics at their boundary, so that their outer reads still name the
 * enclosing graph's float32 tensors when this graph's own conversion renames them.
 */
async function convertGraph(graph: onnx.IGraphProto, types: ReadonlyMap<string, TensorTypeInfo>, outer: readonly string[], run: Fp16Run): Promise<void> {
  const { blocked, names, ctx } = run;
  const keepIo = outer.length > 0 || graph !== run.model.graph ? true : run.keepIo;
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      for (const body of a.g ? [a.g] : a.graphs ?? []) {
        try {
          const inner = await bodyTypes(body, types, run.model);
          await convertGraph(body, inner, outerScopeInputs(body), run);
          run.stats.bodies++;
        } catch (err) {
          run.stats.bodiesKept.push(`${describeNode(node)}.${a.name} (${errorMessage(err)})`);
        }
      }
    }
  }
  const inits = initializerMap(graph);
  const isFloat = (t: string): boolean => types.get(t)?.elemType === DataType.FLOAT;

  // Home precision and the name that holds it.
  const home = new Map<string, Precision>();
  const homeName = new Map<string, string>();
  for (const v of graph.input ?? []) if (isFloat(v.name!)) home.set(v.name!, keepIo ? 'fp32' : 'fp16');
  for (const name of outer) if (isFloat(name)) home.set(name, 'fp32');
  for (const n of graph.node ?? []) for (const o of n.output ?? []) if (o && isFloat(o)) home.set(o, blocked(n) ? 'fp32' : 'fp16');
  const casts: onnx.INodeProto[] = [];
  const castOf = new Map<string, string>();
  const version = (t: string, p: Precision): string => {
    const h = home.get(t);
    if (h === undefined || h === p) return homeName.get(t) ?? t;
    const key = `${t}|${p}`;
    let name = castOf.get(key);
    if (!name) {
      name = names.next(`${t}_${p}`);
      casts.push(makeNode('Cast', [homeName.get(t) ?? t], [name], { name: names.next(`${t}_Cast_${p}`), attributes: [intAttr('to', ELEM[p])] }));
      castOf.set(key, name);
    }
    return name;
  };

  // Graph outputs whose home differs from the precision the caller gets: the producer writes a renamed
  // tensor and a Cast writes the output's own name.
  const outPrecision: Precision = keepIo ? 'fp32' : 'fp16';
  const producerRename = new Map<string, string>();
  for (const o of graph.output ?? []) {
    const h = home.get(o.name!);
    if (h === undefined || h === outPrecision || (graph.input ?? []).some((v) => v.name === o.name)) continue;
    const renamed = names.next(`${o.name}_${h}`);
    homeName.set(o.name!, renamed);
    producerRename.set(o.name!, renamed);
    castOf.set(`${o.name}|${outPrecision}`, o.name!);
    casts.push(makeNode('Cast', [renamed], [o.name!], { name: names.next(`${o.name}_Cast_${outPrecision}`), attributes: [intAttr('to', ELEM[outPrecision])] }));
  }

  // Initializers: float16 in place when any converted node reads them, plus a float32 copy for blocked readers.
  const initReaders = new Map<string, { fp16: boolean; fp32: boolean }>();
  for (const n of graph.node ?? []) {
    for (const i of nodeInputs(n)) {
      const t = inits.get(i);
      if (!t || t.dataType !== DataType.FLOAT) continue;
      const r = initReaders.get(i) ?? { fp16: false, fp32: false };
      if (blocked(n)) r.fp32 = true;
      else r.fp16 = true;
      initReaders.set(i, r);
    }
  }
  let clamped = 0;
  let converted = 0;
  const fp32Copy = new Map<string, string>();
  for (const [name, r] of initReaders) {
    if (!r.fp16) continue;
    const original = inits.get(name)!;
    if (r.fp32) {
      const copy = names.next(`${name}_fp32`);
      setInitializer(graph, makeTensor(copy, dimsOf(original), tensorToFloat32(original)));
      fp32Copy.set(name, copy);
    }
    const half = toHalfTensor(name, original);
    clamped += half.clamped;
    converted++;
    setInitializer(graph, half.tensor);
  }

  for (const n of graph.node ?? []) {
    const isBlocked = blocked(n);
    const need: Precision = isBlocked ? 'fp32' : 'fp16';
    n.input = (n.input ?? []).map((i) => {
      if (!i) return i;
      if (initReaders.has(i)) return need === 'fp32' ? fp32Copy.get(i) ?? i : i;
      return isFloat(i) ? version(i, need) : i;
    });
    n.output = (n.output ?? []).map((o) => producerRename.get(o) ?? o);
    if (isBlocked) {
      // Outer-scope tensors a subgraph reads are float32 inside it.
      const explicit = new Set(n.input);
      for (const name of nodeInputs(n)) {
        if (explicit.has(name) || !isFloat(name)) continue;
        const v = initReaders.has(name) ? fp32Copy.get(name) ?? name : version(name, 'fp32');
        if (v !== name) renameInSubgraphs(n, name, v);
      }
      continue;
    }
    retypeNode(n, ctx);
  }

  for (const v of graph.input ?? []) {
    if (isFloat(v.name!) && home.get(v.name!) === 'fp16') v.type!.tensorType!.elemType = DataType.FLOAT16;
  }
  for (const o of graph.output ?? []) if (isFloat(o.name!) && outPrecision === 'fp16') o.type!.tensorType!.elemType = DataType.FLOAT16;
  for (const v of graph.valueInfo ?? []) {
    const h = producerRename.has(v.name!) ? outPrecision : home.get(v.name!);
    if (v.type?.tensorType?.elemType === DataType.FLOAT && h) v.type.tensorType.elemType = ELEM[h];
  }
  // Each Cast goes right after the node (or graph input) it reads: the file reads in execution order.
  const castsAfter = new Map<string, onnx.INodeProto[]>();
  for (const c of casts) {
    const list = castsAfter.get(c.input![0]!) ?? [];
    list.push(c);
    castsAfter.set(c.input![0]!, list);
  }
  const ordered: onnx.INodeProto[] = [];
  for (const v of graph.input ?? []) ordered.push(...(castsAfter.get(v.name!) ?? []));
  // Casts of outer-scope tensors (a body reading the enclosing graph) go first.
  for (const name of outer) ordered.push(...(castsAfter.get(name) ?? []));
  for (const n of graph.node ?? []) {
    ordered.push(n);
    for (const o of n.output ?? []) ordered.push(...(castsAfter.get(o) ?? []));
  }
  graph.node = ordered;
  removeUnusedInitializers(graph);
  sortGraph(graph);
  run.stats.converted += converted;
  run.stats.casts += casts.length;
  run.stats.clamped += clamped;
}

/** Attributes that make a node produce float32 (Cast to, Constant values, dtype) now make it produce float16. */
function retypeNode(n: onnx.INodeProto, ctx: PassContext): void {
  const op = n.opType;
  if (op === 'Cast') {
    if (getIntAttr(n, 'to', 0) === DataType.FLOAT) setAttribute(n, intAttr('to', DataType.FLOAT16));
    return;
  }
  if (op === 'Constant') {
    const value = getAttribute(n, 'value');
    if (value?.t && value.t.dataType === DataType.FLOAT) setAttribute(n, tensorAttr('value', toHalfTensor(value.t.name ?? '', value.t).tensor));
    const f = getAttribute(n, 'value_float');
    if (f) {
      removeAttribute(n, 'value_float');
      setAttribute(n, tensorAttr('value', makeTensor('', [], Uint16Array.of(floatToHalf(f.f ?? 0)), DataType.FLOAT16)));
    }
    const fs = getAttribute(n, 'value_floats');
    if (fs) {
      removeAttribute(n, 'value_floats');
      const vals = fs.floats ?? [];
      setAttribute(n, tensorAttr('value', makeTensor('', [vals.length], Uint16Array.from(vals, floatToHalf), DataType.FLOAT16)));
    }
    return;
  }
  if (op === 'ConstantOfShape') {
    const value = getAttribute(n, 'value');
    if (!value) setAttribute(n, tensorAttr('value', makeTensor('', [1], Uint16Array.of(0), DataType.FLOAT16)));
    else if (value.t?.dataType === DataType.FLOAT) setAttribute(n, tensorAttr('value', toHalfTensor(value.t.name ?? '', value.t).tensor));
    return;
  }
  if (getIntAttr(n, 'dtype', 0) === DataType.FLOAT) {
    setAttribute(n, intAttr('dtype', DataType.FLOAT16));
    ctx.log(`fp16: ${op} now produces float16 (dtype attribute)`);
  }
}

export const fp16Pass: Pass<Fp16Options> = {
  name: 'fp16',
  schema: fp16Schema,
  run: convertToFp16,
};
