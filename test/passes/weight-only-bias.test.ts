/**
 * weight_only's bias correction: each Conv/Gemm whose weight is quantized gets (W − Ŵ)·E[x] added to its
 * bias, E[x] measured on calibration samples. Small models built here, run in onnxruntime.
 */
import { describe, expect, it } from 'vitest';
import { encodeModel, type Model } from '../../src/model/onnx.js';
import { OrtSession } from '../../src/runtime/session.js';
import { makeTensor, tensorToFloat32 } from '../../src/model/tensor.js';
import { floatAttr, initializerMap, intAttr, intsAttr, makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { weightOnlyPass, WEIGHT_ONLY_RUNTIME } from '../../src/passes/weight-only.js';
import type { Feeds, HostTensor } from '../../src/model/host-tensor.js';
import { model, randn, rng, runAll, testContext } from './fixtures.js';

function feeds(name: string, dims: number[], count: number, seed: number, value: (rand: () => number) => number): Feeds[] {
  const rand = rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => ({ [name]: { type: 'float32', dims, data: Float32Array.from({ length: n }, () => value(rand)) } satisfies HostTensor }));
}

/** Mean over samples and positions of (got − ref), per channel of `channels` (NCHW axis 1 or the last axis). */
function meanError(ref: Float32Array[], got: Float32Array[], channels: number, lastAxis: boolean): number[] {
  const sums = new Array<number>(channels).fill(0);
  const per = ref[0]!.length / channels;
  for (let k = 0; k < ref.length; k++) {
    for (let i = 0; i < ref[k]!.length; i++) sums[lastAxis ? i % channels : Math.floor(i / per)]! += got[k]![i]! - ref[k]![i]!;
  }
  return sums.map((s) => s / (per * ref.length));
}

/** Two Gemms (alpha 0.5 and beta 2; transB and beta 3), the first sharing its bias 'b' with an Add. */
function gemms(): Model {
  const rand = rng(4);
  return model({
    name: 'gemms',
    node: [
      makeNode('Gemm', ['x', 'w1', 'b'], ['h'], { name: 'g1', attributes: [floatAttr('alpha', 0.5), floatAttr('beta', 2)] }),
      makeNode('Gemm', ['h', 'w2', 'c2'], ['y'], { name: 'g2', attributes: [intAttr('transB', 1), floatAttr('beta', 3)] }),
      makeNode('Add', ['y', 'b'], ['z'], { name: 'add' }),
    ],
    initializer: [makeTensor('w1', [64, 16], randn(64 * 16, 0.5, rand)), makeTensor('w2', [16, 16], randn(256, 0.5, rand)), makeTensor('b', [16], randn(16, 0.1, rand)), makeTensor('c2', [1, 16], randn(16, 0.1, rand))],
    input: [tensorValueInfo('x', FLOAT, ['N', 64])],
    output: [tensorValueInfo('z', FLOAT, ['N', 16]), tensorValueInfo('h', FLOAT, ['N', 16])],
  });
}

describe('weight_only: bias correction', () => {
  it('removes the mean error of Gemm outputs (alpha, beta, transB, a shared bias)', async () => {
    const m = gemms();
    const data = feeds('x', [1, 64], 32, 3, (r) => 2 + r());
    const ref = await runAll(m, data);
    const refH = await runAllOutput(m, data, 'h');
    const asked: number[] = [];
    const log: string[] = [];
    const plain = await weightOnlyPass.run(m, { min_elements: 100, bias_correction: false }, testContext((n) => (asked.push(n), data.slice(0, n)), log));
    expect(asked).toEqual([]);
    const q = await weightOnlyPass.run(m, { min_elements: 100, samples: 32 }, testContext((n) => (asked.push(n), data.slice(0, n)), log));
    expect(asked).toEqual([32]);
    expect(log.at(-1)).toContain('bias correction on 2 nodes');
    // 'b' is shared with the Add: the first Gemm got its own corrected copy, the Add still reads the original;
    // 'c2' has one reader and is corrected in place.
    const inits = initializerMap(q.graph!);
    const g1 = q.graph!.node!.find((n) => n.name === 'g1')!, g2 = q.graph!.node!.find((n) => n.name === 'g2')!;
    expect(g1.input![2]).not.toBe('b');
    expect(g2.input![2]).toBe('c2');
    expect(tensorToFloat32(inits.get('c2')!)).not.toEqual(tensorToFloat32(initializerMap(m.graph!).get('c2')!));
    expect(Array.from(tensorToFloat32(inits.get('b')!))).toEqual(Array.from(tensorToFloat32(initializerMap(m.graph!).get('b')!)));
    // On the calibration samples themselves the first Gemm's mean error is gone (it is linear in x).
    const before = meanError(refH, await runAllOutput(plain, data, 'h', WEIGHT_ONLY_RUNTIME), 16, true);
    const after = meanError(refH, await runAllOutput(q, data, 'h', WEIGHT_ONLY_RUNTIME), 16, true);
    expect(Math.max(...before.map(Math.abs))).toBeGreaterThan(1e-3);
    for (let c = 0; c < 16; c++) expect(Math.abs(after[c]!)).toBeLessThan(Math.abs(before[c]!) / 20 + 1e-5);
    // And the end output's mean error shrinks too.
    const endBefore = meanError(ref, await runAll(plain, data, WEIGHT_ONLY_RUNTIME), 16, true);
    const endAfter = meanError(ref, await runAll(q, data, WEIGHT_ONLY_RUNTIME), 16, true);
    const rms = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0) / v.length);
    expect(rms(endAfter)).toBeLessThan(rms(endBefore) / 4);
  });

  it('Conv with large cancelling taps on a flat input: the channel shift goes; a Conv without bias is left as it is', async () => {
    const taps = [50, -49.7, 30.3, -30.1, 0.23, 10.17, -10.33, 0.13, -0.7];
    const w = new Float32Array(8 * 4 * 9);
    const rand = rng(8);
    for (let i = 0; i < w.length; i++) w[i] = taps[i % 9]! * (0.5 + rand());
    const m = model({
      name: 'conv',
      node: [makeNode('Conv', ['x', 'w', 'b'], ['y'], { name: 'conv', attributes: [intsAttr('kernel_shape', [3, 3])] })],
      initializer: [makeTensor('w', [8, 4, 3, 3], w), makeTensor('b', [8], new Float32Array(8).fill(0.5))],
      input: [tensorValueInfo('x', FLOAT, ['N', 4, 10, 10])],
      output: [tensorValueInfo('y', FLOAT, ['N', 8, 8, 8])],
    });
    const data = feeds('x', [1, 4, 10, 10], 16, 5, (r) => 3 + 0.05 * r());
    const ref = await runAll(m, data);
    const ctx = { ...testContext((n) => data.slice(0, n)), memo: new Map<string, unknown>() };
    const plain = await weightOnlyPass.run(m, { min_elements: 100, bias_correction: false }, ctx);
    const q = await weightOnlyPass.run(m, { min_elements: 100 }, ctx);
    expect(q.graph!.node!.find((n) => n.opType === 'Conv')!.input![2]).toBe('b');
    const before = meanError(ref, await runAll(plain, data, WEIGHT_ONLY_RUNTIME), 8, false);
    const after = meanError(ref, await runAll(q, data, WEIGHT_ONLY_RUNTIME), 8, false);
    const rms = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0) / v.length);
    expect(rms(before)).toBeGreaterThan(0.05);
    expect(rms(after)).toBeLessThan(rms(before) / 10);
    // A second build on the same context reuses the means (no calibration asked) and is byte-identical.
    let asked = 0;
    const again = await weightOnlyPass.run(m, { min_elements: 100 }, { ...ctx, calibration: async (n) => (asked++, data.slice(0, n)) });
    expect(asked).toBe(0);
    expect(Buffer.from(encodeModel(again)).equals(Buffer.from(encodeModel(q)))).toBe(true);
    // Without a bias there is nothing to correct (adding one would grow the file): no calibration either.
    const noBias = structuredClone(m);
    noBias.graph!.node![0]!.input = ['x', 'w'];
    noBias.graph!.initializer = noBias.graph!.initializer!.filter((t) => t.name !== 'b');
    const log: string[] = [];
    const nq = await weightOnlyPass.run(noBias, { min_elements: 100 }, testContext(() => { throw new Error('calibration asked'); }, log));
    expect(nq.graph!.node!.find((n) => n.opType === 'Conv')!.input).toHaveLength(2);
    expect(log.join('\n')).not.toContain('bias correction');
  });

  it('without calibration samples (or when they cannot run) quantizes the weights uncorrected and says why', async () => {
    const m = gemms();
    const log: string[] = [];
    const failing = { ...testContext(() => [], log), calibration: async () => Promise.reject(new Error('no dataset for this input')) };
    const q = await weightOnlyPass.run(m, { min_elements: 100 }, failing);
    expect(log[0]).toBe('weight_only: no bias correction (no dataset for this input)');
    const plain = await weightOnlyPass.run(m, { min_elements: 100, bias_correction: false }, testContext(() => []));
    expect(Buffer.from(encodeModel(q)).equals(Buffer.from(encodeModel(plain)))).toBe(true);
    await weightOnlyPass.run(m, { min_elements: 100 }, testContext(() => [], log));
    expect(log).toContain('weight_only: no bias correction (no calibration samples)');
  });
});

async function runAllOutput(m: Model, data: Feeds[], name: string, options = {}): Promise<Float32Array[]> {
  const s = await OrtSession.create(encodeModel(m), options);
  try {
    const out: Float32Array[] = [];
    for (const f of data) out.push((await s.run(f, [name]))[name]!.data as Float32Array);
    return out;
  } finally {
    await s.release();
  }
}
