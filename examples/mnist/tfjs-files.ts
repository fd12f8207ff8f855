/**
 * Saving and loading a TF.js LayersModel as model.json + weights.bin with plain node:fs.
 * tf.io's file:// handler ships only with @tensorflow/tfjs-node, which this project does not use.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

const WEIGHTS_FILE = 'weights.bin';

export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []);
      const json = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json, null, 1) + '\n');
      writeFileSync(path.join(dir, WEIGHTS_FILE), new Uint8Array(weights));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
}

export async function loadLayersModel(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const manifest = json.weightsManifest ?? [];
  const weightSpecs = manifest.flatMap((group) => group.weights);
  const buffers = manifest.flatMap((group) =>
    group.paths.map((p) => {
      const bytes = readFileSync(path.join(dir, p));
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    }),
  );
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData: tf.io.concatenateArrayBuffers(buffers) }));
}
