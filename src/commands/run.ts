/**
 * `modelgate run`: the stages once (./pipeline.ts), then the report. report.json and report.md are
 * written on every exit, with whatever was measured before an error.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../config/types.js';
import { REFERENCE_ID } from '../candidates/types.js';
import { hardwareFingerprint } from '../benchmark/hardware.js';
import { ORT_VERSION } from '../runtime/ort.js';
import { TFLITE_PACKAGE, TFLITE_PACKAGE_VERSION } from '../runtime/tflite.js';
import { candidateReport } from '../report/build.js';
import { renderMarkdown } from '../report/markdown.js';
import type { Report } from '../report/types.js';
import { writeReportFiles } from '../report/write.js';
import { configLabel, sourceReport } from '../load/project.js';
import { ModelGateError } from '../errors.js';
import { assumedSnippet } from '../model/io.js';
import { describeSyntheticImages } from '../data/synthetic-image.js';
import { TOOL_VERSION } from '../version.js';
import { runPipeline, type PipelineResult, type ProgressCallback } from './pipeline.js';

export interface GateRunOptions {
  configPath: string;
  outDir: string;
  /** Progress and info lines; the CLI prints them, the action sends them to core.info. */
  log?: (message: string) => void;
  /** k of n done in a long step; the CLI draws a bar with an ETA. */
  progress?: ProgressCallback;
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
  locate?: LoadedConfig['locate'];
  /** The stages' typed results, when the pipeline ran to the end (compare reads these, never report.json). */
  pipeline?: PipelineResult;
}

/** A report with nothing measured yet: what an early error still writes, and what every run fills in. */
export function emptyReport(): Report {
  return {
    schemaVersion: 2,
    passed: false,
    tool: { name: 'modelgate', version: TOOL_VERSION },
    hardware: hardwareFingerprint(),
    runtime: { onnxruntime: ORT_VERSION },
    reference: REFERENCE_ID,
    selected: null,
    candidates: [],
  };
}

/** The message an exit-2 error carries: ours as it is, anything else marked as a bug with its stack. */
export function failureMessage(err: unknown): string {
  return err instanceof ModelGateError ? err.message : `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
}

/** Fills `report` from a pipeline's results. */
export function reportPipeline(report: Report, p: PipelineResult): void {
  const { config } = p.project;
  report.candidates = p.results.map((r) => candidateReport(r, p.outDir));
  report.selected = p.gate.selected;
  report.passed = report.selected !== null;
  const { dataset, calibration } = p.project;
  report.dataset = {
    samples: dataset.count, labelled: dataset.hasLabels, synthetic: dataset.synthetic, ...(dataset.source ? { source: dataset.source } : {}),
    calibration: { ...(calibration.source ? { source: calibration.source } : {}), overlaps_evaluation: calibration.overlapsEvaluation === true },
  };
  const images = dataset.synthetic ? describeSyntheticImages(p.project.inputs) : [];
  if (images.length > 0) report.dataset.synthetic_images = images;
  if (p.project.assumed.length > 0) {
    report.inputs_assumed = p.project.assumed;
    report.inputs_snippet = assumedSnippet(p.project.inputs, p.project.assumed);
  }
  const source = sourceReport(p.project);
  if (source) report.source = source;
  const tfjs = p.results.flatMap((r) => (r.candidate.provenance.kind === 'tfjs-export' ? [r.candidate.provenance] : []));
  if (tfjs.length > 0) {
    report.tfjs_export = tfjs.map((t) => t.export);
    report.runtime.tfjs = tfjs[0]!.runtime;
  }
  if (p.results.some((r) => r.candidate.runtimeKind === 'tflite')) report.runtime.tflite = `${TFLITE_PACKAGE}@${TFLITE_PACKAGE_VERSION} (libtensorflowlite_c)`;
  report.gate = { ...config.gate, select: config.select, metric: config.metric, budgets: p.gate.budgets };
}

export async function runGate(options: GateRunOptions): Promise<GateRunResult> {
  const log = options.log ?? (() => {});
  const outDir = path.resolve(options.outDir);
  const report = emptyReport();
  let loaded: LoadedConfig | undefined;
  let pipeline: PipelineResult | undefined;
  const finish = (exitCode: 0 | 1 | 2, error?: string): GateRunResult => {
    if (error) report.error = error;
    const markdown = renderMarkdown(report);
    const { reportPath, markdownPath } = writeReportFiles(outDir, report, markdown);
    const selected = pipeline?.results.find((r) => r.candidate.id === report.selected);
    return {
      exitCode, report, markdown, outDir, reportPath, markdownPath, selectedModelPath: selected ? selected.candidate.file : null,
      ...(error ? { error } : {}), ...(loaded ? { configFile: loaded.file, locate: loaded.locate } : {}), ...(pipeline ? { pipeline } : {}),
    };
  };
  try {
    mkdirSync(outDir, { recursive: true });
    pipeline = await runPipeline(options.configPath, outDir, {
      log,
      ...(options.progress ? { progress: options.progress } : {}),
      onConfig: (l) => {
        loaded = l;
        report.config = configLabel(l);
      },
      onExport: (exported) => {
        report.export = exported;
      },
    });
    reportPipeline(report, pipeline);
    return finish(report.passed ? 0 : 1);
  } catch (err) {
    return finish(2, failureMessage(err));
  }
}
