/**
 * The one bundle's entry point (dist/index.js). The action, the CLI and the benchmark worker share one
 * module graph, so TF.js, onnxruntime glue and the pipeline are in dist/ once instead of three times.
 * action.yml runs dist/index.js directly; dist/cli/index.js and dist/worker/index.js are two-line
 * launchers (scripts/build.mjs) that name their role in a global before importing this file. A global,
 * not an argv flag or an environment variable: argv belongs to the CLI and the worker, and the
 * environment would leak the role into every child process.
 */
// export {} makes this an ES module for webpack, which otherwise rejects the top-level await below.
export {};

const role = (globalThis as { __modelgateRole?: string }).__modelgateRole ?? 'action';

if (role === 'cli') await import('./cli/index.js');
else if (role === 'worker') await import('./benchmark/worker.js');
else if (role === 'action') await import('./index.js');
else throw new Error(`dist/index.js: unknown role ${role}`);
