/**
 * Convolutions and pooling, channels first in ONNX. Keras kernels are [...spatial, in, out]
 * (HWIO for 2-D); ONNX Conv wants [out, in, ...spatial] and ConvTranspose [in, out, ...spatial].
 */
import type * as tf from '@tensorflow/tfjs';
import { applyActivation } from './activations.js';
import { one, type LayerConverter } from './core.js';
import { intAttr, intsAttr, product, tuple, type GraphBuilder, type LayerConfig, type Value } from './graph.js';

interface Window {
  out: number;
  begin: number;
  end: number;
}

/** Output size and ONNX begin/end pads of one spatial axis, as TF computes them ('same' puts the odd pixel at the end). */
export function window(g: GraphBuilder, size: number, kernel: number, stride: number, dilation: number, padding: unknown): Window {
  const span = (kernel - 1) * dilation + 1;
  if (padding === 'valid') {
    if (size < span) g.fail(`input size ${size} is smaller than the ${span}-pixel window`);
    return { out: Math.floor((size - span) / stride) + 1, begin: 0, end: 0 };
  }
  if (padding === 'same') {
    const out = Math.ceil(size / stride);
    const total = Math.max((out - 1) * stride + span - size, 0);
    return { out, begin: Math.floor(total / 2), end: total - Math.floor(total / 2) };
  }
  if (padding === 'causal') {
    // Causal (Conv1D only): all padding before, so step t never sees t+1.
    return { out: Math.floor((size + span - 1 - span) / stride) + 1, begin: span - 1, end: 0 };
  }
  g.fail(`padding '${String(padding)}' is not supported (valid, same${g.layer.getClassName() === 'Conv1D' ? ', causal' : ''})`);
}

/** The value as channels-first [N, C, ...spatial] with `rank` spatial axes. */
function spatialInput(g: GraphBuilder, inputs: Value[], config: LayerConfig, rank: number): Value {
  const x = one(g, inputs);
  if (x.shape.length !== rank + 1) {
    g.fail(`expects a ${rank}-D input [${rank === 1 ? 'steps' : 'height, width'}, channels], got [${x.shape.join(', ')}]`);
  }
  if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') g.fail(`data_format '${String(config.dataFormat)}' is not supported (channels_last)`);
  return g.channelsFirst(g.inKerasOrder(x));
}

interface ConvGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  windows: Window[];
}

function geometry(g: GraphBuilder, x: Value, config: LayerConfig, rank: number, kernelKey = 'kernelSize'): ConvGeometry {
  const kernel = tuple(g, config[kernelKey], rank, 'kernel_size');
  const strides = tuple(g, config.strides ?? 1, rank, 'strides');
  const dilations = tuple(g, config.dilationRate ?? 1, rank, 'dilation_rate');
  const windows = kernel.map((k, i) => window(g, x.shape[i]!, k, strides[i]!, dilations[i]!, config.padding ?? 'valid'));
  return { kernel, strides, dilations, windows };
}

function convAttributes(geo: ConvGeometry, group: number): ReturnType<typeof intAttr>[] {
  return [
    intsAttr('dilations', geo.dilations),
    intAttr('group', group),
    intsAttr('kernel_shape', geo.kernel),
    intsAttr('pads', [...geo.windows.map((w) => w.begin), ...geo.windows.map((w) => w.end)]),
    intsAttr('strides', geo.strides),
  ];
}

/** [...spatial, in, out] → [out, in, ...spatial]. */
function kernelToOnnx(k: Float32Array, spatial: number, inChannels: number, outChannels: number): Float32Array {
  const w = new Float32Array(k.length);
  for (let s = 0; s < spatial; s++)
    for (let i = 0; i < inChannels; i++)
      for (let o = 0; o < outChannels; o++) w[(o * inChannels + i) * spatial + s] = k[(s * inChannels + i) * outChannels + o]!;
  return w;
}

/** Depthwise [...spatial, in, multiplier] → grouped [in·multiplier, 1, ...spatial]; TF numbers output channel i·m + j. */
function depthwiseToOnnx(k: Float32Array, spatial: number, inChannels: number, multiplier: number): Float32Array {
  const w = new Float32Array(k.length);
  for (let s = 0; s < spatial; s++)
    for (let i = 0; i < inChannels; i++)
      for (let m = 0; m < multiplier; m++) w[(i * multiplier + m) * spatial + s] = k[(s * inChannels + i) * multiplier + m]!;
  return w;
}

function convN(rank: number): LayerConverter {
  return (g, inputs, config, layer) => {
    const x = spatialInput(g, inputs, config, rank);
    if (config.padding === 'causal' && rank !== 1) g.fail("padding 'causal' is only defined for Conv1D");
    const geo = geometry(g, x, config, rank);
    if (geo.strides.some((s) => s > 1) && geo.dilations.some((d) => d > 1)) g.fail('strides and dilation_rate both above 1 are not supported');
    const inChannels = x.shape[rank]!;
    const filters = config.filters as number;
    const useBias = config.useBias !== false;
    const shapes = [[...geo.kernel, inChannels, filters]];
    if (useBias) shapes.push([filters]);
    const [kernel, bias] = g.weights(layer, shapes);
    const convInputs = [x.name, g.floats('kernel', [filters, inChannels, ...geo.kernel], kernelToOnnx(kernel!, product(geo.kernel), inChannels, filters))];
    if (bias) convInputs.push(g.floats('bias', [filters], bias));
    const y = g.node('Conv', convInputs, convAttributes(geo, 1));
    return applyActivation(g, { name: y, shape: [...geo.windows.map((w) => w.out), filters], channelsFirst: true }, config.activation);
  };
}

export const conv1d = convN(1);
export const conv2d = convN(2);

/** TF.js' SeparableConv2D leaves depth_multiplier out of its config; the depthwise kernel's last dim is it. */
function depthMultiplier(layer: tf.layers.Layer, config: LayerConfig): number {
  const fromConfig = config.depthMultiplier as number | undefined;
  return fromConfig ?? layer.getWeights()[0]?.shape[3] ?? 1;
}

export const depthwiseConv2d: LayerConverter = (g, inputs, config, layer) => {
  const x = spatialInput(g, inputs, config, 2);
  const geo = geometry(g, x, config, 2);
  const inChannels = x.shape[2]!;
  const multiplier = depthMultiplier(layer, config);
  const useBias = config.useBias !== false;
  const out = inChannels * multiplier;
  const shapes = [[...geo.kernel, inChannels, multiplier]];
  if (useBias) shapes.push([out]);
  const [kernel, bias] = g.weights(layer, shapes);
  const convInputs = [x.name, g.floats('depthwise_kernel', [out, 1, ...geo.kernel], depthwiseToOnnx(kernel!, product(geo.kernel), inChannels, multiplier))];
  if (bias) convInputs.push(g.floats('bias', [out], bias));
  const y = g.node('Conv', convInputs, convAttributes(geo, inChannels));
  return applyActivation(g, { name: y, shape: [...geo.windows.map((w) => w.out), out], channelsFirst: true }, config.activation);
};

export const separableConv2d: LayerConverter = (g, inputs, config, layer) => {
  const x = spatialInput(g, inputs, config, 2);
  const geo = geometry(g, x, config, 2);
  const inChannels = x.shape[2]!;
  const multiplier = depthMultiplier(layer, config);
  const mid = inChannels * multiplier;
  const filters = config.filters as number;
  const useBias = config.useBias !== false;
  const shapes = [[...geo.kernel, inChannels, multiplier], [1, 1, mid, filters]];
  if (useBias) shapes.push([filters]);
  const [depthwise, pointwise, bias] = g.weights(layer, shapes);
  const dw = g.node(
    'Conv',
    [x.name, g.floats('depthwise_kernel', [mid, 1, ...geo.kernel], depthwiseToOnnx(depthwise!, product(geo.kernel), inChannels, multiplier))],
    convAttributes(geo, inChannels),
    'depthwise',
  );
  const pwInputs = [dw, g.floats('pointwise_kernel', [filters, mid, 1, 1], kernelToOnnx(pointwise!, 1, mid, filters))];
  if (bias) pwInputs.push(g.floats('bias', [filters], bias));
  const y = g.node('Conv', pwInputs, [intAttr('group', 1), intsAttr('kernel_shape', [1, 1]), intsAttr('pads', [0, 0, 0, 0]), intsAttr('strides', [1, 1])], 'pointwise');
  return applyActivation(g, { name: y, shape: [...geo.windows.map((w) => w.out), filters], channelsFirst: true }, config.activation);
};

export const conv2dTranspose: LayerConverter = (g, inputs, config, layer) => {
  const x = spatialInput(g, inputs, config, 2);
  const kernel = tuple(g, config.kernelSize, 2, 'kernel_size');
  const strides = tuple(g, config.strides ?? 1, 2, 'strides');
  const dilations = tuple(g, config.dilationRate ?? 1, 2, 'dilation_rate');
  if (dilations.some((d) => d !== 1)) g.fail('dilation_rate above 1 is not supported');
  if (config.outputPadding != null) g.fail('output_padding is not supported');
  const padding = config.padding ?? 'valid';
  if (padding !== 'valid' && padding !== 'same') g.fail(`padding '${String(padding)}' is not supported (valid, same)`);
  const inChannels = x.shape[2]!;
  const filters = config.filters as number;
  const useBias = config.useBias !== false;
  const shapes = [[...kernel, filters, inChannels]];
  if (useBias) shapes.push([filters]);
  const [k, bias] = g.weights(layer, shapes);
  // Keras output length: same → in·s; valid → in·s + max(k − s, 0). ONNX ConvTranspose produces
  // s·(in − 1) + k − begin − end + output_padding; the difference goes to the end pad or output_padding.
  const begin: number[] = [];
  const end: number[] = [];
  const outputPadding: number[] = [];
  const outShape: number[] = [];
  for (let i = 0; i < 2; i++) {
    const size = x.shape[i]!;
    const s = strides[i]!;
    const kk = kernel[i]!;
    const want = padding === 'same' ? size * s : size * s + Math.max(kk - s, 0);
    const b = padding === 'same' ? Math.floor(Math.max(kk - s, 0) / 2) : 0;
    const full = s * (size - 1) + kk;
    const diff = full - b - want;
    begin.push(b);
    end.push(Math.max(diff, 0));
    outputPadding.push(Math.max(-diff, 0));
    outShape.push(want);
  }
  // [...spatial, out, in] → [in, out, ...spatial] is the same index shuffle as Conv with the roles swapped.
  const w = kernelToOnnx(k!, product(kernel), filters, inChannels);
  const convInputs = [x.name, g.floats('kernel', [inChannels, filters, ...kernel], w)];
  if (bias) convInputs.push(g.floats('bias', [filters], bias));
  const attributes = [intsAttr('kernel_shape', kernel), intsAttr('pads', [...begin, ...end]), intsAttr('strides', strides)];
  if (outputPadding.some((p) => p > 0)) attributes.push(intsAttr('output_padding', outputPadding));
  const y = g.node('ConvTranspose', convInputs, attributes);
  return applyActivation(g, { name: y, shape: [...outShape, filters], channelsFirst: true }, config.activation);
};

function poolN(op: 'MaxPool' | 'AveragePool', rank: number): LayerConverter {
  return (g, inputs, config) => {
    const x = spatialInput(g, inputs, config, rank);
    const pool = tuple(g, config.poolSize ?? 2, rank, 'pool_size');
    const strides = tuple(g, config.strides ?? pool, rank, 'strides');
    const windows = pool.map((k, i) => window(g, x.shape[i]!, k, strides[i]!, 1, config.padding ?? 'valid'));
    // MaxPool ignores padded cells and AveragePool leaves them out of the count (count_include_pad=0), as TF does.
    const y = g.node(op, [x.name], [
      intsAttr('kernel_shape', pool),
      intsAttr('pads', [...windows.map((w) => w.begin), ...windows.map((w) => w.end)]),
      intsAttr('strides', strides),
    ]);
    return { name: y, shape: [...windows.map((w) => w.out), x.shape[rank]!], channelsFirst: true };
  };
}

export const maxPooling1d = poolN('MaxPool', 1);
export const maxPooling2d = poolN('MaxPool', 2);
export const averagePooling1d = poolN('AveragePool', 1);
export const averagePooling2d = poolN('AveragePool', 2);

function globalPool(op: 'ReduceMean' | 'ReduceMax', rank: number): LayerConverter {
  return (g, inputs, config) => {
    const x = g.inKerasOrder(one(g, inputs));
    if (x.shape.length !== rank + 1) g.fail(`expects a ${rank}-D input with channels, got [${x.shape.join(', ')}]`);
    if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') g.fail(`data_format '${String(config.dataFormat)}' is not supported (channels_last)`);
    // Works in either layout: reduce the spatial axes wherever they are.
    const axes = Array.from({ length: rank }, (_, i) => g.onnxAxis(x, i + 1));
    const y = g.reduce(op, x.name, axes, false);
    return { name: y, shape: [x.shape[rank]!], channelsFirst: false };
  };
}

export const globalAveragePooling1d = globalPool('ReduceMean', 1);
export const globalAveragePooling2d = globalPool('ReduceMean', 2);
export const globalMaxPooling1d = globalPool('ReduceMax', 1);
export const globalMaxPooling2d = globalPool('ReduceMax', 2);

