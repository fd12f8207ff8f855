/**
 * Shared helpers for converter tests: seeded initializers (nonzero biases and statistics, so a
 * wrong row order or a dropped bias shows) and the convert → compare round trip on the wasm backend.
 */
import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadTfjs } from '../../src/runtime/tfjs.js';
import { convertTfjsLayers, type TfjsConversion, type TfjsToOnnxOptions } from '../../src/import/tfjs-layers.js';
import { checkConversion, type NumericalCheck } from '../../src/import/check.js';

let seed = 1;
export const init = (minval = -0.6, maxval = 0.6) => tf.initializers.randomUniform({ minval, maxval, seed: seed++ });
/** kernel + bias initializers */
export const kb = () => ({ kernelInitializer: init(), biasInitializer: init() });
/** kernel + recurrent kernel + bias initializers */
export const krb = () => ({ kernelInitializer: init(), recurrentInitializer: init(), biasInitializer: init() });
/** BatchNormalization with nonzero statistics and affine terms */
export const bnInit = () => ({
  gammaInitializer: init(0.5, 1.5),
  betaInitializer: init(),
  movingMeanInitializer: init(),
  movingVarianceInitializer: init(0.5, 2),
});

export async function useWasm(): Promise<void> {
  const rt = await loadTfjs('wasm');
  expect(rt.backend).toBe('wasm');
}

/** Converts, runs both runtimes, and asserts they agree to 1e-4 on inputs that change the output. */
export async function expectConversionMatches(
  model: tf.LayersModel,
  options: TfjsToOnnxOptions = {},
  limit = 1e-4,
): Promise<{ conversion: TfjsConversion; check: NumericalCheck }> {
  const conversion = convertTfjsLayers(model, options);
  const check = await checkConversion(tf, model, conversion, { samples: 3 });
  expect(check.input_sensitive, 'the reference output does not depend on the input').toBe(true);
  expect(check.max_abs_diff).toBeLessThan(limit);
  return { conversion, check };
}

export const opTypes = (c: TfjsConversion): string[] => (c.model.graph!.node ?? []).map((n) => n.opType!);
