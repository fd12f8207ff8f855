/**
 * The GitHub Action: read inputs → runGate → publish (job summary, outputs, annotations, artifact, PR comment).
 * The gate's verdict decides the step's result; publishing problems only ever warn.
 */
import path from 'node:path';
import * as core from '@actions/core';
import * as github from '@actions/github';
import { DefaultArtifactClient } from '@actions/artifact';
import { runGate, type GateRunResult } from './run.js';
import { errorMessage } from './errors.js';
import {
  SUMMARY_MAX_CHARS,
  artifactName,
  failedBudgetAnnotations,
  publishKey,
  publishStickyComment,
  stickyCommentBody,
  truncateMarkdown,
  uploadOutDir,
  type PullRequestTarget,
} from './publish/github.js';

interface ActionInputs {
  config: string;
  token: string;
  comment: boolean;
  failOnRegression: boolean;
  workingDirectory: string;
  reportKey: string;
  outDir: string;
}

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
    config: core.getInput('config') || 'modelgate.yml',
    token: core.getInput('github-token'),
    comment: booleanInput('comment', true),
    failOnRegression: booleanInput('fail-on-regression', true),
    workingDirectory: core.getInput('working-directory') || '.',
    reportKey: core.getInput('report-key'),
    outDir: core.getInput('out-dir') || 'modelgate-out',
  };
}

function pullRequestTarget(): PullRequestTarget | undefined {
  const { eventName, payload } = github.context;
  if (eventName !== 'pull_request' && eventName !== 'pull_request_target') return undefined;
  const issueNumber = payload.pull_request?.number;
  if (typeof issueNumber !== 'number') return undefined;
  const { owner, repo } = github.context.repo;
  return { owner, repo, issueNumber };
}

function runUrl(): string | undefined {
  const { serverUrl, runId } = github.context;
  const repository = process.env.GITHUB_REPOSITORY;
  return repository && runId ? `${serverUrl}/${repository}/actions/runs/${runId}` : undefined;
}

/** A path as GitHub wants it in annotations: relative to the workspace, with forward slashes. */
function workspacePath(workspace: string, file: string): string | undefined {
  const relative = path.relative(workspace, path.resolve(file));
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  return relative.split(path.sep).join('/');
}

async function writeSummary(markdown: string, key: string): Promise<void> {
  const notice = `**Report truncated** to fit the job summary limit; the full report is in the \`${artifactName(key)}\` artifact.`;
  await core.summary.addRaw(truncateMarkdown(markdown, SUMMARY_MAX_CHARS, notice), true).write();
}

async function publish(result: GateRunResult, inputs: ActionInputs, key: string, workspace: string): Promise<void> {
  try {
    await writeSummary(result.markdown, key);
  } catch (err) {
    core.warning(`could not write the job summary: ${errorMessage(err)}`);
  }

  core.setOutput('passed', String(result.exitCode === 0));
  core.setOutput('report-json', path.resolve(result.reportPath));
  core.setOutput('report-markdown', path.resolve(result.markdownPath));
  core.setOutput('selected-model', result.selectedModelPath ? path.resolve(result.selectedModelPath) : '');
  core.setOutput('deltas', JSON.stringify((result.report as { deltas?: unknown }).deltas ?? {}));

  if (result.exitCode === 1) {
    const file = workspacePath(workspace, result.configFile ?? inputs.config);
    const annotate = inputs.failOnRegression ? core.error : core.warning;
    for (const { message, ...properties } of failedBudgetAnnotations(result.report, result.locate, file)) annotate(message, properties);
  }

  if (process.env.ACTIONS_RUNTIME_TOKEN && process.env.ACTIONS_RESULTS_URL) {
    const name = artifactName(key);
    try {
      const uploaded = await uploadOutDir(new DefaultArtifactClient(), name, result.outDir);
      core.info(`uploaded ${uploaded.files} files from ${result.outDir} as artifact ${name} (id ${uploaded.id})`);
    } catch (err) {
      core.warning(`could not upload ${result.outDir} as artifact ${name}: ${errorMessage(err)}`);
    }
  } else {
    core.info('not on a GitHub runner (no ACTIONS_RUNTIME_TOKEN); skipping the artifact upload');
  }

  if (inputs.comment) await commentOnPullRequest(result.markdown, inputs.token, key);
}

async function commentOnPullRequest(markdown: string, token: string, key: string): Promise<void> {
  const target = pullRequestTarget();
  if (!target) {
    core.info(`no pull request in a ${github.context.eventName || 'local'} event; the report is in the job summary`);
    return;
  }
  if (!token) {
    core.warning('no github-token; skipping the PR comment. The report is in the job summary.');
    return;
  }
  const body = stickyCommentBody(markdown, { key, runUrl: runUrl() });
  const outcome = await publishStickyComment(github.getOctokit(token), target, key, body, core.warning);
  if (outcome.action !== 'skipped') core.info(`${outcome.action} comment ${outcome.url}`);
}

async function runAction(): Promise<void> {
  const inputs = readInputs();
  const workspace = path.resolve(process.env.GITHUB_WORKSPACE || process.cwd());
  // Inside the working directory, relative paths in inputs and a project's own node_modules resolve as the user expects.
  process.chdir(path.resolve(workspace, inputs.workingDirectory));
  const key = publishKey(inputs.reportKey, workspacePath(workspace, inputs.config) ?? inputs.config);

  const result = await runGate({ configPath: inputs.config, outDir: inputs.outDir, log: (message) => core.info(message) });
  await publish(result, inputs, key, workspace);

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
