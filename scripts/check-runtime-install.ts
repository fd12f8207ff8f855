/**
 * The runtime install path for real, against the npm registry: onnxruntime-node into an empty tool cache with
 * `npm ci` from runtime-lock/, saved to a cache, removed, restored from it, then loaded in a fresh process.
 * The cache here is a folder (tar of the install): the same save/restore contract the action fills with @actions/cache.
 * With --tflite, the same for tfjs-tflite-node (needs a C++ compiler; node-gyp fetches Node headers).
 *
 *   npx tsx scripts/check-runtime-install.ts [--tflite]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureRuntime, hasCompiler, type RuntimeCache, type RuntimePackage } from '../src/runtime/install.js';
import { ORT_PACKAGE } from '../src/runtime/ort.js';
import { TFLITE_RUNTIME_PACKAGE } from '../src/runtime/tflite.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'modelgate-runtime-install-'));
process.env.RUNNER_TOOL_CACHE = path.join(work, 'toolcache');
const cacheDir = path.join(work, 'cache');
mkdirSync(cacheDir);

const folderCache: RuntimeCache = {
  async restore(dir, key) {
    const archive = path.join(cacheDir, `${key}.tar`);
    if (!existsSync(archive)) return false;
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xf', archive, '-C', dir]);
    return true;
  },
  async save(dir, key) {
    execFileSync('tar', ['-cf', path.join(cacheDir, `${key}.tar`), '-C', dir, '.']);
  },
};

function du(dir: string): string {
  return execFileSync('du', ['-sh', dir]).toString().split('\t')[0]!;
}

const rows: string[][] = [];
async function check(pkg: RuntimePackage, loadCheck: string): Promise<void> {
  const log = (m: string) => console.log(`  ${m}`);
  const first = await ensureRuntime(pkg, { cache: folderCache, log });
  const size = du(first.dir);
  rmSync(first.dir, { recursive: true, force: true });
  const second = await ensureRuntime(pkg, { cache: folderCache, log });
  const third = await ensureRuntime(pkg, { cache: folderCache, log });
  if (first.source !== 'npm' || second.source !== 'cache' || third.source !== 'present') {
    throw new Error(`${pkg.name}: expected npm, cache, present; got ${first.source}, ${second.source}, ${third.source}`);
  }
  // A fresh process, as the benchmark worker would: it resolves the package from the install folder only.
  const loaded = execFileSync(process.execPath, ['-e', loadCheck], { cwd: second.dir }).toString().trim();
  rows.push([pkg.name, first.seconds.toFixed(1), second.seconds.toFixed(1), size, loaded]);
}

try {
  await check(ORT_PACKAGE, "const o = require('onnxruntime-node'); process.stdout.write('loads ' + o.env.versions.node)");
  if (process.argv.includes('--tflite')) {
    if (!hasCompiler()) throw new Error('--tflite needs a C++ compiler');
    await check(TFLITE_RUNTIME_PACKAGE, "require('./node_modules/tfjs-tflite-node/build/Release/node_tflite_binding.node'); process.stdout.write('addon loads')");
  }
  console.log('\n| package | npm ci, s | restore, s | installed size | in a fresh process |\n|---|---:|---:|---:|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
