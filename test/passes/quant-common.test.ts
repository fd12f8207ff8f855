import { describe, expect, it } from 'vitest';
import {
  activationParams, dequantizeWeight, quantizeBias, quantizeWeight, roundHalfEven,
} from '../../src/passes/quant-common.js';
import { randn, rng } from './fixtures.js';

describe('roundHalfEven', () => {
  it('rounds ties to even like QuantizeLinear', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });
});

describe('activationParams', () => {
  it('uint8: a non-negative range gets zero point 0; a signed range maps 0 exactly', () => {
    expect(activationParams(0, 2.55, 'uint8')).toEqual({ scale: Math.fround(0.01), zeroPoint: 0, type: 'uint8' });
    const p = activationParams(-1, 3, 'uint8');
    expect(p.scale).toBeCloseTo(4 / 255, 7);
    expect(p.zeroPoint).toBe(64);
    expect(activationParams(0.5, 1, 'uint8').zeroPoint).toBe(0); // range widened to include 0
  });

  it('int8: a non-negative range gets zero point -128', () => {
    expect(activationParams(0, 1, 'int8').zeroPoint).toBe(-128);
  });

  it('a constant-zero tensor gets a usable scale', () => {
    expect(activationParams(0, 0, 'uint8')).toEqual({ scale: 1, zeroPoint: 0, type: 'uint8' });
  });
});

describe('quantizeWeight', () => {
  const dims = [8, 3, 3, 3];
  const values = randn(8 * 27, 0.5, rng(1));
  // Channel 3 is ten times larger: per-tensor scales hurt the others, per-channel ones do not.
  for (let i = 3 * 27; i < 4 * 27; i++) values[i]! *= 10;

  it('per channel, symmetric int8: zero points 0, error at most half a step per channel', () => {
    const w = quantizeWeight(values, dims, 'int8', true, 0);
    expect(w.scales.length).toBe(8);
    expect(Array.from(w.zeroPoints)).toEqual(new Array(8).fill(0));
    expect(Math.min(...w.data)).toBeGreaterThanOrEqual(-127);
    const back = dequantizeWeight(w, dims);
    values.forEach((v, i) => expect(Math.abs(back[i]! - v)).toBeLessThanOrEqual(w.scales[Math.floor(i / 27)]! / 2 + 1e-7));
    const perTensor = quantizeWeight(values, dims, 'int8', true, null);
    const err = (q: typeof w) => dequantizeWeight(q, dims).reduce((s, b, i) => s + (b - values[i]!) ** 2, 0);
    expect(err(w)).toBeLessThan(err(perTensor) / 4);
  });

  it('uint8 symmetric is the int8 grid shifted by 128; asymmetric uses the full range', () => {
    const s8 = quantizeWeight(values, dims, 'int8', true, 0);
    const u8 = quantizeWeight(values, dims, 'uint8', true, 0);
    expect(Array.from(u8.data)).toEqual(Array.from(s8.data, (q) => q + 128));
    const asym = quantizeWeight(Float32Array.of(0, 1, 2, 3), [4], 'uint8', false, null);
    expect(Array.from(asym.data)).toEqual([0, 85, 170, 255]);
  });

  it('per column of a [K, N] matrix (axis 1)', () => {
    const m = Float32Array.of(1, 100, -2, 200); // [[1, 100], [-2, 200]]
    const w = quantizeWeight(m, [2, 2], 'int8', true, 1);
    expect(Array.from(w.scales)).toEqual([Math.fround(2 / 127), Math.fround(200 / 127)]);
    expect(Array.from(w.data)).toEqual([64, 64, -127, 127]);
  });
});

describe('quantizeBias', () => {
  it('int32 on input_scale × weight_scale per channel', () => {
    const b = quantizeBias(Float32Array.of(1, -1), 0.5, Float32Array.of(0.01, 0.1));
    expect(Array.from(b.scales)).toEqual([Math.fround(0.005), Math.fround(0.05)]);
    expect(Array.from(b.data)).toEqual([200, -20]);
  });
});
