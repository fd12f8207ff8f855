/**
 * `modelgate init` on an ONNX, a Keras .h5 and a TFLite model: it writes a config and a workflow, and the config runs
 * as written through the gate. Also: it never overwrites without --force, it lists the models it finds when there is
 * no terminal to ask on, and a model that leaves a dimension open gets an inputs entry saying what to fill in.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findModelFiles, initProject, renderConfig, INIT_BUDGETS } from '../../src/commands/init.js';
import { parseConfig } from '../../src/config/load.js';
import { SCHEMA_URL } from '../../src/config/schema.js';
import { configRecipeErrors } from '../../src/passes/registry.js';
import { loadModel } from '../../src/model/onnx.js';
import { exportTflite } from '../../src/export/tflite/export.js';
import { runGate } from '../../src/commands/run.js';
import { importModel, inputShapesFromConfig } from '../../src/import/index.js';
import { loadTfjs } from '../../src/runtime/tfjs.js';
import { writeKerasH5 } from '../support/keras-fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-init-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const models: Record<string, string> = {
  onnx: 'models/digits.onnx',
  keras: 'keras/model.h5',
  tflite: 'lite/digits.tflite',
};

beforeAll(async () => {
  for (const rel of Object.values(models)) mkdirSync(path.join(tmp, path.dirname(rel)), { recursive: true });
  copyFileSync(path.join(ROOT, 'examples/mnist/model.onnx'), path.join(tmp, models.onnx!));
  copyFileSync(path.join(ROOT, 'examples/keras-mnist/model.h5'), path.join(tmp, models.keras!));
  const { bytes } = await exportTflite(loadModel(path.join(ROOT, 'examples/mnist/model.onnx')), { quantize: 'float32', inputShapes: { Input3: [1, 1, 28, 28] } });
  writeFileSync(path.join(tmp, models.tflite!), bytes);
  // Noise that discovery must skip.
  mkdirSync(path.join(tmp, 'node_modules/pkg'), { recursive: true });
  writeFileSync(path.join(tmp, 'node_modules/pkg/model.onnx'), '');
}, 120_000);

describe('modelgate init', () => {
  it('finds the models in a repository, not in node_modules', () => {
    expect(findModelFiles(tmp)).toEqual([models.keras, models.tflite, models.onnx]);
  });

  for (const [format, model] of Object.entries(models)) {
    it(`writes a config and a workflow for the ${format} model, and the config runs as written`, async () => {
      const root = path.join(tmp, `repo-${format}`);
      mkdirSync(path.join(root, path.dirname(model)), { recursive: true });
      copyFileSync(path.join(tmp, model), path.join(root, model));
      const written = await initProject({ model, root, config: 'ci/modelgate.yml' });
      expect(written.config).toBe(path.join(root, 'ci/modelgate.yml'));

      const text = readFileSync(written.config, 'utf8');
      expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${SCHEMA_URL}`);
      const loaded = parseConfig(text, written.config, { validate: configRecipeErrors });
      expect(loaded.config.model).toBe(`../${model}`);
      expect(loaded.config.inputs).toEqual({}); // the digits models leave only the batch open, if anything
      expect(loaded.config.optimize).toEqual([{ name: 'auto', auto: { accuracy_drop_max: INIT_BUDGETS.accuracy_drop_max } }]);
      expect(loaded.config.gate).toEqual({ accuracy_drop_max: 0.005, latency_ratio_max: 1.05 });

      const workflow = parse(readFileSync(path.join(root, '.github/workflows/modelgate.yml'), 'utf8'));
      expect(workflow.on).toHaveProperty('pull_request');
      expect(workflow.permissions).toEqual({ contents: 'read', 'pull-requests': 'write' });
      const steps = workflow.jobs.modelgate.steps;
      expect(steps[0].uses).toMatch(/^actions\/checkout@v\d+$/);
      expect(steps[1].uses).toMatch(/^modelgate\/modelgate@v\d+$/);
      expect(steps[1].with.config).toBe('ci/modelgate.yml');

      const result = await runGate({ configPath: written.config, outDir: path.join(root, 'out') });
      expect(result.error).toBeUndefined();
      expect([0, 1]).toContain(result.exitCode);
      expect(result.report.candidates.map((c) => c.id)).toEqual(['reference', 'auto']);
    }, 400_000);
  }

  it('never overwrites without --force', async () => {
    const root = path.join(tmp, 'repo-force');
    mkdirSync(path.join(root, 'models'), { recursive: true });
    mkdirSync(path.join(root, 'ci'), { recursive: true });
    mkdirSync(path.join(root, '.github/workflows'), { recursive: true });
    copyFileSync(path.join(tmp, models.onnx!), path.join(root, models.onnx!));
    writeFileSync(path.join(root, 'ci/modelgate.yml'), 'model: mine.onnx\n');
    writeFileSync(path.join(root, '.github/workflows/modelgate.yml'), 'name: mine\n');
    await expect(initProject({ model: models.onnx!, root, config: 'ci/modelgate.yml' })).rejects.toThrow(
      /ci\/modelgate\.yml and .*\.github\/workflows\/modelgate\.yml already exist; pass --force to replace them/,
    );
    expect(readFileSync(path.join(root, 'ci/modelgate.yml'), 'utf8')).toBe('model: mine.onnx\n');
    expect(readFileSync(path.join(root, '.github/workflows/modelgate.yml'), 'utf8')).toBe('name: mine\n');
    await initProject({ model: models.onnx!, root, config: 'ci/modelgate.yml', force: true });
    expect(readFileSync(path.join(root, 'ci/modelgate.yml'), 'utf8')).toContain('model: ../models/digits.onnx');
  });

  it('without --model and without a terminal, lists the models it found and exits 2', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'src/cli/index.ts'), 'init'], { cwd: tmp }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
      child.stdin?.end();
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass one with --model <file>');
    expect(result.stderr).toContain(`1. ${models.keras}`);
    expect(result.stderr).toContain(`3. ${models.onnx}`);
    expect(existsSync(path.join(tmp, 'modelgate.yml'))).toBe(false);
  }, 60_000);

  it('reads a Keras model whose time axis is open, and the shape it writes converts', async () => {
    // Whichever backend the process already runs (an earlier test may have loaded wasm): this only builds a model to save.
    const { tf } = await loadTfjs();
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [null, 4], name: 'proj' })] });
    const root = path.join(tmp, 'repo-open');
    mkdirSync(root, { recursive: true });
    await writeKerasH5(model, path.join(root, 'seq.h5'));
    const written = await initProject({ model: 'seq.h5', root });
    const text = readFileSync(written.config, 'utf8');
    const name = model.inputs[0]!.sourceLayer.name;
    expect(text).toContain(`  ${name}:\n    # fill in: dimension 1 (unnamed); the first is the batch, set by benchmark.batch\n    shape: [1, 1, 4]\n`);
    const { config } = parseConfig(text, written.config, { validate: configRecipeErrors });
    const imported = await importModel(path.join(root, 'seq.h5'), { inputShapes: inputShapesFromConfig(config.inputs) });
    expect(imported.source.inputs?.[0]?.shape).toEqual([1, 4]);
  }, 60_000);

  it('lists an input with an open non-batch dimension, saying what to fill in, and the result validates', () => {
    const text = renderConfig('bert.onnx', [
      { name: 'input_ids', dims: ['batch', 'sequence'] },
      { name: 'pixel_values', dims: ['?', 3, 224, 224] },
    ]);
    expect(text).toContain('  input_ids:\n    # fill in: dimension 1 (sequence); the first is the batch, set by benchmark.batch\n    shape: [1, 1]\n');
    expect(text).not.toContain('pixel_values');
    expect(parseConfig(text, 'modelgate.yml').config.inputs).toEqual({ input_ids: { shape: [1, 1] } });
  });
});
