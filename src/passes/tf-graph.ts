/**
 * An ONNX graph run as TF.js ops, so that TF.js can differentiate it: the forward pass of `finetune`
 * (./finetune.ts). It covers the ops the Keras and TF.js importers emit (src/import/layers) for
 * feed-forward models: convolutions, dense layers, pooling, normalization, activations and the
 * reshaping around them. Tensors keep their ONNX layout (NCHW); a Conv or pool runs channels-last in
 * TF.js between two transposes, which every TF.js backend supports and differentiates.
 *
 * Weights (the float initializers a Conv, ConvTranspose, MatMul, Gemm, PRelu or BatchNormalization reads
 * as its weight, scale or bias, an Embedding's table (a Gather's data), and the constant of an Add right
 * after a Conv, MatMul or Gemm) become
 * tf.Variables; every other initializer is a constant. BatchNormalization uses its stored statistics
 * and Dropout is the identity: the graph is trained as it runs.
 */
import type * as tf from '@tensorflow/tfjs';
import { DataType, dimsOf, type Model, type onnx } from '../model/onnx.js';
import { tensorData } from '../model/tensor.js';
import { describeNode, getFloatAttr, getIntAttr, getIntsAttr, getStringAttr, opsetVersion, producerMap, topologicalSort } from '../model/graph.js';
import { ModelGateError } from '../errors.js';

type Node = onnx.INodeProto;
type TF = typeof tf;

/** The ops the forward pass implements. */
export const TRAINABLE_GRAPH_OPS = [
  'Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'Add', 'Sub', 'Mul', 'Div', 'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu',
  'Softplus', 'Softsign', 'HardSigmoid', 'HardSwish', 'ThresholdedRelu', 'Exp', 'Sqrt', 'Erf', 'Neg', 'Abs', 'Clip', 'Softmax', 'LogSoftmax',
  'Identity', 'Dropout', 'Cast', 'Transpose', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Concat', 'Slice', 'Gather', 'Pad',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin',
  'BatchNormalization', 'Sum', 'Mean', 'Max', 'Min',
] as const;
const SUPPORTED = new Set<string>(TRAINABLE_GRAPH_OPS);

/** Which inputs of an op are trainable weights when they are float initializers. */
const WEIGHT_SLOTS: Record<string, number[]> = {
  Conv: [1, 2], ConvTranspose: [1, 2], MatMul: [0, 1], Gemm: [0, 1, 2], PRelu: [1], BatchNormalization: [1, 2],
  // A float table a Gather reads rows of: an Embedding's weights.
  Gather: [0],
};
const BIAS_AFTER = new Set(['Conv', 'MatMul', 'Gemm']);

export interface TfGraph {
  /** Trainable weights by initializer name, in initializer order. */
  readonly variables: Map<string, tf.Variable>;
  /** Runs the graph on batch tensors; returns the named tensors (any tensor of the graph). Call inside tf.tidy. */
  run(feeds: Record<string, tf.Tensor>, wanted: readonly string[]): tf.Tensor[];
  dispose(): void;
}

/** The float initializers `finetune` trains. */
export function trainableWeights(graph: onnx.IGraphProto): Set<string> {
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const producers = producerMap(graph);
  const out = new Set<string>();
  const isFloat = (name: string | undefined) => !!name && inits.get(name)?.dataType === DataType.FLOAT;
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    for (const slot of WEIGHT_SLOTS[op] ?? []) if (isFloat(node.input?.[slot])) out.add(node.input![slot]!);
    if (op === 'Add') {
      const [a, b] = [node.input?.[0], node.input?.[1]];
      if (isFloat(b) && a && BIAS_AFTER.has(producers.get(a)?.opType ?? '')) out.add(b!);
      if (isFloat(a) && b && BIAS_AFTER.has(producers.get(b)?.opType ?? '')) out.add(a!);
    }
  }
  return out;
}

/** A constant's values as plain numbers (shapes, axes, pads). */
function ints(t: onnx.ITensorProto): number[] {
  return Array.from(tensorData(t) as ArrayLike<number | bigint>, (v) => Number(v));
}

export function buildTfGraph(t: TF, model: Model, what: string): TfGraph {
  const graph = model.graph!;
  const opset = opsetVersion(model);
  const inits = new Map((graph.initializer ?? []).map((x) => [x.name!, x]));
  const nodes = topologicalSort(graph);
  for (const n of nodes) {
    if ((n.domain ?? '') !== '' || !SUPPORTED.has(n.opType ?? '')) {
      throw new ModelGateError(`${what}: ${describeNode(n)} cannot be trained in TF.js (supported ops: ${TRAINABLE_GRAPH_OPS.join(', ')})`);
    }
  }
  const trainable = trainableWeights(graph);
  const variables = new Map<string, tf.Variable>();
  const constants = new Map<string, tf.Tensor>();
  for (const init of graph.initializer ?? []) {
    const dims = dimsOf(init);
    const data = tensorData(init);
    if (trainable.has(init.name!)) {
      variables.set(init.name!, t.variable(t.tensor(data as Float32Array, dims, 'float32'), true));
    } else if (data instanceof Float32Array || data instanceof Float64Array) {
      constants.set(init.name!, t.tensor(Float32Array.from(data), dims, 'float32'));
    } else if (!(data instanceof BigInt64Array || data instanceof BigUint64Array) || data.length <= 1 << 20) {
      constants.set(init.name!, t.tensor(Int32Array.from(data as ArrayLike<number | bigint>, (v) => Number(v)), dims, 'int32'));
    }
  }
  const constInts = (node: Node, slot: number): number[] | undefined => {
    const name = node.input?.[slot];
    if (!name) return undefined;
    const init = inits.get(name);
    if (!init) throw new ModelGateError(`${what}: ${describeNode(node)} reads its input ${slot} ('${name}') from a computed tensor; training needs it constant`);
    return ints(init);
  };

  const run = (feeds: Record<string, tf.Tensor>, wanted: readonly string[]): tf.Tensor[] => {
    const values = new Map<string, tf.Tensor>();
    for (const [k, v] of Object.entries(feeds)) values.set(k, v);
    const get = (name: string | undefined, node: Node): tf.Tensor => {
      const v = name ? values.get(name) ?? variables.get(name) ?? constants.get(name) : undefined;
      if (!v) throw new ModelGateError(`${what}: ${describeNode(node)} reads '${name}', which is neither fed nor computed`);
      return v;
    };
    for (const node of nodes) {
      const out = forward(t, node, (i) => get(node.input![i], node), (i) => !!node.input?.[i], constInts, opset, what);
      node.output!.forEach((name, i) => {
        if (name && out[i]) values.set(name, out[i]!);
      });
    }
    return wanted.map((w) => {
      const v = values.get(w);
      if (!v) throw new ModelGateError(`${what}: the graph does not compute '${w}'`);
      return v;
    });
  };
  return {
    variables,
    run,
    dispose() {
      for (const v of variables.values()) v.dispose();
      for (const c of constants.values()) c.dispose();
    },
  };
}

const axisOf = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** [top, left, bottom, right] pads of a 2-D window (ONNX order), or 'same' for auto_pad SAME_*. */
function windowPads(node: Node, what: string): number[] | 'same' {
  const auto = getStringAttr(node, 'auto_pad', 'NOTSET');
  if (auto === 'SAME_UPPER') return 'same';
  if (auto === 'SAME_LOWER') throw new ModelGateError(`${what}: ${describeNode(node)} has auto_pad SAME_LOWER, which TF.js does not have`);
  if (auto === 'VALID') return [0, 0, 0, 0];
  return getIntsAttr(node, 'pads') ?? [0, 0, 0, 0];
}

/** An NCHW tensor → NHWC, the function, back to NCHW. A 3-D [N, C, L] input runs as [N, C, 1, L]. */
function channelsLast(t: TF, x: tf.Tensor, f: (nhwc: tf.Tensor4D) => tf.Tensor4D): tf.Tensor {
  if (x.rank === 3) {
    const y = channelsLast(t, x.expandDims(2), f);
    return y.squeeze([2]);
  }
  if (x.rank !== 4) throw new Error(`expected a 4-D tensor, got rank ${x.rank}`);
  return f(x.transpose([0, 2, 3, 1]) as tf.Tensor4D).transpose([0, 3, 1, 2]);
}

function forward(
  t: TF, node: Node, input: (i: number) => tf.Tensor, has: (i: number) => boolean,
  constInts: (node: Node, slot: number) => number[] | undefined, opset: number, what: string,
): tf.Tensor[] {
  const op = node.opType!;
  const x = () => input(0);
  const bad = (why: string): never => {
    throw new ModelGateError(`${what}: ${describeNode(node)} ${why}; it cannot be trained in TF.js`);
  };
  switch (op) {
    case 'Identity': case 'Dropout': return [x()];
    case 'Cast': return [t.cast(x(), getIntAttr(node, 'to', DataType.FLOAT) === DataType.FLOAT ? 'float32' : 'int32')];
    case 'Relu': return [t.relu(x())];
    case 'LeakyRelu': return [t.leakyRelu(x(), getFloatAttr(node, 'alpha', 0.01))];
    case 'PRelu': {
      const v = x();
      const slope = input(1);
      return [t.add(t.relu(v), t.mul(slope, t.neg(t.relu(t.neg(v)))))];
    }
    case 'Sigmoid': return [t.sigmoid(x())];
    case 'Tanh': return [t.tanh(x())];
    case 'Elu': {
      const alpha = getFloatAttr(node, 'alpha', 1);
      const v = x();
      return [t.where(t.greater(v, 0), v, t.mul(alpha, t.sub(t.exp(t.minimum(v, 0)), 1)))];
    }
    case 'Selu': {
      const alpha = getFloatAttr(node, 'alpha', 1.67326319217681884765625);
      const gamma = getFloatAttr(node, 'gamma', 1.05070102214813232421875);
      const v = x();
      return [t.mul(gamma, t.where(t.greater(v, 0), v, t.mul(alpha, t.sub(t.exp(t.minimum(v, 0)), 1))))];
    }
    case 'Softplus': return [t.softplus(x())];
    case 'Softsign': return [t.div(x(), t.add(1, t.abs(x())))];
    case 'HardSigmoid': return [t.clipByValue(t.add(t.mul(x(), getFloatAttr(node, 'alpha', 0.2)), getFloatAttr(node, 'beta', 0.5)), 0, 1)];
    case 'HardSwish': return [t.mul(x(), t.clipByValue(t.add(t.div(x(), 6), 0.5), 0, 1))];
    case 'ThresholdedRelu': return [t.where(t.greater(x(), getFloatAttr(node, 'alpha', 1)), x(), t.zerosLike(x()))];
    case 'Exp': return [t.exp(x())];
    case 'Sqrt': return [t.sqrt(x())];
    case 'Erf': return [t.erf(x())];
    case 'Neg': return [t.neg(x())];
    case 'Abs': return [t.abs(x())];
    case 'Clip': {
      let v = x();
      const lo = opset >= 11 ? (has(1) ? input(1) : undefined) : getAttrNumber(node, 'min');
      const hi = opset >= 11 ? (has(2) ? input(2) : undefined) : getAttrNumber(node, 'max');
      if (lo !== undefined) v = t.maximum(v, lo);
      if (hi !== undefined) v = t.minimum(v, hi);
      return [v];
    }
    case 'Softmax': case 'LogSoftmax': {
      const v = x();
      const axis = axisOf(getIntAttr(node, 'axis', opset >= 13 ? -1 : 1), v.rank);
      if (axis !== v.rank - 1 && opset >= 13) {
        const perm = [...Array(v.rank).keys()];
        [perm[axis], perm[v.rank - 1]] = [perm[v.rank - 1]!, perm[axis]!];
        const moved = v.transpose(perm);
        return [(op === 'Softmax' ? t.softmax(moved) : t.logSoftmax(moved)).transpose(perm)];
      }
      // Before opset 13 the input is flattened to 2-D at `axis`.
      const shape = v.shape;
      const inner = shape.slice(axis).reduce((a, b) => a * b, 1);
      const flat = v.reshape([-1, inner]);
      return [(op === 'Softmax' ? t.softmax(flat) : t.logSoftmax(flat)).reshape(shape)];
    }
    case 'Add': return [t.add(input(0), input(1))];
    case 'Sub': return [t.sub(input(0), input(1))];
    case 'Mul': return [t.mul(input(0), input(1))];
    case 'Div': return [t.div(input(0), input(1))];
    case 'Sum': case 'Mean': case 'Max': case 'Min': {
      const list = (node.input ?? []).map((_, i) => input(i));
      const f = op === 'Max' ? t.maximum : op === 'Min' ? t.minimum : t.add;
      let acc = list[0]!;
      for (const v of list.slice(1)) acc = f(acc, v);
      return [op === 'Mean' ? t.div(acc, list.length) : acc];
    }
    case 'MatMul': {
      const [a, b] = [input(0), input(1)];
      if (a.rank === 2 && b.rank === 2) return [t.matMul(a as tf.Tensor2D, b as tf.Tensor2D)];
      if (b.rank === 2) {
        const k = a.shape[a.rank - 1]!;
        const y = t.matMul(a.reshape([-1, k]) as tf.Tensor2D, b as tf.Tensor2D);
        return [y.reshape([...a.shape.slice(0, -1), b.shape[1]!])];
      }
      return [t.matMul(a, b)];
    }
    case 'Gemm': {
      const alpha = getFloatAttr(node, 'alpha', 1);
      const beta = getFloatAttr(node, 'beta', 1);
      let y: tf.Tensor = t.matMul(input(0) as tf.Tensor2D, input(1) as tf.Tensor2D, getIntAttr(node, 'transA', 0) === 1, getIntAttr(node, 'transB', 0) === 1);
      if (alpha !== 1) y = t.mul(y, alpha);
      if (has(2)) y = t.add(y, beta === 1 ? input(2) : t.mul(input(2), beta));
      return [y];
    }
    case 'Conv': case 'ConvTranspose': {
      const v = x();
      if (v.rank !== 4 && v.rank !== 3) bad(`has a ${v.rank}-D input (only 1-D and 2-D convolutions are handled)`);
      let w = input(1);
      if (w.rank === 3) w = w.expandDims(2);
      const one = v.rank === 3;
      const strides = getIntsAttr(node, 'strides') ?? (one ? [1] : [1, 1]);
      const dilations = getIntsAttr(node, 'dilations') ?? (one ? [1] : [1, 1]);
      const [sh, sw] = one ? [1, strides[0]!] : [strides[0]!, strides[1]!];
      const [dh, dw] = one ? [1, dilations[0]!] : [dilations[0]!, dilations[1]!];
      const p = windowPads(node, what);
      const pads = p === 'same' ? 'same' : one ? [0, p[0]!, 0, p[1]!] : p;
      const pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] = pads === 'same'
        ? 'same'
        : pads.every((q) => q === 0) ? 'valid' : [[0, 0], [pads[0]!, pads[2]!], [pads[1]!, pads[3]!], [0, 0]];
      const group = getIntAttr(node, 'group', 1);
      const bias = has(2) ? input(2) : undefined;
      return [channelsLast(t, v, (nhwc) => {
        let y: tf.Tensor4D;
        const channels = nhwc.shape[3];
        if (op === 'ConvTranspose') {
          if (group !== 1 || dh !== 1 || dw !== 1 || typeof pad !== 'string') bad('is a grouped, dilated or explicitly padded transposed convolution');
          // ONNX [C_in, C_out, kh, kw] → TF.js [kh, kw, C_out, C_in].
          const filter = w.transpose([2, 3, 1, 0]) as tf.Tensor4D;
          const [n, h, wd] = nhwc.shape;
          const outShape: [number, number, number, number] = pad === 'same'
            ? [n, h * sh, wd * sw, filter.shape[2]]
            : [n, (h - 1) * sh + filter.shape[0], (wd - 1) * sw + filter.shape[1], filter.shape[2]];
          y = t.conv2dTranspose(nhwc, filter, outShape, [sh, sw], pad as 'same' | 'valid');
        } else if (group === 1) {
          y = t.conv2d(nhwc, w.transpose([2, 3, 1, 0]) as tf.Tensor4D, [sh, sw], pad, 'NHWC', [dh, dw]);
        } else if (group === channels && w.shape[1] === 1) {
          // Depthwise: ONNX [C·m, 1, kh, kw] → TF.js [kh, kw, C, m].
          const m = w.shape[0]! / channels;
          const filter = w.reshape([channels, m, w.shape[2]!, w.shape[3]!]).transpose([2, 3, 0, 1]) as tf.Tensor4D;
          y = t.depthwiseConv2d(nhwc, filter, [sh, sw], pad, 'NHWC', [dh, dw]);
        } else {
          return bad(`has group ${group}`);
        }
        return bias ? t.add(y, bias) : y;
      })];
    }
    case 'MaxPool': case 'AveragePool': {
      const v = x();
      const kernel = getIntsAttr(node, 'kernel_shape') ?? bad('has no kernel_shape');
      const one = v.rank === 3;
      const strides = getIntsAttr(node, 'strides') ?? kernel.map(() => 1);
      if ((getIntsAttr(node, 'dilations') ?? []).some((d) => d !== 1)) bad('is dilated');
      if (getIntAttr(node, 'ceil_mode', 0) !== 0) bad('has ceil_mode 1');
      const p = windowPads(node, what);
      const [kh, kw] = one ? [1, kernel[0]!] : [kernel[0]!, kernel[1]!];
      const [sh, sw] = one ? [1, strides[0]!] : [strides[0]!, strides[1]!];
      let pad: 'same' | 'valid';
      if (p === 'same') pad = 'same';
      else if (p.every((q) => q === 0)) pad = 'valid';
      else {
        // Explicit pads that are TF's 'same' pads for this input size (what Keras padding='same' converts to).
        const dims = one ? [1, v.shape[2]!] : [v.shape[2]!, v.shape[3]!];
        const same = [kh, kw].map((k, i) => {
          const s = [sh, sw][i]!;
          const total = Math.max((Math.ceil(dims[i]! / s) - 1) * s + k - dims[i]!, 0);
          return [Math.floor(total / 2), total - Math.floor(total / 2)];
        });
        const given = one ? [[0, 0], [p[0]!, p[1]!]] : [[p[0]!, p[2]!], [p[1]!, p[3]!]];
        const excludesPad = op === 'MaxPool' || getIntAttr(node, 'count_include_pad', 0) === 0;
        if (!excludesPad || JSON.stringify(same) !== JSON.stringify(given)) bad(`has pads [${p.join(', ')}] other than TF's 'same' padding`);
        pad = 'same';
      }
      return [channelsLast(t, v, (nhwc) => (op === 'MaxPool' ? t.maxPool(nhwc, [kh, kw], [sh, sw], pad) : t.avgPool(nhwc, [kh, kw], [sh, sw], pad)))];
    }
    case 'GlobalAveragePool': case 'GlobalMaxPool': {
      const v = x();
      const axes = [...Array(v.rank).keys()].slice(2);
      return [op === 'GlobalAveragePool' ? t.mean(v, axes, true) : t.max(v, axes, true)];
    }
    case 'ReduceMean': case 'ReduceSum': case 'ReduceMax': case 'ReduceMin': {
      const v = x();
      const fromInput = op === 'ReduceSum' ? opset >= 13 : opset >= 18;
      const axes = (fromInput ? constInts(node, 1) : getIntsAttr(node, 'axes'))?.map((a) => axisOf(a, v.rank));
      const keep = getIntAttr(node, 'keepdims', 1) === 1;
      if (!axes || axes.length === 0) {
        if (getIntAttr(node, 'noop_with_empty_axes', 0) === 1) return [v];
      }
      const f = op === 'ReduceMean' ? t.mean : op === 'ReduceSum' ? t.sum : op === 'ReduceMax' ? t.max : t.min;
      return [f(v, axes && axes.length > 0 ? axes : undefined, keep)];
    }
    case 'BatchNormalization': {
      const v = x();
      const eps = getFloatAttr(node, 'epsilon', 1e-5);
      const shape = [1, -1, ...Array(v.rank - 2).fill(1)];
      const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => input(i).reshape(shape));
      return [t.add(t.mul(t.div(t.sub(v, mean!), t.sqrt(t.add(variance!, eps))), scale!), bias!)];
    }
    case 'Transpose': {
      const v = x();
      return [v.transpose(getIntsAttr(node, 'perm') ?? [...Array(v.rank).keys()].reverse())];
    }
    case 'Reshape': {
      const v = x();
      const target = constInts(node, 1)!;
      const allowZero = getIntAttr(node, 'allowzero', 0) === 1;
      return [v.reshape(target.map((d, i) => (d === 0 && !allowZero ? v.shape[i]! : d)))];
    }
    case 'Flatten': {
      const v = x();
      const axis = axisOf(getIntAttr(node, 'axis', 1), v.rank);
      const outer = v.shape.slice(0, axis).reduce((a, b) => a * b, 1);
      return [v.reshape([outer, -1])];
    }
    case 'Squeeze': case 'Unsqueeze': {
      const v = x();
      const axes = opset >= 13 ? constInts(node, 1) : getIntsAttr(node, 'axes');
      if (op === 'Squeeze') return [axes ? v.squeeze(axes.map((a) => axisOf(a, v.rank))) : v.squeeze()];
      if (!axes) return bad('has no axes');
      const rank = v.rank + axes.length;
      const sorted = axes.map((a) => axisOf(a, rank)).sort((a, b) => a - b);
      let y = v;
      for (const a of sorted) y = y.expandDims(a);
      return [y];
    }
    case 'Concat': {
      const list = (node.input ?? []).map((_, i) => input(i));
      return [t.concat(list, axisOf(getIntAttr(node, 'axis', 0), list[0]!.rank))];
    }
    case 'Slice': {
      const v = x();
      const starts = opset >= 10 ? constInts(node, 1)! : getIntsAttr(node, 'starts')!;
      const ends = opset >= 10 ? constInts(node, 2)! : getIntsAttr(node, 'ends')!;
      const axes = (opset >= 10 ? constInts(node, 3) : getIntsAttr(node, 'axes')) ?? starts.map((_, i) => i);
      const steps = (opset >= 10 ? constInts(node, 4) : undefined) ?? starts.map(() => 1);
      const begin = v.shape.map(() => 0);
      const end = [...v.shape] as number[];
      const stride = v.shape.map(() => 1);
      axes.forEach((a0, i) => {
        const a = axisOf(a0, v.rank);
        const dim = v.shape[a]!;
        const clamp = (q: number) => Math.max(0, Math.min(dim, q < 0 ? q + dim : q));
        if (steps[i]! <= 0) bad('has a negative step');
        begin[a] = clamp(starts[i]!);
        end[a] = clamp(ends[i]!);
        stride[a] = steps[i]!;
      });
      return [t.stridedSlice(v, begin, end, stride)];
    }
    case 'Gather': {
      const v = x();
      const axis = axisOf(getIntAttr(node, 'axis', 0), v.rank);
      const idx = input(1);
      return [t.gather(v, idx.dtype === 'int32' ? idx : t.cast(idx, 'int32'), axis)];
    }
    case 'Pad': {
      const v = x();
      const mode = getStringAttr(node, 'mode', 'constant');
      if (mode !== 'constant') bad(`pads in mode ${mode}`);
      const pads = opset >= 11 ? constInts(node, 1)! : getIntsAttr(node, 'pads')!;
      const value = opset >= 11 ? (has(2) ? input(2).dataSync()[0]! : 0) : getFloatAttr(node, 'value', 0);
      return [t.pad(v, v.shape.map((_, i) => [pads[i]!, pads[i + v.rank]!] as [number, number]), value)];
    }
    default:
      return bad('is not supported');
  }
}

function getAttrNumber(node: Node, name: string): number | undefined {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a ? (a.f ?? undefined) : undefined;
}
