/**
 * Float16 weights kept float16 across a pass. A model can store float weights as float16 initializers behind
 * a Cast to float (the TFLite import does, for MediaPipe's float16 .tflite files; onnxruntime folds the Cast
 * at load). The quantizing passes fold those Casts first to see the weights (prepareForQuantization); the
 * weights a pass then leaves float (excluded nodes, weights under min_elements) would come out float32,
 * twice their size. This gives them back their float16 storage: a float32 initializer whose values are
 * exactly those of a float16 weight the input model cast to it becomes that weight and its Cast again.
 * Lossless: the values are compared bit for bit.
 */
import { DataType, onnx, type Model } from '../model/onnx.js';
import { getIntAttr, makeNode, intAttr } from '../model/graph.js';
import { tensorToFloat32 } from '../model/tensor.js';

/** Cast output name → the float16 initializer it casts to float, in the main graph. */
export function castOfHalf(model: Model): Map<string, onnx.ITensorProto> {
  const graph = model.graph!;
  const half = new Map((graph.initializer ?? []).filter((t) => t.dataType === DataType.FLOAT16).map((t) => [t.name!, t]));
  const out = new Map<string, onnx.ITensorProto>();
  for (const n of graph.node ?? []) {
    if (n.opType !== 'Cast' || (n.domain ?? '') !== '' || getIntAttr(n, 'to', 0) !== DataType.FLOAT) continue;
    const h = half.get(n.input?.[0] ?? '');
    if (h && n.output?.[0]) out.set(n.output[0], h);
  }
  return out;
}

/** `after` with its float32 copies of `before`'s Cast float16 weights stored as float16 again; the count. */
export function keepHalfWeights(before: Model, after: Model): { model: Model; restored: number } {
  const casts = castOfHalf(before);
  if (casts.size === 0) return { model: after, restored: 0 };
  const graph = after.graph!;
  const present = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const produced = new Set([...(graph.node ?? []).flatMap((n) => n.output ?? []), ...(graph.input ?? []).map((i) => i.name ?? '')]);
  const inits: onnx.ITensorProto[] = [];
  const added = new Set<string>();
  const heads: onnx.NodeProto[] = [];
  for (const t of graph.initializer ?? []) {
    const h = casts.get(t.name ?? '');
    const hName = h?.name ?? '';
    // The float16 initializer's name must be free, or hold that same float16 initializer still.
    const free = h && !produced.has(hName) && (!present.has(hName) || present.get(hName)!.dataType === DataType.FLOAT16);
    if (!h || !free || t.dataType !== DataType.FLOAT || produced.has(t.name!) || !sameValues(t, h)) {
      inits.push(t);
      continue;
    }
    if (!present.has(hName) && !added.has(hName)) {
      inits.push(h);
      added.add(hName);
    }
    heads.push(makeNode('Cast', [hName], [t.name!], { name: `${t.name}_Cast`, attributes: [intAttr('to', DataType.FLOAT)] }));
  }
  if (heads.length === 0) return { model: after, restored: 0 };
  const model = onnx.ModelProto.create({ ...after, graph: { ...graph, initializer: inits, node: [...heads, ...(graph.node ?? [])] } });
  return { model, restored: heads.length };
}

function sameValues(f: onnx.ITensorProto, h: onnx.ITensorProto): boolean {
  const a = tensorToFloat32(f);
  const b = tensorToFloat32(h);
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
