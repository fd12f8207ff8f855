/**
 * Through the CLI, as a user runs it: an export step that produces a Keras .h5, converted and
 * gated (exit 0); a truncated .h5 and a zip-slip .keras (exit 2, the reason on stderr and in report.json).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { writeKerasH5, writeKerasZip } from '../support/keras-fixtures.js';
import { kb, useWasm } from '../support/tfjs-check.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
let dir: string;

function cli(config: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TSX, [path.join(ROOT, 'src/cli/index.ts'), 'run', '--config', config, '--out', path.join(path.dirname(config), `out-${path.basename(config, '.yml')}`), '--quiet'], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const report = (config: string) => JSON.parse(readFileSync(path.join(path.dirname(config), `out-${path.basename(config, '.yml')}`, 'report.json'), 'utf8'));

beforeAll(async () => {
  await useWasm();
  dir = mkdtempSync(path.join(os.tmpdir(), 'cli-import-'));
  const m = tf.sequential({ name: 'small' });
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: 'relu', name: 'conv', ...kb() }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'probs', ...kb() }));
  await writeKerasH5(m, path.join(dir, 'source.h5'));
  await writeKerasZip(m, path.join(dir, 'slip.keras'), { extraEntries: { '../../outside.txt': new TextEncoder().encode('x') } });
  const whole = readFileSync(path.join(dir, 'source.h5'));
  writeFileSync(path.join(dir, 'truncated.h5'), whole.subarray(0, whole.length >> 1));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('modelgate run with Keras models', () => {
  it('runs the export step, converts the .h5 it wrote, checks it numerically, and gates it', async () => {
    const config = path.join(dir, 'ok.yml');
    writeFileSync(config, ['model: model.h5', 'export: { run: "cp source.h5 model.h5", timeout: 60 }', 'benchmark: { warmup: 1, runs: 5 }', ''].join('\n'));
    const r = await cli(config);
    expect(r.stderr).not.toMatch(/modelgate: /);
    expect(r.code).toBe(0);
    const rep = report(config);
    expect(rep.export).toMatchObject({ command: 'cp source.h5 model.h5', exit_code: 0, timed_out: false });
    expect(rep.source).toMatchObject({ format: 'keras-h5', layers: 3, check: { passed: true, tolerance: 1e-4 } });
    expect(rep.source.check.max_abs_diff).toBeLessThan(1e-4);
    expect(rep.source.check.runtime).toMatch(/^tfjs 4\.\d+\.\d+ \((wasm|tensorflow)\)$/);
  });

  for (const [name, model, message] of [
    ['truncated', 'truncated.h5', /truncated\.h5: corrupt or truncated HDF5 file/],
    ['zip-slip', 'slip.keras', /slip\.keras: zip entry '\.\.\/\.\.\/outside\.txt' points outside the archive's folder; refusing the file/],
  ] as const) {
    it(`a ${name} model file exits with code 2 and says why`, async () => {
      const config = path.join(dir, `${name}.yml`);
      copyFileSync(path.join(dir, model), path.join(dir, `${name}-${model}`));
      writeFileSync(config, `model: ${name}-${model}\n`);
      const r = await cli(config);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(report(config).error).toMatch(message);
    });
  }
});
