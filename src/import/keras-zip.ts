/**
 * Keras 3 `.keras` files: a zip of config.json (the serialized model), metadata.json
 * (keras_version) and model.weights.h5. In the weights file each layer's variables sit at
 * `layers/<name>/vars/<0..n>`, where <name> is the snake_case of the layer's class numbered per
 * class in layer order ('dense', 'dense_1', 'conv2d_transpose'), not the layer's own name;
 * sub-objects follow as attributes ('lstm/cell/vars', 'bidirectional/forward_layer/cell/vars'),
 * nested models as 'sequential/layers/...'. Keras 2.13–2.15 wrote the same zip with layer names
 * under `_layer_checkpoint_dependencies`; both are looked up.
 *
 * The zip is hostile until proven otherwise: entry names that escape the folder ('..', absolute
 * paths, drive letters) are refused, and so are archives with too many entries, entries larger
 * than the caps, or compression ratios only a zip bomb has.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { unzipSync } from 'fflate';
import { ModelGateError, errorMessage, readingFile } from '../errors.js';
import { Hdf5File } from './hdf5.js';
import { escapesFolder } from '../io/paths.js';
import { readFileSafe } from '../io/files.js';
import { kerasSnakeCase, normalizeKerasConfig, type Json, type JsonObject } from './keras-config.js';
import { buildTfjsModel, isContainerLayer, leafLayers, setLayerWeights, weightShapes } from './keras-model.js';
import type { KerasImport } from './keras-h5.js';

export const ZIP_LIMITS = {
  /** The .keras file itself. */
  fileBytes: 2 ** 31 - 1,
  entries: 10_000,
  /** Any one entry, uncompressed. */
  entryBytes: 2 ** 31 - 1,
  /** All entries, uncompressed. */
  totalBytes: 2 ** 32,
  /** config.json and metadata.json, uncompressed. */
  jsonBytes: 64 * 2 ** 20,
  /** Uncompressed/compressed beyond this, for entries over 1 MiB, is a zip bomb (Keras stores entries uncompressed). */
  ratio: 200,
};

const RECURRENT = new Set(['LSTM', 'GRU', 'SimpleRNN']);

/** The wanted entries of a zip, after every entry passed the safety checks. */
export function readZipEntries(bytes: Uint8Array, source: string, wanted: ReadonlySet<string>): Map<string, Uint8Array> {
  let count = 0;
  let total = 0;
  let out: Record<string, Uint8Array>;
  try {
    out = unzipSync(bytes, {
      filter(info) {
        count++;
        if (count > ZIP_LIMITS.entries) throw new ModelGateError(`${source}: more than ${ZIP_LIMITS.entries} zip entries`);
        if (escapesFolder(info.name)) throw new ModelGateError(`${source}: zip entry '${info.name}' points outside the archive's folder; refusing the file`);
        if (info.originalSize > ZIP_LIMITS.entryBytes) throw new ModelGateError(`${source}: zip entry '${info.name}' is ${info.originalSize} bytes uncompressed, more than the ${ZIP_LIMITS.entryBytes}-byte cap`);
        total += info.originalSize;
        if (total > ZIP_LIMITS.totalBytes) throw new ModelGateError(`${source}: the zip entries add up to more than ${ZIP_LIMITS.totalBytes} bytes uncompressed`);
        if (info.originalSize > 2 ** 20 && info.originalSize > ZIP_LIMITS.ratio * Math.max(info.size, 1)) {
          throw new ModelGateError(`${source}: zip entry '${info.name}' expands ${Math.round(info.originalSize / Math.max(info.size, 1))}x; refusing a likely zip bomb`);
        }
        if (info.name.endsWith('.json') && wanted.has(info.name) && info.originalSize > ZIP_LIMITS.jsonBytes) {
          throw new ModelGateError(`${source}: '${info.name}' is ${info.originalSize} bytes, more than ${ZIP_LIMITS.jsonBytes}`);
        }
        return wanted.has(info.name);
      },
    });
  } catch (err) {
    if (err instanceof ModelGateError) throw err;
    throw new ModelGateError(`${source}: not a readable zip archive (${errorMessage(err)}); a .keras file is the zip model.save('model.keras') writes`, { cause: err });
  }
  return new Map(Object.entries(out));
}

export function readKerasZip(t: typeof tf, file: string): Promise<KerasImport> {
  return readingFile(file, 'Keras model', () => readKerasZipUnchecked(t, file));
}

async function readKerasZipUnchecked(t: typeof tf, file: string): Promise<KerasImport> {
  const bytes = readFileSafe(file, { maxBytes: ZIP_LIMITS.fileBytes, what: '.keras model' });
  const entries = readZipEntries(bytes, file, new Set(['config.json', 'metadata.json', 'model.weights.h5', 'model.weights.npz']));
  const json = (name: string): unknown => {
    const bytes = entries.get(name);
    if (!bytes) return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      throw new ModelGateError(`${file}: ${name} is not valid JSON (${errorMessage(err)})`, { cause: err });
    }
  };
  const config = json('config.json');
  if (config === undefined) throw new ModelGateError(`${file}: no config.json in the archive; not a Keras .keras model`);
  const metadata = json('metadata.json') as { keras_version?: unknown } | undefined;
  const kerasVersion = typeof metadata?.keras_version === 'string' ? metadata.keras_version : undefined;
  const weightsBytes = entries.get('model.weights.h5');
  if (!weightsBytes) {
    throw new ModelGateError(
      entries.has('model.weights.npz')
        ? `${file}: weights saved as model.weights.npz are not supported; save with the default h5 weights format`
        : `${file}: no model.weights.h5 in the archive`,
    );
  }
  const topology = normalizeKerasConfig(config, { source: file, kerasMajor: kerasVersion ? (kerasVersion.startsWith('2') ? 2 : 3) : 3 });
  const model = await buildTfjsModel(t, topology, file);

  // h5wasm reads files from disk; the weights go to a private temp folder for the time of the read.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-keras-'));
  try {
    const weightsFile = path.join(dir, 'model.weights.h5');
    writeFileSync(weightsFile, weightsBytes);
    const h5 = await Hdf5File.open(weightsFile, `${file}!model.weights.h5`);
    try {
      const weights = new Keras3Weights(t, h5, file).assign(config as JsonObject, model);
      return { model, topology, format: 'keras-zip', kerasVersion, weights };
    } finally {
      h5.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Walks the saved config (original class names decide the group names) next to the rebuilt TF.js model. */
class Keras3Weights {
  private read = 0;
  private readonly filled = new Set<tf.layers.Layer>();

  constructor(
    private readonly t: typeof tf,
    private readonly h5: Hdf5File,
    private readonly source: string,
  ) {}

  assign(config: JsonObject, model: tf.LayersModel): number {
    this.container(config, model, '');
    const missing = leafLayers(model).filter((l) => l.weights.length > 0 && !this.filled.has(l));
    if (missing.length > 0) throw new ModelGateError(`${this.source}: no weights for layer${missing.length > 1 ? 's' : ''} ${missing.map((l) => `'${l.name}'`).join(', ')}`);
    return this.read;
  }

  private container(entry: JsonObject, model: tf.LayersModel, prefix: string): void {
    const config = entry.config as JsonObject | Json[];
    const layers = (Array.isArray(config) ? config : (config.layers as Json[])) as JsonObject[];
    const counters = new Map<string, number>();
    for (const layer of layers) {
      const className = layer.class_name as string;
      const name = ((layer.config as JsonObject | undefined)?.name ?? layer.name) as string;
      const snake = kerasSnakeCase(className);
      const n = counters.get(snake);
      counters.set(snake, n === undefined ? 0 : n + 1);
      const byClass = n === undefined ? snake : `${snake}_${n + 1}`;
      if (className === 'InputLayer') continue;
      const tfLayer = model.getLayer(name);
      const group = [`${prefix}layers/${byClass}`, `${prefix}layers/${name}`, `${prefix}_layer_checkpoint_dependencies/${name}`, `${prefix}_layer_checkpoint_dependencies/${byClass}`].find(
        (p) => this.h5.group(p) !== null,
      );
      if (isContainerLayer(tfLayer)) {
        if (group) this.container(layer, tfLayer, `${group}/`);
        continue;
      }
      if (tfLayer.weights.length === 0) continue;
      if (!group) throw new ModelGateError(`${this.source}: no weights for layer '${name}' (${className}) at ${prefix}layers/${byClass}`);
      this.leaf(tfLayer, className, group);
    }
  }

  private vars(group: string): string[] {
    return this.h5
      .keys(`${group}/vars`)
      .filter((k) => /^\d+$/.test(k))
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => `${group}/vars/${k}`);
  }

  private leaf(layer: tf.layers.Layer, className: string, group: string): void {
    let paths: string[];
    if (RECURRENT.has(className)) paths = [...this.vars(group), ...this.vars(`${group}/cell`)];
    else if (className === 'Bidirectional') {
      // TF.js lists the forward layer's weights first; Keras' alphabetical walk would visit backward_layer first.
      paths = [...this.vars(`${group}/forward_layer`), ...this.vars(`${group}/forward_layer/cell`), ...this.vars(`${group}/backward_layer`), ...this.vars(`${group}/backward_layer/cell`)];
    } else paths = this.vars(group);
    const shapes = weightShapes(layer);
    if (paths.length !== shapes.length) {
      throw new ModelGateError(`${this.source}: layer '${layer.name}' (${className}) has ${paths.length} weight arrays under '${group}', the model needs ${shapes.length}`);
    }
    setLayerWeights(this.t, layer, paths.map((p, i) => this.h5.floats(p, shapes[i]!, `layer '${layer.name}'`)), this.source);
    this.filled.add(layer);
    this.read += paths.length;
  }
}
