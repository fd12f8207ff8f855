/**
 * Keras legacy HDF5 models (`model.save('model.h5')` in Keras 2, and in Keras 3 with the .h5
 * extension): the root attribute `model_config` holds the JSON config, and `model_weights` holds
 * one group per layer whose attribute `weight_names` lists the layer's arrays in the order Keras
 * loads them (trainable first, then non-trainable). Keras 2 names carry TF variable suffixes and
 * scopes ('lstm/lstm_cell/kernel:0'), Keras 3 writes variable paths ('lstm/lstm_cell/kernel');
 * the arrays live at `model_weights/<layer>/<weight name>`, and like Keras the loader goes by
 * position within a layer. Long name lists are split over several attributes (weight_names0, ...).
 */
import type * as tf from '@tensorflow/tfjs';
import { ModelGateError, errorMessage, readingFile } from '../errors.js';
import { Hdf5File } from './hdf5.js';
import { normalizeKerasConfig, type KerasTopology } from './keras-config.js';
import { buildTfjsModel, isContainerLayer, leafLayers, setLayerWeights, weightShapes } from './keras-model.js';

export interface KerasImport {
  model: tf.LayersModel;
  topology: KerasTopology;
  /** 'keras-h5' or 'keras-zip'. */
  format: string;
  kerasVersion?: string;
  /** Weight arrays read from the file. */
  weights: number;
}

function parseConfig(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelGateError(`${source}: model_config is not valid JSON (${errorMessage(err)})`, { cause: err });
  }
}

export function readKerasH5(t: typeof tf, file: string): Promise<KerasImport> {
  return readingFile(file, 'Keras model', () => readKerasH5Unchecked(t, file));
}

async function readKerasH5Unchecked(t: typeof tf, file: string): Promise<KerasImport> {
  const h5 = await Hdf5File.open(file);
  try {
    const configText = h5.stringAttr('/', 'model_config');
    if (configText === undefined) {
      const weightsOnly = h5.stringListAttr('/', 'layer_names') !== undefined || h5.group('layers') !== null;
      throw new ModelGateError(
        weightsOnly
          ? `${file}: this file holds weights only (no model_config); save the whole model with model.save('model.h5') or model.save('model.keras')`
          : `${file}: not a Keras model (no model_config attribute)`,
      );
    }
    const kerasVersion = h5.stringAttr('/', 'keras_version');
    const major = kerasVersion ? (kerasVersion.startsWith('3') ? 3 : 2) : undefined;
    const topology = normalizeKerasConfig(parseConfig(configText, file), { source: file, kerasMajor: major });
    const model = await buildTfjsModel(t, topology, file);
    const root = h5.group('model_weights') ? 'model_weights' : '';
    const weights = assignLegacyWeights(t, h5, root, model, file);
    return { model, topology, format: 'keras-h5', kerasVersion, weights };
  } finally {
    h5.close();
  }
}

/** Keras 2's `load_weights_from_hdf5_group`, in TF.js terms. Returns the number of arrays read. */
function assignLegacyWeights(t: typeof tf, h5: Hdf5File, root: string, model: tf.LayersModel, file: string): number {
  const at = (name: string) => (root ? `${root}/${name}` : name);
  // Keras 3's legacy writer adds a 'top_level_model_weights' group (empty for standard models) beside the layers.
  const layerNames = h5.stringListAttr(root || '/', 'layer_names') ?? h5.keys(root || '/').filter((k) => k !== 'top_level_model_weights');
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  let read = 0;
  const filled = new Set<tf.layers.Layer>();
  for (const layerName of layerNames) {
    // h5py writes an empty list for weightless layers; some writers leave one empty string.
    const names = (h5.stringListAttr(at(layerName), 'weight_names') ?? []).filter((n) => n !== '');
    if (names.length === 0) continue;
    const layer = byName.get(layerName);
    if (!layer) throw new ModelGateError(`${file}: the weights name a layer '${layerName}' that the model config does not have`);
    const path = (w: string) => at(`${layerName}/${w}`);
    if (isContainerLayer(layer)) {
      read += assignNested(t, h5, layer, names, path, file, filled);
    } else {
      const shapes = weightShapes(layer);
      if (names.length !== shapes.length) {
        throw new ModelGateError(`${file}: layer '${layerName}' (${layer.getClassName()}) has ${names.length} weights in the file (${names.join(', ')}), the model needs ${shapes.length}`);
      }
      setLayerWeights(t, layer, names.map((w, i) => h5.floats(path(w), shapes[i]!, `layer '${layerName}'`)), file);
      filled.add(layer);
      read += names.length;
    }
  }
  const missing = leafLayers(model).filter((l) => l.weights.length > 0 && !filled.has(l));
  if (missing.length > 0) throw new ModelGateError(`${file}: no weights for layer${missing.length > 1 ? 's' : ''} ${missing.map((l) => `'${l.name}'`).join(', ')}`);
  return read;
}

/**
 * A nested model's group lists all its weights (trainable ones of every inner layer first). Each
 * name is scoped by the inner layer that owns it ('dense_3/kernel:0'), which assigns it.
 */
function assignNested(t: typeof tf, h5: Hdf5File, container: tf.LayersModel, names: string[], path: (w: string) => string, file: string, filled: Set<tf.layers.Layer>): number {
  const leaves = leafLayers(container).filter((l) => l.weights.length > 0);
  const byName = new Map(leaves.map((l) => [l.name, l]));
  const perLayer = new Map<tf.layers.Layer, string[]>();
  for (const w of names) {
    const owner = w
      .split('/')
      .map((segment) => byName.get(segment))
      .find((l) => l !== undefined);
    if (!owner) throw new ModelGateError(`${file}: weight '${w}' of nested model '${container.name}' names none of its layers`);
    perLayer.set(owner, [...(perLayer.get(owner) ?? []), w]);
  }
  let read = 0;
  for (const [layer, ws] of perLayer) {
    const shapes = weightShapes(layer);
    if (ws.length !== shapes.length) throw new ModelGateError(`${file}: layer '${layer.name}' in '${container.name}' has ${ws.length} weights in the file, the model needs ${shapes.length}`);
    setLayerWeights(t, layer, ws.map((w, i) => h5.floats(path(w), shapes[i]!, `layer '${layer.name}'`)), file);
    filled.add(layer);
    read += ws.length;
  }
  return read;
}
