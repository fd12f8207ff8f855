/** Element-wise ops and activations; they keep whatever layout their input has. */
import { DataType } from '../../../model/onnx.js';
import { TO_NCHW, floatAttr, intAttr, known, product, transposeData, type GraphBuilder, type Value } from '../builder.js';
import type { OpConverter } from '../registry-types.js';

/** Numpy broadcasting of two TF shapes (-1 unknown). */
export function broadcastShape(g: GraphBuilder, a: number[], b: number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[i - rank + a.length] ?? 1;
    const y = b[i - rank + b.length] ?? 1;
    if (x === 1) return y;
    if (y === 1 || x === y) return x;
    if (x === -1 || y === -1) return Math.max(x, y);
    g.fail(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
  });
}

/** A constant broadcast against an NCHW value: padded to rank 4 and moved to NCHW order. */
function constNchw(g: GraphBuilder, v: Value): string {
  if (v.shape.length === 0) return g.tf(v);
  const dims = [...new Array<number>(4 - v.shape.length).fill(1), ...v.shape];
  return g.constant('value_nchw', TO_NCHW.map((p) => dims[p]!), transposeData(v.constant!, dims, TO_NCHW), v.dtype);
}

const FOLDED: Record<string, (x: number, y: number) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Max: (x, y) => Math.max(x, y),
  Min: (x, y) => Math.min(x, y),
  Less: (x, y) => Number(x < y),
  Greater: (x, y) => Number(x > y),
  LessOrEqual: (x, y) => Number(x <= y),
  GreaterOrEqual: (x, y) => Number(x >= y),
  Equal: (x, y) => Number(x === y),
  And: (x, y) => Number(x !== 0 && y !== 0),
  Or: (x, y) => Number(x !== 0 || y !== 0),
};
const COMPARISONS = new Set(['Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Equal', 'And', 'Or']);
const MAX_FOLDED = 4096;

/**
 * A binary op on two small constants, computed here (numpy broadcasting; float32 results rounded as
 * float32 arithmetic rounds them): shape arithmetic and loop counters stay constants, which the ops
 * that need a constant operand (and the unrolling of a loop) can read.
 */
function folded(op: string, a: Value, b: Value, shape: number[]): Value | undefined {
  const f = FOLDED[op];
  if (!f || !a.constant || !b.constant || !known(shape) || product(shape) > MAX_FOLDED) return undefined;
  const n = product(shape);
  const index = (v: Value, flat: number): number => {
    let at = 0;
    let stride = 1;
    let rest = flat;
    const offset = shape.length - v.shape.length;
    const coords = shape.map(() => 0);
    for (let k = shape.length - 1; k >= 0; k--) {
      coords[k] = rest % shape[k]!;
      rest = Math.floor(rest / shape[k]!);
    }
    for (let k = v.shape.length - 1; k >= 0; k--) {
      const d = v.shape[k]!;
      at += (d === 1 ? 0 : coords[k + offset]!) * stride;
      stride *= d;
    }
    return at;
  };
  const compare = COMPARISONS.has(op);
  const out = compare ? new Uint8Array(n) : a.dtype === 'float32' ? new Float32Array(n) : a.dtype === 'int32' ? new Int32Array(n) : new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = f(a.constant[index(a, k)]!, b.constant[index(b, k)]!);
  return { name: '', shape, dtype: compare ? 'bool' : a.dtype, constant: out };
}

/** An ONNX broadcasting binary op, computed channels-first when an operand already is. */
export function binary(g: GraphBuilder, op: string, a: Value, b: Value, attrs: ReturnType<typeof intAttr>[] = []): Value {
  const shape = broadcastShape(g, a.shape, b.shape);
  const dtype = a.dtype;
  if (attrs.length === 0) {
    const c = folded(op, a, b, shape);
    if (c) return c;
  }
  if (shape.length === 4 && (a.nchw || b.nchw)) {
    const side = (v: Value): string | undefined => (v.nchw ? v.name : v.constant ? constNchw(g, v) : v.shape.length === 4 ? g.nchw(v) : undefined);
    const x = side(a);
    const y = side(b);
    if (x !== undefined && y !== undefined) return { name: g.emit(op, [x, y], attrs), shape, dtype, nchw: true };
  }
  return { name: g.emit(op, [g.tf(a), g.tf(b)], attrs), shape, dtype };
}

export function unary(g: GraphBuilder, op: string, x: Value, attrs: ReturnType<typeof intAttr>[] = []): Value {
  return { name: g.emit(op, [x.nchw ? x.name : g.tf(x)], attrs), shape: x.shape, dtype: x.dtype, nchw: x.nchw };
}

const twoInputs = (g: GraphBuilder, inputs: Value[]): [Value, Value] => {
  if (inputs.length !== 2) g.fail(`expects 2 inputs, got ${inputs.length}`);
  return [inputs[0]!, inputs[1]!];
};

const oneInput = (g: GraphBuilder, inputs: Value[]): Value => {
  if (inputs.length < 1) g.fail('expects an input');
  return inputs[0]!;
};

export const binaryOp = (op: string): OpConverter => (g, inputs) => binary(g, op, ...twoInputs(g, inputs));
export const unaryOp = (op: string): OpConverter => (g, inputs) => unary(g, op, oneInput(g, inputs));

function clip(g: GraphBuilder, x: Value, lo: number, hi: number): Value {
  const name = g.emit('Clip', [x.nchw ? x.name : g.tf(x), g.floats('min', [], [lo]), g.floats('max', [], [hi])]);
  return { name, shape: x.shape, dtype: x.dtype, nchw: x.nchw };
}

/** The activations TF fuses into convolutions and MatMul, and their stand-alone ops. */
export function activation(g: GraphBuilder, x: Value, name: string, alpha?: Value): Value {
  switch (name) {
    case 'Relu':
      return unary(g, 'Relu', x);
    case 'Relu6':
      return clip(g, x, 0, 6);
    case 'Elu':
      return unary(g, 'Elu', x, [floatAttr('alpha', 1)]);
    case 'Sigmoid':
      return unary(g, 'Sigmoid', x);
    case 'Tanh':
      return unary(g, 'Tanh', x);
    case 'LeakyRelu':
      return unary(g, 'LeakyRelu', x, [floatAttr('alpha', g.attrs.float('leakyrelu_alpha', g.attrs.float('alpha', 0.2)))]);
    case 'Prelu': {
      if (!alpha) g.fail('Prelu needs its alpha input');
      // max(0, x) + alpha · min(0, x), the form TF.js computes; ONNX PRelu's unidirectional broadcast is the same.
      const a = alpha.constant && x.nchw ? constNchw(g, alpha) : x.nchw ? g.nchw(alpha) : g.tf(alpha);
      return { name: g.emit('PRelu', [x.nchw ? x.name : g.tf(x), a]), shape: x.shape, dtype: x.dtype, nchw: x.nchw };
    }
    default:
      g.fail(`fused activation '${name}' is not supported (Relu, Relu6, Elu, Sigmoid, Tanh, LeakyRelu, Prelu)`);
  }
}

export const relu: OpConverter = (g, inputs) => activation(g, oneInput(g, inputs), 'Relu');
export const relu6: OpConverter = (g, inputs) => activation(g, oneInput(g, inputs), 'Relu6');
export const elu: OpConverter = (g, inputs) => activation(g, oneInput(g, inputs), 'Elu');
export const leakyRelu: OpConverter = (g, inputs) => activation(g, oneInput(g, inputs), 'LeakyRelu');
export const prelu: OpConverter = (g, inputs) => {
  const [x, alpha] = twoInputs(g, inputs);
  return activation(g, x, 'Prelu', alpha);
};

export const softmax: OpConverter = (g, inputs) => {
  const x = oneInput(g, inputs);
  // Softmax over TF's last axis is ONNX axis 1 of an NCHW tensor.
  if (x.nchw) return { name: g.emit('Softmax', [x.name], [intAttr('axis', 1)]), shape: x.shape, dtype: x.dtype, nchw: true };
  return { name: g.emit('Softmax', [g.tf(x)], [intAttr('axis', -1)]), shape: x.shape, dtype: x.dtype };
};

/** 1/√x, as TF.js computes it. */
export const rsqrt: OpConverter = (g, inputs) => unary(g, 'Reciprocal', unary(g, 'Sqrt', oneInput(g, inputs)));

export const square: OpConverter = (g, inputs) => {
  const x = oneInput(g, inputs);
  return binary(g, 'Mul', x, x);
};

export const squaredDifference: OpConverter = (g, inputs) => {
  const d = binary(g, 'Sub', ...twoInputs(g, inputs));
  return binary(g, 'Mul', d, d);
};

/** BiasAdd is an Add over the channel axis (NHWC data_format only, as TF.js). */
export const biasAdd: OpConverter = (g, inputs) => {
  const format = g.attrs.string('data_format', 'NHWC');
  if (format !== 'NHWC') g.fail(`data_format ${format} is not supported (NHWC)`);
  return binary(g, 'Add', ...twoInputs(g, inputs));
};

/** AddN as a chain of Adds, so channels-first operands stay channels first. */
export const addN: OpConverter = (g, inputs) => {
  if (inputs.length < 1) g.fail('expects at least one input');
  return inputs.slice(1).reduce((acc, v) => binary(g, 'Add', acc, v), inputs[0]!);
};

/** floor(a / b); integers go through float32 (exact below 2^24), as ONNX Div truncates them toward zero. */
export const floorDiv: OpConverter = (g, inputs) => {
  const [a, b] = twoInputs(g, inputs);
  if (a.dtype === 'float32') return unary(g, 'Floor', binary(g, 'Div', a, b));
  const toFloat = (v: Value): Value => ({ ...v, name: g.emit('Cast', [g.tf(v)], [intAttr('to', DataType.FLOAT)], 'to_float'), dtype: 'float32', nchw: false, constant: undefined });
  const q = unary(g, 'Floor', binary(g, 'Div', toFloat(a), toFloat(b)));
  return { name: g.emit('Cast', [g.tf(q)], [intAttr('to', DataType.INT32)]), shape: q.shape, dtype: a.dtype };
};

/** The remainder with the divisor's sign (TF.js: ((a % b) + b) % b). */
export const floorMod: OpConverter = (g, inputs) => {
  const [a, b] = twoInputs(g, inputs);
  // ONNX integer Mod already takes the divisor's sign; float Mod must be C's fmod, then shifted.
  if (a.dtype !== 'float32') return binary(g, 'Mod', a, b);
  const fmod = [intAttr('fmod', 1)];
  return binary(g, 'Mod', binary(g, 'Add', binary(g, 'Mod', a, b, fmod), b), b, fmod);
};

/** Comparisons give bool tensors, as in TF. */
export const compareOp = (op: string): OpConverter => (g, inputs) => ({ ...binary(g, op, ...twoInputs(g, inputs)), dtype: 'bool' });

/** SelectV2: Where with numpy broadcasting. */
export const selectV2: OpConverter = (g, inputs) => {
  const [cond, a, b] = inputs;
  if (!cond || !a || !b) g.fail('expects a condition and two values');
  const shape = broadcastShape(g, broadcastShape(g, cond.shape, a.shape), b.shape);
  return { name: g.emit('Where', [g.tf(cond), g.tf(a), g.tf(b)]), shape, dtype: a.dtype };
};

/** LogicalAnd/Or and Not: bool in, bool out. */
export const logicalOp = (op: 'And' | 'Or'): OpConverter => (g, inputs) => ({ ...binary(g, op, ...twoInputs(g, inputs)), dtype: 'bool' });
export const logicalNot: OpConverter = (g, inputs) => ({ ...unary(g, 'Not', oneInput(g, inputs)), dtype: 'bool' });

