/**
 * The 'ort_optimize' pass: onnxruntime's own graph optimizer, run offline (session option
 * optimizedModelFilePath) so that the saved model carries the rewrites and loads without redoing them.
 *
 * Only the portable levels are offered. 'basic' does ONNX-standard rewrites (constant folding, redundant
 * node elimination, Conv+BatchNorm/Add/Mul fusion); 'extended' adds fusions into com.microsoft contrib ops
 * (GELU, LayerNorm, attention, …) that any onnxruntime build runs. ORT's 'all' level adds layout
 * transforms (NCHWc) for the CPU it runs on, which ORT itself documents as not portable, so it is
 * refused here: a saved model must run on the machine it is deployed to, not only on the runner.
 */
import { encodeModel, type Model } from '../model/onnx.js';
import { checkModel } from '../model/graph.js';
import { OrtSession } from '../runtime/session.js';
import { sessionGraph } from '../runtime/kernels.js';
import type { Pass, PassContext } from './pass.js';

export interface OrtOptimizeOptions {
  level?: 'basic' | 'extended';
}

export const ortOptimizeSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    level: { enum: ['basic', 'extended'] },
  },
} as const;

export async function optimizeWithOrt(input: Model, options: OrtOptimizeOptions, ctx: PassContext): Promise<Model> {
  const level = options.level ?? 'basic';
  const model = await sessionGraph(encodeModel(input), { graphOptimizationLevel: level }, `ort_optimize (${level})`, ctx.scratchDir);
  checkModel(model, 'ort_optimize output');
  // Loading the output with optimizations off proves it stands on its own.
  await (await OrtSession.create(encodeModel(model), { graphOptimizationLevel: 'disabled' }, `ort_optimize (${level}) output`)).release();
  ctx.log(`ort_optimize (${level}): ${input.graph?.node?.length ?? 0} → ${model.graph?.node?.length ?? 0} nodes`);
  return model;
}

export const ortOptimizePass: Pass<OrtOptimizeOptions> = {
  name: 'ort_optimize',
  schema: ortOptimizeSchema,
  run: optimizeWithOrt,
};
