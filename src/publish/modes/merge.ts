/**
 * mode: merge, in a job that `needs:` the matrix: reads every leg's modelgate-<report-key> artifact of this
 * run and posts ONE comment with a column per runner. The step fails when any leg failed its gate (or when
 * there is nothing to merge), so the matrix has one verdict.
 */
import * as core from '@actions/core';
import * as github from '@actions/github';
import { DefaultArtifactClient } from '@actions/artifact';
import { renderMergedComment, reportDeltas, type Leg } from '../../report/comment.js';
import { errorMessage } from '../../errors.js';
import { SUMMARY_MAX_CHARS, publishKey } from '../github.js';
import { collectReports } from './collect.js';
import { TWO_WORKFLOW_NOTICE, createCheckRun, eventHeadSha, eventPullRequest, headlineOf, isForkPullRequest, postComment, runUrl, writeSummary, type ActionInputs } from './shared.js';

export async function runMerge(inputs: ActionInputs): Promise<void> {
  const prefix = inputs.reportKey.trim();
  const collected = await collectReports(new DefaultArtifactClient(), { keyPrefix: prefix });
  for (const r of collected.refused) core.warning(`skipped artifact ${r.name}: ${r.reason}`);
  if (collected.legs.length === 0) {
    core.setFailed(`mode: merge found no readable modelgate-${prefix}* artifact in this run: do the matrix legs run ModelGate (mode: measure) before this job?`);
    return;
  }
  const legs: Leg[] = collected.legs.map((l) => ({ key: l.key, report: l.report, ...(l.context ? { runner: l.context.runner } : {}) }));
  const failed = legs.filter((l) => !l.report.passed || typeof l.report.error === 'string');
  const key = publishKey(prefix, inputs.config);
  const link = runUrl();
  const body = renderMergedComment(legs, link ? { runUrl: link } : {});
  await writeSummary(renderMergedComment(legs, { limit: SUMMARY_MAX_CHARS - 1000 }), `modelgate-${prefix}*`);

  core.setOutput('passed', String(failed.length === 0 && collected.refused.length === 0));
  core.setOutput('selected-model', '');
  core.setOutput('deltas', JSON.stringify(Object.fromEntries(legs.map((l) => [l.key, reportDeltas(l.report) ?? {}]))));

  const target = eventPullRequest();
  const octokit = inputs.token ? github.getOctokit(inputs.token) : undefined;
  if (inputs.comment && target && octokit) {
    if (isForkPullRequest()) core.notice(TWO_WORKFLOW_NOTICE);
    else {
      const outcome = await postComment(octokit, target, key, body);
      if (outcome.action === 'skipped') core.notice(TWO_WORKFLOW_NOTICE);
    }
  } else if (inputs.comment && !target) {
    core.info(`no pull request in a ${github.context.eventName || 'local'} event; the merged report is in the job summary`);
  }
  if (inputs.checkRun && octokit) {
    await createCheckRun(octokit, { key, headSha: eventHeadSha(), passed: failed.length === 0, title: headlineOf(body), summary: body, ...(link ? { detailsUrl: link } : {}) });
  }

  const problems = [
    ...failed.map((l) => `${l.key} ${typeof l.report.error === 'string' ? 'could not run' : 'failed its gate'}`),
    ...collected.refused.map((r) => `${r.name} could not be read`),
  ];
  if (problems.length === 0) return;
  const message = `ModelGate merge: ${problems.join('; ')}`;
  // A leg that could not be read is never excused: the matrix has no verdict without it.
  if (inputs.failOnRegression || collected.refused.length > 0) core.setFailed(message);
  else core.warning(`${message} (fail-on-regression is off)`);
}

export async function runMergeMode(inputs: ActionInputs): Promise<void> {
  try {
    await runMerge(inputs);
  } catch (err) {
    core.setFailed(`mode: merge: ${errorMessage(err)}`);
  }
}
