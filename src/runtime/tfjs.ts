/**
 * The TF.js runtime: tfjs-node (native TensorFlow) when it is installed on the runner, otherwise
 * @tensorflow/tfjs with the WebAssembly backend, otherwise the pure-JS cpu backend.
 *
 * tfjs-node is never a dependency: it is detected with a dynamic import that may fail. The module
 * name sits in a variable so that bundlers and the type checker do not go looking for it.
 * The choice is made once per process (TF.js keeps one global engine) and reported with every figure.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type * as tfType from '@tensorflow/tfjs';
import { ModelGateError, errorMessage } from '../errors.js';

export type TfjsBackend = 'tensorflow' | 'wasm' | 'cpu';
export type TfjsBackendPreference = TfjsBackend | 'auto';

export interface TfjsRuntime {
  tf: typeof tfType;
  backend: TfjsBackend;
  /** 'tfjs 4.22.0 (wasm)': how reports name the runtime that produced a figure. */
  label: string;
  version: string;
}

const TFJS_NODE = '@tensorflow/tfjs-node';
let loading: Promise<TfjsRuntime> | undefined;
let loadedWith: TfjsBackendPreference | undefined;

/**
 * Loads TF.js once. `prefer` (or MODELGATE_TFJS_BACKEND) forces a backend; 'auto' takes tfjs-node,
 * then wasm, then cpu. Asking for a different backend later in the same process is an error.
 */
export function loadTfjs(prefer: TfjsBackendPreference = (process.env.MODELGATE_TFJS_BACKEND as TfjsBackendPreference | undefined) ?? 'auto'): Promise<TfjsRuntime> {
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(prefer)) {
    return Promise.reject(new ModelGateError(`TF.js backend '${prefer}' is not one of auto, tensorflow, wasm, cpu`));
  }
  if (loading && prefer !== 'auto' && loadedWith !== prefer) {
    return loading.then((rt) => {
      if (rt.backend !== prefer) throw new ModelGateError(`TF.js already runs on the ${rt.backend} backend in this process; cannot switch to ${prefer}`);
      return rt;
    });
  }
  loadedWith ??= prefer;
  loading ??= load(prefer);
  return loading;
}

async function load(prefer: TfjsBackendPreference): Promise<TfjsRuntime> {
  if (prefer === 'auto' || prefer === 'tensorflow') {
    try {
      const tfn = (await import(TFJS_NODE)) as typeof tfType;
      if (await tfn.setBackend('tensorflow')) return runtime(tfn, 'tensorflow');
    } catch (err) {
      if (prefer === 'tensorflow') throw new ModelGateError(`TF.js backend 'tensorflow' needs ${TFJS_NODE}, which did not load: ${errorMessage(err)}`, { cause: err });
    }
  }
  const tf = await import('@tensorflow/tfjs');
  if (prefer !== 'cpu') {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dir = wasmDir();
      // Bundled into an ES module, the backend's Emscripten loader still reads the CommonJS `__dirname`
      // (its binaries come from setWasmPaths regardless); give it one instead of a ReferenceError.
      const scope = globalThis as { __dirname?: string };
      scope.__dirname ??= dir;
      wasm.setWasmPaths(dir + path.sep);
      if (await tf.setBackend('wasm')) return runtime(tf, 'wasm');
    } catch (err) {
      if (prefer === 'wasm') throw new ModelGateError(`TF.js wasm backend did not load: ${errorMessage(err)}`, { cause: err });
    }
  }
  await tf.setBackend('cpu');
  // The cpu backend greets Node users with a banner recommending tfjs-node on first use; the report says which backend ran.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return runtime(tf, 'cpu');
}

// webpack (ncc) rewrites `createRequire`; process.getBuiltinModule keeps a real one.
const { createRequire } = process.getBuiltinModule('node:module') as typeof import('node:module');
const WASM_FILE = 'tfjs-backend-wasm.wasm';

/**
 * Where the wasm backend's binaries are: the package in node_modules (source checkouts, the npm CLI),
 * else dist/wasm/, which scripts/build.mjs copies beside the bundles (the action has no node_modules).
 */
function wasmDir(): string {
  try {
    const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    if (existsSync(path.join(dir, WASM_FILE))) return dir;
  } catch {
    // not installed beside us: look for the bundled copy
  }
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++, dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'wasm', WASM_FILE))) return path.join(dir, 'wasm');
  }
  throw new Error(`${WASM_FILE} not found in node_modules or beside the bundle`);
}

function runtime(tf: typeof tfType, backend: TfjsBackend): TfjsRuntime {
  const version = tf.version.tfjs ?? tf.version['tfjs-core'] ?? 'unknown';
  return { tf, backend, version, label: `tfjs ${version} (${backend})` };
}
