import { describe, expect, it } from 'vitest';
import { ModelGateError } from '../../src/errors.js';
import { getPass, listPasses, runRecipe, validateRecipe } from '../../src/passes/registry.js';
import { checkModel } from '../../src/model/graph.js';
import { buildMlp, opTypes, testContext } from './fixtures.js';

describe('registry', () => {
  it('lists the passes and finds them by name', () => {
    const names = listPasses().map((p) => p.name);
    expect(names).toEqual(['cleanup', 'ort_optimize', 'quantize', 'weight_only', 'fp16', 'prune', 'lowrank', 'matmul_nbits', 'fp32']);
    expect(new Set(names).size).toBe(names.length);
    expect(getPass('fp16').name).toBe('fp16');
    expect(() => getPass('quantise')).toThrow(/unknown pass 'quantise' \(known: .*quantize/);
  });

  it('accepts the config spellings, with null options and bare names', () => {
    expect(validateRecipe([{ quantize: { mode: 'dynamic' } }, { fp16: {} }, { fp16: null }, 'fp16'])).toEqual([
      { pass: 'quantize', options: { mode: 'dynamic' } },
      { pass: 'fp16', options: {} },
      { pass: 'fp16', options: {} },
      { pass: 'fp16', options: {} },
    ]);
    expect(validateRecipe([{ quantize: { mode: 'static', calibration: 'minmax', samples: 256 } }])[0]!.options.samples).toBe(256);
  });

  const bad: Array<[string, unknown[], RegExp]> = [
    ['an unknown pass', [{ fp16: {} }, { prune_it: {} }], /^passes\[1\]: unknown pass 'prune_it'/],
    ['a multi-key entry', [{ fp16: {}, quantize: { mode: 'dynamic' } }], /^passes\[0\]: a pass is a single-key object/],
    ['a missing required option', [{ quantize: {} }], /^passes\[0\] 'quantize': missing option 'mode'/],
    ['a bad enum value', [{ quantize: { mode: 'dinamic' } }], /^passes\[0\] 'quantize': option 'mode' must be one of "dynamic", "static" \(got "dinamic"\)/],
    ['an unknown option', [{ quantize: { mode: 'static', calibrations: 'minmax' } }], /^passes\[0\] 'quantize': unknown option 'calibrations'/],
    ['a wrong type', [{ fp16: { keep_io_types: 'yes' } }], /^passes\[0\] 'fp16': option 'keep_io_types' must be boolean \(got "yes"\)/],
    ['an out-of-range number', [{ quantize: { mode: 'static', samples: 0 } }], /option 'samples' must be >= 1 \(got 0\)/],
    ['a bad list item', [{ quantize: { mode: 'static', op_types: ['Conv', 3] } }], /option 'op_types\[1\]' must be string \(got 3\)/],
    ['prune without sparsity', [{ prune: { mode: 'structured' } }], /^passes\[0\] 'prune': missing option 'sparsity'/],
    ['a sparsity of 1', [{ prune: { sparsity: 1 } }], /option 'sparsity' must be < 1 \(got 1\)/],
    ['an unknown weight_only option', [{ weight_only: { axis: 1 } }], /'weight_only': unknown option 'axis'/],
  ];
  for (const [what, specs, message] of bad) {
    it(`rejects ${what} with a message naming the pass and option`, async () => {
      expect(() => validateRecipe(specs)).toThrow(ModelGateError);
      expect(() => validateRecipe(specs)).toThrow(message);
      // runRecipe validates everything before running anything.
      await expect(runRecipe(buildMlp(), specs, testContext(() => []))).rejects.toThrow(message);
    });
  }

  const badAtRun: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an op type the mode cannot quantize', { mode: 'dynamic', op_types: ['Add'] }, /pass 'quantize': option 'op_types' lists 'Add'/],
    ['a node name that does not exist', { mode: 'dynamic', nodes_exclude: ['fc9'] }, /option 'nodes_exclude' names 'fc9', which is not a node/],
    ['an included node whose type is not in op_types', { mode: 'dynamic', op_types: ['Gemm'], nodes_include: ['fc1'] }, /nodes_include' names 'fc1' \(MatMul\), but op_types/],
    ['calibration options in dynamic mode', { mode: 'dynamic', calibration: 'entropy' }, /option 'calibration' applies only to mode: static/],
    ['int8 activations in dynamic mode', { mode: 'dynamic', activation_type: 'int8' }, /option 'activation_type' must be uint8 in dynamic mode/],
    ['percentile without percentile calibration', { mode: 'static', percentile: 99.9 }, /option 'percentile' needs calibration: percentile/],
  ];
  for (const [what, options, message] of badAtRun) {
    it(`quantize rejects ${what}`, async () => {
      const run = runRecipe(buildMlp(), [{ quantize: options }], testContext(() => []));
      await expect(run).rejects.toThrow(ModelGateError);
      await expect(runRecipe(buildMlp(), [{ quantize: options }], testContext(() => []))).rejects.toThrow(message);
    });
  }

  it('runs a recipe in order and returns the model and the runtime options it needs', async () => {
    const log: string[] = [];
    const result = await runRecipe(buildMlp(), [{ quantize: { mode: 'dynamic' } }, { fp16: {} }], testContext(() => [], log));
    checkModel(result.model);
    expect(opTypes(result.model)).toContain('MatMulInteger');
    expect(log[0]).toMatch(/^quantize \(dynamic/);
    expect(log[1]).toMatch(/^fp16:/);
    expect(result.steps.map((s) => s.pass)).toEqual(['quantize', 'fp16']);
    expect(result.runtime).toEqual({});
  });
});
