/** The whole gate on models whose inputs are not one [batch, ...] tensor, with no `inputs:` section. */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runGate } from '../../src/commands/run.js';
import { saveModel } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { F, I64, buildModel, int, tmp } from './models.js';

describe('runGate with model-declared input shapes', () => {
  it('runs a stateful model (state [2, batch, 16], rank-0 sr) on synthetic data, and a two-input model on JSON Lines', async () => {
    const dir = tmp('mg-run-shapes-');
    saveModel(buildModel(
      [
        { opType: 'MatMul', input: ['input', 'w'], output: ['logit'] },
        { opType: 'Cast', input: ['sr'], output: ['srf'], attribute: [int('to', F)] },
        { opType: 'Mul', input: ['srf', 'zero'], output: ['srz'] },
        { opType: 'Add', input: ['state', 'srz'], output: ['stateN'] },
      ],
      [['input', F, ['batch', 8]], ['state', F, [2, 'batch', 16]], ['sr', I64, []]],
      [['logit', F, ['batch', 1]], ['stateN', F, [2, 'batch', 16]]],
      [makeTensor('w', [8, 1], new Float32Array(8).fill(0.5)), makeTensor('zero', [], Float32Array.of(0))],
    ), path.join(dir, 'vad.onnx'));
    writeFileSync(path.join(dir, 'vad.yml'), 'model: vad.onnx\nbenchmark: { warmup: 1, runs: 10, measurements: 1 }\n');
    const vad = await runGate({ configPath: path.join(dir, 'vad.yml'), outDir: path.join(dir, 'out-vad') });
    expect(vad.error).toBeUndefined();
    expect(vad.exitCode).toBe(0);

    saveModel(buildModel(
      [
        { opType: 'Cast', input: ['mask'], output: ['mf'], attribute: [int('to', F)] },
        { opType: 'Mul', input: ['x', 'mf'], output: ['xm'] },
        { opType: 'MatMul', input: ['xm', 'w'], output: ['y'] },
      ],
      [['x', F, ['batch', 3]], ['mask', I64, ['batch', 3]]],
      [['y', F, ['batch', 2]]],
      [makeTensor('w', [3, 2], Float32Array.of(1, 0, 0, 1, 1, 0))],
    ), path.join(dir, 'two.onnx'));
    // y = [x0*m0 + x2*m2, x1*m1]: class 1 exactly when x1*m1 is larger.
    const rows = [[[1, 5, 1], [1, 1, 1], 1], [[4, 2, 1], [1, 1, 1], 0], [[1, 9, 1], [1, 0, 1], 0], [[0, 1, 0], [0, 1, 0], 1], [[3, 1, 3], [1, 1, 1], 1]];
    writeFileSync(path.join(dir, 'd.jsonl'), rows.map(([x, mask, label]) => JSON.stringify({ x, mask, label })).join('\n'));
    writeFileSync(path.join(dir, 'two.yml'), 'model: two.onnx\ndataset: { inputs: d.jsonl, label: label }\nbenchmark: { warmup: 1, runs: 10, measurements: 1 }\n');
    const two = await runGate({ configPath: path.join(dir, 'two.yml'), outDir: path.join(dir, 'out-two') });
    expect(two.error).toBeUndefined();
    expect(two.report.candidates[0]!.accuracy).toBeCloseTo(4 / 5, 12);
  }, 120_000);
});
