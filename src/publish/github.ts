/**
 * The GitHub side of a gate run: one sticky PR comment, the run's artifact, and annotations on the
 * budget lines of modelgate.yml. Everything here talks to GitHub through clients passed in, so tests
 * drive it against a local server that speaks the same protocol.
 */
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { getOctokit } from '@actions/github';
import type { ArtifactClient } from '@actions/artifact';
import type { Report } from '../report/types.js';
import { errorMessage } from '../errors.js';

export type GitHubClient = ReturnType<typeof getOctokit>;

/** GitHub rejects issue comments longer than this (in characters). */
export const COMMENT_MAX_CHARS = 65_536;
/** GitHub truncates a step's job summary above 1 MiB; staying under it in characters keeps us under it in bytes for ASCII. */
export const SUMMARY_MAX_CHARS = 1_000_000;

export interface PullRequestTarget {
  owner: string;
  repo: string;
  issueNumber: number;
}

/**
 * The key that ties one gate to its comment and artifact across runs: the report-key input, else the config path.
 * Only characters that are safe in an HTML comment and in an artifact name survive.
 */
export function publishKey(reportKey: string, configPath: string): string {
  const raw = reportKey.trim() || configPath.split(path.sep).join('/').replace(/^\.\//, '');
  const key = raw.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return key || 'default';
}

export function commentMarker(key: string): string {
  return `<!-- modelgate:${key} -->`;
}

export function artifactName(key: string): string {
  return `modelgate-${key}`;
}

/**
 * Cuts `text` at a line boundary so that it plus `notice` fits in `limit` characters, closing a code fence
 * or <details> block left open by the cut so the rest of the comment still renders.
 * The head (the marker and the headline) always survives because the cut keeps a prefix.
 */
export function truncateMarkdown(text: string, limit: number, notice: string): string {
  if (text.length <= limit) return text;
  const tail = `\n\n${notice}\n`;
  const closers = '\n```' + '\n</details>'.repeat(8);
  const budget = Math.max(0, limit - tail.length - closers.length);
  let cut = text.lastIndexOf('\n', budget);
  if (cut <= 0) cut = budget;
  // Never split a surrogate pair.
  if (cut > 0 && /[\uD800-\uDBFF]/.test(text[cut - 1]!)) cut--;
  let kept = text.slice(0, cut);
  if ((kept.match(/^ {0,3}```/gm) ?? []).length % 2 === 1) kept += '\n```';
  const openDetails = (kept.match(/<details\b/g) ?? []).length - (kept.match(/<\/details>/g) ?? []).length;
  kept += '\n</details>'.repeat(Math.min(8, Math.max(0, openDetails)));
  return kept + tail;
}

export interface CommentBodyOptions {
  key: string;
  /** Link to the workflow run, where the job summary and the artifact live. */
  runUrl?: string;
  limit?: number;
}

/** The comment: the hidden marker, then the report markdown, cut to GitHub's limit if needed. */
export function stickyCommentBody(markdown: string, options: CommentBodyOptions): string {
  const body = `${commentMarker(options.key)}\n${markdown}`;
  const where = options.runUrl ? `[job summary](${options.runUrl})` : 'job summary';
  const notice =
    `**Report truncated** to fit GitHub's ${COMMENT_MAX_CHARS.toLocaleString('en-US')}-character comment limit. ` +
    `The full report is in the ${where} and in the \`${artifactName(options.key)}\` artifact.`;
  return truncateMarkdown(body, options.limit ?? COMMENT_MAX_CHARS, notice);
}

export type StickyCommentResult =
  | { action: 'created' | 'updated'; id: number; url: string }
  | { action: 'skipped'; reason: string };

/**
 * Creates the PR's ModelGate comment for `key`, or edits it in place if an earlier run left one,
 * so a PR carries one comment per gate however many times it is pushed to.
 * A comment counts as ours when it starts with the marker (a reply quoting it does not).
 */
export async function upsertStickyComment(
  octokit: GitHubClient,
  target: PullRequestTarget,
  key: string,
  body: string,
): Promise<{ action: 'created' | 'updated'; id: number; url: string }> {
  const marker = commentMarker(key);
  const { owner, repo, issueNumber } = target;
  const pages = octokit.paginate.iterator(octokit.rest.issues.listComments, {
    owner,
    repo,
    issue_number: issueNumber,
    per_page: 100,
  });
  for await (const page of pages) {
    const existing = page.data.find((comment) => (comment.body ?? '').trimStart().startsWith(marker));
    if (existing) {
      const { data } = await octokit.rest.issues.updateComment({ owner, repo, comment_id: existing.id, body });
      return { action: 'updated', id: data.id, url: data.html_url };
    }
  }
  const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body });
  return { action: 'created', id: data.id, url: data.html_url };
}

function httpStatus(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * upsertStickyComment that never throws: a comment is a courtesy, the job summary and the step's
 * result carry the verdict. A 403/404 is the expected case for a fork's read-only token.
 */
export async function publishStickyComment(
  octokit: GitHubClient,
  target: PullRequestTarget,
  key: string,
  body: string,
  warn: (message: string) => void,
): Promise<StickyCommentResult> {
  try {
    return await upsertStickyComment(octokit, target, key, body);
  } catch (err) {
    const status = httpStatus(err);
    const pr = `${target.owner}/${target.repo}#${target.issueNumber}`;
    const reason =
      status === 403 || status === 404
        ? `could not comment on ${pr} (HTTP ${status}: ${errorMessage(err)}). ` +
          'A pull_request run from a fork gets a read-only token, and a workflow needs `permissions: pull-requests: write` to comment. ' +
          'The report is in the job summary and the artifact.'
        : `could not comment on ${pr}: ${errorMessage(err)}. The report is in the job summary and the artifact.`;
    warn(reason);
    return { action: 'skipped', reason };
  }
}

/**
 * The files to upload: regular files under outDir, and symlinks only when they resolve inside it
 * (the artifact client follows links, and a link out of the folder must not leak the runner's files).
 */
export function outDirFiles(outDir: string): string[] {
  const root = realpathSync(outDir);
  const inside = (p: string) => p === root || p.startsWith(root + path.sep);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files.push(full);
      else if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = realpathSync(full);
        } catch {
          continue;
        }
        if (inside(target) && lstatSync(target).isFile()) files.push(full);
      }
    }
  };
  walk(path.resolve(outDir));
  return files;
}

export async function uploadOutDir(
  client: ArtifactClient,
  name: string,
  outDir: string,
): Promise<{ id: number | undefined; size: number | undefined; files: number }> {
  const files = outDirFiles(outDir);
  if (files.length === 0) throw new Error(`${outDir} has no files to upload`);
  const { id, size } = await client.uploadArtifact(name, files, path.resolve(outDir));
  return { id, size, files: files.length };
}

export interface BudgetAnnotation {
  message: string;
  title: string;
  file?: string;
  startLine?: number;
  startColumn?: number;
}

/**
 * One annotation per failed budget, placed on its line in the config, listing every candidate it
 * stopped. One per budget (not per candidate) keeps under GitHub's 10 error annotations per step.
 */
export function failedBudgetAnnotations(
  report: Report,
  locate: ((keyPath: ReadonlyArray<string | number>) => { line: number; col: number } | undefined) | undefined,
  file: string | undefined,
): BudgetAnnotation[] {
  const byBudget = new Map<string, string[]>();
  for (const candidate of report.candidates) {
    for (const check of candidate.checks) {
      if (check.passed) continue;
      const lines = byBudget.get(check.name) ?? [];
      lines.push(`${candidate.id}: ${check.message}`);
      byBudget.set(check.name, lines);
    }
  }
  return [...byBudget].map(([budget, lines]) => {
    const position = locate?.(['gate', budget]);
    return {
      title: `ModelGate: ${budget}`,
      message: lines.join('\n'),
      // Checks that are not budgets (a candidate that failed to build) have no line to point at.
      ...(file && position ? { file, startLine: position.line, startColumn: position.col } : {}),
    };
  });
}
