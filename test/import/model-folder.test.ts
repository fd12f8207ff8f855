/** A folder as the config's model: Hugging Face / Optimum export folders name their ONNX file. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importModel, resolveModelPath } from '../../src/import/index.js';
import { encodeModel } from '../../src/model/onnx.js';
import { ModelGateError } from '../../src/errors.js';
import { runGate } from '../../src/commands/run.js';
import { buildModel, node } from '../tflite/fixtures.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'modelgate-model-folder-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder with config.json and the given files (relative paths; .onnx files get a real model). */
function folder(name: string, files: string[]): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'bert' }));
  const model = encodeModel(buildModel({ nodes: [node('Relu', ['x'], ['y'])], inputs: { x: [1, 4] }, outputs: ['y'] }));
  for (const f of files) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), f.endsWith('.onnx') ? model : '{}');
  }
  return dir;
}

describe('resolveModelPath', () => {
  it('an Optimum export (onnx/model.onnx) resolves to it, and importModel loads the folder', async () => {
    const dir = folder('optimum', ['onnx/model.onnx', 'onnx/model_quantized.onnx', 'tokenizer.json']);
    expect(resolveModelPath(dir)).toBe(path.join(dir, 'onnx', 'model.onnx'));
    const imported = await importModel(dir);
    expect(imported.source).toEqual({ format: 'onnx', file: path.join(dir, 'onnx', 'model.onnx') });
    expect(imported.model.graph!.node![0]!.opType).toBe('Relu');
  });

  it('model.onnx at the top is preferred over onnx/ and over other .onnx files', () => {
    const dir = folder('top', ['model.onnx', 'decoder.onnx', 'onnx/model.onnx']);
    expect(resolveModelPath(dir)).toBe(path.join(dir, 'model.onnx'));
  });

  it('a single .onnx file is taken whatever its name', () => {
    const dir = folder('single', ['onnx/encoder_model.onnx']);
    expect(resolveModelPath(dir)).toBe(path.join(dir, 'onnx', 'encoder_model.onnx'));
  });

  it('several .onnx files and no model.onnx is an error listing them', () => {
    const dir = folder('several', ['onnx/encoder_model.onnx', 'onnx/decoder_model.onnx', 'decoder_with_past.onnx']);
    let err: unknown;
    try {
      resolveModelPath(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelGateError);
    expect((err as Error).message).toBe(
      `${dir}: the folder holds 3 ONNX models (decoder_with_past.onnx, onnx/decoder_model.onnx, onnx/encoder_model.onnx) and no model.onnx; name one of them as the config's model`,
    );
  });

  it('a Hugging Face folder without ONNX says how to export it; files and TF.js folders pass through', () => {
    const dir = folder('pytorch', ['pytorch_model.bin']);
    expect(() => resolveModelPath(dir)).toThrow(/holds no model\.json or \.onnx model \(a Hugging Face folder needs model\.onnx or onnx\/model\.onnx: export it with optimum-cli export onnx\)/);
    const tfjs = folder('tfjs', ['model.json', 'onnx/model.onnx']);
    expect(resolveModelPath(tfjs)).toBe(tfjs);
    expect(resolveModelPath(path.join(dir, 'config.json'))).toBe(path.join(dir, 'config.json'));
    expect(resolveModelPath(path.join(root, 'missing.onnx'))).toBe(path.join(root, 'missing.onnx'));
  });

  it('the gate takes an Optimum folder as the config model', async () => {
    const dir = folder('gate', ['onnx/model.onnx']);
    writeFileSync(path.join(root, 'gate.yml'), ['model: gate', 'optimize:', '  - { name: clean, passes: [{ cleanup: {} }] }', 'benchmark: { batch: 1, threads: 1, runs: 20 }', ''].join('\n'));
    const r = await runGate({ configPath: path.join(root, 'gate.yml'), outDir: path.join(dir, 'out') });
    expect(r.error).toBeUndefined();
    expect(r.report.candidates.map((c) => c.id)).toEqual(['reference', 'clean']);
    // cleanup finds nothing to change in this model: the candidate is the reference byte for byte, reported as unchanged.
    const [ref, clean] = r.report.candidates;
    expect(ref!.latency!.p50_ms).toBeGreaterThan(0);
    expect(clean!.unchanged).toBe(true);
    expect(clean!.checks[0]!.message).toMatch(/^no change \(cleanup: /);
  }, 60_000);
});
