/**
 * What the low-rank pass should have saved, from first principles, against what it did: each factorized
 * weight W [K, N] → L [K, r] · R [r, N] turns K·N parameters (and multiply-adds per input row) into r·(K + N),
 * and 4·(K·N − r·(K + N)) bytes of float32 data leave the file.
 */
import { DataType, dimsOf, encodeModel, type Model } from '../src/model/onnx.js';
import { initializerMap } from '../src/model/graph.js';

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

export function floatParameters(model: Model): number {
  return (model.graph!.initializer ?? []).filter((t) => t.dataType === DataType.FLOAT).reduce((s, t) => s + product(dimsOf(t)), 0);
}

/** Σ K·N over the MatMul/Gemm nodes whose weight is a 2-D initializer: multiply-adds per input row (transB does not change K·N). */
export function denseMacsPerRow(model: Model): number {
  const inits = initializerMap(model.graph!);
  let macs = 0;
  for (const n of model.graph!.node ?? []) {
    if (n.opType !== 'MatMul' && n.opType !== 'Gemm') continue;
    const w = inits.get(n.input?.[1] ?? '');
    if (w && dimsOf(w).length === 2) macs += product(dimsOf(w));
  }
  return macs;
}

export interface LowRankCost {
  factorized: Array<{ weight: string; K: number; N: number; rank: number }>;
  params: { before: number; predicted: number; actual: number };
  macsPerRow: { before: number; predicted: number; actual: number };
  bytes: { before: number; predicted: number; actual: number };
}

/** `before` is the model the pass read, `after` what it wrote; factor pairs are found by their names. */
export function lowRankCost(before: Model, after: Model): LowRankCost {
  const inits = initializerMap(after.graph!);
  const factorized: LowRankCost['factorized'] = [];
  for (const [name, t] of inits) {
    const m = /^(.*)_lowrank_left$/.exec(name);
    const right = m && inits.get(`${m[1]}_lowrank_right`);
    if (!m || !right) continue;
    const [K, rank] = dimsOf(t) as [number, number];
    factorized.push({ weight: m[1]!, K, N: dimsOf(right)[1]!, rank });
  }
  const saved = factorized.reduce((s, f) => s + f.K * f.N - f.rank * (f.K + f.N), 0);
  const p0 = floatParameters(before), m0 = denseMacsPerRow(before), b0 = encodeModel(before).length;
  return {
    factorized,
    params: { before: p0, predicted: p0 - saved, actual: floatParameters(after) },
    macsPerRow: { before: m0, predicted: m0 - saved, actual: denseMacsPerRow(after) },
    bytes: { before: b0, predicted: b0 - 4 * saved, actual: encodeModel(after).length },
  };
}

/** One check line for the bench: ✓ when parameters and MACs match the prediction and bytes are within 1%. */
export function lowRankCheck(before: Model, after: Model): string | undefined {
  const c = lowRankCost(before, after);
  if (c.factorized.length === 0) return undefined;
  const ok = c.params.actual === c.params.predicted && c.macsPerRow.actual === c.macsPerRow.predicted && Math.abs(c.bytes.actual / c.bytes.predicted - 1) < 0.01;
  const f = c.factorized.map((x) => `${x.weight} [${x.K}, ${x.N}] → rank ${x.rank}`).join(', ');
  const n = (v: number) => v.toLocaleString('en-US');
  return `${ok ? '✓' : '✗'} low-rank (${f}): parameters ${n(c.params.before)} → ${n(c.params.actual)} (predicted ${n(c.params.predicted)}), ` +
    `multiply-adds per input row ${n(c.macsPerRow.before)} → ${n(c.macsPerRow.actual)} (predicted ${n(c.macsPerRow.predicted)}), ` +
    `bytes ${n(c.bytes.before)} → ${n(c.bytes.actual)} (predicted ${n(c.bytes.predicted)})`;
}
