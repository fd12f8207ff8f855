/**
 * Rebuilding a Keras model in TF.js from its normalized config, and filling in its weights.
 * Both Keras readers (keras-h5.ts, keras-zip.ts) end here; they differ only in where each
 * layer's weight arrays live in the file.
 */
import type * as tf from '@tensorflow/tfjs';
import { ModelGateError, errorMessage } from '../errors.js';
import { registerKerasExtras } from './tfjs-extras.js';
import type { KerasTopology } from './keras-config.js';

export async function buildTfjsModel(t: typeof tf, topology: KerasTopology, source: string): Promise<tf.LayersModel> {
  registerKerasExtras(t);
  try {
    return await t.models.modelFromJSON({ modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'] } as tf.io.ModelJSON as never);
  } catch (err) {
    if (err instanceof RangeError) throw new ModelGateError(`${source}: the model is too large to rebuild (${err.message})`, { cause: err });
    throw new ModelGateError(`${source}: TF.js could not rebuild the model from its config: ${errorMessage(err)}`, { cause: err });
  }
}

/** Layers that hold weights, with nested models opened up, in the order TF.js lists them. */
export function isContainerLayer(layer: tf.layers.Layer): layer is tf.LayersModel {
  return Array.isArray((layer as tf.LayersModel).layers) && Array.isArray((layer as tf.LayersModel).inputs);
}

export function leafLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.flatMap((l) => (isContainerLayer(l) ? leafLayers(l) : [l]));
}

/** Sets one layer's weights, in TF.js order, from float32 arrays already checked against these shapes. */
export function setLayerWeights(t: typeof tf, layer: tf.layers.Layer, arrays: Float32Array[], source: string): void {
  const vars = layer.weights;
  if (arrays.length !== vars.length) {
    throw new ModelGateError(`${source}: layer '${layer.name}' (${layer.getClassName()}) has ${arrays.length} weight arrays in the file, the model needs ${vars.length}`);
  }
  const tensors = arrays.map((a, i) => t.tensor(a, vars[i]!.shape as number[]));
  try {
    layer.setWeights(tensors);
  } finally {
    t.dispose(tensors);
  }
}

/** The shapes TF.js expects for a layer's weights, for reading each array with its shape checked first. */
export function weightShapes(layer: tf.layers.Layer): number[][] {
  return layer.weights.map((w) => w.shape as number[]);
}
