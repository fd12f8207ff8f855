/**
 * The model's inputs as concrete shapes: the graph's declarations merged with the config's `inputs`.
 *
 * Each input keeps its own shape. Only a symbolic batch dimension takes the batch size, wherever it
 * sits (a recurrent state [2, batch, 128] carries the batch on axis 1); fixed dimensions and rank-0
 * scalars stay as the model declares them. A symbolic name is one value across all inputs.
 */
import { onnx, toNumber, type Model } from './onnx.js';
import type { HostDType } from './host-tensor.js';
import type { InputSpec } from '../config/types.js';
import { ModelGateError } from '../errors.js';

export interface IoSpec {
  name: string;
  dtype: HostDType;
  /** Concrete dims; the batch axis holds `batch` when it was symbolic. */
  shape: number[];
  /**
   * True when this input does not pin the batch size: its batch dim is symbolic, or it has none
   * (a scalar, or a fixed-size input beside batched ones).
   */
  dynamicBatch: boolean;
  /**
   * The axis that carries samples: the symbolic batch dim, or axis 0 when the whole model is fixed;
   * null when the input has no sample axis (a rank-0 `sr`, a fixed state beside batched inputs).
   */
  batchAxis?: number | null;
  range?: [number, number];
}

/**
 * Largest feed one input may need, in elements (2^28: 1 GiB of float32). A hostile or mistaken
 * declaration (a dimension of 1e9) is refused before anything is allocated.
 */
export const MAX_INPUT_ELEMENTS = 2 ** 28;

const ELEM: Partial<Record<number, HostDType>> = {
  [onnx.TensorProto.DataType.FLOAT]: 'float32', [onnx.TensorProto.DataType.FLOAT16]: 'float16', [onnx.TensorProto.DataType.DOUBLE]: 'float64',
  [onnx.TensorProto.DataType.INT8]: 'int8', [onnx.TensorProto.DataType.UINT8]: 'uint8', [onnx.TensorProto.DataType.INT16]: 'int16',
  [onnx.TensorProto.DataType.UINT16]: 'uint16', [onnx.TensorProto.DataType.INT32]: 'int32', [onnx.TensorProto.DataType.UINT32]: 'uint32',
  [onnx.TensorProto.DataType.INT64]: 'int64', [onnx.TensorProto.DataType.UINT64]: 'uint64', [onnx.TensorProto.DataType.BOOL]: 'bool',
};

export function hostDType(elemType: number, where: string): HostDType {
  const t = ELEM[elemType];
  if (elemType === onnx.TensorProto.DataType.BFLOAT16) {
    // onnxruntime-node's JS tensors have no bfloat16 type, so such an input cannot be fed from Node at all.
    throw new ModelGateError(`${where}: element type BFLOAT16 cannot be fed through onnxruntime-node (it has no bfloat16 tensors); export the input as float16 or float32`);
  }
  if (!t) throw new ModelGateError(`${where}: element type ${onnx.TensorProto.DataType[elemType] ?? elemType} is not supported`);
  return t;
}

/** Graph inputs that are not initializers (older exporters list weights as inputs too). */
export function runtimeInputs(model: Model): onnx.IValueInfoProto[] {
  const graph = model.graph!;
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? []).filter((i) => !inits.has(i.name ?? ''));
}

/** The input's batch axis; specs built by hand without one batch on axis 0, as before. */
export function batchAxisOf(spec: IoSpec): number | null {
  if (spec.batchAxis !== undefined) return spec.batchAxis;
  return spec.shape.length > 0 ? 0 : null;
}

/** The dims of one sample: the shape without its batch axis. */
export function sampleShape(spec: IoSpec): number[] {
  const axis = batchAxisOf(spec);
  return axis === null ? [...spec.shape] : spec.shape.filter((_, i) => i !== axis);
}

/** The input's shape for `n` samples (unchanged when the input has no batch axis). */
export function shapeForBatch(spec: IoSpec, n: number): number[] {
  const axis = batchAxisOf(spec);
  return spec.shape.map((d, i) => (i === axis ? n : d));
}

/** The batch size a fixed-batch model demands, or null when every input takes any batch. */
export function fixedBatchOf(inputs: IoSpec[]): number | null {
  for (const i of inputs) {
    const axis = batchAxisOf(i);
    if (!i.dynamicBatch && axis !== null) return i.shape[axis]!;
  }
  return null;
}

interface Dim {
  value: number | null;
  /** The symbol's name; '' for an anonymous dynamic dim. */
  param: string;
}

function dimsOf(vi: onnx.IValueInfoProto): Dim[] {
  return (vi.type?.tensorType?.shape?.dim ?? []).map((d) => ({
    value: d.dimValue != null ? toNumber(d.dimValue) : null,
    param: d.dimParam ?? '',
  }));
}

/** Symbol names that mean "the batch": the leading symbol of any input, and anything called batch. */
function batchSymbols(all: Dim[][]): Set<string> {
  const names = new Set<string>();
  for (const dims of all) {
    const d0 = dims[0];
    if (d0 && d0.value === null && d0.param !== '') names.add(d0.param);
    for (const d of dims) if (d.value === null && /batch/i.test(d.param)) names.add(d.param);
  }
  return names;
}

function isBatchDim(d: Dim, axis: number, batchNames: Set<string>): boolean {
  if (d.value !== null) return false;
  return d.param === '' ? axis === 0 : batchNames.has(d.param);
}

export function resolveInputs(model: Model, overrides: Record<string, InputSpec>, batch: number, file: string): IoSpec[] {
  const inputs = runtimeInputs(model);
  for (const name of Object.keys(overrides)) {
    if (!inputs.some((i) => i.name === name)) {
      throw new ModelGateError(`inputs.${name}: the model ${file} has no input '${name}' (it has ${inputs.map((i) => `'${i.name}'`).join(', ') || 'none'})`);
    }
  }
  const declared = inputs.map((vi) => {
    const name = vi.name ?? '';
    if (!vi.type?.tensorType) throw new ModelGateError(`${file}: input '${name}' is not a tensor; only tensor inputs are supported`);
    return dimsOf(vi);
  });
  const batchNames = batchSymbols(declared);
  const anyBatch = declared.some((dims) => dims.some((d, i) => isBatchDim(d, i, batchNames)));

  // A symbol fixed once (by any input's config shape) holds for every input that names it.
  const symbols = new Map<string, { value: number; from: string }>();
  inputs.forEach((vi, k) => {
    const name = vi.name ?? '';
    const shape = overrides[name]?.shape;
    if (!shape) return;
    const dims = declared[k]!;
    if (shape.length !== dims.length) {
      throw new ModelGateError(`inputs.${name}.shape: [${shape.join(', ')}] has ${shape.length} dims, the model's input has ${dims.length}`);
    }
    shape.forEach((v, i) => {
      const d = dims[i]!;
      if (d.value !== null) {
        if (d.value !== v) throw new ModelGateError(`inputs.${name}.shape[${i}]: ${v} does not match the model's fixed dimension ${d.value}`);
        return;
      }
      if (d.param === '' || isBatchDim(d, i, batchNames)) return;
      const seen = symbols.get(d.param);
      if (seen && seen.value !== v) {
        throw new ModelGateError(`inputs.${name}.shape[${i}]: '${d.param}' is ${v} here but ${seen.value} in inputs.${seen.from}.shape; one name is one size`);
      }
      symbols.set(d.param, { value: v, from: name });
    });
  });

  const missing: Array<{ input: string; axis: number; param: string }> = [];
  const specs = inputs.map((vi, k): IoSpec => {
    const name = vi.name ?? '';
    const override = overrides[name] ?? {};
    const modelDtype = hostDType(vi.type!.tensorType!.elemType ?? 0, `${file}: input '${name}'`);
    if (override.dtype && override.dtype !== modelDtype) {
      throw new ModelGateError(`inputs.${name}.dtype: '${override.dtype}' does not match the model's ${modelDtype}`);
    }
    const dims = declared[k]!;
    let batchAxis: number | null = dims.findIndex((d, i) => isBatchDim(d, i, batchNames));
    if (batchAxis < 0) batchAxis = null;
    const shape = dims.map((d, i) => {
      if (d.value !== null) return d.value;
      if (i === batchAxis || isBatchDim(d, i, batchNames)) return batch;
      const fromConfig = override.shape?.[i];
      if (fromConfig !== undefined) return fromConfig;
      const bound = d.param ? symbols.get(d.param) : undefined;
      if (bound) return bound.value;
      missing.push({ input: name, axis: i, param: d.param });
      return -1;
    });
    const dynamicBatch = batchAxis !== null || anyBatch || dims.length === 0;
    // In a model with no symbolic batch anywhere, axis 0 is the (fixed) batch.
    if (!anyBatch && dims.length > 0) batchAxis = 0;
    return { name, dtype: modelDtype, shape, dynamicBatch, batchAxis, range: override.range };
  });

  if (missing.length > 0) throw new ModelGateError(missingDimsMessage(file, specs, missing));
  // An input with no sample axis that keeps an unnamed dynamic dimension (a state [2, ?, 128] beside an
  // input [?, ?]) may hold one row per sample there: nothing in the model says which. Stacking samples on
  // the other inputs' batch axis while it keeps the size the config gave would feed mismatched batches, so
  // the model then runs at the configured batch only (benchmark.batch), as a fixed-batch model does.
  const unsure = anyBatch && specs.some((s, k) => s.batchAxis === null && declared[k]!.some((d) => d.value === null && d.param === ''));
  if (unsure) for (const s of specs) s.dynamicBatch = false;
  for (const s of specs) checkSize(s, file);
  return specs;
}

function missingDimsMessage(file: string, specs: IoSpec[], missing: Array<{ input: string; axis: number; param: string }>): string {
  const list = missing.map((m) => `'${m.input}' axis ${m.axis}${m.param ? ` ('${m.param}')` : ''}`).join(', ');
  const lines = ['inputs:'];
  for (const s of specs) {
    const own = missing.filter((m) => m.input === s.name);
    if (own.length === 0) continue;
    const shape = s.shape.map((d, i) => (i === s.batchAxis ? 1 : d < 0 ? 1 : d));
    const what = own.map((m) => `${m.param || `axis ${m.axis}`} (axis ${m.axis})`).join(', ');
    lines.push(`  ${s.name}: { shape: [${shape.join(', ')}] }   # set ${what}`);
  }
  return `${file}: ${missing.length} input dimension${missing.length > 1 ? 's are' : ' is'} not fixed by the model or the config: ${list}. Add to the config (a dim may be 0, e.g. an empty KV cache):\n${lines.join('\n')}`;
}

function checkSize(spec: IoSpec, file: string): void {
  let total = 1;
  spec.shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0 || d > MAX_INPUT_ELEMENTS) {
      throw new ModelGateError(`${file}: input '${spec.name}' dimension ${i} is ${d}; a dimension may be 0 to ${MAX_INPUT_ELEMENTS}`);
    }
    total *= d;
  });
  if (total > MAX_INPUT_ELEMENTS) {
    throw new ModelGateError(
      `${file}: input '${spec.name}' [${spec.shape.join(', ')}] has ${total} elements per feed; ModelGate refuses inputs over ${MAX_INPUT_ELEMENTS} elements (fix smaller dims under inputs.${spec.name}.shape or lower benchmark.batch)`,
    );
  }
}
