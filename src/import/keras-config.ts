/**
 * Keras model configs (Keras 2 `model_config`, Keras 3 `config.json`) → the Keras-2-style JSON
 * that TF.js' deserializer reads, checked layer by layer.
 *
 * Keras 3 changed the format: `batch_shape` instead of `batch_input_shape`, dtype-policy objects
 * instead of dtype strings, `module`/`registered_name` wrappers around every object, and inbound
 * nodes as call records ({args, kwargs} holding __keras_tensor__ references). Everything a layer
 * needs only for training (initializers, regularizers, constraints) is dropped, so unknown classes
 * there cannot stop an import. Semantics TF.js lacks are mapped onto classes tfjs-extras.ts
 * registers (causal Conv1D, half-pixel bilinear UpSampling2D, Subtract, Keras 3 hard_sigmoid).
 * Options that TF.js would silently ignore while they change the result are refused by name.
 */
import { checkConfigSize, MAX_CONFIG_DEPTH, MAX_LAYERS } from '../formats/config-size.js';
import { ModelGateError } from '../errors.js';
import { SUPPORTED_LAYERS } from './tfjs-layers.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The topology TF.js' modelFromJSON takes. */
export interface KerasTopology {
  class_name: string;
  config: JsonObject;
  keras_version?: string;
  backend?: string;
}

export interface NormalizeOptions {
  /** For messages: the file the config came from. */
  source: string;
  /** Keras major version, from the file's metadata when known; otherwise inferred from the config's shape. */
  kerasMajor?: 2 | 3;
}

const CONTAINERS = new Set(['Sequential', 'Functional', 'Model']);
const RECURRENT = new Set(['LSTM', 'GRU', 'SimpleRNN']);
/** Keys TF.js does not need for inference and that Keras 3 fills with objects it may not know (initializers become zeros). */
const TRAINING_ONLY = /(_initializer|_regularizer|_constraint)$|^(activity_regularizer|build_config|compile_config|shared_object_id|use_cudnn|synchronized)$/;

/** Widest units/filters/vocabulary accepted: 2^24 (a 16M-row embedding is already 2 GiB at width 32). */
const MAX_WIDTH = 2 ** 24;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

class Normalizer {
  constructor(
    private readonly source: string,
    private readonly keras3: boolean,
  ) {}

  fail(layer: string, className: string, why: string): never {
    throw new ModelGateError(`${this.source}: layer '${layer}' (${className}): ${why}`);
  }

  /** A Keras 3 {module, class_name, config, registered_name} wrapper or a Keras 2 {class_name, config}. */
  model(entry: JsonObject, where: string): KerasTopology {
    const className = entry.class_name;
    if (typeof className !== 'string') throw new ModelGateError(`${this.source}: ${where} has no class_name`);
    if (!CONTAINERS.has(className)) {
      throw new ModelGateError(`${this.source}: the saved object is a ${className}, not a Keras model (Sequential or Functional); custom Model subclasses cannot be rebuilt without their Python code`);
    }
    return { class_name: className === 'Model' ? 'Functional' : className, config: this.modelConfig(className, entry.config ?? null, entry, where) };
  }

  private modelConfig(className: string, raw: Json, entry: JsonObject, where: string): JsonObject {
    // Keras ≤ 2.2 wrote a Sequential's config as the bare list of its layers.
    const config: JsonObject = Array.isArray(raw) ? { name: (entry.name as string | undefined) ?? 'sequential', layers: raw } : isObject(raw) ? { ...raw } : {};
    const layers = config.layers;
    if (!Array.isArray(layers) || layers.length === 0) throw new ModelGateError(`${this.source}: ${where} (${className}) has no layers`);
    const functional = className !== 'Sequential';
    config.layers = layers.map((l, i) => {
      if (!isObject(l)) throw new ModelGateError(`${this.source}: ${where} layer ${i} is not an object`);
      return this.layer(l, functional);
    });
    if (functional) {
      config.input_layers = this.endpoints(config.input_layers ?? null, `${where} input_layers`);
      config.output_layers = this.endpoints(config.output_layers ?? null, `${where} output_layers`);
    } else {
      this.sequentialInputShape(config, entry);
    }
    for (const key of Object.keys(config)) if (!['name', 'layers', 'input_layers', 'output_layers', 'trainable'].includes(key)) delete config[key];
    return config;
  }

  /** Keras 3 writes a single input as ["name", 0, 0] rather than [["name", 0, 0]]. */
  private endpoints(v: Json, where: string): Json {
    if (!Array.isArray(v) || v.length === 0) throw new ModelGateError(`${this.source}: ${where} is missing`);
    if (typeof v[0] === 'string') return [v];
    return v;
  }

  /** A Sequential saved without an InputLayer keeps its input shape in build_config (Keras 3). */
  private sequentialInputShape(config: JsonObject, entry: JsonObject): void {
    const layers = config.layers as JsonObject[];
    const first = layers[0]!;
    const firstConfig = first.config as JsonObject;
    if (first.class_name === 'InputLayer' || firstConfig.batch_input_shape) return;
    const build = (entry.build_config ?? (config.build_input_shape ? { input_shape: config.build_input_shape } : null)) as JsonObject | null;
    const shape = build?.input_shape;
    if (!Array.isArray(shape)) {
      throw new ModelGateError(`${this.source}: the Sequential model has no input shape (it was saved before being built); build it or start it with keras.Input(shape=...)`);
    }
    firstConfig.batch_input_shape = shape;
  }

  private layer(entry: JsonObject, functional: boolean): JsonObject {
    let className = entry.class_name as string;
    const rawConfig = entry.config;
    const name = (isObject(rawConfig) && typeof rawConfig.name === 'string' ? rawConfig.name : entry.name) as string | undefined;
    const label = name ?? '?';
    if (typeof className !== 'string') throw new ModelGateError(`${this.source}: layer '${label}' has no class_name`);
    const out: JsonObject = {};
    if (CONTAINERS.has(className)) {
      const nested = this.model(entry, `nested model '${label}'`);
      out.class_name = nested.class_name;
      out.config = nested.config;
    } else {
      if (!isObject(rawConfig)) this.fail(label, className, 'has no config');
      const config = this.layerConfig(className, { ...rawConfig }, label);
      className = this.mappedClass(className, config, label);
      if (!SUPPORTED_LAYERS.includes(className) && !MAPPED_CLASSES.has(className)) {
        this.fail(label, className, `is not supported by the converter; supported layers: ${SUPPORTED_LAYERS.join(', ')}`);
      }
      out.class_name = className;
      out.config = config;
    }
    if (name !== undefined) out.name = name;
    if (functional) out.inbound_nodes = this.inboundNodes(entry.inbound_nodes ?? [], label, className);
    return out;
  }

  /** Classes Keras and TF.js compute differently are swapped for the registered Keras-exact ones. */
  private mappedClass(className: string, config: JsonObject, label: string): string {
    if (className === 'Conv1D' && config.padding === 'causal') return 'CausalConv1D';
    if (className === 'UpSampling2D') {
      const interpolation = config.interpolation ?? 'nearest';
      if (interpolation !== 'nearest' && interpolation !== 'bilinear') this.fail(label, className, `interpolation '${String(interpolation)}' is not supported (nearest, bilinear)`);
      if (interpolation === 'bilinear') return 'KerasUpSampling2D';
    }
    if (className === 'GRU' && config.reset_after === true) return 'GRUResetAfter';
    return className;
  }

  private layerConfig(className: string, config: JsonObject, label: string): JsonObject {
    for (const key of Object.keys(config)) {
      if (!TRAINING_ONLY.test(key)) continue;
      // Weights are overwritten from the file: zeros spare TF.js e.g. an orthogonal init of every recurrent kernel.
      if (key.endsWith('_initializer')) config[key] = { class_name: 'Zeros', config: {} };
      else delete config[key];
    }
    delete config.module;
    delete config.registered_name;
    if ('batch_shape' in config) {
      config.batch_input_shape = config.batch_shape ?? null;
      delete config.batch_shape;
    }
    if (className === 'InputLayer') {
      for (const key of ['sparse', 'ragged', 'optional', 'input_tensor']) delete config[key];
      if (!Array.isArray(config.batch_input_shape)) {
        if (Array.isArray(config.shape)) config.batch_input_shape = [null, ...config.shape];
        else this.fail(label, className, 'has no input shape');
      }
      delete config.shape;
    }
    if ('dtype' in config) config.dtype = this.dtype(config.dtype ?? null, className);
    for (const key of ['activation', 'recurrent_activation']) {
      if (key in config) config[key] = this.activation(config[key] ?? null, label, className);
    }
    const refuse = (cond: boolean, why: string) => {
      if (cond) this.fail(label, className, why);
    };
    // A hostile config could ask TF.js to allocate terabytes while rebuilding the model.
    for (const key of ['units', 'filters', 'input_dim', 'output_dim']) {
      const v = config[key];
      refuse(typeof v === 'number' && !(Number.isInteger(v) && v > 0 && v <= MAX_WIDTH), `${key}=${String(v)} is not a plausible layer width (1 to ${MAX_WIDTH})`);
    }
    refuse(typeof config.groups === 'number' && config.groups !== 1, `groups=${String(config.groups)} (grouped convolution) is not supported`);
    delete config.groups;
    refuse(config.lora_rank != null, 'LoRA layers are not supported; merge the LoRA weights first');
    delete config.lora_rank;
    delete config.lora_alpha;
    refuse(config.quantization_config != null, 'Keras-quantized layers are not supported; import the float model');
    refuse(config.keepdims === true, 'keepdims=True is not supported');
    delete config.keepdims;
    refuse(config.renorm === true, 'renorm=True is not supported');
    refuse(config.rms_scaling === true, 'rms_scaling=True is not supported');
    refuse(config.time_major === true, 'time_major=True is not supported');
    refuse(config.data_format === 'channels_first', "data_format='channels_first' is not supported (channels_last)");
    if (className === 'ReLU') {
      refuse(typeof config.negative_slope === 'number' && config.negative_slope !== 0, 'negative_slope ≠ 0 is not supported; use LeakyReLU');
      refuse(typeof config.threshold === 'number' && config.threshold !== 0, 'threshold ≠ 0 is not supported');
      delete config.negative_slope;
      delete config.threshold;
    }
    if (className === 'LeakyReLU' && 'negative_slope' in config) {
      // Keras 3 renamed alpha to negative_slope.
      config.alpha = config.negative_slope ?? 0.3;
      delete config.negative_slope;
    }
    if (className === 'Conv2DTranspose') refuse(config.output_padding != null, 'output_padding is not supported');
    if (className === 'Bidirectional') this.bidirectional(config, label);
    if (RECURRENT.has(className)) refuse(config.stateful === true, 'stateful=True is not supported');
    return config;
  }

  private bidirectional(config: JsonObject, label: string): void {
    const inner = config.layer;
    if (!isObject(inner) || typeof inner.class_name !== 'string' || !RECURRENT.has(inner.class_name)) {
      this.fail(label, 'Bidirectional', `wraps ${isObject(inner) ? String(inner.class_name) : 'nothing'}; LSTM, GRU or SimpleRNN are supported`);
    }
    const innerConfig = this.layerConfig(inner.class_name, { ...(inner.config as JsonObject) }, label);
    config.layer = { class_name: this.mappedClass(inner.class_name, innerConfig, label), config: innerConfig };
    const backward = config.backward_layer;
    if (isObject(backward)) {
      // Keras 3 always writes the backward layer; it must mirror the forward one, which is all TF.js can rebuild.
      const b = backward.config as JsonObject | undefined;
      const f = inner.config as JsonObject;
      const mirrors = backward.class_name === inner.class_name && b && b.units === f.units && b.return_sequences === f.return_sequences && b.go_backwards === !f.go_backwards;
      if (!mirrors) this.fail(label, 'Bidirectional', 'a backward_layer that is not the mirror of the forward layer is not supported');
    }
    delete config.backward_layer;
    if (config.merge_mode === null) this.fail(label, 'Bidirectional', 'merge_mode=None (two outputs) is not supported');
  }

  /** dtype strings or policy objects → the compute dtype TF.js runs, float32 for every float policy. */
  private dtype(v: Json, className: string): Json {
    const name = isObject(v) ? ((v.config as JsonObject | undefined)?.name ?? null) : v;
    if (name === null) return null;
    if (typeof name !== 'string') return 'float32';
    if (className === 'InputLayer' && /^u?int/.test(name)) return 'int32';
    // Mixed-precision and half-precision layers run in float32 here; their float32 weights are exact.
    return 'float32';
  }

  /** 'relu' or {class_name: 'function', config: 'relu', module: 'keras.activations'} → 'relu'. */
  private activation(v: Json, label: string, className: string): Json {
    let name: Json = v;
    if (isObject(v)) {
      name = typeof v.config === 'string' ? v.config : typeof v.class_name === 'string' && v.class_name !== 'function' ? v.class_name : null;
      if (typeof name !== 'string') this.fail(label, className, `activation ${JSON.stringify(v).slice(0, 120)} is not a built-in activation`);
    }
    if (name === null) return 'linear';
    if (typeof name !== 'string') this.fail(label, className, 'activation is not a name');
    // Keras 3 redefined hard_sigmoid (relu6(x + 3) / 6); Keras 2 and TF.js use clip(0.2x + 0.5).
    if (name === 'hard_sigmoid' && this.keras3) return 'keras3_hard_sigmoid';
    return name;
  }

  /** Keras 2 [[[name, node, tensor, kwargs], ...], ...] or Keras 3 [{args, kwargs}, ...] → Keras 2 form. */
  private inboundNodes(nodes: Json, label: string, className: string): Json {
    if (!Array.isArray(nodes)) this.fail(label, className, 'inbound_nodes is not a list');
    return nodes.map((node) => {
      if (Array.isArray(node)) {
        // Keras 2: each entry [name, node_index, tensor_index, kwargs?]; some writers nest one level less.
        const entries = typeof node[0] === 'string' ? [node] : node;
        return entries.map((e) => {
          if (!Array.isArray(e) || typeof e[0] !== 'string') this.fail(label, className, 'has a malformed inbound node');
          return [e[0], e[1] ?? 0, e[2] ?? 0, {}];
        });
      }
      if (!isObject(node)) this.fail(label, className, 'has a malformed inbound node');
      const tensors: Json[] = [];
      const collect = (x: Json, where: string): void => {
        if (Array.isArray(x)) x.forEach((item) => collect(item, where));
        else if (isObject(x) && x.class_name === '__keras_tensor__') {
          const history = (x.config as JsonObject | undefined)?.keras_history;
          if (!Array.isArray(history) || typeof history[0] !== 'string') this.fail(label, className, 'has a tensor without keras_history');
          tensors.push([history[0], history[1] ?? 0, history[2] ?? 0, {}]);
        } else if (x !== null && where === 'args') {
          this.fail(label, className, `is called with a non-tensor argument ${JSON.stringify(x).slice(0, 80)}, which is not supported`);
        } else if (isObject(x)) {
          for (const value of Object.values(x)) collect(value, where);
        }
      };
      collect((node.args ?? []) as Json, 'args');
      const before = tensors.length;
      collect((node.kwargs ?? {}) as Json, 'kwargs');
      if (tensors.length !== before) this.fail(label, className, 'takes tensors as keyword arguments (mask, initial_state), which is not supported');
      return tensors;
    });
  }
}

/** Classes keras-config introduces that the converter knows but does not list as Keras layers. */
const MAPPED_CLASSES = new Set(['CausalConv1D', 'KerasUpSampling2D', 'GRUResetAfter', 'Subtract']);

/** True when the config has Keras 3's shape (module wrappers, batch_shape, call-record inbound nodes). */
export function looksLikeKeras3(config: unknown): boolean {
  const text = JSON.stringify(config);
  return /"module":\s*"keras/.test(text) || /"batch_shape"/.test(text) || /"__keras_tensor__"/.test(text);
}

/**
 * Normalizes a Keras model config (parsed JSON). Throws ModelGateError naming the layer and class
 * for anything the converter cannot take.
 */
export function normalizeKerasConfig(raw: unknown, options: NormalizeOptions): KerasTopology {
  if (!isObject(raw as Json)) throw new ModelGateError(`${options.source}: the model config is not a JSON object`);
  checkConfigSize(raw, options.source);
  const entry = raw as JsonObject;
  // An h5 model_config may wrap the model: { "class_name": ..., "config": ... } is the model itself.
  const keras3 = options.kerasMajor ? options.kerasMajor === 3 : looksLikeKeras3(raw);
  const topology = new Normalizer(options.source, keras3).model(entry, 'the model');
  // No undefined values: TF.js' config converter walks every key.
  return { ...topology, ...(typeof entry.keras_version === 'string' ? { keras_version: entry.keras_version } : {}), backend: 'tensorflow' };
}

/** Keras 3's snake_case of a class name, as its saver names weight groups ('Conv2DTranspose' → 'conv2d_transpose'). */
export function kerasSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

export { checkConfigSize, MAX_CONFIG_DEPTH, MAX_LAYERS };
