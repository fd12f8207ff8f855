/**
 * Small dense linear algebra for the lowrank pass, in float64: the symmetric eigendecomposition
 * (Householder reduction to tridiagonal form, then implicit QL iterations with Wilkinson-style shifts),
 * and a truncated SVD built on it through the smaller Gram matrix.
 */

/** Eigenvalues (descending) and eigenvectors (columns of an n×n row-major matrix) of a symmetric matrix. */
export function symmetricEigen(input: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(input);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const v = new Float64Array(n);
  const p = new Float64Array(n);

  // 1. Householder: A ← H A H column by column, Q ← Q H, until A is tridiagonal.
  for (let k = 0; k < n - 2; k++) {
    let norm = 0;
    for (let i = k + 1; i < n; i++) norm += a[i * n + k]! ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const x0 = a[(k + 1) * n + k]!;
    const alpha = x0 > 0 ? -norm : norm;
    let vnorm = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = a[i * n + k]! - (i === k + 1 ? alpha : 0);
      vnorm += v[i]! ** 2;
    }
    vnorm = Math.sqrt(vnorm);
    if (vnorm === 0) continue;
    for (let i = k + 1; i < n; i++) v[i]! /= vnorm;
    // p = A v on the trailing block, c = vᵀp, w = p − c v; A ← A − 2(v wᵀ + w vᵀ).
    let c = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      for (let j = k + 1; j < n; j++) s += a[i * n + j]! * v[j]!;
      p[i] = s;
      c += v[i]! * s;
    }
    for (let i = k + 1; i < n; i++) p[i] = p[i]! - c * v[i]!;
    for (let i = k + 1; i < n; i++) {
      for (let j = k + 1; j < n; j++) a[i * n + j]! -= 2 * (v[i]! * p[j]! + p[i]! * v[j]!);
    }
    a[(k + 1) * n + k] = alpha;
    a[k * n + k + 1] = alpha;
    for (let i = k + 2; i < n; i++) a[i * n + k] = a[k * n + i] = 0;
    // Q ← Q H, kept transposed (row i of q is Q's column i) so every update runs along contiguous memory.
    p.fill(0);
    for (let j = k + 1; j < n; j++) {
      const vj = v[j]!;
      for (let r = 0; r < n; r++) p[r]! += q[j * n + r]! * vj;
    }
    for (let j = k + 1; j < n; j++) {
      const f = 2 * v[j]!;
      for (let r = 0; r < n; r++) q[j * n + r]! -= f * p[r]!;
    }
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n); // e[i] couples i and i + 1; e[n − 1] = 0
  for (let i = 0; i < n; i++) d[i] = a[i * n + i]!;
  for (let i = 0; i < n - 1; i++) e[i] = a[(i + 1) * n + i]!;

  // 2. Implicit QL on the tridiagonal matrix, rotations accumulated into Q's columns. An off-diagonal entry
  //    counts as zero relative to its neighbours or to the whole matrix (rank-deficient Gram matrices have
  //    clusters of round-off-sized eigenvalues that never pass a purely relative test).
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]!) + Math.abs(e[i]!));
  const floor = Number.EPSILON * norm;
  for (let l = 0; l < n; l++) {
    for (let iter = 0; ; iter++) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        if (Math.abs(e[m]!) <= Number.EPSILON * dd || Math.abs(e[m]!) <= floor) break;
      }
      if (m === l) break;
      if (iter >= 60) throw new Error('symmetricEigen: no convergence');
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1, c = 1, shift = 0;
      let i = m - 1;
      let deflated = false;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1]! -= shift;
          e[m] = 0;
          deflated = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - shift;
        r = (d[i]! - g) * s + 2 * c * b;
        shift = s * r;
        d[i + 1] = g + shift;
        g = c * r - b;
        const rowI = i * n, rowJ = (i + 1) * n;
        for (let k = 0; k < n; k++) {
          const t = q[rowJ + k]!;
          q[rowJ + k] = s * q[rowI + k]! + c * t;
          q[rowI + k] = c * q[rowI + k]! - s * t;
        }
      }
      if (deflated) continue;
      d[l]! -= shift;
      e[l] = g;
      e[m] = 0;
    }
  }

  // 3. Sort descending.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y]! - d[x]! || x - y);
  const values = Float64Array.from(order, (i) => d[i]!);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) vectors[r * n + c] = q[order[c]! * n + r]!;
  return { values, vectors };
}

export interface LowRankFactors {
  /** [rows, rank] */
  left: Float32Array;
  /** [rank, cols] */
  right: Float32Array;
  rank: number;
  /** Share of the squared Frobenius norm the kept singular values carry. */
  energy: number;
  /** All singular values, descending. */
  singularValues: Float64Array;
}

/** The singular values of a [rows, cols] matrix, descending (from the Gram matrix of the smaller side). */
function gram(w: Float32Array, rows: number, cols: number): { g: Float64Array; n: number; byColumns: boolean } {
  const byColumns = cols <= rows;
  const n = byColumns ? cols : rows;
  const g = new Float64Array(n * n);
  if (byColumns) {
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      for (let i = 0; i < cols; i++) {
        const wi = w[off + i]!;
        if (wi === 0) continue;
        for (let j = i; j < cols; j++) g[i * n + j]! += wi * w[off + j]!;
      }
    }
  } else {
    for (let i = 0; i < rows; i++) {
      for (let j = i; j < rows; j++) {
        let s = 0;
        for (let k = 0; k < cols; k++) s += w[i * cols + k]! * w[j * cols + k]!;
        g[i * n + j] = s;
      }
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) g[i * n + j] = g[j * n + i]!;
  return { g, n, byColumns };
}

/**
 * Truncated SVD W ≈ L·R with L = U√S [rows, r] and R = √S Vᵀ [r, cols] (the square roots balance the two
 * factors' ranges). `rank` is either a number or chosen as the smallest that keeps `energy` of ‖W‖².
 */
export function truncatedSvd(w: Float32Array, rows: number, cols: number, choose: { rank: number } | { energy: number }): LowRankFactors {
  const { g, n, byColumns } = gram(w, rows, cols);
  const { values, vectors } = symmetricEigen(g, n);
  const singularValues = Float64Array.from(values, (v) => Math.sqrt(Math.max(0, v)));
  const total = singularValues.reduce((s, v) => s + v * v, 0);
  let rank: number;
  if ('rank' in choose) {
    rank = Math.min(choose.rank, n);
  } else {
    rank = n;
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += singularValues[i]! ** 2;
      if (acc >= choose.energy * total) {
        rank = i + 1;
        break;
      }
    }
  }
  // Drop exactly-zero directions: they carry nothing and would divide by zero below.
  while (rank > 1 && singularValues[rank - 1]! <= singularValues[0]! * 1e-12) rank--;
  const kept = singularValues.subarray(0, rank).reduce((s, v) => s + v * v, 0);
  const left = new Float32Array(rows * rank);
  const right = new Float32Array(rank * cols);
  for (let k = 0; k < rank; k++) {
    const sigma = singularValues[k]!;
    const root = Math.sqrt(sigma);
    const inv = sigma > 0 ? 1 / root : 0;
    if (byColumns) {
      // V's column k is an eigenvector of WᵀW; U's column k = W v / σ. L = W v / √σ, R row = √σ vᵀ.
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += w[r * cols + c]! * vectors[c * n + k]!;
        left[r * rank + k] = s * inv;
      }
      for (let c = 0; c < cols; c++) right[k * cols + c] = root * vectors[c * n + k]!;
    } else {
      // U's column k is an eigenvector of W Wᵀ. L = √σ u, R row = uᵀ W / √σ.
      for (let r = 0; r < rows; r++) left[r * rank + k] = root * vectors[r * n + k]!;
      for (let c = 0; c < cols; c++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += vectors[r * n + k]! * w[r * cols + c]!;
        right[k * cols + c] = s * inv;
      }
    }
  }
  return { left, right, rank, energy: total > 0 ? kept / total : 1, singularValues };
}

/**
 * Cholesky factor of a symmetric positive definite n×n matrix (row-major): the lower-triangular L with
 * L·Lᵀ = A, in a new array (upper triangle zero). Throws when A is not positive definite; callers add a
 * ridge to the diagonal first.
 */
export function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) l.set(a.subarray(i * n, i * n + i + 1), i * n);
  // Blocks of columns: the columns left of a block are applied to it in one sweep over the rows, while the
  // block's rows stay in cache; column by column, every row would stream from memory once per column.
  const B = 64;
  for (let J = 0; J < n; J += B) {
    const end = Math.min(n, J + B);
    if (J > 0) {
      for (let i = J; i < n; i++) {
        const ri = i * n;
        const last = Math.min(end, i + 1);
        for (let c = J; c < last; c++) l[ri + c]! -= dot(l, ri, c * n, J);
      }
    }
    for (let j = J; j < end; j++) {
      const rj = j * n;
      const d = l[rj + j]! - dot(l, rj + J, rj + J, j - J);
      if (!(d > 0)) throw new Error(`cholesky: matrix is not positive definite (pivot ${j}: ${d})`);
      const root = Math.sqrt(d);
      l[rj + j] = root;
      for (let i = j + 1; i < n; i++) {
        const ri = i * n;
        l[ri + j] = (l[ri + j]! - dot(l, ri + J, rj + J, j - J)) / root;
      }
    }
  }
  return l;
}

/** Σ_{k<len} v[a+k]·v[b+k], with four partial sums: one running sum waits on every addition's latency. */
function dot(v: Float64Array, a: number, b: number, len: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += v[a + k]! * v[b + k]!;
    s1 += v[a + k + 1]! * v[b + k + 1]!;
    s2 += v[a + k + 2]! * v[b + k + 2]!;
    s3 += v[a + k + 3]! * v[b + k + 3]!;
  }
  for (; k < len; k++) s0 += v[a + k]! * v[b + k]!;
  return s0 + s1 + s2 + s3;
}

/** Solves L·X = B in place (B is n×m row-major), L lower triangular. */
export function solveLower(l: Float64Array, n: number, b: Float64Array, m: number): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n, bi = i * m;
    for (let k = 0; k < i; k++) {
      const f = l[ri + k]!;
      if (f === 0) continue;
      const bk = k * m;
      for (let c = 0; c < m; c++) b[bi + c]! -= f * b[bk + c]!;
    }
    const inv = 1 / l[ri + i]!;
    for (let c = 0; c < m; c++) b[bi + c]! *= inv;
  }
}

/** Solves Lᵀ·X = B in place (B is n×m row-major), L lower triangular. */
export function solveLowerTransposed(l: Float64Array, n: number, b: Float64Array, m: number): void {
  for (let i = n - 1; i >= 0; i--) {
    const bi = i * m;
    for (let k = i + 1; k < n; k++) {
      const f = l[k * n + i]!;
      if (f === 0) continue;
      const bk = k * m;
      for (let c = 0; c < m; c++) b[bi + c]! -= f * b[bk + c]!;
    }
    const inv = 1 / l[i * n + i]!;
    for (let c = 0; c < m; c++) b[bi + c]! *= inv;
  }
}

/** Solves A·X = B for symmetric positive definite A (n×n) and B (n×m), returning X. */
export function solveSpd(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  const l = cholesky(a, n);
  const x = Float64Array.from(b);
  solveLower(l, n, x, m);
  solveLowerTransposed(l, n, x, m);
  return x;
}
