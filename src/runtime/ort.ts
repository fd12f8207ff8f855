/**
 * Locating onnxruntime-node at run time.
 *
 * ncc bundles JavaScript but not onnxruntime-node's native library (about 45 MB per platform),
 * and committing every platform's binary to dist/ would cost hundreds of MB. So the bundle
 * resolves the package in this order:
 *   1. MODELGATE_ORT_PATH (a folder that contains the onnxruntime-node package);
 *   2. node_modules beside the bundle (a checkout that ran `npm ci`, and the CLI's own install);
 *   3. node_modules of the working directory (a user repo that already depends on it);
 *   4. a one-time `npm install` of the pinned version into the runner's tool cache
 *      (RUNNER_TOOL_CACHE, else ~/.cache), with its CUDA postinstall skipped. The npm tarball
 *      carries the CPU binaries for linux/darwin/win32 x64/arm64, so this works on every hosted runner.
 */
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type * as Ort from 'onnxruntime-node';
import { ModelGateError, errorMessage } from '../errors.js';

export type OrtModule = typeof Ort;
export const ORT_VERSION = '1.30.0';

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

function toolCacheDir(): string {
  const base = process.env.RUNNER_TOOL_CACHE || path.join(os.homedir(), '.cache');
  return path.join(base, 'modelgate', `onnxruntime-node-${ORT_VERSION}`);
}

export function loadOrt(log: (msg: string) => void = () => {}): OrtModule {
  if (cached) return cached;
  const candidates: string[] = [];
  if (process.env.MODELGATE_ORT_PATH) candidates.push(path.join(path.resolve(process.env.MODELGATE_ORT_PATH), 'x.js'));
  candidates.push(import.meta.url, path.join(process.cwd(), 'x.js'), path.join(toolCacheDir(), 'x.js'));
  for (const from of candidates) {
    const ort = tryRequire(from);
    if (ort) return (cached = ort);
  }
  const dir = toolCacheDir();
  log(`onnxruntime-node ${ORT_VERSION} not found; installing it into ${dir}`);
  try {
    mkdirSync(dir, { recursive: true });
    if (!existsSync(path.join(dir, 'package.json'))) execFileSync('npm', ['init', '-y'], { cwd: dir, stdio: 'ignore', shell: process.platform === 'win32' });
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', `onnxruntime-node@${ORT_VERSION}`], {
      cwd: dir,
      stdio: 'ignore',
      shell: process.platform === 'win32',
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip' },
    });
  } catch (err) {
    throw new ModelGateError(`could not install onnxruntime-node ${ORT_VERSION} into ${dir}: ${errorMessage(err)}; set MODELGATE_ORT_PATH to a folder that has it`);
  }
  const ort = tryRequire(path.join(dir, 'x.js'));
  if (!ort) throw new ModelGateError(`onnxruntime-node ${ORT_VERSION} was installed into ${dir} but does not load on ${process.platform}-${process.arch}`);
  return (cached = ort);
}
