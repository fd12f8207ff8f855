import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx } from '../../src/model/onnx.js';
import { makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { calibrateRanges, klThresholdBin, percentileBins } from '../../src/passes/calibrate.js';
import { ModelGateError } from '../../src/errors.js';
import { randomFeeds, rng } from './fixtures.js';

/** y = Relu(x * 2 - 1): known ranges for x in [0, 1). */
function affineRelu() {
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'g',
      input: [tensorValueInfo('x', FLOAT, [1, 100])],
      output: [tensorValueInfo('y', FLOAT, [1, 100])],
      initializer: [
        { name: 'two', dataType: FLOAT, dims: [], floatData: [2] },
        { name: 'one', dataType: FLOAT, dims: [], floatData: [1] },
      ],
      node: [makeNode('Mul', ['x', 'two'], ['m']), makeNode('Sub', ['m', 'one'], ['s']), makeNode('Relu', ['s'], ['y'])],
    },
  });
}

describe('calibrateRanges', () => {
  it('minmax: the exact observed range of inputs, intermediates and outputs', async () => {
    const feeds = randomFeeds('x', [1, 100], 20, 3);
    let lo = Infinity, hi = -Infinity;
    for (const f of feeds) for (const v of f.x!.data as Float32Array) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    const r = await calibrateRanges(affineRelu(), ['x', 's', 'y'], feeds, { method: 'minmax' });
    expect(r.get('x')).toEqual({ min: lo, max: hi });
    expect(r.get('s')!.min).toBeCloseTo(2 * lo - 1, 6);
    expect(r.get('s')!.max).toBeCloseTo(2 * hi - 1, 6);
    expect(r.get('y')).toEqual({ min: 0, max: r.get('s')!.max });
  });

  it('percentile and entropy stay inside the observed range', async () => {
    const feeds = randomFeeds('x', [1, 100], 20, 3);
    const mm = await calibrateRanges(affineRelu(), ['s', 'y'], feeds, { method: 'minmax' });
    for (const method of ['percentile', 'entropy'] as const) {
      const r = await calibrateRanges(affineRelu(), ['s', 'y'], feeds, { method, percentile: 99 });
      for (const t of ['s', 'y']) {
        expect(r.get(t)!.min).toBeGreaterThanOrEqual(mm.get(t)!.min);
        expect(r.get(t)!.max).toBeLessThanOrEqual(mm.get(t)!.max);
        // Uniform values have no tail worth clipping: both keep at least 95% of the range.
        expect(r.get(t)!.max - r.get(t)!.min).toBeGreaterThan(0.95 * (mm.get(t)!.max - mm.get(t)!.min));
      }
    }
  });

  it('refuses an empty calibration set', async () => {
    await expect(calibrateRanges(affineRelu(), ['y'], [], { method: 'minmax' })).rejects.toThrow(ModelGateError);
  });
});

describe('percentileBins', () => {
  it('cuts the requested share from each tail', () => {
    const hist = new Array(100).fill(10); // 1000 values, 10 per bin
    expect(percentileBins(hist, 99)).toEqual([1, 98]); // 1% = 10 values: the first and last bins
    expect(percentileBins(hist, 100)).toEqual([0, 99]);
  });
});

describe('klThresholdBin', () => {
  it('clips far outliers of a bell-shaped distribution, and keeps a uniform one whole', () => {
    const rand = rng(5);
    const bins = 2048;
    const bell = new Float64Array(bins);
    // |N(0, 1)| over [0, 40): a few values at 39 stretch the range 10x beyond the bulk.
    for (let i = 0; i < 200000; i++) {
      const v = Math.abs((rand() + rand() + rand() + rand() - 2) * Math.sqrt(3));
      bell[Math.min(bins - 1, Math.floor((v / 40) * bins))]! += 1;
    }
    bell[Math.floor((39 / 40) * bins)]! += 3;
    const t = klThresholdBin(bell, 128);
    expect(t).toBeLessThan(bins / 6); // below ~6.7 sigma
    expect(t).toBeGreaterThan((bins / 40) * 2.5); // above 2.5 sigma
    const uniform = new Float64Array(bins).fill(100);
    expect(klThresholdBin(uniform, 255)).toBeGreaterThan(bins * 0.95);
  });
});
