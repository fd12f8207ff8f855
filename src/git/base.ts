/**
 * The model as it was at the PR's base, for a before/after comparison. Runs the git CLI (execFile,
 * no shell). CI checkouts are usually shallow (actions/checkout fetches one commit), so a missing
 * commit is fetched from the remote, deepening step by step until the merge base appears.
 */
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ModelGateError } from '../errors.js';

export interface GitOptions {
  /** Remote to fetch missing history from; 'origin' by default. */
  remote?: string;
}

export interface MergeBaseOptions extends GitOptions {
  /** First fetch depth in a shallow clone; 32 by default. Each further step fetches 4× deeper. */
  initialDepth?: number;
  /** Deepest fetch before giving up; 4096 by default. */
  maxDepth?: number;
}

export interface MergeBase {
  /** The merge base commit. */
  sha: string;
  baseSha: string;
  headSha: string;
  /** The depth last fetched to find it, or null when no fetch was needed. */
  fetchedDepth: number | null;
}

export interface ExtractedFile {
  /** As requested (relative to repoDir), or the file's path under a requested folder. */
  path: string;
  /** Where it was written, inside destDir. */
  dest: string;
  bytes: number;
}

export interface MissingPath {
  path: string;
  /** absent: not in that commit; lfs-pointer: only the Git LFS pointer is available; submodule/symlink: not a file we can read. */
  reason: 'absent' | 'lfs-pointer' | 'submodule' | 'symlink';
}

export interface ExtractedRevision {
  /** The full commit sha that was read. */
  rev: string;
  files: ExtractedFile[];
  missing: MissingPath[];
  /** True when every requested path was written. */
  complete: boolean;
  /** For logs and the report when something is missing, e.g. "no model at base 1a2b3c4d: model.onnx does not exist there". */
  message?: string;
}

const GIT_ENV = { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
const FETCH_TIMEOUT_MS = 10 * 60_000;

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

function git(repoDir: string, args: string[], timeout = 60_000): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile('git', ['-C', repoDir, ...args], { env: GIT_ENV, maxBuffer: 64 * 1024 * 1024, timeout, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new ModelGateError(`git ${args[0]} failed in ${repoDir}: ${err.killed ? 'timed out' : err.message}`, { cause: err }));
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

async function gitOk(repoDir: string, args: string[], timeout?: number): Promise<string> {
  const r = await git(repoDir, args, timeout);
  if (r.code !== 0) throw new ModelGateError(`git ${args.join(' ')} failed in ${repoDir}: ${r.stderr.trim() || `exit code ${r.code}`}`);
  return r.stdout;
}

/** Refs come from config and CI variables: an option-looking or control-character value is refused, not passed to git. */
function checkRef(ref: string, what: string): void {
  if (!ref || ref.startsWith('-') || /[\s\x00-\x1f\x7f]/.test(ref)) throw new ModelGateError(`${what} '${ref}' is not a valid git revision`);
}

async function resolveCommit(repoDir: string, ref: string): Promise<string | undefined> {
  const r = await git(repoDir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** The commits whose parents a shallow clone lacks (.git/shallow). */
async function shallowBoundary(repoDir: string): Promise<string[]> {
  const file = (await gitOk(repoDir, ['rev-parse', '--path-format=absolute', '--git-path', 'shallow'])).trim();
  try {
    return readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => /^[0-9a-f]{40,64}$/.test(l));
  } catch {
    return [];
  }
}

async function isShallow(repoDir: string): Promise<boolean> {
  return (await gitOk(repoDir, ['rev-parse', '--is-shallow-repository'])).trim() === 'true';
}

/**
 * Fetches `refs`, each into refs/modelgate/<name> when named (so later calls find it without a fetch).
 * `depth` is for shallow clones only: --depth on a complete clone would make it shallow.
 * Deepening passes bare shas: git skips a want whose destination ref already points at it, which
 * would leave that side as shallow as it was.
 */
async function fetchRefs(repoDir: string, remote: string, refs: Array<{ ref: string; name?: string }>, depth: number | null): Promise<GitResult> {
  const args = ['fetch', '--no-tags', '--quiet', '--no-write-fetch-head'];
  if (depth !== null) args.push(`--depth=${depth}`);
  args.push(remote, ...refs.map((r) => (r.name ? `+${r.ref}:refs/modelgate/${r.name}` : r.ref)));
  return git(repoDir, args, FETCH_TIMEOUT_MS);
}

/** A commit for `ref`: local, as a remote-tracking branch, or fetched from the remote. */
async function findOrFetchCommit(repoDir: string, ref: string, remote: string, name: string, depth: number): Promise<{ sha: string; fetched: boolean }> {
  const local = (await resolveCommit(repoDir, ref)) ?? (await resolveCommit(repoDir, `refs/remotes/${remote}/${ref}`));
  if (local) return { sha: local, fetched: false };
  const fetched = await fetchRefs(repoDir, remote, [{ ref, name }], (await isShallow(repoDir)) ? depth : null);
  const sha = fetched.code === 0 ? await resolveCommit(repoDir, `refs/modelgate/${name}`) : undefined;
  if (!sha) {
    const why = fetched.stderr.trim().split('\n').at(-1) || `exit code ${fetched.code}`;
    throw new ModelGateError(`git revision '${ref}' is not in ${repoDir} and could not be fetched from '${remote}' (${why})`);
  }
  return { sha, fetched: true };
}

/**
 * The merge base of baseRef and headRef. In a shallow clone the base is fetched if missing, and
 * both sides are deepened (initialDepth, then ×4 up to maxDepth) until git finds a common ancestor.
 * If the head commit exists only locally (not on the remote), only the base side can be deepened.
 */
export async function resolveMergeBase(repoDir: string, baseRef: string, headRef = 'HEAD', opts: MergeBaseOptions = {}): Promise<MergeBase> {
  checkRef(baseRef, 'base ref');
  checkRef(headRef, 'head ref');
  const remote = opts.remote ?? 'origin';
  const maxDepth = opts.maxDepth ?? 4096;
  let depth = Math.min(opts.initialDepth ?? 32, maxDepth);
  const head = await findOrFetchCommit(repoDir, headRef, remote, 'head', depth);
  const base = await findOrFetchCommit(repoDir, baseRef, remote, 'base', depth);
  let fetchedDepth: number | null = head.fetched || base.fetched ? depth : null;
  for (;;) {
    const r = await git(repoDir, ['merge-base', base.sha, head.sha]);
    if (r.code === 0) return { sha: r.stdout.trim(), baseSha: base.sha, headSha: head.sha, fetchedDepth };
    if (r.code !== 1) throw new ModelGateError(`git merge-base ${base.sha} ${head.sha} failed in ${repoDir}: ${r.stderr.trim()}`);
    if (!(await isShallow(repoDir))) {
      throw new ModelGateError(`${baseRef} and ${headRef} have no common history in ${repoDir}`);
    }
    if (fetchedDepth !== null && fetchedDepth >= maxDepth) {
      throw new ModelGateError(
        `no merge base of ${baseRef} (${base.sha.slice(0, 8)}) and ${headRef} (${head.sha.slice(0, 8)}) within ${maxDepth} commits of history; ` +
          'fetch the full history (actions/checkout with fetch-depth: 0)',
      );
    }
    if (fetchedDepth !== null) depth = Math.min(depth * 4, maxDepth);
    const both = await fetchRefs(repoDir, remote, [{ ref: base.sha }, { ref: head.sha }], depth);
    if (both.code !== 0) {
      // The head commit is not on the remote (a local commit on a shallow clone): deepen from the
      // shallow boundary instead, whose commits did come from the remote.
      const boundary = await shallowBoundary(repoDir);
      const retry = await fetchRefs(repoDir, remote, [{ ref: base.sha }, ...boundary.map((ref) => ({ ref }))], depth);
      if (retry.code !== 0) throw new ModelGateError(`git fetch from '${remote}' failed in ${repoDir}: ${retry.stderr.trim()}`);
    }
    fetchedDepth = depth;
  }
}

/** A repo-relative posix path for a path given relative to repoDir (or absolute inside it); refuses anything outside. */
function repoRelative(repoDir: string, prefix: string, p: string): { requested: string; inRepo: string } {
  const rel = path.isAbsolute(p) ? path.relative(path.resolve(repoDir), p) : p;
  const requested = path.posix.normalize(rel.split(path.sep).join('/')).replace(/\/+$/, '');
  if (!requested || requested === '.' || requested === '..' || requested.startsWith('../') || path.posix.isAbsolute(requested)) {
    throw new ModelGateError(`path '${p}' is outside the repository at ${repoDir}`);
  }
  const inRepo = path.posix.normalize(prefix + requested);
  if (inRepo.startsWith('../')) throw new ModelGateError(`path '${p}' is outside the repository at ${repoDir}`);
  return { requested, inRepo };
}

function destFor(destDir: string, relative: string): string {
  const root = path.resolve(destDir);
  const dest = path.resolve(root, ...relative.split('/'));
  if (!dest.startsWith(root + path.sep)) throw new ModelGateError(`'${relative}' would be written outside ${destDir}`);
  return dest;
}

async function blobToFile(repoDir: string, object: string, file: string): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  // --filters applies the checkout's filters (Git LFS smudge when it is set up, line endings).
  const child = spawn('git', ['-C', repoDir, 'cat-file', '--filters', object], { env: GIT_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  await pipeline(child.stdout, createWriteStream(file));
  const code = await exited;
  if (code !== 0) throw new ModelGateError(`git cat-file ${object} failed in ${repoDir}: ${stderr.trim() || `exit code ${code}`}`);
}

const LFS_POINTER = 'version https://git-lfs.github.com/spec/v1';

function isLfsPointer(file: string, bytes: number): boolean {
  return bytes < 1024 && readFileSync(file, 'utf8').startsWith(LFS_POINTER);
}

/**
 * Writes `paths` (files or folders, relative to repoDir) as they are at `rev` into destDir, keeping
 * their relative layout. A commit missing from a shallow clone is fetched. A path that does not
 * exist at `rev` is reported in `missing` (with `message`), not thrown: "no model at base" is a normal
 * outcome for a PR that adds the model.
 */
export async function extractRevision(repoDir: string, rev: string, paths: string[], destDir: string, opts: GitOptions = {}): Promise<ExtractedRevision> {
  checkRef(rev, 'revision');
  const remote = opts.remote ?? 'origin';
  const { sha } = await findOrFetchCommit(repoDir, rev, remote, 'rev', 1);
  const prefix = (await gitOk(repoDir, ['rev-parse', '--show-prefix'])).trim();
  const files: ExtractedFile[] = [];
  const missing: MissingPath[] = [];
  for (const p of paths) {
    const { requested, inRepo } = repoRelative(repoDir, prefix, p);
    const listing = await gitOk(repoDir, ['ls-tree', '-r', '-z', '--full-tree', sha, '--', inRepo]);
    // "<mode> <type> <object>\t<path>" per entry; keep the path itself or entries under it as a folder.
    const entries = listing.split('\0').filter(Boolean).map((line) => {
      const tab = line.indexOf('\t');
      const [mode, type, object] = line.slice(0, tab).split(' ') as [string, string, string];
      return { mode, type, object, entryPath: line.slice(tab + 1) };
    }).filter((e) => e.entryPath === inRepo || e.entryPath.startsWith(inRepo + '/'));
    if (entries.length === 0) {
      missing.push({ path: requested, reason: 'absent' });
      continue;
    }
    for (const e of entries) {
      const relative = requested + e.entryPath.slice(inRepo.length);
      if (e.type === 'commit') { missing.push({ path: relative, reason: 'submodule' }); continue; }
      if (e.mode === '120000') { missing.push({ path: relative, reason: 'symlink' }); continue; }
      const dest = destFor(destDir, relative);
      await blobToFile(repoDir, `${sha}:${e.entryPath}`, dest);
      const bytes = statSync(dest).size;
      if (isLfsPointer(dest, bytes)) { missing.push({ path: relative, reason: 'lfs-pointer' }); continue; }
      files.push({ path: relative, dest, bytes });
    }
  }
  const result: ExtractedRevision = { rev: sha, files, missing, complete: missing.length === 0 };
  if (missing.length > 0) result.message = describeMissing(sha, missing);
  return result;
}

function describeMissing(sha: string, missing: MissingPath[]): string {
  const why: Record<MissingPath['reason'], string> = {
    absent: 'does not exist there',
    'lfs-pointer': 'is a Git LFS pointer (fetch LFS objects, e.g. actions/checkout with lfs: true)',
    submodule: 'is a submodule',
    symlink: 'is a symbolic link',
  };
  return `no model at base ${sha.slice(0, 8)}: ${missing.map((m) => `${m.path} ${why[m.reason]}`).join('; ')}`;
}
