/** The auto producer: an `{ auto: {...} }` entry searched on the runner, built as the winning recipe. */
import type { AutoCandidateSpec } from '../config/types.js';
import type { CandidateProducer } from '../candidates/producer.js';
import type { CandidateRequest } from '../candidates/types.js';
import { buildRecipeCandidate } from '../candidates/recipe.js';
import { buildTfliteRecipeCandidate } from '../candidates/tflite.js';
import { hasTfliteStep } from '../candidates/tflite-export.js';
import { errorMessage } from '../errors.js';
import { candidateName, failedReport, isAutoSpec, searchAuto } from './env.js';
import type { AutoReport } from './auto.js';
import type { PassSpec } from '../config/types.js';

function autoSpec(r: CandidateRequest): AutoCandidateSpec | undefined {
  return r.kind === 'optimize' && isAutoSpec(r.spec) ? r.spec : undefined;
}

export const autoProducer: CandidateProducer = {
  kind: 'auto',
  accepts: (r) => autoSpec(r) !== undefined,
  id: (r) => candidateName(autoSpec(r)!),
  async build(r, ctx) {
    const spec = autoSpec(r)!;
    const name = candidateName(spec);
    ctx.log(`auto ${name}: searching`);
    let recipe: PassSpec[];
    let search: AutoReport;
    try {
      const result = await searchAuto(name, spec.auto ?? {}, ctx.config.gate.accuracy_drop_max, {
        model: ctx.source.model, dataset: ctx.dataset, calibration: ctx.calibration, inputs: ctx.inputs, metricOptions: ctx.config.metric_options, log: ctx.log, workDir: ctx.scratchDir, metric: ctx.config.metric, benchmark: ctx.config.benchmark,
        ...(ctx.config.gate.fidelity_min_snr_db !== undefined ? { fidelityMinSnrDb: ctx.config.gate.fidelity_min_snr_db } : {}),
        ...(ctx.source.referenceKind === 'tflite' && ctx.source.tfliteBytes ? { referenceTflite: ctx.source.tfliteBytes } : {}),
      });
      recipe = result.recipe;
      search = result.report;
    } catch (err) {
      // A failed search must not take the other candidates down: the reference is the safe answer, and the report says why.
      ctx.log(`auto ${name}: search failed: ${errorMessage(err)}`);
      recipe = [];
      search = failedReport(spec.auto ?? {}, errorMessage(err));
    }
    // A tflite_* winner is a .tflite, exported and verified as a `tflite` recipe step would be.
    if (hasTfliteStep(recipe)) return buildTfliteRecipeCandidate(name, recipe, { search }, ctx);
    return buildRecipeCandidate(name, recipe, { kind: 'auto', recipe, search }, ctx);
  },
};
