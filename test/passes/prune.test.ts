import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx, dimsOf, encodeModel, cloneModel, type Model } from '../../src/model/onnx.js';
import { makeTensor, tensorData, tensorToFloat32 } from '../../src/model/tensor.js';
import { checkModel, initializerMap, intAttr, intsAttr, makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { prunePass, magnitudePrune, sliceAxis, expandBlocks, channelsToDrop } from '../../src/passes/prune.js';
import { buildCnn, buildMlp, compareOutputs, randn, randomFeeds, rng, runAll, sameBytes, testContext } from './fixtures.js';

const weightOf = (m: Model, node: string, slot = 1) => {
  const n = m.graph!.node!.find((x) => x.name === node)!;
  return initializerMap(m.graph!).get(n.input![slot]!)!;
};

describe('prune helpers', () => {
  it('magnitudePrune zeroes exactly the smallest values; sliceAxis keeps the chosen channels', () => {
    expect(Array.from(magnitudePrune(Float32Array.of(0.5, -3, 0.1, 2, -0.2), 3))).toEqual([0, -3, 0, 2, 0]);
    const s = sliceAxis(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3], 1, [0, 2]);
    expect(s).toEqual({ values: Float32Array.of(1, 3, 4, 6), dims: [2, 2] });
    expect(expandBlocks([0, 2], 3)).toEqual([0, 1, 2, 6, 7, 8]);
  });

  it('channelsToDrop keeps a multiple of channel_multiple (rounding the kept count up) and at least one channel', () => {
    expect(channelsToDrop(32, 0.5, 16)).toBe(16);
    expect(channelsToDrop(32, 0.25, 16)).toBe(0); // 24 kept would leave ORT's NCHWc kernels
    expect(channelsToDrop(32, 0.25, 1)).toBe(8);
    expect(channelsToDrop(48, 0.5, 16)).toBe(16);
    expect(channelsToDrop(24, 0.5, 16)).toBe(12); // not a multiple of 16 to begin with
    expect(channelsToDrop(4, 0.99, 1)).toBe(3);
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

  it('CNN: Conv → BatchNormalization → Relu → MaxPool → Conv, then Conv → Relu → Flatten → Gemm', async () => {
    const rand = rng(3);
    const m = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'cnn2',
        input: [tensorValueInfo('x', FLOAT, ['N', 1, 12, 12])],
        output: [tensorValueInfo('y', FLOAT, ['N', 10])],
        valueInfo: [tensorValueInfo('c1', FLOAT, ['N', 8, 10, 10]), tensorValueInfo('r1', FLOAT, ['N', 8, 10, 10]), tensorValueInfo('y', FLOAT, ['N', 10])],
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
    const p = await prunePass.run(m, { mode: 'structured', sparsity: 0.5, channel_multiple: 1 }, testContext(() => [], log));
    checkModel(p);
    expect(dimsOf(weightOf(p, 'conv1'))).toEqual([4, 1, 3, 3]);
    expect(dimsOf(weightOf(p, 'conv1', 2))).toEqual([4]);
    for (let slot = 1; slot <= 4; slot++) expect(dimsOf(weightOf(p, 'bn1', slot))).toEqual([4]);
    expect(dimsOf(weightOf(p, 'conv2'))).toEqual([8, 4, 3, 3]);
    expect(dimsOf(weightOf(p, 'dense'))).toEqual([10, 8 * 9]); // transB=1: 8 blocks of 3x3 features
    // c1's and r1's recorded shapes are stale; the graph output's is not.
    expect(p.graph!.valueInfo!.map((v) => v.name)).toEqual(['y']);
    expect(log[0]).toMatch(/'conv2' \(Conv\) → 'dense' \(Gemm\): 8 of 16 channels \(flattened: 72 of 144 features\)/);
    const feeds = randomFeeds('x', [1, 1, 12, 12], 2, 1);
    expect((await runAll(p, feeds))[0]).toHaveLength(10);
  });
});

/** Channels `dead` of the CNN's Conv output nothing (weights and bias 0): pruning them must not change the outputs. */
function withDeadChannels(m: Model, dead: number[]): Model {
  const out = cloneModel(m);
  const inits = initializerMap(out.graph!);
  const w = tensorToFloat32(inits.get('conv.w')!);
  const b = tensorToFloat32(inits.get('conv.b')!);
  for (const c of dead) {
    w.fill(0, c * 9, (c + 1) * 9);
    b[c] = 0;
  }
  Object.assign(inits.get('conv.w')!, makeTensor('conv.w', [32, 1, 3, 3], w));
  Object.assign(inits.get('conv.b')!, makeTensor('conv.b', [32], b));
  return out;
}

/** The CNN with its Flatten replaced by Reshape(pool, shape). */
function withReshape(m: Model, shape: bigint[]): Model {
  const out = cloneModel(m);
  const g = out.graph!;
  const i = g.node!.findIndex((n) => n.opType === 'Flatten');
  g.node![i] = makeNode('Reshape', ['pool', 'flat_shape'], ['flat'], { name: 'reshape' });
  g.initializer!.push(makeTensor('flat_shape', [2], BigInt64Array.from(shape)));
  return out;
}

describe('prune: structured, Conv → Relu → MaxPool → Flatten/Reshape → Gemm/MatMul (the MNIST CNN)', () => {
  // Every third channel and a few more: 16 dead channels spread over the 32, so a wrong block order shows.
  const dead = [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 1, 5, 10, 20, 31];
  const feeds = randomFeeds('Input3', [1, 1, 28, 28], 8, 5);

  for (const variant of ['Flatten, Gemm transB=1', 'Flatten, Gemm transB=0', 'Reshape [0, -1]', 'Reshape [-1, 5408]'] as const) {
    it(`${variant}: dropping the 16 dead channels removes their 169-row blocks and leaves the outputs unchanged`, async () => {
      let m = withDeadChannels(buildCnn({ transB: variant !== 'Flatten, Gemm transB=0', softmax: false }), dead);
      if (variant === 'Reshape [0, -1]') m = withReshape(m, [0n, -1n]);
      if (variant === 'Reshape [-1, 5408]') m = withReshape(m, [-1n, 5408n]);
      const log: string[] = [];
      const p = await prunePass.run(m, { mode: 'structured', sparsity: 0.5 }, testContext(() => [], log));
      checkModel(p);
      expect(dimsOf(weightOf(p, 'conv'))).toEqual([16, 1, 3, 3]);
      expect(dimsOf(weightOf(p, 'conv', 2))).toEqual([16]);
      expect(dimsOf(weightOf(p, 'dense'))).toEqual(variant === 'Flatten, Gemm transB=0' ? [2704, 10] : [10, 2704]);
      expect(log[0]).toMatch(/'conv' \(Conv\) → 'dense' \(Gemm\): 16 of 32 channels \(flattened: 2704 of 5408 features\)/);
      if (variant === 'Reshape [-1, 5408]') expect(Array.from(tensorData(weightOf(p, 'reshape')) as BigInt64Array)).toEqual([-1n, 2704n]);
      if (variant === 'Reshape [0, -1]') expect(weightOf(p, 'reshape').name).toBe('flat_shape');
      expect(compareOutputs(await runAll(m, feeds), await runAll(p, feeds)).maxRelDiff).toBeLessThan(1e-5);
    });
  }

  it('MatMul reader: same row blocks; MaxPool with the trained-model shape runs in ORT at batch 3', async () => {
    const m = withDeadChannels(buildCnn({ transB: false, softmax: false }), dead);
    const dense = m.graph!.node!.find((n) => n.name === 'dense')!;
    // Gemm [5408, 10] + bias → MatMul + Add, as PyTorch exports a Linear without Gemm.
    const i = m.graph!.node!.indexOf(dense);
    m.graph!.node!.splice(i, 1, makeNode('MatMul', ['flat', 'dense.w'], ['mm'], { name: 'dense' }), makeNode('Add', ['mm', 'dense.b'], ['probs'], { name: 'dense.add' }));
    const p = await prunePass.run(m, { mode: 'structured', sparsity: 0.5 }, testContext(() => []));
    expect(dimsOf(weightOf(p, 'dense'))).toEqual([2704, 10]);
    const batch = randomFeeds('Input3', [3, 1, 28, 28], 2, 6);
    expect(compareOutputs(await runAll(m, batch), await runAll(p, batch)).maxRelDiff).toBeLessThan(1e-5);
  });

  it('keeps the 16 channels of largest L1 norm, deterministically (byte-identical output)', async () => {
    const m = buildCnn({ softmax: true });
    const a = await prunePass.run(m, { mode: 'structured', sparsity: 0.5 }, testContext(() => []));
    const b = await prunePass.run(m, { mode: 'structured', sparsity: 0.5 }, testContext(() => []));
    expect(sameBytes(encodeModel(a), encodeModel(b))).toBe(true);
    const w = tensorToFloat32(weightOf(m, 'conv'));
    const norms = Array.from({ length: 32 }, (_, c) => w.subarray(c * 9, (c + 1) * 9).reduce((s, v) => s + Math.abs(v), 0));
    const threshold = [...norms].sort((x, y) => y - x)[15]!;
    const kept = Array.from({ length: 32 }, (_, c) => c).filter((c) => norms[c]! >= threshold);
    const expected = kept.flatMap((c) => Array.from(w.subarray(c * 9, (c + 1) * 9)));
    expect(Array.from(tensorToFloat32(weightOf(a, 'conv')))).toEqual(expected);
    // Gemm [10, 5408] (transB=1): row r keeps the kept channels' 169-column blocks in order.
    const g = tensorToFloat32(weightOf(m, 'dense'));
    const gp = tensorToFloat32(weightOf(a, 'dense'));
    const k = 7;
    expect(Array.from(gp.subarray(3 * 2704 + k * 169, 3 * 2704 + (k + 1) * 169))).toEqual(Array.from(g.subarray(3 * 5408 + kept[k]! * 169, 3 * 5408 + (kept[k]! + 1) * 169)));
    expect(encodeModel(a).length).toBeLessThan(0.55 * encodeModel(m).length);
  });

  it('leaves the model alone when the kept count would leave a multiple of 16, and says why', async () => {
    const log: string[] = [];
    const p = await prunePass.run(buildCnn(), { mode: 'structured', sparsity: 0.25 }, testContext(() => [], log));
    expect(dimsOf(weightOf(p, 'conv'))).toEqual([32, 1, 3, 3]);
    expect(log[0]).toMatch(/nothing pruned; skipped: 'conv' \(Conv\): sparsity 0.25 of 32 channels leaves nothing to remove/);
    const q = await prunePass.run(buildCnn(), { mode: 'structured', sparsity: 0.25, channel_multiple: 1 }, testContext(() => []));
    expect(dimsOf(weightOf(q, 'conv'))).toEqual([24, 1, 3, 3]);
    expect(dimsOf(weightOf(q, 'dense'))).toEqual([10, 24 * 169]);
  });

  it('skips a Flatten from another axis and a Reshape that does not give [N, C·H·W]', async () => {
    // [N, 32, 13, 13] → [32N, 169] → Gemm [169 → 10]: valid models whose Gemm does not read channels.
    const perPixelGemm = (m: Model): Model => {
      const inits = m.graph!.initializer!;
      inits[inits.findIndex((t) => t.name === 'dense.w')] = makeTensor('dense.w', [10, 169], randn(1690, 0.1, rng(4)));
      m.graph!.output = [tensorValueInfo('probs', FLOAT)];
      return m;
    };
    const flat2 = perPixelGemm(buildCnn({ softmax: false }));
    flat2.graph!.node!.find((n) => n.opType === 'Flatten')!.attribute = [intAttr('axis', 2)];
    const log: string[] = [];
    await expect(prunePass.run(flat2, { mode: 'structured', sparsity: 0.5 }, testContext(() => [], log))).resolves.toBeDefined();
    expect(log[0]).toMatch(/skipped: 'conv' \(Conv\): 'flatten' \(Flatten\) does not flatten from axis 1/);
    const log2: string[] = [];
    const r = withReshape(perPixelGemm(buildCnn({ softmax: false })), [-1n, 169n]);
    await prunePass.run(r, { mode: 'structured', sparsity: 0.5 }, testContext(() => [], log2));
    expect(log2[0]).toMatch(/skipped: 'conv' \(Conv\): 'reshape' \(Reshape\) does not reshape to \[N, 5408\]/);
  });
});
