/**
 * The pipeline, top to bottom: config → model → passes → evaluate → benchmark → gate → report.
 * Adapters (cli.ts, action.ts) call runGate and publish what it returns; nothing here knows GitHub.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadConfig } from './config/load.js';
import type { CandidateSpec, LoadedConfig, OptimizeSpec } from './config/types.js';
import { saveModel, type Model } from './model/onnx.js';
import { resolveInputs, type IoSpec } from './model/io.js';
import type { Feeds } from './model/host-tensor.js';
import { calibrationFeeds, loadDataset, syntheticDataset, type Dataset } from './data/dataset.js';
import { runRecipe, validateRecipe } from './passes/registry.js';
import type { PassContext } from './passes/pass.js';
import type { RuntimeOptions } from './runtime/session.js';
import { evaluate, type EvalResult } from './evaluate/metrics.js';
import { measureInterleaved, compareLatency, combineComparisons, type LatencyStats, type RepeatedComparison } from './benchmark/runner.js';
import { hardwareFingerprint } from './benchmark/hardware.js';
import { checkCandidate, selectCandidate, type GateSubject } from './gate/gate.js';
import { renderMarkdown } from './report/markdown.js';
import { latencyPercentiles } from './report/charts.js';
import type { CandidateReport, Report } from './report/types.js';
import { ModelGateError, errorMessage } from './errors.js';
import { TOOL_VERSION } from './version.js';
import { ORT_VERSION } from './runtime/ort.js';
// TFLite (issue 7): .tflite models and `tflite` recipe steps run in the TFLite runtime.
import { openSession, runtimeKindOf, type RuntimeKind } from './runtime/kind.js';
import { TFLITE_PACKAGE, TFLITE_PACKAGE_VERSION } from './runtime/tflite.js';
import { buildTfliteCandidate, splitTfliteStep, tfliteRuntimeInfo, type TfliteCandidateInfo } from './export/tflite/candidate.js';
import { importTfliteFile } from './import/tflite.js';
import { candidateName, isAutoSpec, resolveAutoSpecs } from './passes/auto-env.js';
import type { AutoReport } from './passes/auto.js';
// Export step and Keras/TF.js import (issue 5).
import { runExportCommand } from './import/export-command.js';
import { exportTfjsVariants, importModel, inputShapesFromConfig, type TfjsExportReport } from './import/index.js';
// TF.js runtime (issue 5): each TF.js export is also a candidate, evaluated and measured by TF.js.
import { loadTfjs } from './runtime/tfjs.js';

export interface GateRunOptions {
  configPath: string;
  outDir: string;
  /** Progress and info lines; the CLI prints them, the action sends them to core.info. */
  log?: (message: string) => void;
}

export interface GateRunResult {
  /** 0 = gate passed, 1 = gate failed (nothing selected), 2 = usage/input error (report.json still written). */
  exitCode: 0 | 1 | 2;
  report: Report;
  markdown: string;
  outDir: string;
  reportPath: string;
  markdownPath: string;
  /** Absolute path of the selected candidate's model file, or null. */
  selectedModelPath: string | null;
  error?: string;
  /** The config as loaded, when it loaded: lets adapters annotate the YAML line of a failing budget. */
  configFile?: string;
  locate?: (path: ReadonlyArray<string | number>) => { line: number; col: number } | undefined;
}

export const REFERENCE_ID = 'reference';
/** Evaluation batch for models with a dynamic batch dim: large enough to amortize per-run overhead. */
export const EVAL_BATCH = 100;
const BOOTSTRAP_SEED = 20261127;
/**
 * Threshold for the reported latency verdict when no latency budget is set. Two worker processes
 * running the same model differ by up to ~1.5% (measured here), which no in-run resampling sees,
 * so thresholds under ~1.02 raise false alarms; 1.05 had none in 20 A/A runs.
 */
export const UNGATED_LATENCY_THRESHOLD = 1.05;

interface Built {
  id: string;
  recipe: unknown[];
  file: string;
  bytes: number;
  runtime: RuntimeOptions;
  error?: string;
  quality?: EvalResult;
  latency?: LatencyStats;
  vsReference?: RepeatedComparison;
  /** TFLite (issue 7): the runtime that evaluates and benchmarks this model; onnxruntime when absent. */
  runtimeKind?: RuntimeKind;
  /** The export's facts and check (tflite steps), or just how TFLite runs it (a .tflite reference). */
  tflite?: TfliteCandidateInfo | { runtime: TfliteCandidateInfo['runtime'] };
  /** The batch a fixed-shape file (.tflite) runs at, for evaluation. */
  fixedBatch?: number;
  /** auto entries: what the search tried and why it chose this recipe. */
  auto?: AutoReport;
  /** TF.js runtime (issue 5): the TF.js export this candidate is, and the runtime (with backend) that ran it. */
  tfjs?: { runtime: string; quantize: string; files: string[] };
}

/** A report with nothing measured yet: what an early error still writes, and what every run fills in. */
export function emptyReport(): Report {
  return {
    schemaVersion: 1,
    passed: false,
    tool: { name: 'modelgate', version: TOOL_VERSION },
    hardware: hardwareFingerprint(),
    runtime: { onnxruntime: ORT_VERSION },
    reference: REFERENCE_ID,
    selected: null,
    candidates: [],
  };
}

export async function runGate(options: GateRunOptions): Promise<GateRunResult> {
  const log = options.log ?? (() => {});
  const outDir = path.resolve(options.outDir);
  const report = emptyReport();
  let loaded: LoadedConfig | undefined;
  const finish = (exitCode: 0 | 1 | 2, error?: string): GateRunResult => {
    if (error) report.error = error;
    mkdirSync(outDir, { recursive: true });
    const reportPath = path.join(outDir, 'report.json');
    const markdownPath = path.join(outDir, 'report.md');
    const markdown = renderMarkdown(report);
    writeFileSync(reportPath, JSON.stringify(report, null, 2) + '\n');
    writeFileSync(markdownPath, markdown);
    const selected = report.candidates.find((c) => c.id === report.selected);
    return {
      exitCode, report, markdown, outDir, reportPath, markdownPath, error,
      selectedModelPath: selected ? path.join(outDir, selected.file) : null,
      configFile: loaded?.file, locate: loaded?.locate,
    };
  };

  try {
    loaded = loadConfig(options.configPath);
    const { config } = loaded;
    report.config = path.relative(process.cwd(), path.resolve(loaded.file)) || loaded.file;
    checkCandidates(config.optimize, loaded);

    const modelFile = loaded.resolve(config.model);
    // ---- export/import (issue 5, src/import): the user's export command runs first; .h5/.keras/model.json are converted and checked ----
    if (config.export) {
      const exported = await runExportCommand({ ...config.export, output: config.export.output ?? config.model }, loaded.dir, log);
      report.export = exported;
      if (exported.error) throw new ModelGateError(exported.error);
    }
    // ---- end export/import ----
    log(`model: ${config.model}`);
    // TFLite (issue 7): a .tflite is the reference as it is (run by TFLite); its ONNX import feeds the ORT candidates.
    const tfliteSource = runtimeKindOf(modelFile) === 'tflite' ? importTfliteFile(modelFile, config.model) : undefined;
    // ---- export/import ----
    const imported = tfliteSource ? undefined : await importModel(modelFile, { log, inputShapes: inputShapesFromConfig(config.inputs) });
    if (imported && imported.source.format !== 'onnx') report.source = { ...imported.source, file: config.model };
    if (config.tfjs_export) {
      if (!imported) throw new ModelGateError('tfjs_export: needs a Keras (.h5, .keras) or TF.js source model');
      report.tfjs_export = await exportTfjsVariants(imported, outDir, config.tfjs_export, log);
    }
    const model = tfliteSource ? tfliteSource.model : imported!.model;
    // ---- end export/import ----
    if ((model.graph?.node ?? []).length === 0) throw new ModelGateError(`${config.model}: the graph has no nodes`);
    const inputs = resolveInputs(model, config.inputs, config.benchmark.batch, config.model);
    const dataset = config.dataset ? loadDataset(config.dataset, loaded.resolve, inputs) : syntheticDataset(inputs);
    report.dataset = { samples: dataset.count, labelled: dataset.hasLabels, synthetic: dataset.synthetic };
    log(`dataset: ${dataset.count} ${dataset.synthetic ? 'synthetic ' : ''}samples${dataset.hasLabels ? ' with labels' : ''}`);

    const modelsDir = path.join(outDir, 'models');
    rmSync(modelsDir, { recursive: true, force: true });
    // ---- auto: each `{ auto: {...} }` entry is searched on the runner and becomes one candidate with the winning recipe ----
    const autoReports = new Map<string, AutoReport>();
    // The search's trial models stay inside the out dir (nothing outside the working directory is touched).
    mkdirSync(outDir, { recursive: true });
    const autoDir = mkdtempSync(path.join(outDir, '.auto-'));
    let specs: CandidateSpec[];
    try {
      specs = await resolveAutoSpecs(config.optimize, config, { model, dataset, inputs, log, workDir: autoDir }, autoReports);
    } finally {
      rmSync(autoDir, { recursive: true, force: true });
    }
    const built = await buildCandidates(model, specs, modelsDir, outDir, dataset, log, {
      tfliteReference: tfliteSource?.bytes, inputs, batch: config.benchmark.batch, threads: config.benchmark.threads,
    });
    for (const b of built) if (autoReports.has(b.id)) b.auto = autoReports.get(b.id);
    // ---- end auto ----
    // TF.js runtime (issue 5): the TF.js exports join the candidates, measured in the same interleaved run.
    if (report.tfjs_export) {
      const tfjsBuilt = await tfjsCandidates(report.tfjs_export as TfjsExportReport[], outDir, new Set(built.map((b) => b.id)));
      built.push(...tfjsBuilt);
      if (tfjsBuilt.length > 0) report.runtime.tfjs = tfjsBuilt[0]!.tfjs!.runtime;
    }
    if (built.some((b) => b.runtimeKind === 'tflite')) report.runtime.tflite = `${TFLITE_PACKAGE}@${TFLITE_PACKAGE_VERSION} (libtensorflowlite_c)`;

    const fixedBatch = inputs.some((i) => !i.dynamicBatch);
    const evalBatch = fixedBatch ? inputs[0]!.shape[0] ?? 1 : EVAL_BATCH;
    const threads = config.benchmark.threads;
    let reference: Int32Array | undefined;
    for (const b of built) {
      if (b.error) continue;
      log(`evaluate ${b.id} on ${dataset.count} samples`);
      try {
        const session = await openSession(path.join(outDir, b.file), { ...b.runtime, intraOpThreads: threads }, b.id, b.runtimeKind);
        try {
          b.quality = await evaluate(session, dataset, { metric: config.metric, batchSize: b.fixedBatch ?? evalBatch, pad: b.fixedBatch !== undefined || fixedBatch, reference });
        } finally {
          await session.release();
        }
        if (b.id === REFERENCE_ID) reference = b.quality.predictions;
      } catch (err) {
        if (b.id === REFERENCE_ID) throw err;
        b.error = `evaluation failed: ${errorMessage(err)}`;
      }
    }

    const runnable = built.filter((b) => !b.error);
    const feeds: Feeds = dataset.feedsForBatch(benchmarkBatch(inputs, config.benchmark.batch));
    const measurements = config.benchmark.measurements;
    const threshold = config.gate.latency_ratio_max ?? UNGATED_LATENCY_THRESHOLD;
    const runs: Array<Map<string, LatencyStats>> = [];
    for (let k = 0; k < measurements; k++) {
      log(`benchmark ${runnable.length} models interleaved (batch ${config.benchmark.batch}, ${threads} thread${threads > 1 ? 's' : ''}${measurements > 1 ? `; measurement ${k + 1} of ${measurements}` : ''})`);
      runs.push(await measureInterleaved(
        runnable.map((b) => ({ id: b.id, path: path.join(outDir, b.file), runtime: { ...b.runtime, intraOpThreads: threads }, runtimeKind: b.runtimeKind })),
        feeds,
        { batch: config.benchmark.batch, warmupMin: config.benchmark.warmup, minSamples: config.benchmark.runs },
        (msg: string) => log(msg),
      ));
    }
    // Each candidate against the reference in every measurement; the median measurement decides and is reported.
    const ref = built[0]!;
    const refRuns = runs.map((stats) => stats.get(ref.id));
    ref.latency = refRuns[0];
    for (const b of runnable) {
      if (b === ref) continue;
      const each = runs.flatMap((stats, k) => {
        const r = refRuns[k];
        const c = stats.get(b.id);
        return r && c ? [{ c, cmp: compareLatency(r, c, threshold, BOOTSTRAP_SEED + k) }] : [];
      });
      if (each.length === 0) continue;
      const combined = combineComparisons(each.map((e) => e.cmp), threshold);
      b.latency = each[combined.central]!.c;
      b.vsReference = combined;
    }

    const subjects: GateSubject[] = built.map((b) => ({
      id: b.id, bytes: b.bytes, accuracy: b.quality?.accuracy ?? null, agreement: b.id === REFERENCE_ID ? null : b.quality?.agreement ?? null,
      mse: b.quality?.mse ?? null, p50_ms: b.latency?.p50_ms ?? null, latencyVsReference: b.vsReference, error: b.error,
    }));
    const refSubject = subjects[0]!;
    const checks = new Map(subjects.map((s) => [s.id, checkCandidate(s, refSubject, config.gate, config.metric)]));
    report.selected = selectCandidate(subjects, checks, config.select);
    report.passed = report.selected !== null;
    report.candidates = built.map((b) => candidateReport(b, checks.get(b.id) ?? []));
    // Unstructured sparsity only pays once a file is compressed (download size, artifact storage): report both sizes.
    for (const c of report.candidates) if (c.file) c.gzip_bytes = gzipSync(readFileSync(path.join(outDir, c.file)), { level: 9 }).length;
    // TF.js runtime (issue 5): a TF.js candidate downloads as model.json plus its shards.
    for (const b of built) {
      const c = report.candidates.find((x) => x.id === b.id);
      if (b.tfjs && c?.file) c.gzip_bytes = b.tfjs.files.reduce((n, f) => n + gzipSync(readFileSync(path.join(outDir, path.dirname(c.file), f)), { level: 9 }).length, 0);
    }
    report.gate = { ...config.gate, select: config.select, metric: config.metric };
    return finish(report.passed ? 0 : 1);
  } catch (err) {
    const message = err instanceof ModelGateError ? err.message : `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    return finish(2, message);
  }
}

/** Candidate names and every pass option are checked before any work, with the config position. */
function checkCandidates(specs: OptimizeSpec[], loaded: LoadedConfig): void {
  const seen = new Set<string>([REFERENCE_ID]);
  const where = (keyPath: Array<string | number>) => {
    const pos = loaded.locate(keyPath);
    return pos ? ` (${path.basename(loaded.file)}:${pos.line}:${pos.col})` : '';
  };
  specs.forEach((spec, i) => {
    // auto entries have no passes to check (the schema checks their options) and default to the name 'auto'.
    const s = isAutoSpec(spec) ? { name: candidateName(spec), passes: [] } : spec;
    // TFLite (issue 7): a trailing `tflite` step is not a pass; it is checked here and split off.
    const { passes } = splitTfliteStep(s.passes, `${loaded.file}: optimize[${i}].passes`);
    passes.forEach((_, j) => {
      try {
        validateRecipe([passes[j]], `optimize[${i}].passes`);
      } catch (err) {
        const message = errorMessage(err).replace(`optimize[${i}].passes[0]`, `optimize[${i}].passes[${j}]`);
        throw new ModelGateError(`${loaded.file}: ${message}${where(['optimize', i, 'passes', j])}`);
      }
    });
    if (seen.has(s.name)) {
      const pos = loaded.locate(['optimize', i, 'name']);
      throw new ModelGateError(`optimize[${i}].name: '${s.name}' is ${s.name === REFERENCE_ID ? 'reserved for the unoptimized model' : 'used twice'}${pos ? ` (${path.basename(loaded.file)}:${pos.line}:${pos.col})` : ''}`);
    }
    seen.add(s.name);
  });
}

export function benchmarkBatch(inputs: IoSpec[], batch: number): number {
  const fixed = inputs.find((i) => !i.dynamicBatch);
  return fixed ? fixed.shape[0] ?? 1 : batch;
}

/** TFLite (issue 7): what buildCandidates needs for .tflite references and `tflite` steps. */
interface TfliteBuildContext {
  /** The .tflite bytes when the config's model is a .tflite (then it is the reference). */
  tfliteReference?: Uint8Array;
  inputs: IoSpec[];
  batch: number;
  threads: number;
}

async function buildCandidates(model: Model, specs: CandidateSpec[], modelsDir: string, outDir: string, dataset: Dataset, log: (m: string) => void, tfl: TfliteBuildContext): Promise<Built[]> {
  const save = (id: string, m: Model): { file: string; bytes: number } => {
    const file = path.join(modelsDir, `${id}.onnx`);
    const bytes = saveModel(m, file);
    return { file: path.relative(outDir, file).split(path.sep).join('/'), bytes };
  };
  const relative = (file: string): string => path.relative(outDir, file).split(path.sep).join('/');
  const built: Built[] = [];
  if (tfl.tfliteReference) {
    const file = path.join(modelsDir, `${REFERENCE_ID}.tflite`);
    mkdirSync(modelsDir, { recursive: true });
    writeFileSync(file, tfl.tfliteReference);
    const info = await tfliteRuntimeInfo(file, { intraOpThreads: tfl.threads });
    built.push({ id: REFERENCE_ID, recipe: [], runtime: {}, file: relative(file), bytes: tfl.tfliteReference.length, runtimeKind: 'tflite', tflite: { runtime: info }, fixedBatch: benchmarkBatch(tfl.inputs, tfl.batch) });
  } else {
    built.push({ id: REFERENCE_ID, recipe: [], runtime: {}, ...save(REFERENCE_ID, model) });
  }
  const ctx: PassContext = {
    log,
    scratchDir: outDir,
    async calibration(samples: number) {
      return calibrationFeeds(dataset, samples);
    },
  };
  for (const spec of specs) {
    log(`optimize ${spec.name}: ${spec.passes.map((p) => Object.keys(p)[0]).join(' → ')}`);
    try {
      const { passes, tflite } = splitTfliteStep(spec.passes, `optimize '${spec.name}'`);
      const result = await runRecipe(model, passes, ctx);
      if (tflite) {
        const file = path.join(modelsDir, `${spec.name}.tflite`);
        const t = await buildTfliteCandidate(result.model, result.runtime ?? {}, tflite, { inputs: tfl.inputs, batch: tfl.batch, dataset, ctx, file, threads: tfl.threads });
        built.push({ id: spec.name, recipe: spec.passes, runtime: t.runtime, file: relative(file), bytes: t.bytes, runtimeKind: 'tflite', tflite: t.info, fixedBatch: t.info.batch });
      } else {
        built.push({ id: spec.name, recipe: spec.passes, runtime: result.runtime ?? {}, ...save(spec.name, result.model) });
      }
    } catch (err) {
      built.push({ id: spec.name, recipe: spec.passes, runtime: {}, file: '', bytes: 0, error: `${spec.name}: ${errorMessage(err)}` });
    }
  }
  return built;
}

/**
 * TF.js runtime (issue 5): one candidate per TF.js export, `tfjs-<quantize>`, its file the model.json
 * (relative to the out dir) and its bytes model.json plus shards.
 */
async function tfjsCandidates(exports: TfjsExportReport[], outDir: string, taken: Set<string>): Promise<Built[]> {
  const rt = await loadTfjs();
  return exports.map((e) => {
    const id = `tfjs-${e.quantize}`;
    if (taken.has(id)) throw new ModelGateError(`optimize: the name '${id}' is taken by the TF.js export tfjs_export.quantize '${e.quantize}'; rename the candidate`);
    const manifest = JSON.parse(readFileSync(path.join(outDir, e.dir, 'model.json'), 'utf8')) as { weightsManifest?: Array<{ paths: string[] }> };
    const files = ['model.json', ...(manifest.weightsManifest ?? []).flatMap((g) => g.paths)];
    return {
      id, recipe: [{ tfjs_export: { quantize: e.quantize } }], runtime: {}, file: `${e.dir}/model.json`, bytes: e.bytes,
      runtimeKind: 'tfjs', tfjs: { runtime: rt.label, quantize: e.quantize, files },
    } satisfies Built;
  });
}

function candidateReport(b: Built, checks: CandidateReport['checks']): CandidateReport {
  const lat = b.latency;
  const out: CandidateReport = {
    id: b.id,
    recipe: b.recipe,
    file: b.file,
    bytes: b.bytes,
    accuracy: b.quality?.accuracy ?? null,
    agreement: b.id === REFERENCE_ID ? null : b.quality?.agreement ?? null,
    latency: lat
      ? {
          batch: lat.batch, threads: lat.threads, p50_ms: lat.p50_ms, p90_ms: lat.p90_ms, p99_ms: lat.p99_ms, samples: lat.samples,
          mean_ms: lat.mean_ms, stddev_ms: lat.stddev_ms, cv: lat.cv, ci95_ms: lat.ci95_ms, throughput_items_per_s: lat.throughput_items_per_s,
          cold_start_ms: lat.cold_start_ms, peak_rss_bytes: lat.peak_rss_bytes,
          percentiles_ms: latencyPercentiles(lat.raw_ms), // issue 6: the comment's latency distribution chart
          ...(b.vsReference ? { ratio: b.vsReference.ratio, ratio_ci95: b.vsReference.ci95, verdict: b.vsReference.verdict, measurements: b.vsReference.measurements } : {}),
        }
      : null,
    checks,
  };
  if (b.quality?.mse != null) out.mse = b.quality.mse;
  out.runtime_kind = b.runtimeKind ?? 'onnxruntime';
  if (b.tflite) out.tflite = b.tflite;
  if (b.tfjs) out.tfjs = { runtime: b.tfjs.runtime, quantize: b.tfjs.quantize }; // TF.js runtime (issue 5)
  if (Object.keys(b.runtime).length > 0) out.runtime_options = b.runtime;
  if (b.error) out.error = b.error;
  if (b.auto) out.auto = b.auto;
  return out;
}
