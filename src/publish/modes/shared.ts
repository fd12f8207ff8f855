/**
 * What the action's modes share: inputs, the pull request an event is about, the artifact context file,
 * the sticky comment and the job summary, the outputs, and the optional check run.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as core from '@actions/core';
import * as github from '@actions/github';
import type { Report } from '../../report/types.js';
import { COMMENT_LIMIT, reportDeltas } from '../../report/comment.js';
import { errorMessage } from '../../errors.js';
import { SUMMARY_MAX_CHARS, commentMarker, publishStickyComment, truncateMarkdown, type GitHubClient, type PullRequestTarget, type StickyCommentResult } from '../github.js';
import { CONTEXT_FILE, type ArtifactContext } from '../untrusted.js';

export const MODES = ['auto', 'run', 'measure', 'publish', 'merge'] as const;
export type ActionMode = (typeof MODES)[number];

export function parseMode(raw: string): ActionMode {
  const mode = raw.trim().toLowerCase() || 'auto';
  if (!(MODES as readonly string[]).includes(mode)) throw new Error(`input mode must be one of ${MODES.join(', ')}; got "${raw}"`);
  return mode as ActionMode;
}

export interface ActionInputs {
  mode: ActionMode;
  config: string;
  token: string;
  comment: boolean;
  failOnRegression: boolean;
  workingDirectory: string;
  reportKey: string;
  outDir: string;
  checkRun: boolean;
  /** On pull_request events, also run the base revision and compare head against it. */
  compare: boolean;
}

/** The artifact name prefix every leg uploads under: modelgate-<key>. */
export const ARTIFACT_PREFIX = 'modelgate-';

type PullRequestPayload = {
  number?: unknown;
  head?: { sha?: unknown; repo?: { full_name?: unknown } | null };
  base?: { sha?: unknown; repo?: { full_name?: unknown } | null };
};

function pullRequestPayload(): PullRequestPayload | undefined {
  const { eventName, payload } = github.context;
  if (eventName !== 'pull_request' && eventName !== 'pull_request_target') return undefined;
  return payload.pull_request as PullRequestPayload | undefined;
}

/** The pull request of a pull_request / pull_request_target event. */
export function eventPullRequest(): PullRequestTarget | undefined {
  const pr = pullRequestPayload();
  if (typeof pr?.number !== 'number') return undefined;
  const { owner, repo } = github.context.repo;
  return { owner, repo, issueNumber: pr.number };
}

/**
 * A pull request from a fork: its head lives in another repository. Its `pull_request` runs get a
 * read-only token and no secrets, whatever the workflow's permissions say.
 */
export function isForkPullRequest(): boolean {
  const pr = pullRequestPayload();
  const head = pr?.head?.repo?.full_name;
  const base = pr?.base?.repo?.full_name ?? process.env.GITHUB_REPOSITORY;
  return typeof head === 'string' && typeof base === 'string' && head !== base;
}

/** The commit a check run belongs on: the PR head (not the merge commit a pull_request run checks out). */
export function eventHeadSha(): string {
  const sha = pullRequestPayload()?.head?.sha;
  return typeof sha === 'string' ? sha : github.context.sha;
}

export function runUrl(runId = github.context.runId): string | undefined {
  const repository = process.env.GITHUB_REPOSITORY;
  return repository && runId ? `${github.context.serverUrl}/${repository}/actions/runs/${runId}` : undefined;
}

/** The context file measure/run/auto put beside report.json, for publish to check the artifact against its triggering run. */
export function artifactContext(key: string, mode: ActionMode, config: string): ArtifactContext {
  const pr = pullRequestPayload();
  const sha = (v: unknown) => (typeof v === 'string' && /^[0-9a-f]{40}$/.test(v) ? v : null);
  return {
    kind: 'modelgate-context',
    version: 1,
    key,
    mode,
    config,
    event: github.context.eventName ?? '',
    pull_request: typeof pr?.number === 'number' ? pr.number : null,
    head_sha: sha(pr?.head?.sha) ?? sha(github.context.sha),
    base_sha: sha(pr?.base?.sha),
    run_id: github.context.runId || null,
    runner: { os: process.env.RUNNER_OS ?? '', arch: process.env.RUNNER_ARCH ?? '', name: process.env.RUNNER_NAME ?? '' },
  };
}

export function writeContextFile(outDir: string, context: ArtifactContext): string {
  const file = path.join(outDir, CONTEXT_FILE);
  writeFileSync(file, JSON.stringify(context, null, 2) + '\n');
  return file;
}

export async function writeSummary(markdown: string, artifact: string): Promise<void> {
  const notice = `**Report truncated** to fit the job summary limit; the full report is in the \`${artifact}\` artifact.`;
  try {
    await core.summary.addRaw(truncateMarkdown(markdown, SUMMARY_MAX_CHARS, notice), true).write();
  } catch (err) {
    core.warning(`could not write the job summary: ${errorMessage(err)}`);
  }
}

/** The comment with its marker, within GitHub's limit (the renderer already fits the body; this is the last guard). */
export function withMarker(key: string, body: string): string {
  const text = `${commentMarker(key)}\n${body}`;
  return truncateMarkdown(text, COMMENT_LIMIT, '**Report truncated**: the full report is in the job summary and the artifact.');
}

export async function postComment(
  octokit: GitHubClient,
  target: PullRequestTarget,
  key: string,
  body: string,
  warn: (message: string) => void = core.warning,
): Promise<StickyCommentResult> {
  const outcome = await publishStickyComment(octokit, target, key, withMarker(key, body), warn);
  if (outcome.action !== 'skipped') core.info(`${outcome.action} comment ${outcome.url}`);
  return outcome;
}

/** How to get comments on fork PRs: printed as a notice whenever auto mode could not comment. */
export const TWO_WORKFLOW_NOTICE =
  'ModelGate could not comment on this pull request: runs for pull requests from forks (and Dependabot) get a read-only token. ' +
  'The report is in the job summary and the modelgate-* artifact. To get the comment on such PRs, use two workflows: ' +
  'this one with `mode: measure` (no write permission needed), and a `workflow_run` workflow with `mode: publish` and ' +
  '`permissions: pull-requests: write, actions: read` that posts from the artifact. See "Pull requests from forks" in the README.';

export function setReportOutputs(report: Report, selectedModelPath: string | null): void {
  core.setOutput('passed', String(report.passed && typeof report.error !== 'string'));
  core.setOutput('selected-model', selectedModelPath ?? '');
  core.setOutput('deltas', JSON.stringify(reportDeltas(report) ?? {}));
}

/** GitHub caps a check run's output.summary at 65,535 characters. */
const CHECK_SUMMARY_MAX = 65_535;

/**
 * A completed check run on `headSha` (needs `checks: write`). A check run is a convenience like the
 * comment: failing to create one warns, it never fails the step.
 */
export async function createCheckRun(
  octokit: GitHubClient,
  options: { key: string; headSha: string; passed: boolean; title: string; summary: string; detailsUrl?: string },
): Promise<number | undefined> {
  const { owner, repo } = github.context.repo;
  try {
    const { data } = await octokit.rest.checks.create({
      owner,
      repo,
      name: `ModelGate (${options.key})`,
      head_sha: options.headSha,
      status: 'completed',
      conclusion: options.passed ? 'success' : 'failure',
      ...(options.detailsUrl ? { details_url: options.detailsUrl } : {}),
      output: {
        title: options.title.slice(0, 200),
        summary: truncateMarkdown(options.summary, CHECK_SUMMARY_MAX, '**Truncated**: the full report is in the job summary.'),
      },
    });
    core.info(`created check run ${data.id} on ${options.headSha.slice(0, 8)}`);
    return data.id;
  } catch (err) {
    core.warning(`could not create the check run (it needs \`permissions: checks: write\`): ${errorMessage(err)}`);
    return undefined;
  }
}

/** The first line of a rendered comment, without markdown: a check run's title. */
export function headlineOf(markdown: string): string {
  const line = markdown.split('\n').find((l) => l.startsWith('### ')) ?? 'ModelGate';
  return line.replace(/^###\s*/, '').replace(/\\(.)/g, '$1').replace(/\*\*/g, '').replace(/\u200b/g, '');
}
