/**
 * The TFLite variants, as rewrites of the float32 graph from ./convert.ts:
 *   - float16: float constants stored as float16, each behind a DEQUANTIZE op (what TFLite's float16
 *     post-training quantization produces); compute stays float32.
 *   - weight-only-int8: CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV / BATCH_MATMUL weights
 *     with at least 1,024 elements stored int8 (symmetric, per output channel), each behind a DEQUANTIZE op;
 *     compute stays float32 (the ONNX weight_only pass's scheme). ./export.ts then stores the remaining float
 *     constants float16 as above.
 *   - dynamic-int8: CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weights with at least 1,024 elements stored
 *     int8 (symmetric; per output channel for convolutions); TFLite's hybrid kernels quantize the float
 *     activations on the fly. Smaller weights stay float, as in TFLite's own dynamic-range quantization.
 *   - int8: every activation int8 with a per-tensor scale and zero point from calibration (onnxruntime runs
 *     the ONNX model on dataset samples), weights int8 symmetric per output channel, biases int32 on the
 *     input_scale × weight_scale grid; the constraints of TFLite's int8 spec are enforced (pooling, reshape,
 *     transpose and pad keep their input's parameters; concatenation inputs are requantized to the output's;
 *     softmax and logistic output 1/256 with zero point -128, tanh 1/128 with zero point 0).
 *     I/O: float32 (QUANTIZE after each input, DEQUANTIZE before each output), int8, or uint8 (zero point + 128).
 */
import type { Model } from '../../model/onnx.js';
import type { Feeds } from '../../model/host-tensor.js';
import { floatToHalf } from '../../model/tensor.js';
import { calibrateRanges } from '../../passes/calibrate.js';
import { activationParams, biasSafeWeightScales, quantizeWeight, roundHalfEven } from '../../passes/quant-common.js';
import { ModelGateError } from '../../errors.js';
import type { ConvertedGraph } from './convert.js';
import type { TfliteOperator, TfliteQuantization, TfliteTensor } from '../../formats/tflite/flatbuffer.js';
import { Op, TensorType, opName } from '../../formats/tflite/schema.js';

/** TFLite's dynamic-range quantizer leaves smaller weights in float (its min_elements_for_weights). */
export const DYNAMIC_MIN_ELEMENTS = 1024;

/**
 * A float16 constant saves 2 bytes an element but costs a DEQUANTIZE operator, a second tensor and a buffer
 * (about 150 bytes of flatbuffer tables and alignment, measured on this exporter's output), and one more op
 * to run: smaller constants (scalars, short shape-like vectors) stay float32, which is also exact.
 */
export const FP16_MIN_ELEMENTS = 64;

const WEIGHTED = new Set<number>([Op.CONV_2D, Op.DEPTHWISE_CONV_2D, Op.FULLY_CONNECTED]);

function floatValues(t: TfliteTensor): Float32Array {
  const d = t.data!;
  return new Float32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
}

function bytesOf(a: Float32Array | Int32Array | Int8Array | Uint8Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function isFloatConst(t: TfliteTensor | undefined): t is TfliteTensor & { data: Uint8Array } {
  return !!t && t.type === TensorType.FLOAT32 && !!t.data;
}

function addTensor(g: ConvertedGraph, t: TfliteTensor, source?: string): number {
  g.tensors.push(t);
  g.sources.push(source);
  return g.tensors.length - 1;
}

// ---------------------------------------------------------------- float16

export function quantizeFloat16(g: ConvertedGraph): string[] {
  const prologue: TfliteOperator[] = [];
  let count = 0, kept = 0;
  const done = new Set<number>();
  for (const op of g.operators) {
    if (op.op === Op.PADV2) continue; // its pad value is a scalar, not a weight
    for (const i of op.inputs) {
      const t = g.tensors[i];
      if (i < 0 || done.has(i) || !isFloatConst(t)) continue;
      done.add(i);
      const f = floatValues(t);
      if (f.length < FP16_MIN_ELEMENTS) {
        kept++;
        continue;
      }
      const half = Uint16Array.from(f, (v) => floatToHalf(v));
      // The float16 tensor and its DEQUANTIZE output carry the same name (one string in the file).
      const h = addTensor(g, { name: t.name, type: TensorType.FLOAT16, shape: [...t.shape], data: bytesOf(half) });
      delete (t as TfliteTensor).data;
      prologue.push({ op: Op.DEQUANTIZE, version: 3, inputs: [h], outputs: [i] });
      count++;
    }
  }
  g.operators.unshift(...prologue);
  return [`float16: ${count} constant tensors stored as float16 behind DEQUANTIZE${kept ? `, ${kept} under ${FP16_MIN_ELEMENTS} elements kept float32 (a DEQUANTIZE costs more bytes than they would save)` : ''}`];
}

// ---------------------------------------------------------------- weight-only int8

/** Weights under this many elements stay float32, as in the ONNX weight_only pass (its min_elements default). */
export const WEIGHT_ONLY_MIN_ELEMENTS = 1024;

/**
 * Which input of a weighted op is its constant weight, and its output-channel axis in TFLite's layout:
 * CONV_2D [O, H, W, I] and TRANSPOSE_CONV [O, H, W, I] axis 0, DEPTHWISE_CONV_2D [1, H, W, O] axis 3,
 * FULLY_CONNECTED [O, I] axis 0, BATCH_MATMUL with a constant right-hand side [..., K, N] its last axis.
 */
function weightInput(g: ConvertedGraph, op: TfliteOperator): { input: number; axis: number } | undefined {
  switch (op.op) {
    case Op.CONV_2D:
    case Op.FULLY_CONNECTED:
    case Op.TRANSPOSE_CONV:
      return { input: 1, axis: 0 };
    case Op.DEPTHWISE_CONV_2D:
      return { input: 1, axis: 3 };
    case Op.BATCH_MATMUL: {
      const w = g.tensors[op.inputs[1] ?? -1];
      const adjY = op.options?.['adj_y'] === true;
      return w ? { input: 1, axis: adjY ? w.shape.length - 2 : w.shape.length - 1 } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * weight-only-int8: the weights of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV /
 * BATCH_MATMUL with at least WEIGHT_ONLY_MIN_ELEMENTS elements stored int8, symmetric, one scale per output
 * channel, each behind a DEQUANTIZE to the float32 tensor the op reads: the ops stay float32 (the TFLite
 * analogue of the ONNX weight_only pass). What the runtime does with it:
 *   - TFLite's DEQUANTIZE kernel (tensorflow/lite/kernels/dequantize.cc) gives the output of a constant
 *     input a persistent arena allocation and dequantizes it on the first Eval only (its OpData flag
 *     float_dequantized_weights_initialized); per-channel int8 parameters are applied per channel
 *     (tensorflow/lite/kernels/dequantize.h, PerChannelDequantizeImpl, when the scale has more than one value).
 *   - The XNNPACK delegate unpacks a DEQUANTIZE of a static float16 or int8 tensor (per-tensor, or per channel
 *     with PerChannelDequantizeInt8) into a float32 buffer when it prepares the graph, and the op never runs:
 *     the float op reads static float weights (tensorflow/lite/delegates/xnnpack/xnnpack_delegate.cc,
 *     PrepareOpsToDelegate, "Prepare to unpack FP16/INT8 tensors"; early releases unpacked float16 only).
 *     Measured with the bundled runtime (tfjs-tflite-node 0.0.2, 1 thread) on a 64-channel CNN with a 512-wide
 *     dense layer: weight-only-int8 ran at 1.00x the float32 file's p50 with XNNPACK (0.81 ms, where the
 *     builtin kernels take 3.5 ms: XNNPACK did run the convolutions) and at 1.00x with the builtin kernels.
 * DEQUANTIZE's op version is 5 for per-channel int8 input and 2 for per-tensor (TFLite's op_version.cc).
 */
export function quantizeWeightOnly(g: ConvertedGraph, minElements = WEIGHT_ONLY_MIN_ELEMENTS): string[] {
  const prologue: TfliteOperator[] = [];
  let count = 0, kept = 0, bytesBefore = 0, bytesAfter = 0;
  const done = new Set<number>();
  for (const op of g.operators) {
    const w = weightInput(g, op);
    const i = w ? op.inputs[w.input] : undefined;
    if (!w || i === undefined || i < 0 || done.has(i)) continue;
    const t = g.tensors[i];
    if (!isFloatConst(t)) continue;
    done.add(i);
    const values = floatValues(t);
    if (values.length < minElements) {
      kept++;
      continue;
    }
    const channels = t.shape[w.axis] ?? 1;
    const q = quantizeWeight(values, t.shape, 'int8', true, channels > 1 ? w.axis : null);
    // The int8 tensor and its DEQUANTIZE output carry the same name (one string in the file), as for float16.
    const h = addTensor(g, {
      name: t.name, type: TensorType.INT8, shape: [...t.shape], data: bytesOf(q.data),
      quantization: { scale: Array.from(q.scales), zeroPoint: Array.from(q.scales, () => 0), axis: q.axis ?? 0 },
    });
    bytesBefore += t.data.byteLength;
    bytesAfter += q.data.byteLength + 4 * q.scales.length;
    delete (t as TfliteTensor).data;
    prologue.push({ op: Op.DEQUANTIZE, version: q.scales.length > 1 ? 5 : 2, inputs: [h], outputs: [i] });
    count++;
  }
  g.operators.unshift(...prologue);
  const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
  return [`weight-only-int8: ${count} weight tensors stored int8 (per output channel) behind DEQUANTIZE, float32 compute (${kib(bytesBefore)} → ${kib(bytesAfter)})${kept ? `; ${kept} under ${minElements} elements kept float32` : ''}`];
}

// ---------------------------------------------------------------- dynamic range

/** Op versions for hybrid kernels (float activations, int8 weights), from TFLite's op versioning. */
function hybridVersion(op: number, perChannel: boolean): number {
  if (op === Op.CONV_2D) return perChannel ? 5 : 2;
  if (op === Op.DEPTHWISE_CONV_2D) return perChannel ? 6 : 4;
  return 3; // FULLY_CONNECTED
}

export function quantizeDynamicRange(g: ConvertedGraph): string[] {
  let quantized = 0, kept = 0;
  const done = new Set<number>();
  for (const op of g.operators) {
    if (!WEIGHTED.has(op.op)) continue;
    const wi = op.inputs[1]!;
    const w = g.tensors[wi];
    if (!isFloatConst(w)) continue;
    if (done.has(wi)) {
      op.version = Math.max(op.version, hybridVersion(op.op, op.op !== Op.FULLY_CONNECTED));
      continue;
    }
    const values = floatValues(w);
    if (values.length < DYNAMIC_MIN_ELEMENTS) {
      kept++;
      continue;
    }
    // Per output channel for convolutions (TFLite's choice); per tensor for FULLY_CONNECTED, whose hybrid kernel takes one scale.
    const axis = op.op === Op.CONV_2D ? 0 : op.op === Op.DEPTHWISE_CONV_2D ? 3 : null;
    const q = quantizeWeight(values, w.shape, 'int8', true, axis);
    w.type = TensorType.INT8;
    w.data = bytesOf(q.data);
    w.quantization = { scale: Array.from(q.scales), zeroPoint: Array.from(q.scales, () => 0), axis: axis ?? 0 };
    op.version = hybridVersion(op.op, axis !== null);
    done.add(wi);
    quantized++;
  }
  return [`dynamic-int8: ${quantized} weight tensors int8, ${kept} under ${DYNAMIC_MIN_ELEMENTS} elements kept float32`];
}

// ---------------------------------------------------------------- full int8

export interface FullInt8Options {
  ioType: 'float32' | 'int8' | 'uint8';
}

const SAME_PARAMS = new Set<number>([Op.MAX_POOL_2D, Op.AVERAGE_POOL_2D, Op.RESHAPE, Op.TRANSPOSE, Op.PAD, Op.PADV2, Op.SQUEEZE, Op.RESIZE_BILINEAR, Op.REDUCE_MAX]);

/** Op versions for int8 kernels, from TFLite's op versioning. */
const INT8_VERSION: Partial<Record<number, number>> = {
  [Op.CONV_2D]: 3, [Op.DEPTHWISE_CONV_2D]: 3, [Op.FULLY_CONNECTED]: 4, [Op.ADD]: 2, [Op.SUB]: 2, [Op.MUL]: 2,
  [Op.AVERAGE_POOL_2D]: 2, [Op.MAX_POOL_2D]: 2, [Op.CONCATENATION]: 2, [Op.SOFTMAX]: 2, [Op.LOGISTIC]: 2, [Op.TANH]: 2,
  [Op.PAD]: 2, [Op.PADV2]: 2, [Op.TRANSPOSE]: 2, [Op.MEAN]: 2, [Op.RELU]: 2, [Op.RELU6]: 2, [Op.RELU_N1_TO_1]: 2, [Op.RESHAPE]: 1,
  [Op.TRANSPOSE_CONV]: 3, [Op.MAXIMUM]: 2, [Op.MINIMUM]: 2, [Op.LEAKY_RELU]: 2, [Op.RESIZE_BILINEAR]: 2, [Op.REDUCE_MAX]: 2, [Op.HARD_SWISH]: 1,
};

function perTensor(scale: number, zeroPoint: number): TfliteQuantization {
  return { scale: [scale], zeroPoint: [zeroPoint], axis: 0 };
}

function sameParams(a: TfliteQuantization | undefined, b: TfliteQuantization | undefined): boolean {
  return !!a && !!b && a.scale[0] === b.scale[0] && a.zeroPoint[0] === b.zeroPoint[0];
}

function quantizeWithParams(values: Float32Array, q: TfliteQuantization): Int8Array {
  const s = q.scale[0]!, z = q.zeroPoint[0]!;
  return Int8Array.from(values, (v) => Math.max(-128, Math.min(127, roundHalfEven(v / s) + z)));
}

export async function quantizeFullInt8(g: ConvertedGraph, model: Model, calibration: Feeds[], options: FullInt8Options): Promise<string[]> {
  const activations = g.tensors.map((t, i) => (t.type === TensorType.FLOAT32 && !t.data ? i : -1)).filter((i) => i >= 0);
  const names = [...new Set(activations.map((i) => {
    const s = g.sources[i];
    if (!s) throw new Error(`tflite int8: tensor '${g.tensors[i]!.name}' has no ONNX source to calibrate it`);
    return s;
  }))];
  const ranges = await calibrateRanges(model, names, calibration, { method: 'minmax' });
  for (const i of activations) {
    const r = ranges.get(g.sources[i]!)!;
    const p = activationParams(r.min, r.max, 'int8');
    const t = g.tensors[i]!;
    t.type = TensorType.INT8;
    t.quantization = { ...perTensor(p.scale, p.zeroPoint), min: [r.min], max: [r.max] };
  }

  const ops = g.operators;
  const out: TfliteOperator[] = [];
  type Params = NonNullable<(typeof g.tensors)[number]['quantization']>;
  /**
   * Tensor `i` at the parameters `target`: a float constant is quantized with them, an int8 tensor with other
   * parameters is requantized (a QUANTIZE op before the op being rewritten). For ops whose int8 kernels need
   * one scale on every input (CONCATENATION, MAXIMUM, MINIMUM).
   */
  const toScale = (i: number, target: Params): number => {
    const t = g.tensors[i]!;
    if (isFloatConst(t)) return addTensor(g, { name: t.name, type: TensorType.INT8, shape: [...t.shape], data: bytesOf(quantizeWithParams(floatValues(t), target)), quantization: target });
    if (sameParams(t.quantization, target)) return i;
    const r = addTensor(g, { name: `${t.name}_requantized`, type: TensorType.INT8, shape: [...t.shape], quantization: { ...target } }, g.sources[i]);
    out.push({ op: Op.QUANTIZE, version: 2, inputs: [i], outputs: [r] });
    return r;
  };
  /**
   * Float fallback for an op without an int8 rule (as TFLite's converter does when float ops are allowed):
   * its int8 inputs are DEQUANTIZEd, it runs in float32 on its float version, and each output is QUANTIZEd
   * back to the calibrated int8 tensor the next ops read. A float op reading another float op's output reads
   * the float tensor directly; a QUANTIZE nothing reads is dropped at the end.
   */
  const floatOf = new Map<number, number>();
  const fellBack = new Map<string, number>();
  const fallbackDequantize = new Set<TfliteOperator>();
  /** The float tensors fallback ops write (before their QUANTIZE back to int8). */
  const fallbackOutputs = new Set<number>();
  const floatFallback = (op: TfliteOperator): void => {
    op.inputs = op.inputs.map((i) => {
      const t = i >= 0 ? g.tensors[i] : undefined;
      if (!t || t.type !== TensorType.INT8 || t.data) return i;
      let f = floatOf.get(i);
      if (f === undefined) {
        f = addTensor(g, { name: `${t.name}_float`, type: TensorType.FLOAT32, shape: [...t.shape] }, g.sources[i]);
        const dq: TfliteOperator = { op: Op.DEQUANTIZE, version: 2, inputs: [i], outputs: [f] };
        out.push(dq);
        fallbackDequantize.add(dq);
        floatOf.set(i, f);
      }
      return f;
    });
    const requantize: TfliteOperator[] = [];
    op.outputs = op.outputs.map((o) => {
      const t = g.tensors[o]!;
      if (t.type !== TensorType.INT8 || t.data) return o;
      const f = addTensor(g, { name: `${t.name}_float`, type: TensorType.FLOAT32, shape: [...t.shape] }, g.sources[o]);
      floatOf.set(o, f);
      fallbackOutputs.add(f);
      requantize.push({ op: Op.QUANTIZE, version: 1, inputs: [f], outputs: [o] });
      return f;
    });
    out.push(op, ...requantize);
    fellBack.set(opName(op.op), (fellBack.get(opName(op.op)) ?? 0) + 1);
  };
  for (const op of ops) {
    const ins = op.inputs.map((i) => (i >= 0 ? g.tensors[i] : undefined));
    const o = g.tensors[op.outputs[0]!]!;
    const x = ins[0];
    switch (op.op) {
      case Op.CONV_2D:
      case Op.DEPTHWISE_CONV_2D:
      case Op.FULLY_CONNECTED: {
        const w = ins[1]!, b = ins[2];
        if (!isFloatConst(w)) throw new ModelGateError(`tflite int8: ${opName(op.op)} '${o.name}' has a non-constant weight`);
        // FULLY_CONNECTED weights are per tensor, as TFLite's int8 spec has them: the bundled runtime reads only
        // the first scale of a per-channel FULLY_CONNECTED weight (measured: top-1 agreement fell to 16% on MNIST).
        const axis = op.op === Op.CONV_2D ? 0 : op.op === Op.DEPTHWISE_CONV_2D ? 3 : null;
        const inScale = x!.quantization!.scale[0]!;
        const bias = b && isFloatConst(b) ? floatValues(b) : new Float32Array(w.shape[axis === 3 ? 3 : 0]!);
        const q = quantizeWeight(floatValues(w), w.shape, 'int8', true, axis, biasSafeWeightScales(bias, inScale, axis !== null));
        const wq = addTensor(g, { name: w.name, type: TensorType.INT8, shape: [...w.shape], data: bytesOf(q.data), quantization: { scale: Array.from(q.scales), zeroPoint: Array.from(q.scales, () => 0), axis: axis ?? 0 } });
        const bScales = Array.from(q.scales, (s) => Math.fround(inScale * s));
        const bData = Int32Array.from(bias, (v, c) => Math.max(-(2 ** 31) + 1, Math.min(2 ** 31 - 1, roundHalfEven(v / bScales[axis === null ? 0 : c]!))));
        const bq = addTensor(g, { name: b?.name ?? `${w.name}_bias`, type: TensorType.INT32, shape: [bias.length], data: bytesOf(bData), quantization: { scale: bScales, zeroPoint: bScales.map(() => 0), axis: 0 } });
        op.inputs = [op.inputs[0]!, wq, bq];
        break;
      }
      case Op.TRANSPOSE_CONV: {
        // (output_shape, weights [O, H, W, I], input[, bias]): int8 weights per output channel, int32 bias.
        const w = ins[1]!, b = ins[3];
        if (!isFloatConst(w)) throw new ModelGateError(`tflite int8: TRANSPOSE_CONV '${o.name}' has a non-constant weight`);
        const inScale = ins[2]!.quantization!.scale[0]!;
        const bias = b && isFloatConst(b) ? floatValues(b) : new Float32Array(w.shape[0]!);
        const q = quantizeWeight(floatValues(w), w.shape, 'int8', true, 0, biasSafeWeightScales(bias, inScale, true));
        const wq = addTensor(g, { name: w.name, type: TensorType.INT8, shape: [...w.shape], data: bytesOf(q.data), quantization: { scale: Array.from(q.scales), zeroPoint: Array.from(q.scales, () => 0), axis: 0 } });
        const bScales = Array.from(q.scales, (s) => Math.fround(inScale * s));
        const bData = Int32Array.from(bias, (v, c) => Math.max(-(2 ** 31) + 1, Math.min(2 ** 31 - 1, roundHalfEven(v / bScales[c]!))));
        const bq = addTensor(g, { name: b?.name ?? `${w.name}_bias`, type: TensorType.INT32, shape: [bias.length], data: bytesOf(bData), quantization: { scale: bScales, zeroPoint: bScales.map(() => 0), axis: 0 } });
        op.inputs = [op.inputs[0]!, wq, op.inputs[2]!, bq];
        break;
      }
      case Op.ADD:
      case Op.SUB:
      case Op.MUL:
        op.inputs = op.inputs.map((i) => {
          const t = g.tensors[i]!;
          if (!isFloatConst(t)) return i;
          const v = floatValues(t);
          const p = activationParams(Math.min(...v), Math.max(...v), 'int8');
          const q = perTensor(p.scale, p.zeroPoint);
          return addTensor(g, { name: t.name, type: TensorType.INT8, shape: [...t.shape], data: bytesOf(quantizeWithParams(v, q)), quantization: q });
        });
        break;
      case Op.CONCATENATION: {
        // TFLite's int8 concatenation needs one scale for all: inputs are requantized to the output's.
        op.inputs = op.inputs.map((i) => toScale(i, o.quantization!));
        break;
      }
      case Op.MAXIMUM:
      case Op.MINIMUM: {
        // The int8 kernels compare the stored values: both inputs and the output share the first input's scale.
        const target = g.tensors[op.inputs.find((i) => !isFloatConst(g.tensors[i]!))!]!.quantization!;
        o.quantization = { ...target, scale: [...target.scale], zeroPoint: [...target.zeroPoint] };
        op.inputs = op.inputs.map((i) => toScale(i, target));
        break;
      }
      case Op.LEAKY_RELU:
      case Op.HARD_SWISH:
        break; // calibrated output parameters
      case Op.SOFTMAX:
      case Op.LOGISTIC:
        o.quantization = perTensor(1 / 256, -128);
        break;
      case Op.TANH:
        o.quantization = perTensor(1 / 128, 0);
        break;
      default:
        if (SAME_PARAMS.has(op.op)) {
          o.quantization = { ...x!.quantization!, scale: [...x!.quantization!.scale], zeroPoint: [...x!.quantization!.zeroPoint] };
          if (op.op === Op.PADV2 && ins[2] && isFloatConst(ins[2])) {
            op.inputs[2] = addTensor(g, { name: ins[2].name, type: TensorType.INT8, shape: [...ins[2].shape], data: bytesOf(quantizeWithParams(floatValues(ins[2]), o.quantization)), quantization: o.quantization });
          }
        } else if (op.op !== Op.MEAN && op.op !== Op.RELU && op.op !== Op.RELU6 && op.op !== Op.RELU_N1_TO_1) {
          floatFallback(op);
          continue;
        }
    }
    op.version = Math.max(op.version, INT8_VERSION[op.op] ?? 1);
    out.push(op);
  }

  // Inputs: the tensor the graph is fed with, and the int8 tensor its readers now read.
  const prologue: TfliteOperator[] = [];
  g.inputs = g.inputs.map((i) => {
    const t = g.tensors[i]!;
    const q = t.quantization!;
    if (options.ioType === 'int8') return i;
    const inner = addTensor(g, { ...t, name: `${t.name}_int8`, quantization: { ...q } }, g.sources[i]);
    for (const op of out) op.inputs = op.inputs.map((j) => (j === i ? inner : j));
    if (options.ioType === 'float32') {
      t.type = TensorType.FLOAT32;
      delete t.quantization;
    } else {
      t.type = TensorType.UINT8;
      t.quantization = perTensor(q.scale[0]!, q.zeroPoint[0]! + 128);
    }
    prologue.push({ op: Op.QUANTIZE, version: options.ioType === 'float32' ? 1 : 2, inputs: [i], outputs: [inner] });
    return i;
  });
  const epilogue: TfliteOperator[] = [];
  g.outputs = g.outputs.map((i) => {
    const t = g.tensors[i]!;
    const q = t.quantization!;
    if (options.ioType === 'int8') return i;
    const inner = addTensor(g, { ...t, name: `${t.name}_int8`, quantization: { ...q } }, g.sources[i]);
    for (const op of out) {
      op.outputs = op.outputs.map((j) => (j === i ? inner : j));
      op.inputs = op.inputs.map((j) => (j === i ? inner : j));
    }
    if (options.ioType === 'float32') {
      t.type = TensorType.FLOAT32;
      delete t.quantization;
      epilogue.push({ op: Op.DEQUANTIZE, version: 2, inputs: [inner], outputs: [i] });
    } else {
      t.type = TensorType.UINT8;
      t.quantization = perTensor(q.scale[0]!, q.zeroPoint[0]! + 128);
      epilogue.push({ op: Op.QUANTIZE, version: 2, inputs: [inner], outputs: [i] });
    }
    return i;
  });
  let ops2 = [...prologue, ...out, ...epilogue];
  if (options.ioType === 'float32') ops2 = floatEdges(ops2, g.inputs, g.outputs, fallbackDequantize, fallbackOutputs);
  g.operators = dropDeadQuantize(ops2, g.outputs);
  dropUnusedTensors(g);
  const notes = [`int8: ${activations.length} activation tensors calibrated on ${calibration.length} samples (min/max); conv weights per output channel, FULLY_CONNECTED per tensor; ${options.ioType} I/O`];
  if (fellBack.size > 0) {
    const list = [...fellBack].map(([name, n]) => (n > 1 ? `${n} ${name}` : name)).join(', ');
    notes.push(`int8: ${list} ${[...fellBack.values()].reduce((a, b) => a + b, 0) > 1 ? 'have' : 'has'} no int8 kernel rule here; run in float32 between DEQUANTIZE and QUANTIZE`);
  }
  return notes;
}

/**
 * With float32 I/O, a fallback op next to the graph's edge needs no int8 round trip: one reading a graph
 * input reads the float input (its DEQUANTIZE of the QUANTIZEd input goes), one computing a graph output
 * writes it in float (the QUANTIZE/DEQUANTIZE pair behind it goes, unless int8 ops read the int8 copy).
 */
function floatEdges(ops: TfliteOperator[], inputs: readonly number[], outputs: readonly number[], fallbackDequantize: ReadonlySet<TfliteOperator>, fallbackOutputs: ReadonlySet<number>): TfliteOperator[] {
  const producer = new Map<number, TfliteOperator>();
  for (const op of ops) for (const o of op.outputs) producer.set(o, op);
  const replaceReads = (from: number, to: number): void => {
    for (const op of ops) op.inputs = op.inputs.map((j) => (j === from ? to : j));
  };
  const drop = new Set<TfliteOperator>();
  for (const op of ops) {
    if (!fallbackDequantize.has(op)) continue;
    const q = producer.get(op.inputs[0]!);
    if (q?.op !== Op.QUANTIZE || !inputs.includes(q.inputs[0]!)) continue;
    replaceReads(op.outputs[0]!, q.inputs[0]!);
    drop.add(op);
  }
  for (const i of outputs) {
    const dq = producer.get(i);
    const q = dq?.op === Op.DEQUANTIZE ? producer.get(dq.inputs[0]!) : undefined;
    const f = q?.op === Op.QUANTIZE ? q.inputs[0]! : -1;
    if (!fallbackOutputs.has(f)) continue;
    const writer = producer.get(f)!;
    writer.outputs = writer.outputs.map((o) => (o === f ? i : o));
    replaceReads(f, i);
    drop.add(dq!);
  }
  return ops.filter((op) => !drop.has(op));
}

/** Drops QUANTIZE ops whose output nothing reads (a float-fallback op feeding only other float ops). */
function dropDeadQuantize(ops: TfliteOperator[], outputs: readonly number[]): TfliteOperator[] {
  const read = new Set<number>(outputs);
  for (const op of ops) for (const i of op.inputs) read.add(i);
  return ops.filter((op) => op.op !== Op.QUANTIZE || op.outputs.some((o) => read.has(o)));
}

/** Removes tensors no operator reads or writes (the float weights int8 copies replaced), renumbering the rest. */
export function dropUnusedTensors(g: ConvertedGraph): void {
  const used = new Set<number>([...g.inputs, ...g.outputs]);
  for (const op of g.operators) for (const i of [...op.inputs, ...op.outputs]) if (i >= 0) used.add(i);
  const remap = new Map<number, number>();
  const tensors: TfliteTensor[] = [];
  const sources: Array<string | undefined> = [];
  g.tensors.forEach((t, i) => {
    if (!used.has(i)) return;
    remap.set(i, tensors.length);
    tensors.push(t);
    sources.push(g.sources[i]);
  });
  const m = (i: number): number => (i < 0 ? i : remap.get(i)!);
  for (const op of g.operators) {
    op.inputs = op.inputs.map(m);
    op.outputs = op.outputs.map(m);
  }
  g.inputs = g.inputs.map(m);
  g.outputs = g.outputs.map(m);
  g.tensors = tensors;
  g.sources = sources;
}
