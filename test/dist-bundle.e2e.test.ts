/**
 * The committed bundle on its own, as the action runs it: dist/ copied where no node_modules is near,
 * onnxruntime-node given through MODELGATE_ORT_PATH. webpack inside ncc rewrites `createRequire` and
 * `__dirname`, which broke h5wasm (Keras .h5) and silently pushed TF.js off its wasm backend; this
 * catches either coming back. dist/ is what check-dist keeps in step with the sources.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-dist-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('dist/ alone', () => {
  it('converts a Keras .h5 with h5wasm, checks it on the TF.js wasm backend, and gates it', async () => {
    cpSync(path.join(repoRoot, 'dist'), path.join(tmp, 'dist'), { recursive: true });
    cpSync(path.join(repoRoot, 'examples/keras-mnist/model.h5'), path.join(tmp, 'model.h5'));
    const mnist = path.join(repoRoot, 'examples/mnist');
    writeFileSync(path.join(tmp, 'modelgate.yml'), [
      'model: model.h5',
      `dataset: { inputs: ${JSON.stringify(path.join(mnist, 'test-images.npy'))}, labels: ${JSON.stringify(path.join(mnist, 'test-labels.npy'))}, limit: 200, preprocess: { scale: 0.00392156862745098 } }`,
      'optimize: [{ name: int8-dynamic, passes: [{ quantize: { mode: dynamic } }] }]',
      'tfjs_export: { quantize: [uint8], runs: 3 }',
      'benchmark: { batch: 1, threads: 1, warmup: 2, runs: 10 }',
      'gate: { accuracy_drop_max: 0.02 }',
      '',
    ].join('\n'));
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, MODELGATE_ORT_PATH: path.join(repoRoot, 'node_modules') };
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [path.join(tmp, 'dist/cli/index.js'), 'run', '-q', '--config', 'modelgate.yml', '--out', 'out'], { cwd: tmp, env, timeout: 180_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
    });
    expect(result.code, result.out).toBe(0);
    expect(result.out).not.toMatch(/Initialization of backend wasm failed|__dirname is not defined|createRequire is not a function/);
    const report = JSON.parse(readFileSync(path.join(tmp, 'out/report.json'), 'utf8'));
    expect(report.source.format).toBe('keras-h5');
    expect(report.source.check.passed).toBe(true);
    expect(report.source.check.runtime).toMatch(/\(wasm\)$/);
    expect(report.runtime.tfjs).toMatch(/\(wasm\)$/);
    expect(report.candidates.map((c: { id: string }) => c.id)).toEqual(['reference', 'int8-dynamic', 'tfjs-uint8']);
  });
});
