/**
 * The built action on a pull_request in a real git work tree: it takes the PR base's model and config
 * from git, runs both sides, measures them interleaved, and gates head against base.
 * Head's model has its classifier weights scaled down to noise, so the accuracy regression is
 * deterministic and does not hang on this machine's timing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { startGitHubServer, type GitHubServer } from './support/github-server.js';
import { decodeModel, encodeModel } from '../src/model/onnx.js';
import { tensorToFloat32, makeTensor } from '../src/model/tensor.js';
import { dimsOf } from '../src/model/onnx.js';
import * as tf from '@tensorflow/tfjs';
import { loadTfjs } from '../src/runtime/tfjs.js';
import { writeKerasH5 } from './support/keras-fixtures.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const actionEntry = path.join(repoRoot, 'dist', 'index.js');
const OWNER = 'octo-org';
const REPO = 'models';
const PR = 23;

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } }).trim();
}

/** The example model with the classifier's weights scaled to noise: same size, far worse accuracy. */
function degraded(bytes: Buffer): Uint8Array {
  const model = decodeModel(bytes);
  const inits = model.graph!.initializer!;
  const biggest = [...inits].sort((a, b) => tensorToFloat32(b).length - tensorToFloat32(a).length)[0]!;
  const values = tensorToFloat32(biggest).map((v, i) => (i % 7 === 0 ? v : v * 0.05));
  inits[inits.indexOf(biggest)] = makeTensor(biggest.name!, dimsOf(biggest), values);
  return encodeModel(model);
}

describe('the action, built, comparing a pull request against its base', () => {
  let server: GitHubServer;
  let tmp: string;
  let workspace: string;
  let baseSha: string;

  beforeAll(async () => {
    server = await startGitHubServer({ tokens: { ghs_pr_token: 'write' } });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-action-compare-'));
    workspace = path.join(tmp, 'workspace');
    mkdirSync(workspace, { recursive: true });
    for (const f of ['model.onnx', 'test-images.npy', 'test-labels.npy']) cpSync(path.join(repoRoot, 'examples/mnist', f), path.join(workspace, f));
    const doc = parseDocument(readFileSync(path.join(repoRoot, 'examples/mnist/modelgate.yml'), 'utf8'));
    doc.setIn(['dataset', 'limit'], 300);
    doc.set('optimize', [{ name: 'int8-dynamic', passes: [{ quantize: { mode: 'dynamic' } }] }]);
    doc.set('gate', { accuracy_drop_max: 0.02, latency_ratio_max: 1000, size_bytes_max: 100_000_000 });
    writeFileSync(path.join(workspace, 'modelgate.yml'), doc.toString());
    git(workspace, 'init', '-q', '-b', 'main');
    git(workspace, 'add', '-A');
    git(workspace, 'commit', '-qm', 'base');
    baseSha = git(workspace, 'rev-parse', 'HEAD');
    git(workspace, 'checkout', '-qb', 'feature');
    writeFileSync(path.join(workspace, 'model.onnx'), degraded(readFileSync(path.join(workspace, 'model.onnx'))));
    git(workspace, 'commit', '-qam', 'head: a worse model');
  });

  afterAll(async () => {
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('fails the step on the accuracy regression against base and says so in the comment', async () => {
    const { code, log } = await runActionOnPullRequest(tmp, workspace, server, { base: baseSha, head: git(workspace, 'rev-parse', 'HEAD') });

    expect(code, log).toBe(1);
    const report = JSON.parse(readFileSync(path.join(workspace, 'modelgate-out', 'report.json'), 'utf8'));
    expect(report.base.sha).toBe(baseSha);
    const itself = report.comparison.find((c: { id: string }) => c.id === 'reference');
    expect(itself).toBeDefined();
    expect(report.checks.some((c: { passed: boolean; name: string }) => !c.passed && /accuracy/.test(c.name))).toBe(true);
    // The working tree is untouched: the base lives inside the out dir.
    expect(git(workspace, 'status', '--porcelain', '--untracked-files=no')).toBe('');
    const comments = server.comments(OWNER, REPO, PR);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toMatch(/❌/);
    expect(comments[0]!.body).toContain(baseSha.slice(0, 7));
  });
});

/** Runs the built action the way a runner does, on a pull_request event; resolves with its exit code and log. */
async function runActionOnPullRequest(tmp: string, workspace: string, server: GitHubServer, pr: { base: string; head: string }): Promise<{ code: number | null; log: string }> {
  const runner = path.join(tmp, `runner-${pr.base.slice(0, 8)}`);
  mkdirSync(path.join(runner, 'temp'), { recursive: true });
  const eventPath = path.join(runner, 'event.json');
  writeFileSync(eventPath, JSON.stringify({
    action: 'synchronize', number: PR,
    pull_request: { number: PR, head: { ref: 'feature', sha: pr.head, repo: { full_name: `${OWNER}/${REPO}` } }, base: { ref: 'main', sha: pr.base, repo: { full_name: `${OWNER}/${REPO}` } } },
    repository: { name: REPO, full_name: `${OWNER}/${REPO}`, owner: { login: OWNER } },
  }));
  for (const f of ['output.txt', 'summary.md']) writeFileSync(path.join(runner, f), '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: process.env.HOME, CI: 'true', GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: eventPath, GITHUB_REPOSITORY: `${OWNER}/${REPO}`, GITHUB_REPOSITORY_OWNER: OWNER,
    GITHUB_API_URL: server.url, GITHUB_RUN_ID: '3002', GITHUB_RUN_ATTEMPT: '1', GITHUB_SHA: pr.head, GITHUB_WORKSPACE: workspace,
    GITHUB_OUTPUT: path.join(runner, 'output.txt'), GITHUB_STEP_SUMMARY: path.join(runner, 'summary.md'),
    RUNNER_TEMP: path.join(runner, 'temp'), RUNNER_TOOL_CACHE: path.join(tmp, 'toolcache'),
    'INPUT_GITHUB-TOKEN': 'ghs_pr_token', INPUT_CONFIG: 'modelgate.yml', 'INPUT_OUT-DIR': 'modelgate-out',
  };
  const child = spawn(process.execPath, [actionEntry], { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, log };
}

/** A small Keras classifier; another seed gives one whose predictions disagree with it. */
function kerasClassifier(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: s });
  const m = tf.sequential({ name: 'classifier' });
  m.add(tf.layers.dense({ inputShape: [32], units: 24, activation: 'relu', kernelInitializer: init(seed), name: 'hidden' }));
  m.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(seed + 1), name: 'logits' }));
  return m;
}

describe('the action, built, on a pull request of a Keras repository', () => {
  let server: GitHubServer;
  let tmp: string;
  let workspace: string;
  let baseSha: string;
  let headSha: string;

  beforeAll(async () => {
    await loadTfjs();
    server = await startGitHubServer({ tokens: { ghs_pr_token: 'write' } });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-action-keras-'));
    workspace = path.join(tmp, 'workspace');
    mkdirSync(workspace, { recursive: true });
    await writeKerasH5(kerasClassifier(11), path.join(workspace, 'model.h5'));
    // The config a new user writes, with a short benchmark; no dataset, so agreement with base is the quality figure.
    writeFileSync(path.join(workspace, 'modelgate.yml'), 'model: model.h5\noptimize: []\nbenchmark: { batch: 1, threads: 1, warmup: 2, runs: 10 }\ngate: { latency_ratio_max: 1.5 }\n');
    git(workspace, 'init', '-q', '-b', 'main');
    git(workspace, 'add', '-A');
    git(workspace, 'commit', '-qm', 'base');
    baseSha = git(workspace, 'rev-parse', 'HEAD');
    git(workspace, 'checkout', '-qb', 'feature');
    await writeKerasH5(kerasClassifier(97), path.join(workspace, 'model.h5'));
    git(workspace, 'commit', '-qam', 'head: other weights');
    headSha = git(workspace, 'rev-parse', 'HEAD');
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('imports both sides, fails the step on the regression against base, and comments once', async () => {
    const { code, log } = await runActionOnPullRequest(tmp, workspace, server, { base: baseSha, head: headSha });
    expect(code, log).toBe(1);
    const report = JSON.parse(readFileSync(path.join(workspace, 'modelgate-out', 'report.json'), 'utf8'));
    expect(report.error, log).toBeUndefined();
    expect(report.base.sha).toBe(baseSha);
    expect(report.source.format).toBe('keras-h5');
    const pair = report.comparison.find((c: { id: string }) => c.id === 'reference');
    expect(pair.same_data).toBe(true);
    expect(pair.agreement).toBeLessThan(0.9);
    expect(report.checks.find((c: { name: string; subject: string }) => c.subject === 'reference' && c.name === 'accuracy_drop_max').passed).toBe(false);
    const comments = server.comments(OWNER, REPO, PR);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toMatch(/makes the model worse/);
  }, 300_000);

  it('gates the head on its own when the base sha cannot be fetched, passes, and says why in the comment', async () => {
    const missing = 'f'.repeat(40);
    const { code, log } = await runActionOnPullRequest(tmp, workspace, server, { base: missing, head: headSha });
    expect(code, log).toBe(0);
    const report = JSON.parse(readFileSync(path.join(workspace, 'modelgate-out', 'report.json'), 'utf8'));
    expect(report.passed).toBe(true);
    expect(report.base.missing).toMatch(/^the base was not available: /);
    expect(report.comparison).toEqual([]);
    const comments = server.comments(OWNER, REPO, PR);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toMatch(/base was not available/);
  }, 300_000);
});
