/** The recipe producer: an `optimize` entry's passes run on the source model, saved as ONNX. */
import path from 'node:path';
import type { CandidateSpec, PassSpec } from '../config/types.js';
import { saveModel } from '../model/onnx.js';
import { runRecipe } from '../passes/registry.js';
import type { BuildContext, CandidateProducer } from './producer.js';
import { batchPolicyOf } from './reference.js';
import { hasTfliteStep } from './tflite-export.js';
import type { Candidate, CandidateRequest, Provenance } from './types.js';

export function isRecipeRequest(r: CandidateRequest): r is { kind: 'optimize'; index: number; spec: CandidateSpec } {
  return r.kind === 'optimize' && !('auto' in r.spec);
}

/** Runs `passes` on the source model and saves the result as `<id>.onnx`. */
export async function buildRecipeCandidate(id: string, passes: PassSpec[], provenance: Provenance, ctx: BuildContext): Promise<Candidate> {
  const result = await runRecipe(ctx.source.model, passes, ctx.passContext);
  const file = path.join(ctx.modelsDir, `${id}.onnx`);
  const bytes = saveModel(result.model, file);
  return {
    id, file, bytes, runtimeKind: 'onnxruntime', runtimeOptions: result.runtime, batch: batchPolicyOf(ctx.inputs, ctx.config.benchmark.batch), provenance,
    ...(result.notes.length > 0 ? { passNotes: result.notes } : {}),
    ...(result.details.some((d) => d.recovery) ? { recovery: result.details.flatMap((d) => (d.recovery ? [d.recovery] : [])) } : {}),
    ...(result.details.some((d) => d.finetune) ? { finetune: result.details.flatMap((d) => (d.finetune ? [d.finetune] : [])) } : {}),
  };
}

export const recipeProducer: CandidateProducer = {
  kind: 'recipe',
  accepts: (r) => isRecipeRequest(r) && !hasTfliteStep(r.spec.passes),
  id: (r) => (isRecipeRequest(r) ? r.spec.name : ''),
  async build(r, ctx) {
    if (!isRecipeRequest(r)) throw new Error('recipeProducer: not a recipe request');
    return buildRecipeCandidate(r.spec.name, r.spec.passes, { kind: 'recipe', recipe: r.spec.passes }, ctx);
  },
};
