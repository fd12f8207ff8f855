// Bundles the entry points into dist/ with ncc: dist/index.js (the action), dist/cli/index.js, dist/worker/index.js.
// dist/ is committed and check-dist rebuilds and diffs it, so the output depends only on the sources:
// no ncc cache, no source maps, no minifier, and dist/ is replaced as a whole so a removed file cannot linger.
//
//   node scripts/build.mjs            build every entry (the worker only if src/benchmark/worker.ts exists)
//   node scripts/build.mjs action cli build only those entries, leaving the rest of dist/ alone
//
// Type checking is `npm run typecheck`'s job, not the bundler's: ncc transpiles file by file. Under the
// project's `module: NodeNext` a lone .ts file would be emitted as CommonJS (require() of the ESM-only
// @actions/* packages fails to resolve), so each entry is bundled through a one-line shim whose folder
// has a tsconfig that extends the project's with `module: ESNext`.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ncc = createRequire(import.meta.url)('@vercel/ncc');

const entries = [
  { name: 'action', source: 'src/action.ts', out: 'dist', required: true },
  { name: 'cli', source: 'src/cli.ts', out: 'dist/cli', required: true, shebang: true },
  { name: 'worker', source: 'src/benchmark/worker.ts', out: 'dist/worker', required: false },
];

const nccOptions = {
  cache: false,
  // onnxruntime-node is found at run time (src/runtime/ort.ts): its native libraries are not bundled.
  // h5wasm's Emscripten loader calls createRequire, which webpack rewrites: it loads from disk instead (below).
  externals: ['onnxruntime-node', 'h5wasm', 'h5wasm/node'],
  minify: false,
  sourceMap: false,
  sourceMapRegister: false,
  target: 'es2022',
  // Not ncc's `license`: with code-split chunks (dynamic imports) each chunk's list overwrites the last. See thirdPartyNotices.
  transpileOnly: true,
  quiet: true,
};

/** build/ncc/<entry>.ts importing the real entry, beside a tsconfig.json that ncc and ts-loader find first. */
function writeShim(entry) {
  const shimDir = path.join(root, 'build', 'ncc');
  mkdirSync(shimDir, { recursive: true });
  const tsconfig = { extends: '../../tsconfig.json', compilerOptions: { module: 'ESNext', moduleResolution: 'Bundler' }, include: ['*.ts'] };
  writeFileSync(path.join(shimDir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2) + '\n');
  const shim = path.join(shimDir, `${entry.name}.ts`);
  const target = path.relative(shimDir, path.join(root, entry.source)).split(path.sep).join('/').replace(/\.ts$/, '.js');
  writeFileSync(shim, `${entry.shebang ? '#!/usr/bin/env node\n' : ''}import '${target}';\n`);
  return shim;
}

/**
 * licenses.txt: name, license and license text of every package with a module in the bundle (all chunks),
 * sorted, as their licenses ask of redistributed copies.
 */
function thirdPartyNotices(stats) {
  const roots = new Set();
  for (const module of stats.compilation.modules) {
    const file = module.resource?.split(path.sep).join('/');
    const m = file && /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (m) roots.add(m[1]);
  }
  const notices = new Map();
  for (const dir of roots) {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const licenseFile = readdirSync(dir).sort().find((f) => /^(licen[cs]e|copying)(\.[a-z]+)?$/i.test(f));
    const text = licenseFile ? readFileSync(path.join(dir, licenseFile), 'utf8').trim() : '(no license file in the package)';
    notices.set(`${pkg.name}@${pkg.version}`, `${pkg.name} ${pkg.version}\n${pkg.license ?? 'UNKNOWN'}\n${text}`);
  }
  return [...notices].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, notice]) => notice).join('\n\n') + '\n';
}

async function bundle(entry) {
  try {
    return await ncc(writeShim(entry), nccOptions);
  } catch (err) {
    // Uncaught, Node would print the offending line of ncc's minified source: megabytes.
    console.error(`${entry.name}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!entries.some((entry) => entry.name === name)) {
    console.error(`unknown entry ${name}; known: ${entries.map((entry) => entry.name).join(', ')}`);
    process.exit(2);
  }
}

// Bundle everything first, so a failed build leaves the previous dist/ in place.
const built = [];
for (const entry of entries.filter((e) => wanted.length === 0 || wanted.includes(e.name))) {
  if (!existsSync(path.join(root, entry.source))) {
    if (entry.required) {
      console.error(`${entry.name}: ${entry.source} is missing`);
      process.exit(1);
    }
    console.log(`${entry.name}: skipped, ${entry.source} does not exist`);
    continue;
  }
  const started = Date.now();
  const { code, assets, stats } = await bundle(entry);
  built.push({ entry, code, assets: { ...assets, 'licenses.txt': { source: thirdPartyNotices(stats), permissions: 0o644 } }, seconds: (Date.now() - started) / 1000 });
}

if (wanted.length === 0) rmSync(path.join(root, 'dist'), { recursive: true, force: true });
for (const { entry, code, assets, seconds } of built) {
  const outDir = path.join(root, entry.out);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'index.js'), code);
  // git records the executable bit, so check-dist sees it: the CLI is a bin, the rest are not.
  chmodSync(path.join(outDir, 'index.js'), entry.shebang ? 0o755 : 0o644);
  let bytes = Buffer.byteLength(code);
  for (const [file, asset] of Object.entries(assets)) {
    const target = path.join(outDir, file);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, asset.source, { mode: asset.permissions });
    bytes += asset.source.length;
  }
  const assetList = Object.keys(assets).sort().join(', ') || 'none';
  console.log(`${entry.name}: ${path.relative(root, outDir)}/index.js + ${assetList}, ${(bytes / 1024).toFixed(0)} KiB, ${seconds.toFixed(1)} s`);
}

// The TF.js wasm backend loads its binaries from disk at run time; the action has no node_modules,
// so the three .wasm files (about 1.2 MB) sit in dist/wasm/, shared by every bundle (src/runtime/tfjs.ts).
if (wanted.length === 0) {
  const wasmSource = path.join(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  mkdirSync(path.join(root, 'dist', 'wasm'), { recursive: true });
  for (const file of readdirSync(wasmSource).filter((f) => f.endsWith('.wasm')).sort()) {
    writeFileSync(path.join(root, 'dist', 'wasm', file), readFileSync(path.join(wasmSource, file)), { mode: 0o644 });
  }
}

// h5wasm (Keras .h5 reader) is not bundled either: its two files sit in dist/h5wasm/ (src/import/hdf5.ts).
if (wanted.length === 0) {
  const h5Source = path.join(root, 'node_modules', 'h5wasm', 'dist', 'node');
  mkdirSync(path.join(root, 'dist', 'h5wasm'), { recursive: true });
  for (const file of readdirSync(h5Source).filter((f) => f.endsWith('.js')).sort()) {
    writeFileSync(path.join(root, 'dist', 'h5wasm', file), readFileSync(path.join(h5Source, file)), { mode: 0o644 });
  }
  writeFileSync(path.join(root, 'dist', 'h5wasm', 'package.json'), '{ "type": "module" }\n');
}
