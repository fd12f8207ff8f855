/**
 * One pass through the stages for one checkout: load → build candidates → evaluate all → measure
 * interleaved against the reference → gate. `run` reports it; `compare` runs it for base and head and
 * hands both typed results to the comparison step.
 */
import { readFileSync } from 'node:fs';
import type { LoadedConfig } from '../config/types.js';
import { loadProject, type Project } from '../load/project.js';
import { buildCandidates, candidateRequests, checkRequests } from '../candidates/build.js';
import type { CandidateProducer } from '../candidates/producer.js';
import { recipeProducer } from '../candidates/recipe.js';
import { tfliteProducer } from '../candidates/tflite.js';
import { tfjsExportProducer } from '../candidates/tfjs-export.js';
import { REFERENCE_ID } from '../candidates/types.js';
import { evaluateAll } from '../evaluate/evaluate-all.js';
import { outputFacts } from '../evaluate/fidelity.js';
import { centralStats, comparePair, measureRuns } from '../benchmark/measure.js';
import { autoProducer } from '../search/producer.js';
import { gateCandidates, type CandidateResult, type GateOutcome } from '../gate/result.js';
import { decoderThresholds, latencyThreshold } from '../gate/rules.js';
import { isDecoderModel, decoderSignature, type DecoderSignature } from '../model/decoder.js';
import { centralDecoderLatency, compareDecoderPair, decoderMeasureSettings, measureDecoderRuns } from '../benchmark/decoder.js';
import { BOOTSTRAP_SEED } from '../benchmark/measure.js';
import { benchmarkBatch } from '../candidates/reference.js';
import type { ExportResult } from '../import/export-command.js';
import { configRecipeErrors } from '../passes/registry.js';

/** Every kind of candidate, looked up by the request it accepts (the auto search first: it takes `{ auto }` entries). */
export const PRODUCERS: readonly CandidateProducer[] = [autoProducer, tfliteProducer, recipeProducer, tfjsExportProducer];

export interface PipelineResult {
  project: Project;
  results: CandidateResult[];
  gate: GateOutcome;
  outDir: string;
  /** Set when the reference is a decoder (judged on generation: seeded prompts, prefill and decode latency). */
  decoder?: DecoderSignature;
}

/** k of n done in a long step (evaluation, benchmark, building candidates, training); the CLI draws a bar with an ETA and the detail (an epoch and its loss). */
export type ProgressCallback = (step: string, k: number, n: number, detail?: string) => void;

export interface PipelineHooks {
  log: (message: string) => void;
  progress?: ProgressCallback;
  onConfig?: (loaded: LoadedConfig) => void;
  onExport?: (exported: ExportResult) => void;
}

export async function runPipeline(configPath: string, outDir: string, hooks: PipelineHooks): Promise<PipelineResult> {
  const { log } = hooks;
  const project = await loadProject(configPath, { ...hooks, configChecks: configRecipeErrors, validate: (loaded) => checkRequests(loaded, PRODUCERS) });
  const { config } = project;
  const built = await buildCandidates(project, candidateRequests(config), PRODUCERS, outDir, log, hooks.progress);
  const results: CandidateResult[] = built.map((b) => ({ candidate: b.candidate, ...(b.error ? { error: b.error } : {}) }));

  const reference = results[0]!;
  const referenceBytes = readFileSync(reference.candidate.file);
  for (const r of results.slice(1)) {
    if (r.error || !r.candidate.file || r.candidate.runtimeKind !== reference.candidate.runtimeKind || Object.keys(r.candidate.runtimeOptions).length > 0) continue;
    if (r.candidate.bytes === referenceBytes.length && readFileSync(r.candidate.file).equals(referenceBytes)) r.sameAsReference = true;
  }

  const live = () => results.filter((r) => !r.error && !r.sameAsReference);
  // A decoder is judged on generation: seeded prompts through its KV cache, not dataset rows.
  const decoder = reference.candidate.runtimeKind === 'onnxruntime' && isDecoderModel(project.source.model)
    ? decoderSignature(project.source.model, project.source.file) : undefined;
  const evaluations = await evaluateAll(live().map((r) => r.candidate), project.dataset, {
    metric: config.metric, threads: config.benchmark.threads, log, ...(config.metric_options ? { metricOptions: config.metric_options } : {}),
    ...(hooks.progress ? { progress: hooks.progress } : {}), ...(decoder ? { decoder: { signature: decoder } } : {}),
    // From the ONNX IR: a .tflite reference has no ONNX graph of its own to read them from.
    outputs: outputFacts(project.source.model),
  });
  for (const r of live()) {
    const e = evaluations.get(r.candidate.id);
    if (e?.error) r.error = e.error;
    if (e?.quality) r.quality = e.quality;
    if (e?.fidelity) r.fidelity = e.fidelity;
    if (e?.fidelityError) r.fidelityError = e.fidelityError;
    if (e?.decoderQuality) r.decoderQuality = e.decoderQuality;
  }

  const measured = live();
  if (decoder) {
    await measureDecoders(measured, config, log);
    return { project, results, gate: gateCandidates(results, config, { decoder: true, syntheticInputs: project.dataset.synthetic }), outDir, decoder };
  }
  const threshold = latencyThreshold(config.gate);
  const runs = await measureRuns(
    measured.map((r) => ({ id: r.candidate.id, file: r.candidate.file, runtimeKind: r.candidate.runtimeKind, runtimeOptions: r.candidate.runtimeOptions })),
    project.dataset.feedsForBatch(benchmarkBatch(reference.candidate.batch, config.benchmark.batch)),
    { batch: config.benchmark.batch, threads: config.benchmark.threads, warmup: config.benchmark.warmup, minSamples: config.benchmark.runs, measurements: config.benchmark.measurements, controls: [REFERENCE_ID], log, ...(hooks.progress ? { progress: hooks.progress } : {}) },
  );
  for (const r of measured) {
    if (r === reference) {
      r.latency = centralStats(runs, REFERENCE_ID);
      continue;
    }
    const pair = comparePair(runs, REFERENCE_ID, r.candidate.id, threshold);
    if (pair) {
      r.latency = pair.candidate;
      r.vsReference = pair.comparison;
    }
  }
  return { project, results, gate: gateCandidates(results, config, { syntheticInputs: project.dataset.synthetic }), outDir };
}

/**
 * The measure stage for decoders: time to first token and per-token decode time, every candidate
 * interleaved with the reference, `benchmark.measurements` times. The report's latency is the prefill's.
 */
async function measureDecoders(measured: CandidateResult[], config: Project['config'], log: (m: string) => void): Promise<void> {
  const threads = config.benchmark.threads;
  const runs = await measureDecoderRuns(
    measured.map((r) => ({ id: r.candidate.id, path: r.candidate.file, runtime: { ...r.candidate.runtimeOptions, intraOpThreads: threads } })),
    { ...decoderMeasureSettings(config.benchmark), measurements: config.benchmark.measurements, controls: [REFERENCE_ID], log },
  );
  const thresholds = decoderThresholds(config.gate);
  for (const r of measured) {
    if (r.candidate.id === REFERENCE_ID) {
      const own = centralDecoderLatency(runs, REFERENCE_ID);
      if (own) [r.decoder, r.latency] = [{ latency: own }, own.prefill];
      continue;
    }
    const pair = compareDecoderPair(runs, REFERENCE_ID, r.candidate.id, thresholds, BOOTSTRAP_SEED);
    if (!pair) continue;
    r.decoder = { latency: pair.latency, vsReference: { ttft: pair.ttft, decode: pair.decode } };
    r.latency = pair.latency.prefill;
    r.vsReference = pair.ttft;
  }
}
