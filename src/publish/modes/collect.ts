/**
 * Reads the modelgate-* artifacts of a workflow run: the current one (mode: merge) or the run that
 * triggered a workflow_run (mode: publish). Each artifact is downloaded as its zip, unextracted, and only
 * report.json and the context file are read from it, each under a byte cap (src/publish/untrusted.ts).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactClient, FindOptions } from '@actions/artifact';
import type { Report } from '../../report/types.js';
import { errorMessage } from '../../errors.js';
import { readFileSafe } from '../../io/files.js';
import { CONTEXT_FILE, LIMITS, UntrustedDataError, parseUntrustedContext, parseUntrustedReport, plainText, readZipEntries, type ArtifactContext } from '../untrusted.js';
import { ARTIFACT_PREFIX } from './shared.js';

export interface CollectedLeg {
  /** The artifact name without the prefix. */
  key: string;
  artifact: { id: number; name: string; size: number };
  report: Report;
  /** Absent when the leg was uploaded by an older ModelGate or by hand. */
  context?: ArtifactContext;
}

export interface CollectResult {
  legs: CollectedLeg[];
  /** Artifacts that matched the prefix but were not read: name and why. */
  refused: Array<{ name: string; reason: string }>;
}

export interface CollectOptions {
  /** Only artifacts whose name starts with modelgate-<keyPrefix> (all modelgate-* when empty). */
  keyPrefix?: string;
  /** Another run's artifacts (publish): needs a token with actions: read. */
  findBy?: FindOptions['findBy'];
  maxArtifactBytes?: number;
  /** Where the zips are downloaded; a fresh temp folder by default, removed afterwards. */
  tmpDir?: string;
}

function readDownloadedZip(dir: string): Buffer {
  const files = readdirSync(dir);
  if (files.length !== 1) throw new UntrustedDataError(`expected one downloaded zip, found ${files.length} files`);
  const file = path.join(dir, files[0]!);
  try {
    return readFileSafe(file, { maxBytes: LIMITS.artifactBytes, within: dir, label: 'the downloaded artifact', what: 'artifact zip' });
  } catch (err) {
    throw new UntrustedDataError(errorMessage(err));
  }
}

export async function collectReports(client: ArtifactClient, options: CollectOptions = {}): Promise<CollectResult> {
  const prefix = ARTIFACT_PREFIX + (options.keyPrefix ?? '');
  const maxBytes = options.maxArtifactBytes ?? LIMITS.artifactBytes;
  const find = options.findBy ? { findBy: options.findBy } : {};
  const { artifacts } = await client.listArtifacts({ latest: true, ...find });
  const matching = artifacts.filter((a) => a.name.startsWith(prefix)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const result: CollectResult = { legs: [], refused: [] };
  // RUNNER_TEMP is the runner's scratch space, emptied after each job.
  const tmp = options.tmpDir ?? mkdtempSync(path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'modelgate-artifacts-'));
  try {
    for (const [i, artifact] of matching.entries()) {
      const name = plainText(artifact.name, 200);
      if (i >= LIMITS.artifacts) {
        result.refused.push({ name, reason: `more than ${LIMITS.artifacts} modelgate artifacts in the run` });
        continue;
      }
      if (artifact.size > maxBytes) {
        result.refused.push({ name, reason: `${artifact.size} bytes, over the ${maxBytes}-byte limit for a report artifact` });
        continue;
      }
      try {
        const dir = path.join(tmp, String(i));
        await client.downloadArtifact(artifact.id, { path: dir, skipDecompress: true, ...find });
        const entries = readZipEntries(readDownloadedZip(dir), { 'report.json': LIMITS.reportBytes, [CONTEXT_FILE]: LIMITS.contextBytes });
        const reportBytes = entries.get('report.json');
        if (!reportBytes) throw new UntrustedDataError('no report.json at the top of the artifact');
        const leg: CollectedLeg = {
          key: artifact.name.slice(ARTIFACT_PREFIX.length),
          artifact: { id: artifact.id, name: artifact.name, size: artifact.size },
          report: parseUntrustedReport(reportBytes, `${name}/report.json`),
        };
        const contextBytes = entries.get(CONTEXT_FILE);
        if (contextBytes) leg.context = parseUntrustedContext(contextBytes, `${name}/${CONTEXT_FILE}`);
        result.legs.push(leg);
      } catch (err) {
        result.refused.push({ name, reason: plainText(errorMessage(err), 500) });
      }
    }
  } finally {
    if (!options.tmpDir) rmSync(tmp, { recursive: true, force: true });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Which pull request an artifact may be posted to
// ---------------------------------------------------------------------------------------------

/** The parts of a workflow_run event's `workflow_run` object the check reads (GitHub writes them, not the PR). */
export interface TriggeringRun {
  id: number;
  event: string;
  head_sha: string;
  head_repository?: { full_name?: string } | null;
  pull_requests: Array<{ number: number; head?: { sha?: string } }>;
}

/** The parts of GET /repos/{owner}/{repo}/pulls/{n} the check reads. */
export interface PullRequestInfo {
  number: number;
  state: string;
  head: { sha: string; repo: { full_name: string } | null };
}

export type PullRequestVerdict = { ok: true; number: number } | { ok: false; reason: string };

/**
 * The pull request named in an artifact is believed only if GitHub's own record of the triggering run agrees:
 * the artifact's head sha must be the run's, and the PR must be one of the run's pull_requests or, for a fork
 * (GitHub leaves pull_requests empty then), a PR whose current head is that sha in that head repository.
 * A fork's measure job could otherwise point the privileged publish job at any PR of the repository.
 */
export async function verifyPullRequest(
  context: ArtifactContext | undefined,
  run: TriggeringRun,
  lookup: (number: number) => Promise<PullRequestInfo | undefined>,
): Promise<PullRequestVerdict> {
  if (!context) return { ok: false, reason: `the artifact has no ${CONTEXT_FILE}, so it names no pull request` };
  const number = context.pull_request;
  if (number === null) return { ok: false, reason: 'the artifact names no pull request (it was not measured on a pull_request event)' };
  if (run.event !== 'pull_request' && run.event !== 'pull_request_target') {
    return { ok: false, reason: `the triggering run was a ${plainText(run.event, 40)} event, not a pull request` };
  }
  if (context.head_sha !== run.head_sha) {
    return { ok: false, reason: `the artifact says it measured ${context.head_sha ?? 'no commit'}, but the triggering run is for ${run.head_sha}` };
  }
  if (run.pull_requests.length > 0) {
    return run.pull_requests.some((p) => p.number === number)
      ? { ok: true, number }
      : { ok: false, reason: `PR #${number} is not among the triggering run's pull requests (${run.pull_requests.map((p) => `#${p.number}`).join(', ')})` };
  }
  let pr: PullRequestInfo | undefined;
  try {
    pr = await lookup(number);
  } catch (err) {
    return { ok: false, reason: `could not look up PR #${number}: ${plainText(errorMessage(err), 200)}` };
  }
  if (!pr) return { ok: false, reason: `PR #${number} does not exist` };
  if (pr.head.sha !== run.head_sha) return { ok: false, reason: `PR #${number}'s head is ${pr.head.sha}, not the triggering run's ${run.head_sha}` };
  const runRepo = run.head_repository?.full_name;
  if (runRepo && pr.head.repo?.full_name !== runRepo) {
    return { ok: false, reason: `PR #${number} comes from ${pr.head.repo?.full_name ?? 'a deleted repository'}, not ${runRepo}` };
  }
  return { ok: true, number };
}
