/**
 * Locating onnxruntime-node at run time.
 *
 * ncc bundles JavaScript but not onnxruntime-node's native library (about 45 MB per platform),
 * and committing every platform's binary to dist/ would cost hundreds of MB. So the bundle
 * resolves the package in this order:
 *   1. MODELGATE_ORT_PATH (a folder that contains the onnxruntime-node package);
 *   2. node_modules beside the bundle (a checkout that ran `npm ci`, and the CLI's own install);
 *   3. node_modules of the working directory (a user repo that already depends on it);
 *   4. the runner's tool cache (RUNNER_TOOL_CACHE, else ~/.cache), where the action restores it from the
 *      Actions cache or installs it with `npm ci` from the committed lockfile before the run (./install.ts);
 *      failing that, installed there now, the same way. The npm tarball carries the CPU binaries for
 *      linux/darwin/win32 x64/arm64, so this works on every hosted runner; the others are pruned after install.
 */
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { ModelGateError } from '../errors.js';
import { installFromLock, pruneOtherPlatforms, runtimeInstallDir, type RuntimePackage } from './install.js';

export type OrtModule = typeof Ort;
export const ORT_VERSION = '1.30.0';
/** How ./install.ts installs it: from runtime-lock/onnxruntime-node, no install scripts (the CUDA download). */
export const ORT_PACKAGE: RuntimePackage = { name: 'onnxruntime-node', version: ORT_VERSION, build: false, prune: pruneOtherPlatforms };

// webpack (ncc) rewrites `createRequire`; process.getBuiltinModule keeps a real one.
const { createRequire } = process.getBuiltinModule('node:module') as typeof import('node:module');

let cached: OrtModule | undefined;

function tryRequire(from: string): OrtModule | undefined {
  try {
    const req = createRequire(from);
    return req(req.resolve('onnxruntime-node')) as OrtModule;
  } catch {
    return undefined;
  }
}

/** Where onnxruntime-node resolves from without installing it (MODELGATE_ORT_PATH, beside the bundle, the working directory), if anywhere. */
export function resolveOrtWithoutInstall(): string | undefined {
  const froms = [...(process.env.MODELGATE_ORT_PATH ? [path.join(path.resolve(process.env.MODELGATE_ORT_PATH), 'x.js')] : []), import.meta.url, path.join(process.cwd(), 'x.js')];
  for (const from of froms) {
    try {
      return createRequire(from).resolve('onnxruntime-node');
    } catch {
      // not there
    }
  }
  return undefined;
}

export function loadOrt(log: (msg: string) => void = () => {}): OrtModule {
  if (cached) return cached;
  const dir = runtimeInstallDir(ORT_PACKAGE);
  const candidates: string[] = [];
  if (process.env.MODELGATE_ORT_PATH) candidates.push(path.join(path.resolve(process.env.MODELGATE_ORT_PATH), 'x.js'));
  candidates.push(import.meta.url, path.join(process.cwd(), 'x.js'), path.join(dir, 'x.js'));
  for (const from of candidates) {
    const ort = tryRequire(from);
    if (ort) return (cached = ort);
  }
  log(`onnxruntime-node ${ORT_VERSION} not found; installing it into ${dir}`);
  const seconds = installFromLock(ORT_PACKAGE, dir);
  log(`onnxruntime-node ${ORT_VERSION} installed in ${seconds.toFixed(1)} s`);
  const ort = tryRequire(path.join(dir, 'x.js'));
  if (!ort) throw new ModelGateError(`onnxruntime-node ${ORT_VERSION} was installed into ${dir} but does not load on ${process.platform}-${process.arch}`);
  return (cached = ort);
}
