/**
 * The GitHub Action: read inputs, then one of the modes (src/publish/modes):
 * auto / run / measure run the gate here (runGate → summary, outputs, annotations, artifact, comment);
 * publish posts a fork's report from a workflow_run; merge posts one comment for a matrix.
 * The gate's verdict decides the step's result; publishing problems only ever warn.
 */
import path from 'node:path';
import * as core from '@actions/core';
import { runGate } from './run.js';
import { errorMessage } from './errors.js';
import { publishKey } from './publish/github.js';
import { parseMode, type ActionInputs } from './publish/modes/shared.js';
import { publishGateResult, workspacePath } from './publish/modes/gate.js';
import { runPublishMode } from './publish/modes/publish.js';
import { runMergeMode } from './publish/modes/merge.js';

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

  const result = await runGate({ configPath: inputs.config, outDir: inputs.outDir, log: (message) => core.info(message) });
  await publishGateResult(result, inputs, key, workspace, config);

  if (result.exitCode === 2) {
    core.setFailed(result.error ?? 'ModelGate could not run; see report.md');
  } else if (result.exitCode === 1) {
    const message = 'ModelGate: no candidate passed the gate; see the job summary';
    if (inputs.failOnRegression) core.setFailed(message);
    else core.warning(`${message} (fail-on-regression is off)`);
  }
}

runAction().catch((err: unknown) => {
  core.setOutput('passed', 'false');
  core.setFailed(errorMessage(err));
});
