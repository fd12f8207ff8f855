/** The TFLite producer: a recipe whose last step is `tflite`, exported to .tflite and run by TFLite. */
import path from 'node:path';
import { runRecipe } from '../passes/registry.js';
import type { CandidateProducer } from './producer.js';
import { isRecipeRequest } from './recipe.js';
import { buildTfliteCandidate, hasTfliteStep, splitTfliteStep } from './tflite-export.js';

export const tfliteProducer: CandidateProducer = {
  kind: 'tflite',
  accepts: (r) => isRecipeRequest(r) && hasTfliteStep(r.spec.passes),
  id: (r) => (isRecipeRequest(r) ? r.spec.name : ''),
  async build(r, ctx) {
    if (!isRecipeRequest(r)) throw new Error('tfliteProducer: not a recipe request');
    const { passes, tflite } = splitTfliteStep(r.spec.passes, `optimize '${r.spec.name}'`);
    const result = await runRecipe(ctx.source.model, passes, ctx.passContext);
    const file = path.join(ctx.modelsDir, `${r.spec.name}.tflite`);
    const t = await buildTfliteCandidate(result.model, result.runtime ?? {}, tflite!, {
      inputs: ctx.inputs, batch: ctx.config.benchmark.batch, dataset: ctx.dataset, ctx: ctx.passContext, file, threads: ctx.config.benchmark.threads,
    });
    return {
      id: r.spec.name, file, bytes: t.bytes, runtimeKind: 'tflite', runtimeOptions: t.runtime, batch: { kind: 'fixed', batch: t.info.batch },
      provenance: { kind: 'tflite', recipe: r.spec.passes, export: t.info }, tfliteRuntime: t.info.runtime,
      ...(result.notes.length > 0 ? { passNotes: result.notes } : {}),
    };
  },
};
