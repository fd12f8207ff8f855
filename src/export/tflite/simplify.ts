/**
 * Rewrites of a converted TFLite graph that change no value and only remove work and bytes:
 *   - a RESHAPE of a RESHAPE (the first one read by nothing else) reshapes the original tensor once;
 *   - a RESHAPE to the shape its input already has is dropped (its readers read the input);
 *   - identical constant tensors (same type, shape, quantization and bytes) are stored once.
 * The layout conversion in ./convert.ts emits such chains where an ONNX graph squeezes, unsqueezes and
 * transposes size-1 axes back and forth (every step is a RESHAPE once only size-1 axes move).
 */
import type { ConvertedGraph } from './convert.js';
import type { TfliteTensor } from '../../formats/tflite/flatbuffer.js';
import { Op } from '../../formats/tflite/schema.js';
import { dropUnusedTensors } from './quantize.js';

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Collapses RESHAPE chains and drops identity RESHAPEs; returns how many RESHAPE ops were removed. */
export function simplifyReshapes(g: ConvertedGraph): number {
  const before = g.operators.length;
  const pinned = new Set([...g.inputs, ...g.outputs]);
  const readers = (t: number): number => g.operators.reduce((n, op) => n + op.inputs.filter((i) => i === t).length, 0);
  let changed = true;
  while (changed) {
    changed = false;
    const producer = new Map<number, number>();
    g.operators.forEach((op, k) => op.outputs.forEach((t) => producer.set(t, k)));
    for (let k = 0; k < g.operators.length; k++) {
      const op = g.operators[k]!;
      if (op.op !== Op.RESHAPE) continue;
      const x = op.inputs[0]!;
      const y = op.outputs[0]!;
      const p = producer.get(x);
      const prev = p === undefined ? undefined : g.operators[p];
      if (prev && prev.op === Op.RESHAPE && !pinned.has(x) && readers(x) === 1) {
        op.inputs[0] = prev.inputs[0]!;
        g.operators.splice(p!, 1);
        changed = true;
        break;
      }
      const src = g.tensors[op.inputs[0]!]!;
      if (!pinned.has(y) && src.type === g.tensors[y]!.type && sameShape(src.shape, g.tensors[y]!.shape)) {
        for (const other of g.operators) other.inputs = other.inputs.map((i) => (i === y ? op.inputs[0]! : i));
        g.operators.splice(k, 1);
        changed = true;
        break;
      }
    }
  }
  dropUnusedTensors(g);
  return before - g.operators.length;
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
