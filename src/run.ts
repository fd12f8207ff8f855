/**
 * The pipeline, top to bottom: config → model → passes → evaluate → benchmark → gate → report.
 * (Stub signature; the implementation lands with the foundation.)
 */
import type { Report } from './report/types.js';

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

export async function runGate(_options: GateRunOptions): Promise<GateRunResult> {
  throw new Error('not implemented yet');
}
