/** ort_optimize: ORT's offline optimizer as a pass; the output must stand alone, run the same, and repeat byte for byte. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeModel, onnx, type Model } from '../../src/model/onnx.js';
import { checkModel } from '../../src/model/graph.js';
import { makeTensor } from '../../src/model/tensor.js';
import { ortOptimizePass } from '../../src/passes/ort-optimize.js';
import { validateRecipe } from '../../src/passes/registry.js';
import { buildCnn, compareOutputs, opTypes, randomFeeds, runAll, testContext } from './fixtures.js';

/** y = (x + (2 + 3)) with an Identity in the way: basic optimization folds the constant Add and drops the Identity. */
function foldable(): Model {
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'foldable',
      node: [
        { opType: 'Add', input: ['two', 'three'], output: ['five'], name: 'const_add' },
        { opType: 'Identity', input: ['x'], output: ['x_id'], name: 'id' },
        { opType: 'Add', input: ['x_id', 'five'], output: ['y'], name: 'add' },
      ],
      initializer: [makeTensor('two', [1], new Float32Array([2])), makeTensor('three', [1], new Float32Array([3]))],
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 4 }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 4 }] } } } }],
    },
  });
}

describe('ort_optimize', () => {
  it('folds constants and removes Identity at the basic level, with the same outputs', async () => {
    const m = foldable();
    const out = await ortOptimizePass.run(m, { level: 'basic' }, testContext(() => []));
    checkModel(out);
    expect(opTypes(out)).toEqual(['Add']);
    const feeds = randomFeeds('x', [1, 4], 8, 3);
    expect(compareOutputs(await runAll(m, feeds), await runAll(out, feeds)).maxRelDiff).toBe(0);
  });

  it('keeps the CNN within float tolerance at the extended level, byte-identical on a rerun, and cleans its scratch folder', async () => {
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'mg-ortopt-'));
    const m = buildCnn();
    const a = await ortOptimizePass.run(m, { level: 'extended' }, { ...testContext(() => []), scratchDir: scratch });
    const b = await ortOptimizePass.run(m, { level: 'extended' }, { ...testContext(() => []), scratchDir: scratch });
    expect(Buffer.from(encodeModel(a)).equals(Buffer.from(encodeModel(b)))).toBe(true);
    expect(readdirSync(scratch)).toEqual([]);
    const feeds = randomFeeds('Input3', [1, 1, 28, 28], 16, 5);
    const d = compareOutputs(await runAll(m, feeds), await runAll(a, feeds));
    expect(d.maxRelDiff).toBeLessThan(1e-5);
    expect(d.top1).toBe(1);
  });

  it('refuses the non-portable level', () => {
    expect(() => validateRecipe([{ ort_optimize: { level: 'all' } }])).toThrow(/ort_optimize': option 'level' must be one of "basic", "extended" \(got "all"\)/);
  });
});
