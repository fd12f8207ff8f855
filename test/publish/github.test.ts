import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getOctokit } from '@actions/github';
import { DefaultArtifactClient } from '@actions/artifact';
import {
  COMMENT_MAX_CHARS,
  artifactName,
  commentMarker,
  failedBudgetAnnotations,
  outDirFiles,
  publishKey,
  publishStickyComment,
  stickyCommentBody,
  truncateMarkdown,
  uploadOutDir,
  upsertStickyComment,
  type PullRequestTarget,
} from '../../src/publish/github.js';
import type { Report } from '../../src/report/types.js';
import { readZip, startGitHubServer, type GitHubServer } from '../support/github-server.js';

let server: GitHubServer;
let tmp: string;
const pr: PullRequestTarget = { owner: 'octo-org', repo: 'models', issueNumber: 7 };

beforeAll(async () => {
  server = await startGitHubServer({ tokens: { 'write-token': 'write', 'read-token': 'read' } });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-publish-'));
});

afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

let issueNumber = 100;
/** Each test gets its own PR so the shared server's state does not leak between tests. */
function freshPr(): PullRequestTarget {
  return { ...pr, issueNumber: issueNumber++ };
}

const octokit = (token = 'write-token') => getOctokit(token, { baseUrl: server.url });

function commentRequests(target: PullRequestTarget) {
  return server.requests.filter((r) => r.path.startsWith(`/repos/${target.owner}/${target.repo}/issues/`) && (r.path.includes(`/issues/${target.issueNumber}/`) || r.path.includes('/issues/comments/')));
}

describe('publishKey', () => {
  it('prefers report-key, else derives a name-safe key from the config path', () => {
    expect(publishKey('', 'examples/mnist/modelgate.yml')).toBe('examples-mnist-modelgate.yml');
    expect(publishKey('', './modelgate.yml')).toBe('modelgate.yml');
    expect(publishKey('vision: int8 <fast>', 'modelgate.yml')).toBe('vision-int8-fast');
    expect(publishKey('  ', 'a/b.yml')).toBe('a-b.yml');
    expect(publishKey('-->', 'x.yml')).toBe('default');
  });

  it('names the marker and the artifact after the key', () => {
    expect(commentMarker('mnist')).toBe('<!-- modelgate:mnist -->');
    expect(artifactName('mnist')).toBe('modelgate-mnist');
  });
});

describe('stickyCommentBody', () => {
  it('leaves a body under the limit as marker + markdown', () => {
    expect(stickyCommentBody('## ModelGate: passed\n\nok\n', { key: 'k' })).toBe('<!-- modelgate:k -->\n## ModelGate: passed\n\nok\n');
  });

  it('cuts an oversized report to the limit, keeping marker and headline and pointing to the full report', () => {
    const rows = Array.from({ length: 4000 }, (_, i) => `| candidate-${i} | ${'x'.repeat(20)} |`).join('\n');
    const markdown = `## ModelGate: failed\n\n\`\`\`text\n${rows}\n\`\`\`\n`;
    expect(markdown.length).toBeGreaterThan(COMMENT_MAX_CHARS);
    const body = stickyCommentBody(markdown, { key: 'k', runUrl: 'https://github.com/o/r/actions/runs/9' });
    expect(body.length).toBeLessThanOrEqual(COMMENT_MAX_CHARS);
    expect(body.startsWith('<!-- modelgate:k -->\n## ModelGate: failed\n')).toBe(true);
    expect(body).toContain('[job summary](https://github.com/o/r/actions/runs/9)');
    expect(body).toContain('`modelgate-k` artifact');
    // The cut fell inside the code fence, so it was closed before the notice.
    expect((body.match(/^```/gm) ?? []).length % 2).toBe(0);
    // Whole lines only.
    expect(body).not.toMatch(/\| candidate-\d+ \| x*\n\n\*\*Report truncated/);
  });

  it('closes an open <details> block and never splits a surrogate pair', () => {
    const text = '<details><summary>all</summary>\n\n' + '🙂'.repeat(200);
    const cut = truncateMarkdown(text, 150, 'cut');
    expect(cut.length).toBeLessThanOrEqual(150);
    expect(cut).toContain('</details>');
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe('upsertStickyComment', () => {
  it('creates one comment, then edits it in place on the next run', async () => {
    const target = freshPr();
    server.seedComments(target.owner, target.repo, target.issueNumber, ['LGTM', '<!-- modelgate:other -->\nanother gate']);
    const first = await upsertStickyComment(octokit(), target, 'mnist', `${commentMarker('mnist')}\nrun 1`);
    expect(first.action).toBe('created');
    const second = await upsertStickyComment(octokit(), target, 'mnist', `${commentMarker('mnist')}\nrun 2`);
    expect(second).toMatchObject({ action: 'updated', id: first.id });

    const comments = server.comments(target.owner, target.repo, target.issueNumber);
    expect(comments.map((c) => c.body)).toEqual(['LGTM', '<!-- modelgate:other -->\nanother gate', '<!-- modelgate:mnist -->\nrun 2']);
    const calls = commentRequests(target).map((r) => r.method);
    expect(calls).toEqual(['GET', 'POST', 'GET', 'PATCH']);
  });

  it('pages through more than 100 comments to find the marker', async () => {
    const target = freshPr();
    const bodies = Array.from({ length: 250 }, (_, i) => `comment ${i}`);
    bodies[180] = '<!-- modelgate:mnist -->\nold report';
    const seeded = server.seedComments(target.owner, target.repo, target.issueNumber, bodies, 'github-actions[bot]');
    const result = await upsertStickyComment(octokit(), target, 'mnist', '<!-- modelgate:mnist -->\nnew report');
    expect(result).toMatchObject({ action: 'updated', id: seeded[180]!.id });

    const gets = commentRequests(target).filter((r) => r.method === 'GET');
    // Page 2 holds comments 100..199; the search stops there instead of reading page 3.
    expect(gets.map((r) => r.query.get('page') ?? '1')).toEqual(['1', '2']);
    expect(gets.every((r) => r.query.get('per_page') === '100')).toBe(true);
    expect(server.comments(target.owner, target.repo, target.issueNumber)[180]!.body).toBe('<!-- modelgate:mnist -->\nnew report');
  });

  it('reads every page before creating when no comment carries the marker, and ignores a quote of it', async () => {
    const target = freshPr();
    const bodies = Array.from({ length: 230 }, (_, i) => `comment ${i}`);
    bodies[5] = '> <!-- modelgate:mnist -->\n> quoted by a reviewer';
    server.seedComments(target.owner, target.repo, target.issueNumber, bodies);
    const result = await upsertStickyComment(octokit(), target, 'mnist', '<!-- modelgate:mnist -->\nreport');
    expect(result.action).toBe('created');
    const calls = commentRequests(target);
    expect(calls.filter((r) => r.method === 'GET').map((r) => r.query.get('page') ?? '1')).toEqual(['1', '2', '3']);
    expect(server.comments(target.owner, target.repo, target.issueNumber)).toHaveLength(231);
  });

  it('the server refuses an over-long body, and the truncated body goes through', async () => {
    const target = freshPr();
    const markdown = '## ModelGate\n' + 'row\n'.repeat(20_000);
    await expect(upsertStickyComment(octokit(), target, 'big', `${commentMarker('big')}\n${markdown}`)).rejects.toMatchObject({ status: 422 });
    const result = await upsertStickyComment(octokit(), target, 'big', stickyCommentBody(markdown, { key: 'big' }));
    expect(result.action).toBe('created');
  });
});

describe('publishStickyComment', () => {
  it('warns and falls back to the summary on a read-only (fork) token', async () => {
    const target = freshPr();
    const warnings: string[] = [];
    const result = await publishStickyComment(octokit('read-token'), target, 'mnist', '<!-- modelgate:mnist -->\nx', (m) => warnings.push(m));
    expect(result.action).toBe('skipped');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('HTTP 403');
    expect(warnings[0]).toContain('pull-requests: write');
    expect(server.comments(target.owner, target.repo, target.issueNumber)).toHaveLength(0);
  });

  it('warns on a 404 and on a server error instead of throwing', async () => {
    const target = freshPr();
    server.failWith({ method: 'GET', path: new RegExp(`/issues/${target.issueNumber}/comments$`) }, 404, { message: 'Not Found' }, 1);
    const warnings: string[] = [];
    expect((await publishStickyComment(octokit(), target, 'k', 'b', (m) => warnings.push(m))).action).toBe('skipped');
    server.failWith({ method: 'GET', path: new RegExp(`/issues/${target.issueNumber}/comments$`) }, 500, { message: 'boom' }, 1);
    expect((await publishStickyComment(octokit(), target, 'k', 'b', (m) => warnings.push(m))).action).toBe('skipped');
    expect(warnings[0]).toContain('HTTP 404');
    expect(warnings[1]).toContain('boom');
  });
});

describe('outDirFiles and the artifact upload', () => {
  let outDir: string;
  let secret: string;

  beforeAll(() => {
    outDir = path.join(tmp, 'out');
    mkdirSync(path.join(outDir, 'candidates'), { recursive: true });
    writeFileSync(path.join(outDir, 'report.json'), JSON.stringify({ schemaVersion: 2, passed: true }));
    writeFileSync(path.join(outDir, 'report.md'), '## ModelGate: passed\n');
    writeFileSync(path.join(outDir, 'candidates', 'int8.onnx'), Buffer.from([8, 1, 2, 3]));
    secret = path.join(tmp, 'secret.txt');
    writeFileSync(secret, 'runner secrets');
    symlinkSync(secret, path.join(outDir, 'leak.txt'));
    symlinkSync(path.join(outDir, 'report.md'), path.join(outDir, 'latest.md'));
  });

  afterEach(() => {
    delete process.env.ACTIONS_RUNTIME_TOKEN;
    delete process.env.ACTIONS_RESULTS_URL;
  });

  it('keeps files inside the out dir and drops links that leave it', () => {
    const files = outDirFiles(outDir).map((f) => path.relative(outDir, f));
    expect(files).toEqual(['candidates/int8.onnx', 'latest.md', 'report.json', 'report.md']);
  });

  it('uploads the out dir through the artifact service and reads it back', async () => {
    process.env.ACTIONS_RUNTIME_TOKEN = server.runtimeToken(4242);
    process.env.ACTIONS_RESULTS_URL = `${server.url}/`;
    const uploaded = await uploadOutDir(new DefaultArtifactClient(), 'modelgate-mnist', outDir);
    expect(uploaded.files).toBe(4);

    const stored = server.artifacts.find((a) => a.id === uploaded.id)!;
    expect(stored).toMatchObject({ name: 'modelgate-mnist', runId: 4242, finalized: true });
    const entries = readZip(stored.zip!);
    expect([...entries.keys()].sort()).toEqual(['candidates/int8.onnx', 'latest.md', 'report.json', 'report.md']);
    expect(JSON.parse(entries.get('report.json')!.toString())).toEqual({ schemaVersion: 2, passed: true });
    expect([...entries.values()].some((data) => data.toString().includes('runner secrets'))).toBe(false);

    // The same name twice in one workflow run is refused, as GitHub does.
    await expect(uploadOutDir(new DefaultArtifactClient(), 'modelgate-mnist', outDir)).rejects.toThrow(/already exists/);

    const downloadDir = path.join(tmp, 'download');
    await new DefaultArtifactClient().downloadArtifact(uploaded.id!, { path: downloadDir });
    expect(readFileSync(path.join(downloadDir, 'candidates', 'int8.onnx'))).toEqual(Buffer.from([8, 1, 2, 3]));

    // From another workflow run (workflow_run → publish), the REST API lists the run's artifacts and redirects to the zip.
    const api = octokit();
    const { data: listed } = await api.rest.actions.listWorkflowRunArtifacts({ owner: pr.owner, repo: pr.repo, run_id: 4242, name: 'modelgate-mnist' });
    expect(listed.total_count).toBe(1);
    expect(listed.artifacts[0]).toMatchObject({ id: uploaded.id, name: 'modelgate-mnist', size_in_bytes: stored.size, digest: stored.digest });
    const redirect = await api.rest.actions.downloadArtifact({
      owner: pr.owner,
      repo: pr.repo,
      artifact_id: uploaded.id!,
      archive_format: 'zip',
      request: { redirect: 'manual' },
    });
    expect(redirect.status).toBe(302);
    const zip = Buffer.from(await (await fetch(redirect.headers.location!)).arrayBuffer());
    expect(zip.equals(stored.zip!)).toBe(true);
  });
});

describe('failedBudgetAnnotations', () => {
  const candidate = (id: string, checks: Array<[string, boolean]>) => ({
    id,
    recipe: [],
    file: `${id}.onnx`,
    bytes: 1,
    accuracy: null,
    agreement: null,
    latency: null,
    checks: checks.map(([name, passed]) => ({ name, passed, message: `${name} ${passed ? 'ok' : 'exceeded'}` })),
  });
  const report: Report = {
    schemaVersion: 2,
    passed: false,
    tool: { name: 'modelgate', version: '0.1.0' },
    hardware: { cpu: 'x', cores: 2, arch: 'x64', os: 'linux' },
    runtime: { onnxruntime: '1.30.0' },
    reference: 'model.onnx',
    selected: null,
    candidates: [
      candidate('int8-dynamic', [['accuracy_drop_max', true], ['latency_ratio_max', false]]),
      candidate('fp16', [['latency_ratio_max', false], ['size_bytes_max', false]]),
    ],
  };

  it('puts one annotation per failed budget on its line, naming each candidate it stopped', () => {
    const lines: Record<string, number> = { latency_ratio_max: 12, size_bytes_max: 13 };
    const annotations = failedBudgetAnnotations(report, (p) => (p[0] === 'gate' && lines[String(p[1])] ? { line: lines[String(p[1])]!, col: 3 } : undefined), 'examples/mnist/modelgate.yml');
    expect(annotations).toEqual([
      {
        title: 'ModelGate: latency_ratio_max',
        message: 'int8-dynamic: latency_ratio_max exceeded\nfp16: latency_ratio_max exceeded',
        file: 'examples/mnist/modelgate.yml',
        startLine: 12,
        startColumn: 3,
      },
      { title: 'ModelGate: size_bytes_max', message: 'fp16: size_bytes_max exceeded', file: 'examples/mnist/modelgate.yml', startLine: 13, startColumn: 3 },
    ]);
  });

  it('leaves a check that is not a budget, or a config without positions, unplaced', () => {
    const withBuildFailure: Report = { ...report, candidates: [...report.candidates, candidate('broken', [['build', false]])] };
    const annotations = failedBudgetAnnotations(withBuildFailure, (p) => (p[1] === 'size_bytes_max' ? { line: 13, col: 3 } : undefined), 'modelgate.yml');
    expect(annotations.find((a) => a.title === 'ModelGate: build')).toEqual({ title: 'ModelGate: build', message: 'broken: build exceeded' });
    expect(failedBudgetAnnotations(report, undefined, undefined)[0]).toEqual({
      title: 'ModelGate: latency_ratio_max',
      message: 'int8-dynamic: latency_ratio_max exceeded\nfp16: latency_ratio_max exceeded',
    });
  });
});
