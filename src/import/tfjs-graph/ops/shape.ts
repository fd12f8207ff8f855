/** Shape and data-movement ops, and the reductions. Most work in TF layout; Pad, ConcatV2 and reductions stay channels first when they can. */
import { DataType } from '../../../model/onnx.js';
import { ONNX_TYPE, TO_NCHW, intAttr, intsAttr, known, product, type GraphBuilder, type Value } from '../builder.js';
import { tfDType } from '../graph-def.js';
import type { OpConverter } from '../registry-types.js';

const first = (g: GraphBuilder, inputs: Value[]): Value => {
  if (!inputs[0]) g.fail('expects an input');
  return inputs[0];
};

/** Identity and friends: the same value under another name (constants stay constants). */
export const identity: OpConverter = (g, inputs) => first(g, inputs);

export const reshape: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const target = inputs[1];
  if (!target) g.fail('expects a shape input');
  let shape: number[];
  if (target.constant) {
    shape = Array.from(target.constant, Number);
    // TF's 0 is a zero-sized dim; ONNX Reshape would read it as "copy": refuse rather than differ.
    if (shape.some((d) => d === 0)) g.fail(`shape [${shape.join(', ')}] has a zero dimension`);
    const free = shape.indexOf(-1);
    if (free >= 0 && known(x.shape)) shape[free] = product(x.shape) / product(shape.filter((_, i) => i !== free));
  } else {
    shape = new Array<number>(Math.max(0, target.shape[0] ?? 0)).fill(-1);
  }
  return { name: g.emit('Reshape', [g.tf(x), g.int64(target, 'shape')]), shape, dtype: x.dtype };
};

export const squeeze: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const rank = x.shape.length;
  let axes = g.attrs.ints('squeeze_dims', g.attrs.ints('axis', [])).map((a) => g.axis(a, rank));
  if (axes.length === 0) {
    if (!known(x.shape)) g.fail('squeezing every size-1 axis needs a known input shape');
    axes = x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  }
  axes.sort((a, b) => a - b);
  const shape = x.shape.filter((_, i) => !axes.includes(i));
  return { name: g.emit('Squeeze', [g.tf(x), g.int64s('axes', axes)]), shape, dtype: x.dtype };
};

export const expandDims: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const [dim] = g.constInts(inputs[1], 'dim');
  const axis = g.axis(dim!, x.shape.length + 1);
  const shape = [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)];
  return { name: g.emit('Unsqueeze', [g.tf(x), g.int64s('axes', [axis])]), shape, dtype: x.dtype };
};

export const transpose: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const perm = g.constInts(inputs[1], 'perm');
  if (perm.length !== x.shape.length || [...perm].sort().some((p, i) => p !== i)) g.fail(`perm [${perm.join(', ')}] is not a permutation of rank ${x.shape.length}`);
  // An NCHW value is read through one Transpose that does both steps.
  if (x.nchw) {
    const fromNchw = perm.map((p) => TO_NCHW.indexOf(p));
    return { name: g.emit('Transpose', [x.name], [intsAttr('perm', fromNchw)]), shape: perm.map((p) => x.shape[p]!), dtype: x.dtype };
  }
  return { name: g.emit('Transpose', [g.tf(x)], [intsAttr('perm', perm)]), shape: perm.map((p) => x.shape[p]!), dtype: x.dtype };
};

const INT64_MAX = 2 ** 62;

/** Output length of a Python slice start:end:step over a dim of the given size. */
function sliceLength(size: number, start: number, end: number, step: number): number {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  if (step > 0) {
    const s = clamp(start < 0 ? start + size : start, 0, size);
    const e = clamp(end < 0 ? end + size : end, 0, size);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  const s = clamp(start < 0 ? start + size : start, -1, size - 1);
  const e = clamp(end < 0 ? end + size : end, -1, size - 1);
  return Math.max(0, Math.ceil((e - s) / step));
}

/**
 * StridedSlice with TF's masks: begin/end masks take the whole side, shrink_axis drops an axis
 * (one index), new_axis inserts a size-1 axis, ellipsis stands for every axis the spec does not name.
 */
export const stridedSlice: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const begin = g.constInts(inputs[1], 'begin');
  const end = g.constInts(inputs[2], 'end');
  const strides = inputs[3] ? g.constInts(inputs[3], 'strides') : begin.map(() => 1);
  const beginMask = g.attrs.int('begin_mask', 0);
  const endMask = g.attrs.int('end_mask', 0);
  const shrinkMask = g.attrs.int('shrink_axis_mask', 0);
  const ellipsisMask = g.attrs.int('ellipsis_mask', 0);
  const newAxisMask = g.attrs.int('new_axis_mask', 0);
  const rank = x.shape.length;
  if (end.length !== begin.length || strides.length !== begin.length) g.fail('begin, end and strides must have one entry per sliced axis');
  const bit = (mask: number, i: number): boolean => (mask & (1 << i)) !== 0;
  if ((ellipsisMask & (ellipsisMask - 1)) !== 0) g.fail('more than one ellipsis');
  // Spec entries that consume an input axis (all but new axes and the ellipsis).
  const named = begin.filter((_, i) => !bit(newAxisMask, i) && !bit(ellipsisMask, i)).length;
  if (named > rank) g.fail(`the slice names ${named} axes of an input of rank ${rank}`);
  const starts: number[] = [];
  const ends: number[] = [];
  const steps: number[] = [];
  const axes: number[] = [];
  const shrink: number[] = [];
  // The output, axis by axis: an input axis (sliced or whole) or a new size-1 axis.
  const outAxes: Array<{ input: number } | { newAxis: true }> = [];
  const shape = [...x.shape];
  let ax = 0;
  begin.forEach((b, i) => {
    if (bit(ellipsisMask, i)) {
      for (const stop = ax + rank - named; ax < stop; ax++) outAxes.push({ input: ax });
      return;
    }
    if (bit(newAxisMask, i)) {
      outAxes.push({ newAxis: true });
      return;
    }
    const step = strides[i]!;
    if (step === 0) g.fail('a stride of 0');
    let start = bit(beginMask, i) ? (step > 0 ? 0 : INT64_MAX) : b;
    let stop = bit(endMask, i) ? (step > 0 ? INT64_MAX : -INT64_MAX) : end[i]!;
    if (bit(shrinkMask, i)) {
      start = b;
      stop = b === -1 ? INT64_MAX : b + 1;
      shrink.push(ax);
      if (step < 0) g.fail('shrink_axis_mask with a negative stride');
    } else {
      outAxes.push({ input: ax });
    }
    starts.push(start);
    ends.push(stop);
    steps.push(bit(shrinkMask, i) ? 1 : step);
    axes.push(ax);
    const size = x.shape[ax]!;
    if (size >= 0) shape[ax] = bit(shrinkMask, i) ? 1 : sliceLength(size, start, stop, step);
    ax++;
  });
  for (; ax < rank; ax++) outAxes.push({ input: ax });
  const newAxes = outAxes.flatMap((a, k) => ('newAxis' in a ? [k] : []));
  const outShape = outAxes.map((a) => ('newAxis' in a ? 1 : shape[a.input]!));
  const sliced = axes.length > 0;
  // A channels-first value is sliced as it is, unless the rank changes.
  if (x.nchw && shrink.length === 0 && newAxes.length === 0) {
    if (!sliced) return x;
    const onnxAxes = axes.map((a) => TO_NCHW.indexOf(a));
    const y = g.emit('Slice', [x.name, g.int64s('starts', starts), g.int64s('ends', ends), g.int64s('axes', onnxAxes), g.int64s('steps', steps)]);
    return { name: y, shape: outShape, dtype: x.dtype, nchw: true };
  }
  let y = g.tf(x);
  if (sliced) y = g.emit('Slice', [y, g.int64s('starts', starts), g.int64s('ends', ends), g.int64s('axes', axes), g.int64s('steps', steps)]);
  if (shrink.length > 0) y = g.emit('Squeeze', [y, g.int64s('shrink_axes', shrink)]);
  if (newAxes.length > 0) y = g.emit('Unsqueeze', [y, g.int64s('new_axes', newAxes)]);
  if (y === g.tf(x)) y = g.emit('Identity', [y]);
  return { name: y, shape: outShape, dtype: x.dtype };
};

/** ConcatV2: the last input is the axis. Channels-first inputs concatenate as such. */
export const concat: OpConverter = (g, inputs) => {
  if (inputs.length < 2) g.fail('expects values and an axis');
  const values = inputs.slice(0, -1);
  const rank = values[0]!.shape.length;
  const axis = g.axis(g.constInts(inputs[inputs.length - 1], 'axis')[0]!, rank);
  const shape = [...values[0]!.shape];
  shape[axis] = values.some((v) => v.shape[axis]! < 0) ? -1 : values.reduce((n, v) => n + v.shape[axis]!, 0);
  const dtype = values[0]!.dtype;
  if (rank === 4 && values.some((v) => v.nchw) && values.every((v) => v.nchw || v.shape.length === 4)) {
    return { name: g.emit('Concat', values.map((v) => g.nchw(v)), [intAttr('axis', TO_NCHW.indexOf(axis))]), shape, dtype, nchw: true };
  }
  return { name: g.emit('Concat', values.map((v) => g.tf(v)), [intAttr('axis', axis)]), shape, dtype };
};

export const pack: OpConverter = (g, inputs) => {
  if (inputs.length < 1) g.fail('expects values');
  const rank = inputs[0]!.shape.length;
  const axis = g.axis(g.attrs.int('axis', 0), rank + 1);
  const axes = g.int64s('axes', [axis]);
  const parts = inputs.map((v) => g.emit('Unsqueeze', [g.tf(v), axes], [], 'unsqueeze'));
  const shape = [...inputs[0]!.shape.slice(0, axis), inputs.length, ...inputs[0]!.shape.slice(axis)];
  return { name: g.emit('Concat', parts, [intAttr('axis', axis)]), shape, dtype: inputs[0]!.dtype };
};

export const gather: OpConverter = (g, inputs) => {
  const [params, indices] = inputs;
  if (!params || !indices) g.fail('expects params and indices');
  if (g.attrs.int('batch_dims', 0) !== 0) g.fail('batch_dims is not supported');
  const axis = g.axis(inputs[2] ? g.constInts(inputs[2], 'axis')[0]! : 0, params.shape.length);
  const shape = [...params.shape.slice(0, axis), ...indices.shape, ...params.shape.slice(axis + 1)];
  return { name: g.emit('Gather', [g.tf(params), g.tf(indices)], [intAttr('axis', axis)]), shape, dtype: params.dtype };
};

/** TF.js gives shapes as int32 whatever out_type says. */
export const shapeOp: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  let s: string;
  if (x.nchw) s = g.emit('Gather', [g.emit('Shape', [x.name]), g.int64s('nhwc_order', TO_NCHW.map((_, i) => TO_NCHW.indexOf(i)))], [intAttr('axis', 0)]);
  else s = g.emit('Shape', [g.tf(x)]);
  return { name: g.emit('Cast', [s], [intAttr('to', DataType.INT32)]), shape: [x.shape.length], dtype: 'int32' };
};

export const cast: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const to = tfDType(g.attrs.type('DstT'), g.label);
  if (to === x.dtype) return x;
  return { name: g.emit('Cast', [x.nchw ? x.name : g.tf(x)], [intAttr('to', ONNX_TYPE[to])]), shape: x.shape, dtype: to, nchw: x.nchw };
};

function padding(g: GraphBuilder, x: Value, paddings: Value | undefined): number[] {
  const p = g.constInts(paddings, 'paddings');
  const rank = x.shape.length;
  if (p.length !== 2 * rank) g.fail(`paddings has ${p.length / 2} rows for an input of rank ${rank}`);
  return p;
}

/** Pad with paddings computed in the graph: [rank, 2] rows become ONNX's [begins..., ends...]. */
function paddedComputed(g: GraphBuilder, x: Value, paddings: Value, value?: string): Value {
  const rows = g.emit('Transpose', [g.int64(paddings, 'paddings')], [intsAttr('perm', [1, 0])], 'paddings_t');
  const pads = g.emit('Reshape', [rows, g.int64s('flat', [-1])], [], 'pads');
  const ins = [g.tf(x), pads];
  if (value) ins.push(value);
  return { name: g.emit('Pad', ins), shape: x.shape.map(() => -1), dtype: x.dtype };
}

function padded(g: GraphBuilder, x: Value, p: number[], mode: string, value?: string): Value {
  const rank = x.shape.length;
  const shape = x.shape.map((d, i) => (d < 0 ? -1 : d + p[2 * i]! + p[2 * i + 1]!));
  const order = x.nchw ? TO_NCHW : Array.from({ length: rank }, (_, i) => i);
  const pads = [...order.map((a) => p[2 * a]!), ...order.map((a) => p[2 * a + 1]!)];
  const ins = [x.nchw ? x.name : g.tf(x), g.int64s('pads', pads)];
  if (value) ins.push(value);
  return { name: g.emit('Pad', ins, [{ name: 'mode', type: 3, s: new TextEncoder().encode(mode) }]), shape, dtype: x.dtype, nchw: x.nchw };
}

export const pad: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  if (inputs[1] && !inputs[1].constant) return paddedComputed(g, x, inputs[1]);
  return padded(g, x, padding(g, x, inputs[1]), 'constant');
};

export const padV2: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const [c] = g.constInts(inputs[2], 'constant_values');
  const value = x.dtype === 'float32' ? g.floats('pad_value', [], [c!]) : g.constant('pad_value', [], Int32Array.of(c!));
  return padded(g, x, padding(g, x, inputs[1]), 'constant', value);
};

export const mirrorPad: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const mode = g.attrs.string('mode', 'REFLECT');
  if (mode !== 'REFLECT') g.fail(`mode ${mode} is not supported (REFLECT)`);
  return padded(g, x, padding(g, x, inputs[1]), 'reflect');
};

function reduction(op: string): OpConverter {
  return (g, inputs) => {
    const x = first(g, inputs);
    const rank = x.shape.length;
    const axes = [...new Set(g.constInts(inputs[1], 'axis').map((a) => g.axis(a, rank)))].sort((a, b) => a - b);
    if (axes.length === 0) return x;
    const keep = g.attrs.bool('keep_dims', g.attrs.bool('keepdims'));
    const shape = keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    if (x.nchw) {
      const onnxAxes = axes.map((a) => TO_NCHW.indexOf(a)).sort((a, b) => a - b);
      // Channels first stays right when dims are kept, or when what is left has the same order both ways.
      const left = TO_NCHW.filter((a) => !axes.includes(a));
      if (keep) return { name: g.reduce(op, x.name, onnxAxes, true), shape, dtype: x.dtype, nchw: true };
      if (left.every((a, i) => a === left.slice().sort((p, q) => p - q)[i])) return { name: g.reduce(op, x.name, onnxAxes, false), shape, dtype: x.dtype };
    }
    return { name: g.reduce(op, g.tf(x), axes, keep), shape, dtype: x.dtype };
  };
}

export const mean = reduction('ReduceMean');
export const sum = reduction('ReduceSum');
export const max = reduction('ReduceMax');
export const min = reduction('ReduceMin');
export const prod = reduction('ReduceProd');

/** ArgMax over one axis, as int32 (TF.js' output type); ties go to the first index in both. */
export const argMax: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const rank = x.shape.length;
  const axis = g.axis(g.constInts(inputs[1], 'dimension')[0]!, rank);
  const onnxAxis = x.nchw ? TO_NCHW.indexOf(axis) : axis;
  const left = x.nchw ? TO_NCHW.filter((a) => a !== axis) : [];
  // Channels first only when the dims left are in the same order either way.
  const input = x.nchw && left.every((a, i, arr) => i === 0 || arr[i - 1]! < a) ? x.name : g.tf(x);
  const arg = g.emit('ArgMax', [input], [intAttr('axis', input === x.name && x.nchw ? onnxAxis : axis), intAttr('keepdims', 0)]);
  return { name: g.emit('Cast', [arg], [intAttr('to', DataType.INT32)]), shape: x.shape.filter((_, i) => i !== axis), dtype: 'int32' };
};

/** Slice(x, begin, size): size -1 runs to the end of the axis. begin and size may be computed. */
export const slice: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const [, beginV, sizeV] = inputs;
  if (!beginV || !sizeV) g.fail('expects begin and size');
  const rank = x.shape.length;
  const axes = g.int64s('axes', Array.from({ length: rank }, (_, i) => i));
  if (beginV.constant && sizeV.constant) {
    const begin = g.constInts(beginV, 'begin');
    const size = g.constInts(sizeV, 'size');
    if (begin.length !== rank || size.length !== begin.length) g.fail('begin and size need one entry per axis');
    const ends = begin.map((b, i) => (size[i] === -1 ? INT64_MAX : b + size[i]!));
    const shape = x.shape.map((d, i) => (size[i] === -1 ? (d < 0 ? -1 : d - begin[i]!) : size[i]!));
    return { name: g.emit('Slice', [g.tf(x), g.int64s('starts', begin), g.int64s('ends', ends), axes]), shape, dtype: x.dtype };
  }
  const starts = g.int64(beginV, 'starts');
  const size = g.int64(sizeV, 'size');
  const toEnd = g.emit('Equal', [size, g.int64s('minus_one', [-1])], [], 'to_end');
  const ends = g.emit('Where', [toEnd, g.int64s('int64_max', [INT64_MAX]), g.emit('Add', [starts, size], [], 'begin_plus_size')], [], 'ends');
  // Sizes known when they are constants (the begin is not, so -1 leaves the size unknown).
  const shape = sizeV.constant ? Array.from(sizeV.constant, Number) : x.shape.map(() => -1);
  return { name: g.emit('Slice', [g.tf(x), starts, ends, axes]), shape, dtype: x.dtype };
};

/** Unpack along an axis: one Gather with a scalar index per output (which drops the axis). */
export const unpack: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const axis = g.axis(g.attrs.int('axis', 0), x.shape.length);
  const num = g.attrs.int('num', x.shape[axis]!);
  if (!(num > 0)) g.fail('the number of outputs must be known');
  const input = g.tf(x);
  const shape = x.shape.filter((_, i) => i !== axis);
  return Array.from({ length: num }, (_, k) => ({
    name: g.emit('Gather', [input, g.constant(`index_${k}`, [], BigInt64Array.of(BigInt(k)))], [intAttr('axis', axis)], `output_${k}`),
    shape,
    dtype: x.dtype,
  }));
};

/** TopKV2 over the last axis, largest first; indices as int32 (TF.js' type). */
export const topK: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const kv = inputs[1];
  if (!kv) g.fail('expects k');
  const k = kv.constant ? Number(kv.constant[0]) : -1;
  if (kv.constant && !(k > 0)) g.fail('k must be positive');
  const rank = x.shape.length;
  const kInput = kv.constant ? g.int64s('k', [k]) : int64Vector(g, kv, 'k');
  const [values, indices] = g.emitOutputs('TopK', [g.tf(x), kInput], [intAttr('axis', rank - 1), intAttr('largest', 1), intAttr('sorted', 1)], ['values', 'indices64']);
  const shape = [...x.shape.slice(0, -1), k];
  return [
    { name: values!, shape, dtype: x.dtype },
    { name: g.emit('Cast', [indices!], [intAttr('to', DataType.INT32)], 'indices'), shape, dtype: 'int32' },
  ];
};

/**
 * GatherNd: the last axis of indices (size K) picks a slice params[i0, ..., iK-1, ...]; the output is
 * indices' shape without its last axis, then params' dims from K on. ONNX GatherND (batch_dims 0) is
 * the same op with int64 indices.
 */
export const gatherNd: OpConverter = (g, inputs) => {
  const [params, indices] = inputs;
  if (!params || !indices) g.fail('expects params and indices');
  const k = indices.shape[indices.shape.length - 1];
  if (indices.shape.length === 0 || k === undefined || k < 0) g.fail(`the last axis of indices must have a known size, got shape [${indices.shape.join(', ')}]`);
  if (k > params.shape.length) g.fail(`indices address ${k} axes of params of rank ${params.shape.length}`);
  const shape = [...indices.shape.slice(0, -1), ...params.shape.slice(k)];
  return { name: g.emit('GatherND', [g.tf(params), g.int64(indices, 'indices')], [intAttr('batch_dims', 0)]), shape, dtype: params.dtype };
};

/** A computed int32 scalar or vector read as ONNX int64 of a given rank-1 length (a scalar becomes [1]). */
function int64Vector(g: GraphBuilder, v: Value, suffix: string): string {
  if (v.constant) return g.int64s(suffix, Array.from(v.constant, Number));
  const x = g.int64(v, suffix);
  return v.shape.length === 0 ? g.emit('Unsqueeze', [x, g.int64s('axes', [0])], [], `${suffix}_1d`) : x;
}

/** Fill(dims, value): a constant when both are, else Expand of the scalar to the dims. */
export const fill: OpConverter = (g, inputs) => {
  const [dims, value] = inputs;
  if (!dims || !value) g.fail('expects dims and a value');
  if (value.shape.length !== 0) g.fail(`value must be a scalar, got shape [${value.shape.join(', ')}]`);
  if (dims.constant && value.constant) {
    const shape = Array.from(dims.constant, Number);
    const n = product(shape);
    const v = value.constant[0]!;
    const data = value.dtype === 'float32' ? new Float32Array(n).fill(v) : value.dtype === 'int32' ? new Int32Array(n).fill(v) : new Uint8Array(n).fill(v);
    return { name: '', shape, dtype: value.dtype, constant: data };
  }
  const shape = dims.constant ? Array.from(dims.constant, Number) : new Array<number>(Math.max(0, dims.shape[0] ?? 0)).fill(-1);
  return { name: g.emit('Expand', [g.tf(value), int64Vector(g, dims, 'dims')]), shape, dtype: value.dtype };
};

/** BroadcastTo(x, shape): ONNX Expand (the two agree wherever TF's broadcast is valid). */
export const broadcastTo: OpConverter = (g, inputs) => {
  const [x, target] = inputs;
  if (!x || !target) g.fail('expects a value and a shape');
  const dims = target.constant ? Array.from(target.constant, Number) : new Array<number>(Math.max(0, target.shape[0] ?? 0)).fill(-1);
  return { name: g.emit('Expand', [g.tf(x), int64Vector(g, target, 'shape')]), shape: dims, dtype: x.dtype };
};

/** Range(start, limit, delta): folded when all three are constants, else ONNX Range on scalars. */
export const range: OpConverter = (g, inputs) => {
  const [start, limit, delta] = inputs;
  if (!start || !limit || !delta) g.fail('expects start, limit and delta');
  const dtype = tfDType(g.attrs.type('Tidx'), g.label);
  if (start.constant && limit.constant && delta.constant) {
    const [s, l, d] = [start.constant[0]!, limit.constant[0]!, delta.constant[0]!];
    if (d === 0) g.fail('delta is 0');
    const n = Math.max(0, Math.ceil((l - s) / d));
    const values = Array.from({ length: n }, (_, k) => s + k * d);
    return { name: '', shape: [n], dtype, constant: dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values) };
  }
  const scalar = (v: Value, suffix: string): string => {
    let x = g.tf(v);
    if (v.dtype !== dtype) x = g.emit('Cast', [x], [intAttr('to', ONNX_TYPE[dtype])], `${suffix}_cast`);
    return v.shape.length === 0 ? x : g.emit('Reshape', [x, g.int64s('scalar', [])], [], `${suffix}_scalar`);
  };
  return { name: g.emit('Range', [scalar(start, 'start'), scalar(limit, 'limit'), scalar(delta, 'delta')]), shape: [-1], dtype };
};

function splitParts(g: GraphBuilder, x: Value, axis: number, sizes: number[] | undefined, num: number): Value[] {
  const input = g.tf(x);
  const ins = sizes ? [input, g.int64s('split', sizes)] : [input];
  const outs = g.emitOutputs('Split', ins, [intAttr('axis', axis)], Array.from({ length: num }, (_, k) => `output_${k}`));
  const size = x.shape[axis]!;
  return outs.map((name, k) => {
    const shape = [...x.shape];
    shape[axis] = sizes ? sizes[k]! : size >= 0 ? size / num : -1;
    return { name, shape, dtype: x.dtype };
  });
}

/** Split(axis, value): num_split equal parts. */
export const split: OpConverter = (g, inputs) => {
  const [dim, x] = inputs;
  if (!dim || !x) g.fail('expects an axis and a value');
  const axis = g.axis(g.constInts(dim, 'split_dim')[0]!, x.shape.length);
  const num = g.attrs.int('num_split');
  if (!(num > 0)) g.fail('num_split must be positive');
  if (x.shape[axis]! >= 0 && x.shape[axis]! % num !== 0) g.fail(`axis ${axis} of size ${x.shape[axis]} does not split into ${num} equal parts`);
  return splitParts(g, x, axis, undefined, num);
};

/** SplitV(value, size_splits, axis): one size may be -1, the rest of the axis. */
export const splitV: OpConverter = (g, inputs) => {
  const [x, sizesV, dim] = inputs;
  if (!x || !sizesV || !dim) g.fail('expects a value, sizes and an axis');
  const axis = g.axis(g.constInts(dim, 'split_dim')[0]!, x.shape.length);
  const sizes = g.constInts(sizesV, 'size_splits');
  const free = sizes.indexOf(-1);
  if (free >= 0) {
    const size = x.shape[axis]!;
    if (size < 0) g.fail(`a size of -1 needs axis ${axis} to have a known size`);
    sizes[free] = size - sizes.reduce((a, s, k) => (k === free ? a : a + s), 0);
  }
  return splitParts(g, x, axis, sizes, sizes.length);
};

/** The dims of a rank-4 TF-layout tensor as int64 scalars' 1-D pieces, computed at run time. */
function dimsOf(g: GraphBuilder, x: string): string[] {
  const s = g.emit('Shape', [x], [], 'shape');
  return [0, 1, 2, 3].map((k) => g.emit('Gather', [s, g.int64s(`dim${k}`, [k])], [intAttr('axis', 0)], `dim${k}`));
}

function blockOf(g: GraphBuilder, x: Value, block: Value | undefined): [number, number] {
  if (x.shape.length !== 4) g.fail(`expects a rank-4 (NHWC) input, got shape [${x.shape.join(', ')}]`);
  const b = g.constInts(block, 'block_shape');
  if (b.length !== 2 || !b.every((v) => v > 0)) g.fail(`block_shape [${b.join(', ')}] must be two positive sizes (height, width)`);
  return [b[0]!, b[1]!];
}

/**
 * SpaceToBatchND on NHWC with a 2-D block (the dilated convolution of TF): pad, then
 * [N, H/bh, bh, W/bw, bw, C] → [bh, bw, N, H/bh, W/bw, C] → [bh·bw·N, H/bh, W/bw, C]; batch index
 * (i·bw + j)·N + n, as TF orders it.
 */
export const spaceToBatchNd: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const [bh, bw] = blockOf(g, x, inputs[1]);
  const pv = inputs[2];
  if (!pv || product(pv.shape) !== 4) g.fail('paddings must be [[top, bottom], [left, right]]');
  let padded: Value;
  if (pv.constant) {
    const p = g.constInts(pv, 'paddings');
    padded = padded_(g, x, [0, 0, p[0]!, p[1]!, p[2]!, p[3]!, 0, 0]);
  } else {
    // Paddings computed from the input size (TF's required_space_to_batch_paddings): rows for N and C added.
    const none = g.int64s('no_padding', [0, 0]);
    const rows = g.emit('Reshape', [none, g.int64s('row', [1, 2])], [], 'no_padding_row');
    const all = g.emit('Concat', [rows, g.int64(pv, 'paddings'), rows], [intAttr('axis', 0)], 'paddings_nhwc');
    padded = paddedComputed(g, { ...x, name: g.tf(x), nchw: false, constant: undefined }, { name: all, shape: [4, 2], dtype: 'int32' });
  }
  const [n, h, w, c] = dimsOf(g, padded.name);
  const div = (d: string, by: number): string => g.emit('Div', [d, g.int64s('block', [by])], [], 'blocks');
  const concat = (parts: string[]): string => g.emit('Concat', parts, [intAttr('axis', 0)], 'dims');
  const split = g.emit('Reshape', [padded.name, concat([n!, div(h!, bh), g.int64s('bh', [bh]), div(w!, bw), g.int64s('bw', [bw]), c!])], [], 'blocks6');
  const moved = g.emit('Transpose', [split], [intsAttr('perm', [2, 4, 0, 1, 3, 5])], 'blocks_first');
  const batch = g.emit('Mul', [n!, g.int64s('bhbw', [bh * bw])], [], 'batch');
  const out = g.emit('Reshape', [moved, concat([batch, div(h!, bh), div(w!, bw), c!])]);
  const [sn, sh, sw, sc] = padded.shape;
  const shape = [sn! < 0 ? -1 : sn! * bh * bw, sh! < 0 ? -1 : sh! / bh, sw! < 0 ? -1 : sw! / bw, sc!];
  return { name: out, shape, dtype: x.dtype };
};

/** BatchToSpaceND, the inverse: [bh, bw, N, h, w, C] → [N, h, bh, w, bw, C] → [N, h·bh, w·bw, C], then crop. */
export const batchToSpaceNd: OpConverter = (g, inputs) => {
  const x = first(g, inputs);
  const [bh, bw] = blockOf(g, x, inputs[1]);
  const cv = inputs[2];
  if (!cv || product(cv.shape) !== 4) g.fail('crops must be [[top, bottom], [left, right]]');
  const [b, h, w, c] = dimsOf(g, g.tf(x));
  const concat = (parts: string[]): string => g.emit('Concat', parts, [intAttr('axis', 0)], 'dims');
  const n = g.emit('Div', [b!, g.int64s('bhbw', [bh * bw])], [], 'batch');
  const split = g.emit('Reshape', [g.tf(x), concat([g.int64s('bh', [bh]), g.int64s('bw', [bw]), n, h!, w!, c!])], [], 'blocks6');
  const moved = g.emit('Transpose', [split], [intsAttr('perm', [2, 3, 0, 4, 1, 5])], 'blocks_inside');
  const mul = (d: string, by: number): string => g.emit('Mul', [d, g.int64s('block', [by])], [], 'size');
  const merged = g.emit('Reshape', [moved, concat([n, mul(h!, bh), mul(w!, bw), c!])], [], 'space');
  const [sb, sh, sw, sc] = x.shape;
  if (!cv.constant) {
    // Crops computed from the input size: starts are the first column, ends the space size less the second.
    const c = g.emit('Reshape', [g.int64(cv, 'crops'), g.int64s('crops_shape', [2, 2])], [], 'crops2');
    const column = (k: number): string =>
      g.emit('Reshape', [g.emit('Slice', [c, g.int64s('col_start', [k]), g.int64s('col_end', [k + 1]), g.int64s('col_axis', [1])], [], 'crop_col'), g.int64s('flat', [-1])], [], 'crop_col_flat');
    const space = concat([mul(h!, bh), mul(w!, bw)]);
    const ends = g.emit('Sub', [space, column(1)], [], 'crop_ends');
    const out = g.emit('Slice', [merged, column(0), ends, g.int64s('axes', [1, 2])]);
    return { name: out, shape: [sb! < 0 ? -1 : sb! / (bh * bw), -1, -1, sc!], dtype: x.dtype };
  }
  const [top, bottom, left, right] = g.constInts(cv, 'crops') as [number, number, number, number];
  const out = g.emit('Slice', [merged, g.int64s('starts', [top, left]), g.int64s('ends', [bottom > 0 ? -bottom : INT64_MAX, right > 0 ? -right : INT64_MAX]), g.int64s('axes', [1, 2])]);
  const shape = [sb! < 0 ? -1 : sb! / (bh * bw), sh! < 0 ? -1 : sh! * bh - top - bottom, sw! < 0 ? -1 : sw! * bw - left - right, sc!];
  return { name: out, shape, dtype: x.dtype };
};

/** Constant padding of a value in TF layout by [begin, end] pairs per axis. */
function padded_(g: GraphBuilder, x: Value, p: number[]): Value {
  if (p.every((v) => v === 0)) return { ...x, name: g.tf(x), nchw: false, constant: undefined };
  return padded(g, { ...x, name: g.tf(x), nchw: false, constant: undefined }, p, 'constant');
}
