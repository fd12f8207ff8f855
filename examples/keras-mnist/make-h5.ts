/**
 * Writes model.h5: the seed's MNIST CNN (the TF.js-trained weights in ../mnist/tfjs) as a Keras 2
 * .h5 file, the file `model.save('model.h5')` writes, so that modelgate.yml can start from a Keras
 * model as the seed's examples do. No Python: the file is written with h5wasm in Keras' layout
 * (test/support/keras-fixtures.ts), with the layer names Keras would give.
 *
 *   npx tsx examples/keras-mnist/make-h5.ts
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTfjs } from '../../src/runtime/tfjs.js';
import { readTfjsLayersModel } from '../../src/formats/tfjs/files.js';
import { writeKerasH5 } from '../../test/support/keras-fixtures.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const { tf } = await loadTfjs('wasm');
  const trained = await readTfjsLayersModel(tf, path.join(HERE, '../mnist/tfjs/model.json'));
  // Same architecture, Keras' default names (the TF.js names carry class suffixes).
  const model = tf.sequential({ name: 'sequential' });
  model.add(tf.layers.conv2d({ name: 'conv2d', inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ name: 'max_pooling2d', poolSize: 2 }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({ name: 'dense', units: 10, activation: 'softmax' }));
  model.setWeights(trained.getWeights());
  const file = path.join(HERE, 'model.h5');
  await writeKerasH5(model, file, { kerasVersion: '2.15.0' });
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
