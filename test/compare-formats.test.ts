/**
 * `compare --base main` for every model format a repository may hold: an unchanged branch exits 0,
 * and a head whose model was replaced by a worse one (same architecture, other weights: top-1 agreement
 * with base collapses) exits 1. Each side is loaded, imported and measured through the same stages.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCompare } from '../src/commands/compare.js';
import { loadTfjs } from '../src/runtime/tfjs.js';
import { writeTfjsLayersModel } from '../src/formats/tfjs/files.js';
import { exportTflite } from '../src/export/tflite/export.js';
import { writeKerasH5, writeKerasZip } from './support/keras-fixtures.js';
import { smallCnn } from './tflite/fixtures.js';

const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** A small Keras-style classifier with seeded weights; another seed gives a model that disagrees with it. */
function denseModel(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: s });
  // A fixed model name: Keras 3 files name the input after the model, and TF.js numbers unnamed models per process.
  const m = tf.sequential({ name: 'classifier' });
  m.add(tf.layers.dense({ inputShape: [32], units: 24, activation: 'relu', kernelInitializer: init(seed), biasInitializer: 'zeros', name: 'hidden' }));
  m.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(seed + 1), name: 'logits' }));
  return m;
}

type Writer = (dir: string, seed: number) => Promise<string>;

const FORMATS: Record<string, Writer> = {
  'Keras .h5': async (dir, seed) => (await writeKerasH5(denseModel(seed), path.join(dir, 'model.h5')), 'model.h5'),
  'Keras 3 .keras': async (dir, seed) => (await writeKerasZip(denseModel(seed), path.join(dir, 'model.keras')), 'model.keras'),
  'TF.js layers': async (dir, seed) => (await writeTfjsLayersModel(denseModel(seed), path.join(dir, 'tfjs')), 'tfjs/model.json'),
  '.tflite': async (dir, seed) => {
    const { model, inputs } = smallCnn(seed);
    const exported = await exportTflite(model, { quantize: 'float32', inputShapes: inputs });
    writeFileSync(path.join(dir, 'model.tflite'), exported.bytes);
    return 'model.tflite';
  },
};

// The minimal config plus a short benchmark. The accuracy budget is the default (0.005); the latency budget is
// wider than the default 1.05× because one short measurement of two identical models on a shared 2-core machine
// must not decide this test (the A/A false-alarm rate at 1.05× with three measurements is in docs/benchmarks.md).
const config = (model: string) => `model: ${model}\noptimize: []\nbenchmark: { batch: 1, threads: 1, warmup: 2, runs: 10 }\ngate: { latency_ratio_max: 1.3 }\n`;

describe('compare --base for every model format', () => {
  let root: string;
  const repos: Record<string, string> = {};
  beforeAll(async () => {
    await loadTfjs();
    root = mkdtempSync(path.join(os.tmpdir(), 'mg-compare-formats-'));
    for (const [name, write] of Object.entries(FORMATS)) {
      const dir = path.join(root, name.replace(/[^a-z0-9]+/gi, '-'));
      mkdirSync(dir, { recursive: true });
      git(dir, 'init', '-q', '-b', 'main');
      const file = await write(dir, 11);
      writeFileSync(path.join(dir, 'modelgate.yml'), config(file));
      git(dir, 'add', '-A');
      git(dir, 'commit', '-qm', 'base');
      git(dir, 'checkout', '-qb', 'same');
      writeFileSync(path.join(dir, 'README.md'), 'docs only\n');
      git(dir, 'add', '-A');
      git(dir, 'commit', '-qm', 'docs');
      git(dir, 'checkout', '-qb', 'worse', 'main');
      await write(dir, 97);
      git(dir, 'add', '-A');
      git(dir, 'commit', '-qm', 'other weights');
      repos[name] = dir;
    }
  }, 120_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  for (const name of Object.keys(FORMATS)) {
    it(`${name}: exits 0 on an unchanged branch and 1 when the head model is worse`, async () => {
      const dir = repos[name]!;
      const run = async (branch: string) => {
        git(dir, 'checkout', '-q', branch);
        return runCompare({ configPath: path.join(dir, 'modelgate.yml'), baseRef: 'main', outDir: path.join(dir, `out-${branch}`), latencyMeasurements: 1, timeBudgetMs: 3000 });
      };
      const same = await run('same');
      expect(same.error, same.markdown).toBeUndefined();
      expect(same.exitCode, same.markdown).toBe(0);
      const ref = same.report.comparison.find((p) => p.id === 'reference')!;
      expect(ref.same_data).toBe(true);
      expect(ref.agreement).toBe(1);
      expect(ref.base.bytes).toBe(ref.head.bytes);
      expect(ref.latency).not.toBeNull();

      const worse = await run('worse');
      expect(worse.error, worse.markdown).toBeUndefined();
      expect(worse.exitCode, worse.markdown).toBe(1);
      const failed = worse.report.checks.filter((c) => !c.passed);
      expect(failed.map((c) => [c.subject, c.name])).toContainEqual(['reference', 'accuracy_drop_max']);
      expect(failed.find((c) => c.name === 'accuracy_drop_max')!.message).toMatch(/top-1 agreement with base/);
    }, 180_000);
  }
});
