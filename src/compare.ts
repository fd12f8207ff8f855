/**
 * `modelgate compare`: the same pipeline for the base revision and the working tree (head), then the
 * repo's model (and each side's selected candidate) measured base vs head interleaved in one job,
 * and the head config's budgets applied to head against base. Exit 1 on a regression, 0 without,
 * 2 on an error; report.json is written in every case.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { emptyReport, runGate, REFERENCE_ID, EVAL_BATCH, UNGATED_LATENCY_THRESHOLD, benchmarkBatch, type GateRunResult } from './run.js';
import { loadConfig } from './config/load.js';
import type { Config, LoadedConfig } from './config/types.js';
import { loadModel } from './model/onnx.js';
import { resolveInputs, type IoSpec } from './model/io.js';
import type { Feeds } from './model/host-tensor.js';
import { loadDataset, syntheticDataset, type Dataset } from './data/dataset.js';
import type { RuntimeOptions } from './runtime/session.js';
import { openSession, runtimeKindOf } from './runtime/kind.js';
import { evaluate, type EvalResult } from './evaluate/metrics.js';
import { combineComparisons, compareLatency, measureInterleaved, type BenchmarkModel, type LatencyStats } from './benchmark/runner.js';
import { resolveMergeBase } from './git/base.js';
import type { CandidateReport, Report } from './report/types.js';
import { ModelGateError, errorMessage } from './errors.js';
import { extractBase, gitToplevel } from './compare/extract.js';
import { buildPair, compareReports, flattenChecks, latencyThreshold, type PairInput } from './compare/checks.js';
import { renderCompareMarkdown } from './compare/markdown.js';
import type { BaseSide, CompareCheck, CompareReport, HeadSide, LatencyDelta, PairComparison, SideMetrics } from './compare/types.js';

export { compareReports, type CompareReportsOptions, type ReportComparison } from './compare/checks.js';
export { renderCompareMarkdown, renderCompareTable } from './compare/markdown.js';
export type * from './compare/types.js';

export interface CompareOptions {
  /** The head's modelgate.yml, in a git work tree. */
  configPath: string;
  /** Branch, tag or sha to compare against (its merge base with HEAD is used). Required unless baseReportPath is given. */
  baseRef?: string;
  /** Compare against a report.json produced elsewhere instead of a git revision. */
  baseReportPath?: string;
  outDir: string;
  log?: (message: string) => void;
  /** The git work tree; by default the one that holds the config. */
  repoDir?: string;
  /** Remote to fetch from in a shallow clone; 'origin' by default. */
  remote?: string;
  /** Wall-clock budget of each interleaved base/head measurement, ms (the benchmark's default otherwise). */
  timeBudgetMs?: number;
  /** Independent base/head measurements whose median decides; LATENCY_MEASUREMENTS (3) by default. */
  latencyMeasurements?: number;
}

export interface CompareResult {
  exitCode: 0 | 1 | 2;
  report: CompareReport;
  markdown: string;
  outDir: string;
  reportPath: string;
  markdownPath: string;
  error?: string;
  /** The two pipeline runs, when they ran (their reports are in outDir/head and outDir/base). */
  head?: GateRunResult;
  base?: GateRunResult;
}

const BOOTSTRAP_SEED = 20261128;
/**
 * Independent interleaved measurements (fresh workers each) per compare. About one measurement in
 * 40 on a shared 2-core runner comes out grossly wrong with a tight CI (0.62× for a model 9% slower)
 * or with a CI too wide to decide; the median of three is wrong only when two of them are.
 */
export const LATENCY_MEASUREMENTS = 3;

/** One model in the base/head measurement. */
interface Subject {
  key: string;
  side: 'base' | 'head';
  candidate: string;
  file: string;
  bytes: number;
  runtime: RuntimeOptions;
  /** From its own pipeline run, used when it cannot be evaluated on the head's data. */
  own?: CandidateReport;
  quality?: EvalResult;
}

export async function runCompare(options: CompareOptions): Promise<CompareResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const outDir = path.resolve(options.outDir);
  let body: Report = emptyReport();
  const base: BaseSide = { ref: options.baseRef ?? options.baseReportPath ?? '', sha: null };
  const head: HeadSide = { sha: null, passed: false, selected: null };
  let comparison: PairComparison[] = [];
  let checks: CompareCheck[] = [];
  const warnings: string[] = [];
  let headRun: GateRunResult | undefined;
  let baseRun: GateRunResult | undefined;

  const finish = (exitCode: 0 | 1 | 2, error?: string): CompareResult => {
    const report: CompareReport = {
      ...body, passed: exitCode === 0, mode: 'compare', base, head, comparison, checks, warnings,
      duration_s: Math.round((performance.now() - started) / 100) / 10,
    };
    if (error) report.error = error;
    mkdirSync(outDir, { recursive: true });
    const reportPath = path.join(outDir, 'report.json');
    const markdownPath = path.join(outDir, 'report.md');
    const markdown = renderCompareMarkdown(report);
    writeFileSync(reportPath, JSON.stringify(report, null, 2) + '\n');
    writeFileSync(markdownPath, markdown);
    const result: CompareResult = { exitCode, report, markdown, outDir, reportPath, markdownPath };
    if (error) result.error = error;
    if (headRun) result.head = headRun;
    if (baseRun) result.base = baseRun;
    return result;
  };

  /** Runs the head pipeline; its report becomes the body of the compare report. */
  const runHead = async (configPath: string): Promise<GateRunResult> => {
    headRun = await runGate({ configPath, outDir: path.join(outDir, 'head'), log: (m) => log(`head: ${m}`) });
    const { passed: _passed, ...rest } = headRun.report;
    body = { ...body, ...rest };
    head.passed = headRun.report.passed;
    head.selected = headRun.report.selected;
    return headRun;
  };
  const headGateCheck = (): CompareCheck => ({
    subject: 'head', name: 'gate', passed: head.passed,
    message: head.passed ? `head's own gate passed: selected ${head.selected}` : "head's own gate failed: no candidate passed every check",
  });
  const verdict = (): 0 | 1 => (checks.every((c) => c.passed) ? 0 : 1);

  try {
    if (!options.baseRef && !options.baseReportPath) throw new ModelGateError('compare needs a base: --base <ref> or --base-report <report.json>');
    if (options.baseRef && options.baseReportPath) throw new ModelGateError('give either --base or --base-report, not both');
    const configPath = path.resolve(options.configPath);
    if (!existsSync(configPath)) throw new ModelGateError(`${options.configPath}: cannot read config (no such file)`);

    if (options.baseReportPath) {
      const baseReport = readReport(options.baseReportPath);
      Object.assign(base, summarizeBase(baseReport), { hardware: baseReport.hardware });
      const h = await runHead(configPath);
      if (h.exitCode === 2) return finish(2, `head: ${h.error}`);
      const rc = compareReports(baseReport, h.report);
      comparison = rc.comparison;
      warnings.push(...rc.warnings);
      checks = [headGateCheck(), ...rc.checks];
      return finish(verdict());
    }

    const repoDir = options.repoDir ? path.resolve(options.repoDir) : await gitToplevel(path.dirname(configPath));
    const mb = await resolveMergeBase(repoDir, options.baseRef!, 'HEAD', options.remote ? { remote: options.remote } : {});
    Object.assign(base, { sha: mb.sha, ref_sha: mb.baseSha, fetched_depth: mb.fetchedDepth });
    head.sha = mb.headSha;
    log(`base: ${options.baseRef} → merge base ${mb.sha.slice(0, 8)}${mb.fetchedDepth !== null ? ` (fetched to depth ${mb.fetchedDepth})` : ''}`);
    const checkout = await extractBase(repoDir, mb.sha, configPath, path.join(outDir, 'base', 'checkout'));

    const h = await runHead(configPath);
    if (h.exitCode === 2) return finish(2, `head: ${h.error}`);
    if (checkout.missing !== undefined || checkout.configPath === null) {
      base.missing = checkout.missing ?? 'no config at base';
      log(`base: ${base.missing}; comparing against nothing`);
      checks = [headGateCheck()];
      return finish(h.exitCode === 0 ? 0 : 1);
    }

    baseRun = await runGate({ configPath: checkout.configPath, outDir: path.join(outDir, 'base'), log: (m) => log(`base: ${m}`) });
    Object.assign(base, summarizeBase(baseRun.report));
    if (baseRun.exitCode === 2) {
      base.error = baseRun.error ?? 'the base pipeline failed';
      warnings.push(`the base pipeline failed (${base.error}); only the model itself is compared`);
    }

    const headLoaded = loadConfig(configPath);
    comparison = await compareSides(headLoaded, h, baseRun, checkout.modelPath!, checkout.configPath, warnings, log, {
      timeBudgetMs: options.timeBudgetMs, measurements: Math.max(1, Math.floor(options.latencyMeasurements ?? LATENCY_MEASUREMENTS)),
    });
    checks = [headGateCheck(), ...flattenChecks(comparison)];
    return finish(verdict());
  } catch (err) {
    const message = err instanceof ModelGateError ? err.message : `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    return finish(2, message);
  }
}

function readReport(file: string): Report {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelGateError(`${file}: cannot read the base report (${errorMessage(err)})`, { cause: err });
  }
  const r = data as Partial<Report> | null;
  if (!r || r.schemaVersion !== 1 || !Array.isArray(r.candidates) || typeof r.hardware !== 'object' || r.hardware === null) {
    throw new ModelGateError(`${file}: not a modelgate report.json (schemaVersion 1 with candidates and hardware)`);
  }
  return r as Report;
}

function summarizeBase(r: Report): Partial<BaseSide> {
  return {
    passed: r.passed,
    selected: r.selected,
    candidates: r.candidates.map((c) => ({ id: c.id, bytes: c.bytes, accuracy: c.accuracy, p50_ms: c.latency?.p50_ms ?? null })),
  };
}

/** Whether feeds made for `head` fit `base`: same names, dtypes and shapes. */
function sameInputs(base: IoSpec[], head: IoSpec[]): boolean {
  return base.length === head.length && base.every((b) => {
    const h = head.find((x) => x.name === b.name);
    return h !== undefined && h.dtype === b.dtype && h.dynamicBatch === b.dynamicBatch && h.shape.join(',') === b.shape.join(',');
  });
}

/**
 * The pairs to compare (the model itself; the selected candidates when both sides selected one),
 * evaluated on the head's dataset and measured interleaved in one measureInterleaved call.
 */
async function compareSides(
  headLoaded: LoadedConfig, headRun: GateRunResult, baseRun: GateRunResult, baseModelPath: string, baseConfigPath: string,
  warnings: string[], log: (m: string) => void, { timeBudgetMs, measurements }: { timeBudgetMs: number | undefined; measurements: number },
): Promise<PairComparison[]> {
  const config: Config = headLoaded.config;
  const subjects = new Map<string, Subject>();
  const subjectFor = (side: 'base' | 'head', run: GateRunResult, id: string): Subject | undefined => {
    const key = `${side}:${id}`;
    const known = subjects.get(key);
    if (known) return known;
    const c = run.report.candidates.find((x) => x.id === id);
    let s: Subject | undefined;
    if (c && c.file && !c.error) {
      s = { key, side, candidate: id, file: path.join(run.outDir, c.file), bytes: c.bytes, runtime: (c.runtime_options as RuntimeOptions | undefined) ?? {}, own: c };
    } else if (side === 'base' && id === REFERENCE_ID) {
      // The base pipeline failed before it saved its models: measure the extracted file itself.
      s = { key, side, candidate: id, file: baseModelPath, bytes: statSync(baseModelPath).size, runtime: {} };
    }
    if (s) subjects.set(key, s);
    return s;
  };
  const pairs: Array<{
    id: PairComparison['id']; base: Subject; head: Subject; agreement: number | null;
    measured?: { base: LatencyStats; head: LatencyStats; latency: LatencyDelta };
  }> = [];
  const refBase = subjectFor('base', baseRun, REFERENCE_ID);
  const refHead = subjectFor('head', headRun, REFERENCE_ID);
  if (!refBase || !refHead) throw new ModelGateError('the reference model is missing from a pipeline run');
  pairs.push({ id: 'reference', base: refBase, head: refHead, agreement: null });
  const bSel = baseRun.exitCode !== 2 ? baseRun.report.selected : null;
  const hSel = headRun.report.selected;
  if (bSel && hSel && !(bSel === REFERENCE_ID && hSel === REFERENCE_ID)) {
    const b = subjectFor('base', baseRun, bSel);
    const h = subjectFor('head', headRun, hSel);
    if (b && h) pairs.push({ id: 'selected', base: b, head: h, agreement: null });
  }

  // Same data for both sides: the head's dataset (or synthetic inputs), in the head's input layout.
  const headModel = loadModel(headLoaded.resolve(config.model));
  const headInputs = resolveInputs(headModel, config.inputs, config.benchmark.batch, config.model);
  const dataset = config.dataset ? loadDataset(config.dataset, headLoaded.resolve, headInputs) : syntheticDataset(headInputs);
  let compatible: boolean;
  if (runtimeKindOf(refBase.file) !== 'onnxruntime') {
    compatible = true; // No ONNX graph to read the inputs from: evaluating on the head's data decides it below.
  } else {
    try {
      compatible = sameInputs(resolveInputs(loadModel(refBase.file), config.inputs, config.benchmark.batch, 'base model'), headInputs);
    } catch {
      compatible = false;
    }
  }
  const threads = config.benchmark.threads;
  const fixedBatch = headInputs.some((i) => !i.dynamicBatch);
  const evalBatch = fixedBatch ? headInputs[0]!.shape[0] ?? 1 : EVAL_BATCH;
  const evalOn = async (s: Subject, reference?: Int32Array): Promise<EvalResult> => {
    const session = await openSession(s.file, { ...s.runtime, intraOpThreads: threads }, s.key);
    try {
      return await evaluate(session, dataset, { metric: config.metric, batchSize: evalBatch, pad: fixedBatch, ...(reference ? { reference } : {}) });
    } finally {
      await session.release();
    }
  };
  if (compatible) {
    try {
      for (const p of pairs) {
        log(`evaluate base ${p.base.candidate} and head ${p.head.candidate} on the head's ${dataset.count} samples`);
        p.base.quality ??= await evalOn(p.base);
        // Agreement belongs to the pair (head against its base counterpart), not to the head model.
        p.head.quality = await evalOn(p.head, p.base.quality.predictions);
        p.agreement = p.head.quality.agreement;
      }
    } catch (err) {
      compatible = false;
      warnings.push(`the base model could not be evaluated on the head's dataset (${errorMessage(err)}): each side's accuracy is from its own pipeline run`);
    }
  } else {
    warnings.push("the base model's inputs differ from the head's: each side is evaluated on its own dataset and measured with its own inputs, and no agreement is computed");
  }

  const batch = config.benchmark.batch;
  const feeds: Feeds = dataset.feedsForBatch(benchmarkBatch(headInputs, batch));
  let baseFeeds: Feeds | undefined;
  if (!compatible) baseFeeds = ownFeeds(baseConfigPath, baseModelPath, batch);
  const benchmarkModel = (s: Subject): BenchmarkModel => ({
    id: s.key, path: s.file, runtime: { ...s.runtime, intraOpThreads: threads }, runtimeKind: runtimeKindOf(s.file), ...(s.side === 'base' && baseFeeds ? { feeds: baseFeeds } : {}),
  });
  const measure = async (list: Subject[], k: number): Promise<Map<string, LatencyStats>> => {
    log(`benchmark base vs head interleaved (${k} of ${measurements}): ${list.map((s) => s.key).join(', ')} (batch ${batch}, ${threads} thread${threads > 1 ? 's' : ''})`);
    return measureInterleaved(
      list.map(benchmarkModel), feeds,
      { batch, warmupMin: config.benchmark.warmup, minSamples: config.benchmark.runs, ...(timeBudgetMs !== undefined ? { timeBudgetMs } : {}) },
      (m) => log(m),
    );
  };

  const threshold = latencyThreshold(config.gate);
  const gated = config.gate.latency_ratio_max !== undefined;
  const runs: Array<Map<string, LatencyStats>> = [];
  for (let k = 0; k < measurements; k++) runs.push(await measure([...subjects.values()], k + 1));
  for (const p of pairs) {
    const each = runs.flatMap((stats, k) => {
      const b = stats.get(p.base.key);
      const h = stats.get(p.head.key);
      return b && h ? [{ b, h, cmp: compareLatency(b, h, threshold, BOOTSTRAP_SEED + k) }] : [];
    });
    if (each.length === 0) continue;
    const combined = combineComparisons(each.map((e) => e.cmp), threshold);
    const central = each[combined.central]!;
    p.measured = {
      base: central.b, head: central.h,
      latency: {
        ratio: combined.ratio, ci95: combined.ci95, verdict: combined.verdict, threshold, method: combined.resampling, gated,
        measurements: combined.measurements, runs: combined.runs,
      },
    };
  }

  return pairs.map((p) => {
    const input: PairInput = {
      id: p.id,
      base: sideMetrics(p.base, compatible, p.measured?.base),
      head: sideMetrics(p.head, compatible, p.measured?.head),
      agreement: compatible ? p.agreement : null,
      sameData: compatible,
      latency: p.measured ? p.measured.latency : null,
    };
    if (!gated) input.latencyNotGated = `no latency_ratio_max; verdict at the default ${UNGATED_LATENCY_THRESHOLD}×`;
    return buildPair(input, config.gate, config.metric);
  });
}

function sideMetrics(s: Subject, evaluated: boolean, l: LatencyStats | undefined): SideMetrics {
  const q = evaluated ? s.quality : undefined;
  const own = s.own;
  return {
    candidate: s.candidate,
    bytes: s.bytes,
    gzip_bytes: typeof own?.gzip_bytes === 'number' ? own.gzip_bytes : null,
    accuracy: q ? q.accuracy : own?.accuracy ?? null,
    mse: q ? q.mse : typeof own?.mse === 'number' ? own.mse : null,
    p50_ms: l?.p50_ms ?? null,
    p90_ms: l?.p90_ms ?? null,
    p99_ms: l?.p99_ms ?? null,
    throughput_items_per_s: l?.throughput_items_per_s ?? null,
    cold_start_ms: l?.cold_start_ms ?? null,
    peak_rss_bytes: l?.peak_rss_bytes ?? null,
    samples: l?.samples ?? null,
  };
}

/** Feeds for the base model from its own config, when the head's do not fit it. */
function ownFeeds(configPath: string, modelPath: string, batch: number): Feeds {
  const loaded = loadConfig(configPath);
  const inputs = resolveInputs(loadModel(modelPath), loaded.config.inputs, batch, 'base model');
  const dataset: Dataset = loaded.config.dataset ? loadDataset(loaded.config.dataset, loaded.resolve, inputs) : syntheticDataset(inputs);
  return dataset.feedsForBatch(benchmarkBatch(inputs, batch));
}
