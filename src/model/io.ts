/**
 * The model's inputs as concrete shapes: the graph's declarations merged with the config's `inputs`.
 *
 * Each input keeps its own shape. Only a symbolic batch dimension takes the batch size, wherever it
 * sits (a recurrent state [2, batch, 128] carries the batch on axis 1); fixed dimensions and rank-0
 * scalars stay as the model declares them. A symbolic name is one value across all inputs.
 */
import { onnx, toNumber, type Model } from './onnx.js';
import { tensorData } from './tensor.js';
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
  /**
   * The value range the model's own preprocessing implies for an image input (x/255, (x − 127.5)/127.5,
   * ImageNet mean/std: src/model/input-range.ts); synthetic images use it when the config gives no `range`.
   */
  impliedRange?: { range: [number, number]; why: string };
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

export interface Dim {
  value: number | null;
  /** The symbol's name; '' for an anonymous dynamic dim. */
  param: string;
}

/** One model input's declared dims (null = dynamic), as the ONNX graph or a TF.js model states them. */
export interface DeclaredInput {
  name: string;
  dims: Dim[];
}

/** A dimension fixed by neither the model nor the config. */
export interface MissingDim {
  input: string;
  axis: number;
  /** The symbol's name; '' for an anonymous dim. */
  param: string;
}

/**
 * Values chosen for dims the model and config leave open, by `dimKey`: a number, or 'batch' for a
 * dim that is to carry the batch (a recurrent state's [2, ?, 128]).
 */
export type DimAssignment = ReadonlyMap<string, number | 'batch'>;

/** The key of a dynamic dim: its symbol (one name is one value everywhere), else input and axis. */
export function dimKey(input: string, axis: number, param: string): string {
  return param !== '' ? param : `${input}[${axis}]`;
}

/**
 * A source importer (TF.js) that needs every non-batch dim at import time throws this, with every input's
 * declared dims (the config's shapes applied), so that the load stage can choose the missing ones.
 */
export class InputDimsError extends ModelGateError {
  constructor(
    message: string,
    readonly declared: DeclaredInput[],
  ) {
    super(message);
    this.name = 'InputDimsError';
  }
}

function dimsOfInfo(vi: onnx.IValueInfoProto): Dim[] {
  return (vi.type?.tensorType?.shape?.dim ?? []).map((d) => ({
    value: d.dimValue != null ? toNumber(d.dimValue) : null,
    param: d.dimParam ?? '',
  }));
}

/** Every runtime input's declared dims. */
export function declaredInputs(model: Model): DeclaredInput[] {
  return runtimeInputs(model).map((vi) => ({ name: vi.name ?? '', dims: dimsOfInfo(vi) }));
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

/** True when the dim takes the batch size (a symbolic batch, or an anonymous leading dim). */
export function takesBatch(all: DeclaredInput[], input: number, axis: number): boolean {
  return isBatchDim(all[input]!.dims[axis]!, axis, batchSymbols(all.map((d) => d.dims)));
}

/** The inputs as far as the model, the config and `assumed` fix them, and the dims nothing fixes (shape -1). */
export interface PartialInputs {
  specs: IoSpec[];
  missing: MissingDim[];
}

export function resolveInputs(model: Model, overrides: Record<string, InputSpec>, batch: number, file: string, assumed?: DimAssignment): IoSpec[] {
  const { specs, missing } = resolveInputsPartial(model, overrides, batch, file, assumed);
  if (missing.length > 0) throw new ModelGateError(missingDimsMessage(file, specs, missing));
  for (const s of specs) checkSize(s, file);
  return specs;
}

export function resolveInputsPartial(model: Model, overrides: Record<string, InputSpec>, batch: number, file: string, assumed: DimAssignment = new Map()): PartialInputs {
  const inputs = runtimeInputs(model);
  for (const name of Object.keys(overrides)) {
    if (!inputs.some((i) => i.name === name)) {
      throw new ModelGateError(`inputs.${name}: the model ${file} has no input '${name}' (it has ${inputs.map((i) => `'${i.name}'`).join(', ') || 'none'})`);
    }
  }
  const declared = inputs.map((vi) => {
    const name = vi.name ?? '';
    if (!vi.type?.tensorType) throw new ModelGateError(`${file}: input '${name}' is not a tensor; only tensor inputs are supported`);
    return dimsOfInfo(vi);
  });
  const batchNames = batchSymbols(declared);
  // A dim assumed to carry the batch becomes a batch dim, wherever it sits.
  declared.forEach((dims, k) => {
    dims.forEach((d, i) => {
      if (d.value === null && !isBatchDim(d, i, batchNames) && assumed.get(dimKey(inputs[k]!.name ?? '', i, d.param)) === 'batch') {
        const name = d.param !== '' ? d.param : `\u0000batch:${inputs[k]!.name ?? ''}[${i}]`;
        batchNames.add(name);
        dims[i] = { value: null, param: name };
      }
    });
  });
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

  const missing: MissingDim[] = [];
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
      const chosen = assumed.get(dimKey(name, i, d.param));
      if (typeof chosen === 'number') return chosen;
      missing.push({ input: name, axis: i, param: d.param });
      return -1;
    });
    const dynamicBatch = batchAxis !== null || anyBatch || dims.length === 0;
    // In a model with no symbolic batch anywhere, axis 0 is the (fixed) batch.
    if (!anyBatch && dims.length > 0) batchAxis = 0;
    return { name, dtype: modelDtype, shape, dynamicBatch, batchAxis, range: override.range };
  });
  // An input with no sample axis that keeps an unnamed dynamic dimension (a state [2, ?, 128] beside an
  // input [?, ?]) may hold one row per sample there: nothing in the model says which. Stacking samples on
  // the other inputs' batch axis while it keeps the size the config gave would feed mismatched batches, so
  // the model then runs at the configured batch only (benchmark.batch), as a fixed-batch model does.
  // (A dim the probe assumed to carry the batch was renamed above and is a batch dim, not unsure.)
  const unsure = anyBatch && specs.some((s, k) => s.batchAxis === null && declared[k]!.some((d) => d.value === null && d.param === ''));
  if (unsure) for (const s of specs) s.dynamicBatch = false;
  return { specs, missing };
}

/** The exit-2 message for dims nothing fixes: every one at once, with an `inputs:` snippet to paste. */
export function missingDimsMessage(file: string, specs: Array<Pick<IoSpec, 'name' | 'shape' | 'batchAxis'>>, missing: MissingDim[]): string {
  const list = missing.map((m) => `'${m.input}' axis ${m.axis}${m.param ? ` ('${m.param}')` : ''}`).join(', ');
  return `${file}: ${missing.length} input dimension${missing.length > 1 ? 's are' : ' is'} not fixed by the model or the config: ${list}. Add to the config (a dim may be 0, e.g. an empty KV cache):\n${inputsSnippet(specs, missing)}`;
}

/** The `inputs:` section that pins `dims` (shapes with 1 for the batch and for any dim not given). */
export function inputsSnippet(specs: Array<Pick<IoSpec, 'name' | 'shape' | 'batchAxis'>>, dims: MissingDim[]): string {
  const lines = ['inputs:'];
  for (const s of specs) {
    const own = dims.filter((m) => m.input === s.name);
    if (own.length === 0) continue;
    const shape = s.shape.map((d, i) => (i === s.batchAxis ? 1 : d < 0 ? 1 : d));
    const what = own.map((m) => `${m.param || `axis ${m.axis}`} (axis ${m.axis})`).join(', ');
    lines.push(`  ${s.name}: { shape: [${shape.join(', ')}] }   # set ${what}`);
  }
  return lines.join('\n');
}

/** Refuses an input over MAX_INPUT_ELEMENTS (or over `limit`, for a probe), naming it. */
export function checkSize(spec: IoSpec, file: string, limit = MAX_INPUT_ELEMENTS): void {
  let total = 1;
  spec.shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0 || d > MAX_INPUT_ELEMENTS) {
      throw new ModelGateError(`${file}: input '${spec.name}' dimension ${i} is ${d}; a dimension may be 0 to ${MAX_INPUT_ELEMENTS}`);
    }
    total *= d;
  });
  if (total > limit) {
    throw new ModelGateError(
      `${file}: input '${spec.name}' [${spec.shape.join(', ')}] has ${total} elements per feed; ModelGate refuses inputs over ${limit} elements (fix smaller dims under inputs.${spec.name}.shape or lower benchmark.batch)`,
    );
  }
}

/** Ops through which a scalar input keeps its value (only its shape or type changes). */
const VALUE_KEEPING = new Set(['Identity', 'Cast', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Expand']);
const COMPARISONS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']);

/** A constant the graph compares an input with: the value, and the node that compares. */
export interface ComparedConstant {
  value: number;
  node: string;
  op: string;
}

/**
 * The first constant (in node order, subgraphs after the node that holds them) that the graph compares
 * `input` with, through value-keeping ops only: a rank-0 `sr` that an `If` tests with `Equal(sr, 16000)`
 * gives 16000. Null when the graph compares the input with no single-value constant.
 */
export function comparedConstant(model: Model, input: string): ComparedConstant | null {
  const aliases = new Set([input]);
  const search = (graph: onnx.IGraphProto, outer: ReadonlyMap<string, onnx.ITensorProto>): ComparedConstant | null => {
    const constants = new Map(outer);
    for (const t of graph.initializer ?? []) if (t.name) constants.set(t.name, t);
    for (const node of graph.node ?? []) {
      const ins = node.input ?? [];
      const op = node.opType ?? '';
      if (op === 'Constant') {
        const value = (node.attribute ?? []).find((a) => a.name === 'value')?.t;
        if (value && node.output?.[0]) constants.set(node.output[0], value);
      } else if (VALUE_KEEPING.has(op) && ins[0] !== undefined && aliases.has(ins[0])) {
        for (const o of node.output ?? []) aliases.add(o);
      } else if (COMPARISONS.has(op) && ins.length === 2) {
        const k = aliases.has(ins[0]!) ? 1 : aliases.has(ins[1]!) ? 0 : -1;
        const t = k >= 0 ? constants.get(ins[k]!) : undefined;
        let data: ArrayLike<number | bigint> = [];
        try {
          if (t) data = tensorData(t);
        } catch {
          // A constant that cannot be read (external data, a hostile payload) is not one to copy.
        }
        if (data.length === 1 && Number.isFinite(Number(data[0]))) {
          return { value: Number(data[0]), node: node.name || `${op} → ${node.output?.[0] ?? ''}`, op };
        }
      }
      for (const a of node.attribute ?? []) {
        for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) {
          const found = search(g, constants);
          if (found) return found;
        }
      }
    }
    return null;
  };
  return search(model.graph!, new Map());
}

/** A dimension, or a rank-0 input's value, that ModelGate chose because neither the model nor the config fixed it. */
export interface AssumedInput {
  /** The model input. */
  input: string;
  /** The axis; null for the value of a rank-0 input. */
  axis: number | null;
  /** The dimension's symbol in the model; null for an anonymous dim or a value. */
  name: string | null;
  value: number;
  /** How the value was chosen. */
  why: string;
}

/**
 * The `inputs:` section that pins what was assumed: the input's shape (1 for the batch) with a
 * `# set …` comment naming the assumed dims, and the range of an assumed value.
 */
export function assumedSnippet(specs: Array<Pick<IoSpec, 'name' | 'shape' | 'batchAxis'>>, assumed: AssumedInput[]): string {
  const lines = ['inputs:'];
  for (const s of specs) {
    const own = assumed.filter((a) => a.input === s.name);
    if (own.length === 0) continue;
    const shape = s.shape.map((d, i) => (i === s.batchAxis ? 1 : d));
    const value = own.find((a) => a.axis === null);
    const dims = own.filter((a) => a.axis !== null);
    const what = [...dims.map((a) => `${a.name || `axis ${a.axis}`} (axis ${a.axis})`), ...(value ? ['its value'] : [])].join(', ');
    lines.push(`  ${s.name}: { shape: [${shape.join(', ')}]${value ? `, range: [${value.value}, ${value.value}]` : ''} }   # set ${what}`);
  }
  return lines.join('\n');
}

/** One line on what was assumed (the log, the report's warning). */
export function assumedWarning(assumed: AssumedInput[]): string {
  const list = assumed.map((a) => (a.axis === null ? `'${a.input}' = ${a.value}` : `'${a.input}' axis ${a.axis}${a.name ? ` ('${a.name}')` : ''} = ${a.value}`)).join(', ');
  return `ModelGate assumed ${assumed.length} input value${assumed.length > 1 ? 's' : ''} that neither the model nor the config fixes: ${list}. Pin them in the config:`;
}
