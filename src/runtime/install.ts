/**
 * Installing a native runtime package (onnxruntime-node, the optional tfjs-tflite-node) where the bundle can load it.
 *
 * The bundle does not carry native libraries, so on a fresh runner the package is installed into the runner's tool
 * cache. It is installed with `npm ci` from a committed lockfile (runtime-lock/<package>/, copied to dist/runtime-lock/
 * by the build), so every job gets the same transitive versions, checked against their integrity hashes, instead of
 * resolving the package's ranges afresh. The action keeps the installed folder in the Actions cache, keyed on the
 * package, its version, the OS, the CPU architecture and the lockfile's digest, so later jobs and workflow runs
 * restore it instead of downloading the package again.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ModelGateError, errorMessage } from '../errors.js';

export interface RuntimePackage {
  /** The npm package, also the name of its folder under runtime-lock/. */
  name: string;
  /** The exact version the lockfile pins. */
  version: string;
  /** Build its native addon after installing (node-gyp; needs a C++ compiler). */
  build: boolean;
  /** Platform-specific folders that may be deleted after installing, to keep the cached folder small. */
  prune?: (packageDir: string, platform: string, arch: string) => string[];
}

/** Where a runtime's install is kept: the Actions cache restores and saves exactly this folder. */
export interface RuntimeCache {
  restore(dir: string, key: string): Promise<boolean>;
  save(dir: string, key: string): Promise<void>;
}

export interface RuntimeInstall {
  dir: string;
  /** present: already installed; cache: restored from the cache; npm: installed with npm ci now. */
  source: 'present' | 'cache' | 'npm';
  seconds: number;
  key: string;
}

/** The folder with runtime-lock/<name>/package-lock.json, from this module up to the filesystem root. */
export function runtimeLockDir(name: string, from: string = import.meta.url): string {
  for (let dir = path.dirname(fileURLToPath(from)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'runtime-lock', name);
    if (existsSync(path.join(candidate, 'package-lock.json'))) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new ModelGateError(`runtime-lock/${name}/package-lock.json not found above ${fileURLToPath(from)}; rebuild dist/ with npm run build`);
}

/** The version the lockfile pins for the package, or undefined when it does not list it. */
export function lockedVersion(lockText: string, name: string): string | undefined {
  const lock = JSON.parse(lockText) as { packages?: Record<string, { version?: string }> };
  return lock.packages?.[`node_modules/${name}`]?.version;
}

/** The cache key: a different package version, OS, CPU or lockfile never restores another's install. */
export function runtimeCacheKey(pkg: RuntimePackage, lockText: string, platform: string = process.platform, arch: string = process.arch): string {
  const digest = createHash('sha256').update(lockText).digest('hex').slice(0, 16);
  return `modelgate-${pkg.name}-${pkg.version}-${platform}-${arch}-${digest}`;
}

/** RUNNER_TOOL_CACHE/modelgate/<name>-<version> on a runner, ~/.cache/modelgate/<name>-<version> elsewhere. */
export function runtimeInstallDir(pkg: RuntimePackage): string {
  const base = process.env.RUNNER_TOOL_CACHE || path.join(os.homedir(), '.cache');
  return path.join(base, 'modelgate', `${pkg.name}-${pkg.version}`);
}

function installedVersion(dir: string, name: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** A C++ compiler on PATH, which node-gyp needs to build an addon. */
export function hasCompiler(): boolean {
  for (const cc of [process.env.CXX, 'c++', 'g++', 'clang++'].filter((c): c is string => !!c)) {
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      // try the next one
    }
  }
  return false;
}

function npm(args: string[], cwd: string): void {
  execFileSync('npm', args, {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    shell: process.platform === 'win32',
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip', npm_config_fund: 'false', npm_config_audit: 'false' },
  });
}

/**
 * `npm ci` from the committed lockfile into dir (synchronous: the ORT loader that calls it is). Install scripts stay
 * off for the whole tree; a package that needs its addon built gets `npm rebuild <name>`, which runs node-gyp for it alone.
 */
export function installFromLock(pkg: RuntimePackage, dir: string, lockDir: string = runtimeLockDir(pkg.name)): number {
  const started = Date.now();
  const pinned = lockedVersion(readFileSync(path.join(lockDir, 'package-lock.json'), 'utf8'), pkg.name);
  if (pinned !== pkg.version) {
    throw new ModelGateError(`${path.join(lockDir, 'package-lock.json')} pins ${pkg.name}@${pinned ?? 'nothing'}, but ModelGate needs ${pkg.version}`);
  }
  try {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(path.join(lockDir, file), path.join(dir, file));
    npm(['ci', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
    if (pkg.build) npm(['rebuild', pkg.name], dir);
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-3).join(' ');
    throw new ModelGateError(`could not install ${pkg.name}@${pkg.version} into ${dir}: ${stderr || errorMessage(err)}`, { cause: err });
  }
  const packageDir = path.join(dir, 'node_modules', pkg.name);
  for (const extra of pkg.prune?.(packageDir, process.platform, process.arch) ?? []) rmSync(extra, { recursive: true, force: true });
  return (Date.now() - started) / 1000;
}

/**
 * Makes sure dir holds the package: already there, else restored from the cache, else installed with npm ci and saved
 * to the cache. Cache trouble only costs time: a failed restore installs, a failed save is logged.
 */
export async function ensureRuntime(pkg: RuntimePackage, options: { cache?: RuntimeCache; log?: (message: string) => void; dir?: string } = {}): Promise<RuntimeInstall> {
  const log = options.log ?? (() => {});
  const dir = options.dir ?? runtimeInstallDir(pkg);
  const lockDir = runtimeLockDir(pkg.name);
  const key = runtimeCacheKey(pkg, readFileSync(path.join(lockDir, 'package-lock.json'), 'utf8'));
  if (installedVersion(dir, pkg.name) === pkg.version) return { dir, source: 'present', seconds: 0, key };

  const started = Date.now();
  if (options.cache) {
    let restored = false;
    try {
      restored = await options.cache.restore(dir, key);
    } catch (err) {
      log(`${pkg.name}: the cache could not be read (${errorMessage(err)}); installing it`);
    }
    if (restored && installedVersion(dir, pkg.name) === pkg.version) {
      const seconds = (Date.now() - started) / 1000;
      log(`${pkg.name} ${pkg.version}: restored from the cache (${key}) in ${seconds.toFixed(1)} s`);
      return { dir, source: 'cache', seconds, key };
    }
  }
  const seconds = installFromLock(pkg, dir, lockDir);
  log(`${pkg.name} ${pkg.version}: installed with npm ci from the committed lockfile into ${dir} in ${seconds.toFixed(1)} s`);
  if (options.cache) {
    try {
      await options.cache.save(dir, key);
      log(`${pkg.name}: saved to the cache as ${key}`);
    } catch (err) {
      log(`${pkg.name}: not saved to the cache (${errorMessage(err)})`);
    }
  }
  return { dir, source: 'npm', seconds, key };
}

/** onnxruntime-node ships every platform's binaries (288 MB unpacked); the runner needs its own only. */
export function pruneOtherPlatforms(packageDir: string, platform: string, arch: string): string[] {
  const out: string[] = [];
  const binDir = path.join(packageDir, 'bin');
  if (!existsSync(binDir)) return out;
  for (const napi of readdirSync(binDir)) {
    const napiDir = path.join(binDir, napi);
    for (const p of readdirSync(napiDir)) {
      if (p !== platform) {
        out.push(path.join(napiDir, p));
        continue;
      }
      for (const a of readdirSync(path.join(napiDir, p))) if (a !== arch) out.push(path.join(napiDir, p, a));
    }
  }
  return out;
}
