/** Bounds on a model's JSON config (Keras, TF.js layers), checked without recursion before anything walks it. */
import { ModelGateError } from '../errors.js';

/**
 * JSON nesting a real model config reaches: about ten levels per nested model, and models nest a
 * few deep. A hostile config can nest thousands of levels, and the normalizer, TF.js' deserializer
 * and the converter all descend through nested models; refusing it here keeps every one of them
 * off the stack limit.
 */
export const MAX_CONFIG_DEPTH = 200;
/** Layers in one model, nested ones included: beyond the largest published Keras models (~1,000). */
export const MAX_LAYERS = 10_000;

/** Checks depth and layer count with an explicit stack (the check itself must not recurse). */
export function checkConfigSize(raw: unknown, source: string): void {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: raw, depth: 1 }];
  let layers = 0;
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (depth > MAX_CONFIG_DEPTH) throw new ModelGateError(`${source}: the model config nests more than ${MAX_CONFIG_DEPTH} levels deep; refusing it`);
    if (Array.isArray(v)) {
      for (const x of v) if (x !== null && typeof x === 'object') stack.push({ v: x, depth: depth + 1 });
    } else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      // Every serialized layer (and model) carries a class_name, wherever the list holding it sits
      // (Keras ≤ 2.2 wrote a Sequential's config as the bare list).
      if (typeof o.class_name === 'string' && ++layers > MAX_LAYERS) throw new ModelGateError(`${source}: the model config has more than ${MAX_LAYERS} layers; refusing it`);
      for (const x of Object.values(o)) if (x !== null && typeof x === 'object') stack.push({ v: x, depth: depth + 1 });
    }
  }
}
