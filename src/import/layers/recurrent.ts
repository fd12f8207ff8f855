/**
 * LSTM, GRU, SimpleRNN and Bidirectional → ONNX LSTM/GRU/RNN (opset 13 layout: time-major).
 *
 * Keras LSTM gates are ordered i, f, c, o; ONNX wants i, o, f, c. GRU gates are z, r, h in both.
 * Keras GRU with reset_after=True (the TF2/Keras 3 default) is ONNX linear_before_reset=1 with
 * separate input and recurrent biases; reset_after=False has one bias and linear_before_reset=0.
 */
import type * as tf from '@tensorflow/tfjs';
import { recurrentActivation } from './activations.js';
import { one, type LayerConverter } from './core.js';
import { floatsAttr, intAttr, intsAttr, stringAttr, stringsAttr, type GraphBuilder, type LayerConfig, type Value } from './graph.js';

type Kind = 'LSTM' | 'GRU' | 'RNN';
const GATES: Record<Kind, number> = { LSTM: 4, GRU: 3, RNN: 1 };
/** ONNX gate block g comes from Keras gate block ORDER[g]. */
const ORDER: Record<Kind, number[]> = { LSTM: [0, 3, 1, 2], GRU: [0, 1, 2], RNN: [0] };

/** Keras [rows, gates·H] → ONNX [gates·H, rows], with the gate blocks reordered. */
function gatesToOnnx(k: Float32Array, rows: number, hidden: number, order: number[]): Float32Array {
  const gh = order.length * hidden;
  const out = new Float32Array(k.length);
  order.forEach((from, to) => {
    for (let h = 0; h < hidden; h++) for (let r = 0; r < rows; r++) out[(to * hidden + h) * rows + r] = k[r * gh + from * hidden + h]!;
  });
  return out;
}

function biasToOnnx(b: Float32Array, hidden: number, order: number[]): Float32Array {
  const out = new Float32Array(order.length * hidden);
  order.forEach((from, to) => out.set(b.subarray(from * hidden, (from + 1) * hidden), to * hidden));
  return out;
}

interface Direction {
  w: Float32Array;
  r: Float32Array;
  /** ONNX B: [Wb, Rb] for this direction, or undefined without bias. */
  b?: Float32Array;
}

function directionWeights(g: GraphBuilder, kind: Kind, ws: tf.Tensor[], config: LayerConfig, features: number, hidden: number): Direction {
  const gates = GATES[kind];
  const order = ORDER[kind];
  const useBias = config.useBias !== false;
  const resetAfter = kind === 'GRU' && config.resetAfter === true;
  const expected = [[features, gates * hidden], [hidden, gates * hidden]];
  if (useBias) expected.push(resetAfter ? [2, gates * hidden] : [gates * hidden]);
  if (ws.length !== expected.length) g.fail(`expected ${expected.length} weight tensors per direction, found ${ws.length}`);
  const data = ws.map((w, i) => {
    const want = expected[i]!;
    if (w.shape.length !== want.length || w.shape.some((d, j) => d !== want[j])) g.fail(`weight ${i} has shape [${w.shape.join(', ')}], expected [${want.join(', ')}]`);
    return Float32Array.from(w.dataSync() as Float32Array);
  });
  const out: Direction = { w: gatesToOnnx(data[0]!, features, hidden, order), r: gatesToOnnx(data[1]!, hidden, hidden, order) };
  if (useBias) {
    const b = new Float32Array(2 * gates * hidden);
    if (resetAfter) {
      b.set(biasToOnnx(data[2]!.subarray(0, gates * hidden), hidden, order), 0);
      b.set(biasToOnnx(data[2]!.subarray(gates * hidden), hidden, order), gates * hidden);
    } else {
      b.set(biasToOnnx(data[2]!, hidden, order), 0);
    }
    out.b = b;
  }
  return out;
}

function kindOf(g: GraphBuilder, className: string): Kind {
  if (className === 'LSTM') return 'LSTM';
  if (className === 'GRU' || className === 'GRUResetAfter') return 'GRU';
  if (className === 'SimpleRNN') return 'RNN';
  g.fail(`cannot wrap a ${className} layer (LSTM, GRU, SimpleRNN)`);
}

function checkOptions(g: GraphBuilder, config: LayerConfig): void {
  if (config.stateful === true) g.fail('stateful=True is not supported: each inference starts from zero state');
  if (config.returnState === true) g.fail('return_state=True is not supported');
  if (config.timeMajor === true) g.fail('time_major=True is not supported');
}

/** Emits the ONNX recurrent node for 1 or 2 directions; returns Y [T, D, N, H] or Y_h [D, N, H]. */
function recurrentNode(
  g: GraphBuilder,
  kind: Kind,
  x: Value,
  config: LayerConfig,
  directions: Direction[],
  direction: 'forward' | 'reverse' | 'bidirectional',
  hidden: number,
  sequences: boolean,
): string {
  const features = x.shape[1]!;
  const d = directions.length;
  const gates = GATES[kind];
  const concat = (parts: Float32Array[]): Float32Array => {
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  // Time-major for ONNX: [N, T, F] → [T, N, F].
  const timeMajor = g.node('Transpose', [x.name], [intsAttr('perm', [1, 0, 2])], 'time_major');
  const inputs = [
    timeMajor,
    g.floats('W', [d, gates * hidden, features], concat(directions.map((p) => p.w))),
    g.floats('R', [d, gates * hidden, hidden], concat(directions.map((p) => p.r))),
  ];
  if (directions[0]!.b) inputs.push(g.floats('B', [d, 2 * gates * hidden], concat(directions.map((p) => p.b!))));

  const activations: Array<{ name: string; alpha?: number; beta?: number }> = [];
  const gate = recurrentActivation(g, config.recurrentActivation ?? (kind === 'RNN' ? undefined : 'hardSigmoid'), 'recurrent_activation');
  const act = recurrentActivation(g, config.activation ?? 'tanh', 'activation');
  const perDirection = kind === 'LSTM' ? [gate, act, act] : kind === 'GRU' ? [gate, act] : [act];
  for (let k = 0; k < d; k++) activations.push(...perDirection);
  const attributes = [intAttr('hidden_size', hidden), stringAttr('direction', direction), stringsAttr('activations', activations.map((a) => a.name))];
  // activation_alpha/beta are positional over the activations that take them.
  const withParams = activations.filter((a) => a.alpha !== undefined);
  if (withParams.length > 0) {
    attributes.push(floatsAttr('activation_alpha', withParams.map((a) => a.alpha!)));
    if (withParams.some((a) => a.beta !== undefined)) attributes.push(floatsAttr('activation_beta', withParams.map((a) => a.beta ?? 0)));
  }
  if (kind === 'GRU' && config.resetAfter === true) attributes.push(intAttr('linear_before_reset', 1));
  const op = kind === 'LSTM' ? 'LSTM' : kind === 'GRU' ? 'GRU' : 'RNN';
  const [y, yh] = g.nodeOutputs(op, inputs, attributes, sequences ? ['Y', ''] : ['', 'Y_h']);
  return sequences ? y! : yh!;
}

function mergeOutputs(g: GraphBuilder, out: string, sequences: boolean, directions: number, hidden: number, mergeMode: string, steps: number): Value {
  if (sequences) {
    // Y [T, D, N, H] → [N, T, D, H], then merge the D axis.
    const batchMajor = g.node('Transpose', [out], [intsAttr('perm', [2, 0, 1, 3])], 'batch_major');
    if (directions === 1 || mergeMode === 'concat') return { name: g.reshape(batchMajor, [0, directions * hidden], 'sequences'), shape: [steps, directions * hidden], channelsFirst: false };
    return { name: mergeReduce(g, batchMajor, 2, mergeMode), shape: [steps, hidden], channelsFirst: false };
  }
  // Y_h [D, N, H]
  if (directions === 1) return { name: g.node('Squeeze', [out, g.int64s('axes', [0])], [], 'last'), shape: [hidden], channelsFirst: false };
  const batchMajor = g.node('Transpose', [out], [intsAttr('perm', [1, 0, 2])], 'batch_major');
  if (mergeMode === 'concat') return { name: g.reshape(batchMajor, [directions * hidden], 'last'), shape: [directions * hidden], channelsFirst: false };
  return { name: mergeReduce(g, batchMajor, 1, mergeMode), shape: [hidden], channelsFirst: false };
}

function mergeReduce(g: GraphBuilder, input: string, axis: number, mode: string): string {
  const op = mode === 'sum' ? 'ReduceSum' : mode === 'ave' ? 'ReduceMean' : mode === 'mul' ? 'ReduceProd' : undefined;
  if (!op) g.fail(`merge_mode '${mode}' is not supported (concat, sum, ave, mul)`);
  return g.reduce(op, input, [axis], false, `merge_${mode}`);
}

function sequenceInput(g: GraphBuilder, inputs: Value[]): Value {
  const x = g.kerasLayout(one(g, inputs));
  if (x.shape.length !== 2) g.fail(`expects a sequence input [steps, features], got [${x.shape.join(', ')}]`);
  return x;
}

export const recurrent: LayerConverter = (g, inputs, config, layer) => {
  const x = sequenceInput(g, inputs);
  const kind = kindOf(g, layer.getClassName());
  checkOptions(g, config);
  const hidden = config.units as number;
  const sequences = config.returnSequences === true;
  const backwards = config.goBackwards === true;
  const dir = directionWeights(g, kind, layer.getWeights(), config, x.shape[1]!, hidden);
  const out = recurrentNode(g, kind, x, config, [dir], backwards ? 'reverse' : 'forward', hidden, sequences);
  const v = mergeOutputs(g, out, sequences, 1, hidden, 'concat', x.shape[0]!);
  if (!(backwards && sequences)) return v;
  // Keras returns a go_backwards sequence in processing order (last step first); ONNX aligns it with the input.
  const reversed = g.node('Slice', [v.name, g.int64s('starts', [-1]), g.int64s('ends', [Number.MIN_SAFE_INTEGER]), g.int64s('axes', [1]), g.int64s('steps', [-1])], [], 'processing_order');
  return { ...v, name: reversed };
};

export const bidirectional: LayerConverter = (g, inputs, config, layer) => {
  const x = sequenceInput(g, inputs);
  const inner = config.layer as { className?: string; config?: LayerConfig } | undefined;
  if (!inner?.className || !inner.config) return g.fail('has no wrapped layer config');
  const kind = kindOf(g, inner.className);
  const innerConfig = inner.config;
  checkOptions(g, innerConfig);
  const mergeMode = (config.mergeMode as string | null | undefined) ?? 'concat';
  if (config.mergeMode === null) g.fail('merge_mode=None (two outputs) is not supported');
  const hidden = innerConfig.units as number;
  const sequences = innerConfig.returnSequences === true;
  const ws = layer.getWeights();
  const half = ws.length / 2;
  const forward = directionWeights(g, kind, ws.slice(0, half), innerConfig, x.shape[1]!, hidden);
  const backward = directionWeights(g, kind, ws.slice(half), innerConfig, x.shape[1]!, hidden);
  // Keras flips the backward sequence back into input order, which is how ONNX returns it already.
  const out = recurrentNode(g, kind, x, innerConfig, [forward, backward], 'bidirectional', hidden, sequences);
  return mergeOutputs(g, out, sequences, 2, hidden, mergeMode, x.shape[0]!);
};
