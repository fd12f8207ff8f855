/** Properties every pass keeps: valid output that loads in ORT, input untouched, byte-identical reruns. */
import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../src/model/onnx.js';
import { checkModel } from '../../src/model/graph.js';
import { listPasses, runRecipe } from '../../src/passes/registry.js';
import { buildCnn, buildMlp, randomFeeds, runAll, testContext, sameBytes } from './fixtures.js';

const OPTIONS: Record<string, Record<string, unknown>> = {
  cleanup: {},
  ort_optimize: { level: 'extended' },
  quantize: { mode: 'static', samples: 16 },
  weight_only: {},
  fp16: {},
  prune: { mode: 'structured', sparsity: 0.25 },
  lowrank: { energy: 0.9, min_elements: 4096 },
  matmul_nbits: { min_elements: 1024 },
  fp32: {},
};

describe('every registered pass', () => {
  it('has options for this test', () => {
    expect(Object.keys(OPTIONS).sort()).toEqual(listPasses().map((p) => p.name).sort());
  });

  for (const [name, options] of Object.entries(OPTIONS)) {
    it(`${name}: valid, loads and runs in ORT, leaves its input alone, byte-identical on a rerun`, async () => {
      for (const [model, input, dims] of [[buildCnn(), 'Input3', [1, 1, 28, 28]], [buildMlp(), 'x', [1, 784]]] as const) {
        const before = encodeModel(model);
        const ctx = testContext((n) => randomFeeds(input, [...dims], n, 5));
        const a = await runRecipe(model, [{ [name]: options }], ctx);
        const b = await runRecipe(model, [{ [name]: options }], ctx);
        checkModel(a.model);
        expect(sameBytes(encodeModel(a.model), encodeModel(b.model))).toBe(true);
        expect(sameBytes(encodeModel(model), before)).toBe(true);
        const out = await runAll(a.model, randomFeeds(input, [...dims], 2, 6), a.runtime);
        expect(out[0]).toHaveLength(10);
        expect(out[0]!.every(Number.isFinite)).toBe(true);
      }
    });
  }
});
