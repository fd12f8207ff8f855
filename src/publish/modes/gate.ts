/**
 * The modes that run the gate on this runner:
 * - run: gate, job summary, outputs, annotations, the out dir as artifact, and the sticky comment.
 * - auto (default): the same, except that where the token cannot write (a fork's PR, or a 403) it says how
 *   to set up the two-workflow mode instead of only warning; it never fails for want of a comment.
 * - measure: gate, summary, outputs, annotations, and an artifact with report.json, report.md and the context
 *   (PR number, head and base sha) for a `workflow_run` job in mode: publish. It never posts.
 */
import path from 'node:path';
import * as core from '@actions/core';
import * as github from '@actions/github';
import { DefaultArtifactClient } from '@actions/artifact';
import type { GateRunResult } from '../../commands/run.js';
import { renderComment } from '../../report/comment.js';
import { errorMessage } from '../../errors.js';
import { assumedWarning } from '../../model/io.js';
import { SUMMARY_MAX_CHARS, artifactName, failedBudgetAnnotations, uploadOutDir } from '../github.js';
import {
  TWO_WORKFLOW_NOTICE,
  artifactContext,
  createCheckRun,
  eventHeadSha,
  eventPullRequest,
  headlineOf,
  isForkPullRequest,
  postComment,
  runUrl,
  setReportOutputs,
  writeContextFile,
  writeSummary,
  type ActionInputs,
} from './shared.js';

/** A path as GitHub wants it in annotations: relative to the workspace, with forward slashes. */
export function workspacePath(workspace: string, file: string): string | undefined {
  const relative = path.relative(workspace, path.resolve(file));
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  return relative.split(path.sep).join('/');
}

function canUpload(): boolean {
  if (process.env.ACTIONS_RUNTIME_TOKEN && process.env.ACTIONS_RESULTS_URL) return true;
  core.info('not on a GitHub runner (no ACTIONS_RUNTIME_TOKEN); skipping the artifact upload');
  return false;
}

async function upload(name: string, outDir: string, files?: string[]): Promise<void> {
  try {
    const client = new DefaultArtifactClient();
    if (files) {
      const { id } = await client.uploadArtifact(name, files, outDir);
      core.info(`uploaded ${files.map((f) => path.basename(f)).join(', ')} as artifact ${name} (id ${id})`);
    } else {
      const uploaded = await uploadOutDir(client, name, outDir);
      core.info(`uploaded ${uploaded.files} files from ${outDir} as artifact ${name} (id ${uploaded.id})`);
    }
  } catch (err) {
    core.warning(`could not upload ${outDir} as artifact ${name}: ${errorMessage(err)}`);
  }
}

/**
 * Everything after runGate for run / auto / measure. Returns the step's verdict; the caller fails the step.
 * `config` is the config path relative to the workspace (it names the comment and the artifact by default).
 */
export async function publishGateResult(result: GateRunResult, inputs: ActionInputs, key: string, workspace: string, config: string): Promise<void> {
  const name = artifactName(key);
  const link = runUrl();
  const body = renderComment(result.report, { ...(link ? { runUrl: link } : {}), artifactName: name, subtitle: config });
  // The summary has a megabyte: it gets the whole report, never a trimmed one.
  const summary = renderComment(result.report, { artifactName: name, subtitle: config, limit: SUMMARY_MAX_CHARS - 1000 });
  await writeSummary(summary, name);

  setReportOutputs(result.report, result.selectedModelPath ? path.resolve(result.selectedModelPath) : null);
  core.setOutput('report-json', path.resolve(result.reportPath));
  core.setOutput('report-markdown', path.resolve(result.markdownPath));

  // Dims ModelGate chose for the user: an annotation, so that the run's page says so too.
  const assumed = result.report.inputs_assumed ?? [];
  if (assumed.length > 0) core.warning(`${assumedWarning(assumed)}\n${result.report.inputs_snippet ?? ''}`, { title: 'ModelGate assumed input shapes' });

  if (result.exitCode === 1) {
    const file = workspacePath(workspace, result.configFile ?? inputs.config);
    const annotate = inputs.failOnRegression ? core.error : core.warning;
    for (const { message, ...properties } of failedBudgetAnnotations(result.report, result.locate, file)) annotate(message, properties);
  }

  const context = artifactContext(key, inputs.mode, config);
  if (canUpload()) {
    try {
      const contextFile = writeContextFile(result.outDir, context);
      // measure's artifact is read by a privileged job: only what it needs, so it stays small.
      await upload(name, result.outDir, inputs.mode === 'measure' ? [result.reportPath, result.markdownPath, contextFile] : undefined);
    } catch (err) {
      core.warning(`could not write ${result.outDir}: ${errorMessage(err)}`);
    }
  }

  const target = eventPullRequest();
  const octokit = inputs.token ? github.getOctokit(inputs.token) : undefined;
  if (inputs.mode === 'measure') {
    core.info(`mode: measure: the report is in artifact ${name}${target ? ` for PR #${target.issueNumber}` : ''}; a workflow_run job in mode: publish posts it`);
  } else if (inputs.comment) {
    if (!target) {
      core.info(`no pull request in a ${github.context.eventName || 'local'} event; the report is in the job summary`);
    } else if (!octokit) {
      core.warning('no github-token; skipping the PR comment. The report is in the job summary.');
    } else if (inputs.mode === 'auto' && isForkPullRequest()) {
      core.notice(TWO_WORKFLOW_NOTICE);
    } else {
      const outcome = await postComment(octokit, target, key, body);
      if (outcome.action === 'skipped' && inputs.mode === 'auto') core.notice(TWO_WORKFLOW_NOTICE);
    }
  }

  if (inputs.checkRun && octokit && inputs.mode !== 'measure') {
    await createCheckRun(octokit, {
      key,
      headSha: eventHeadSha(),
      passed: result.exitCode === 0,
      title: headlineOf(body),
      summary: body,
      ...(link ? { detailsUrl: link } : {}),
    });
  }
}
