/**
 * The 'quantize' pass: int8 quantization, dynamic (weights only, activations at run time) or static
 * (QDQ with calibrated activation ranges). See quantize-dynamic.ts and quantize-static.ts.
 */
import type { Pass } from './pass.js';
import { quantizeSchema, type QuantizeOptions } from './quant-common.js';
import { quantizeDynamic } from './quantize-dynamic.js';
import { quantizeStatic } from './quantize-static.js';

export const quantizePass: Pass<QuantizeOptions> = {
  name: 'quantize',
  schema: quantizeSchema,
  run: (model, options, ctx) => (options.mode === 'dynamic' ? quantizeDynamic(model, options, ctx) : quantizeStatic(model, options, ctx)),
};
