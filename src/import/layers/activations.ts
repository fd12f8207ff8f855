/**
 * Keras activations → ONNX, by their TF.js serialized names (TF.js camel-cases Keras' snake_case:
 * 'hard_sigmoid' → 'hardSigmoid', 'leaky_relu' → 'leakyRelu'). Every one of them is elementwise
 * except softmax/log-softmax, which run over the Keras last axis.
 */
import type { GraphBuilder, Value } from './graph.js';
import { floatAttr, intAttr } from './graph.js';

type ActivationConverter = (g: GraphBuilder, v: Value) => string;

const clip = (g: GraphBuilder, x: string, min: number, max: number, suffix = 'Clip'): string =>
  g.node('Clip', [x, g.scalar('min', min), g.scalar('max', max)], [], suffix);
const mul = (g: GraphBuilder, a: string, b: string, suffix = 'Mul'): string => g.node('Mul', [a, b], [], suffix);

/** x · sigmoid(x) */
const swish: ActivationConverter = (g, v) => mul(g, v.name, g.node('Sigmoid', [v.name]), 'swish');

/**
 * Softmax runs over the Keras last axis. A flat vector still in flatten-permuted order is fine:
 * softmax over all features commutes with any permutation of them.
 */
const softmaxAxis = (g: GraphBuilder, v: Value): number => (v.shape.length === 0 ? 1 : g.onnxAxis(v, -1));

export const ACTIVATIONS: Record<string, ActivationConverter | null> = {
  linear: null,
  relu: (g, v) => g.node('Relu', [v.name]),
  relu6: (g, v) => clip(g, v.name, 0, 6, 'relu6'),
  leakyRelu: (g, v) => g.node('LeakyRelu', [v.name], [floatAttr('alpha', 0.2)]),
  elu: (g, v) => g.node('Elu', [v.name], [floatAttr('alpha', 1)]),
  selu: (g, v) => g.node('Selu', [v.name]),
  sigmoid: (g, v) => g.node('Sigmoid', [v.name]),
  // Keras 2 and TF.js: clip(0.2·x + 0.5, 0, 1).
  hardSigmoid: (g, v) => g.node('HardSigmoid', [v.name], [floatAttr('alpha', 0.2), floatAttr('beta', 0.5)]),
  // Keras 3 redefined hard_sigmoid as relu6(x + 3) / 6; keras-config.ts renames it to this.
  keras3HardSigmoid: (g, v) => g.node('HardSigmoid', [v.name], [floatAttr('alpha', 1 / 6), floatAttr('beta', 0.5)]),
  // x · relu6(x + 3) / 6 = x · HardSigmoid(x; 1/6, 0.5); ONNX HardSwish needs opset 14.
  hardSilu: (g, v) => mul(g, v.name, g.node('HardSigmoid', [v.name], [floatAttr('alpha', 1 / 6), floatAttr('beta', 0.5)]), 'hard_silu'),
  hardSwish: (g, v) => mul(g, v.name, g.node('HardSigmoid', [v.name], [floatAttr('alpha', 1 / 6), floatAttr('beta', 0.5)]), 'hard_swish'),
  tanh: (g, v) => g.node('Tanh', [v.name]),
  softmax: (g, v) => g.node('Softmax', [v.name], [intAttr('axis', softmaxAxis(g, v))]),
  logSoftmax: (g, v) => g.node('LogSoftmax', [v.name], [intAttr('axis', softmaxAxis(g, v))]),
  softplus: (g, v) => g.node('Softplus', [v.name]),
  softsign: (g, v) => g.node('Softsign', [v.name]),
  exponential: (g, v) => g.node('Exp', [v.name]),
  swish,
  silu: swish,
  // x · tanh(softplus(x))
  mish: (g, v) => mul(g, v.name, g.node('Tanh', [g.node('Softplus', [v.name])]), 'mish'),
  // Keras' default gelu is the exact one: 0.5 · x · (1 + erf(x / √2)).
  gelu: (g, v) => {
    const erf = g.node('Erf', [g.node('Div', [v.name, g.scalar('sqrt2', Math.SQRT2)])]);
    const onePlus = g.node('Add', [erf, g.scalar('one', 1)]);
    return mul(g, g.node('Mul', [v.name, g.scalar('half', 0.5)]), onePlus, 'gelu');
  },
  // The tanh approximation: 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))).
  geluNew: geluTanh,
  gelu_new: geluTanh,
};

function geluTanh(g: GraphBuilder, v: Value): string {
  const cube = g.node('Mul', [g.node('Mul', [v.name, v.name]), v.name]);
  const inner = g.node('Add', [v.name, g.node('Mul', [cube, g.scalar('c', 0.044715)])]);
  const t = g.node('Tanh', [g.node('Mul', [inner, g.scalar('k', Math.sqrt(2 / Math.PI))])]);
  return mul(g, g.node('Mul', [v.name, g.scalar('half', 0.5)]), g.node('Add', [t, g.scalar('one', 1)]), 'gelu');
}

export const SUPPORTED_ACTIVATIONS = Object.keys(ACTIVATIONS);

/** Applies a Keras activation given by name (or a TF.js serialized { className }). */
export function applyActivation(g: GraphBuilder, v: Value, activation: unknown): Value {
  const name =
    activation == null
      ? 'linear'
      : typeof activation === 'string'
        ? activation
        : typeof activation === 'object' && typeof (activation as { className?: unknown }).className === 'string'
          ? (activation as { className: string }).className
          : String(activation);
  if (!(name in ACTIVATIONS)) g.fail(`activation '${name}' is not supported (supported: ${SUPPORTED_ACTIVATIONS.join(', ')})`);
  const convert = ACTIVATIONS[name];
  // Elementwise, so a pending flatten permutation and the layout pass through.
  return convert ? { ...v, name: convert(g, v), graphInput: undefined } : v;
}

/** The ONNX name and attributes of a recurrent-cell activation (ONNX LSTM/GRU/RNN take a fixed list). */
export function recurrentActivation(g: GraphBuilder, activation: unknown, role: string): { name: string; alpha?: number; beta?: number } {
  const name = typeof activation === 'string' ? activation : 'linear';
  switch (name) {
    case 'tanh':
      return { name: 'Tanh' };
    case 'sigmoid':
      return { name: 'Sigmoid' };
    case 'hardSigmoid':
      return { name: 'HardSigmoid', alpha: 0.2, beta: 0.5 };
    case 'keras3HardSigmoid':
      return { name: 'HardSigmoid', alpha: 1 / 6, beta: 0.5 };
    case 'relu':
      return { name: 'Relu' };
    case 'linear':
      return { name: 'Affine', alpha: 1, beta: 0 };
    case 'softsign':
      return { name: 'Softsign' };
    case 'softplus':
      return { name: 'Softplus' };
    case 'elu':
      return { name: 'Elu', alpha: 1 };
    default:
      g.fail(`${role} '${name}' is not supported in a recurrent layer (tanh, sigmoid, hard_sigmoid, relu, linear, softsign, softplus, elu)`);
  }
}
