/**
 * The one way ModelGate reads a file that a config, a model or an artifact names. Every such file
 * may come from a hostile pull request, so a read:
 *  - resolves symlinks first and checks containment on the real path (path text can lie),
 *  - refuses anything that is not a regular file: FIFOs (which block forever), devices (/dev/zero
 *    never ends), sockets, directories, and the kernel's pseudo-files under /proc and /sys (they
 *    stat as regular files of size 0, and /proc/self/environ holds the runner's secrets),
 *  - caps the bytes before reading: the cap is checked on the opened descriptor's size and again
 *    while reading, so a file that grows (or lies about its size) cannot exceed it.
 * This module sits below every stage and imports nothing from them.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, realpathSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ModelGateError, errorMessage } from '../errors.js';

/** Kernel pseudo-filesystems: their "regular" files are views of process and machine state. */
const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];

export interface SafeReadOptions {
  /** Largest number of bytes accepted; the read stops (with an error) as soon as it would pass this. */
  maxBytes: number;
  /** How messages name the file (the path as the user wrote it, or 'model.onnx: external data x.bin'). */
  label?: string;
  /** What the file is, for messages: 'model', 'config', 'weight shard'. */
  what?: string;
  /** When set, the file's real path must lie inside one of these folders (their real paths). */
  within?: string | readonly string[];
}

export interface CheckedFile {
  /** The path with every symlink resolved: open this, not the path given. */
  realPath: string;
  size: number;
}

/** `child` is `root` or below it; both must already be real, absolute paths. */
export function isInside(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The real path of a folder that may not exist yet (its nearest existing ancestor is resolved). */
export function realFolder(dir: string): string {
  const abs = path.resolve(dir);
  try {
    return realpathSync.native(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(realFolder(parent), path.basename(abs));
  }
}

function isPseudo(real: string): boolean {
  return PSEUDO_ROOTS.some((r) => real === r || real.startsWith(r + '/'));
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The checks of a read without the read: for libraries that open a file by path themselves
 * (h5wasm). Pass them `realPath`.
 */
export function checkReadableFile(file: string, options: SafeReadOptions): CheckedFile {
  const label = options.label ?? file;
  const what = options.what ?? 'file';
  let real: string;
  let st: Stats;
  try {
    real = realpathSync.native(path.resolve(file));
    st = statSync(real);
  } catch (err) {
    throw new ModelGateError(`${label}: cannot read ${what} (${errorMessage(err)})`, { cause: err });
  }
  if (isPseudo(real)) throw new ModelGateError(`${label}: refusing to read ${what} from ${real} (a kernel or device file)`);
  if (options.within !== undefined) {
    const roots = (typeof options.within === 'string' ? [options.within] : options.within).map(realFolder);
    if (!roots.some((r) => isInside(r, real))) {
      throw new ModelGateError(`${label}: ${what} resolves to ${real}, outside ${roots.length === 1 ? `the allowed folder ${roots[0]}` : `the allowed folders (${roots.join(', ')})`}; refusing to read it`);
    }
  }
  if (st.isDirectory()) throw new ModelGateError(`${label}: is a directory, expected a ${what} file`);
  if (!st.isFile()) throw new ModelGateError(`${label}: ${what} is ${kindOf(st)}, not a regular file; refusing to read it`);
  if (st.size > options.maxBytes) throw new ModelGateError(`${label}: ${st.size} bytes is more than the ${options.maxBytes}-byte limit for a ${what}`);
  return { realPath: real, size: st.size };
}

/** Reads a whole file under the checks above. Throws ModelGateError with one line naming the file. */
export function readFileSafe(file: string, options: SafeReadOptions): Buffer {
  const label = options.label ?? file;
  const what = options.what ?? 'file';
  const { realPath } = checkReadableFile(file, options);
  let fd: number;
  try {
    // O_NONBLOCK: if the path was swapped for a FIFO after the check, open must not wait for a writer.
    // O_NOFOLLOW: nor may it have become a symlink since realpath resolved it.
    fd = openSync(realPath, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    throw new ModelGateError(`${label}: cannot read ${what} (${errorMessage(err)})`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ModelGateError(`${label}: ${what} is ${kindOf(st)}, not a regular file; refusing to read it`);
    if (st.size > options.maxBytes) throw new ModelGateError(`${label}: ${st.size} bytes is more than the ${options.maxBytes}-byte limit for a ${what}`);
    // One byte more than the size says: a file that grows while we read is caught, not followed.
    let buf = Buffer.allocUnsafe(Math.min(options.maxBytes, st.size) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (buf.length > options.maxBytes) throw new ModelGateError(`${label}: ${what} grew past the ${options.maxBytes}-byte limit while being read`);
        const bigger = Buffer.allocUnsafe(Math.min(options.maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      let got: number;
      try {
        got = readSync(fd, buf, n, buf.length - n, null);
      } catch (err) {
        throw new ModelGateError(`${label}: cannot read ${what} (${errorMessage(err)})`, { cause: err });
      }
      if (got === 0) break;
      n += got;
    }
    if (n > options.maxBytes) throw new ModelGateError(`${label}: ${what} grew past the ${options.maxBytes}-byte limit while being read`);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * A path a file names relative to its own folder (external data, weight shards): the name must not
 * escape lexically, and its real path must stay inside the real folder (no symlink out of it).
 */
export function resolveInsideFolder(dir: string, name: string, label: string, what: string, folder = 'the model folder'): string {
  if (typeof name !== 'string' || name === '' || name.includes('\0') || path.isAbsolute(name) || /^[A-Za-z]:/.test(name) || name.split(/[\\/]/).includes('..') || /^[a-z][a-z0-9+.-]*:/i.test(name)) {
    throw new ModelGateError(`${label}: ${what} '${String(name)}' points outside ${folder}; refusing the model`);
  }
  return path.resolve(dir, name);
}

/** Where files that a config names may be: the workspace, plus the config's own folder. */
export interface ConfigPathPolicy {
  /** Real paths of the allowed folders. */
  roots: string[];
}

/** The workspace: GITHUB_WORKSPACE on a runner, else the current directory. */
export function workspaceRoot(): string {
  return realFolder(process.env.GITHUB_WORKSPACE || process.cwd());
}

export function configPathPolicy(configDir: string): ConfigPathPolicy {
  return { roots: [...new Set([workspaceRoot(), realFolder(configDir)])] };
}

/**
 * Checks a path the config names. A path whose text stays inside the workspace (or the config's
 * folder) must also resolve there: a symlink committed in a PR cannot redirect it. A path whose
 * text itself points elsewhere (/data/model.onnx, ../../shared/x.npy) is the config author's
 * explicit choice and is allowed; every read still refuses special files and caps bytes.
 */
export function checkConfigPath(resolved: string, policy: ConfigPathPolicy, label: string): void {
  const lexical = path.resolve(resolved);
  const lexicalInside = policy.roots.some((r) => isInside(r, realFolder(path.dirname(lexical))) || isInside(r, lexical));
  if (!lexicalInside) return;
  let real: string;
  try {
    real = realpathSync.native(lexical);
  } catch {
    return; // missing: the read reports it
  }
  if (!policy.roots.some((r) => isInside(r, real))) {
    throw new ModelGateError(`${label}: resolves (through a symlink) to ${real}, outside the workspace; refusing to read it (name the real path in the config if you mean it)`);
  }
}

/**
 * Makes the out dir ready, or says in one line why it cannot be (exit 2): it must be a folder (or
 * creatable as one) that we can write. The CLI and the action call this before any stage runs, since
 * an out dir that cannot take report.json cannot report its own error. `flag` names the option.
 */
export function prepareOutDir(dir: string, flag = '--out'): string {
  const abs = path.resolve(dir);
  const fail = (why: string, cause?: unknown): never => {
    throw new ModelGateError(`${flag} '${dir}': ${why}`, cause === undefined ? undefined : { cause });
  };
  if (dir.trim() === '' || dir.includes('\0')) fail('is not a usable path');
  let existing: Stats | undefined;
  try {
    existing = statSync(abs, { throwIfNoEntry: false });
  } catch (err) {
    fail(`cannot create the folder (${errorMessage(err)})`, err);
  }
  if (existing && !existing.isDirectory()) fail(`exists and is ${existing.isFile() ? 'a file' : kindOf(existing)}, not a folder`);
  if (isPseudo(realFolder(abs))) fail('is on a kernel filesystem (/proc, /sys, /dev)');
  // Level by level, not mkdirSync({ recursive: true }): on a filesystem that answers ENOENT for a
  // parent that exists (/proc), Node's recursive mkdir retries forever.
  const missing: string[] = [];
  for (let d = abs; !statSync(d, { throwIfNoEntry: false }); d = path.dirname(d)) {
    if (path.dirname(d) === d) break;
    missing.unshift(d);
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') fail(`cannot create the folder (${errorMessage(err)})`, err);
    }
  }
  const probe = path.join(abs, `.modelgate-write-test-${process.pid}`);
  try {
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (err) {
    fail(`cannot write into the folder (${errorMessage(err)})`, err);
  }
  return abs;
}
