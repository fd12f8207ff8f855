/**
 * Static int8 and the bias: a channel whose weights are all (nearly) zero keeps its bias (its weight scale
 * is raised so that the int32 bias fits), and bias correction removes the mean shift that weight rounding
 * puts on a filter whose large taps cancel. Small models built here, run in onnxruntime with full
 * optimization (QLinearConv).
 */
import { describe, expect, it } from 'vitest';
import { type Model } from '../../src/model/onnx.js';
import { makeTensor, tensorData, tensorToFloat32 } from '../../src/model/tensor.js';
import { initializerMap, intAttr, intsAttr, makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { quantizePass } from '../../src/passes/quantize.js';
import { calibrate } from '../../src/passes/calibrate.js';
import { BIAS_INT_LIMIT, biasSafeWeightScales, biasShift, dequantizeWeight, quantizeWeight } from '../../src/passes/quant-common.js';
import type { Feeds, HostTensor } from '../../src/model/host-tensor.js';
import { model, optimizedOpTypes, randn, rng, runAll, testContext } from './fixtures.js';

/** Conv (→ Relu when `relu`, which gives the Conv a quantized output: then ORT runs QLinearConv). */
function conv(w: Float32Array, wDims: number[], b: Float32Array, inDims: Array<number | string>, group = 1, relu = false): Model {
  return model({
    name: 'conv',
    node: [
      makeNode('Conv', ['x', 'w', 'b'], [relu ? 'c' : 'y'], { name: 'conv', attributes: [intsAttr('kernel_shape', wDims.slice(2)), intAttr('group', group)] }),
      ...(relu ? [makeNode('Relu', ['c'], ['y'], { name: 'relu' })] : []),
    ],
    initializer: [makeTensor('w', wDims, w), makeTensor('b', [b.length], b)],
    input: [tensorValueInfo('x', FLOAT, inDims)],
    output: [tensorValueInfo('y', FLOAT, ['N', wDims[0]!, 'H', 'W'])],
  });
}

function feeds(dims: number[], count: number, seed: number, value: (rand: () => number) => number): Feeds[] {
  const rand = rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => ({ x: { type: 'float32', dims, data: Float32Array.from({ length: n }, () => value(rand)) } satisfies HostTensor }));
}

/** Mean of (got − ref) and largest |got − ref| over channel `c` of NCHW outputs with `channels` channels. */
function channelError(ref: Float32Array[], got: Float32Array[], channels: number, c: number): { mean: number; max: number } {
  let sum = 0, n = 0, max = 0;
  for (let k = 0; k < ref.length; k++) {
    const per = ref[k]!.length / channels;
    for (let i = c * per; i < (c + 1) * per; i++) {
      const d = got[k]![i]! - ref[k]![i]!;
      sum += d;
      n++;
      max = Math.max(max, Math.abs(d));
    }
  }
  return { mean: sum / n, max };
}

describe('quantize (static): biases', () => {
  it('keeps the bias of a channel whose weights are all near zero (a dead filter after batch-norm folding)', async () => {
    const rand = rng(3);
    const w = randn(4 * 2 * 9, 0.3, rand);
    w.fill(1e-20, 9 * 2, 9 * 4); // channel 1: weights ~1e-20, as a folded batch norm with gamma ≈ 0 leaves them
    const b = Float32Array.of(0.1, 2.5, -0.2, 0.3);
    const m = conv(w, [4, 2, 3, 3], b, ['N', 2, 8, 8], 1, true);
    const data = feeds([1, 2, 8, 8], 16, 5, (r) => r());
    const ref = await runAll(m, data);
    const log: string[] = [];
    const q = await quantizePass.run(m, { mode: 'static', samples: 16, bias_correction: false }, testContext((n) => data.slice(0, n), log));
    expect(await optimizedOpTypes(q)).toContain('QLinearConv');
    const got = await runAll(q, data);
    // Without the raised scale the int32 bias (2.5 / (input scale × ~1e-22)) saturates and the channel reads ~0.
    expect(channelError(ref, got, 4, 1).max).toBeLessThan(0.05);
    const inits = initializerMap(q.graph!);
    const bq = tensorData(inits.get('b_quantized')!) as Int32Array;
    expect(Math.abs(bq[1]!)).toBeLessThanOrEqual(BIAS_INT_LIMIT);
    // The other channels keep their per-channel scales.
    const scales = tensorToFloat32(inits.get('w_scale')!);
    expect(scales[0]).toBeCloseTo(Math.max(...Array.from(w.subarray(0, 18), Math.abs)) / 127, 6);
    expect(log.join('\n')).toMatch(/1 weight scales raised so that their bias fits int32/);
  });

  it('biasSafeWeightScales: the smallest scale at which each bias fits, one for all per tensor', () => {
    const floors = biasSafeWeightScales(Float32Array.of(0, 3, -6), 0.5, true);
    expect(floors[0]).toBe(0);
    expect(floors[1]! * 0.5 * BIAS_INT_LIMIT).toBeGreaterThanOrEqual(3);
    expect(floors[1]! * 0.5 * BIAS_INT_LIMIT).toBeLessThan(3.0001);
    const one = biasSafeWeightScales(Float32Array.of(0, 3, -6), 0.5, false);
    expect(one).toHaveLength(1);
    expect(one[0]).toBeCloseTo(floors[2]!, 12);
    // quantizeWeight honours the floor only where it is above the channel's own scale.
    const q = quantizeWeight(Float32Array.of(1, -1, 1e-20, 0), [2, 2], 'int8', true, 0, Float32Array.of(0, 1e-3));
    expect(Array.from(q.scales)).toEqual([Math.fround(1 / 127), Math.fround(1e-3 * 1)]);
    expect(q.raised).toBe(1);
    expect(Array.from(q.data)).toEqual([127, -127, 0, 0]);
  });

  it('bias correction removes the mean shift of a filter whose large taps cancel', async () => {
    // A depthwise edge filter as MobileNet's first block has them: taps of ±50 summing to about zero, on a
    // nearly flat input. Rounding each tap to the int8 grid (step 50/127) moves their sum, and with it the
    // whole channel by sum-error × input level.
    const taps = [50, -49.7, 30.3, -30.1, 0.23, 10.17, -10.33, 0.13, -0.7];
    const w = new Float32Array(2 * 9);
    w.set(taps, 0);
    w.set(taps.map((t) => -t * 0.9), 9);
    const m = conv(w, [2, 1, 3, 3], Float32Array.of(0.5, -0.5), ['N', 2, 12, 12], 2);
    const data = feeds([1, 2, 12, 12], 16, 11, (r) => 3 + 0.05 * r());
    const ref = await runAll(m, data);
    const run = async (bias_correction: boolean) => {
      const log: string[] = [];
      const q = await quantizePass.run(m, { mode: 'static', samples: 16, bias_correction }, testContext((n) => data.slice(0, n), log));
      return { got: await runAll(q, data), log: log.join('\n') };
    };
    const plain = await run(false);
    const corrected = await run(true);
    expect(corrected.log).toMatch(/bias correction on 1 node/);
    for (const c of [0, 1]) {
      const before = channelError(ref, plain.got, 2, c).mean;
      const after = channelError(ref, corrected.got, 2, c).mean;
      expect(Math.abs(before)).toBeGreaterThan(0.1);
      expect(Math.abs(after)).toBeLessThan(Math.abs(before) / 4);
    }
  });

  it('biasShift: (W − Ŵ)·E[x] for a grouped Conv and for Gemm in both layouts', () => {
    const rounded = (v: Float32Array, dims: number[], axis: number) => dequantizeWeight(quantizeWeight(v, dims, 'int8', true, axis), dims);
    const rand = rng(9);
    // Conv, 2 groups: 4 outputs, 3 inputs per group, 1x2 kernel; input channels 0..5.
    const cw = randn(4 * 3 * 2, 1, rand);
    const mean = Float64Array.from({ length: 6 }, (_, i) => i + 1);
    const node = makeNode('Conv', ['x', 'w'], ['y'], { attributes: [intAttr('group', 2)] });
    const cr = rounded(cw, [4, 3, 1, 2], 0);
    const got = biasShift(node, cw, [4, 3, 1, 2], cr, mean)!;
    for (let o = 0; o < 4; o++) {
      let want = 0;
      for (let i = 0; i < 3; i++) for (let k = 0; k < 2; k++) want += (cw[(o * 3 + i) * 2 + k]! - cr[(o * 3 + i) * 2 + k]!) * mean[(o < 2 ? 0 : 3) + i]!;
      expect(got[o]).toBeCloseTo(want, 9);
    }
    // Gemm [K=3, N=2] and its transpose [N, K] give the same shift.
    const kn = randn(6, 1, rand);
    const nk = Float32Array.from({ length: 6 }, (_, i) => kn[(i % 3) * 2 + Math.floor(i / 3)]!);
    const gemm = makeNode('Gemm', ['x', 'w'], ['y']);
    const gemmT = makeNode('Gemm', ['x', 'w'], ['y'], { attributes: [intAttr('transB', 1)] });
    const m3 = mean.subarray(0, 3);
    const a = biasShift(gemm, kn, [3, 2], rounded(kn, [3, 2], 1), m3)!;
    const b = biasShift(gemmT, nk, [2, 3], rounded(nk, [2, 3], 0), m3)!;
    expect(Array.from(b).map((v) => v.toFixed(9))).toEqual(Array.from(a).map((v) => v.toFixed(9)));
    expect(Math.abs(a[0]!) + Math.abs(a[1]!)).toBeGreaterThan(0);
    // A Conv input whose channels do not match the weight gives no shift.
    expect(biasShift(node, cw, [4, 3, 1, 2], cr, mean.subarray(0, 5))).toBeNull();
  });

  it('calibrate() gives the mean per channel along the asked axis, in the pass over the ranges', async () => {
    const m = conv(new Float32Array(9).fill(1), [1, 1, 3, 3], Float32Array.of(0), ['N', 1, 4, 4]);
    const data: Feeds[] = [0, 1].map((k) => ({ x: { type: 'float32', dims: [1, 1, 4, 4], data: Float32Array.from({ length: 16 }, (_, i) => i + k) } }));
    const { ranges, means } = await calibrate(m, ['y'], data, { method: 'minmax', means: new Map([['x', 1], ['y', -1]]) });
    expect(ranges.get('y')).toBeDefined();
    expect(Array.from(means.get('x')!)).toEqual([8]); // mean of 0..15 and 1..16
    // y is [1, 1, 2, 2] (valid 3x3 sums); along the last axis: columns 0 and 1.
    const y = await runAll(m, data);
    const col = (c: number) => (y[0]![c]! + y[0]![2 + c]! + y[1]![c]! + y[1]![2 + c]!) / 4;
    expect(Array.from(means.get('y')!)).toEqual([col(0), col(1)]);
  });

  it('dynamic mode refuses bias_correction', async () => {
    const m = conv(new Float32Array(9).fill(1), [1, 1, 3, 3], Float32Array.of(0), ['N', 1, 4, 4]);
    await expect(quantizePass.run(m, { mode: 'dynamic', bias_correction: true }, testContext(() => []))).rejects.toThrow(/option 'bias_correction' applies only to mode: static/);
  });
});
