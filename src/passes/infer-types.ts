/**
 * Element types and shapes of every tensor in the main graph, inferred by onnxruntime itself: we list each
 * node output as an (untyped) graph output and read the session's output metadata. ORT runs the full ONNX
 * type and shape inference at load, so this needs no op table of our own and agrees with what will run.
 */
import { onnx, encodeModel, DataType, type Model } from '../model/onnx.js';
import { cloneModel } from '../model/onnx.js';
import { declaredElemTypes } from '../model/graph.js';
import { OrtSession } from '../runtime/session.js';

export interface TensorTypeInfo {
  elemType: number;
  /**
   * Dimensions as ORT reports them: numbers, or symbolic names ('N') and -1/'' for unknown ones. [] is either a
   * scalar or a tensor whose rank inference could not find: ORT's output metadata does not tell them apart.
   */
  shape: ReadonlyArray<number | string>;
}

const ORT_TO_ONNX: Record<string, number> = {
  float32: DataType.FLOAT, float16: DataType.FLOAT16, float64: DataType.DOUBLE, uint8: DataType.UINT8, int8: DataType.INT8,
  uint16: DataType.UINT16, int16: DataType.INT16, int32: DataType.INT32, int64: DataType.INT64, uint32: DataType.UINT32,
  uint64: DataType.UINT64, bool: DataType.BOOL, string: DataType.STRING,
};

export async function inferTensorTypes(model: Model): Promise<Map<string, TensorTypeInfo>> {
  const probe = cloneModel(model);
  const graph = probe.graph!;
  const listed = new Set((graph.output ?? []).map((o) => o.name));
  for (const node of graph.node ?? []) {
    for (const name of node.output ?? []) {
      if (!name || listed.has(name)) continue;
      listed.add(name);
      graph.output!.push(onnx.ValueInfoProto.create({ name }));
    }
  }
  const result = new Map<string, TensorTypeInfo>();
  const declared = declaredElemTypes(model.graph!);
  for (const t of model.graph!.initializer ?? []) if (t.name) result.set(t.name, { elemType: t.dataType ?? 0, shape: (t.dims ?? []).map(Number) });
  for (const v of model.graph!.input ?? []) {
    const elemType = declared.get(v.name ?? '');
    if (v.name && elemType) result.set(v.name, { elemType, shape: (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue ?? -1))) });
  }
  const session = await OrtSession.create(encodeModel(probe), { graphOptimizationLevel: 'disabled' }, 'type inference');
  try {
    for (const meta of session.session.outputMetadata) {
      if (!meta.isTensor) continue;
      const elemType = ORT_TO_ONNX[meta.type];
      if (elemType !== undefined) result.set(meta.name, { elemType, shape: [...meta.shape] });
    }
  } finally {
    await session.release();
  }
  return result;
}
