/**
 * `modelgate compare`: the same pipeline for the base revision and the working tree (head), then the
 * repo's model (and each side's selected candidate) measured base vs head interleaved in one job,
 * and the head config's budgets applied to head against base. Exit 1 on a regression, 0 without,
 * 2 on an error; report.json is written in every case.
 */
import { existsSync } from 'node:fs';
import { readFileSafe } from '../io/files.js';
import { REPORT_LIMITS } from '../report/validate.js';
import path from 'node:path';
import { emptyReport, failureMessage, runGate, type GateRunOptions, type GateRunResult } from './run.js';
import { resolveMergeBase } from '../git/base.js';
import type { Report } from '../report/types.js';
import { writeReportFiles } from '../report/write.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { extractBase, gitToplevel } from '../compare/extract.js';
import { compareReports, flattenChecks } from '../compare/reports.js';
import { compareSides, type Side } from '../compare/sides.js';
import { renderCompareMarkdown } from '../report/compare-markdown.js';
import type { BaseSide, CompareCheck, CompareReport, HeadSide, PairComparison } from '../report/types.js';

export { compareReports, type CompareReportsOptions, type ReportComparison } from '../compare/reports.js';
export { renderCompareMarkdown, renderCompareTable } from '../report/compare-markdown.js';
export type * from '../report/types.js';

export interface CompareOptions {
  /** The head's modelgate.yml, in a git work tree. */
  configPath: string;
  /** Branch, tag or sha to compare against (its merge base with HEAD is used). Required unless baseReportPath is given. */
  baseRef?: string;
  /** Compare against a report.json produced elsewhere instead of a git revision. */
  baseReportPath?: string;
  outDir: string;
  log?: (message: string) => void;
  /** k of n done in a long step, for each side's pipeline. */
  progress?: GateRunOptions['progress'];
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

/**
 * Independent interleaved measurements (fresh workers each) per compare. About one measurement in
 * 40 on a shared 2-core runner comes out grossly wrong with a tight CI (0.62× for a model 9% slower)
 * or with a CI too wide to decide; the median of three is wrong only when two of them are.
 */
export const LATENCY_MEASUREMENTS = 3;

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
    const markdown = renderCompareMarkdown(report);
    const { reportPath, markdownPath } = writeReportFiles(outDir, report, markdown);
    const result: CompareResult = { exitCode, report, markdown, outDir, reportPath, markdownPath };
    if (error) result.error = error;
    if (headRun) result.head = headRun;
    if (baseRun) result.base = baseRun;
    return result;
  };

  /** Runs the head pipeline; its report becomes the body of the compare report. */
  const runHead = async (configPath: string): Promise<GateRunResult> => {
    headRun = await runGate({ configPath, outDir: path.join(outDir, 'head'), log: (m) => log(`head: ${m}`), ...(options.progress ? { progress: options.progress } : {}) });
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

    // A base that cannot be had (a force-pushed or unfetchable sha, no config or model there, a base that
    // does not run) never fails the job: the head is gated on its own, and the report says why.
    const unavailable = async (why: string): Promise<CompareResult> => {
      base.missing = `the base was not available: ${why}`;
      log(`base: ${base.missing}; gating the head on its own`);
      const h = headRun ?? (await runHead(configPath));
      if (h.exitCode === 2) return finish(2, `head: ${h.error}`);
      checks = [headGateCheck()];
      return finish(h.exitCode === 0 ? 0 : 1);
    };
    const repoDir = options.repoDir ? path.resolve(options.repoDir) : await gitToplevel(path.dirname(configPath));
    let checkout: Awaited<ReturnType<typeof extractBase>>;
    try {
      const mb = await resolveMergeBase(repoDir, options.baseRef!, 'HEAD', options.remote ? { remote: options.remote } : {});
      Object.assign(base, { sha: mb.sha, ref_sha: mb.baseSha, fetched_depth: mb.fetchedDepth });
      head.sha = mb.headSha;
      log(`base: ${options.baseRef} → merge base ${mb.sha.slice(0, 8)}${mb.fetchedDepth !== null ? ` (fetched to depth ${mb.fetchedDepth})` : ''}`);
      checkout = await extractBase(repoDir, mb.sha, configPath, path.join(outDir, 'base', 'checkout'));
    } catch (err) {
      return unavailable(errorMessage(err));
    }
    if (checkout.missing !== undefined || checkout.configPath === null) return unavailable(checkout.missing ?? 'no config at base');

    const h = await runHead(configPath);
    if (h.exitCode === 2 || !h.pipeline) return finish(2, `head: ${h.error}`);
    baseRun = await runGate({ configPath: checkout.configPath, outDir: path.join(outDir, 'base'), log: (m) => log(`base: ${m}`), ...(options.progress ? { progress: options.progress } : {}) });
    Object.assign(base, summarizeBase(baseRun.report));
    if (baseRun.exitCode === 2 || !baseRun.pipeline) return unavailable(`the base pipeline could not run (${baseRun.error ?? 'unknown error'})`);

    comparison = await compareSides(side(baseRun), side(h), {
      measurements: Math.max(1, Math.floor(options.latencyMeasurements ?? LATENCY_MEASUREMENTS)), log,
      ...(options.timeBudgetMs !== undefined ? { timeBudgetMs: options.timeBudgetMs } : {}),
    }, warnings);
    checks = [headGateCheck(), ...flattenChecks(comparison)];
    return finish(verdict());
  } catch (err) {
    return finish(2, failureMessage(err));
  }
}

/** What the comparison step needs from a side's run: its typed results, not its report.json. */
function side(run: GateRunResult): Side {
  const p = run.pipeline!;
  return {
    config: p.project.config, inputs: p.project.inputs, dataset: p.project.dataset, results: p.results, selected: p.gate.selected,
    gzip: new Map(run.report.candidates.flatMap((c) => (typeof c.gzip_bytes === 'number' ? [[c.id, c.gzip_bytes] as const] : []))),
    ...(p.decoder ? { decoder: p.decoder } : {}),
  };
}

function readReport(file: string): Report {
  let data: unknown;
  try {
    data = JSON.parse(readFileSafe(file, { maxBytes: REPORT_LIMITS.bytes, what: 'base report' }).toString('utf8'));
  } catch (err) {
    throw new ModelGateError(`${file}: cannot read the base report (${errorMessage(err)})`, { cause: err });
  }
  const r = data as Partial<Report> | null;
  if (!r || ![1, 2].includes(r.schemaVersion as number) || !Array.isArray(r.candidates) || typeof r.hardware !== 'object' || r.hardware === null) {
    throw new ModelGateError(`${file}: not a modelgate report.json (schemaVersion 1 or 2, with candidates and hardware)`);
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
