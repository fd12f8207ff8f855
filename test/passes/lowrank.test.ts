import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx, dimsOf, encodeModel, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { checkModel, initializerMap, intAttr, makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { lowRankPass } from '../../src/passes/lowrank.js';
import { ModelGateError } from '../../src/errors.js';
import { compareOutputs, opTypes, randn, randomFeeds, rng, runAll, testContext } from './fixtures.js';

/** x [N, 256] → MatMul W1 [256, 128] (rank 8) → Relu → Gemm W2ᵀ [64, 128] (rank 4, transB=1) + b. */
function lowRankMlp(): Model {
  const rand = rng(21);
  const product = (a: Float32Array, b: Float32Array, n: number, k: number, m: number) => {
    const out = new Float32Array(n * m);
    for (let i = 0; i < n; i++) for (let t = 0; t < k; t++) for (let j = 0; j < m; j++) out[i * m + j]! += a[i * k + t]! * b[t * m + j]!;
    return out;
  };
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'lr',
      input: [tensorValueInfo('x', FLOAT, ['N', 256])],
      output: [tensorValueInfo('y', FLOAT, ['N', 64])],
      initializer: [
        makeTensor('w1', [256, 128], product(randn(256 * 8, 0.3, rand), randn(8 * 128, 0.3, rand), 256, 8, 128)),
        makeTensor('w2', [64, 128], product(randn(64 * 4, 0.3, rand), randn(4 * 128, 0.3, rand), 64, 4, 128)),
        makeTensor('b2', [64], randn(64, 0.1, rand)),
      ],
      node: [
        makeNode('MatMul', ['x', 'w1'], ['h'], { name: 'fc1' }),
        makeNode('Relu', ['h'], ['r']),
        makeNode('Gemm', ['r', 'w2', 'b2'], ['y'], { name: 'fc2', attributes: [intAttr('transB', 1)] }),
      ],
    },
  });
}

describe('lowrank', () => {
  it('factorizes exact low-rank weights at their rank (energy 0.999) with the same outputs', async () => {
    const m = lowRankMlp();
    const log: string[] = [];
    const f = await lowRankPass.run(m, { energy: 0.999, min_elements: 4096 }, testContext(() => [], log));
    checkModel(f);
    expect(opTypes(f)).toEqual(['MatMul', 'MatMul', 'Relu', 'MatMul', 'Gemm']);
    const dims = f.graph!.initializer!.map((t) => [t.name, dimsOf(t)]);
    expect(dims).toEqual(expect.arrayContaining([['w1_lowrank_left', [256, 8]], ['w1_lowrank_right', [8, 128]], ['w2_lowrank_left', [128, 4]], ['w2_lowrank_right', [4, 64]]]));
    expect(log[0]).toMatch(/'fc1' \(MatMul\) rank 8.*'fc2' \(Gemm\) rank 4/);
    expect(encodeModel(f).length).toBeLessThan(0.2 * encodeModel(m).length);
    const feeds = randomFeeds('x', [1, 256], 16, 4);
    expect(compareOutputs(await runAll(m, feeds), await runAll(f, feeds)).maxRelDiff).toBeLessThan(1e-4);
  });

  it('honours an explicit rank, skips factorizations that save too little, and refuses rank with energy', async () => {
    const two = await lowRankPass.run(lowRankMlp(), { rank: 2, min_elements: 4096 }, testContext(() => []));
    expect(dimsOf(initializerMap(two.graph!).get('w1_lowrank_left')!)).toEqual([256, 2]);
    const log: string[] = [];
    const big = await lowRankPass.run(lowRankMlp(), { rank: 100, min_elements: 4096 }, testContext(() => [], log));
    expect(opTypes(big)).toEqual(['MatMul', 'Relu', 'Gemm']);
    expect(log[0]).toMatch(/skipped: 'fc1' \(MatMul\): rank 100 keeps 117% of the parameters/);
    await expect(lowRankPass.run(lowRankMlp(), { rank: 2, energy: 0.9 }, testContext(() => []))).rejects.toThrow(ModelGateError);
  });
});
