// Bundles the action, the CLI and the benchmark worker into ONE ncc bundle, dist/index.js (src/entry.ts), so that the
// three share one set of chunks: built apart, each carried its own copy of TF.js and the pipeline (37 MB in all).
// dist/cli/index.js (the bin) and dist/worker/index.js (what src/benchmark/worker-client.ts forks) are launchers
// that set the role and import ../index.js. The action is the default role: action.yml runs dist/index.js as is.
// dist/ is committed and check-dist rebuilds and diffs it, so the output depends only on the sources:
// no ncc cache, no source maps, and dist/ is replaced as a whole so a removed file cannot linger.
//
//   node scripts/build.mjs
//
// Type checking is `npm run typecheck`'s job, not the bundler's: ncc transpiles file by file. Under the
// project's `module: NodeNext` a lone .ts file would be emitted as CommonJS (require() of the ESM-only
// @actions/* packages fails to resolve), so the entry is bundled through a one-line shim whose folder
// has a tsconfig that extends the project's with `module: ESNext`.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { transformSync } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ncc = createRequire(import.meta.url)('@vercel/ncc');

const entry = { name: 'index', source: 'src/entry.ts' };
/** Launchers: the role each one runs, and whether it is an executable (the bin). */
const launchers = [
  { file: 'cli/index.js', role: 'cli', shebang: true },
  { file: 'worker/index.js', role: 'worker', shebang: false },
];

const nccOptions = {
  cache: false,
  // onnxruntime-node is found at run time (src/runtime/ort.ts): its native libraries are not bundled.
  // h5wasm's Emscripten loader calls createRequire, which webpack rewrites: it loads from disk instead (below).
  externals: ['onnxruntime-node', 'h5wasm', 'h5wasm/node'],
  // ncc's minify covers the entry file only, not the chunks; esbuild minifies every file below instead.
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
  writeFileSync(shim, `import '${target}';\n`);
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

if (process.argv.length > 2) {
  console.error('usage: node scripts/build.mjs (the one bundle has no separate entries any more)');
  process.exit(2);
}

// Bundle first, so a failed build leaves the previous dist/ in place.
const started = Date.now();
const { code, assets, stats } = await bundle(entry);
const seconds = (Date.now() - started) / 1000;

// webpack leaves an import it cannot resolve as a run-time require of the same path, which fails only when that code
// runs (a moved file whose importers were not updated). Fail the build instead.
for (const [file, source] of [['index.js', code], ...Object.entries(assets).map(([f, a]) => [f, a.source.toString()])]) {
  const unresolved = [...String(source).matchAll(/eval\("require"\)\("(\.{1,2}\/[^"]+)"\)/g)].map((m) => m[1]);
  if (unresolved.length > 0) {
    console.error(`${file}: unresolved imports ${[...new Set(unresolved)].join(', ')}`);
    process.exit(1);
  }
}

/**
 * esbuild's minifier on each emitted file: dist/ goes from 15 MB of JavaScript to 5 MB (the action runs from a
 * fresh clone of the repository on every job). Deterministic, like the rest of the build. keepNames keeps class
 * and function names, which error messages and `instanceof`-free checks print.
 */
function minify(file, source) {
  if (!file.endsWith('.js')) return source;
  try {
    return transformSync(source.toString(), { minify: true, keepNames: true, format: 'esm', target: 'es2022', legalComments: 'none', charset: 'utf8' }).code;
  } catch (err) {
    console.error(`minify ${file}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

const dist = path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const mainCode = minify('index.js', code);
writeFileSync(path.join(dist, 'index.js'), mainCode, { mode: 0o644 });
let bytes = Buffer.byteLength(mainCode);
for (const [file, asset] of Object.entries({ ...assets, 'licenses.txt': { source: thirdPartyNotices(stats), permissions: 0o644 } })) {
  const target = path.join(dist, file);
  mkdirSync(path.dirname(target), { recursive: true });
  const source = minify(file, asset.source);
  writeFileSync(target, source, { mode: asset.permissions });
  bytes += Buffer.byteLength(source);
}
console.log(`dist/index.js + ${Object.keys(assets).sort().join(', ') || 'no assets'}: ${(bytes / 1024).toFixed(0)} KiB, ${seconds.toFixed(1)} s`);

for (const launcher of launchers) {
  const target = path.join(dist, launcher.file);
  mkdirSync(path.dirname(target), { recursive: true });
  const text = `${launcher.shebang ? '#!/usr/bin/env node\n' : ''}// The ${launcher.role} role of the one bundle (src/entry.ts).\nglobalThis.__modelgateRole = '${launcher.role}';\nawait import('../index.js');\n`;
  writeFileSync(target, text);
  // git records the executable bit, so check-dist sees it: the CLI is a bin, the worker is not.
  chmodSync(target, launcher.shebang ? 0o755 : 0o644);
}

// The TF.js wasm backend loads its binaries from disk at run time; the action has no node_modules,
// so the three .wasm files (about 1.2 MB) sit in dist/wasm/, beside the bundle (src/runtime/tfjs.ts).
{
  const wasmSource = path.join(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  mkdirSync(path.join(root, 'dist', 'wasm'), { recursive: true });
  for (const file of readdirSync(wasmSource).filter((f) => f.endsWith('.wasm')).sort()) {
    writeFileSync(path.join(root, 'dist', 'wasm', file), readFileSync(path.join(wasmSource, file)), { mode: 0o644 });
  }
}

// The lockfiles the runtime installs use (src/runtime/install.ts), found beside the bundle.
for (const name of readdirSync(path.join(root, 'runtime-lock')).sort()) {
  mkdirSync(path.join(dist, 'runtime-lock', name), { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) {
    writeFileSync(path.join(dist, 'runtime-lock', name, file), readFileSync(path.join(root, 'runtime-lock', name, file)), { mode: 0o644 });
  }
}

// h5wasm (Keras .h5 reader) is not bundled either: its two files sit in dist/h5wasm/ (src/import/hdf5.ts).
{
  const h5Source = path.join(root, 'node_modules', 'h5wasm', 'dist', 'node');
  mkdirSync(path.join(root, 'dist', 'h5wasm'), { recursive: true });
  for (const file of readdirSync(h5Source).filter((f) => f.endsWith('.js')).sort()) {
    writeFileSync(path.join(root, 'dist', 'h5wasm', file), readFileSync(path.join(h5Source, file)), { mode: 0o644 });
  }
  writeFileSync(path.join(root, 'dist', 'h5wasm', 'package.json'), '{ "type": "module" }\n');
}
