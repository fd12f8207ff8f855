/** The cpu training kernels finetune installs compute what the stock kernels compute (ties in max pooling included). */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { checkFastConvFilterGrad, checkFastMaxPoolGrad, installFastConvFilterGrad, installFastMaxPoolGrad } from '../../src/runtime/tfjs-conv-grad.js';

it('fast Conv2DBackpropFilter and MaxPoolGrad match the stock cpu kernels', async () => {
  const previous = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    installFastConvFilterGrad(tf);
    installFastMaxPoolGrad(tf);
    expect(checkFastConvFilterGrad(tf)).toBeLessThan(1e-4);
    // Overlapping windows sum in another order: float rounding only.
    expect(checkFastMaxPoolGrad(tf)).toBeLessThan(1e-5);
    // Through the engine: the gradient of a max pool goes to the first maximum of each window.
    const x = tf.tensor4d([1, 3, 3, 2], [1, 2, 2, 1]);
    const g = tf.grad((v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid').sum())(x);
    expect(Array.from(g.dataSync())).toEqual([0, 1, 0, 0]);
  } finally {
    if (previous) await tf.setBackend(previous);
  }
});
