/**
 * A .tflite at other input shapes. The TFLite addon has no TfLiteInterpreterResizeInputTensor, so a model whose
 * shape signature leaves a dim open (-1) runs at the placeholder shape its file declares. Writing the wanted
 * shape into the graph inputs does what resizing does: when the interpreter allocates its tensors, every
 * operator's Prepare derives its output shape from its inputs again.
 */
import { ModelGateError } from '../../errors.js';
import type { TfliteModel } from './flatbuffer.js';

/** The model with each named graph input at its shape in `shapes`; the model itself when none changes. */
export function withInputShapes(model: TfliteModel, shapes: Record<string, readonly number[]>, label: string): TfliteModel {
  const g = model.graph;
  let changed = false;
  const tensors = [...g.tensors];
  for (const i of g.inputs) {
    const t = tensors[i]!;
    const want = shapes[t.name];
    if (!want || want.join(',') === t.shape.join(',')) continue;
    const sig = t.shapeSignature && t.shapeSignature.length === t.shape.length ? t.shapeSignature : t.shape;
    const fixed = want.length === sig.length ? sig.findIndex((d, k) => d >= 0 && d !== want[k]) : 0;
    if (fixed >= 0) {
      throw new ModelGateError(`${label}: input '${t.name}' is [${sig.join(', ')}] (-1 = any size); it cannot run at [${want.join(', ')}]`);
    }
    tensors[i] = { ...t, shape: [...want] };
    changed = true;
  }
  return changed ? { ...model, graph: { ...g, tensors } } : model;
}
