/**
 * TensorList ops (TF2's TensorArray, as tf.map_fn writes its loops) held at conversion time: a list is
 * a Value whose `list` has one Value per item. This works where every index is a constant, which is
 * the case once a loop with a known trip count is unrolled (convert.ts).
 */
import { intAttr, type GraphBuilder, type TensorList, type Value } from '../builder.js';
import { tfDType } from '../graph-def.js';
import type { OpConverter } from '../registry-types.js';

const listOf = (g: GraphBuilder, v: Value | undefined): TensorList => {
  if (!v?.list) g.fail('expects a TensorList');
  return v.list;
};

const listValue = (list: TensorList): Value => ({ name: '', shape: [list.items.length], dtype: list.dtype, list });

function index(g: GraphBuilder, v: Value | undefined, list: TensorList): number {
  const k = g.constInts(v, 'index (a TensorList is indexed at conversion time; is the loop unrolled?)')[0]!;
  if (!Number.isInteger(k) || k < 0 || k >= list.items.length) g.fail(`index ${k} is outside the list of ${list.items.length}`);
  return k;
}

function item(g: GraphBuilder, list: TensorList, k: number): Value {
  const v = list.items[k];
  if (v) return v;
  if (!list.source) g.fail(`item ${k} of the list is read before it is set`);
  const x = list.source;
  const name = g.emit('Gather', [g.tf(x), g.constant(`row_${k}`, [], BigInt64Array.of(BigInt(k)))], [intAttr('axis', 0)], `item_${k}`);
  return { name, shape: x.shape.slice(1), dtype: x.dtype };
}

/** TensorListReserve(element_shape, num_elements): a list of unset items. */
export const tensorListReserve: OpConverter = (g, inputs) => {
  const n = g.constInts(inputs[1], 'num_elements')[0]!;
  if (!(n >= 0)) g.fail(`num_elements ${n} must be known`);
  return listValue({ items: new Array<Value | undefined>(n).fill(undefined), dtype: tfDType(g.attrs.type('element_dtype'), g.label) });
};

/** TensorListFromTensor(tensor, element_shape): the rows of the tensor. */
export const tensorListFromTensor: OpConverter = (g, inputs) => {
  const x = inputs[0];
  if (!x) g.fail('expects a tensor');
  const n = x.shape[0]!;
  if (!(n >= 0)) g.fail(`the first axis of [${x.shape.join(', ')}] must be known`);
  return listValue({ items: new Array<Value | undefined>(n).fill(undefined), source: x, dtype: x.dtype });
};

export const tensorListGetItem: OpConverter = (g, inputs) => {
  const list = listOf(g, inputs[0]);
  return item(g, list, index(g, inputs[1], list));
};

/** TensorListSetItem(list, index, item): a new list (lists are values: the old one is unchanged). */
export const tensorListSetItem: OpConverter = (g, inputs) => {
  const list = listOf(g, inputs[0]);
  const k = index(g, inputs[1], list);
  if (!inputs[2]) g.fail('expects an item');
  const items = [...list.items];
  items[k] = inputs[2];
  return listValue({ ...list, items });
};

/** TensorListStack(list, element_shape): the items along a new first axis. */
export const tensorListStack: OpConverter = (g, inputs) => {
  const list = listOf(g, inputs[0]);
  const items = list.items.map((_, k) => item(g, list, k));
  if (items.length === 0) g.fail('stacking an empty list');
  const axes = g.int64s('axes', [0]);
  const parts = items.map((v) => g.emit('Unsqueeze', [g.tf(v), axes], [], 'item'));
  const first = items[0]!.shape;
  const shape = [items.length, ...first.map((d, i) => (items.every((v) => v.shape[i] === d) ? d : -1))];
  return { name: parts.length === 1 ? parts[0]! : g.emit('Concat', parts, [intAttr('axis', 0)]), shape, dtype: items[0]!.dtype };
};
