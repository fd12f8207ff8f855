import { describe, expect, it } from 'vitest';
import { symmetricEigen, truncatedSvd } from '../../src/passes/linalg.js';
import { randn, rng } from './fixtures.js';

function matmul(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * m + j]!;
    out[i * m + j] = s;
  }
  return out;
}

describe('symmetricEigen', () => {
  for (const n of [1, 2, 5, 40]) {
    it(`decomposes a random symmetric ${n}x${n} matrix: A V = V Λ, V orthonormal, values descending`, () => {
      const r = randn(n * n, 1, rng(n));
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = r[i * n + j]! + r[j * n + i]!;
      const { values, vectors } = symmetricEigen(a, n);
      const av = matmul(a, vectors, n, n, n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(av[i * n + j]).toBeCloseTo(vectors[i * n + j]! * values[j]!, 9);
      const vtv = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < n; t++) s += vectors[t * n + i]! * vectors[t * n + j]!;
        vtv[i * n + j] = s;
      }
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(vtv[i * n + j]).toBeCloseTo(i === j ? 1 : 0, 9);
      for (let i = 1; i < n; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1]!);
    });
  }

  it('converges on a rank-deficient Gram matrix (a cluster of round-off eigenvalues)', () => {
    const n = 50;
    const b = randn(n * 2, 1, rng(9));
    const g = matmul(b, Array.from({ length: 2 * n }, (_, i) => b[(i % n) * 2 + Math.floor(i / n)]!), n, 2, n);
    const { values } = symmetricEigen(g, n);
    expect(values[1]).toBeGreaterThan(1);
    for (let i = 2; i < n; i++) expect(Math.abs(values[i]!)).toBeLessThan(1e-10 * values[0]!);
  });

  it('handles repeated eigenvalues (identity and diagonal blocks)', () => {
    const n = 6;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) a[i * n + i] = i < 3 ? 2 : 1;
    expect(Array.from(symmetricEigen(a, n).values)).toEqual([2, 2, 2, 1, 1, 1]);
  });
});

describe('truncatedSvd', () => {
  for (const [rows, cols] of [[60, 20], [20, 60]] as const) {
    it(`recovers an exact rank-4 ${rows}x${cols} matrix with energy 0.999, and truncates by explicit rank`, () => {
      const rand = rng(rows);
      const w = Float32Array.from(matmul(randn(rows * 4, 1, rand), randn(4 * cols, 1, rand), rows, 4, cols));
      const f = truncatedSvd(w, rows, cols, { energy: 0.999 });
      expect(f.rank).toBe(4);
      expect(f.energy).toBeGreaterThan(0.999999);
      const back = matmul(f.left, f.right, rows, f.rank, cols);
      const scale = Math.max(...Array.from(w, Math.abs));
      w.forEach((v, i) => expect(Math.abs(back[i]! - v)).toBeLessThan(1e-4 * scale));
      const two = truncatedSvd(w, rows, cols, { rank: 2 });
      expect(two.rank).toBe(2);
      expect(two.energy).toBeLessThan(1);
      expect(two.energy).toBeCloseTo((two.singularValues[0]! ** 2 + two.singularValues[1]! ** 2) / two.singularValues.reduce((s, v) => s + v * v, 0), 9);
    });
  }
});
