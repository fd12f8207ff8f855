/**
 * The build stage: the reference first, then one candidate per request from the producer that accepts
 * it. A candidate that fails to build stays in the list with its error; only a broken reference stops the run.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Config, LoadedConfig, PassSpec } from '../config/types.js';
import { validateRecipe } from '../passes/registry.js';
import { splitTfliteStep } from './tflite-export.js';
import { calibrationFeeds } from '../data/dataset.js';
import { ModelGateError, errorMessage } from '../errors.js';
import type { Project } from '../load/project.js';
import type { BuildContext, CandidateProducer } from './producer.js';
import type { TrainingSamples } from '../passes/pass.js';
import type { Feeds } from '../model/host-tensor.js';
import { buildReference } from './reference.js';
import { REFERENCE_ID, type Candidate, type CandidateRequest, type Provenance } from './types.js';

export interface Built {
  candidate: Candidate;
  /** Set when the candidate could not be built. */
  error?: string;
}

/** Every request a config makes, in the order the report lists them. */
export function candidateRequests(config: Config): CandidateRequest[] {
  const requests: CandidateRequest[] = config.optimize.map((spec, index) => ({ kind: 'optimize', index, spec }));
  for (const quantize of config.tfjs_export?.quantize ?? []) requests.push({ kind: 'tfjs_export', quantize, runs: config.tfjs_export!.runs });
  return requests;
}

/**
 * Candidate names and every pass option, checked before any work with the config position, so a typo in
 * the last entry fails before the first one runs.
 */
export function checkRequests(loaded: LoadedConfig, producers: readonly CandidateProducer[]): void {
  const where = (keyPath: Array<string | number>) => {
    const pos = loaded.locate(keyPath);
    return pos ? ` (${path.basename(loaded.file)}:${pos.line}:${pos.col})` : '';
  };
  const seen = new Set<string>([REFERENCE_ID]);
  candidateRequests(loaded.config).forEach((request) => {
    const id = producerFor(request, producers).id(request);
    if (request.kind !== 'optimize') {
      if (seen.has(id)) throw new ModelGateError(`tfjs_export.quantize: '${request.quantize}' makes the candidate '${id}', a name an optimize entry already takes; rename that entry`);
      seen.add(id);
      return;
    }
    const i = request.index;
    if ('passes' in request.spec) {
      const { passes } = splitTfliteStep(request.spec.passes, `${loaded.file}: optimize[${i}].passes`);
      passes.forEach((step, j) => {
        try {
          validateRecipe([step], `optimize[${i}].passes`);
        } catch (err) {
          throw new ModelGateError(`${loaded.file}: ${errorMessage(err).replace(`optimize[${i}].passes[0]`, `optimize[${i}].passes[${j}]`)}${where(['optimize', i, 'passes', j])}`);
        }
      });
    }
    if (seen.has(id)) throw new ModelGateError(`optimize[${i}].name: '${id}' is ${id === REFERENCE_ID ? 'reserved for the unoptimized model' : 'used twice'}${where(['optimize', i, 'name'])}`);
    seen.add(id);
  });
}

export function producerFor(request: CandidateRequest, producers: readonly CandidateProducer[]): CandidateProducer {
  const producer = producers.find((p) => p.accepts(request));
  if (!producer) throw new ModelGateError(`no candidate producer accepts ${JSON.stringify(request)}`);
  return producer;
}

function failed(id: string, request: CandidateRequest, error: string): Built {
  const recipe = request.kind === 'optimize' && 'passes' in request.spec ? request.spec.passes : request.kind === 'tfjs_export' ? [{ tfjs_export: { quantize: request.quantize } }] : [];
  const provenance: Provenance = { kind: 'recipe', recipe: recipe as PassSpec[] };
  return { candidate: { id, file: '', bytes: 0, runtimeKind: 'onnxruntime', runtimeOptions: {}, batch: { kind: 'dynamic' }, provenance }, error };
}

const REGRESSION_METRICS = new Set(['mse', 'mae']);

/** The first `samples` calibration samples with their label rows (prune/lowrank `finetune`). */
export function trainingSamples(project: Pick<Project, 'calibration' | 'config'>, samples: number): TrainingSamples {
  const data = project.calibration;
  const feeds: Feeds[] = [];
  const rows: Float64Array[] = [];
  let labelWidth = 0;
  for (const batch of data.batches(1)) {
    if (feeds.length >= samples) break;
    feeds.push(batch.feeds);
    if (batch.labels) {
      rows.push(batch.labels);
      labelWidth = batch.labelWidth;
    }
  }
  const labelled = data.hasLabels && rows.length === feeds.length && feeds.length > 0;
  const labels = labelled ? new Float64Array(rows.length * labelWidth) : null;
  if (labels) rows.forEach((r, i) => labels.set(r.subarray(0, labelWidth), i * labelWidth));
  const output = project.config.metric_options?.output;
  return {
    feeds, labels, labelWidth: labelled ? labelWidth : 0, task: REGRESSION_METRICS.has(project.config.metric) ? 'regression' : 'classification',
    ...(output ? { output } : {}), ...(data.overlapsEvaluation ? { overlapsEvaluation: true } : {}),
  };
}

export async function buildCandidates(
  project: Project, requests: readonly CandidateRequest[], producers: readonly CandidateProducer[], outDir: string, log: (m: string) => void,
  progress?: (step: string, k: number, n: number, detail?: string) => void,
): Promise<Built[]> {
  const modelsDir = path.join(outDir, 'models');
  rmSync(modelsDir, { recursive: true, force: true });
  mkdirSync(modelsDir, { recursive: true });
  // Trial files of the search stay inside the out dir: nothing outside the working directory is touched.
  const scratchDir = mkdtempSync(path.join(outDir, '.scratch-'));
  const ctx: BuildContext = {
    config: project.config, source: project.source, inputs: project.inputs, dataset: project.dataset, calibration: project.calibration, modelsDir, outDir, scratchDir, log,
    passContext: {
      log, scratchDir, calibration: async (samples: number) => calibrationFeeds(project.calibration, samples),
      trainingSamples: async (samples: number) => trainingSamples(project, samples),
      sourceFormat: project.source.imported?.source.format ?? (project.source.referenceKind === 'tflite' ? 'tflite' : 'onnx'),
      ...(progress ? { progress } : {}),
    },
  };
  try {
    const built: Built[] = [{ candidate: await buildReference(ctx) }];
    for (const [k, request] of requests.entries()) {
      progress?.('build', k, requests.length);
      const producer = producerFor(request, producers);
      const id = producer.id(request);
      log(`build ${id} (${producer.kind})`);
      try {
        built.push({ candidate: await producer.build(request, ctx) });
      } catch (err) {
        built.push(failed(id, request, `${id}: ${errorMessage(err)}`));
      }
    }
    if (requests.length > 0) progress?.('build', requests.length, requests.length);
    return built;
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }
}
