/**
 * Static int8 quantization in QDQ form: QuantizeLinear → DequantizeLinear pairs on calibrated activations,
 * DequantizeLinear on int8 weights and int32 biases, laid out so ORT's QDQ selectors fuse
 * DQ → Conv/Gemm/MatMul → Q into QLinearConv / QGemm / QLinearMatMul.
 *
 * The layout follows what those selectors need:
 * - a target op reads DQ'd inputs and its output goes through Q (unless it is a graph output);
 * - Relu right after a target keeps no Q/DQ in between: its output gets the Q, whose zero point is qmin
 *   (ranges include 0), so ORT folds the Relu into the Q;
 * - MaxPool, Flatten, Reshape, ... ("data movement" ops) reuse their input's scale and zero point, so ORT
 *   drops their DQ/Q and runs them on the integers.
 */
import { DataType, cloneModel, encodeModel, type Model, type onnx } from '../model/onnx.js';
import { makeTensor } from '../model/tensor.js';
import {
  NameAllocator, checkModel, consumerMap, producerMap, describeNode, dropInitializerInputs, getFloatAttr, getIntAttr, initializerMap, intAttr, makeNode,
  opsetVersion, removeAttribute, removeUnusedInitializers, setInitializer, sortGraph,
} from '../model/graph.js';
import { ModelGateError } from '../errors.js';
import type { PassContext } from './pass.js';
import { inferTensorTypes } from './infer-types.js';
import { calibrate, type TensorRange } from './calibrate.js';
import { createHash } from 'node:crypto';
import {
  activationParams, biasSafeWeightScales, biasShift, dequantizeWeight, floatInitializer, quantizeBias, quantizeWeight, scalarTensors, selectNodes, weightTensors,
  prepareForQuantization, type QuantParams, type QuantizeOptions, type QuantType,
} from './quant-common.js';

const SUPPORTED = ['Conv', 'MatMul', 'Gemm'] as const;
/** Ops whose output values are a subset of their input values: they share the input's quantization. */
const DATA_MOVEMENT = new Set(['MaxPool', 'Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Identity', 'GlobalMaxPool', 'Slice', 'Gather', 'DepthToSpace', 'SpaceToDepth']);
/**
 * Activations ORT folds into the following QuantizeLinear: Relu when the zero point is qmin, Clip when the
 * quantized range lies inside the clip range (always true of a calibrated Clip output).
 */
const FOLDABLE_ACTIVATIONS = new Set(['Relu', 'Clip']);
export const DEFAULT_SAMPLES = 256;

interface Target {
  node: onnx.INodeProto;
  activation: string;
  weight: { values: Float32Array; dims: number[]; name: string; axis: number };
  bias?: { values: Float32Array; name: string };
}

export async function quantizeStatic(input: Model, options: QuantizeOptions, ctx: PassContext): Promise<Model> {
  // QuantizeLinear exists from 10; its per-channel form from 13.
  const prepared = await prepareForQuantization(input, 'quantize', { required: 10, preferred: options.per_channel ?? true ? 13 : 10 }, ctx);
  const model = prepared === input ? cloneModel(input) : prepared;
  dropInitializerInputs(model);
  const graph = model.graph!;
  sortGraph(graph);
  const opset = opsetVersion(model);
  const activationType: QuantType = options.activation_type ?? 'uint8';
  const weightType: QuantType = options.weight_type ?? 'int8';
  const symmetric = options.symmetric ?? true;
  let perChannel = options.per_channel ?? true;
  if (perChannel && opset < 13) {
    ctx.log(`quantize (static): opset ${opset} has no per-channel DequantizeLinear (needs 13); weights are quantized per tensor`);
    perChannel = false;
  }
  const method = options.calibration ?? 'minmax';
  if (options.percentile !== undefined && method !== 'percentile') {
    throw new ModelGateError(`pass 'quantize': option 'percentile' needs calibration: percentile (calibration is ${method})`);
  }

  const selected = selectNodes(graph, options, SUPPORTED, SUPPORTED, 'quantize', 'static quantization');
  const types = await inferTensorTypes(model);
  const inits = initializerMap(graph);
  const isFloatActivation = (name: string): boolean => !!name && !inits.has(name) && types.get(name)?.elemType === DataType.FLOAT;
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name));
  const consumers = consumerMap(graph);

  // 1. Which targets can be quantized, with their weight in its stored layout and the channel axis.
  const targets = new Map<onnx.INodeProto, Target>();
  const skipped: string[] = [];
  for (const node of selected) {
    const reason = targetFor(node);
    if (typeof reason === 'string') skipped.push(`${describeNode(node)}: ${reason}`);
    else targets.set(node, reason);
  }
  function targetFor(node: onnx.INodeProto): Target | string {
    const x = node.input?.[0] ?? '';
    if (!isFloatActivation(x)) return `input '${x}' is not a float32 activation`;
    const w = floatInitializer(inits, node.input?.[1]);
    if (!w) return `weight '${node.input?.[1] ?? ''}' is not a float32 initializer`;
    let axis: number;
    let values = w.values;
    let channels: number;
    if (node.opType === 'Conv') {
      if (w.dims.length < 3) return `weight has rank ${w.dims.length}`;
      axis = 0;
      channels = w.dims[0]!;
    } else {
      if (w.dims.length !== 2) return `weight has rank ${w.dims.length}, not 2`;
      const transB = node.opType === 'Gemm' && getIntAttr(node, 'transB', 0) !== 0;
      axis = transB ? 0 : 1;
      channels = w.dims[axis]!;
      if (node.opType === 'Gemm') {
        if (getIntAttr(node, 'transA', 0) !== 0) return 'transA=1 is not handled';
        const alpha = getFloatAttr(node, 'alpha', 1);
        if (alpha !== 1) values = values.map((v) => v * alpha);
      }
    }
    const target: Target = { node, activation: x, weight: { values, dims: w.dims, name: w.tensor.name!, axis } };
    const biasName = node.opType === 'MatMul' ? undefined : node.input?.[2];
    if (biasName) {
      const b = floatInitializer(inits, biasName);
      const beta = node.opType === 'Gemm' ? getFloatAttr(node, 'beta', 1) : 1;
      // QLinearConv/QGemm take a 1-D int32 bias; anything else stays a float input.
      if (b && b.values.length === channels && (b.dims.length === 1 || (b.dims.length === 2 && b.dims[0] === 1))) {
        target.bias = { values: beta === 1 ? b.values : b.values.map((v) => v * beta), name: biasName };
      } else if (beta !== 1) {
        return 'beta ≠ 1 with a bias that is not a 1-D initializer';
      }
    }
    return target;
  }

  // 2. Which activations get Q/DQ, and whose calibrated range each one uses.
  //    - every target's activation input;
  //    - a Conv's output (or the output of the Relu right after it): QLinearConv needs an output scale, while
  //      Gemm/MatMul fuse with a float output too (QGemm, MatMulIntegerToFloat), which keeps logits exact;
  //    - upstream through data-movement ops, sharing the upstream tensor's range (a superset of theirs), so
  //      that ORT drops their DQ/Q and runs them on integers.
  const producers = producerMap(graph);
  const paramsOwner = new Map<string, string>();
  const calibrated: string[] = [];
  const ownerOf = (t: string): string => {
    const known = paramsOwner.get(t);
    if (known) return known;
    const p = producers.get(t);
    const u = p?.input?.[0] ?? '';
    const owner = p && DATA_MOVEMENT.has(p.opType ?? '') && (p.domain ?? '') === '' && isFloatActivation(u) ? ownerOf(u) : t;
    paramsOwner.set(t, owner);
    if (owner === t) calibrated.push(t);
    return owner;
  };
  const want = (t: string): void => {
    if (isFloatActivation(t)) ownerOf(t);
  };
  for (const node of graph.node ?? []) {
    const target = targets.get(node);
    if (!target) continue;
    want(target.activation);
    if (node.opType !== 'Conv') continue;
    const y = node.output![0]!;
    // A graph output keeps its float value; a second consumer would block the fusion anyway.
    if (graphOutputs.has(y)) continue;
    const next = consumers.get(y) ?? [];
    const act = next.length === 1 ? next[0]! : undefined;
    if (act && FOLDABLE_ACTIVATIONS.has(act.opType ?? '') && (act.domain ?? '') === '' && !graphOutputs.has(act.output![0]!)) want(act.output![0]!);
    else want(y);
  }

  // Bias correction needs each corrected target's input mean per channel: the channel axis of its input.
  const correctBias = options.bias_correction ?? true;
  const meanAxes = new Map<string, number>();
  if (correctBias) {
    // Only nodes with a bias: adding one would grow the file (8 bytes a channel) for what is often a small gain.
    for (const t of targets.values()) if (t.bias) meanAxes.set(t.activation, t.node.opType === 'Conv' ? 1 : -1);
  }

  // 3. Calibrate.
  const samples = options.samples ?? DEFAULT_SAMPLES;
  let params = new Map<string, QuantParams>();
  let means = new Map<string, Float64Array>();
  if (calibrated.length > 0) {
    // A tensor's range (or mean) depends on the float model, the samples and the method only, not on which
    // other tensors are calibrated with it: results kept in ctx.memo are reused by later runs on the same input.
    const memo = ctx.memo;
    const base = memo ? `quantize|calibration|${createHash('sha256').update(encodeModel(input)).digest('hex')}|${method}|${options.percentile ?? ''}|${samples}|` : '';
    const meanKey = (t: string): string => `${base}mean|${meanAxes.get(t)}|${t}`;
    const missing = memo ? calibrated.filter((t) => !memo.has(base + t)) : calibrated;
    const missingMeans = new Map([...meanAxes].filter(([t]) => !memo?.has(meanKey(t))));
    let ranges = new Map<string, TensorRange>();
    if (missing.length > 0 || missingMeans.size > 0) {
      const feeds = await ctx.calibration(samples);
      ({ ranges, means } = await calibrate(input, missing, feeds, { method, percentile: options.percentile, means: missingMeans }));
      ctx.log(`quantize (static): calibrated ${missing.length} tensors on ${feeds.length} samples (${method})${memo && missing.length < calibrated.length ? `, ${calibrated.length - missing.length} from an earlier run` : ''}`);
    } else {
      ctx.log(`quantize (static): ${calibrated.length} calibrated ranges from an earlier run on the same model`);
    }
    if (memo) {
      for (const [t, r] of ranges) memo.set(base + t, r);
      for (const [t, m] of means) memo.set(meanKey(t), m);
      means = new Map([...meanAxes.keys()].map((t) => [t, memo.get(meanKey(t)) as Float64Array]));
    }
    params = new Map(calibrated.map((name) => {
      const r = (ranges.get(name) ?? memo!.get(base + name)) as TensorRange;
      return [name, activationParams(r.min, r.max, activationType)];
    }));
  }

  // 4. Rewrite.
  const names = new NameAllocator(graph);
  const qParamNames = new Map<string, { scale: string; zp: string }>();
  const paramsFor = (owner: string): { scale: string; zp: string } => {
    let p = qParamNames.get(owner);
    if (!p) {
      const t = scalarTensors(names.next(`${owner}_scale`), names.next(`${owner}_zero_point`), params.get(owner)!);
      setInitializer(graph, t.scale);
      setInitializer(graph, t.zp);
      p = { scale: t.scale.name, zp: t.zp.name };
      qParamNames.set(owner, p);
    }
    return p;
  };
  const dequantized = new Map<string, string>();
  const qdqNodes = (t: string): onnx.INodeProto[] => {
    const p = paramsFor(paramsOwner.get(t)!);
    const q = names.next(`${t}_quantized`);
    const dq = names.next(`${t}_dequantized`);
    dequantized.set(t, dq);
    return [
      makeNode('QuantizeLinear', [t, p.scale, p.zp], [q], { name: names.next(`${t}_QuantizeLinear`) }),
      makeNode('DequantizeLinear', [q, p.scale, p.zp], [dq], { name: names.next(`${t}_DequantizeLinear`) }),
    ];
  };
  const weightDq = new Map<string, string>();
  // A weight shared by several nodes is quantized once (Gemm alpha folding makes a different tensor).
  const weightKey = (target: Target): string => `${target.weight.name}|${getFloatAttr(target.node, 'alpha', 1)}`;
  // The weight scales every reader's int32 bias needs (biasSafeWeightScales), merged per shared weight.
  const scaleFloors = new Map<string, Float32Array>();
  for (const target of targets.values()) {
    const xOwner = paramsOwner.get(target.activation);
    if (!target.bias || !xOwner) continue;
    const floors = biasSafeWeightScales(target.bias.values, params.get(xOwner)!.scale, perChannel);
    const key = weightKey(target);
    const prev = scaleFloors.get(key);
    scaleFloors.set(key, prev ? prev.map((f, c) => Math.max(f, floors[c]!)) : floors);
  }
  let raised = 0, corrected = 0;
  const weightNodes = (target: Target): onnx.INodeProto[] => {
    const out: onnx.INodeProto[] = [];
    const { node, weight } = target;
    const key = weightKey(target);
    let dq = weightDq.get(key);
    const qw = quantizeWeight(weight.values, weight.dims, weightType, symmetric, perChannel ? weight.axis : null, scaleFloors.get(key));
    if (!dq) {
      raised += qw.raised ?? 0;
      const t = weightTensors({ q: names.next(`${weight.name}_quantized`), scale: names.next(`${weight.name}_scale`), zp: names.next(`${weight.name}_zero_point`) }, weight.dims, qw);
      for (const tensor of [t.q, t.scale, t.zp]) setInitializer(graph, tensor);
      dq = names.next(`${weight.name}_dequantized`);
      const attributes = qw.axis !== null ? [intAttr('axis', qw.axis)] : [];
      out.push(makeNode('DequantizeLinear', [t.q.name, t.scale.name, t.zp.name], [dq], { name: names.next(`${weight.name}_DequantizeLinear`), attributes }));
      weightDq.set(key, dq);
    }
    node.input![1] = dq;
    if (node.opType === 'Gemm') removeAttribute(node, 'alpha');
    const xOwner = paramsOwner.get(target.activation);
    const mean = means.get(target.activation);
    if (mean && xOwner && target.bias) {
      const shift = biasShift(node, weight.values, weight.dims, dequantizeWeight(qw, weight.dims), mean);
      if (shift) {
        target.bias = { name: target.bias.name, values: target.bias.values.map((v, c) => v + shift[c]!) };
        corrected++;
      }
    }
    if (target.bias && xOwner) {
      const b = quantizeBias(target.bias.values, params.get(xOwner)!.scale, qw.scales);
      const q = makeTensor(names.next(`${target.bias.name}_quantized`), [b.data.length], b.data);
      const scale = makeTensor(names.next(`${target.bias.name}_scale`), b.scales.length > 1 ? [b.scales.length] : [], b.scales);
      setInitializer(graph, q);
      setInitializer(graph, scale);
      const bdq = names.next(`${target.bias.name}_dequantized`);
      const attributes = b.scales.length > 1 ? [intAttr('axis', 0)] : [];
      out.push(makeNode('DequantizeLinear', [q.name, scale.name], [bdq], { name: names.next(`${target.bias.name}_DequantizeLinear`), attributes }));
      node.input![2] = bdq;
      if (node.opType === 'Gemm') removeAttribute(node, 'beta');
    } else if (target.bias && node.opType === 'Gemm' && getFloatAttr(node, 'beta', 1) !== 1) {
      const scaled = names.next(`${target.bias.name}_scaled`);
      setInitializer(graph, makeTensor(scaled, [target.bias.values.length], target.bias.values));
      node.input![2] = scaled;
      removeAttribute(node, 'beta');
    }
    return out;
  };

  const newNodes: onnx.INodeProto[] = [];
  for (const v of graph.input ?? []) if (paramsOwner.has(v.name ?? '')) newNodes.push(...qdqNodes(v.name!));
  for (const node of graph.node ?? []) {
    const target = targets.get(node);
    if (target) newNodes.push(...weightNodes(target));
    // Every consumer reads the dequantized value: what the fused integer kernels will see.
    node.input = (node.input ?? []).map((i) => dequantized.get(i) ?? i);
    newNodes.push(node);
    for (const y of node.output ?? []) if (paramsOwner.has(y)) newNodes.push(...qdqNodes(y));
  }
  graph.node = newNodes;
  removeUnusedInitializers(graph);
  sortGraph(graph);
  const counts: Record<string, number> = {};
  for (const t of targets.keys()) counts[t.opType!] = (counts[t.opType!] ?? 0) + 1;
  const summary = Object.entries(counts).map(([op, n]) => `${op} ${n}`).join(', ') || 'nothing';
  const biasNotes = (corrected > 0 ? `; bias correction on ${corrected} node${corrected > 1 ? 's' : ''}` : '') + (raised > 0 ? `; ${raised} weight scales raised so that their bias fits int32 (channels of near-zero weights)` : '');
  ctx.log(`quantize (static QDQ, ${activationType} activations, ${weightType} weights${perChannel ? ' per channel' : ''}): ${summary}${biasNotes}${skipped.length ? `; left in float: ${skipped.join('; ')}` : ''}`);
  ctx.note?.(
    targets.size > 0,
    targets.size > 0
      ? `quantized ${summary}`
      : selected.length === 0
        ? `no ${(options.op_types ?? SUPPORTED).join('/')} node to quantize`
        : `no ${[...new Set(selected.map((n) => n.opType))].join('/')} node has a constant float32 weight it can quantize (${skipped.slice(0, 3).join('; ')}${skipped.length > 3 ? '; …' : ''})`,
  );
  checkModel(model, 'quantize (static) output');
  return model;
}
