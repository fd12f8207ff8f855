/** Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate: the functional API's merge layers. */
import type { LayerConverter } from './core.js';
import { intAttr, type GraphBuilder, type Value } from './graph.js';

const sameOrder = (a?: Int32Array, b?: Int32Array): boolean =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]));

/**
 * Brings the inputs to one layout: channels first if any input already is (the convolution side of
 * a residual block), and one feature order (kept when all flat inputs share the same permutation).
 */
function unify(g: GraphBuilder, inputs: Value[]): Value[] {
  if (inputs.length < 2) g.fail(`expects at least 2 inputs, got ${inputs.length}`);
  const order = inputs[0]!.kerasOrder;
  const keepOrder = order !== undefined && inputs.every((v) => sameOrder(v.kerasOrder, order));
  let xs = keepOrder ? inputs : inputs.map((v) => g.inKerasOrder(v));
  const anyChannelsFirst = xs.some((v) => v.channelsFirst);
  if (anyChannelsFirst) xs = xs.map((v) => g.channelsFirst(v));
  return xs;
}

function elementwise(op: 'Sum' | 'Sub' | 'Mul' | 'Mean' | 'Max' | 'Min'): LayerConverter {
  return (g, inputs) => {
    const xs = unify(g, inputs);
    const shape = xs[0]!.shape;
    for (const v of xs) {
      if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
        g.fail(`inputs have different shapes [${shape.join(', ')}] and [${v.shape.join(', ')}]`);
      }
    }
    if (op === 'Sub' && xs.length !== 2) g.fail(`Subtract expects exactly 2 inputs, got ${xs.length}`);
    let y: string;
    if (op === 'Sub') y = g.node('Sub', [xs[0]!.name, xs[1]!.name]);
    else if (op === 'Mul') y = xs.slice(1).reduce((acc, v) => g.node('Mul', [acc, v.name]), xs[0]!.name);
    else y = g.node(op, xs.map((v) => v.name));
    return { name: y, shape, channelsFirst: xs[0]!.channelsFirst, kerasOrder: xs[0]!.kerasOrder };
  };
}

export const add = elementwise('Sum');
export const subtract = elementwise('Sub');
export const multiply = elementwise('Mul');
export const average = elementwise('Mean');
export const maximum = elementwise('Max');
export const minimum = elementwise('Min');

export const concatenate: LayerConverter = (g, inputs, config) => {
  if (inputs.length < 2) g.fail(`expects at least 2 inputs, got ${inputs.length}`);
  const rank = inputs[0]!.shape.length;
  const kerasAxis = ((config.axis as number | undefined) ?? -1) < 0 ? ((config.axis as number | undefined) ?? -1) + rank + 1 : (config.axis as number);
  if (inputs.some((v) => v.shape.length !== rank)) g.fail('inputs have different ranks');
  if (rank === 1 && inputs.some((v) => v.kerasOrder)) {
    // Flat vectors: the concatenated permutation is each input's, shifted by the sizes before it.
    const sizes = inputs.map((v) => v.shape[0]!);
    const total = sizes.reduce((a, b) => a + b, 0);
    const order = new Int32Array(total);
    let offset = 0;
    for (const v of inputs) {
      const n = v.shape[0]!;
      for (let k = 0; k < n; k++) order[offset + k] = offset + (v.kerasOrder ? v.kerasOrder[k]! : k);
      offset += n;
    }
    const y = g.node('Concat', inputs.map((v) => v.name), [intAttr('axis', 1)]);
    return { name: y, shape: [total], channelsFirst: false, kerasOrder: order };
  }
  const xs = unify(g, inputs);
  const shape = [...xs[0]!.shape];
  for (const v of xs.slice(1)) {
    if (v.shape.some((d, i) => i !== kerasAxis - 1 && d !== shape[i])) g.fail(`inputs [${shape.join(', ')}] and [${v.shape.join(', ')}] differ off the concatenation axis`);
    shape[kerasAxis - 1]! += v.shape[kerasAxis - 1]!;
  }
  const y = g.node('Concat', xs.map((v) => v.name), [intAttr('axis', g.onnxAxis(xs[0]!, kerasAxis))]);
  return { name: y, shape, channelsFirst: xs[0]!.channelsFirst };
};
