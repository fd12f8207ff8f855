/**
 * mode: publish, in a `workflow_run` workflow with `pull-requests: write` and `actions: read`. It runs no code
 * from the pull request: it downloads the modelgate-* artifacts of the run that triggered it, treats them as
 * hostile (size caps, schema, escaping), believes the PR number only when GitHub's record of that run agrees,
 * and then posts one sticky comment per PR (one leg: the single-report comment; several: the merged one).
 */
import * as core from '@actions/core';
import * as github from '@actions/github';
import { DefaultArtifactClient } from '@actions/artifact';
import { renderComment, renderMergedComment, reportDeltas, type Leg } from '../../report/comment.js';
import { errorMessage } from '../../errors.js';
import { SUMMARY_MAX_CHARS, publishKey, type PullRequestTarget } from '../github.js';
import { plainText } from '../untrusted.js';
import { collectReports, verifyPullRequest, type CollectedLeg, type PullRequestInfo, type TriggeringRun } from './collect.js';
import { createCheckRun, headlineOf, postComment, writeSummary, type ActionInputs } from './shared.js';

function triggeringRun(): (TriggeringRun & { html_url?: string }) | undefined {
  if (github.context.eventName !== 'workflow_run') return undefined;
  const run = github.context.payload.workflow_run as Partial<TriggeringRun> & { html_url?: unknown } | undefined;
  if (!run || typeof run.id !== 'number' || typeof run.head_sha !== 'string') return undefined;
  return {
    id: run.id,
    event: typeof run.event === 'string' ? run.event : '',
    head_sha: run.head_sha,
    head_repository: run.head_repository ?? null,
    pull_requests: Array.isArray(run.pull_requests) ? run.pull_requests : [],
    ...(typeof run.html_url === 'string' ? { html_url: run.html_url } : {}),
  };
}

export async function runPublish(inputs: ActionInputs): Promise<void> {
  const run = triggeringRun();
  if (!run) {
    core.setFailed(
      `mode: publish runs in a workflow triggered by \`on: workflow_run\` (this is a ${github.context.eventName || 'local'} event). ` +
        'Use mode: measure (or auto) in the pull_request workflow. See "Pull requests from forks" in the README.',
    );
    return;
  }
  if (!inputs.token) {
    core.setFailed('mode: publish needs github-token (with pull-requests: write and actions: read) to read the artifacts and comment');
    return;
  }
  const { owner, repo } = github.context.repo;
  const octokit = github.getOctokit(inputs.token);
  const collected = await collectReports(new DefaultArtifactClient(), {
    keyPrefix: inputs.reportKey.trim(),
    findBy: { token: inputs.token, workflowRunId: run.id, repositoryOwner: owner, repositoryName: repo },
  });
  for (const r of collected.refused) core.error(`refused artifact ${r.name}: ${r.reason}`);

  const lookup = async (number: number): Promise<PullRequestInfo | undefined> => {
    try {
      const { data } = await octokit.rest.pulls.get({ owner, repo, pull_number: number });
      return { number: data.number, state: data.state, head: { sha: data.head.sha, repo: data.head.repo ? { full_name: data.head.repo.full_name } : null } };
    } catch (err) {
      if ((err as { status?: unknown }).status === 404) return undefined;
      throw err;
    }
  };
  const byPr = new Map<number, CollectedLeg[]>();
  const refused: string[] = collected.refused.map((r) => r.name);
  for (const leg of collected.legs) {
    const verdict = await verifyPullRequest(leg.context, run, lookup);
    if (!verdict.ok) {
      core.error(`refused artifact ${plainText(leg.artifact.name, 200)}: ${verdict.reason}`);
      refused.push(leg.artifact.name);
      continue;
    }
    byPr.set(verdict.number, [...(byPr.get(verdict.number) ?? []), leg]);
  }

  const accepted = [...byPr.values()].flat();
  core.setOutput('passed', String(accepted.length > 0 && accepted.every((l) => l.report.passed && typeof l.report.error !== 'string')));
  core.setOutput('selected-model', '');
  core.setOutput('deltas', JSON.stringify(accepted.length === 1 ? reportDeltas(accepted[0]!.report) ?? {} : Object.fromEntries(accepted.map((l) => [l.key, reportDeltas(l.report) ?? {}]))));

  const link = run.html_url;
  const summaries: string[] = [];
  for (const [number, legs] of byPr) {
    const target: PullRequestTarget = { owner, repo, issueNumber: number };
    let key: string;
    let body: string;
    let summary: string;
    if (legs.length === 1) {
      const leg = legs[0]!;
      key = publishKey(leg.key, 'default');
      const options = { ...(link ? { runUrl: link } : {}), artifactName: leg.artifact.name, ...(leg.context?.config ? { subtitle: leg.context.config } : {}) };
      body = renderComment(leg.report, options);
      summary = renderComment(leg.report, { ...options, limit: SUMMARY_MAX_CHARS / 2 });
    } else {
      key = publishKey(inputs.reportKey, inputs.config);
      const asLegs: Leg[] = legs.map((l) => ({ key: l.key, report: l.report, ...(l.context ? { runner: l.context.runner } : {}) }));
      body = renderMergedComment(asLegs, link ? { runUrl: link } : {});
      summary = renderMergedComment(asLegs, { limit: SUMMARY_MAX_CHARS / 2 });
    }
    summaries.push(summary);
    if (inputs.comment) await postComment(octokit, target, key, body);
    if (inputs.checkRun) {
      const passed = legs.every((l) => l.report.passed && typeof l.report.error !== 'string');
      await createCheckRun(octokit, { key, headSha: run.head_sha, passed, title: headlineOf(body), summary: body, ...(link ? { detailsUrl: link } : {}) });
    }
  }
  if (summaries.length > 0) await writeSummary(summaries.join('\n\n---\n\n'), 'modelgate-*');

  if (refused.length > 0) {
    core.setFailed(`refused ${refused.length} artifact${refused.length === 1 ? '' : 's'} from run ${run.id}: see the errors above. Nothing was posted from ${refused.length === 1 ? 'it' : 'them'}.`);
  } else if (accepted.length === 0) {
    core.warning(`no modelgate-${inputs.reportKey.trim()}* artifact in run ${run.id}: nothing to publish (did the measure job fail before uploading?)`);
  }
}

/** Wraps runPublish so that an API failure reads as one line, not a stack. */
export async function runPublishMode(inputs: ActionInputs): Promise<void> {
  try {
    await runPublish(inputs);
  } catch (err) {
    core.setFailed(`mode: publish: ${errorMessage(err)}`);
  }
}
