/** The runtime installs' lockfiles and cache keys: what the action relies on to restore the right install. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lockedVersion, pruneOtherPlatforms, runtimeCacheKey, runtimeInstallDir, runtimeLockDir } from '../../src/runtime/install.js';
import { ORT_PACKAGE, ORT_VERSION } from '../../src/runtime/ort.js';
import { TFLITE_RUNTIME_PACKAGE, TFLITE_PACKAGE_VERSION } from '../../src/runtime/tflite.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; optionalDependencies: Record<string, string> };

describe('runtime lockfiles', () => {
  it('pin the versions the code loads and package.json depends on', () => {
    const ortLock = readFileSync(path.join(runtimeLockDir('onnxruntime-node'), 'package-lock.json'), 'utf8');
    const tfliteLock = readFileSync(path.join(runtimeLockDir('tfjs-tflite-node'), 'package-lock.json'), 'utf8');
    expect(lockedVersion(ortLock, 'onnxruntime-node')).toBe(ORT_VERSION);
    expect(pkg.dependencies['onnxruntime-node']).toBe(ORT_VERSION);
    expect(lockedVersion(tfliteLock, 'tfjs-tflite-node')).toBe(TFLITE_PACKAGE_VERSION);
    expect(pkg.optionalDependencies['tfjs-tflite-node']).toBe(TFLITE_PACKAGE_VERSION);
    // Every package in the lock has an integrity hash, so npm ci checks what it downloads.
    const packages = Object.entries((JSON.parse(ortLock) as { packages: Record<string, { integrity?: string }> }).packages).filter(([k]) => k !== '');
    expect(packages.length).toBeGreaterThan(1);
    expect(packages.filter(([, v]) => !v.integrity?.startsWith('sha512-')).map(([k]) => k)).toEqual([]);
  });

  it('are found from the sources (runtime-lock/ at the root), as the bundle finds dist/runtime-lock/', () => {
    expect(runtimeLockDir('onnxruntime-node')).toBe(path.join(ROOT, 'runtime-lock', 'onnxruntime-node'));
    expect(() => runtimeLockDir('no-such-runtime')).toThrow(/runtime-lock\/no-such-runtime\/package-lock\.json not found/);
  });
});

describe('runtime cache keys', () => {
  const lock = readFileSync(path.join(runtimeLockDir('onnxruntime-node'), 'package-lock.json'), 'utf8');

  it('name the package, version, OS, CPU and lockfile', () => {
    const key = runtimeCacheKey(ORT_PACKAGE, lock, 'linux', 'x64');
    expect(key).toMatch(/^modelgate-onnxruntime-node-1\.30\.0-linux-x64-[0-9a-f]{16}$/);
    expect(runtimeCacheKey(ORT_PACKAGE, lock, 'linux', 'x64')).toBe(key); // stable
    const others = [
      runtimeCacheKey(ORT_PACKAGE, lock, 'linux', 'arm64'),
      runtimeCacheKey(ORT_PACKAGE, lock, 'darwin', 'x64'),
      runtimeCacheKey({ ...ORT_PACKAGE, version: '1.31.0' }, lock, 'linux', 'x64'),
      runtimeCacheKey(ORT_PACKAGE, lock.replace('"1.30.0"', '"1.30.1"'), 'linux', 'x64'),
      runtimeCacheKey(TFLITE_RUNTIME_PACKAGE, lock, 'linux', 'x64'),
    ];
    expect(new Set([key, ...others]).size).toBe(6);
  });

  it('install into the runner tool cache, per package and version', () => {
    const saved = process.env.RUNNER_TOOL_CACHE;
    process.env.RUNNER_TOOL_CACHE = '/opt/hostedtoolcache';
    try {
      expect(runtimeInstallDir(ORT_PACKAGE)).toBe(path.join('/opt/hostedtoolcache', 'modelgate', 'onnxruntime-node-1.30.0'));
    } finally {
      if (saved === undefined) delete process.env.RUNNER_TOOL_CACHE;
      else process.env.RUNNER_TOOL_CACHE = saved;
    }
  });

  it("prune every platform's binaries but the runner's own", () => {
    const ortDir = path.join(ROOT, 'node_modules', 'onnxruntime-node');
    const pruned = pruneOtherPlatforms(ortDir, 'linux', 'x64').map((p) => path.relative(ortDir, p).split(path.sep).join('/'));
    expect(pruned).toContain('bin/napi-v6/linux/arm64');
    expect(pruned).toContain('bin/napi-v6/darwin');
    expect(pruned).toContain('bin/napi-v6/win32');
    expect(pruned.some((p) => p.startsWith('bin/napi-v6/linux/x64'))).toBe(false);
  });
});
