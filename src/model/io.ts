/** The model's inputs and outputs as concrete shapes: the graph's declarations merged with the config's `inputs`. */
import { onnx, toNumber, type Model } from './onnx.js';
import type { HostDType } from './host-tensor.js';
import type { InputSpec } from '../config/types.js';
import { ModelGateError } from '../errors.js';

export interface IoSpec {
  name: string;
  dtype: HostDType;
  /** Concrete dims; the leading batch dim is `batch` when it was symbolic. */
  shape: number[];
  /** True when the model's own leading dim is symbolic (batches of any size work). */
  dynamicBatch: boolean;
  range?: [number, number];
}

const ELEM: Partial<Record<number, HostDType>> = {
  [onnx.TensorProto.DataType.FLOAT]: 'float32', [onnx.TensorProto.DataType.FLOAT16]: 'float16', [onnx.TensorProto.DataType.DOUBLE]: 'float64',
  [onnx.TensorProto.DataType.INT8]: 'int8', [onnx.TensorProto.DataType.UINT8]: 'uint8', [onnx.TensorProto.DataType.INT16]: 'int16',
  [onnx.TensorProto.DataType.UINT16]: 'uint16', [onnx.TensorProto.DataType.INT32]: 'int32', [onnx.TensorProto.DataType.UINT32]: 'uint32',
  [onnx.TensorProto.DataType.INT64]: 'int64', [onnx.TensorProto.DataType.UINT64]: 'uint64', [onnx.TensorProto.DataType.BOOL]: 'bool',
};

export function hostDType(elemType: number, where: string): HostDType {
  const t = ELEM[elemType];
  if (!t) throw new ModelGateError(`${where}: element type ${onnx.TensorProto.DataType[elemType] ?? elemType} is not supported`);
  return t;
}

/** Graph inputs that are not initializers (older exporters list weights as inputs too). */
export function runtimeInputs(model: Model): onnx.IValueInfoProto[] {
  const graph = model.graph!;
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? []).filter((i) => !inits.has(i.name ?? ''));
}

export function resolveInputs(model: Model, overrides: Record<string, InputSpec>, batch: number, file: string): IoSpec[] {
  const inputs = runtimeInputs(model);
  for (const name of Object.keys(overrides)) {
    if (!inputs.some((i) => i.name === name)) {
      throw new ModelGateError(`inputs.${name}: the model ${file} has no input '${name}' (it has ${inputs.map((i) => `'${i.name}'`).join(', ') || 'none'})`);
    }
  }
  return inputs.map((vi) => {
    const name = vi.name ?? '';
    const tensorType = vi.type?.tensorType;
    if (!tensorType) throw new ModelGateError(`${file}: input '${name}' is not a tensor; only tensor inputs are supported`);
    const override = overrides[name] ?? {};
    const modelDtype = hostDType(tensorType.elemType ?? 0, `${file}: input '${name}'`);
    if (override.dtype && override.dtype !== modelDtype) {
      throw new ModelGateError(`inputs.${name}.dtype: '${override.dtype}' does not match the model's ${modelDtype}`);
    }
    const dims = tensorType.shape?.dim ?? [];
    const dynamicBatch = dims.length > 0 && !(dims[0]!.dimValue != null && toNumber(dims[0]!.dimValue) > 0);
    let shape: number[];
    if (override.shape) {
      if (override.shape.length !== dims.length) {
        throw new ModelGateError(`inputs.${name}.shape: [${override.shape.join(', ')}] has ${override.shape.length} dims, the model's input has ${dims.length}`);
      }
      override.shape.forEach((d, i) => {
        const fixed = dims[i]!.dimValue != null ? toNumber(dims[i]!.dimValue) : 0;
        if (fixed > 0 && fixed !== d) throw new ModelGateError(`inputs.${name}.shape[${i}]: ${d} does not match the model's fixed dimension ${fixed}`);
      });
      shape = [...override.shape];
      if (dynamicBatch && shape.length > 0) shape[0] = batch;
    } else {
      shape = dims.map((d, i) => {
        const v = d.dimValue != null ? toNumber(d.dimValue) : 0;
        if (v > 0) return v;
        if (i === 0) return batch;
        throw new ModelGateError(
          `${file}: input '${name}' has a dynamic dimension ${i} ('${d.dimParam || '?'}'); fix it in the config: inputs: { ${name}: { shape: [...] } }`,
        );
      });
    }
    return { name, dtype: modelDtype, shape, dynamicBatch, range: override.range };
  });
}
