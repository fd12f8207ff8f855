/**
 * An in-memory TFLite model (one main subgraph) and its flatbuffer codec, written against the field order
 * of tensorflow/lite/schema/schema.fbs (see ./schema.ts). The writer and the reader share this IR, so the
 * exporter writes it, the importer and the runtime adapter read it.
 */
import { Builder, ByteBuffer } from 'flatbuffers';
import { ModelGateError } from '../../errors.js';
import { FILE_IDENTIFIER, OPTION_FIELDS, OP_OPTIONS, Op, Options, SCHEMA_VERSION, Slot, TENSOR_TYPE_BYTES, TENSOR_TYPE_NAMES, opName } from './schema.js';

export interface TfliteQuantization {
  /** One scale per tensor, or one per slice along `axis`. */
  scale: number[];
  zeroPoint: number[];
  /** quantized_dimension: the axis the per-channel scales run along (0 when per-tensor). */
  axis: number;
  min?: number[];
  max?: number[];
}

export interface TfliteTensor {
  name: string;
  type: number;
  shape: number[];
  /** Shape with -1 for dynamic dims, when the model declares one. */
  shapeSignature?: number[];
  /** Constant data (little-endian, row-major), for weights and other constants. */
  data?: Uint8Array;
  quantization?: TfliteQuantization;
  isVariable?: boolean;
  /** The tensor carries sparsity parameters (not supported by ModelGate's import). */
  sparse?: boolean;
}

export type OptionValue = number | boolean | number[];

export interface TfliteOperator {
  /** BuiltinOperator code (Op.CUSTOM for custom ops). */
  op: number;
  /** custom_code, for custom ops. */
  custom?: string;
  version: number;
  /** Tensor indices; -1 marks an omitted optional input. */
  inputs: number[];
  outputs: number[];
  /** The builtin options table, keyed by its schema field names (see OPTION_FIELDS). */
  options?: Record<string, OptionValue>;
  /** The options table type, when it differs from OP_OPTIONS (read from files). */
  optionsType?: number;
  customOptions?: Uint8Array;
}

export interface TfliteGraph {
  name?: string;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

export interface TfliteModel {
  description: string;
  graph: TfliteGraph;
  /** Subgraphs beyond the main one (control flow): counted, not decoded. */
  extraSubgraphs: number;
  metadata: Array<{ name: string; data: Uint8Array }>;
}

// ---------------------------------------------------------------- writer

function intVector(b: Builder, values: readonly number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]!);
  return b.endVector();
}

function floatVector(b: Builder, values: readonly number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]!);
  return b.endVector();
}

function longVector(b: Builder, values: readonly number[]): number {
  b.startVector(8, values.length, 8);
  for (let i = values.length - 1; i >= 0; i--) b.addInt64(BigInt(values[i]!));
  return b.endVector();
}

function offsetVector(b: Builder, offsets: readonly number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]!);
  return b.endVector();
}

/** Buffer.data is declared force_align: 16, so that a runtime can use weights in place (mmap). */
function alignedBytes(b: Builder, data: Uint8Array): number {
  // Pad first so that the data (written back to front, right after the length) starts 16-aligned.
  b.prep(16, data.length);
  return b.createByteVector(data);
}

function writeOptions(b: Builder, type: number, options: Record<string, OptionValue>): number {
  const fields = OPTION_FIELDS[type];
  if (!fields) throw new Error(`options table ${type} is not known to the writer`);
  const vectors = new Map<number, number>();
  fields.forEach(([name, kind], slot) => {
    const v = options[name];
    if (kind === 'int[]' && Array.isArray(v)) vectors.set(slot, intVector(b, v));
  });
  b.startObject(fields.length);
  // 4-byte fields first, then the byte-sized ones (packed together, as in the tensor table).
  const order = fields.map((f, slot) => [f, slot] as const).sort(([a], [b2]) => Number(a[1] === 'byte' || a[1] === 'bool') - Number(b2[1] === 'byte' || b2[1] === 'bool'));
  order.forEach(([[name, kind, dflt = 0], slot]) => {
    const v = options[name];
    if (v === undefined) return;
    switch (kind) {
      case 'byte': b.addFieldInt8(slot, Number(v), dflt); break;
      case 'bool': b.addFieldInt8(slot, v ? 1 : 0, dflt); break;
      case 'int': b.addFieldInt32(slot, Number(v), dflt); break;
      case 'float': b.addFieldFloat32(slot, Number(v), dflt); break;
      case 'int[]': if (vectors.has(slot)) b.addFieldOffset(slot, vectors.get(slot)!, 0); break;
    }
  });
  for (const [name] of Object.entries(options)) {
    if (!fields.some(([f]) => f === name)) throw new Error(`option '${name}' is not a field of options table ${type}`);
  }
  return b.endObject();
}

/** Serializes a model: operator codes are deduplicated by (op, custom code, version), buffer 0 is the empty sentinel. */
export function encodeTflite(model: TfliteModel): Uint8Array {
  const { graph } = model;
  const bytes = graph.tensors.reduce((s, t) => s + (t.data?.length ?? 0), 0);
  const b = new Builder(Math.max(1024, bytes + 64 * 1024));

  const codes: TfliteOperator[] = [];
  const codeIndex = new Map<string, number>();
  const opcodeOf = graph.operators.map((o) => {
    const key = `${o.op}/${o.custom ?? ''}/${o.version}`;
    let i = codeIndex.get(key);
    if (i === undefined) {
      i = codes.length;
      codes.push(o);
      codeIndex.set(key, i);
    }
    return i;
  });

  // Buffers: 0 = empty sentinel, then one per constant tensor, then one per metadata entry.
  const bufferOffsets: number[] = [];
  const emptyBuffer = (): number => {
    b.startObject(Slot.Buffer.count);
    return b.endObject();
  };
  const dataBuffer = (data: Uint8Array): number => {
    const vec = alignedBytes(b, data);
    b.startObject(Slot.Buffer.count);
    b.addFieldOffset(Slot.Buffer.data, vec, 0);
    return b.endObject();
  };
  bufferOffsets.push(emptyBuffer());
  const tensorBuffer = graph.tensors.map((t) => {
    if (!t.data) return 0;
    bufferOffsets.push(dataBuffer(t.data));
    return bufferOffsets.length - 1;
  });
  const metadataBuffer = model.metadata.map((m) => {
    bufferOffsets.push(dataBuffer(m.data));
    return bufferOffsets.length - 1;
  });

  // Tensors of one shape share one shape vector (flatbuffers allow any number of references to an object).
  const shapes = new Map<string, number>();
  const sharedInts = (values: readonly number[]): number => {
    const key = values.join(',');
    let o = shapes.get(key);
    if (o === undefined) shapes.set(key, (o = intVector(b, values)));
    return o;
  };
  const tensorOffsets = graph.tensors.map((t, i) => {
    const name = b.createSharedString(t.name);
    const shape = sharedInts(t.shape);
    const signature = t.shapeSignature ? sharedInts(t.shapeSignature) : 0;
    let quant = 0;
    if (t.quantization) {
      const q = t.quantization;
      const min = q.min ? floatVector(b, q.min) : 0;
      const max = q.max ? floatVector(b, q.max) : 0;
      const scale = floatVector(b, q.scale);
      const zp = longVector(b, q.zeroPoint);
      b.startObject(Slot.Quantization.count);
      if (min) b.addFieldOffset(Slot.Quantization.min, min, 0);
      if (max) b.addFieldOffset(Slot.Quantization.max, max, 0);
      b.addFieldOffset(Slot.Quantization.scale, scale, 0);
      b.addFieldOffset(Slot.Quantization.zero_point, zp, 0);
      b.addFieldInt32(Slot.Quantization.quantized_dimension, q.axis, 0);
      quant = b.endObject();
    }
    // Fields are added largest first (as flatc's generated builders do), so the byte-sized ones pack together
    // instead of each being padded to the next 4-byte field.
    b.startObject(Slot.Tensor.count);
    b.addFieldOffset(Slot.Tensor.shape, shape, 0);
    b.addFieldInt32(Slot.Tensor.buffer, tensorBuffer[i]!, 0);
    b.addFieldOffset(Slot.Tensor.name, name, 0);
    if (quant) b.addFieldOffset(Slot.Tensor.quantization, quant, 0);
    if (signature) b.addFieldOffset(Slot.Tensor.shape_signature, signature, 0);
    b.addFieldInt8(Slot.Tensor.type, t.type, 0);
    if (t.isVariable) b.addFieldInt8(Slot.Tensor.is_variable, 1, 0);
    b.addFieldInt8(Slot.Tensor.has_rank, 1, 0);
    return b.endObject();
  });

  const operatorOffsets = graph.operators.map((o, i) => {
    const inputs = intVector(b, o.inputs);
    const outputs = intVector(b, o.outputs);
    const optionsType = o.optionsType ?? OP_OPTIONS[o.op] ?? Options.NONE;
    // An options table without fields (MAXIMUM/MINIMUM, TRANSPOSE, DEQUANTIZE, ...) is left out, as TFLite's
    // converter leaves it out (its melspectrogram.tflite for openWakeWord has none on MAXIMUM, MINIMUM, TRANSPOSE).
    const fields = OPTION_FIELDS[optionsType];
    const options = optionsType !== Options.NONE && fields && fields.length > 0 ? writeOptions(b, optionsType, o.options ?? {}) : 0;
    const custom = o.customOptions ? b.createByteVector(o.customOptions) : 0;
    b.startObject(Slot.Operator.count);
    b.addFieldInt32(Slot.Operator.opcode_index, opcodeOf[i]!, 0);
    b.addFieldOffset(Slot.Operator.inputs, inputs, 0);
    b.addFieldOffset(Slot.Operator.outputs, outputs, 0);
    if (options) b.addFieldOffset(Slot.Operator.builtin_options, options, 0);
    if (custom) b.addFieldOffset(Slot.Operator.custom_options, custom, 0);
    if (options) b.addFieldInt8(Slot.Operator.builtin_options_type, optionsType, 0);
    return b.endObject();
  });

  const subgraphName = b.createString(graph.name ?? 'main');
  const tensorsVec = offsetVector(b, tensorOffsets);
  const inputsVec = intVector(b, graph.inputs);
  const outputsVec = intVector(b, graph.outputs);
  const operatorsVec = offsetVector(b, operatorOffsets);
  b.startObject(Slot.SubGraph.count);
  b.addFieldOffset(Slot.SubGraph.tensors, tensorsVec, 0);
  b.addFieldOffset(Slot.SubGraph.inputs, inputsVec, 0);
  b.addFieldOffset(Slot.SubGraph.outputs, outputsVec, 0);
  b.addFieldOffset(Slot.SubGraph.operators, operatorsVec, 0);
  b.addFieldOffset(Slot.SubGraph.name, subgraphName, 0);
  const subgraph = b.endObject();

  const codeOffsets = codes.map((o) => {
    const custom = o.custom !== undefined ? b.createString(o.custom) : 0;
    b.startObject(Slot.OperatorCode.count);
    // Codes past 126 live only in the int32 field; the byte field then holds the placeholder (schema 3a).
    b.addFieldInt8(Slot.OperatorCode.deprecated_builtin_code, Math.min(o.op, Op.PLACEHOLDER_FOR_GREATER_OP_CODES), 0);
    if (custom) b.addFieldOffset(Slot.OperatorCode.custom_code, custom, 0);
    b.addFieldInt32(Slot.OperatorCode.version, o.version, 1);
    b.addFieldInt32(Slot.OperatorCode.builtin_code, o.op, 0);
    return b.endObject();
  });

  const metadataOffsets = model.metadata.map((m, i) => {
    const name = b.createString(m.name);
    b.startObject(Slot.Metadata.count);
    b.addFieldOffset(Slot.Metadata.name, name, 0);
    b.addFieldInt32(Slot.Metadata.buffer, metadataBuffer[i]!, 0);
    return b.endObject();
  });

  const description = b.createString(model.description);
  const codesVec = offsetVector(b, codeOffsets);
  const subgraphsVec = offsetVector(b, [subgraph]);
  const buffersVec = offsetVector(b, bufferOffsets);
  const metadataVec = metadataOffsets.length > 0 ? offsetVector(b, metadataOffsets) : 0;
  b.startObject(Slot.Model.count);
  b.addFieldInt32(Slot.Model.version, SCHEMA_VERSION, 0);
  b.addFieldOffset(Slot.Model.operator_codes, codesVec, 0);
  b.addFieldOffset(Slot.Model.subgraphs, subgraphsVec, 0);
  b.addFieldOffset(Slot.Model.description, description, 0);
  b.addFieldOffset(Slot.Model.buffers, buffersVec, 0);
  if (metadataVec) b.addFieldOffset(Slot.Model.metadata, metadataVec, 0);
  b.finish(b.endObject(), FILE_IDENTIFIER);
  return b.asUint8Array().slice();
}

// ---------------------------------------------------------------- reader

/** A table position plus the generic accessors generated code would have. */
/** A flatbuffer offset or length that points outside the file: the file is corrupt or hostile. */
class FlatbufferBoundsError extends Error {}

/**
 * A flatbuffer table read with every offset and length checked against the buffer first. The
 * flatbuffers runtime reads past the end as zeros and trusts vector lengths, so a hostile length
 * of 2^31 would make us allocate gigabytes; here it is an error naming what was out of range.
 */
class Table {
  private readonly vtable: number;
  private readonly vtableSize: number;

  constructor(
    readonly bb: ByteBuffer,
    readonly pos: number,
  ) {
    const len = bb.capacity();
    if (!Number.isInteger(pos) || pos < 0 || pos + 4 > len) throw new FlatbufferBoundsError(`table at offset ${pos} is outside the ${len}-byte file`);
    this.vtable = pos - bb.readInt32(pos);
    if (this.vtable < 0 || this.vtable + 4 > len) throw new FlatbufferBoundsError(`vtable at offset ${this.vtable} is outside the ${len}-byte file`);
    this.vtableSize = bb.readUint16(this.vtable);
    if (this.vtableSize < 4 || this.vtable + this.vtableSize > len) throw new FlatbufferBoundsError(`vtable at offset ${this.vtable} (${this.vtableSize} bytes) runs past the ${len}-byte file`);
  }

  /** The field's offset from the table, or 0 when absent; `size` bytes at it must be inside the file. */
  private field(slot: number, size = 1): number {
    const entry = 4 + 2 * slot;
    if (entry + 2 > this.vtableSize) return 0;
    const o = this.bb.readUint16(this.vtable + entry);
    if (o !== 0 && this.pos + o + size > this.bb.capacity()) throw new FlatbufferBoundsError(`field ${slot} of the table at ${this.pos} is outside the file`);
    return o;
  }

  has(slot: number): boolean {
    return this.field(slot) !== 0;
  }

  int8(slot: number, dflt = 0): number {
    const o = this.field(slot, 1);
    return o ? this.bb.readInt8(this.pos + o) : dflt;
  }

  uint8(slot: number, dflt = 0): number {
    const o = this.field(slot, 1);
    return o ? this.bb.readUint8(this.pos + o) : dflt;
  }

  int32(slot: number, dflt = 0): number {
    const o = this.field(slot, 4);
    return o ? this.bb.readInt32(this.pos + o) : dflt;
  }

  uint32(slot: number, dflt = 0): number {
    const o = this.field(slot, 4);
    return o ? this.bb.readUint32(this.pos + o) : dflt;
  }

  uint64(slot: number): bigint | undefined {
    const o = this.field(slot, 8);
    return o ? this.bb.readUint64(this.pos + o) : undefined;
  }

  float32(slot: number, dflt = 0): number {
    const o = this.field(slot, 4);
    return o ? this.bb.readFloat32(this.pos + o) : dflt;
  }

  /** The target of the uoffset stored at `at`, checked to lie inside the file. */
  private indirect(at: number): number {
    const len = this.bb.capacity();
    if (at < 0 || at + 4 > len) throw new FlatbufferBoundsError(`offset at ${at} is outside the ${len}-byte file`);
    const target = at + this.bb.readUint32(at);
    if (target + 4 > len) throw new FlatbufferBoundsError(`offset at ${at} points to ${target}, outside the ${len}-byte file`);
    return target;
  }

  string(slot: number): string | undefined {
    const v = this.vector(slot, 1);
    return v ? new TextDecoder().decode(this.bb.bytes().subarray(v.start, v.start + v.length)) : undefined;
  }

  table(slot: number): Table | undefined {
    const o = this.field(slot, 4);
    return o ? new Table(this.bb, this.indirect(this.pos + o)) : undefined;
  }

  /** A vector whose `length` elements of `elementBytes` each all lie inside the file. */
  private vector(slot: number, elementBytes: number): { start: number; length: number } | undefined {
    const o = this.field(slot, 4);
    if (!o) return undefined;
    const at = this.indirect(this.pos + o);
    const length = this.bb.readUint32(at);
    const start = at + 4;
    if (start + length * elementBytes > this.bb.capacity()) {
      throw new FlatbufferBoundsError(`a vector at offset ${at} claims ${length} elements, more than the ${this.bb.capacity()}-byte file holds`);
    }
    return { start, length };
  }

  tables(slot: number): Table[] {
    const v = this.vector(slot, 4);
    if (!v) return [];
    return Array.from({ length: v.length }, (_, i) => new Table(this.bb, this.indirect(v.start + 4 * i)));
  }

  ints(slot: number): number[] | undefined {
    const v = this.vector(slot, 4);
    return v ? Array.from({ length: v.length }, (_, i) => this.bb.readInt32(v.start + 4 * i)) : undefined;
  }

  floats(slot: number): number[] | undefined {
    const v = this.vector(slot, 4);
    return v ? Array.from({ length: v.length }, (_, i) => this.bb.readFloat32(v.start + 4 * i)) : undefined;
  }

  longs(slot: number): number[] | undefined {
    const v = this.vector(slot, 8);
    return v ? Array.from({ length: v.length }, (_, i) => Number(this.bb.readInt64(v.start + 8 * i))) : undefined;
  }

  bytes(slot: number): Uint8Array | undefined {
    const v = this.vector(slot, 1);
    return v ? this.bb.bytes().subarray(v.start, v.start + v.length) : undefined;
  }
}

function readOptions(t: Table, type: number): Record<string, OptionValue> | undefined {
  const fields = OPTION_FIELDS[type];
  if (!fields) return undefined;
  const out: Record<string, OptionValue> = {};
  fields.forEach(([name, kind, dflt = 0], slot) => {
    switch (kind) {
      case 'byte': out[name] = t.int8(slot, dflt); break;
      case 'bool': out[name] = t.uint8(slot, dflt) !== 0; break;
      case 'int': out[name] = t.int32(slot, dflt); break;
      case 'float': out[name] = t.float32(slot, dflt); break;
      case 'int[]': { const v = t.ints(slot); if (v) out[name] = v; break; }
    }
  });
  return out;
}

/**
 * Parses a .tflite file. Tensor data is copied out of the file (so the model outlives the bytes). Files
 * over 2 GiB keep weights outside the flatbuffer (Buffer.offset/size), which this reader resolves too.
 */
export function decodeTflite(input: Uint8Array, file = '<memory>'): TfliteModel {
  // A plain view: Node's Buffer.slice shares memory, and tensor data must be real copies.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length < 8) throw new ModelGateError(`${file}: not a TFLite model (${bytes.length} bytes)`);
  const bb = new ByteBuffer(bytes);
  if (!bb.__has_identifier(FILE_IDENTIFIER)) {
    throw new ModelGateError(`${file}: not a TFLite model (no "${FILE_IDENTIFIER}" file identifier at bytes 4..7)`);
  }
  try {
    const root = new Table(bb, bb.readUint32(bb.position()) + bb.position());
    const buffers = root.tables(Slot.Model.buffers).map((t, i) => {
      const data = t.bytes(Slot.Buffer.data);
      if (data && data.length > 0) return data.slice();
      const o = Number(t.uint64(Slot.Buffer.offset) ?? 0n);
      const n = Number(t.uint64(Slot.Buffer.size) ?? 0n);
      if (o > 1 && n > 0 && o + n > bytes.length) throw new FlatbufferBoundsError(`buffer ${i} claims bytes ${o}..${o + n}, past the end of the ${bytes.length}-byte file`);
      return o > 1 && n > 0 ? bytes.slice(o, o + n) : undefined;
    });
    const codes = root.tables(Slot.Model.operator_codes).map((t) => {
      const deprecated = t.int8(Slot.OperatorCode.deprecated_builtin_code);
      const extended = t.int32(Slot.OperatorCode.builtin_code);
      return { op: Math.max(deprecated, extended), custom: t.string(Slot.OperatorCode.custom_code), version: t.int32(Slot.OperatorCode.version, 1) };
    });
    const subgraphs = root.tables(Slot.Model.subgraphs);
    if (subgraphs.length === 0) throw new ModelGateError(`${file}: the model has no subgraph`);
    const sg = subgraphs[0]!;
    const tensors: TfliteTensor[] = sg.tables(Slot.SubGraph.tensors).map((t, i) => {
      const type = t.int8(Slot.Tensor.type);
      const tensor: TfliteTensor = { name: t.string(Slot.Tensor.name) ?? `tensor_${i}`, type, shape: t.ints(Slot.Tensor.shape) ?? [] };
      const signature = t.ints(Slot.Tensor.shape_signature);
      if (signature) tensor.shapeSignature = signature;
      const data = buffers[t.uint32(Slot.Tensor.buffer)];
      if (data && data.length > 0) tensor.data = data;
      const q = t.table(Slot.Tensor.quantization);
      const scale = q?.floats(Slot.Quantization.scale);
      if (q && scale && scale.length > 0) {
        tensor.quantization = {
          scale,
          zeroPoint: q.longs(Slot.Quantization.zero_point) ?? scale.map(() => 0),
          axis: q.int32(Slot.Quantization.quantized_dimension),
        };
        const min = q.floats(Slot.Quantization.min);
        const max = q.floats(Slot.Quantization.max);
        if (min) tensor.quantization.min = min;
        if (max) tensor.quantization.max = max;
      }
      if (t.uint8(Slot.Tensor.is_variable)) tensor.isVariable = true;
      if (t.has(Slot.Tensor.sparsity)) tensor.sparse = true;
      return tensor;
    });
    const operators: TfliteOperator[] = sg.tables(Slot.SubGraph.operators).map((t) => {
      const code = codes[t.uint32(Slot.Operator.opcode_index)];
      if (!code) throw new ModelGateError(`${file}: an operator points at operator code ${t.uint32(Slot.Operator.opcode_index)}, which does not exist`);
      const op: TfliteOperator = { op: code.op, version: code.version, inputs: t.ints(Slot.Operator.inputs) ?? [], outputs: t.ints(Slot.Operator.outputs) ?? [] };
      if (code.custom !== undefined) op.custom = code.custom;
      const optionsType = t.uint8(Slot.Operator.builtin_options_type);
      const optionsTable = t.table(Slot.Operator.builtin_options);
      if (optionsType !== Options.NONE && optionsTable) {
        op.optionsType = optionsType;
        const options = readOptions(optionsTable, optionsType);
        if (options) op.options = options;
      }
      const custom = t.bytes(Slot.Operator.custom_options);
      if (custom) op.customOptions = custom.slice();
      return op;
    });
    checkTensorIndices(file, tensors.length, sg.ints(Slot.SubGraph.inputs) ?? [], sg.ints(Slot.SubGraph.outputs) ?? [], operators);
    const metadata = root.tables(Slot.Model.metadata).map((t) => ({ name: t.string(Slot.Metadata.name) ?? '', data: buffers[t.uint32(Slot.Metadata.buffer)] ?? new Uint8Array() }));
    return {
      description: root.string(Slot.Model.description) ?? '',
      graph: { name: sg.string(Slot.SubGraph.name), tensors, inputs: sg.ints(Slot.SubGraph.inputs) ?? [], outputs: sg.ints(Slot.SubGraph.outputs) ?? [], operators },
      extraSubgraphs: subgraphs.length - 1,
      metadata,
    };
  } catch (err) {
    if (err instanceof ModelGateError) throw err;
    if (err instanceof RangeError && !(err instanceof FlatbufferBoundsError)) throw new ModelGateError(`${file}: the TFLite flatbuffer is malformed (a table or vector is out of range)`, { cause: err });
    throw new ModelGateError(`${file}: the TFLite flatbuffer is malformed (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

/** Tensor indices in the graph's inputs and outputs and in every operator: -1 (an omitted optional input) or a tensor. */
function checkTensorIndices(file: string, count: number, inputs: number[], outputs: number[], operators: TfliteOperator[]): void {
  const bad = (i: number, optional: boolean) => !Number.isInteger(i) || i >= count || (optional ? i < -1 : i < 0);
  for (const [what, list] of [['graph inputs', inputs], ['graph outputs', outputs]] as const) {
    const i = list.find((x) => bad(x, false));
    if (i !== undefined) throw new ModelGateError(`${file}: the ${what} name tensor ${i}; the graph has ${count} tensors`);
  }
  operators.forEach((o, k) => {
    const i = [...o.inputs, ...o.outputs].find((x, j) => bad(x, j < o.inputs.length));
    if (i !== undefined) throw new ModelGateError(`${file}: operator ${k} (${describeOperator(o)}) names tensor ${i}; the graph has ${count} tensors`);
  });
}

/** "CONV_2D" for builtins, "custom op 'edgetpu-custom-op'" for custom ones. */
export function describeOperator(o: TfliteOperator): string {
  return o.op === Op.CUSTOM ? `custom op '${o.custom ?? ''}'` : opName(o.op);
}

export function tensorTypeName(type: number): string {
  return TENSOR_TYPE_NAMES[type] ?? `type ${type}`;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A tensor's constant data as numbers (float16 decoded), for the types that can hold weights. */
export function tensorValues(t: TfliteTensor): Float32Array | Int32Array | Int8Array | Uint8Array | Float64Array | BigInt64Array | Int16Array | Uint16Array {
  const data = t.data;
  if (!data) throw new Error(`tensor '${t.name}' has no data`);
  const n = elementCount(t.shape);
  const size = TENSOR_TYPE_BYTES[t.type];
  if (size === undefined) throw new ModelGateError(`tensor '${t.name}': ${tensorTypeName(t.type)} constants are not supported`);
  if (data.length < n * size) throw new ModelGateError(`tensor '${t.name}': ${data.length} bytes of data for ${n} elements of ${tensorTypeName(t.type)}`);
  // Copy to an aligned buffer: flatbuffer data need not be aligned to the element size in a slice.
  const copy = Uint8Array.prototype.slice.call(data, 0, n * size).buffer;
  switch (t.type) {
    case 0: return new Float32Array(copy);
    case 1: return new Uint16Array(copy);
    case 2: return new Int32Array(copy);
    case 3: case 6: return new Uint8Array(copy);
    case 4: return new BigInt64Array(copy);
    case 7: return new Int16Array(copy);
    case 9: return new Int8Array(copy);
    case 10: return new Float64Array(copy);
    default: throw new ModelGateError(`tensor '${t.name}': ${tensorTypeName(t.type)} constants are not supported`);
  }
}
