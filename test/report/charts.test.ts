import { describe, expect, it } from 'vitest';
import { latencyChart, latencyPercentiles, sizeAccuracyChart } from '../../src/report/charts.js';

describe('latencyPercentiles', () => {
  it('keeps p5..p99 of the raw samples, interpolated, in ms', () => {
    const raw = Array.from({ length: 101 }, (_, i) => i / 100); // 0.00 .. 1.00 ms
    expect(latencyPercentiles(raw)).toEqual({ p5: 0.05, p10: 0.1, p25: 0.25, p50: 0.5, p75: 0.75, p90: 0.9, p95: 0.95, p99: 0.99 });
    expect(latencyPercentiles([])).toEqual({});
  });
});

describe('latencyChart', () => {
  it('draws the baseline as bars and the candidate as a line, in a readable unit', () => {
    const chart = latencyChart(
      { label: 'reference', latency: { p50_ms: 2, p90_ms: 3, p99_ms: 9, percentiles_ms: { p10: 1.5, p25: 1.8 } } },
      { label: 'int8', latency: { p50_ms: 1, p90_ms: 1.5, p99_ms: 4, percentiles_ms: { p10: 0.8 } } },
    )!;
    // Only percentiles both sides have; the table's p50/p90/p99 win over the extra ones.
    expect(chart).toContain('x-axis ["p10", "p50", "p90", "p99"]');
    expect(chart).toContain('bar [1.500, 2.000, 3.000, 9.000]');
    expect(chart).toContain('line [0.800, 1.000, 1.500, 4.000]');
    expect(chart).toContain('y-axis "ms" 0 --> 10.0');
    expect(latencyChart({ label: 'a', latency: { p50_ms: 0.02, p90_ms: 0.03, p99_ms: 0.1 } }, { label: 'b', latency: { p50_ms: 0.02, p90_ms: 0.03, p99_ms: 0.1 } })).toContain('y-axis "µs"');
    expect(latencyChart({ label: 'a', latency: { p50_ms: 1, p90_ms: null, p99_ms: null } }, { label: 'b', latency: { p50_ms: 1, p90_ms: null, p99_ms: null } })).toBeNull();
  });
});

describe('sizeAccuracyChart', () => {
  const point = (chart: string, name: string) => {
    const m = new RegExp(`^  ${name}: \\[([0-9.]+), ([0-9.]+)\\]$`, 'm').exec(chart);
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  };

  it('centres the reference and puts smaller-and-better top left, larger-and-worse bottom right', () => {
    const chart = sizeAccuracyChart({ label: 'reference', bytes: 200_000, quality: 0.96 }, [
      { label: 'int8', bytes: 50_000, quality: 0.965 },
      { label: 'wide', bytes: 800_000, quality: 0.93 },
    ])!;
    expect(point(chart, 'reference')).toEqual([0.5, 0.5]);
    const [ix, iy] = point(chart, 'int8')!;
    const [wx, wy] = point(chart, 'wide')!;
    expect(ix).toBeLessThan(0.5);
    expect(iy).toBeGreaterThan(0.5);
    expect(wx).toBeGreaterThan(0.5);
    expect(wy).toBeLessThan(0.5);
  });

  it('draws points whose labels would overlap as one, and keeps names unique', () => {
    const chart = sizeAccuracyChart({ label: 'reference', bytes: 200_000, quality: 0.96 }, [
      { label: 'int8-dynamic', bytes: 50_000, quality: 0.961 },
      { label: 'int8-static', bytes: 51_000, quality: 0.961 },
    ])!;
    expect(chart).toMatch(/^ {2}int8-dynamic \+ int8-static: \[/m);
    expect(sizeAccuracyChart({ label: 'r', bytes: 0, quality: 1 }, [{ label: 'a', bytes: 1, quality: 1 }])).toBeNull();
  });
});
