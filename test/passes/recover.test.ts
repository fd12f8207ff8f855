import { describe, expect, it } from 'vitest';
import Long from 'long';
import { dimsOf, encodeModel, onnx, type Model } from '../../src/model/onnx.js';
import { FLOAT, checkModel, initializerMap, intsAttr, makeNode, tensorValueInfo } from '../../src/model/graph.js';
import { makeTensor } from '../../src/model/tensor.js';
import { runRecipe } from '../../src/passes/registry.js';
import { selectChannels } from '../../src/passes/recover.js';
import { analyzeModel, planTrials } from '../../src/search/auto.js';
import { inferTensorTypes } from '../../src/passes/infer-types.js';
import { cholesky, solveSpd } from '../../src/passes/linalg.js';
import type { PassDetails } from '../../src/passes/pass.js';
import type { Feeds } from '../../src/model/host-tensor.js';
import { buildMlp, randn, randomFeeds, rng, runAll, sameBytes, testContext } from './fixtures.js';

const weightDims = (m: Model, node: string, slot = 1) => {
  const n = m.graph!.node!.find((x) => x.name === node)!;
  return dimsOf(initializerMap(m.graph!).get(n.input![slot]!)!);
};

/** Relative error of the outputs against the reference, over all feeds. */
async function outputError(ref: Model, got: Model, feeds: Feeds[]): Promise<number> {
  const [a, b] = [await runAll(ref, feeds), await runAll(got, feeds)];
  let num = 0, den = 0;
  a.forEach((r, i) => r.forEach((v, j) => ((num += (v - b[i]![j]!) ** 2), (den += v * v))));
  return Math.sqrt(num / den);
}

function collect(feeds: Feeds[]) {
  const notes: PassDetails[] = [];
  const log: string[] = [];
  const ctx = { ...testContext((n) => feeds.slice(0, n), log), detail: (d: PassDetails) => notes.push(d) };
  return { ctx, notes, log };
}

// MLP fixture inputs: sparse non-negative "images", so some input directions are never seen (like MNIST borders).
function mlpFeeds(count: number, seed: number): Feeds[] {
  return randomFeeds('x', [1, 784], count, seed).map((f) => {
    const d = f.x!.data as Float32Array;
    for (let i = 0; i < d.length; i++) d[i] = i % 28 < 4 || d[i]! < 0.5 ? 0 : d[i]!;
    return f;
  });
}

describe('recover: linear algebra', () => {
  it('cholesky and solveSpd solve a small SPD system', () => {
    const a = Float64Array.of(4, 2, 0, 2, 5, 1, 0, 1, 3);
    const l = cholesky(a, 3);
    // L·Lᵀ gives A back
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += l[i * 3 + k]! * l[j * 3 + k]!;
      expect(s).toBeCloseTo(a[i * 3 + j]!, 12);
    }
    const x = solveSpd(a, 3, Float64Array.of(1, 2, 3), 1);
    expect(4 * x[0]! + 2 * x[1]!).toBeCloseTo(1, 12);
    expect(2 * x[0]! + 5 * x[1]! + x[2]!).toBeCloseTo(2, 12);
    expect(x[1]! + 3 * x[2]!).toBeCloseTo(3, 12);
    expect(() => cholesky(Float64Array.of(1, 2, 2, 1), 2)).toThrow(/not positive definite/);
  });

  it('selectChannels keeps the channels that reconstruct the target, not the largest ones', () => {
    // Z0 and Z1 are large but cancel each other in the target; Z2 is small and is the whole target.
    // Contributions as vectors: z0 = (10, 0), z1 = (-10, 0.1), z2 = (0, 1); target t = z2.
    const z = [[10, 0], [-10, 0.1], [0, 1]];
    const t = [0, 1];
    const A = new Float64Array(9), b = new Float64Array(3);
    for (let c = 0; c < 3; c++) {
      b[c] = z[c]![0]! * t[0]! + z[c]![1]! * t[1]!;
      for (let d = 0; d < 3; d++) A[c * 3 + d] = z[c]![0]! * z[d]![0]! + z[c]![1]! * z[d]![1]!;
    }
    expect(selectChannels(A, b, 3, 1)).toEqual([2]);
  });
});

describe('recover: structured prune', () => {
  it('MLP: re-fitting lowers each layer\'s output error and the model output error; the model runs in ORT', async () => {
    const calib = mlpFeeds(300, 1);
    const test = mlpFeeds(50, 2);
    const m = buildMlp();
    const plain = await runRecipe(m, [{ prune: { mode: 'structured', sparsity: 0.5 } }], testContext(() => []));
    const { ctx, notes } = collect(calib);
    const rec = await runRecipe(m, [{ prune: { mode: 'structured', sparsity: 0.5, recover: { samples: 200 } } }], ctx);
    checkModel(rec.model);
    expect(weightDims(rec.model, 'fc1')).toEqual([784, 64]);
    expect(weightDims(rec.model, 'fc2')).toEqual([64, 32]);
    const layers = notes[0]!.recovery!.layers;
    expect(rec.details).toEqual([{ step: 0, pass: 'prune', ...notes[0] }]);
    expect(layers.map((l) => l.node)).toEqual(["'fc2' (MatMul)", "'fc3' (Gemm)"]);
    expect(notes[0]!.recovery!.samples).toBe(200);
    for (const l of layers) {
      expect(l.error_after).toBeLessThan(l.error_before);
      expect(l.rows).toBe(200);
    }
    // On held-out inputs too, the recovered model is closer to the original than plain L1 pruning.
    const [ePlain, eRec] = [await outputError(m, plain.model, test), await outputError(m, rec.model, test)];
    expect(eRec).toBeLessThan(ePlain * 0.8);
  });

  it('CNN: Conv → Flatten → Gemm, channels chosen on the Gemm output and the Gemm re-fitted', async () => {
    const calib = randomFeeds('x', [1, 1, 10, 10], 120, 3);
    const m = flatCnn();
    const { ctx, notes } = collect(calib);
    const rec = await runRecipe(m, [{ prune: { mode: 'structured', sparsity: 0.5, channel_multiple: 1, recover: {} } }], ctx);
    expect(weightDims(rec.model, 'conv')).toEqual([8, 1, 3, 3]);
    expect(weightDims(rec.model, 'dense')).toEqual([128, 10]);
    const [l] = notes[0]!.recovery!.layers;
    expect(notes[0]!.recovery!.samples).toBe(120); // fewer samples than the default 1,000: all there are
    expect(l!.error_after).toBeLessThan(l!.error_before);
    expect((await runAll(rec.model, calib.slice(0, 2)))[0]).toHaveLength(10);
  });

  it('is deterministic: two runs give byte-identical models', async () => {
    const calib = mlpFeeds(100, 4);
    const spec = [{ prune: { mode: 'structured', sparsity: 0.5, recover: {} } }];
    const a = await runRecipe(buildMlp(), spec, testContext((n) => calib.slice(0, n)));
    const b = await runRecipe(buildMlp(), spec, testContext((n) => calib.slice(0, n)));
    expect(sameBytes(encodeModel(a.model), encodeModel(b.model))).toBe(true);
  });

  it('layers limits recovery to the named nodes', async () => {
    const calib = mlpFeeds(60, 5);
    const { ctx, notes } = collect(calib);
    await runRecipe(buildMlp(), [{ prune: { mode: 'structured', sparsity: 0.5, recover: { layers: ['fc2'] } } }], ctx);
    expect(notes[0]!.recovery!.layers.map((l) => l.pruned)).toEqual(["'fc2' (MatMul)"]);
  });
});

function model(graph: onnx.IGraphProto): Model {
  return onnx.ModelProto.create({ irVersion: Long.fromNumber(8), opsetImport: [{ domain: '', version: Long.fromNumber(13) }], graph });
}

/** Conv 1→16 (3x3, pad 1) → Relu → Conv 16→8 (3x3) on 12x12 inputs. */
function convConv(): Model {
  const rand = rng(9);
  return model({
    name: 'convconv',
    node: [
      makeNode('Conv', ['x', 'c1.w', 'c1.b'], ['c1'], { name: 'c1', attributes: [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])] }),
      makeNode('Relu', ['c1'], ['r1'], { name: 'r1' }),
      makeNode('Conv', ['r1', 'c2.w', 'c2.b'], ['y'], { name: 'c2', attributes: [intsAttr('kernel_shape', [3, 3])] }),
    ],
    initializer: [
      makeTensor('c1.w', [16, 1, 3, 3], randn(144, 0.5, rand)),
      makeTensor('c1.b', [16], randn(16, 0.1, rand)),
      makeTensor('c2.w', [8, 16, 3, 3], randn(8 * 144, 0.2, rand)),
      makeTensor('c2.b', [8], randn(8, 0.1, rand)),
    ],
    input: [tensorValueInfo('x', FLOAT, ['N', 1, 12, 12])],
    output: [tensorValueInfo('y', FLOAT, ['N', 8, 10, 10])],
  });
}

/** Conv 1→16 (3x3) → Relu → MaxPool 2 → Flatten (256) → Gemm 10 on 10x10 inputs: the seed CNN, smaller. */
function flatCnn(): Model {
  const rand = rng(12);
  return model({
    name: 'flatcnn',
    node: [
      makeNode('Conv', ['x', 'conv.w', 'conv.b'], ['conv'], { name: 'conv', attributes: [intsAttr('kernel_shape', [3, 3])] }),
      makeNode('Relu', ['conv'], ['relu'], { name: 'relu' }),
      makeNode('MaxPool', ['relu'], ['pool'], { name: 'pool', attributes: [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])] }),
      makeNode('Flatten', ['pool'], ['flat'], { name: 'flatten' }),
      makeNode('Gemm', ['flat', 'dense.w', 'dense.b'], ['logits'], { name: 'dense' }),
    ],
    initializer: [
      makeTensor('conv.w', [16, 1, 3, 3], randn(144, 0.5, rand)),
      makeTensor('conv.b', [16], randn(16, 0.05, rand)),
      makeTensor('dense.w', [256, 10], randn(2560, 0.1, rand)),
      makeTensor('dense.b', [10], randn(10, 0.1, rand)),
    ],
    input: [tensorValueInfo('x', FLOAT, ['N', 1, 10, 10])],
    output: [tensorValueInfo('logits', FLOAT, ['N', 10])],
  });
}

describe('recover: Conv → Conv', () => {
  it('re-fits the next Conv on im2col rows at sampled positions', async () => {
    const calib = randomFeeds('x', [1, 1, 12, 12], 150, 10);
    const m = convConv();
    const plain = await runRecipe(m, [{ prune: { mode: 'structured', sparsity: 0.5, channel_multiple: 1 } }], testContext(() => []));
    const { ctx, notes } = collect(calib);
    const rec = await runRecipe(m, [{ prune: { mode: 'structured', sparsity: 0.5, channel_multiple: 1, recover: {} } }], ctx);
    checkModel(rec.model);
    expect(weightDims(rec.model, 'c2')).toEqual([8, 8, 3, 3]);
    const [l] = notes[0]!.recovery!.layers;
    expect(l!.node).toBe("'c2' (Conv)");
    expect(l!.rows).toBe(150 * 16);
    expect(l!.error_after).toBeLessThan(l!.error_before);
    const test = randomFeeds('x', [1, 1, 12, 12], 20, 11);
    expect(await outputError(m, rec.model, test)).toBeLessThan(await outputError(m, plain.model, test));
  });
});

describe('recover: lowrank', () => {
  it('whitened SVD + least squares lowers the output error of each factorized layer', async () => {
    const calib = mlpFeeds(300, 6);
    const test = mlpFeeds(50, 7);
    const m = buildMlp();
    const plain = await runRecipe(m, [{ lowrank: { rank: 16, min_elements: 1000 } }], testContext(() => []));
    const { ctx, notes } = collect(calib);
    const rec = await runRecipe(m, [{ lowrank: { rank: 16, min_elements: 1000, recover: { samples: 300 } } }], ctx);
    checkModel(rec.model);
    const layers = notes[0]!.recovery!.layers;
    expect(layers.map((l) => l.node)).toEqual(["'fc1' (MatMul)", "'fc2' (MatMul)"]);
    for (const l of layers) expect(l.error_after).toBeLessThan(l.error_before);
    const [ePlain, eRec] = [await outputError(m, plain.model, test), await outputError(m, rec.model, test)];
    expect(eRec).toBeLessThan(ePlain);
  });
});

describe('recover: auto.allow', () => {
  it('plans prune and lowrank with recovery only when allowed', async () => {
    const m = buildMlp();
    const a = analyzeModel(m, await inferTensorTypes(m));
    const isa = { avx2: true, avx512_vnni: true };
    const off = planTrials(a, isa);
    expect(off.planned.map((p) => p.family)).not.toContain('prune');
    expect(off.skipped.find((s) => s.family === 'prune')?.why).toMatch(/auto\.allow: \[prune\]/);
    const on = planTrials(a, isa, undefined, ['prune', 'lowrank']);
    expect(on.planned.filter((p) => p.family === 'prune' || p.family === 'lowrank').map((p) => p.why)).toEqual([
      expect.stringMatching(/activation-aware SVD .* re-fitted on calibration samples/),
      expect.stringMatching(/50% of the channels, next layers re-fitted/),
    ]);
  });
});

describe('recover: option errors', () => {
  it('names the option, the pass and the missing node', async () => {
    const ctx = testContext(() => mlpFeeds(4, 8));
    await expect(runRecipe(buildMlp(), [{ prune: { sparsity: 0.5, recover: {} } }], ctx)).rejects.toThrow(/pass 'prune': option 'recover' needs mode: structured/);
    await expect(runRecipe(buildMlp(), [{ prune: { mode: 'structured', sparsity: 0.5, recover: { samples: 0 } } }], ctx)).rejects.toThrow(/passes\[0\] 'prune': option 'recover.samples' must be >= 1/);
    await expect(runRecipe(buildMlp(), [{ lowrank: { rank: 8, recover: { layers: 'some' } } }], ctx)).rejects.toThrow(/passes\[0\] 'lowrank': option 'recover.layers'/);
    await expect(runRecipe(buildMlp(), [{ lowrank: { rank: 8, recover: { layer: 'all' } } }], ctx)).rejects.toThrow(/unknown option 'recover.layer'/);
    await expect(runRecipe(buildMlp(), [{ lowrank: { rank: 8, min_elements: 1000, recover: { layers: ['fc9'] } } }], ctx)).rejects.toThrow(/pass 'lowrank': recover.layers names 'fc9'/);
    await expect(runRecipe(buildMlp(), [{ lowrank: { rank: 8, min_elements: 1000, recover: {} } }], testContext(() => []))).rejects.toThrow(/recover needs calibration samples/);
    const nan = mlpFeeds(2, 9);
    (nan[1]!.x!.data as Float32Array)[300] = Number.NaN;
    await expect(runRecipe(buildMlp(), [{ lowrank: { rank: 8, min_elements: 1000, recover: {} } }], testContext(() => nan))).rejects.toThrow(/pass 'lowrank' recover 'fc1' \(MatMul\): its input or output activations on the calibration samples are not finite/);
  });
});
