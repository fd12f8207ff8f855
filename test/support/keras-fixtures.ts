/**
 * Keras files written from TF.js models, without Python, following the layouts Keras itself writes:
 *
 * - Keras 2 legacy HDF5 (`model.save('m.h5')`, keras/saving/legacy/hdf5_format.py): root attributes
 *   keras_version, backend and model_config (the JSON config, Keras 2 style); group model_weights
 *   with attribute layer_names and one group per layer whose attribute weight_names lists
 *   '<layer>/<scope>/<weight>:0' names (trainable first); each array at model_weights/<layer>/<name>.
 *   Names are fixed-length byte strings, as h5py writes numpy 'S' arrays.
 * - Keras 3 `.keras` (keras/src/saving/saving_lib.py): a stored (uncompressed) zip of
 *   metadata.json, config.json (module/class_name/config/registered_name objects, batch_shape,
 *   DTypePolicy dtypes, {args, kwargs} inbound nodes) and model.weights.h5 with each layer's
 *   variables at layers/<snake_case class>[_n]/vars/<i> (cell/ for RNNs, forward_layer/ and
 *   backward_layer/ for Bidirectional, layers/... again inside nested models).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import h5wasm from 'h5wasm/node';
import { zipSync, type Zippable } from 'fflate';
import { kerasSnakeCase } from '../../src/import/keras-config.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type H5Group = import('h5wasm/node').Group;

const RECURRENT_CELL: Record<string, string> = { LSTM: 'lstm_cell', GRU: 'gru_cell', SimpleRNN: 'simple_rnn_cell' };

/** The project's TF.js stand-ins for Keras semantics (src/import/tfjs-extras.ts) are plain Keras classes in a Keras file. */
const KERAS_CLASS: Record<string, [string, JsonObject]> = {
  GRUResetAfter: ['GRU', { reset_after: true }],
  CausalConv1D: ['Conv1D', { padding: 'causal' }],
  KerasUpSampling2D: ['UpSampling2D', {}],
};
const kerasClassName = (className: string): string => KERAS_CLASS[className]?.[0] ?? className;

/** Rewrites stand-in classes in a TF.js-made Keras JSON (layers, nested models, Bidirectional's inner layer). */
function toKerasClasses(entry: JsonObject): void {
  const mapped = KERAS_CLASS[entry.class_name as string];
  if (mapped) {
    entry.class_name = mapped[0];
    Object.assign(entry.config as JsonObject, mapped[1]);
  }
  const config = entry.config as JsonObject | undefined;
  if (config && typeof config === 'object' && !Array.isArray(config)) {
    if (Array.isArray(config.layers)) for (const l of config.layers as JsonObject[]) toKerasClasses(l);
    if (config.layer && typeof config.layer === 'object') toKerasClasses(config.layer as JsonObject);
  }
}

async function h5(): Promise<typeof h5wasm> {
  await h5wasm.ready;
  return h5wasm;
}

function isContainer(layer: tf.layers.Layer): layer is tf.LayersModel {
  return Array.isArray((layer as tf.LayersModel).layers) && Array.isArray((layer as tf.LayersModel).inputs);
}

/** The layers Keras' model.layers lists: a Sequential's InputLayer is not one of them. */
function kerasLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter((l) => l.getClassName() !== 'InputLayer');
}

/** A group, created with its parents as h5py does implicitly. */
function ensureGroup(root: H5Group, groupPath: string): H5Group {
  let g = root;
  for (const part of groupPath.split('/').filter(Boolean)) g = (g.keys().includes(part) ? g.get(part) : g.create_group(part)) as H5Group;
  return g;
}

function writeArray(root: H5Group, datasetPath: string, w: tf.Tensor): void {
  const parts = datasetPath.split('/');
  const g = ensureGroup(root, parts.slice(0, -1).join('/'));
  g.create_dataset({ name: parts.at(-1)!, data: w.dataSync() as Float32Array, shape: w.shape, dtype: '<f4' });
}

/** numpy 'S' arrays: fixed-length byte strings as long as the longest. */
function byteStrings(g: H5Group, name: string, items: string[]): void {
  const width = Math.max(1, ...items.map((s) => Buffer.byteLength(s)));
  g.create_attribute(name, items.length > 0 ? items : [''], [Math.max(items.length, 1)], `A${width}`);
}

function byteString(g: H5Group, name: string, value: string): void {
  g.create_attribute(name, value, null, `A${Math.max(1, Buffer.byteLength(value))}`);
}

/** Keras 2 variable names: layer scope, the RNN cell scope, ':0'. */
function kerasWeightNames(layer: tf.layers.Layer): string[] {
  const className = kerasClassName(layer.getClassName());
  const base = (w: tf.LayerVariable) => w.originalName.split('/').at(-1)!;
  if (className in RECURRENT_CELL) return layer.weights.map((w) => `${layer.name}/${RECURRENT_CELL[className]}/${base(w)}:0`);
  if (className === 'Bidirectional') {
    const inner = (layer.getConfig().layer as { className: string; config: { name: string } }) ?? {};
    const cell = RECURRENT_CELL[kerasClassName(inner.className)] ?? 'cell';
    const half = layer.weights.length / 2;
    return layer.weights.map((w, i) => `${layer.name}/${i < half ? 'forward' : 'backward'}_${inner.config.name}/${cell}/${base(w)}:0`);
  }
  return layer.weights.map((w) => `${layer.name}/${base(w)}:0`);
}

export interface H5FixtureOptions {
  kerasVersion?: string;
  /** Split weight_names and layer_names over name0, name1, ... as h5py-era Keras does for long lists. */
  chunkedAttributes?: boolean;
  /** Keras 3's legacy writer: variable paths without ':0', plus an empty top_level_model_weights group. */
  keras3Legacy?: boolean;
}

/** The Keras 2 model_config: TF.js' own Keras-format JSON, with the keys Keras 2 adds and TF.js ignores. */
export function keras2Config(model: tf.LayersModel): JsonObject {
  const json = model.toJSON(null, false) as unknown as JsonObject;
  toKerasClasses(json);
  const visit = (layers: JsonObject[]) => {
    for (const l of layers) {
      const c = l.config as JsonObject;
      c.dtype ??= 'float32';
      if (typeof c.filters === 'number' && l.class_name !== 'Conv2DTranspose') c.groups = 1;
      // Initializers from the Python side, which TF.js need not know; the importer drops them.
      for (const key of Object.keys(c)) if (key.endsWith('_initializer')) c[key] = { class_name: 'GlorotUniform', config: { seed: null } };
      if (Array.isArray((c as JsonObject).layers)) visit((c as JsonObject).layers as JsonObject[]);
    }
  };
  visit(((json.config as JsonObject).layers ?? []) as JsonObject[]);
  return { class_name: json.class_name as string, config: json.config as JsonObject, keras_version: '2.15.0', backend: 'tensorflow' };
}

/** Writes `model` as a Keras 2 .h5 file. */
export async function writeKerasH5(model: tf.LayersModel, file: string, options: H5FixtureOptions = {}): Promise<void> {
  const lib = await h5();
  mkdirSync(path.dirname(file), { recursive: true });
  const f = new lib.File(file, 'w');
  try {
    const version = options.kerasVersion ?? '2.15.0';
    byteString(f, 'keras_version', version);
    byteString(f, 'backend', 'tensorflow');
    byteString(f, 'model_config', JSON.stringify({ ...keras2Config(model), keras_version: version }));
    const weights = f.create_group('model_weights');
    byteString(weights, 'keras_version', version);
    byteString(weights, 'backend', 'tensorflow');
    const layers = kerasLayers(model);
    const list = (g: H5Group, name: string, items: string[]) => {
      if (!options.chunkedAttributes || items.length < 2) return byteStrings(g, name, items);
      const half = Math.ceil(items.length / 2);
      byteStrings(g, `${name}0`, items.slice(0, half));
      byteStrings(g, `${name}1`, items.slice(half));
    };
    list(weights, 'layer_names', layers.map((l) => l.name));
    for (const layer of layers) {
      const g = weights.create_group(layer.name);
      let names: string[];
      let values: tf.Tensor[];
      if (isContainer(layer)) {
        // A nested model saves all its weights in one group: trainable ones first, as Keras' _legacy_weights does.
        const leaves = layer.layers.flatMap((l) => (isContainer(l) ? l.layers : [l]));
        const all = leaves.flatMap((l) => kerasWeightNames(l).map((n, i) => ({ n, w: l.weights[i]! })));
        const ordered = [...all.filter((x) => x.w.trainable), ...all.filter((x) => !x.w.trainable)];
        names = ordered.map((x) => x.n);
        values = ordered.map((x) => x.w.read());
      } else {
        names = kerasWeightNames(layer);
        values = layer.weights.map((w) => w.read());
      }
      if (options.keras3Legacy) names = names.map((n) => n.replace(/:0$/, ''));
      list(g, 'weight_names', names);
      names.forEach((n, i) => writeArray(g, n, values[i]!));
    }
    if (options.keras3Legacy) byteStrings(weights.create_group('top_level_model_weights'), 'weight_names', []);
  } finally {
    f.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Keras 3

const policy = (name: Json): Json => ({ module: 'keras', class_name: 'DTypePolicy', config: { name: name ?? 'float32' }, registered_name: null });

function keras3Layer(layer: JsonObject, inbound: Json | undefined): JsonObject {
  const config = { ...(layer.config as JsonObject) };
  if ('batch_input_shape' in config) delete config.batch_input_shape;
  config.dtype = policy(config.dtype ?? 'float32');
  if (layer.class_name === 'Bidirectional') {
    const inner = config.layer as JsonObject;
    const innerConfig: JsonObject = { ...(inner.config as JsonObject), dtype: policy('float32') };
    config.layer = { module: 'keras.layers', class_name: inner.class_name, config: innerConfig, registered_name: null };
    config.backward_layer = {
      module: 'keras.layers',
      class_name: inner.class_name,
      config: { ...innerConfig, name: `backward_${innerConfig.name as string}`, go_backwards: !innerConfig.go_backwards },
      registered_name: null,
    };
  }
  const out: JsonObject = { module: 'keras.layers', class_name: layer.class_name as string, config, registered_name: null, name: (layer.config as JsonObject).name ?? null };
  if (inbound !== undefined) out.inbound_nodes = inbound;
  return out;
}

/** Keras 2 inbound nodes → Keras 3 call records with __keras_tensor__ references. */
function keras3Inbound(nodes: Json): Json {
  return (nodes as Json[][]).map((node) => {
    const tensors = (node as Json[][]).map((e) => ({ class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: [e[0]!, e[1]!, e[2]!] } }));
    return { args: tensors.length === 1 ? [tensors[0]!] : [tensors], kwargs: {} };
  });
}

/** A TF.js model's Keras JSON → Keras 3's config.json shape. */
export function keras3Config(model: tf.LayersModel): JsonObject {
  const convert = (entry: JsonObject): JsonObject => {
    const className = entry.class_name as string;
    const config = entry.config as JsonObject;
    if (className === 'Sequential') {
      const layers = (config.layers as JsonObject[]).map((l) => (['Sequential', 'Model', 'Functional'].includes(l.class_name as string) ? convert(l) : keras3Layer(l, undefined)));
      const first = (config.layers as JsonObject[])[0]!.config as JsonObject;
      const input = {
        module: 'keras.layers',
        class_name: 'InputLayer',
        config: { batch_shape: first.batch_input_shape ?? null, dtype: 'float32', sparse: false, name: `${config.name as string}_input` },
        registered_name: null,
      };
      return { module: 'keras', class_name: 'Sequential', config: { name: config.name, trainable: true, dtype: policy('float32'), layers: [input, ...layers] }, registered_name: null, build_config: { input_shape: first.batch_input_shape ?? null } };
    }
    const layers = (config.layers as JsonObject[]).map((l) => {
      if (['Sequential', 'Model', 'Functional'].includes(l.class_name as string)) return { ...convert(l), name: l.name as string, inbound_nodes: keras3Inbound(l.inbound_nodes ?? []) };
      if (l.class_name === 'InputLayer') {
        const c = l.config as JsonObject;
        return { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: c.batch_input_shape ?? null, dtype: c.dtype ?? 'float32', sparse: false, name: c.name }, registered_name: null, name: c.name, inbound_nodes: [] };
      }
      return keras3Layer(l, keras3Inbound(l.inbound_nodes ?? []));
    });
    const endpoints = (v: Json): Json => ((v as Json[]).length === 1 ? (v as Json[])[0]! : v);
    return {
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      config: { name: config.name, trainable: true, layers, input_layers: endpoints(config.input_layers ?? []), output_layers: endpoints(config.output_layers ?? []) },
      registered_name: 'Functional',
      build_config: { input_shape: null },
    };
  };
  const json = model.toJSON(null, false) as unknown as JsonObject;
  toKerasClasses(json);
  return { ...convert(json), compile_config: null };
}

/** Keras 3's weights layout for one container. */
function writeKeras3Weights(root: H5Group, model: tf.LayersModel, prefix: string): void {
  const counters = new Map<string, number>();
  for (const layer of kerasLayers(model)) {
    const snake = kerasSnakeCase(kerasClassName(layer.getClassName()));
    const n = counters.get(snake);
    counters.set(snake, n === undefined ? 0 : n + 1);
    const group = `${prefix}layers/${n === undefined ? snake : `${snake}_${n + 1}`}`;
    const vars = (p: string, ws: tf.LayerVariable[]) => {
      const g = ensureGroup(root, `${p}/vars`);
      ws.forEach((w, i) => g.create_dataset({ name: String(i), data: w.read().dataSync() as Float32Array, shape: w.shape as number[], dtype: '<f4' }));
    };
    if (isContainer(layer)) {
      ensureGroup(root, `${group}/vars`);
      writeKeras3Weights(root, layer, `${group}/`);
    } else if (kerasClassName(layer.getClassName()) in RECURRENT_CELL) {
      ensureGroup(root, `${group}/vars`);
      vars(`${group}/cell`, layer.weights);
    } else if (layer.getClassName() === 'Bidirectional') {
      ensureGroup(root, `${group}/vars`);
      const half = layer.weights.length / 2;
      // Keras' walk is alphabetical: backward_layer is written before forward_layer.
      vars(`${group}/backward_layer/cell`, layer.weights.slice(half));
      vars(`${group}/forward_layer/cell`, layer.weights.slice(0, half));
    } else {
      vars(group, layer.weights);
    }
  }
}

export interface KerasZipOptions {
  kerasVersion?: string;
  /** Extra zip entries (name → bytes), e.g. hostile paths for the safety tests. */
  extraEntries?: Record<string, Uint8Array>;
}

/** Writes `model` as a Keras 3 .keras file. */
export async function writeKerasZip(model: tf.LayersModel, file: string, options: KerasZipOptions = {}): Promise<void> {
  const lib = await h5();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keras-fixture-'));
  try {
    const weightsFile = path.join(dir, 'model.weights.h5');
    const f = new lib.File(weightsFile, 'w');
    try {
      writeKeras3Weights(f, model, '');
      ensureGroup(f, 'vars');
      ensureGroup(f, 'optimizer/vars');
    } finally {
      f.close();
    }
    const entries: Zippable = {
      'metadata.json': [new TextEncoder().encode(JSON.stringify({ keras_version: options.kerasVersion ?? '3.5.0', date_saved: '2026-11-27@12:00:00' })), { level: 0 }],
      'config.json': [new TextEncoder().encode(JSON.stringify(keras3Config(model))), { level: 0 }],
      'model.weights.h5': [new Uint8Array(readFileSync(weightsFile)), { level: 0 }],
    };
    for (const [name, bytes] of Object.entries(options.extraEntries ?? {})) entries[name] = [bytes, { level: 0 }];
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, zipSync(entries));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
