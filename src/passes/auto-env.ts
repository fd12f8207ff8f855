/**
 * The real environment of the `auto` search: recipes run by the pass registry, quality by the dataset
 * evaluation, latency by interleaved worker processes against the reference. run.ts calls
 * resolveAutoSpecs to turn each `{ auto: {...} }` entry into an ordinary candidate (its winning recipe)
 * before the candidates are built and measured together.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AutoCandidateSpec, CandidateSpec, Config, OptimizeSpec, PassSpec } from '../config/types.js';
import { encodeModel, type Model } from '../model/onnx.js';
import type { Feeds } from '../model/host-tensor.js';
import type { IoSpec } from '../model/io.js';
import { calibrationFeeds, type Dataset } from '../data/dataset.js';
import { OrtSession, type RuntimeOptions } from '../runtime/session.js';
import { evaluate, type EvalResult } from '../evaluate/metrics.js';
import { compareLatency, measureInterleaved } from '../benchmark/runner.js';
import { hardwareFingerprint, type IsaFlags } from '../benchmark/hardware.js';
import { runRecipe } from './registry.js';
import type { PassContext } from './pass.js';
import { inferTensorTypes } from './infer-types.js';
import {
  DEFAULT_ACCURACY_DROP_MAX, analyzeModel, defaultTimeBudgetS, runAuto, type AutoArtifact, type AutoEnv, type AutoOptions, type AutoQuality,
  type AutoReport, type AutoResult,
} from './auto.js';

export const AUTO_DEFAULT_NAME = 'auto';
const EVAL_BATCH = 100;
const BOOTSTRAP_SEED = 20261127;
/** The search measures many models: fewer timed samples each than the final report's measurement. */
const SEARCH_MIN_SAMPLES = 50;

export function isAutoSpec(spec: OptimizeSpec): spec is AutoCandidateSpec {
  return 'auto' in spec;
}

export function candidateName(spec: OptimizeSpec): string {
  return spec.name ?? AUTO_DEFAULT_NAME;
}

/** The first `n` samples of a dataset (the evaluation keeps one prediction per sample, in order). */
export function firstSamples(dataset: Dataset, n: number): Dataset {
  if (n >= dataset.count) return dataset;
  return {
    ...dataset,
    count: n,
    *batches(size: number, pad = false) {
      let seen = 0;
      for (const b of dataset.batches(size, pad)) {
        if (seen >= n) return;
        const take = Math.min(b.count, n - seen);
        // Extra rows in the feeds are run and ignored: evaluate reads `count` rows.
        yield take === b.count ? b : { ...b, count: take, labels: b.labels ? b.labels.subarray(0, take * b.labelWidth) : null };
        seen += take;
      }
    },
  };
}

export interface AutoSearchContext {
  model: Model;
  dataset: Dataset;
  inputs: IoSpec[];
  metric: Config['metric'];
  benchmark: Config['benchmark'];
  /** Where trial models go while the search runs (removed afterwards). Default: a temp dir. */
  workDir?: string;
  isa?: Partial<IsaFlags>;
  log: (message: string) => void;
}

function digestOf(bytes: Uint8Array, runtime: RuntimeOptions): string {
  return createHash('sha256').update(bytes).update(JSON.stringify(runtime)).digest('hex');
}

const quality = (r: EvalResult): AutoQuality => ({ accuracy: r.accuracy, agreement: r.agreement, mse: r.mse });

/** Runs one auto search against the real runtime. `options` are resolved here (defaults from the gate and model size). */
export async function searchAuto(name: string, options: AutoOptions, gateDropMax: number | undefined, ctx: AutoSearchContext): Promise<AutoResult> {
  const workDir = ctx.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'modelgate-auto-'));
  const ownDir = ctx.workDir === undefined;
  try {
    return await search(name, options, gateDropMax, ctx, workDir);
  } finally {
    if (ownDir) rmSync(workDir, { recursive: true, force: true });
  }
}

async function search(name: string, options: AutoOptions, gateDropMax: number | undefined, ctx: AutoSearchContext, workDir: string): Promise<AutoResult> {
  const { model, dataset, inputs, log } = ctx;
  const threads = ctx.benchmark.threads;
  const fixedBatch = inputs.some((i) => !i.dynamicBatch);
  const evalBatch = fixedBatch ? inputs[0]!.shape[0] ?? 1 : EVAL_BATCH;
  const feedBatch = fixedBatch ? inputs.find((i) => !i.dynamicBatch)!.shape[0] ?? 1 : ctx.benchmark.batch;
  const feeds: Feeds = dataset.feedsForBatch(feedBatch);
  const passContext: PassContext = {
    log: () => {},
    scratchDir: workDir,
    async calibration(samples: number) {
      return calibrationFeeds(dataset, samples);
    },
  };

  const refBytes = encodeModel(model);
  const refFile = path.join(workDir, 'reference.onnx');
  writeFileSync(refFile, refBytes);
  const evaluateFile = async (file: string, runtime: RuntimeOptions, label: string, reference?: Int32Array, samples?: number): Promise<EvalResult> => {
    const session = await OrtSession.create(file, { ...runtime, intraOpThreads: threads }, label);
    try {
      const data = samples === undefined ? dataset : firstSamples(dataset, samples);
      return await evaluate(session, data, { metric: ctx.metric, batchSize: evalBatch, pad: fixedBatch, reference });
    } finally {
      await session.release();
    }
  };
  const ref = await evaluateFile(refFile, {}, `${name}: reference`);

  // Cleanup runs once: every recipe starts with it, and the analysis must see the node names the quantizers will see.
  let cleaned = model;
  let cleanup = true;
  try {
    cleaned = (await runRecipe(model, [{ cleanup: {} }], passContext)).model;
  } catch (err) {
    cleanup = false;
    log(`auto: cleanup failed, recipes run without it (${err instanceof Error ? err.message : String(err)})`);
  }
  const cleanedBytes = encodeModel(cleaned);
  let shapes: Awaited<ReturnType<typeof inferTensorTypes>> | undefined;
  try {
    shapes = await inferTensorTypes(cleaned);
  } catch {
    shapes = undefined; // the op mix then falls back to weight sizes
  }
  const analysis = analyzeModel(cleaned, shapes, cleanup && digestOf(cleanedBytes, {}) !== digestOf(refBytes, {}));

  const files = new Map<string, string>();
  let fileCount = 0;
  const env: AutoEnv = {
    async build(id: string, recipe: PassSpec[]): Promise<AutoArtifact> {
      const fromCleaned = cleanup && recipe.length > 0 && Object.keys(recipe[0]!)[0] === 'cleanup';
      const rest = fromCleaned ? recipe.slice(1) : recipe;
      const result = rest.length > 0 ? await runRecipe(fromCleaned ? cleaned : model, rest, passContext) : { model: fromCleaned ? cleaned : model, runtime: {} };
      const bytes = encodeModel(result.model);
      const file = path.join(workDir, `trial-${++fileCount}.onnx`);
      writeFileSync(file, bytes);
      files.set(id, file);
      return { id, bytes: bytes.length, runtime: result.runtime, digest: digestOf(bytes, result.runtime) };
    },
    async evaluate(artifact: AutoArtifact, samples?: number): Promise<AutoQuality> {
      return quality(await evaluateFile(files.get(artifact.id)!, artifact.runtime, `${name}: ${artifact.id}`, ref.predictions, samples));
    },
    async measure(artifacts: AutoArtifact[], timeBudgetMs: number) {
      const stats = await measureInterleaved(
        [
          { id: 'reference', path: refFile, runtime: { intraOpThreads: threads } },
          ...artifacts.map((a, i) => ({ id: `trial-${i}`, path: files.get(a.id)!, runtime: { ...a.runtime, intraOpThreads: threads } })),
        ],
        feeds,
        { batch: ctx.benchmark.batch, warmupMin: ctx.benchmark.warmup, minSamples: Math.min(ctx.benchmark.runs, SEARCH_MIN_SAMPLES), timeBudgetMs },
      );
      const r = stats.get('reference')!;
      return artifacts.map((_, i) => {
        const s = stats.get(`trial-${i}`)!;
        const c = compareLatency(r, s, 1, BOOTSTRAP_SEED);
        return { ratio: c.ratio, ci95: c.ci95, p50_ms: s.p50_ms, reference_p50_ms: r.p50_ms };
      });
    },
    reference: { bytes: refBytes.length, digest: digestOf(refBytes, {}), quality: quality(ref) },
    metric: ctx.metric,
    isa: ctx.isa ?? hardwareFingerprint().isa,
    now: () => performance.now(),
    log,
  };
  return runAuto({
    analysis,
    cleanup,
    env,
    options: {
      accuracy_drop_max: options.accuracy_drop_max ?? gateDropMax ?? DEFAULT_ACCURACY_DROP_MAX,
      time_budget_s: options.time_budget_s ?? defaultTimeBudgetS(refBytes.length),
      latency_ratio_max: options.latency_ratio_max ?? 1,
      recipes: options.recipes,
    },
  });
}

/**
 * Replaces every `{ auto: {...} }` entry by `{ name, passes: <winning recipe> }`, searching each on the
 * runner; the reports go into `reports` by candidate name. Other entries pass through unchanged.
 */
export async function resolveAutoSpecs(
  specs: OptimizeSpec[], config: Config, ctx: Omit<AutoSearchContext, 'metric' | 'benchmark'>, reports: Map<string, AutoReport>,
): Promise<CandidateSpec[]> {
  const out: CandidateSpec[] = [];
  for (const spec of specs) {
    if (!isAutoSpec(spec)) {
      out.push(spec);
      continue;
    }
    const name = candidateName(spec);
    ctx.log(`auto ${name}: searching`);
    try {
      const result = await searchAuto(name, spec.auto ?? {}, config.gate.accuracy_drop_max, { ...ctx, metric: config.metric, benchmark: config.benchmark });
      reports.set(name, result.report);
      out.push({ name, passes: result.recipe });
    } catch (err) {
      // A failed search must not take the other candidates down; the reference is the safe answer.
      const message = err instanceof Error ? err.message : String(err);
      ctx.log(`auto ${name}: search failed: ${message}`);
      reports.set(name, failedReport(spec.auto ?? {}, message));
      out.push({ name, passes: [] });
    }
  }
  return out;
}

function failedReport(options: AutoOptions, message: string): AutoReport {
  return {
    winner: 'reference', recipe: [], reason: `The search failed (${message}); the reference model is kept.`,
    accuracy_drop_max: options.accuracy_drop_max ?? DEFAULT_ACCURACY_DROP_MAX, quality_basis: 'accuracy', latency_ratio_max: options.latency_ratio_max ?? 1,
    time_budget_s: options.time_budget_s ?? 0, elapsed_s: 0, budget_exhausted: false, isa: [],
    model: { mix: { conv: 0, matmul: 0, recurrent: 0, attention: 0 }, quantizable_nodes: 0, recurrent: false, attention: false },
    tried: [], skipped: [], pareto: [], sensitivity: [],
  };
}
