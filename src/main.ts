/**
 * The GitHub Action's body (src/index.ts only calls run(), so tests can import this): read inputs, then one of the modes (src/publish/modes):
 * auto / run / measure run the gate here (runGate → summary, outputs, annotations, artifact, comment);
 * publish posts a fork's report from a workflow_run; merge posts one comment for a matrix.
 * The gate's verdict decides the step's result; publishing problems only ever warn.
 */
import path from 'node:path';
import * as core from '@actions/core';
import { execFileSync } from 'node:child_process';
import * as github from '@actions/github';
import * as actionsCache from '@actions/cache';
import { runGate, type GateRunResult } from './commands/run.js';
import { runCompare } from './commands/compare.js';
import { errorMessage } from './errors.js';
import { publishKey } from './publish/github.js';
import { parseMode, type ActionInputs } from './publish/modes/shared.js';
import { publishGateResult, workspacePath } from './publish/modes/gate.js';
import { runPublishMode } from './publish/modes/publish.js';
import { runMergeMode } from './publish/modes/merge.js';
import { loadConfig } from './config/load.js';
import { ensureRuntime, hasCompiler, type RuntimeCache } from './runtime/install.js';
import { ORT_PACKAGE, resolveOrtWithoutInstall } from './runtime/ort.js';
import { TFLITE_PLATFORMS, TFLITE_RUNTIME_PACKAGE, resolveTfliteWithoutInstall } from './runtime/tflite.js';
import { workflowText } from './report/escape.js';
import { prepareOutDir } from './io/files.js';

// Defaults repeat action.yml's so that `node dist/index.js` behaves the same outside a runner.
function booleanInput(name: string, fallback: boolean): boolean {
  const raw = core.getInput(name).trim().toLowerCase();
  if (raw === '') return fallback;
  if (['true', 'yes', 'on', '1'].includes(raw)) return true;
  if (['false', 'no', 'off', '0'].includes(raw)) return false;
  throw new Error(`input ${name} must be true or false, got "${core.getInput(name)}"`);
}

function readInputs(): ActionInputs {
  return {
    mode: parseMode(core.getInput('mode')),
    config: core.getInput('config') || 'modelgate.yml',
    token: core.getInput('github-token'),
    comment: booleanInput('comment', true),
    failOnRegression: booleanInput('fail-on-regression', true),
    workingDirectory: core.getInput('working-directory') || '.',
    reportKey: core.getInput('report-key'),
    outDir: core.getInput('out-dir') || 'modelgate-out',
    checkRun: booleanInput('check-run', false),
    compare: booleanInput('compare', true),
  };
}

async function runAction(): Promise<void> {
  const inputs = readInputs();
  if (inputs.mode === 'publish') return runPublishMode(inputs);
  if (inputs.mode === 'merge') return runMergeMode(inputs);

  const workspace = path.resolve(process.env.GITHUB_WORKSPACE || process.cwd());
  // Inside the working directory, relative paths in inputs and a project's own node_modules resolve as the user expects.
  process.chdir(path.resolve(workspace, inputs.workingDirectory));
  const config = workspacePath(workspace, inputs.config) ?? inputs.config;
  const key = publishKey(inputs.reportKey, config);

  await prepareRuntimes(inputs.config);
  const result = await gateOrCompare(inputs);
  await publishGateResult(result, inputs, key, workspace, config);

  if (result.exitCode === 2) {
    core.setFailed(result.error ?? 'ModelGate could not run; see report.md');
  } else if (result.exitCode === 1) {
    const message = 'ModelGate: no candidate passed the gate; see the job summary';
    if (inputs.failOnRegression) core.setFailed(message);
    else core.warning(`${message} (fail-on-regression is off)`);
  }
}

/** The Actions cache, when this runner has the cache service (not on GHES without it, nor outside a runner). */
function actionsRuntimeCache(): RuntimeCache | undefined {
  if (!actionsCache.isFeatureAvailable()) return undefined;
  return {
    restore: async (dir, key) => (await actionsCache.restoreCache([dir], key)) !== undefined,
    save: async (dir, key) => {
      await actionsCache.saveCache([dir], key);
    },
  };
}

/** The config asks for the TFLite runtime: a .tflite model, or a tflite step in a recipe. */
function configNeedsTflite(configPath: string): boolean {
  try {
    const { config } = loadConfig(configPath);
    if (config.model.toLowerCase().endsWith('.tflite')) return true;
    return config.optimize.some((entry) => 'passes' in entry && entry.passes.some((p) => typeof p === 'object' && p !== null && 'tflite' in p));
  } catch {
    return false; // the gate reports the broken config itself
  }
}

/**
 * onnxruntime-node (and tfjs-tflite-node when the config needs it and a C++ compiler is here) into the tool cache,
 * restored from the Actions cache or installed with npm ci from the committed lockfile, before the pipeline needs them.
 * Nothing to do when they resolve already (MODELGATE_ORT_PATH / MODELGATE_TFLITE_PATH, node_modules beside dist/ or
 * in the working directory).
 */
async function prepareRuntimes(configPath: string): Promise<void> {
  const log = (message: string) => core.info(message);
  const cache = actionsRuntimeCache();
  if (!resolveOrtWithoutInstall()) {
    try {
      await ensureRuntime(ORT_PACKAGE, { cache, log });
    } catch (err) {
      // The gate tries once more on its own and writes report.json with the error if that fails too.
      core.warning(errorMessage(err));
    }
  }
  if (!configNeedsTflite(configPath) || resolveTfliteWithoutInstall()) return;
  if (!(TFLITE_PLATFORMS as readonly string[]).includes(`${process.platform}-${process.arch}`)) return;
  if (!hasCompiler()) {
    core.warning('the config has TFLite candidates, but no C++ compiler is on PATH to build tfjs-tflite-node: its candidates will report the runtime as unavailable');
    return;
  }
  try {
    await ensureRuntime(TFLITE_RUNTIME_PACKAGE, { cache, log });
  } catch (err) {
    core.warning(`the TFLite runtime could not be installed: ${errorMessage(err)}`);
  }
}

/** The PR's base commit, when this is a pull request run in a git work tree (else the plain gate runs). */
function pullRequestBase(): string | undefined {
  const base = (github.context.payload.pull_request as { base?: { sha?: string } } | undefined)?.base?.sha;
  if (!base) return undefined;
  try {
    execFileSync('git', ['rev-parse', '--is-inside-work-tree'], { stdio: 'ignore' });
    return base;
  } catch {
    core.notice(`not a git work tree: gating the head alone, without the base ${base.slice(0, 8)}. Run actions/checkout first.`);
    return undefined;
  }
}

/**
 * On a pull request, head against base: the base revision's model and config are taken
 * from git, both sides run the same pipeline, and base and head are measured interleaved.
 */
async function gateOrCompare(inputs: ActionInputs): Promise<GateRunResult> {
  // Log lines carry names from the model file: none may start a workflow command.
  const log = (message: string) => core.info(workflowText(message));
  prepareOutDir(inputs.outDir, 'out-dir');
  const baseRef = inputs.compare ? pullRequestBase() : undefined;
  if (!baseRef) return runGate({ configPath: inputs.config, outDir: inputs.outDir, log });
  const compared = await runCompare({ configPath: inputs.config, baseRef, outDir: inputs.outDir, log });
  return {
    exitCode: compared.exitCode,
    report: compared.report,
    markdown: compared.markdown,
    outDir: compared.outDir,
    reportPath: compared.reportPath,
    markdownPath: compared.markdownPath,
    selectedModelPath: compared.head?.selectedModelPath ?? null,
    error: compared.error,
    configFile: compared.head?.configFile,
    locate: compared.head?.locate,
  };
}

/** Runs the action; never rejects: any error fails the step with a one-line message. */
export async function run(): Promise<void> {
  try {
    await runAction();
  } catch (err) {
    core.setOutput('passed', 'false');
    core.setFailed(errorMessage(err));
  }
}
