/**
 * The built action (dist/index.js) run the way a runner runs it: a child process with INPUT_* and the
 * runner's GITHUB_, ACTIONS_ and RUNNER_ variables, on a pull_request event, against the local GitHub stand-in.
 * The real pipeline runs on a copy of the MNIST example with a lighter config.
 * dist/ is what check-dist keeps in step with the sources: run `npm run build` after changing them.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { readZip, startGitHubServer, type GitHubServer } from './support/github-server.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const actionEntry = path.join(repoRoot, 'dist', 'index.js');
const example = path.join(repoRoot, 'examples', 'mnist');

const OWNER = 'octo-org';
const REPO = 'models';
const PR_NUMBER = 17;
const CONFIG = 'modelgate.e2e.yml';
const WORKING_DIRECTORY = 'examples/mnist';
const KEY = 'examples-mnist-modelgate.e2e.yml';

interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  seconds: number;
}

/** GITHUB_OUTPUT holds `name<<DELIMITER\nvalue\nDELIMITER` blocks. */
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

/**
 * The config under test: the example's, with fewer samples and benchmark runs, and budgets chosen by the test
 * so the verdict does not hang on this machine's timing.
 */
function writeConfig(dir: string, gate: Record<string, number>): Record<string, number> {
  const doc = parseDocument(readFileSync(path.join(example, 'modelgate.yml'), 'utf8'));
  doc.setIn(['dataset', 'limit'], 300);
  doc.setIn(['benchmark', 'warmup'], 2);
  doc.setIn(['benchmark', 'runs'], 10);
  doc.set('gate', gate);
  const text = doc.toString();
  writeFileSync(path.join(dir, CONFIG), text);
  // The 1-based line of each budget key, for the annotation check.
  const lines = text.split('\n');
  return Object.fromEntries(Object.keys(gate).map((key) => [key, lines.findIndex((l) => l.trimStart().startsWith(`${key}:`)) + 1]));
}

describe('the action, built, on a pull_request', () => {
  let server: GitHubServer;
  let tmp: string;
  let workspace: string;
  let eventPath: string;

  beforeAll(async () => {
    expect(existsSync(actionEntry), `${actionEntry} is missing: run npm run build`).toBe(true);
    server = await startGitHubServer({ tokens: { ghs_pr_token: 'write', ghs_fork_token: 'read' } });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-action-e2e-'));
    workspace = path.join(tmp, 'workspace');
    // The example without anything a previous run left (out dirs).
    cpSync(example, path.join(workspace, WORKING_DIRECTORY), { recursive: true, filter: (src) => !/(^|[\\/])(modelgate-out|out)$/.test(src) });
    eventPath = path.join(tmp, 'event.json');
    writeFileSync(
      eventPath,
      JSON.stringify({
        action: 'synchronize',
        number: PR_NUMBER,
        pull_request: {
          number: PR_NUMBER,
          head: { ref: 'feature/int8', sha: 'a'.repeat(40), repo: { full_name: `${OWNER}/${REPO}` } },
          base: { ref: 'main', sha: 'b'.repeat(40), repo: { full_name: `${OWNER}/${REPO}` } },
        },
        repository: { name: REPO, full_name: `${OWNER}/${REPO}`, owner: { login: OWNER } },
        sender: { login: 'octocat' },
      }),
    );
  });

  afterAll(async () => {
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** One workflow run: a fresh runner environment (nothing inherited from this process's GITHUB_* or INPUT_*). */
  async function runAction(runId: number, inputs: Record<string, string>): Promise<ActionRun> {
    const runnerDir = path.join(tmp, `run-${runId}`);
    mkdirSync(path.join(runnerDir, 'temp'), { recursive: true });
    const outputFile = path.join(runnerDir, 'output.txt');
    const summaryFile = path.join(runnerDir, 'summary.md');
    writeFileSync(outputFile, '');
    writeFileSync(summaryFile, '');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LANG: 'C.UTF-8',
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
      GITHUB_REPOSITORY_OWNER: OWNER,
      GITHUB_API_URL: server.url,
      GITHUB_RUN_ID: String(runId),
      GITHUB_RUN_NUMBER: String(runId - 1000),
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_SHA: 'c'.repeat(40),
      GITHUB_REF: `refs/pull/${PR_NUMBER}/merge`,
      GITHUB_WORKFLOW: 'ModelGate',
      GITHUB_JOB: 'gate',
      GITHUB_ACTOR: 'octocat',
      GITHUB_WORKSPACE: workspace,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      ACTIONS_RESULTS_URL: `${server.url}/`,
      ACTIONS_RUNTIME_TOKEN: server.runtimeToken(runId),
      RUNNER_TEMP: path.join(runnerDir, 'temp'),
      RUNNER_TOOL_CACHE: path.join(tmp, 'toolcache'),
      RUNNER_OS: 'Linux',
      RUNNER_ARCH: 'X64',
    };
    for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;

    const started = Date.now();
    const child = spawn(process.execPath, [actionEntry], { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return {
      code,
      stdout,
      stderr,
      outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
      summary: readFileSync(summaryFile, 'utf8'),
      seconds: (Date.now() - started) / 1000,
    };
  }

  const inputs = {
    config: CONFIG,
    'github-token': 'ghs_pr_token',
    comment: 'true',
    'fail-on-regression': 'true',
    'working-directory': WORKING_DIRECTORY,
    'report-key': '',
    'out-dir': 'modelgate-out',
  };

  let firstCommentId = 0;

  it('passes, writes summary and outputs, uploads the out dir, and creates one comment', async () => {
    // Budgets every candidate meets, whatever this machine's timing: the test is about the plumbing.
    writeConfig(path.join(workspace, WORKING_DIRECTORY), { accuracy_drop_max: 1, latency_ratio_max: 1000, size_bytes_max: 100_000_000 });
    const run = await runAction(1001, inputs);
    console.log(`first run: ${run.seconds.toFixed(1)} s`);
    expect(run.code, run.stdout + run.stderr).toBe(0);

    const outDir = path.join(workspace, WORKING_DIRECTORY, 'modelgate-out');
    expect(run.outputs).toMatchObject({
      passed: 'true',
      'report-json': path.join(outDir, 'report.json'),
      'report-markdown': path.join(outDir, 'report.md'),
    });
    // issue 6: the selected candidate against the reference (no base in a plain run).
    expect(JSON.parse(run.outputs.deltas!)).toMatchObject({ against: 'reference', compared_with: 'reference' });
    const report = JSON.parse(readFileSync(run.outputs['report-json']!, 'utf8')) as { passed: boolean; selected: string; candidates: Array<{ id: string; file: string }> };
    expect(report.passed).toBe(true);
    const selected = report.candidates.find((c) => c.id === report.selected)!;
    expect(run.outputs['selected-model']).toBe(path.join(outDir, selected.file));
    expect(existsSync(run.outputs['selected-model']!)).toBe(true);

    const markdown = readFileSync(run.outputs['report-markdown']!, 'utf8');
    // issue 6: the summary and the comment carry the PR comment (src/report/comment.ts); report.md stays the file's.
    expect(run.summary).toContain(`### ✅ ModelGate passed: selected **${report.selected}**`);

    const artifacts = server.artifacts.filter((a) => a.runId === 1001);
    expect(artifacts.map((a) => [a.name, a.finalized])).toEqual([[`modelgate-${KEY}`, true]]);
    const zip = readZip(artifacts[0]!.zip!);
    expect(JSON.parse(zip.get('report.json')!.toString('utf8'))).toEqual(JSON.parse(readFileSync(run.outputs['report-json']!, 'utf8')));
    expect(zip.get('report.md')!.toString('utf8')).toBe(markdown);
    expect(zip.has(selected.file)).toBe(true);

    const comments = server.comments(OWNER, REPO, PR_NUMBER);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body.startsWith(`<!-- modelgate:${KEY} -->\n### ✅ ModelGate passed: selected **${report.selected}**\n`)).toBe(true);
    firstCommentId = comments[0]!.id;
    expect(server.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/issues/${PR_NUMBER}/comments`))).toHaveLength(1);
  }, 300_000);

  it('on the next push, fails on a budget, annotates its line, and updates the same comment', async () => {
    expect(firstCommentId).toBeGreaterThan(0);
    // 1 byte: no model, the reference included, can pass.
    const lines = writeConfig(path.join(workspace, WORKING_DIRECTORY), { accuracy_drop_max: 1, latency_ratio_max: 1000, size_bytes_max: 1 });
    const run = await runAction(1002, inputs);
    console.log(`second run: ${run.seconds.toFixed(1)} s`);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.outputs).toMatchObject({ passed: 'false', 'selected-model': '' });

    // One error annotation, on the size budget's line of the config, relative to the workspace.
    const annotations = run.stdout.split('\n').filter((l) => l.startsWith('::error '));
    expect(annotations.filter((l) => l.includes('title=ModelGate%3A size_bytes_max'))).toHaveLength(1);
    expect(annotations.find((l) => l.includes('size_bytes_max'))).toContain(`file=${WORKING_DIRECTORY}/${CONFIG},line=${lines.size_bytes_max},`);
    expect(run.stdout).toMatch(/::error::ModelGate: no candidate passed the gate/);

    const comments = server.comments(OWNER, REPO, PR_NUMBER);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.id).toBe(firstCommentId);
    expect(comments[0]!.body).toContain('ModelGate failed');
    const patches = server.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([`/repos/${OWNER}/${REPO}/issues/comments/${firstCommentId}`]);
    expect(server.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/issues/${PR_NUMBER}/comments`))).toHaveLength(1);

    const artifacts = server.artifacts.filter((a) => a.runId === 1002 && a.finalized);
    expect(artifacts.map((a) => a.name)).toEqual([`modelgate-${KEY}`]);
    expect(JSON.parse(readZip(artifacts[0]!.zip!).get('report.json')!.toString('utf8'))).toMatchObject({ passed: false, selected: null });
  }, 300_000);

  it("from a fork's read-only token, still passes: the comment is skipped with a warning and the summary carries the report", async () => {
    writeConfig(path.join(workspace, WORKING_DIRECTORY), { accuracy_drop_max: 1, latency_ratio_max: 1000, size_bytes_max: 100_000_000 });
    const before = server.comments(OWNER, REPO, PR_NUMBER).map((c) => c.body);
    const run = await runAction(1003, { ...inputs, 'github-token': 'ghs_fork_token' });
    console.log(`fork run: ${run.seconds.toFixed(1)} s`);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.outputs.passed).toBe('true');
    expect(run.stdout).toMatch(/^::warning::could not comment on octo-org\/models#17 \(HTTP 403/m);
    expect(server.comments(OWNER, REPO, PR_NUMBER).map((c) => c.body)).toEqual(before);
    expect(run.summary).toContain('ModelGate passed');
    expect(server.artifacts.filter((a) => a.runId === 1003 && a.finalized)).toHaveLength(1);
  }, 300_000);
});
