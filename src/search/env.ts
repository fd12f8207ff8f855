/**
 * The real environment of the `auto` search: recipes run by the pass registry, quality by the evaluate
 * stage, latency by the measure stage against the reference. The auto producer (./producer.ts) turns an
 * `{ auto: {...} }` entry into a candidate with the winning recipe.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config, OptimizeSpec, PassSpec, AutoCandidateSpec, MetricOptions } from '../config/types.js';
import { encodeModel, loadModel, type Model } from '../model/onnx.js';
import type { IoSpec } from '../model/io.js';
import { calibrationFeeds, type Dataset } from '../data/dataset.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { EvalResult } from '../evaluate/metrics.js';
import { evaluateCandidate } from '../evaluate/evaluate-all.js';
import { FIDELITY_SAMPLES, ReferenceOutputs, measureFidelity, outputFacts, probeTop1Fits } from '../evaluate/fidelity.js';
import { BOOTSTRAP_SEED, comparePair, measureRuns } from '../benchmark/measure.js';
import { compareDecoderLatency, measureDecoderLatency } from '../benchmark/decoder.js';
import { decoderQuality } from '../evaluate/decoder-quality.js';
import { decoderSignature, isDecoderModel, type DecoderSignature } from '../model/decoder.js';
import { kernelSignature } from '../runtime/kernels.js';
import { OrtSession } from '../runtime/session.js';
import { hardwareFingerprint, type IsaFlags } from '../benchmark/hardware.js';
import { runRecipe } from '../passes/registry.js';
import { exposeWeights } from '../passes/quant-common.js';
import { castOfHalf } from '../passes/half-weights.js';
import type { PassContext } from '../passes/pass.js';
import { inferTensorTypes } from '../passes/infer-types.js';
import { batchPolicyOf, benchmarkBatch } from '../candidates/reference.js';
import { splitTfliteStep } from '../candidates/tflite-export.js';
import { exportTflite } from '../export/tflite/export.js';
import { decodeTflite, encodeTflite } from '../formats/tflite/flatbuffer.js';
import { withInputShapes } from '../formats/tflite/input-shapes.js';
import type { RuntimeKind } from '../runtime/kind.js';
import {
  DEFAULT_ACCURACY_DROP_MAX, analyzeModel, defaultTimeBudgetS, qualityBasis, runAuto, type AutoArtifact, type AutoEnv, type AutoLatency, type AutoOptions, type AutoQuality,
  type AutoReport, type AutoResult,
} from './auto.js';

export const AUTO_DEFAULT_NAME = 'auto';
/** The search measures many models: fewer timed samples each than the final report's measurement. */
const SEARCH_MIN_SAMPLES = 50;

export function isAutoSpec(spec: OptimizeSpec): spec is AutoCandidateSpec {
  return 'auto' in spec;
}

export function candidateName(spec: OptimizeSpec): string {
  return spec.name ?? AUTO_DEFAULT_NAME;
}

export interface AutoSearchContext {
  model: Model;
  dataset: Dataset;
  /** What calibrating recipes learn from; the dataset when absent. */
  calibration?: Dataset;
  inputs: IoSpec[];
  metricOptions?: MetricOptions | undefined;
  metric: Config['metric'];
  benchmark: Config['benchmark'];
  /** Where trial models go while the search runs (removed afterwards). Default: a temp dir. */
  workDir?: string;
  isa?: Partial<IsaFlags>;
  /** The gate's fidelity budget: the quality budget when there are no labels and top-1 does not fit the output. */
  fidelityMinSnrDb?: number;
  /**
   * The .tflite bytes when the pipeline's reference is a .tflite (it runs in TFLite, not as its ONNX import
   * in ORT): trials are then measured against it and sized against it, as the gate will compare them.
   * Quality stays judged against the ONNX import, which the import checked against the .tflite.
   */
  referenceTflite?: Uint8Array;
  log: (message: string) => void;
}

function digestOf(bytes: Uint8Array, runtime: RuntimeOptions): string {
  return createHash('sha256').update(bytes).update(JSON.stringify(runtime)).digest('hex');
}

const quality = (r: EvalResult): AutoQuality => ({ accuracy: r.accuracy, agreement: r.agreement, mse: r.mse });

/** Runs one auto search against the real runtime. `options` are resolved here (defaults from the gate and model size). */
export async function searchAuto(name: string, options: AutoOptions, gateDropMax: number | undefined, ctx: AutoSearchContext): Promise<AutoResult> {
  // One folder per search, inside the caller's scratch folder when it gives one.
  const workDir = mkdtempSync(path.join(ctx.workDir ?? os.tmpdir(), 'modelgate-auto-'));
  try {
    return await search(name, options, gateDropMax, ctx, workDir);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function search(name: string, options: AutoOptions, gateDropMax: number | undefined, ctx: AutoSearchContext, workDir: string): Promise<AutoResult> {
  const { model, dataset, inputs, log } = ctx;
  const threads = ctx.benchmark.threads;
  const batch = batchPolicyOf(inputs, ctx.benchmark.batch);
  const feeds = dataset.feedsForBatch(benchmarkBatch(batch, ctx.benchmark.batch));
  const passContext: PassContext = {
    log: () => {},
    scratchDir: workDir,
    // Static QDQ trials of one model share their calibration ranges (each used to calibrate again: 20 s a trial on a 256x256 detector).
    memo: new Map(),
    async calibration(samples: number) {
      return calibrationFeeds(ctx.calibration ?? dataset, samples);
    },
  };

  const refBytes = encodeModel(model);
  const refFile = path.join(workDir, 'reference.onnx');
  writeFileSync(refFile, refBytes);
  // A .tflite reference runs in TFLite (often faster than its import in ORT): "not slower" means not slower than that.
  const tfliteFile = ctx.referenceTflite && !isDecoderModel(model) ? path.join(workDir, 'reference.tflite') : null;
  if (tfliteFile) {
    // As the pipeline's reference (src/candidates/reference.ts): a .tflite with open dims runs at the resolved input shapes.
    const parsed = decodeTflite(ctx.referenceTflite!, 'the reference .tflite');
    const sized = withInputShapes(parsed, Object.fromEntries(inputs.map((i) => [i.name, i.shape])), 'the reference .tflite');
    writeFileSync(tfliteFile, sized === parsed ? ctx.referenceTflite! : encodeTflite(sized));
  }
  const evaluateFile = (file: string, runtimeOptions: RuntimeOptions, label: string, reference?: Int32Array, samples?: number): Promise<EvalResult> =>
    evaluateCandidate({ id: label, file, runtimeKind: 'onnxruntime', runtimeOptions, batch }, dataset, {
      metric: ctx.metric, threads, ...(ctx.metricOptions ? { metricOptions: ctx.metricOptions } : {}), ...(reference ? { reference } : {}), ...(samples !== undefined ? { samples } : {}),
    });
  // A decoder is judged as the pipeline judges it: next-token agreement on seeded prompts, prefill and decode latency.
  const decoder = isDecoderModel(model) ? decoderSignature(model, 'the model') : null;
  const t0 = performance.now();
  const ref = decoder ? null : await evaluateFile(refFile, {}, `${name}: reference`);
  const referenceSeconds = (performance.now() - t0) / 1000;
  const refRunnable = { id: `${name}: reference`, file: refFile, runtimeKind: 'onnxruntime' as const, runtimeOptions: {}, batch };
  // Without labels, a single-value or dense-map output has no top-1 to agree on: trials are then judged on fidelity.
  const refQuality: AutoQuality = ref
    // On synthetic inputs top-1 agreement is not a quality figure (see gateSubject in src/gate/result.ts): fidelity is.
    ? { ...quality(ref), top1_fits: dataset.synthetic ? false : await probeTop1Fits(refRunnable, dataset, threads) }
    : { accuracy: null, agreement: null, mse: null, top1_fits: true };
  const onFidelity = qualityBasis(refQuality, ctx.metric) === 'fidelity';
  const referenceOutputs = new ReferenceOutputs();
  const outputs = outputFacts(model);

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
  const analysis = { ...analyzeModel(await weightsExposed(cleaned), shapes, cleanup && digestOf(cleanedBytes, {}) !== digestOf(refBytes, {})), ...(tfliteFile ? { tfliteReference: true } : {}) };
  // A .tflite is exported with static shapes: the benchmark's batch where the batch is dynamic.
  const tfliteBatch = inputs[0]?.dynamicBatch ? benchmarkBatch(batch, ctx.benchmark.batch) : (inputs[0]?.shape[0] ?? 1);
  const tfliteShapes: Record<string, number[]> = Object.fromEntries(inputs.map((i) => [i.name, i.dynamicBatch ? [tfliteBatch, ...i.shape.slice(1)] : i.shape]));

  const files = new Map<string, string>();
  const kinds = new Map<string, RuntimeKind>();
  const runnable = (artifact: AutoArtifact, label: string) => {
    const runtimeKind = kinds.get(artifact.id) ?? 'onnxruntime';
    return { id: label, file: files.get(artifact.id)!, runtimeKind, runtimeOptions: artifact.runtime, batch: runtimeKind === 'tflite' ? { kind: 'fixed' as const, batch: tfliteBatch } : batch };
  };
  let fileCount = 0;
  let referenceKernels: Promise<string> | undefined;
  const env: AutoEnv = {
    async build(id: string, recipe: PassSpec[]): Promise<AutoArtifact> {
      const fromCleaned = cleanup && recipe.length > 0 && Object.keys(recipe[0]!)[0] === 'cleanup';
      const { passes: rest, tflite } = splitTfliteStep(fromCleaned ? recipe.slice(1) : recipe, `auto trial '${id}'`);
      const result = rest.length > 0 ? await runRecipe(fromCleaned ? cleaned : model, rest as PassSpec[], passContext) : { model: fromCleaned ? cleaned : model, runtime: {} };
      if (tflite) {
        // Exported from the ONNX IR, run in TFLite; its quality is judged against the reference like any trial's.
        const calibration = tflite.quantize === 'int8' ? await passContext.calibration(tflite.samples ?? 256) : undefined;
        const out = await exportTflite(result.model, { quantize: tflite.quantize, inputShapes: tfliteShapes, ...(calibration ? { calibration } : {}) });
        const file = path.join(workDir, `trial-${++fileCount}.tflite`);
        writeFileSync(file, out.bytes);
        files.set(id, file);
        kinds.set(id, 'tflite');
        return { id, bytes: out.bytes.length, runtime: {}, digest: digestOf(out.bytes, {}) };
      }
      const bytes = encodeModel(result.model);
      const file = path.join(workDir, `trial-${++fileCount}.onnx`);
      writeFileSync(file, bytes);
      files.set(id, file);
      return { id, bytes: bytes.length, runtime: result.runtime, digest: digestOf(bytes, result.runtime) };
    },
    async evaluate(artifact: AutoArtifact, samples?: number): Promise<AutoQuality> {
      const file = files.get(artifact.id)!;
      if (decoder) return decoderTrialQuality(refFile, file, artifact.runtime, decoder, threads, `${name}: ${artifact.id}`);
      const trial = runnable(artifact, `${name}: ${artifact.id}`);
      if (!onFidelity) {
        return quality(await evaluateCandidate(trial, dataset, {
          metric: ctx.metric, threads, ...(ctx.metricOptions ? { metricOptions: ctx.metricOptions } : {}), reference: ref!.predictions, ...(samples !== undefined ? { samples } : {}),
        }));
      }
      // On fidelity, the dataset pass (agreement, which does not fit the output) would only cost time: the
      // fidelity pass runs the trial, and the reference's outputs are kept from the first trial on.
      const f = await measureFidelity(refRunnable, trial, dataset, { samples: Math.min(samples ?? FIDELITY_SAMPLES, FIDELITY_SAMPLES), threads, referenceOutputs, outputs });
      return { accuracy: null, agreement: null, mse: null, snr_db: f.snr_db };
    },
    async measure(artifacts: AutoArtifact[], timeBudgetMs: number) {
      if (decoder) return measureDecoderTrials(refFile, artifacts.map((a) => ({ file: files.get(a.id)!, runtime: a.runtime })), ctx, timeBudgetMs);
      const runs = await measureRuns(
        [
          tfliteFile ? { id: 'reference', file: tfliteFile, runtimeKind: 'tflite', runtimeOptions: {} } : { id: 'reference', file: refFile, runtimeKind: 'onnxruntime', runtimeOptions: {} },
          ...artifacts.map((a, i) => ({ id: `trial-${i}`, file: files.get(a.id)!, runtimeKind: kinds.get(a.id) ?? ('onnxruntime' as const), runtimeOptions: a.runtime })),
        ],
        feeds,
        { batch: ctx.benchmark.batch, threads, warmup: ctx.benchmark.warmup, minSamples: Math.min(ctx.benchmark.runs, SEARCH_MIN_SAMPLES), measurements: 1, timeBudgetMs },
      );
      return artifacts.map((_, i) => {
        const pair = comparePair(runs, 'reference', `trial-${i}`, 1)!;
        return { ratio: pair.comparison.ratio, ci95: pair.comparison.ci95, p50_ms: pair.candidate.p50_ms, reference_p50_ms: pair.baseline.p50_ms };
      });
    },
    // Only where the reference itself runs in onnxruntime, and is timed as a whole (not a decoder's prefill and steps).
    ...(tfliteFile || decoder
      ? {}
      : {
        async sameKernels(artifact: AutoArtifact): Promise<boolean> {
          if ((kinds.get(artifact.id) ?? 'onnxruntime') !== 'onnxruntime') return false;
          referenceKernels ??= kernelSignature(refFile, {}, workDir);
          return (await kernelSignature(files.get(artifact.id)!, artifact.runtime, workDir)) === (await referenceKernels);
        },
      }),
    reference: { bytes: ctx.referenceTflite?.length ?? refBytes.length, digest: digestOf(refBytes, {}), quality: refQuality },
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
      // A trial costs about one pass over the data it is judged on: the whole dataset, or the fidelity samples.
      time_budget_s: options.time_budget_s ?? defaultTimeBudgetS(refBytes.length, referenceSeconds * (onFidelity ? Math.min(1, FIDELITY_SAMPLES / Math.max(1, dataset.count)) : 1)),
      latency_ratio_max: options.latency_ratio_max ?? 1,
      recipes: options.recipes,
      ...(options.allow ? { allow: options.allow } : {}),
      ...(options.prefer ? { prefer: options.prefer } : {}),
      ...(ctx.fidelityMinSnrDb !== undefined ? { fidelity_min_snr_db: ctx.fidelityMinSnrDb } : {}),
    },
  });
}

export function failedReport(options: AutoOptions, message: string): AutoReport {
  return {
    winner: 'reference', recipe: [], reason: `The search failed (${message}); the reference model is kept.`,
    accuracy_drop_max: options.accuracy_drop_max ?? DEFAULT_ACCURACY_DROP_MAX, quality_basis: 'accuracy', latency_ratio_max: options.latency_ratio_max ?? 1, prefer: options.prefer ?? 'balanced',
    time_budget_s: options.time_budget_s ?? 0, elapsed_s: 0, budget_exhausted: false, isa: [],
    model: { mix: { conv: 0, matmul: 0, recurrent: 0, attention: 0 }, quantizable_nodes: 0, recurrent: false, attention: false },
    tried: [], skipped: [], pareto: [], sensitivity: [],
  };
}

/** A decoder trial's quality: next-token top-1 agreement with the reference on seeded prompts (its logits' SNR alongside). */
async function decoderTrialQuality(refFile: string, file: string, runtime: RuntimeOptions, sig: DecoderSignature, threads: number, label: string): Promise<AutoQuality> {
  const candSig = decoderSignature(loadModel(file, { inlineExternalData: false }), label);
  const ref = await OrtSession.create(refFile, { intraOpThreads: threads }, 'reference');
  try {
    const cand = await OrtSession.create(file, { ...runtime, intraOpThreads: threads }, label);
    try {
      const q = await decoderQuality(ref, cand, sig, {}, candSig);
      return { accuracy: null, agreement: q.top1_agreement, mse: null, snr_db: q.snr_db };
    } finally {
      await cand.release();
    }
  } finally {
    await ref.release();
  }
}

/**
 * Decoder trials against the reference: prefill and decode interleaved; a trial's ratio is the worse of
 * the two phases, so the search keeps only what is not slower at either.
 */
async function measureDecoderTrials(refFile: string, trials: Array<{ file: string; runtime: RuntimeOptions }>, ctx: AutoSearchContext, timeBudgetMs: number): Promise<AutoLatency[]> {
  const threads = ctx.benchmark.threads;
  const models = [{ id: 'reference', path: refFile, runtime: { intraOpThreads: threads } }, ...trials.map((t, i) => ({ id: `trial-${i}`, path: t.file, runtime: { ...t.runtime, intraOpThreads: threads } }))];
  const out = await measureDecoderLatency(models, {
    prefillTokens: ctx.benchmark.decoder?.prefill_tokens ?? 128, warmupMin: ctx.benchmark.warmup, minSamples: Math.min(ctx.benchmark.runs, SEARCH_MIN_SAMPLES), timeBudgetMs: timeBudgetMs / 2,
  });
  const ref = out.get('reference')!;
  return trials.map((_, i) => {
    const c = out.get(`trial-${i}`)!;
    const cmp = compareDecoderLatency(ref, c, 1, BOOTSTRAP_SEED);
    const worse = cmp.decode.ratio >= cmp.ttft.ratio ? 'decode' : 'ttft';
    const phase = worse === 'decode' ? { c: c.decode, r: ref.decode } : { c: c.prefill, r: ref.prefill };
    return { ratio: cmp[worse].ratio, ci95: cmp[worse].ci95, p50_ms: phase.c.p50_ms, reference_p50_ms: phase.r.p50_ms };
  });
}

/**
 * The model as the quantizers see it, for the analysis: float16 weights behind a Cast to float (what the
 * TFLite import makes of MediaPipe's float16 .tflite files; onnxruntime folds the Cast at load) are folded to
 * the float weights they stand for, as prepareForQuantization does, so the analysis counts them as Conv/MatMul
 * weights and does not take a float32-compute model for a float16 one. Other models are analyzed as they are.
 */
async function weightsExposed(model: Model): Promise<Model> {
  if (castOfHalf(model).size === 0) return model;
  try {
    return (await exposeWeights(model)).model;
  } catch {
    return model;
  }
}
