/** The TFLite producer: a recipe whose last step is `tflite`, exported to .tflite and run by TFLite. */
import path from 'node:path';
import { runRecipe } from '../passes/registry.js';
import type { BuildContext, CandidateProducer } from './producer.js';
import type { Candidate } from './types.js';
import type { AutoReport } from './search-report.js';
import type { PassSpec } from '../config/types.js';
import { isRecipeRequest } from './recipe.js';
import { buildTfliteCandidate, hasTfliteStep, splitTfliteStep } from './tflite-export.js';

/** Runs the passes before the recipe's `tflite` step, exports, verifies: the candidate runs in TFLite. */
export async function buildTfliteRecipeCandidate(id: string, recipe: ReadonlyArray<unknown>, auto: { search: AutoReport } | null, ctx: BuildContext): Promise<Candidate> {
  const { passes, tflite } = splitTfliteStep(recipe, `optimize '${id}'`);
  const result = await runRecipe(ctx.source.model, passes as PassSpec[], ctx.passContext);
  const file = path.join(ctx.modelsDir, `${id}.tflite`);
  const t = await buildTfliteCandidate(result.model, result.runtime ?? {}, tflite!, {
    inputs: ctx.inputs, batch: ctx.config.benchmark.batch, dataset: ctx.dataset, ctx: ctx.passContext, file, threads: ctx.config.benchmark.threads,
  });
  return {
    id, file, bytes: t.bytes, runtimeKind: 'tflite', runtimeOptions: t.runtime, batch: { kind: 'fixed', batch: t.info.batch },
    provenance: auto ? { kind: 'auto', recipe: recipe as PassSpec[], search: auto.search, export: t.info } : { kind: 'tflite', recipe: [...recipe], export: t.info },
    tfliteRuntime: t.info.runtime,
    ...(result.notes.length > 0 ? { passNotes: result.notes } : {}),
  };
}

export const tfliteProducer: CandidateProducer = {
  kind: 'tflite',
  accepts: (r) => isRecipeRequest(r) && hasTfliteStep(r.spec.passes),
  id: (r) => (isRecipeRequest(r) ? r.spec.name : ''),
  async build(r, ctx) {
    if (!isRecipeRequest(r)) throw new Error('tfliteProducer: not a recipe request');
    return buildTfliteRecipeCandidate(r.spec.name, r.spec.passes, null, ctx);
  },
};
