/**
 * Convolutions, pooling, MatMul, batch norm and resizing. Convolutions and pools run channels
 * first; their kernels are reordered once at conversion (HWIO → OIHW, depthwise HWCM → (C·M)1HW).
 */
import { intAttr, intsAttr, stringAttr, transposeData, type GraphBuilder, type Value } from '../builder.js';
import { activation, binary } from './elementwise.js';
import type { OpConverter } from '../registry-types.js';

interface Geometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** ONNX attributes for the padding. */
  pads: ReturnType<typeof intsAttr> | ReturnType<typeof stringAttr>;
  out: number[];
}

function nhwcPair(g: GraphBuilder, key: string, values: number[] | undefined): number[] {
  const v = values ?? [1, 1, 1, 1];
  if (v.length === 2) return v;
  if (v.length !== 4 || v[0] !== 1 || v[3] !== 1) g.fail(`${key} [${v.join(', ')}] is not [1, h, w, 1]`);
  return [v[1]!, v[2]!];
}

function geometry(g: GraphBuilder, x: Value, kernel: number[]): Geometry {
  const format = g.attrs.string('data_format', 'NHWC');
  if (format !== 'NHWC') g.fail(`data_format ${format} is not supported (NHWC)`);
  const strides = nhwcPair(g, 'strides', g.attrs.ints('strides', [1, 1, 1, 1]));
  const dilations = nhwcPair(g, 'dilations', g.attrs.ints('dilations', [1, 1, 1, 1]));
  const padding = g.attrs.string('padding');
  const size = [x.shape[1]!, x.shape[2]!];
  const span = kernel.map((k, i) => (k - 1) * dilations[i]! + 1);
  if (padding === 'SAME') {
    const out = size.map((s, i) => (s < 0 ? -1 : Math.ceil(s / strides[i]!)));
    if (size.some((s) => s < 0)) return { kernel, strides, dilations, pads: stringAttr('auto_pad', 'SAME_UPPER'), out };
    // TF puts the odd pixel of 'SAME' padding at the end, as ONNX SAME_UPPER does; explicit pads say so for any runtime.
    const total = size.map((s, i) => Math.max((out[i]! - 1) * strides[i]! + span[i]! - s, 0));
    const begin = total.map((t) => Math.floor(t / 2));
    return { kernel, strides, dilations, pads: intsAttr('pads', [...begin, ...total.map((t, i) => t - begin[i]!)]), out };
  }
  let pads = [0, 0, 0, 0];
  if (padding === 'EXPLICIT') {
    const e = g.attrs.ints('explicit_paddings');
    if (e.length !== 8) g.fail(`explicit_paddings [${e.join(', ')}] is not 8 values`);
    pads = [e[2]!, e[4]!, e[3]!, e[5]!];
  } else if (padding !== 'VALID') g.fail(`padding ${padding} is not supported (SAME, VALID, EXPLICIT)`);
  const out = size.map((s, i) => (s < 0 ? -1 : Math.floor((s + pads[i]! + pads[i + 2]! - span[i]!) / strides[i]!) + 1));
  if (out.some((o) => o === 0 || o < -1)) g.fail(`the ${kernel.join('x')} window does not fit the input [${x.shape.join(', ')}]`);
  return { kernel, strides, dilations, pads: intsAttr('pads', pads), out };
}

function convAttrs(geo: Geometry, group: number): ReturnType<typeof intAttr>[] {
  return [intsAttr('dilations', geo.dilations), intAttr('group', group), intsAttr('kernel_shape', geo.kernel), geo.pads, intsAttr('strides', geo.strides)];
}

/** The fused ops' tail: BiasAdd (into the Conv's bias when possible) then an activation. */
function fusedTail(g: GraphBuilder, inputs: Value[]): { bias?: Value; act?: string; alpha?: Value } {
  const ops = g.attrs.strings('fused_ops');
  if (ops.length === 0) return {};
  if (ops[0] !== 'BiasAdd') g.fail(`fused_ops [${ops.join(', ')}] are not supported (BiasAdd, then an optional activation)`);
  if (ops.length > 2) g.fail(`fused_ops [${ops.join(', ')}] are not supported (BiasAdd, then an optional activation)`);
  return { bias: inputs[2], act: ops[1], alpha: inputs[3] };
}

function conv(depthwise: boolean, fused: boolean): OpConverter {
  return (g, inputs) => {
    const [x, filter] = inputs;
    if (!x || !filter) g.fail('expects an input and a filter');
    if (filter.shape.length !== 4) g.fail(`filter of shape [${filter.shape.join(', ')}] is not [h, w, in, out]`);
    const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
    const geo = geometry(g, x, [kh, kw]);
    const channels = x.shape[3]!;
    if (channels >= 0 && channels !== cin) g.fail(`input has ${channels} channels, the filter expects ${cin}`);
    let weight: string;
    let outChannels: number;
    if (depthwise) {
      // TF numbers output channel c·multiplier + m; grouped Conv with C groups does the same.
      const data = g.constValue(filter, 'the depthwise filter');
      outChannels = cin * cout;
      weight = g.constant('filter', [outChannels, 1, kh, kw], transposeData(data, [kh, kw, cin * cout], [2, 0, 1]));
    } else {
      outChannels = cout;
      weight = filter.constant
        ? g.constant('filter', [cout, cin, kh, kw], transposeData(filter.constant, filter.shape, [3, 2, 0, 1]))
        : g.emit('Transpose', [g.tf(filter)], [intsAttr('perm', [3, 2, 0, 1])], 'filter');
    }
    const tail = fused ? fusedTail(g, inputs) : {};
    const convInputs = [g.nchw(x), weight];
    let pendingBias: Value | undefined;
    if (tail.bias) {
      if (tail.bias.constant && tail.bias.constant.length === outChannels) convInputs.push(g.constant('bias', [outChannels], tail.bias.constant));
      else pendingBias = tail.bias;
    }
    let y: Value = { name: g.emit('Conv', convInputs, convAttrs(geo, depthwise ? cin : 1)), shape: [x.shape[0]!, ...geo.out, outChannels], dtype: 'float32', nchw: true };
    if (pendingBias) y = binary(g, 'Add', y, pendingBias);
    return tail.act ? activation(g, y, tail.act, tail.alpha) : y;
  };
}

export const conv2d = conv(false, false);
export const fusedConv2d = conv(false, true);
export const depthwiseConv2d = conv(true, false);
export const fusedDepthwiseConv2d = conv(true, true);

function pool(op: 'MaxPool' | 'AveragePool'): OpConverter {
  return (g, inputs) => {
    const x = inputs[0];
    if (!x) g.fail('expects an input');
    const kernel = nhwcPair(g, 'ksize', g.attrs.ints('ksize'));
    const geo = geometry(g, x, kernel);
    if (geo.dilations.some((d) => d !== 1)) g.fail('dilated pooling is not supported');
    // TF's average pool leaves the padding out of the count: ONNX's count_include_pad = 0 (its default).
    const attrs = [intsAttr('kernel_shape', kernel), geo.pads, intsAttr('strides', geo.strides)];
    return { name: g.emit(op, [g.nchw(x)], attrs), shape: [x.shape[0]!, ...geo.out, x.shape[3]!], dtype: x.dtype, nchw: true };
  };
}

export const maxPool = pool('MaxPool');
export const avgPool = pool('AveragePool');

function matMul(fused: boolean): OpConverter {
  return (g, inputs) => {
    const [a, b] = inputs;
    if (!a || !b) g.fail('expects two inputs');
    if (a.shape.length !== 2 || b.shape.length !== 2) g.fail(`only 2-D MatMul is supported, got [${a.shape.join(', ')}] × [${b.shape.join(', ')}]`);
    const ta = g.attrs.bool('transpose_a');
    const tb = g.attrs.bool('transpose_b');
    let left = g.tf(a);
    if (ta) left = g.emit('Transpose', [left], [intsAttr('perm', [1, 0])], 'a_t');
    let right: string;
    if (b.constant) right = g.constant('b', tb ? [b.shape[1]!, b.shape[0]!] : b.shape, tb ? transposeData(b.constant, b.shape, [1, 0]) : b.constant);
    else right = tb ? g.emit('Transpose', [g.tf(b)], [intsAttr('perm', [1, 0])], 'b_t') : g.tf(b);
    const rows = ta ? a.shape[1]! : a.shape[0]!;
    const cols = tb ? b.shape[0]! : b.shape[1]!;
    let y: Value = { name: g.emit('MatMul', [left, right]), shape: [rows, cols], dtype: a.dtype };
    if (!fused) return y;
    const tail = fusedTail(g, inputs);
    if (tail.bias) y = binary(g, 'Add', y, tail.bias);
    return tail.act ? activation(g, y, tail.act, tail.alpha) : y;
  };
}

export const matMulOp = matMul(false);
export const fusedMatMul = matMul(true);

/** Inference batch norm folded into a per-channel scale and shift: x·a + b, a = γ/√(σ²+ε), b = β − μ·a. */
export const fusedBatchNorm: OpConverter = (g, inputs) => {
  const [x, scale, offset, mean, variance] = inputs;
  if (!x || !scale || !offset || !mean || !variance) g.fail('expects x, scale, offset, mean and variance');
  if (g.attrs.bool('is_training')) g.fail('is_training batch norm is not supported (export the model for inference)');
  const format = g.attrs.string('data_format', 'NHWC');
  if (format !== 'NHWC') g.fail(`data_format ${format} is not supported (NHWC)`);
  const eps = g.attrs.float('epsilon', 1e-4);
  const s = g.constValue(scale, 'scale');
  const o = g.constValue(offset, 'offset');
  const m = g.constValue(mean, 'mean');
  const v = g.constValue(variance, 'variance');
  const a = Float32Array.from(s, (sc, i) => sc / Math.sqrt(v[i]! + eps));
  const b = Float32Array.from(o, (of, i) => of - m[i]! * a[i]!);
  const c = s.length;
  const y = binary(g, 'Mul', x, { name: '', shape: [c], dtype: 'float32', constant: a });
  return binary(g, 'Add', y, { name: '', shape: [c], dtype: 'float32', constant: b });
};

function resize(mode: 'linear' | 'nearest'): OpConverter {
  return (g, inputs) => {
    const [x, size] = inputs;
    if (!x) g.fail('expects an input');
    if (!size) g.fail('expects a size');
    // A size computed in the graph (a resize by a ratio fed at run time) is read as int64 when the model runs.
    const [h, w] = size.constant ? g.constInts(size, 'size') : [-1, -1];
    if (size.constant && (!h || !w || h < 1 || w < 1)) g.fail('size must be two positive integers');
    if (!size.constant && (size.shape.length !== 1 || size.shape[0] !== 2)) g.fail(`a computed size must have shape [2], got [${size.shape.join(', ')}]`);
    const alignCorners = g.attrs.bool('align_corners');
    const halfPixel = g.attrs.bool('half_pixel_centers');
    const attrs = [stringAttr('mode', mode)];
    if (mode === 'linear') {
      attrs.push(stringAttr('coordinate_transformation_mode', alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric'));
    } else {
      // TF.js: align_corners rounds (half up); half_pixel_centers floors (x+0.5)·scale; otherwise floors x·scale.
      attrs.push(stringAttr('coordinate_transformation_mode', alignCorners ? 'align_corners' : halfPixel ? 'tf_half_pixel_for_nn' : 'asymmetric'));
      attrs.push(stringAttr('nearest_mode', alignCorners ? 'round_prefer_ceil' : 'floor'));
    }
    // Output sizes, not scales: ONNX derives the size from a float scale, and 5 · (9/5 in float32) floors to 8.
    const input = g.nchw(x);
    const batch = x.shape[0]!;
    const channels = x.shape[3]!;
    const hw = size.constant ? g.int64s('hw', [h!, w!]) : g.int64(size, 'hw');
    const sizes =
      batch >= 0 && channels >= 0 && size.constant
        ? g.int64s('sizes', [batch, channels, h!, w!])
        : g.emit('Concat', [g.emit('Slice', [g.emit('Shape', [input]), g.int64s('nc_begin', [0]), g.int64s('nc_end', [2])]), hw], [intAttr('axis', 0)], 'sizes');
    const y = g.emit('Resize', [input, '', '', sizes], attrs);
    return { name: y, shape: [x.shape[0]!, h!, w!, x.shape[3]!], dtype: x.dtype, nchw: true };
  };
}

export const resizeBilinear = resize('linear');
export const resizeNearestNeighbor = resize('nearest');

