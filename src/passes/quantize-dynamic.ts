/**
 * Dynamic int8 quantization: weights become int8 constants, activations are quantized at run time by
 * DynamicQuantizeLinear. MatMul/Gemm become the graph ORT fuses into DynamicQuantizeMatMul /
 * MatMulIntegerToFloat:
 *
 *   x ─ DynamicQuantizeLinear ─(xq, xs, xzp)─ MatMulInteger(xq, Wq, xzp, Wzp) ─ Cast ─ Mul(·, xs·Ws) [─ Add(bias)]
 *
 * Conv (only when op_types asks for it: ConvInteger is slow on x86, see shared/anchors.md) becomes
 * ConvInteger with the same tail.
 *
 * LSTM becomes onnxruntime's com.microsoft DynamicQuantizeLSTM: the ONNX LSTM inputs in the same order,
 * then W_scale, W_zero_point, R_scale, R_zero_point. Its W and R are int8 (or uint8) and stored
 * transposed against ONNX's LSTM, [num_directions, input_size, 4·hidden] and [num_directions, hidden,
 * 4·hidden], so that each direction is a [K, N] matrix for the integer GEMM; scales and zero points are
 * [num_directions] per tensor or [num_directions, 4·hidden] per column (the kernel then wants int8 zero
 * points of 0 or one uint8 zero point per direction, so per channel needs symmetric weights).
 */
import { DataType, cloneModel, type Model, type onnx } from '../model/onnx.js';
import { makeTensor } from '../model/tensor.js';
import {
  NameAllocator, checkModel, describeNode, dropInitializerInputs, ensureOpsetImport, getFloatAttr, getIntAttr,
  initializerMap, intAttr, makeNode, removeUnusedInitializers, setInitializer, sortGraph,
} from '../model/graph.js';
import { ModelGateError } from '../errors.js';
import type { PassContext } from './pass.js';
import { inferTensorTypes } from './infer-types.js';
import {
  floatInitializer, prepareForQuantization, quantizeWeight, selectNodes, transpose2d, weightTensors, type QuantizeOptions, type QuantType,
} from './quant-common.js';

const SUPPORTED = ['MatMul', 'Gemm', 'Conv', 'LSTM'] as const;
const DEFAULT_OP_TYPES = ['MatMul', 'Gemm', 'LSTM'] as const;
const CONV_ATTRIBUTES = new Set(['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides']);
/** What DynamicQuantizeLSTM declares; ONNX LSTM's `layout` (opset 14) is not among them (only layout 0 is handled). */
const LSTM_ATTRIBUTES = new Set(['activation_alpha', 'activation_beta', 'activations', 'clip', 'direction', 'hidden_size', 'input_forget']);

/**
 * An ONNX LSTM weight [D, 4H, K] as DynamicQuantizeLSTM takes it: per direction transposed to [K, 4H] and
 * quantized on its own (per tensor, or per column of 4H). Returns the data [D, K, 4H] and scales/zero
 * points of shape [D] or [D, 4H].
 */
export function quantizeLstmWeight(values: Float32Array, dims: readonly number[], type: QuantType, symmetric: boolean, perChannel: boolean) {
  const [D, N, K] = dims as [number, number, number];
  const per = N * K;
  const data = type === 'int8' ? new Int8Array(D * per) : new Uint8Array(D * per);
  const channels = perChannel ? N : 1;
  const scales = new Float32Array(D * channels);
  const zeroPoints = type === 'int8' ? new Int8Array(D * channels) : new Uint8Array(D * channels);
  for (let d = 0; d < D; d++) {
    const kn = transpose2d(values.subarray(d * per, (d + 1) * per), N, K);
    const q = quantizeWeight(kn, [K, N], type, symmetric, perChannel ? 1 : null);
    data.set(q.data, d * per);
    scales.set(q.scales, d * channels);
    zeroPoints.set(q.zeroPoints, d * channels);
  }
  return { data, dims: [D, K, N], scales, zeroPoints, scaleDims: perChannel ? [D, N] : [D] };
}

interface DynamicInput {
  q: string;
  scale: string;
  zp: string;
}

export async function quantizeDynamic(input: Model, options: QuantizeOptions, ctx: PassContext): Promise<Model> {
  // DynamicQuantizeLinear exists from opset 11.
  const prepared = await prepareForQuantization(input, 'quantize', { required: 11 }, ctx);
  // A prepared model is already a copy; only the input itself must not be mutated.
  const model = prepared === input ? cloneModel(input) : prepared;
  dropInitializerInputs(model);
  const main = model.graph!;
  sortGraph(main);
  if (options.activation_type === 'int8') {
    throw new ModelGateError(`pass 'quantize': option 'activation_type' must be uint8 in dynamic mode (DynamicQuantizeLinear produces uint8)`);
  }
  for (const key of ['calibration', 'percentile', 'samples', 'bias_correction'] as const) {
    if (options[key] !== undefined) throw new ModelGateError(`pass 'quantize': option '${key}' applies only to mode: static`);
  }
  const weightType: QuantType = options.weight_type ?? 'int8';
  const symmetric = options.symmetric ?? true;
  const perChannel = options.per_channel ?? false;

  const targets = new Set(selectNodes(main, options, SUPPORTED, DEFAULT_OP_TYPES, 'quantize', 'dynamic quantization', true));
  // Types of the main graph; inside If/Loop/Scan bodies the op's type constraint (activation and weight share
  // one type T) is what tells a float32 weight's reader is float32 too.
  const types = await inferTensorTypes(model);
  const names = new NameAllocator(main);
  const skipped: string[] = [];
  const done: Record<string, number> = {};
  // The graph being rewritten (the main graph, then each subgraph body) and what the helpers below add to it.
  let graph: onnx.IGraphProto = main;
  let inits = new Map<string, onnx.ITensorProto>();
  let newNodes: onnx.INodeProto[] = [];
  let quantizedInputs = new Map<string, DynamicInput>();
  let quantizedWeights = new Map<string, { q: string; scale: string; zp: string; channels: number }>();
  const isFloatInput = (name: string): boolean => (types.get(name)?.elemType ?? DataType.FLOAT) === DataType.FLOAT;

  const quantizeInput = (x: string): DynamicInput => {
    let q = quantizedInputs.get(x);
    if (!q) {
      q = { q: names.next(`${x}_quantized`), scale: names.next(`${x}_scale`), zp: names.next(`${x}_zero_point`) };
      newNodes.push(makeNode('DynamicQuantizeLinear', [x], [q.q, q.scale, q.zp], { name: names.next(`${x}_DynamicQuantizeLinear`) }));
      quantizedInputs.set(x, q);
    }
    return q;
  };

  /** Quantizes a weight once per (name, layout); `axis` is the output-channel axis of `values`. */
  const quantizeWeightInit = (key: string, base: string, values: Float32Array, dims: number[], axis: number, allowPerChannel = true) => {
    let w = quantizedWeights.get(key);
    if (!w) {
      const qw = quantizeWeight(values, dims, weightType, symmetric, perChannel && allowPerChannel ? axis : null);
      const channels = qw.scales.length;
      // Per output column of [K, N]: a 1-D [N] scale broadcasts against the [.., N] product.
      const t = weightTensors({ q: names.next(`${base}_quantized`), scale: names.next(`${base}_scale`), zp: names.next(`${base}_zero_point`) }, dims, qw);
      for (const tensor of [t.q, t.scale, t.zp]) setInitializer(graph, tensor);
      w = { q: t.q.name, scale: t.scale.name, zp: t.zp.name, channels };
      quantizedWeights.set(key, w);
    }
    return w;
  };

  /** Cast(int32 → float) · (xs · Ws) [+ bias] → y */
  const floatTail = (node: onnx.INodeProto, integerOut: string, x: DynamicInput, wScale: string, bias: string | undefined, y: string): void => {
    const base = node.name || y;
    const cast = names.next(`${base}_output_float`);
    const scale = names.next(`${base}_scale_product`);
    newNodes.push(makeNode('Cast', [integerOut], [cast], { name: names.next(`${base}_Cast`), attributes: [intAttr('to', DataType.FLOAT)] }));
    newNodes.push(makeNode('Mul', [x.scale, wScale], [scale], { name: names.next(`${base}_scale_Mul`) }));
    const scaled = bias ? names.next(`${base}_output_scaled`) : y;
    newNodes.push(makeNode('Mul', [cast, scale], [scaled], { name: names.next(`${base}_Mul`) }));
    if (bias) newNodes.push(makeNode('Add', [scaled, bias], [y], { name: names.next(`${base}_bias_Add`) }));
  };

  /** The bias to add after the float tail: scaled by Gemm's beta, reshaped to [C, 1, 1] for Conv. */
  const biasFor = (node: onnx.INodeProto, biasName: string | undefined, beta: number, dims?: number[]): string | undefined => {
    if (!biasName) return undefined;
    const bias = floatInitializer(inits, biasName);
    if (bias) {
      const target = dims ?? bias.dims;
      if (beta === 1 && target.join() === bias.dims.join()) return biasName;
      const name = names.next(`${biasName}_${beta !== 1 ? 'scaled' : 'reshaped'}`);
      setInitializer(graph, makeTensor(name, target, beta === 1 ? bias.values : bias.values.map((v) => v * beta)));
      return name;
    }
    if (beta === 1) return biasName;
    const betaName = names.next(`${node.name || biasName}_beta`);
    setInitializer(graph, makeTensor(betaName, [], Float32Array.of(beta)));
    const out = names.next(`${biasName}_scaled`);
    newNodes.push(makeNode('Mul', [biasName, betaName], [out], { name: names.next(`${betaName}_Mul`) }));
    return out;
  };

  const tryQuantize = (node: onnx.INodeProto): string | null => {
    const x = node.input?.[0] ?? '';
    if (!isFloatInput(x)) return `input '${x}' is not float32`;
    const w = floatInitializer(inits, node.input?.[1]);
    if (!w) return `weight '${node.input?.[1] ?? ''}' is not a float32 initializer`;
    if (node.opType === 'LSTM') return quantizeLstm(node);
    const y = node.output![0]!;
    if (node.opType === 'Conv') {
      if (w.dims.length < 3) return `weight has rank ${w.dims.length}`;
      const b = node.input?.[2];
      if (b && !floatInitializer(inits, b)) return `bias '${b}' is not a float32 initializer`;
      const channels = w.dims[0]!;
      const ones = w.dims.slice(2).map(() => 1);
      // ORT's ConvInteger kernel accepts only a per-tensor weight zero point, so Conv is always per tensor here.
      const qw = quantizeWeightInit(`conv:${w.tensor.name}`, w.tensor.name!, w.values, w.dims, 0, false);
      const xq = quantizeInput(x);
      const out = names.next(`${node.name || y}_output_int32`);
      const attrs = (node.attribute ?? []).filter((a) => CONV_ATTRIBUTES.has(a.name ?? ''));
      newNodes.push(makeNode('ConvInteger', [xq.q, qw.q, xq.zp, qw.zp], [out], { name: names.next(`${node.name || y}_ConvInteger`), attributes: attrs }));
      const bias = biasFor(node, b || undefined, 1, [channels, ...ones]);
      floatTail(node, out, xq, qw.scale, bias, y);
      return null;
    }
    if (w.dims.length !== 2) return `weight has rank ${w.dims.length}, not 2`;
    let [K, N] = w.dims as [number, number];
    let values = w.values;
    let key = `mm:${w.tensor.name}`;
    let beta = 1;
    let biasName: string | undefined;
    if (node.opType === 'Gemm') {
      if (getIntAttr(node, 'transA', 0) !== 0) return 'transA=1 is not handled';
      const alpha = getFloatAttr(node, 'alpha', 1);
      beta = getFloatAttr(node, 'beta', 1);
      biasName = node.input?.[2] || undefined;
      if (getIntAttr(node, 'transB', 0) !== 0) {
        [K, N] = [N, K];
        values = transpose2d(values, N, K);
        key += ':T';
      }
      if (alpha !== 1) {
        values = values.map((v) => v * alpha);
        key += `:alpha=${alpha}`;
      }
    }
    const qw = quantizeWeightInit(key, w.tensor.name!, values, [K, N], 1);
    const xq = quantizeInput(x);
    const out = names.next(`${node.name || y}_output_int32`);
    newNodes.push(makeNode('MatMulInteger', [xq.q, qw.q, xq.zp, qw.zp], [out], { name: names.next(`${node.name || y}_MatMulInteger`) }));
    floatTail(node, out, xq, qw.scale, biasFor(node, biasName, beta), y);
    return null;
  };

  let usesMicrosoftDomain = false;
  const lstmNotes: string[] = [];
  const lstmWeight = (t: NonNullable<ReturnType<typeof floatInitializer>>, perColumn: boolean) => {
    const key = `lstm:${t.tensor.name}:${perColumn}`;
    let q = quantizedWeights.get(key);
    if (!q) {
      const lw = quantizeLstmWeight(t.values, t.dims, weightType, symmetric, perColumn);
      const name = t.tensor.name!;
      q = { q: names.next(`${name}_quantized`), scale: names.next(`${name}_scale`), zp: names.next(`${name}_zero_point`), channels: lw.scales.length };
      setInitializer(graph, makeTensor(q.q, lw.dims, lw.data));
      setInitializer(graph, makeTensor(q.scale, lw.scaleDims, lw.scales));
      setInitializer(graph, makeTensor(q.zp, lw.scaleDims, lw.zeroPoints));
      quantizedWeights.set(key, q);
    }
    return q;
  };

  /** LSTM → DynamicQuantizeLSTM with int8 W and R; B, sequence_lens, initial states and P stay as they are. */
  const quantizeLstm = (node: onnx.INodeProto): string | null => {
    if (getIntAttr(node, 'layout', 0) !== 0) return 'layout=1 (batch first) is not handled by DynamicQuantizeLSTM';
    const W = floatInitializer(inits, node.input?.[1]);
    const R = floatInitializer(inits, node.input?.[2]);
    if (!R) return `recurrence weight '${node.input?.[2] ?? ''}' is not a float32 initializer`;
    if (W!.dims.length !== 3 || R.dims.length !== 3) return 'W or R is not 3-D';
    const optional = (node.input ?? []).slice(3, 8);
    if (optional.some((name, i) => name && i !== 1 && !isFloatInput(name))) return 'B, initial_h, initial_c or P is not float32';
    // The kernel takes per-column zero points only when they are all 0 (int8) or all equal (uint8).
    const perColumn = perChannel && symmetric;
    const [qw, qr] = [lstmWeight(W!, perColumn), lstmWeight(R, perColumn)];
    const base = node.name || node.output!.find((o) => o)!;
    const inputs = [node.input![0]!, qw.q, qr.q, ...Array.from({ length: 5 }, (_, i) => optional[i] ?? ''), qw.scale, qw.zp, qr.scale, qr.zp];
    const attributes = (node.attribute ?? []).filter((a) => LSTM_ATTRIBUTES.has(a.name ?? ''));
    newNodes.push(makeNode('DynamicQuantizeLSTM', inputs, node.output ?? [], { name: names.next(`${base}_DynamicQuantizeLSTM`), domain: 'com.microsoft', attributes }));
    usesMicrosoftDomain = true;
    if (perChannel && !perColumn) lstmNotes.push(`${describeNode(node)}: per tensor (per-channel LSTM weights need symmetric: true)`);
    return null;
  };

  /** Rewrites one graph's nodes, then the bodies of its If/Loop/Scan nodes, which see its constants as outer scope. */
  const quantizeGraph = (g: onnx.IGraphProto, outer: ReadonlyMap<string, onnx.ITensorProto>): void => {
    const visible = new Map([...outer, ...initializerMap(g)]);
    for (const v of g.input ?? []) visible.delete(v.name!);
    [graph, inits, newNodes] = [g, visible, []];
    // Quantized activations and weights are per graph: a body cannot read a sibling body's tensors.
    [quantizedInputs, quantizedWeights] = [new Map(), new Map()];
    for (const node of g.node ?? []) {
      if (!targets.has(node)) {
        newNodes.push(node);
        continue;
      }
      const mark = newNodes.length;
      const reason = tryQuantize(node);
      if (reason) {
        newNodes.length = mark;
        newNodes.push(node);
        skipped.push(`${describeNode(node)}: ${reason}`);
      } else {
        done[node.opType!] = (done[node.opType!] ?? 0) + 1;
      }
    }
    g.node = newNodes;
    const scope = new Map([...visible, ...initializerMap(g)]);
    for (const node of g.node) for (const a of node.attribute ?? []) for (const body of a.g ? [a.g] : a.graphs ?? []) quantizeGraph(body, scope);
    if (g !== main) {
      removeUnusedInitializers(g);
      sortGraph(g);
    }
  };
  quantizeGraph(main, new Map());
  if (usesMicrosoftDomain) ensureOpsetImport(model, 'com.microsoft', 1);
  removeUnusedInitializers(main);
  sortGraph(main);
  const summary = Object.entries(done).map(([op, n]) => `${op} ${n}`).join(', ') || 'nothing';
  const notes = lstmNotes.length ? ` (${lstmNotes.join('; ')})` : '';
  ctx.log(`quantize (dynamic, ${weightType} weights${perChannel ? ', per channel' : ''}): ${summary}${notes}${skipped.length ? `; left in float: ${skipped.join('; ')}` : ''}`);
  const count = Object.values(done).reduce((a, b) => a + b, 0);
  ctx.note?.(
    count > 0,
    count > 0
      ? `quantized ${summary}`
      : targets.size === 0
        ? `no ${[...new Set(options.op_types ?? DEFAULT_OP_TYPES)].join('/')} node to quantize`
        : `no ${[...new Set([...targets].map((n) => n.opType))].join('/')} node has a constant float32 weight it can quantize (${skipped.slice(0, 3).join('; ')}${skipped.length > 3 ? '; …' : ''})`,
  );
  checkModel(model, 'quantize (dynamic) output');
  return model;
}
