import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractRevision, resolveMergeBase } from '../../src/git/base.js';
import { ModelGateError } from '../../src/errors.js';

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.com', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
};
const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const commit = (cwd: string, msg: string): string => {
  git(cwd, 'add', '-A');
  git(cwd, 'commit', '-q', '-m', msg);
  return git(cwd, 'rev-parse', 'HEAD');
};

/**
 * origin:  main:    c1 (model v1, weights/) ── m1 ── … ── m6
 *          feature:  └── f1 (model v2) ── f2 … f6
 * Six commits on each side put the merge base c1 seven commits below both tips.
 */
describe('git base extraction', () => {
  let root: string;
  let origin: string;
  let c1: string;
  let mainTip: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'mg-git-'));
    origin = path.join(root, 'origin');
    mkdirSync(origin);
    git(origin, 'init', '-q', '-b', 'main');
    mkdirSync(path.join(origin, 'models', 'weights'), { recursive: true });
    writeFileSync(path.join(origin, 'models', 'model.onnx'), 'model v1');
    writeFileSync(path.join(origin, 'models', 'weights', 'a.bin'), 'A1');
    writeFileSync(path.join(origin, 'models', 'weights', 'b.bin'), 'B1');
    writeFileSync(path.join(origin, 'lfs.onnx'), 'version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 123\n');
    symlinkSync('model.onnx', path.join(origin, 'models', 'link.onnx'));
    c1 = commit(origin, 'c1');
    for (let i = 1; i <= 6; i++) {
      writeFileSync(path.join(origin, 'README.md'), `main ${i}`);
      mainTip = commit(origin, `m${i}`);
    }
    git(origin, 'checkout', '-q', '-b', 'feature', c1);
    writeFileSync(path.join(origin, 'models', 'model.onnx'), 'model v2');
    writeFileSync(path.join(origin, 'models', 'new.onnx'), 'added in the PR');
    commit(origin, 'f1');
    for (let i = 2; i <= 6; i++) {
      writeFileSync(path.join(origin, 'notes.txt'), `feature ${i}`);
      commit(origin, `f${i}`);
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const clone = (name: string, ...flags: string[]): string => {
    const dir = path.join(root, name);
    execFileSync('git', ['clone', '-q', ...flags, '--branch', 'feature', `file://${origin}`, dir], { env });
    return dir;
  };

  it('finds the merge base and the base model in a full clone without fetching', async () => {
    const full = clone('full');
    const mb = await resolveMergeBase(full, 'main');
    expect(mb).toEqual({ sha: c1, baseSha: mainTip, headSha: git(full, 'rev-parse', 'HEAD'), fetchedDepth: null });
    const dest = path.join(root, 'out-full');
    const r = await extractRevision(full, mb.sha, ['models/model.onnx', 'models/weights'], dest);
    expect(r.complete).toBe(true);
    expect(r.rev).toBe(c1);
    expect(r.files.map((f) => f.path).sort()).toEqual(['models/model.onnx', 'models/weights/a.bin', 'models/weights/b.bin']);
    expect(readFileSync(path.join(dest, 'models', 'model.onnx'), 'utf8')).toBe('model v1');
    expect(readFileSync(path.join(dest, 'models', 'weights', 'b.bin'), 'utf8')).toBe('B1');
    expect(r.files.find((f) => f.path === 'models/model.onnx')!.bytes).toBe(8);
  });

  it('fetches, deepening step by step, in a depth-1 clone', async () => {
    const shallow = clone('shallow', '--depth', '1');
    expect(git(shallow, 'rev-parse', '--is-shallow-repository')).toBe('true');
    expect(() => git(shallow, 'cat-file', '-e', `${c1}^{commit}`)).toThrow();
    const mb = await resolveMergeBase(shallow, 'main', 'HEAD', { initialDepth: 2 });
    expect(mb.sha).toBe(c1);
    expect(mb.baseSha).toBe(mainTip);
    // 2 is too shallow for a base seven commits down; the next step (8) reaches it.
    expect(mb.fetchedDepth).toBe(8);
    const dest = path.join(root, 'out-shallow');
    const r = await extractRevision(shallow, mb.sha, ['models/model.onnx'], dest);
    expect(r.complete).toBe(true);
    expect(readFileSync(path.join(dest, 'models', 'model.onnx'), 'utf8')).toBe('model v1');
  });

  it('deepens from the shallow boundary when HEAD is a local commit the remote does not have', async () => {
    const shallow = clone('shallow-local', '--depth', '1');
    writeFileSync(path.join(shallow, 'local.txt'), 'not pushed');
    const local = commit(shallow, 'local');
    const mb = await resolveMergeBase(shallow, 'main', 'HEAD', { initialDepth: 2 });
    expect(mb.sha).toBe(c1);
    expect(mb.headSha).toBe(local);
  });

  it('fetches a commit that a shallow clone lacks when extracting it directly', async () => {
    const shallow = clone('shallow-extract', '--depth', '1');
    const r = await extractRevision(shallow, c1, ['models/model.onnx'], path.join(root, 'out-direct'));
    expect(r.rev).toBe(c1);
    expect(readFileSync(r.files[0]!.dest, 'utf8')).toBe('model v1');
  });

  it('gives up with a clear error at the depth cap', async () => {
    const shallow = clone('shallow-capped', '--depth', '1');
    await expect(resolveMergeBase(shallow, 'main', 'HEAD', { initialDepth: 2, maxDepth: 4 })).rejects.toThrow(/within 4 commits.*fetch-depth: 0/);
  });

  it('reports a model that does not exist at the base instead of throwing', async () => {
    const full = path.join(root, 'full');
    const r = await extractRevision(full, c1, ['models/new.onnx', 'models/model.onnx', 'lfs.onnx', 'models/link.onnx'], path.join(root, 'out-missing'));
    expect(r.complete).toBe(false);
    expect(r.files.map((f) => f.path)).toEqual(['models/model.onnx']);
    expect(r.missing).toEqual([
      { path: 'models/new.onnx', reason: 'absent' },
      { path: 'lfs.onnx', reason: 'lfs-pointer' },
      { path: 'models/link.onnx', reason: 'symlink' },
    ]);
    expect(r.message).toMatch(new RegExp(`^no model at base ${c1.slice(0, 8)}: models/new.onnx does not exist there`));
    expect(r.message).toMatch(/lfs\.onnx is a Git LFS pointer/);
  });

  it('resolves paths relative to a subfolder of the repository', async () => {
    const sub = path.join(root, 'full', 'models');
    const r = await extractRevision(sub, c1, ['model.onnx', path.join(sub, 'weights', 'a.bin')], path.join(root, 'out-sub'));
    expect(r.files.map((f) => f.path)).toEqual(['model.onnx', 'weights/a.bin']);
    expect(readFileSync(path.join(root, 'out-sub', 'model.onnx'), 'utf8')).toBe('model v1');
  });

  it('refuses paths and revisions that escape', async () => {
    const full = path.join(root, 'full');
    const dest = path.join(root, 'out-escape');
    await expect(extractRevision(full, c1, ['../outside.onnx'], dest)).rejects.toThrow(ModelGateError);
    await expect(extractRevision(full, c1, ['models/../../x'], dest)).rejects.toThrow(/outside the repository/);
    await expect(extractRevision(full, c1, ['/etc/passwd'], dest)).rejects.toThrow(/outside the repository/);
    await expect(extractRevision(full, '--output=/tmp/x', ['models/model.onnx'], dest)).rejects.toThrow(/not a valid git revision/);
    await expect(resolveMergeBase(full, 'no-such-branch')).rejects.toThrow(/could not be fetched/);
  });
});
