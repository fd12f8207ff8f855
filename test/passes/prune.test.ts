import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx, dimsOf, type Model } from '../../src/model/onnx.js';
import { makeTensor, tensorToFloat32 } from '../../src/model/tensor.js';
import { checkModel, initializerMap, intAttr, intsAttr, makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { prunePass, magnitudePrune, sliceAxis } from '../../src/passes/prune.js';
import { buildMlp, compareOutputs, randn, randomFeeds, rng, runAll, testContext } from './fixtures.js';

const weightOf = (m: Model, node: string, slot = 1) => {
  const n = m.graph!.node!.find((x) => x.name === node)!;
  return initializerMap(m.graph!).get(n.input![slot]!)!;
};

describe('prune helpers', () => {
  it('magnitudePrune zeroes exactly the smallest values; sliceAxis keeps the chosen channels', () => {
    expect(Array.from(magnitudePrune(Float32Array.of(0.5, -3, 0.1, 2, -0.2), 3))).toEqual([0, -3, 0, 2, 0]);
    const s = sliceAxis(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3], 1, [0, 2]);
    expect(s).toEqual({ values: Float32Array.of(1, 3, 4, 6), dims: [2, 2] });
  });
});

describe('prune: unstructured', () => {
  it('zeroes the requested share of each large weight by magnitude, leaves small ones, still runs', async () => {
    const m = buildMlp();
    const p = await prunePass.run(m, { sparsity: 0.5 }, testContext(() => []));
    checkModel(p);
    for (const node of ['fc1', 'fc2']) {
      const before = tensorToFloat32(weightOf(m, node));
      const after = tensorToFloat32(weightOf(p, node));
      const zeros = after.filter((v) => v === 0).length;
      expect(zeros).toBe(Math.floor(before.length / 2));
      let maxDropped = 0, minKept = Infinity;
      before.forEach((v, i) => (after[i] === 0 ? (maxDropped = Math.max(maxDropped, Math.abs(v))) : (minKept = Math.min(minKept, Math.abs(v)))));
      expect(maxDropped).toBeLessThanOrEqual(minKept);
    }
    expect(weightOf(p, 'fc3').name).toBe('fc3.w'); // 640 values < min_elements
    const feeds = randomFeeds('x', [1, 784], 4, 1);
    expect((await runAll(p, feeds))[0]).toHaveLength(10);
  });
});

describe('prune: structured', () => {
  it('MLP: drops the weakest units of fc1 and fc2 with their bias and the next layer\'s inputs', async () => {
    const log: string[] = [];
    const p = await prunePass.run(buildMlp(), { mode: 'structured', sparsity: 0.25 }, testContext(() => [], log));
    checkModel(p);
    expect(dimsOf(weightOf(p, 'fc1'))).toEqual([784, 96]);
    expect(dimsOf(weightOf(p, 'fc1.add'))).toEqual([96]);
    expect(dimsOf(weightOf(p, 'fc2'))).toEqual([96, 48]);
    expect(dimsOf(weightOf(p, 'fc2.add'))).toEqual([48]);
    expect(dimsOf(weightOf(p, 'fc3'))).toEqual([10, 48]); // Gemm transB=1: input units are columns
    expect(log[0]).toMatch(/'fc3' \(Gemm\): 'logits' has 0 readers and is a graph output/);
    const feeds = randomFeeds('x', [1, 784], 4, 1);
    expect((await runAll(p, feeds))[0]).toHaveLength(10);
  });

  it('removing units that carry nothing leaves the outputs unchanged', async () => {
    const m = buildMlp();
    const w1 = initializerMap(m.graph!).get('fc1.w')!;
    const b1 = initializerMap(m.graph!).get('fc1.b')!;
    const wv = tensorToFloat32(w1);
    const bv = tensorToFloat32(b1);
    // Units 0..31 of fc1 (columns of [784, 128]) become zero: they are the lowest-L1 ones and output Relu(0) = 0.
    for (let r = 0; r < 784; r++) for (let c = 0; c < 32; c++) wv[r * 128 + c] = 0;
    for (let c = 0; c < 32; c++) bv[c] = 0;
    Object.assign(w1, makeTensor('fc1.w', [784, 128], wv));
    Object.assign(b1, makeTensor('fc1.b', [128], bv));
    const p = await prunePass.run(m, { mode: 'structured', sparsity: 0.25, nodes_include: ['fc1'] }, testContext(() => []));
    expect(dimsOf(weightOf(p, 'fc1'))).toEqual([784, 96]);
    expect(dimsOf(weightOf(p, 'fc2'))).toEqual([96, 64]);
    const feeds = randomFeeds('x', [1, 784], 16, 2);
    expect(compareOutputs(await runAll(m, feeds), await runAll(p, feeds)).maxRelDiff).toBeLessThan(1e-6);
  });

  it('CNN: Conv → BatchNormalization → Relu → MaxPool → Conv, with the Flatten → Gemm edge left alone', async () => {
    const rand = rng(3);
    const m = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'cnn2',
        input: [tensorValueInfo('x', FLOAT, ['N', 1, 12, 12])],
        output: [tensorValueInfo('y', FLOAT, ['N', 10])],
        valueInfo: [tensorValueInfo('c1', FLOAT, ['N', 8, 10, 10])],
        initializer: [
          makeTensor('w1', [8, 1, 3, 3], randn(72, 0.5, rand)), makeTensor('b1', [8], randn(8, 0.1, rand)),
          makeTensor('s', [8], Float32Array.from({ length: 8 }, () => 0.5 + rand())), makeTensor('o', [8], randn(8, 0.1, rand)),
          makeTensor('mu', [8], randn(8, 0.1, rand)), makeTensor('var', [8], Float32Array.from({ length: 8 }, () => 0.5 + rand())),
          makeTensor('w2', [16, 8, 3, 3], randn(16 * 72, 0.3, rand)),
          makeTensor('wd', [10, 16 * 9], randn(10 * 144, 0.1, rand)),
        ],
        node: [
          makeNode('Conv', ['x', 'w1', 'b1'], ['c1'], { name: 'conv1' }),
          makeNode('BatchNormalization', ['c1', 's', 'o', 'mu', 'var'], ['bn1'], { name: 'bn1' }),
          makeNode('Relu', ['bn1'], ['r1']),
          makeNode('MaxPool', ['r1'], ['p1'], { attributes: [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])] }),
          makeNode('Conv', ['p1', 'w2'], ['c2'], { name: 'conv2' }),
          makeNode('Relu', ['c2'], ['r2']),
          makeNode('Flatten', ['r2'], ['f']),
          makeNode('Gemm', ['f', 'wd'], ['y'], { name: 'dense', attributes: [intAttr('transB', 1)] }),
        ],
      },
    });
    const log: string[] = [];
    const p = await prunePass.run(m, { mode: 'structured', sparsity: 0.5 }, testContext(() => [], log));
    checkModel(p);
    expect(dimsOf(weightOf(p, 'conv1'))).toEqual([4, 1, 3, 3]);
    expect(dimsOf(weightOf(p, 'conv1', 2))).toEqual([4]);
    for (let slot = 1; slot <= 4; slot++) expect(dimsOf(weightOf(p, 'bn1', slot))).toEqual([4]);
    expect(dimsOf(weightOf(p, 'conv2'))).toEqual([16, 4, 3, 3]);
    expect(p.graph!.valueInfo).toEqual([]); // c1's recorded shape is stale
    expect(log[0]).toMatch(/'conv2' \(Conv\): Flatten → 'f' is not per-channel/);
    const feeds = randomFeeds('x', [1, 1, 12, 12], 2, 1);
    expect((await runAll(p, feeds))[0]).toHaveLength(10);
  });
});
