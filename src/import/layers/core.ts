/** Dense, Embedding, the activation layers, Rescaling, and the layers that are identities at inference. */
import type * as tf from '@tensorflow/tfjs';
import { applyActivation } from './activations.js';
import { floatAttr, intAttr, type GraphBuilder, type LayerConfig, type Value } from './graph.js';

export type LayerConverter = (g: GraphBuilder, inputs: Value[], config: LayerConfig, layer: tf.layers.Layer) => Value | Value[];

/** The single input of a one-input layer. */
export function one(g: GraphBuilder, inputs: Value[]): Value {
  if (inputs.length !== 1) g.fail(`expects one input, got ${inputs.length}`);
  return inputs[0]!;
}

/** Per-feature constants of a flat value, moved to where a pending flatten permutation put each feature. */
export function inOnnxOrder(v: Value, values: Float32Array): Float32Array {
  if (!v.kerasOrder) return values;
  const out = new Float32Array(values.length);
  for (let k = 0; k < values.length; k++) out[v.kerasOrder[k]!] = values[k]!;
  return out;
}

export const dense: LayerConverter = (g, inputs, config, layer) => {
  const x = one(g, inputs);
  if (x.shape.length === 0) g.fail('expects an input with a feature axis');
  const features = x.shape[x.shape.length - 1]!;
  const units = config.units as number;
  const useBias = config.useBias !== false;
  const [kernel, bias] = g.weights(layer, useBias ? [[features, units], [units]] : [[features, units]]);
  if (x.shape.length === 1) {
    let rows = kernel!;
    if (x.kerasOrder) {
      // Row k of the Keras kernel multiplies Keras feature k, which the ONNX vector holds at kerasOrder[k].
      rows = new Float32Array(kernel!.length);
      for (let k = 0; k < features; k++) rows.set(kernel!.subarray(k * units, (k + 1) * units), x.kerasOrder[k]! * units);
    }
    const gemmInputs = [x.name, g.floats('kernel', [features, units], rows)];
    if (bias) gemmInputs.push(g.floats('bias', [units], bias));
    return applyActivation(g, { name: g.node('Gemm', gemmInputs), shape: [units], channelsFirst: false }, config.activation);
  }
  // Keras applies Dense to the last axis of a higher-rank input.
  const k = g.kerasLayout(x);
  let y = g.node('MatMul', [k.name, g.floats('kernel', [features, units], kernel!)]);
  if (bias) y = g.node('Add', [y, g.floats('bias', [units], bias)]);
  return applyActivation(g, { name: y, shape: [...x.shape.slice(0, -1), units], channelsFirst: false }, config.activation);
};

export const embedding: LayerConverter = (g, inputs, config, layer) => {
  const x = one(g, inputs);
  if (config.maskZero === true) g.fail('mask_zero=True is not supported: masking changes how later layers treat padded steps');
  const rows = config.inputDim as number;
  const width = config.outputDim as number;
  const [table] = g.weights(layer, [[rows, width]]);
  if (x.graphInput) g.indexInputs.set(x.graphInput, rows);
  const k = g.kerasLayout(x);
  // Gather wants integer indices; TF.js and Keras truncate float indices the same way Cast does.
  const indices = x.elemType === 'int32' || x.elemType === 'int64' ? k.name : g.node('Cast', [k.name], [intAttr('to', 7)], 'indices');
  const out = g.node('Gather', [g.floats('embeddings', [rows, width], table!), indices], [intAttr('axis', 0)]);
  return { name: out, shape: [...x.shape, width], channelsFirst: false };
};

export const activation: LayerConverter = (g, inputs, config) => applyActivation(g, one(g, inputs), config.activation);

export const relu: LayerConverter = (g, inputs, config) => {
  const x = one(g, inputs);
  const max = config.maxValue;
  let y = g.node('Relu', [x.name]);
  if (typeof max === 'number') y = g.node('Clip', [y, g.scalar('min', 0), g.scalar('max', max)], [], 'relu_max');
  return { ...x, name: y, graphInput: undefined };
};

export const leakyRelu: LayerConverter = (g, inputs, config) => {
  const x = one(g, inputs);
  return { ...x, name: g.node('LeakyRelu', [x.name], [floatAttr('alpha', (config.alpha as number | undefined) ?? 0.3)]), graphInput: undefined };
};

export const elu: LayerConverter = (g, inputs, config) => {
  const x = one(g, inputs);
  return { ...x, name: g.node('Elu', [x.name], [floatAttr('alpha', (config.alpha as number | undefined) ?? 1)]), graphInput: undefined };
};

export const thresholdedRelu: LayerConverter = (g, inputs, config) => {
  const x = one(g, inputs);
  return { ...x, name: g.node('ThresholdedRelu', [x.name], [floatAttr('alpha', (config.theta as number | undefined) ?? 1)]), graphInput: undefined };
};

export const softmax: LayerConverter = (g, inputs, config) => {
  const x = one(g, inputs);
  const axis = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1];
  if (axis.length !== 1) g.fail('softmax over several axes is not supported');
  if (x.kerasOrder) return { ...x, name: g.node('Softmax', [x.name], [intAttr('axis', 1)]) };
  return { ...x, name: g.node('Softmax', [x.name], [intAttr('axis', g.onnxAxis(x, axis[0] as number))]), graphInput: undefined };
};

export const prelu: LayerConverter = (g, inputs, config, layer) => {
  let x = one(g, inputs);
  const shared = new Set(((config.sharedAxes as number[] | null) ?? []).map((a) => (a < 0 ? a + x.shape.length + 1 : a)));
  const alphaShape = x.shape.map((d, i) => (shared.has(i + 1) ? 1 : d));
  const [alpha] = g.weights(layer, [alphaShape]);
  if (x.kerasOrder) {
    return { ...x, name: g.node('PRelu', [x.name, g.floats('alpha', [x.shape[0]!], inOnnxOrder(x, alpha!))]) };
  }
  if (x.channelsFirst) {
    // The slope tensor broadcasts against the ONNX layout: move its channel axis first too.
    const c = alphaShape[alphaShape.length - 1]!;
    const spatial = alphaShape.slice(0, -1);
    const s = spatial.reduce((a, b) => a * b, 1);
    const cf = new Float32Array(alpha!.length);
    for (let p = 0; p < s; p++) for (let ch = 0; ch < c; ch++) cf[ch * s + p] = alpha![p * c + ch]!;
    return { ...x, name: g.node('PRelu', [x.name, g.floats('alpha', [c, ...spatial], cf)]), graphInput: undefined };
  }
  x = g.kerasLayout(x);
  return { ...x, name: g.node('PRelu', [x.name, g.floats('alpha', alphaShape, alpha!)]), graphInput: undefined };
};

export const rescaling: LayerConverter = (g, inputs, config) => {
  const x = one(g, inputs);
  const scale = config.scale as number;
  const offset = (config.offset as number | undefined) ?? 0;
  if (typeof scale !== 'number') g.fail('only a scalar scale is supported');
  let y = g.node('Mul', [x.name, g.scalar('scale', scale)]);
  if (offset !== 0) y = g.node('Add', [y, g.scalar('offset', offset)]);
  return { ...x, name: y, graphInput: undefined };
};

/** Layers that only act in training (noise, dropout, regularization): identities at inference. */
export const identity: LayerConverter = (g, inputs) => one(g, inputs);
