/**
 * .tflite → ONNX, for the ops ModelGate exports and those common in published models (so that ORT candidates
 * can be compared with a .tflite reference). The ONNX model keeps the .tflite's interface: the same input/output
 * names and shapes (NHWC images stay NHWC); each convolution or pool is wrapped in Transposes to NCHW and back,
 * which onnxruntime's transpose optimizer cancels between neighbours.
 *
 * Quantized tensors become QDQ: an int8/uint8 activation is the float value passed through QuantizeLinear →
 * DequantizeLinear with the tensor's scale and zero point; int8 weights are initializers behind a
 * DequantizeLinear (per-axis where TFLite's are), int32 biases likewise. Quantized graph inputs and outputs
 * are float in the ONNX model, as TfliteSession presents them (it quantizes the feeds and dequantizes the
 * results), so the same float feeds run both. float16 weights (behind DEQUANTIZE) become float32 initializers.
 * MediaPipe's Convolution2DTransposeBias becomes ConvTranspose (../formats/tflite/mediapipe.ts); other custom ops
 * (an Edge TPU-compiled model, say) stop the import with an error naming the op. Dims the file's shape signature
 * leaves open (-1) stay open in the ONNX inputs and outputs, so that the config can set them.
 */
import { DataType, onnx, type Model } from '../model/onnx.js';
import { halfToFloat, makeTensor } from '../model/tensor.js';
import { checkModel, floatAttr, intAttr, intsAttr, makeNode, NameAllocator, stringAttr, tensorValueInfo } from '../model/graph.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { readFileSafe } from '../io/files.js';
import { decodeTflite, describeOperator, tensorTypeName, tensorValues, type TfliteModel, type TfliteOperator, type TfliteTensor } from '../formats/tflite/flatbuffer.js';
import { Activation, Op, Padding, TensorType, opName } from '../formats/tflite/schema.js';
import { SUPPORTED_CUSTOM_OPS, TRANSPOSE_CONV_BIAS, transposeConvBiasParams, transposeConvCrop } from '../formats/tflite/mediapipe.js';
import { transposeData } from '../model/tensor.js';

const OPSET = 13;
/** Float16 constants with fewer elements are widened to float32 at import rather than kept behind a Cast. */
export const FP16_MIN_CAST_ELEMENTS = 64;
/** Flatbuffers address with 32-bit offsets: no .tflite is larger. */
export const MAX_TFLITE_BYTES = 2 ** 31 - 1;
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

export interface TfliteImport {
  model: Model;
  /** The file's bytes (the reference runs them as they are). */
  bytes: Uint8Array;
  tflite: TfliteModel;
}

export function importTfliteFile(file: string, label = file): TfliteImport {
  const bytes: Uint8Array = readFileSafe(file, { maxBytes: MAX_TFLITE_BYTES, label, what: 'TFLite model' });
  const tflite = decodeTflite(bytes, label);
  return { model: importTflite(tflite, label), bytes, tflite };
}

const QUANTIZED = new Set<number>([TensorType.INT8, TensorType.UINT8, TensorType.INT16]);
/** Integer tensors without quantization parameters: plain integers, as ONNX types. */
const RAW_INPUT_TYPES: Partial<Record<number, number>> = { [TensorType.UINT8]: DataType.UINT8, [TensorType.INT8]: DataType.INT8, [TensorType.INT32]: DataType.INT32 };

function onnxQuantType(type: number): number {
  return type === TensorType.INT8 ? DataType.INT8 : type === TensorType.UINT8 ? DataType.UINT8 : DataType.INT16;
}

export function importTflite(tflite: TfliteModel, label = '<tflite>'): Model {
  const g = tflite.graph;
  const fail = (o: TfliteOperator, index: number, message: string): never => {
    throw new ModelGateError(`${label}: operator ${index} (${describeOperator(o)}): ${message}`);
  };
  const custom = g.operators.map((o, i) => [o, i] as const).filter(([o]) => o.op === Op.CUSTOM && !SUPPORTED_CUSTOM_OPS.has(o.custom ?? ''));
  if (custom.length > 0) {
    const [o, i] = custom[0]!;
    throw new ModelGateError(
      `${label}: operator ${i} is ${describeOperator(o)}; custom ops cannot be imported or run by ModelGate except MediaPipe's ${[...SUPPORTED_CUSTOM_OPS].join(', ')} (an Edge TPU-compiled model needs the Edge TPU delegate; use the .tflite from before compilation)`,
    );
  }
  if (tflite.extraSubgraphs > 0) throw new ModelGateError(`${label}: the model has ${tflite.extraSubgraphs + 1} subgraphs (control flow); only single-graph models can be imported`);

  const names = new NameAllocator();
  const nodes: onnx.NodeProto[] = [];
  const inits: onnx.TensorProto[] = [];
  /** Tensor index → the ONNX name of its float value. */
  const value = new Map<number, string>();
  /** ONNX names some tensor's value already is (an op that passes its input through must not rename it). */
  const taken = new Set<string>();
  const setValue = (i: number, name: string): void => {
    value.set(i, name);
    taken.add(name);
  };
  for (const t of g.tensors) names.reserve(t.name);
  // A tensor's own name goes to the ONNX value that holds it when no other tensor has that name and it is not a
  // graph input or output (those keep theirs): a model imported and exported again keeps its tensor names
  // instead of growing a suffix each time.
  const nameCount = new Map<string, number>();
  for (const t of g.tensors) nameCount.set(t.name, (nameCount.get(t.name) ?? 0) + 1);
  const graphOutputSet = new Set(g.outputs);
  const interfaceNames = new Set([...g.inputs, ...g.outputs].map((i) => g.tensors[i]?.name));
  const claimed = new Set<string>();
  const own = (name: string): boolean => {
    if (nameCount.get(name) !== 1 || claimed.has(name) || interfaceNames.has(name)) return false;
    claimed.add(name);
    return true;
  };
  /** The last node's output `v` renamed to `want` when that name is free to take. */
  const ownOutput = (v: string, want: string): string => {
    const last = nodes[nodes.length - 1];
    if (last?.output?.[0] !== v || v === want || !own(want)) return v;
    last.output[0] = want;
    return want;
  };

  /** The operator being imported, for messages about its operands. */
  let atOperator: string | undefined;
  const tensor = (i: number | undefined): TfliteTensor => {
    const t = i === undefined ? undefined : g.tensors[i];
    // decodeTflite checked every index it saw; an operand an operator needs but does not list is caught here.
    if (!t) throw new ModelGateError(`${label}: ${atOperator ?? 'the graph'}: ${i === undefined ? 'an operand it needs is missing' : `tensor ${i} does not exist`}`);
    return t;
  };
  // DEQUANTIZE of a constant (float16 or int8 weights) is a constant too: weights are looked up through it.
  const dequantizedConst = new Map<number, number>();
  for (const o of g.operators) if (o.op === Op.DEQUANTIZE && g.tensors[o.inputs[0]!]?.data) dequantizedConst.set(o.outputs[0]!, o.inputs[0]!);
  const constIndex = (i: number): number => dequantizedConst.get(i) ?? i;
  const scalarInit = (base: string, data: Float32Array | Int8Array | Uint8Array | Int32Array | Int16Array, dims: number[] = [], type?: number): string => {
    const name = names.next(base);
    inits.push(makeTensor(name, dims, data, type));
    return name;
  };
  const int64Init = (base: string, values: readonly number[]): string => {
    const name = names.next(base);
    inits.push(makeTensor(name, [values.length], BigInt64Array.from(values.map((v) => BigInt(v)))));
    return name;
  };
  const node = (op: string, inputs: string[], outputBase: string, attributes: onnx.AttributeProto[] = []): string => {
    const out = names.next(outputBase);
    nodes.push(makeNode(op, inputs, [out], { attributes }));
    return out;
  };

  /** QuantizeLinear → DequantizeLinear with tensor t's per-tensor parameters. */
  const qdq = (input: string, t: TfliteTensor): string => {
    const q = t.quantization!;
    if (q.scale.length !== 1) throw new ModelGateError(`${label}: activation '${t.name}' has per-axis quantization; only weights may`);
    const scale = scalarInit(`${t.name}_scale`, Float32Array.of(q.scale[0]!));
    const zpData = t.type === TensorType.INT8 ? Int8Array.of(q.zeroPoint[0]!) : t.type === TensorType.UINT8 ? Uint8Array.of(q.zeroPoint[0]!) : Int16Array.of(q.zeroPoint[0]!);
    const zp = scalarInit(`${t.name}_zero_point`, zpData, [], onnxQuantType(t.type));
    const quantized = node('QuantizeLinear', [input, scale, zp], `${t.name}_quantized`);
    return node('DequantizeLinear', [quantized, scale, zp], `${t.name}_dequantized`);
  };

  const pushInit = (base: string, dims: number[], data: Float32Array | Int8Array | Uint8Array | Int32Array | Uint16Array, type: number, exact = false): string => {
    const name = exact && own(base) ? base : names.next(base);
    inits.push(makeTensor(name, dims, data, type));
    return name;
  };

  /** A constant as a float ONNX value: float32 as is, float16 widened, int8/int32 behind DequantizeLinear. */
  const constant = (i: number, permute?: { dims: number[]; perm: number[] }): string => {
    const t = tensor(i);
    const raw = tensorValues(t);
    const dims = permute ? permute.perm.map((a) => permute.dims[a]!) : [...t.shape];
    const reorder = <T extends Float32Array | Int8Array | Int32Array | Uint8Array | Uint16Array>(data: T): T => (permute ? transposeData(data, permute.dims, permute.perm) : data);
    if (t.type === TensorType.FLOAT32) return pushInit(t.name, dims, reorder(raw as Float32Array), DataType.FLOAT, true);
    if (t.type === TensorType.FLOAT16) {
      // Float16 weights stay float16 (a Cast to float, folded by onnxruntime at load): the ONNX file is as small
      // as the .tflite. Small ones are widened: a Cast node costs more bytes than their 2 bytes an element save.
      if (raw.length < FP16_MIN_CAST_ELEMENTS) return pushInit(t.name, dims, reorder(Float32Array.from(raw as Uint16Array, halfToFloat)), DataType.FLOAT, true);
      const half = pushInit(`${t.name}_fp16`, dims, reorder(raw as Uint16Array), DataType.FLOAT16);
      return ownOutput(node('Cast', [half], t.name, [intAttr('to', DataType.FLOAT)]), t.name);
    }
    if ((t.type === TensorType.INT8 || t.type === TensorType.UINT8 || t.type === TensorType.INT32) && t.quantization) {
      const q = t.quantization;
      const type = t.type === TensorType.INT8 ? DataType.INT8 : t.type === TensorType.UINT8 ? DataType.UINT8 : DataType.INT32;
      const perAxis = q.scale.length > 1;
      const axis = permute && perAxis ? permute.perm.indexOf(q.axis) : q.axis;
      const qname = pushInit(`${t.name}_quantized`, dims, reorder(raw as Int8Array), type);
      const scale = scalarInit(`${t.name}_scale`, Float32Array.from(q.scale), perAxis ? [q.scale.length] : []);
      const zpValues = q.zeroPoint.length === q.scale.length ? q.zeroPoint : q.scale.map(() => 0);
      const zpData = t.type === TensorType.INT8 ? Int8Array.from(zpValues) : t.type === TensorType.UINT8 ? Uint8Array.from(zpValues) : Int32Array.from(zpValues);
      const zp = scalarInit(`${t.name}_zero_point`, zpData, perAxis ? [q.scale.length] : [], type);
      return ownOutput(node('DequantizeLinear', [qname, scale, zp], t.name, perAxis ? [intAttr('axis', axis)] : []), t.name);
    }
    if (t.type === TensorType.INT32) return pushInit(t.name, dims, reorder(raw as Int32Array), DataType.INT32, true);
    throw new ModelGateError(`${label}: constant '${t.name}' of type ${tensorTypeName(t.type)}${QUANTIZED.has(t.type) ? ' without quantization parameters' : ''} is not supported`);
  };

  /** The float ONNX value of tensor i (constants are materialized on first use). */
  const input = (o: TfliteOperator, k: number, index: number): string => {
    const i = o.inputs[k];
    if (i === undefined || i < 0) fail(o, index, `input ${k} is missing`);
    const have = value.get(i!);
    if (have) return have;
    const t = tensor(constIndex(i!));
    if (!t.data) fail(o, index, `input '${t.name}' is computed by no earlier operator`);
    const name = constant(constIndex(i!));
    setValue(i!, name);
    return name;
  };

  /** Registers op output tensor `i` computed as `name` (a float value), adding QDQ for a quantized tensor. */
  const output = (i: number, name: string): void => {
    const t = tensor(i);
    const v = QUANTIZED.has(t.type) && t.quantization ? qdq(name, t) : name;
    setValue(i, graphOutputSet.has(i) || taken.has(v) ? v : ownOutput(v, t.name));
  };

  const activation = (act: number, x: string, base: string): string => {
    switch (act) {
      case Activation.NONE: return x;
      case Activation.RELU: return node('Relu', [x], `${base}_relu`);
      case Activation.RELU6: return node('Clip', [x, scalarInit(`${base}_min`, Float32Array.of(0)), scalarInit(`${base}_max`, Float32Array.of(6))], `${base}_relu6`);
      case Activation.RELU_N1_TO_1: return node('Clip', [x, scalarInit(`${base}_min`, Float32Array.of(-1)), scalarInit(`${base}_max`, Float32Array.of(1))], `${base}_relu1`);
      case Activation.TANH: return node('Tanh', [x], `${base}_tanh`);
      default: throw new ModelGateError(`${label}: fused activation ${act} is not supported`);
    }
  };

  /** True when the tensor's signature leaves a spatial dim (NHWC axis 1 or 2) open: its file shape is a placeholder. */
  const spatialOpen = (i: number): boolean => {
    const sig = tensor(i).shapeSignature;
    return !!sig && sig.length === 4 && (sig[1]! < 0 || sig[2]! < 0);
  };
  /** The options of the operator being imported. */
  let currentOptions: Record<string, unknown> = {};
  /** ONNX padding for TFLite's SAME or VALID: explicit pads from the input size, or SAME_UPPER when that size is open. */
  const padAttr = (i: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number): onnx.AttributeProto => {
    const padding = Number(currentOptions.padding ?? 0);
    // TFLite's SAME puts the odd cell at the end, which is ONNX's SAME_UPPER.
    if (padding === Padding.SAME && spatialOpen(i)) return stringAttr('auto_pad', 'SAME_UPPER');
    const shape = tensor(i).shape;
    return intsAttr('pads', padsFor(padding, shape[1]!, shape[2]!, kh, kw, sh, sw, dh, dw));
  };

  // Graph inputs: float in the ONNX model, quantized inside when the .tflite's input is. An integer input
  // without quantization parameters (raw uint8 pixels a CAST reads) keeps its type, and its float value is a Cast.
  const graphInputs = g.inputs.map((i) => {
    const t = tensor(i);
    const quantized = QUANTIZED.has(t.type) && !!t.quantization;
    const raw = RAW_INPUT_TYPES[t.type];
    if (!quantized && raw !== undefined) {
      setValue(i, node('Cast', [t.name], `${t.name}_float`, [intAttr('to', DataType.FLOAT)]));
      return tensorValueInfo(t.name, raw, declaredShape(t));
    }
    if (!quantized && t.type !== TensorType.FLOAT32) {
      throw new ModelGateError(`${label}: input '${t.name}' is ${tensorTypeName(t.type)}; only float32, uint8, int8, int32 and quantized int8/uint8/int16 inputs are supported`);
    }
    setValue(i, quantized ? qdq(t.name, t) : t.name);
    return tensorValueInfo(t.name, DataType.FLOAT, declaredShape(t));
  });

  g.operators.forEach((o, index) => {
    atOperator = `operator ${index} (${describeOperator(o)})`;
    const outT = o.outputs[0]!;
    const out = tensor(outT);
    const opts = o.options ?? {};
    currentOptions = opts;
    const num = (k: string, d = 0): number => Number(opts[k] ?? d);
    const base = out.name;
    switch (o.op) {
      case Op.QUANTIZE:
      case Op.DEQUANTIZE: {
        // In float terms QUANTIZE is the identity up to rounding (the QDQ on its output adds that); DEQUANTIZE is the identity.
        const src = tensor(o.inputs[0]!);
        if (o.op === Op.DEQUANTIZE && src.data) break; // a dequantized constant: materialized where it is read
        output(outT, node('Identity', [input(o, 0, index)], `${base}_value`));
        break;
      }
      case Op.CAST: {
        // Values are float here: a cast to float is the identity; to an integer type it truncates toward zero
        // (TFLite's static_cast), which a round trip through that ONNX type does too.
        const x = input(o, 0, index);
        const to = RAW_INPUT_TYPES[out.type];
        if (out.type === TensorType.FLOAT32 || (to !== undefined && tensor(o.inputs[0]!).type === out.type)) output(outT, node('Identity', [x], `${base}_value`));
        else if (to !== undefined && !out.quantization) output(outT, node('Cast', [node('Cast', [x], `${base}_int`, [intAttr('to', to)])], `${base}_value`, [intAttr('to', DataType.FLOAT)]));
        else fail(o, index, `a cast to ${tensorTypeName(out.type)} is not supported (float32, uint8, int8, int32)`);
        break;
      }
      case Op.CONV_2D:
      case Op.DEPTHWISE_CONV_2D: {
        const x = input(o, 0, index);
        const w = tensor(constIndex(o.inputs[1]!));
        if (!w.data) fail(o, index, 'the filter is not a constant');
        const depthwise = o.op === Op.DEPTHWISE_CONV_2D;
        const [wo, kh, kw, wi] = w.shape as [number, number, number, number];
        // TFLite OHWI (conv) and 1HWO (depthwise) → ONNX OIHW and O1HW.
        const wName = constant(constIndex(o.inputs[1]!), { dims: w.shape, perm: depthwise ? [3, 0, 1, 2] : [0, 3, 1, 2] });
        const inShape = tensor(o.inputs[0]!).shape;
        const channels = depthwise ? wi : wo;
        const bName = o.inputs[2] !== undefined && o.inputs[2] >= 0 ? input(o, 2, index) : scalarInit(`${base}_bias`, new Float32Array(channels), [channels]);
        const sh = num('stride_h', 1), sw = num('stride_w', 1), dh = num('dilation_h_factor', 1), dw = num('dilation_w_factor', 1);
        const nchw = node('Transpose', [x], `${base}_nchw_in`, [intsAttr('perm', TO_NCHW)]);
        const attrs = [intsAttr('kernel_shape', [kh, kw]), intsAttr('strides', [sh, sw]), intsAttr('dilations', [dh, dw]), padAttr(o.inputs[0]!, kh, kw, sh, sw, dh, dw)];
        if (depthwise) attrs.push(intAttr('group', inShape[3]!));
        const conv = node('Conv', [nchw, wName, bName], `${base}_conv`, attrs);
        const y = node('Transpose', [activation(num('fused_activation_function'), conv, base)], `${base}_value`, [intsAttr('perm', TO_NHWC)]);
        output(outT, y);
        break;
      }
      case Op.MAX_POOL_2D:
      case Op.AVERAGE_POOL_2D: {
        const x = input(o, 0, index);
        const inShape = tensor(o.inputs[0]!).shape;
        const kh = num('filter_height'), kw = num('filter_width'), sh = num('stride_h', 1), sw = num('stride_w', 1);
        const nchw = node('Transpose', [x], `${base}_nchw_in`, [intsAttr('perm', TO_NCHW)]);
        const attrs = [intsAttr('kernel_shape', [kh, kw]), intsAttr('strides', [sh, sw]), padAttr(o.inputs[0]!, kh, kw, sh, sw, 1, 1)];
        // TFLite averages over the valid cells only.
        if (o.op === Op.AVERAGE_POOL_2D) attrs.push(intAttr('count_include_pad', 0));
        const pool = node(o.op === Op.MAX_POOL_2D ? 'MaxPool' : 'AveragePool', [nchw], `${base}_pool`, attrs);
        output(outT, node('Transpose', [activation(num('fused_activation_function'), pool, base)], `${base}_value`, [intsAttr('perm', TO_NHWC)]));
        break;
      }
      case Op.FULLY_CONNECTED: {
        const x = input(o, 0, index);
        const w = tensor(constIndex(o.inputs[1]!));
        if (!w.data) fail(o, index, 'the weights are not a constant');
        const [nOut, k] = w.shape as [number, number];
        const wName = input(o, 1, index);
        const bName = o.inputs[2] !== undefined && o.inputs[2] >= 0 ? input(o, 2, index) : scalarInit(`${base}_bias`, new Float32Array(nOut), [nOut]);
        const inShape = tensor(o.inputs[0]!).shape;
        const flat = inShape.length === 2 ? x : node('Reshape', [x, int64Init(`${base}_flat_shape`, [-1, k])], `${base}_flat`);
        let y = node('Gemm', [flat, wName, bName], `${base}_gemm`, [intAttr('transB', 1)]);
        y = activation(num('fused_activation_function'), y, base);
        if (inShape.length !== 2 || out.shape.length !== 2) y = node('Reshape', [y, int64Init(`${base}_out_shape`, out.shape)], `${base}_value`);
        output(outT, y);
        break;
      }
      case Op.ADD:
      case Op.SUB:
      case Op.MUL: {
        const onnxOp = o.op === Op.ADD ? 'Add' : o.op === Op.SUB ? 'Sub' : 'Mul';
        const y = node(onnxOp, [input(o, 0, index), input(o, 1, index)], `${base}_${onnxOp.toLowerCase()}`);
        output(outT, activation(num('fused_activation_function'), y, base));
        break;
      }
      case Op.RELU: output(outT, node('Relu', [input(o, 0, index)], `${base}_value`)); break;
      case Op.RELU6: output(outT, activation(Activation.RELU6, input(o, 0, index), base)); break;
      case Op.RELU_N1_TO_1: output(outT, activation(Activation.RELU_N1_TO_1, input(o, 0, index), base)); break;
      case Op.LOGISTIC: output(outT, node('Sigmoid', [input(o, 0, index)], `${base}_value`)); break;
      case Op.TANH: output(outT, node('Tanh', [input(o, 0, index)], `${base}_value`)); break;
      case Op.SOFTMAX: {
        let x = input(o, 0, index);
        const beta = num('beta', 1);
        if (beta !== 1) x = node('Mul', [x, scalarInit(`${base}_beta`, Float32Array.of(beta))], `${base}_scaled`);
        output(outT, node('Softmax', [x], `${base}_value`, [intAttr('axis', -1)]));
        break;
      }
      case Op.RESHAPE: {
        // A dynamic model's shapes are placeholders; its signature says which dims follow the input (-1, at most one).
        const shape = out.shapeSignature && out.shapeSignature.some((d) => d < 0) ? out.shapeSignature : out.shape;
        if (shape.filter((d) => d < 0).length > 1) fail(o, index, `the output '${out.name}' has ${shape.filter((d) => d < 0).length} dynamic dims [${shape.join(', ')}]; a reshape can infer only one`);
        output(outT, node('Reshape', [input(o, 0, index), int64Init(`${base}_shape`, shape)], `${base}_value`));
        break;
      }
      case Op.SQUEEZE: {
        // squeeze_dims (negative counts from the end); none = every size-1 dim, as ONNX Squeeze without axes.
        const dims = Array.isArray(opts.squeeze_dims) ? opts.squeeze_dims : [];
        const ins = [input(o, 0, index)];
        if (dims.length > 0) ins.push(int64Init(`${base}_axes`, dims));
        output(outT, node('Squeeze', ins, `${base}_value`));
        break;
      }
      case Op.EXPAND_DIMS: {
        const at = tensor(o.inputs[1]!);
        if (!at.data) fail(o, index, 'the axis is not a constant');
        // TFLite counts a negative axis from the end of the output (axis + rank + 1), as ONNX Unsqueeze does.
        const axis = Number(tensorValues(at)[0]);
        output(outT, node('Unsqueeze', [input(o, 0, index), int64Init(`${base}_axes`, [axis])], `${base}_value`));
        break;
      }
      case Op.MAXIMUM:
      case Op.MINIMUM:
        output(outT, node(o.op === Op.MAXIMUM ? 'Max' : 'Min', [input(o, 0, index), input(o, 1, index)], `${base}_value`));
        break;
      case Op.LOG: output(outT, node('Log', [input(o, 0, index)], `${base}_value`)); break;
      case Op.LEAKY_RELU: output(outT, node('LeakyRelu', [input(o, 0, index)], `${base}_value`, [floatAttr('alpha', num('alpha'))])); break;
      case Op.HARD_SWISH: {
        // x · relu6(x + 3) / 6 = x · HardSigmoid(x) with alpha 1/6, beta 0.5 (ONNX HardSwish needs opset 14).
        const x = input(o, 0, index);
        const gate = node('HardSigmoid', [x], `${base}_gate`, [floatAttr('alpha', 1 / 6), floatAttr('beta', 0.5)]);
        output(outT, node('Mul', [x, gate], `${base}_value`));
        break;
      }
      case Op.BATCH_MATMUL: {
        // adj_x / adj_y transpose the last two dims of that operand.
        const operand = (k: number, adjoint: boolean): string => {
          const x = input(o, k, index);
          if (!adjoint) return x;
          const rank = tensor(o.inputs[k]!).shape.length;
          const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
          return node('Transpose', [x], `${base}_adj${k}`, [intsAttr('perm', perm)]);
        };
        output(outT, node('MatMul', [operand(0, !!opts.adj_x), operand(1, !!opts.adj_y)], `${base}_value`));
        break;
      }
      case Op.RESIZE_BILINEAR: {
        const st = tensor(o.inputs[1]!);
        if (!st.data) fail(o, index, 'the size is not a constant');
        const [oh, ow] = Array.from(tensorValues(st) as Int32Array, Number);
        if (oh === undefined || ow === undefined) fail(o, index, 'the size must hold 2 values (height, width)');
        // TFLite's source coordinate: dst · (in - 1)/(out - 1) with align_corners, (dst + 0.5) · in/out - 0.5 with
        // half_pixel_centers, dst · in/out otherwise; the neighbours are clamped to the input, as onnxruntime's are.
        const mode = opts.align_corners ? 'align_corners' : opts.half_pixel_centers ? 'half_pixel' : 'asymmetric';
        const nchw = node('Transpose', [input(o, 0, index)], `${base}_nchw_in`, [intsAttr('perm', TO_NCHW)]);
        // sizes = [N, C] of the input (which may be dynamic) followed by the constant [H, W].
        const nc = node('Slice', [node('Shape', [nchw], `${base}_in_shape`), int64Init(`${base}_nc_start`, [0]), int64Init(`${base}_nc_end`, [2])], `${base}_nc`);
        const sizes = node('Concat', [nc, int64Init(`${base}_hw`, [oh!, ow!])], `${base}_sizes`, [intAttr('axis', 0)]);
        const resized = node('Resize', [nchw, '', '', sizes], `${base}_resize`, [stringAttr('mode', 'linear'), stringAttr('coordinate_transformation_mode', mode)]);
        output(outT, node('Transpose', [resized], `${base}_value`, [intsAttr('perm', TO_NHWC)]));
        break;
      }
      case Op.TRANSPOSE_CONV:
      case Op.CUSTOM: {
        // TRANSPOSE_CONV: (output_shape, weights, input[, bias]); MediaPipe's Convolution2DTransposeBias: (input, weights, bias).
        const builtin = o.op === Op.TRANSPOSE_CONV;
        if (!builtin && o.custom !== TRANSPOSE_CONV_BIAS) fail(o, index, 'this custom op cannot be imported');
        const [xk, wk, bk] = builtin ? [2, 1, 3] : [0, 1, 2];
        const x = input(o, xk, index);
        const w = tensor(constIndex(o.inputs[wk]!));
        if (!w.data) fail(o, index, 'the weights are not a constant');
        const inShape = tensor(o.inputs[xk]!).shape;
        if (spatialOpen(o.inputs[xk]!)) fail(o, index, `the input's height or width is dynamic ([${tensor(o.inputs[xk]!).shapeSignature!.join(', ')}]); a transposed convolution is imported at fixed sizes only`);
        const [wo, kh, kw] = w.shape as [number, number, number, number];
        let padding: number, sh: number, sw: number, outH: number, outW: number;
        if (builtin) {
          padding = num('padding'); sh = num('stride_h', 1); sw = num('stride_w', 1);
          const st = tensor(o.inputs[0]!);
          if (!st.data) fail(o, index, 'the output shape is not a constant');
          [, outH, outW] = Array.from(tensorValues(st) as Int32Array, Number) as [number, number, number, number];
        } else {
          ({ padding, strideH: sh, strideW: sw } = transposeConvBiasParams(o, `${label}: ${atOperator}`));
          outH = transposeConvCrop(padding, inShape[1]!, kh, sh).out;
          outW = transposeConvCrop(padding, inShape[2]!, kw, sw).out;
        }
        // Cropped cells per axis: the full transposed output minus the requested one; SAME crops floor(total/2) first.
        const crop = (size: number, k: number, s: number, want: number): [number, number] => {
          const total = (size - 1) * s + k - want;
          if (total < 0) fail(o, index, `an output of ${want} is larger than the ${(size - 1) * s + k} a transposed convolution makes`);
          const begin = padding === Padding.SAME ? Math.floor(total / 2) : 0;
          return [begin, total - begin];
        };
        const [pt, pb] = crop(inShape[1]!, kh, sh, outH), [pl, pr] = crop(inShape[2]!, kw, sw, outW);
        // OHWI → ONNX ConvTranspose's (C_in, C_out, kH, kW).
        const wName = constant(constIndex(o.inputs[wk]!), { dims: w.shape, perm: [3, 0, 1, 2] });
        const hasBias = o.inputs[bk] !== undefined && o.inputs[bk]! >= 0;
        const bName = hasBias ? input(o, bk, index) : scalarInit(`${base}_bias`, new Float32Array(wo), [wo]);
        const nchw = node('Transpose', [x], `${base}_nchw_in`, [intsAttr('perm', TO_NCHW)]);
        const attrs = [intsAttr('kernel_shape', [kh, kw]), intsAttr('strides', [sh, sw]), intsAttr('pads', [pt, pl, pb, pr])];
        const conv = node('ConvTranspose', [nchw, wName, bName], `${base}_convtranspose`, attrs);
        output(outT, node('Transpose', [activation(num('fused_activation_function'), conv, base)], `${base}_value`, [intsAttr('perm', TO_NHWC)]));
        break;
      }
      case Op.MEAN:
      case Op.REDUCE_MAX: {
        const axesT = tensor(o.inputs[1]!);
        if (!axesT.data) fail(o, index, 'the axes are not a constant');
        const axes = Array.from(tensorValues(axesT) as Int32Array);
        output(outT, node(o.op === Op.MEAN ? 'ReduceMean' : 'ReduceMax', [input(o, 0, index)], `${base}_value`, [intsAttr('axes', axes), intAttr('keepdims', opts.keep_dims ? 1 : 0)]));
        break;
      }
      case Op.CONCATENATION: {
        const ins = o.inputs.map((_, k) => input(o, k, index));
        const rank = out.shape.length;
        let axis = num('axis');
        if (axis < 0) axis += rank;
        output(outT, activation(num('fused_activation_function'), node('Concat', ins, `${base}_concat`, [intAttr('axis', axis)]), base));
        break;
      }
      case Op.PAD:
      case Op.PADV2: {
        const pt = tensor(o.inputs[1]!);
        if (!pt.data) fail(o, index, 'the paddings are not a constant');
        const p = Array.from(tensorValues(pt) as Int32Array, Number);
        const rank = p.length / 2;
        const pads = [...Array.from({ length: rank }, (_, i) => p[2 * i]!), ...Array.from({ length: rank }, (_, i) => p[2 * i + 1]!)];
        const ins = [input(o, 0, index), int64Init(`${base}_pads`, pads)];
        if (o.op === Op.PADV2) ins.push(input(o, 2, index));
        output(outT, node('Pad', ins, `${base}_value`));
        break;
      }
      case Op.TRANSPOSE: {
        const pt = tensor(o.inputs[1]!);
        if (!pt.data) fail(o, index, 'the permutation is not a constant');
        output(outT, node('Transpose', [input(o, 0, index)], `${base}_value`, [intsAttr('perm', Array.from(tensorValues(pt) as Int32Array, Number))]));
        break;
      }
      default:
        fail(o, index, `${opName(o.op)} is not supported by the TFLite import (README.md lists the ops it imports)`);
    }
  });

  // Graph outputs: the float value under the .tflite's output name.
  const graphOutputs = g.outputs.map((i) => {
    const t = tensor(i);
    const v = value.get(i);
    if (!v) throw new ModelGateError(`${label}: output '${t.name}' is computed by no operator`);
    nodes.push(makeNode('Identity', [v], [t.name]));
    return tensorValueInfo(t.name, DataType.FLOAT, declaredShape(t));
  });

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'modelgate-tflite-import',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: { name: g.name || 'tflite', node: nodes, initializer: inits, input: graphInputs, output: graphOutputs },
  });
  checkModel(model, `${label} (imported)`);
  return model;
}

/** The shape a graph input or output declares: the signature's -1 dims (a dynamic model's) are left open. */
function declaredShape(t: TfliteTensor): Array<number | null> {
  const sig = t.shapeSignature;
  if (!sig || sig.length !== t.shape.length || !sig.some((d) => d < 0)) return [...t.shape];
  return sig.map((d) => (d < 0 ? null : d));
}

/** ONNX pads [top, left, bottom, right] for TFLite's SAME or VALID. */
function padsFor(padding: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number): number[] {
  if (padding !== Padding.SAME) return [0, 0, 0, 0];
  const total = (size: number, k: number, s: number, d: number): number => Math.max(0, (Math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size);
  const th = total(h, kh, sh, dh), tw = total(w, kw, sw, dw);
  return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
}
