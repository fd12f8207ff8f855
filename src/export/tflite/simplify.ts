/**
 * Rewrites of a converted TFLite graph that change no value and only remove work and bytes:
 *   - a RESHAPE of a RESHAPE (the first one read by nothing else) reshapes the original tensor once;
 *   - a RESHAPE to the shape its input already has is dropped (its readers read the input);
 *   - identical constant tensors (same type, shape, quantization and bytes) are stored once.
 * The layout conversion in ./convert.ts emits such chains where an ONNX graph squeezes, unsqueezes and
 * transposes size-1 axes back and forth (every step is a RESHAPE once only size-1 axes move).
 */
import type { ConvertedGraph } from './convert.js';
import type { TfliteOperator, TfliteTensor } from '../../formats/tflite/flatbuffer.js';
import { Op } from '../../formats/tflite/schema.js';
import { dropUnusedTensors } from './quantize.js';

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Collapses RESHAPE chains and drops identity RESHAPEs (one pass in execution order); returns how many were removed. */
export function simplifyReshapes(g: ConvertedGraph): number {
  const pinned = new Set([...g.inputs, ...g.outputs]);
  const reads = new Map<number, number>();
  for (const op of g.operators) for (const i of op.inputs) if (i >= 0) reads.set(i, (reads.get(i) ?? 0) + 1);
  const producer = new Map<number, TfliteOperator>();
  const removed = new Set<TfliteOperator>();
  /** A dropped RESHAPE's output → the tensor its readers read instead. */
  const alias = new Map<number, number>();
  const resolve = (t: number): number => {
    while (alias.has(t)) t = alias.get(t)!;
    return t;
  };
  for (const op of g.operators) {
    op.inputs = op.inputs.map((i) => (i < 0 ? i : resolve(i)));
    if (op.op === Op.RESHAPE) {
      const x = op.inputs[0]!;
      const prev = producer.get(x);
      if (prev && prev.op === Op.RESHAPE && !pinned.has(x) && reads.get(x) === 1) {
        // RESHAPE(RESHAPE(w)) = RESHAPE(w): the first one's output is read by this one only.
        removed.add(prev);
        op.inputs[0] = prev.inputs[0]!;
      }
      const src = op.inputs[0]!;
      const y = op.outputs[0]!;
      const a = g.tensors[src]!, b = g.tensors[y]!;
      if (!pinned.has(y) && a.type === b.type && sameShape(a.shape, b.shape)) {
        removed.add(op);
        alias.set(y, src);
        reads.set(src, (reads.get(src) ?? 0) - 1 + (reads.get(y) ?? 0));
        continue;
      }
    }
    for (const o of op.outputs) producer.set(o, op);
  }
  if (removed.size === 0) return 0;
  g.operators = g.operators.filter((op) => !removed.has(op));
  dropUnusedTensors(g);
  return removed.size;
}

function constantKey(t: TfliteTensor): string | undefined {
  if (!t.data || t.isVariable) return undefined;
  const q = t.quantization ? JSON.stringify([t.quantization.scale, t.quantization.zeroPoint, t.quantization.axis]) : '';
  return `${t.type}|${t.shape.join(',')}|${q}|${Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')}`;
}

/** Makes every operator read one copy of identical constants; returns how many copies were dropped. */
export function dedupeConstants(g: ConvertedGraph): number {
  const first = new Map<string, number>();
  const replace = new Map<number, number>();
  g.tensors.forEach((t, i) => {
    const key = constantKey(t);
    if (key === undefined) return;
    const k = first.get(key);
    if (k === undefined) first.set(key, i);
    else replace.set(i, k);
  });
  if (replace.size === 0) return 0;
  for (const op of g.operators) op.inputs = op.inputs.map((i) => replace.get(i) ?? i);
  dropUnusedTensors(g);
  return replace.size;
}
