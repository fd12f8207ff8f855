/**
 * TF.js Layers models (Sequential, functional with branches, nested models) → ONNX.
 *
 * The TF.js model is the one in-memory form of every layers source: model.json loads into it
 * directly, and Keras .h5/.keras files are rebuilt as one (keras-model.ts), which also gives the
 * numerical check something to run. The graph is walked from the outputs through each tensor's
 * producing node, so shared layers and nested models convert like any other call.
 *
 * One converter per layer class in CONVERTERS (files in ./layers): adding a layer is one entry.
 * Layouts are handled in ./layers/graph.ts: Keras is channels-last, the ONNX graph is channels-first
 * inside, with transposes only where the layout actually changes. Outputs are deterministic: the
 * same model and weights give byte-identical ONNX.
 */
import type * as tf from '@tensorflow/tfjs';
import { onnx, type Model } from '../model/onnx.js';
import { ModelGateError } from '../errors.js';
import { InputDimsError, type DeclaredInput } from '../model/io.js';
import { GraphBuilder, ONNX_ELEM, onnxDims, type ElemType, type LayerConfig, type Value } from './layers/graph.js';
import * as core from './layers/core.js';
import * as conv from './layers/convolution.js';
import * as norm from './layers/normalization.js';
import * as reshaping from './layers/reshaping.js';
import * as merging from './layers/merging.js';
import * as rnn from './layers/recurrent.js';
import type { LayerConverter } from './layers/core.js';

export interface TfjsToOnnxOptions {
  /** The ONNX input's name when the model has one input; default: the Keras input layer's name. */
  inputName?: string;
  /** The ONNX output's name when the model has one output; default: the output layer's name. */
  outputName?: string;
  /** ai.onnx opset, 13 to 17; default 13. */
  opset?: number;
  /** The symbolic batch dimension's name; default 'N'. */
  batchDimName?: string;
  /**
   * Layout of 4-D (image) inputs and outputs in the ONNX graph. 'nchw' (the default) is what ONNX
   * vision models take and needs no Transpose; 'nhwc' keeps the Keras shapes, at the cost of one
   * Transpose after each image input (and before each image output).
   */
  imageLayout?: 'nchw' | 'nhwc';
  /** Shapes without the batch dim, by Keras input name, for inputs with unknown dims (variable-length sequences). */
  inputShapes?: Record<string, number[]>;
}

export interface ConvertedInput {
  /** The ONNX input name. */
  name: string;
  /** The Keras input layer's name. */
  kerasName: string;
  /** Keras shape without the batch dimension. */
  shape: number[];
  /** ONNX dims without the batch dimension (channels first for NCHW image inputs). */
  onnxDims: number[];
  elemType: ElemType;
  /** For inputs an Embedding reads: valid indices are 0 .. indexRange-1. */
  indexRange?: number;
}

export interface ConvertedOutput {
  name: string;
  shape: number[];
  onnxDims: number[];
}

export interface TfjsConversion {
  model: Model;
  inputs: ConvertedInput[];
  outputs: ConvertedOutput[];
  /** Layers converted, nested ones included (input layers not counted). */
  layers: number;
}

/** TF.js layer class → converter. */
const CONVERTERS: Record<string, LayerConverter> = {
  Dense: core.dense,
  Embedding: core.embedding,
  Activation: core.activation,
  ReLU: core.relu,
  LeakyReLU: core.leakyRelu,
  ELU: core.elu,
  PReLU: core.prelu,
  ThresholdedReLU: core.thresholdedRelu,
  Softmax: core.softmax,
  Rescaling: core.rescaling,
  Dropout: core.identity,
  SpatialDropout1D: core.identity,
  GaussianNoise: core.identity,
  GaussianDropout: core.identity,
  AlphaDropout: core.identity,
  Conv1D: conv.conv1d,
  CausalConv1D: conv.conv1d,
  Conv2D: conv.conv2d,
  DepthwiseConv2D: conv.depthwiseConv2d,
  SeparableConv2D: conv.separableConv2d,
  Conv2DTranspose: conv.conv2dTranspose,
  MaxPooling1D: conv.maxPooling1d,
  MaxPooling2D: conv.maxPooling2d,
  AveragePooling1D: conv.averagePooling1d,
  AveragePooling2D: conv.averagePooling2d,
  GlobalAveragePooling1D: conv.globalAveragePooling1d,
  GlobalAveragePooling2D: conv.globalAveragePooling2d,
  GlobalMaxPooling1D: conv.globalMaxPooling1d,
  GlobalMaxPooling2D: conv.globalMaxPooling2d,
  BatchNormalization: norm.batchNormalization,
  LayerNormalization: norm.layerNormalization,
  Flatten: reshaping.flatten,
  Reshape: reshaping.reshape,
  Permute: reshaping.permute,
  RepeatVector: reshaping.repeatVector,
  ZeroPadding2D: reshaping.zeroPadding2d,
  Cropping2D: reshaping.cropping2d,
  UpSampling2D: reshaping.upSampling2d,
  KerasUpSampling2D: reshaping.kerasUpSampling2d,
  Add: merging.add,
  Subtract: merging.subtract,
  Multiply: merging.multiply,
  Average: merging.average,
  Maximum: merging.maximum,
  Minimum: merging.minimum,
  Concatenate: merging.concatenate,
  LSTM: rnn.recurrent,
  GRU: rnn.recurrent,
  GRUResetAfter: rnn.recurrent,
  SimpleRNN: rnn.recurrent,
  Bidirectional: rnn.bidirectional,
};

const CONTAINERS = new Set(['Sequential', 'Model', 'Functional']);
/** Classes registered by this project for Keras semantics TF.js lacks; listed under their Keras names. */
const INTERNAL_NAMES = new Set(['KerasUpSampling2D', 'GRUResetAfter', 'CausalConv1D']);

export const SUPPORTED_LAYERS: readonly string[] = [
  'InputLayer',
  ...Object.keys(CONVERTERS).filter((k) => !INTERNAL_NAMES.has(k)),
  'Sequential',
  'Functional',
];
/** @deprecated kept for callers of the first version; same list as SUPPORTED_LAYERS. */
export const SUPPORTED_TFJS_LAYERS = SUPPORTED_LAYERS;

/** Per-sample input elements accepted (a 4096x4096 RGB image is 50M). */
const MAX_INPUT_ELEMENTS = 2 ** 27;
const MIN_OPSET = 13;
const MAX_OPSET = 17;
const IR_VERSION = 8;

function isContainer(layer: tf.layers.Layer): layer is tf.LayersModel {
  return CONTAINERS.has(layer.getClassName()) && Array.isArray((layer as tf.LayersModel).inputs);
}

/** 'dense_1' (Dense), with the path of enclosing models for nested ones. */
function label(layer: tf.layers.Layer, path: string): string {
  return `'${path}${layer.name}' (${layer.getClassName()})`;
}

/** A TF.js shape check after each layer: a converter bug shows here, naming the layer, not as wrong numbers later. */
function checkShape(g: GraphBuilder, layer: tf.layers.Layer, inputs: Value[], outputs: Value[]): void {
  let expected: unknown;
  try {
    expected = layer.computeOutputShape(inputs.length === 1 ? [null, ...inputs[0]!.shape] : inputs.map((v) => [null, ...v.shape]));
  } catch {
    return;
  }
  const shapes = (Array.isArray(expected) && Array.isArray(expected[0]) ? expected : [expected]) as Array<Array<number | null>>;
  outputs.forEach((v, i) => {
    const want = shapes[i]?.slice(1);
    if (!want) return;
    const same = want.length === v.shape.length && want.every((d, k) => d == null || d === v.shape[k]);
    if (!same) g.fail(`converted to shape [${v.shape.join(', ')}] but TF.js computes [${want.map((d) => d ?? '?').join(', ')}] (a converter bug: please report it)`);
  });
}

class Converter {
  layers = 0;
  constructor(readonly g: GraphBuilder) {}

  container(model: tf.LayersModel, inputs: Value[], path: string): Value[] {
    if (model.inputs.length !== inputs.length) throw new ModelGateError(`model ${label(model, path)} takes ${model.inputs.length} inputs, got ${inputs.length}`);
    const memo = new Map<number, Value>();
    model.inputs.forEach((t, i) => memo.set(t.id, inputs[i]!));
    // Depth-first with an explicit stack: a chain of thousands of layers must not reach the call-stack limit.
    const visit = (target: tf.SymbolicTensor): Value => {
      const stack: tf.SymbolicTensor[] = [target];
      while (stack.length > 0) {
        const t = stack[stack.length - 1]!;
        if (memo.has(t.id)) {
          stack.pop();
          continue;
        }
        const layer = t.sourceLayer;
        const node = layer.inboundNodes[t.nodeIndex];
        if (!node) throw new ModelGateError(`layer ${label(layer, path)}: its call ${t.nodeIndex} is missing from the model`);
        const pending = node.inputTensors.filter((x) => !memo.has(x.id));
        if (pending.length > 0) {
          // TF.js builds only acyclic graphs; the bound keeps a corrupt one from looping forever.
          if (stack.length > 1_000_000) throw new ModelGateError(`layer ${label(layer, path)}: the graph is too deep to convert (a cycle?)`);
          stack.push(...pending.reverse());
          continue;
        }
        stack.pop();
        const ins = node.inputTensors.map((x) => memo.get(x.id)!);
        const outs = this.layer(layer, ins, path);
        if (outs.length !== node.outputTensors.length) throw new ModelGateError(`layer ${label(layer, path)}: converted to ${outs.length} outputs, TF.js has ${node.outputTensors.length}`);
        node.outputTensors.forEach((o, i) => memo.set(o.id, outs[i]!));
        if (!memo.has(t.id)) throw new ModelGateError(`layer ${label(layer, path)}: output ${t.id} was not produced`);
      }
      return memo.get(target.id)!;
    };
    return model.outputs.map(visit);
  }

  layer(layer: tf.layers.Layer, inputs: Value[], path: string): Value[] {
    const className = layer.getClassName();
    if (className === 'InputLayer') return inputs;
    if (isContainer(layer)) return this.container(layer, inputs, `${path}${layer.name}/`);
    const convert = CONVERTERS[className];
    if (!convert) {
      throw new ModelGateError(`layer ${label(layer, path)} is not supported by the converter; supported layers: ${SUPPORTED_LAYERS.join(', ')}`);
    }
    this.g.layer = layer;
    this.g.layerLabel = label(layer, path);
    this.layers++;
    const out = convert(this.g, inputs, layer.getConfig() as LayerConfig, layer);
    const outs = Array.isArray(out) ? out : [out];
    checkShape(this.g, layer, inputs, outs);
    return outs;
  }
}

function valueInfo(name: string, elemType: ElemType, batch: string, dims: number[]): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: ONNX_ELEM[elemType], shape: { dim: [{ dimParam: batch }, ...dims.map((d) => ({ dimValue: d }))] } } },
  });
}

/** Converts a TF.js layers model; see TfjsToOnnxOptions. Throws ModelGateError naming the layer for anything unsupported. */
export function convertTfjsLayers(model: tf.LayersModel, options: TfjsToOnnxOptions = {}): TfjsConversion {
  const opset = options.opset ?? MIN_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) throw new ModelGateError(`opset ${opset} is not supported: use ${MIN_OPSET} to ${MAX_OPSET}`);
  if (!isContainer(model)) throw new ModelGateError(`'${(model as tf.layers.Layer).name}' is a ${(model as tf.layers.Layer).getClassName()}, not a layers model`);
  const layout = options.imageLayout ?? 'nchw';
  const batch = options.batchDimName ?? 'N';
  if (options.inputName !== undefined && model.inputs.length !== 1) throw new ModelGateError(`inputName is only for single-input models; this one has ${model.inputs.length}`);
  if (options.outputName !== undefined && model.outputs.length !== 1) throw new ModelGateError(`outputName is only for single-output models; this one has ${model.outputs.length}`);

  const inputNames = model.inputs.map((t) => options.inputName ?? t.sourceLayer.name);
  const g = new GraphBuilder(inputNames, opset);
  const inputs: ConvertedInput[] = [];
  const inputValues = model.inputs.map((t, i): Value => {
    const kerasName = t.sourceLayer.name;
    const declared = t.shape.slice(1);
    const given = options.inputShapes?.[kerasName];
    if (given && (given.length !== declared.length || given.some((d, k) => declared[k] != null && declared[k] !== d))) {
      throw new ModelGateError(`input '${kerasName}': shape [${given.join(', ')}] does not fit the model's [${declared.map((d) => d ?? '?').join(', ')}]`);
    }
    const shape = given ?? declared;
    if (shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 1)) {
      // Every input's declared dims go with the error, so that the load stage can choose the open ones (src/load/assume.ts).
      const all: DeclaredInput[] = model.inputs.map((u) => ({
        name: u.sourceLayer.name,
        dims: [null, ...(options.inputShapes?.[u.sourceLayer.name] ?? u.shape.slice(1))].map((d) => ({ value: typeof d === 'number' && Number.isInteger(d) && d >= 1 ? d : null, param: '' })),
      }));
      throw new InputDimsError(
        `input '${kerasName}' has shape [batch, ${declared.map((d) => d ?? '?').join(', ')}]: every dimension but the batch must be known; ` +
          `give its shape (in modelgate.yml: inputs: { ${kerasName}: { shape: [1, ${declared.map((d) => d ?? '…').join(', ')}] } })`,
        all,
      );
    }
    if ((shape as number[]).reduce((a, b) => a * b, 1) > MAX_INPUT_ELEMENTS) {
      throw new ModelGateError(`input '${kerasName}' of shape [${shape.join(', ')}] has more than ${MAX_INPUT_ELEMENTS} elements per sample`);
    }
    const elemType: ElemType = t.dtype === 'int32' ? 'int32' : 'float32';
    const v: Value = { name: inputNames[i]!, shape: shape as number[], channelsFirst: layout === 'nchw' && shape.length === 3, elemType, graphInput: inputNames[i]! };
    inputs.push({ name: v.name, kerasName, shape: v.shape, onnxDims: onnxDims(v), elemType });
    return v;
  });

  const converter = new Converter(g);
  const results = converter.container(model, inputValues, '');

  // Outputs in the requested layout, under their final names.
  const taken = new Set(inputNames);
  const outputs: ConvertedOutput[] = [];
  const outputInfos: onnx.ValueInfoProto[] = [];
  const consumers = new Set(g.nodes.flatMap((n) => n.input));
  const renamed = new Map<string, string>();
  results.forEach((r, i) => {
    const t = model.outputs[i]!;
    g.layer = t.sourceLayer;
    g.layerLabel = label(t.sourceLayer, '');
    const v = layout === 'nchw' && r.shape.length === 3 ? g.channelsFirst(g.inKerasOrder(r)) : g.kerasLayout(r);
    let name = options.outputName ?? (model.outputs.filter((o) => o.sourceLayer === t.sourceLayer).length > 1 ? `${t.sourceLayer.name}_${t.tensorIndex}` : t.sourceLayer.name);
    if (taken.has(name)) name = `${name}_output`;
    for (let k = 1; taken.has(name); k++) name = `${name}_${k}`;
    taken.add(name);
    const producer = g.nodes.find((n) => n.output.includes(v.name));
    if (producer && !consumers.has(v.name) && !renamed.has(v.name)) {
      // Name the producing node's output directly rather than adding an Identity.
      producer.output = producer.output.map((o) => (o === v.name ? name : o));
      renamed.set(v.name, name);
    } else {
      g.nodes.push(onnx.NodeProto.create({ name, opType: 'Identity', input: [renamed.get(v.name) ?? v.name], output: [name] }));
    }
    outputs.push({ name, shape: v.shape, onnxDims: onnxDims(v) });
    outputInfos.push(valueInfo(name, v.elemType ?? 'float32', batch, onnxDims(v)));
  });
  for (const input of inputs) {
    const range = g.indexInputs.get(input.name);
    if (range !== undefined) input.indexRange = range;
  }

  const onnxModel = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'modelgate',
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: model.name,
      node: g.nodes,
      initializer: g.initializers,
      input: inputs.map((inp) => valueInfo(inp.name, inp.elemType, batch, inp.onnxDims)),
      output: outputInfos,
    },
  });
  return { model: onnxModel, inputs, outputs, layers: converter.layers };
}

/** The ONNX model only; see convertTfjsLayers for the input/output description. */
export function tfjsLayersToOnnx(model: tf.LayersModel, options: TfjsToOnnxOptions = {}): Model {
  return convertTfjsLayers(model, options).model;
}
