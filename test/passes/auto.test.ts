import { describe, expect, it } from 'vitest';
import { buildTinyDecoder } from '../support/tiny-decoder.js';
import {
  AUTO_FAMILIES, CI_SLACK, COST_TIE, SIZE_TIE, analyzeModel, int8Noise, paretoFront, planTrials, qualifies, runAuto, selectWinner,
  type AutoEnv, type AutoLatency, type AutoQuality, type Contender, type ModelAnalysis, type QuantizableNode,
} from '../../src/search/auto.js';
import { searchAuto } from '../../src/search/env.js';
import { exportTflite } from '../../src/export/tflite/export.js';
import { firstSamples } from '../../src/evaluate/evaluate-all.js';
import { inferTensorTypes } from '../../src/passes/infer-types.js';
import { parseConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import type { PassSpec } from '../../src/config/types.js';
import type { Dataset } from '../../src/data/dataset.js';
import { buildCnn, buildMlp, model, randn, rng } from './fixtures.js';
import { makeTensor } from '../../src/model/tensor.js';
import { makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { saveModel } from '../../src/model/onnx.js';
import { runGate } from '../../src/commands/run.js';

// ---------------------------------------------------------------- a fake environment

const X86_VNNI = { avx: true, avx2: true, avx512_vnni: true, fp16: false, avx512_fp16: false, dotprod: false, neon: false };

interface Behaviour {
  bytes: number;
  drop: number;
  /** p50 ratio; a list gives successive measurements (search, then confirm). */
  ratio: number | number[];
  /** Half-width of the CI around the ratio; 0.01 by default. */
  spread?: number;
}

interface QuantizeStep {
  mode?: string;
  op_types?: string[];
  nodes_exclude?: string[];
  per_channel?: boolean;
}

/** What a recipe does, in terms the fakes can read. */
function describe_(recipe: PassSpec[]): { family: string; q: QuantizeStep; weightOnly: boolean } {
  const names = recipe.map((s) => Object.keys(s)[0]!);
  const q = (recipe.find((s) => 'quantize' in s)?.quantize ?? {}) as QuantizeStep;
  const weightOnly = names.includes('weight_only');
  let family = names.filter((n) => n !== 'cleanup').join('+') || 'cleanup';
  if (q.mode) family = `${q.mode}${weightOnly ? '+weight_only' : ''}`;
  return { family, q, weightOnly };
}

interface FakeLog {
  built: string[];
  evaluated: Array<{ id: string; samples?: number }>;
  measured: string[][];
}

/**
 * A fake AutoEnv: `behave` maps a recipe to its size, accuracy drop and latency ratio. The clock moves
 * 500 ms per build or evaluation and the measurement budget per measurement.
 */
function fakeEnv(behave: (recipe: PassSpec[], samples?: number) => Behaviour, isa: AutoEnv['isa'] = X86_VNNI): { env: AutoEnv; log: FakeLog } {
  let clock = 0;
  const log: FakeLog = { built: [], evaluated: [], measured: [] };
  const recipes = new Map<string, PassSpec[]>();
  const measuredCount = new Map<string, number>();
  const env: AutoEnv = {
    async build(id, recipe) {
      clock += 500;
      log.built.push(id);
      recipes.set(id, recipe);
      const b = behave(recipe);
      return { id, bytes: b.bytes, runtime: describe_(recipe).weightOnly ? { configEntries: { 'session.disable_quant_qdq': '1' } } : {}, digest: JSON.stringify(recipe) };
    },
    async evaluate(artifact, samples) {
      clock += 500;
      log.evaluated.push({ id: artifact.id, samples });
      const b = behave(recipes.get(artifact.id)!, samples);
      return { accuracy: 0.9 - b.drop, agreement: 1 - b.drop, mse: null } satisfies AutoQuality;
    },
    async measure(artifacts, budget) {
      clock += budget;
      log.measured.push(artifacts.map((a) => a.id));
      return artifacts.map((a) => {
        const b = behave(recipes.get(a.id)!);
        const n = measuredCount.get(a.id) ?? 0;
        measuredCount.set(a.id, n + 1);
        const ratio = Array.isArray(b.ratio) ? b.ratio[Math.min(n, b.ratio.length - 1)]! : b.ratio;
        const spread = b.spread ?? 0.01;
        return { ratio, ci95: [ratio - spread, ratio + spread], p50_ms: ratio, reference_p50_ms: 1 } satisfies AutoLatency;
      });
    },
    reference: { bytes: 1000, digest: 'reference', quality: { accuracy: 0.9, agreement: null, mse: null } },
    metric: 'top1',
    isa,
    now: () => clock,
    log: () => {},
  };
  return { env, log };
}

function node(key: string, opType: QuantizableNode['opType'], weightElements: number, reduction: number): QuantizableNode {
  return { key, opType, weightElements, reduction, macs: null };
}

function analysis(nodes: QuantizableNode[], extra: Partial<ModelAnalysis> = {}): ModelAnalysis {
  const large: Record<string, number> = {};
  for (const n of nodes) if (n.weightElements >= 1024) large[n.opType] = (large[n.opType] ?? 0) + n.weightElements;
  return {
    opCounts: {}, nodes, largeWeights: large, recurrent: false, attention: false, cleanupChanged: false,
    mix: { conv: 0.5, matmul: 0.5, recurrent: 0, attention: 0 }, ...extra,
  };
}

const options = (o: Partial<{ accuracy_drop_max: number; time_budget_s: number; latency_ratio_max: number; recipes: typeof AUTO_FAMILIES[number][] }> = {}) => ({
  accuracy_drop_max: 0.005, time_budget_s: 120, latency_ratio_max: 1, ...o,
});

const lat = (ratio: number, spread = 0.01): AutoLatency => ({ ratio, ci95: [ratio - spread, ratio + spread], p50_ms: ratio, reference_p50_ms: 1 });
const rules = { accuracyDropMax: 0.005, latencyRatioMax: 1 };

// ---------------------------------------------------------------- selection

describe('auto selection', () => {
  it('never selects a smaller candidate that is slower than fp32', () => {
    const small: Contender = { id: 'small-slow', bytes: 100, drop: 0, latency: [lat(1.03)] };
    const big: Contender = { id: 'big-fast', bytes: 400, drop: 0, latency: [lat(0.9)] };
    expect(selectWinner([small, big], rules)?.id).toBe('big-fast');
    // Even 1% slower is slower once the CI separates it from fp32.
    expect(selectWinner([{ ...small, latency: [lat(1.01, 0.005)] }, big], rules)?.id).toBe('big-fast');
  });

  it('accepts a ratio its CI cannot separate from fp32 speed (not significantly slower), as the gate reads latency', () => {
    const at = (ratio: number, lo: number, hi: number): Contender => ({ id: 'x', bytes: 100, drop: 0, latency: [{ ratio, ci95: [lo, hi], p50_ms: 1, reference_p50_ms: 1 }] });
    // cleanup measured at 1.024 (CI 0.95-1.09) on blazeface: the same speed as fp32 within the noise.
    expect(qualifies(at(1.024, 0.95, 1.09), rules)).toBe(true);
    expect(qualifies(at(1.0, 0.999, 1.001), rules)).toBe(true);
    // The CI lies above 1.00: slower, however close.
    expect(qualifies(at(1.012, 1.004, 1.02), rules)).toBe(false);
    // A wide CI that reaches 1.00 does not carry a point estimate above the gate's default budget.
    expect(qualifies(at(1 + CI_SLACK + 0.01, 0.98, 1.2), rules)).toBe(false);
    expect(qualifies(at(1 + CI_SLACK - 0.01, 0.98, 1.2), rules)).toBe(true);
  });

  it('needs every measurement to pass (a failed confirmation disqualifies)', () => {
    expect(qualifies({ id: 'a', bytes: 1, drop: 0, latency: [lat(0.95), lat(1.02)] }, rules)).toBe(false);
    expect(qualifies({ id: 'a', bytes: 1, drop: 0, latency: [lat(0.95), lat(0.97)] }, rules)).toBe(true);
    expect(qualifies({ id: 'a', bytes: 1, drop: 0, latency: [] }, rules)).toBe(false);
  });

  it('prefer: size picks the smallest, and the fastest among sizes within the tie band', () => {
    const size = { ...rules, prefer: 'size' as const };
    const a: Contender = { id: 'weight_only', bytes: 1000, drop: 0, latency: [lat(0.99)] };
    const b: Contender = { id: 'dynamic', bytes: Math.floor(1000 * (1 + SIZE_TIE)), drop: 0.001, latency: [lat(0.5)] };
    const c: Contender = { id: 'fp16', bytes: 2000, drop: 0, latency: [lat(0.4)] };
    expect(selectWinner([a, b, c], size)?.id).toBe('dynamic');
    expect(selectWinner([a, { ...b, bytes: 1000 * (1 + SIZE_TIE) + 2 }, c], size)?.id).toBe('weight_only');
  });

  it('by default (balanced) picks the lowest size × time, and the smaller file among scores within the tie', () => {
    // openWakeWord's embedding model: weight_only 0.27x at fp32 speed against static 0.30x at 0.50x.
    const wo: Contender = { id: 'weight_only', bytes: 272, drop: 0, latency: [lat(0.997)] };
    const st: Contender = { id: 'static', bytes: 303, drop: 0, latency: [lat(0.5)] };
    expect(selectWinner([wo, st], rules)?.id).toBe('static');
    expect(selectWinner([wo, st], { ...rules, prefer: 'balanced' })?.id).toBe('static');
    // The old rule is one key away.
    expect(selectWinner([wo, st], { ...rules, prefer: 'size' })?.id).toBe('weight_only');
    // A large fast model does not beat a small one at fp32 speed: 0.9 x 0.5 = 0.45 against 0.27.
    expect(selectWinner([wo, { ...st, bytes: 900 }], rules)?.id).toBe('weight_only');
    // Within COST_TIE the smaller file wins, whatever the (noisy) ratio says.
    const d1: Contender = { id: 'dynamic', bytes: 252, drop: 0, latency: [lat(0.543)] };
    const s1: Contender = { id: 'static', bytes: 254, drop: 0, latency: [lat(0.530)] };
    expect((254 * 0.53) / (252 * 0.543)).toBeLessThan(1);
    expect(selectWinner([s1, d1], rules)?.id).toBe('dynamic');
    expect(selectWinner([s1, { ...d1, latency: [lat(0.543 * (1 + COST_TIE) * 1.01)] }], rules)?.id).toBe('static');
    // Only qualifiers are ranked: the cheapest model over the accuracy budget does not win.
    expect(selectWinner([wo, { ...st, drop: 0.1 }], rules)?.id).toBe('weight_only');
  });

  it('prefer: speed picks the fastest, and the smaller file among ratios within the tie', () => {
    const speed = { ...rules, prefer: 'speed' as const };
    const a: Contender = { id: 'weight_only', bytes: 250, drop: 0, latency: [lat(0.99)] };
    const b: Contender = { id: 'static', bytes: 300, drop: 0, latency: [lat(0.52)] };
    const c: Contender = { id: 'static-no-Gemm', bytes: 600, drop: 0, latency: [lat(0.5)] };
    expect(selectWinner([a, b, c], speed)?.id).toBe('static');
    expect(selectWinner([a, { ...b, latency: [lat(0.6)] }, c], speed)?.id).toBe('static-no-Gemm');
  });

  it('rejects candidates over the accuracy budget, or whose accuracy is unknown', () => {
    const over: Contender = { id: 'over', bytes: 100, drop: 0.0051, latency: [lat(0.5)] };
    const unknown: Contender = { id: 'unknown', bytes: 100, drop: null, latency: [lat(0.5)] };
    expect(selectWinner([over, unknown], rules)).toBeNull();
    expect(selectWinner([{ ...over, drop: 0.005 }], rules)?.id).toBe('over');
  });

  it('keeps the Pareto front over size, latency and accuracy', () => {
    const front = paretoFront([
      { id: 'reference', bytes: 1000, latency_ratio: 1, drop: 0, within_accuracy_budget: true },
      { id: 'a', bytes: 250, latency_ratio: 0.9, drop: 0.001, within_accuracy_budget: true },
      { id: 'b', bytes: 260, latency_ratio: 0.95, drop: 0.002, within_accuracy_budget: true }, // worse than a on all three
      { id: 'c', bytes: 240, latency_ratio: 1.5, drop: 0, within_accuracy_budget: true },
    ]);
    expect(front.map((p) => p.id)).toEqual(['c', 'a', 'reference']);
  });
});

// ---------------------------------------------------------------- planning

describe('auto: weight_only repair', () => {
  // Rounding cost of each weight (noise adds up across weights), and its elements (float32 costs 3 more bytes each).
  const weights = [
    { name: 'dw.w', key: 'dw', opType: 'Conv', elements: 10, noise: 1e-4, cost: 0.02 },
    { name: 'pw.w', key: 'pw', opType: 'Conv', elements: 20, noise: 1e-4, cost: 0.004 },
    { name: 'big.w', key: 'big', opType: 'Conv', elements: 60, noise: 1e-4, cost: 0.001 },
    // The costliest to keep: in float it would take the file past half the reference's size.
    { name: 'huge.w', key: 'huge', opType: 'Conv', elements: 200, noise: 1e-3, cost: 0.002 },
  ];
  /** `blockedCost`: what each weight costs with a scale per block (default: as per channel). */
  const behave = (recipe: PassSpec[], blockedCost: Record<string, number> = {}): Behaviour => {
    const step = recipe.find((x) => 'weight_only' in x);
    if (!step) throw new Error(`unexpected ${JSON.stringify(recipe)}`);
    const o = (step.weight_only ?? {}) as { nodes_exclude?: string[]; block_size?: number };
    const excl = new Set(o.nodes_exclude ?? []);
    const kept = weights.filter((w) => excl.has(w.key));
    return {
      bytes: (o.block_size ? 330 : 250) + 3 * kept.reduce((n, w) => n + w.elements, 0),
      drop: weights.filter((w) => !excl.has(w.key)).reduce((d, w) => d + (o.block_size ? blockedCost[w.key] ?? w.cost : w.cost), 0),
      ratio: 1,
    };
  };
  const a = analysis([], { largeWeights: { Conv: 290 }, weights: weights.map(({ cost: _, ...w }) => w) });

  it('leaves the fewest weights in float that reach the budget, ranked by what each costs, within the size cap', async () => {
    const { env, log } = fakeEnv((recipe) => behave(recipe));
    const r = await runAuto({ analysis: a, cleanup: true, env, options: options({ recipes: ['weight_only'] }) });
    expect(r.winner).toBe('weight_only-excl2');
    expect(r.recipe).toEqual([{ cleanup: {} }, { weight_only: { nodes_exclude: ['dw', 'pw'] } }]);
    expect(r.runtime).toEqual({ configEntries: { 'session.disable_quant_qdq': '1' } });
    // Ranked on a subset; 'huge' is never tried (it would not fit under half the reference's size).
    const ranking = r.report.sensitivity.find((x) => x.trial === 'weight_only')!;
    expect(ranking.nodes.map((n) => n.node)).toEqual(['dw', 'pw', 'big']);
    expect(log.built.some((id) => id.includes('huge'))).toBe(false);
    expect(log.evaluated.filter((e) => e.id.includes('-without-')).every((e) => e.samples !== undefined)).toBe(true);
    // The prediction (noise adds up) goes straight to two weights: no trial with one.
    expect(r.report.tried.map((t) => t.id)).toEqual(['weight_only', 'weight_only-blocked', 'weight_only-excl2']);
    expect(r.report.tried[2]!.size_ratio).toBeCloseTo(0.34, 5);
  });

  it('adds one weight at a time when the prediction falls short, and gives up at the size cap', async () => {
    // The subset underestimates: every ranked gain looks twice as large as it is on the full dataset.
    const { env } = fakeEnv((recipe, samples) => {
      const b = behave(recipe);
      return samples === undefined ? b : { ...b, drop: b.drop / 2 };
    });
    const r = await runAuto({ analysis: a, cleanup: true, env, options: options({ recipes: ['weight_only'] }) });
    expect(r.report.tried.map((t) => t.id)).toEqual(['weight_only', 'weight_only-blocked', 'weight_only-excl1', 'weight_only-excl2']);
    expect(r.winner).toBe('weight_only-excl2');
    // A budget only 'big' in float too could meet: dw+pw+big would pass half the reference's size, so no such trial.
    const { env: env2 } = fakeEnv((recipe, samples) => {
      const b = behave(recipe);
      return samples === undefined ? b : { ...b, drop: b.drop / 2 };
    });
    const tight = await runAuto({ analysis: a, cleanup: true, env: env2, options: options({ recipes: ['weight_only'], accuracy_drop_max: 0.0012 }) });
    expect(tight.report.tried.map((t) => t.id)).toEqual(['weight_only', 'weight_only-blocked', 'weight_only-excl2']);
    expect(tight.winner).toBe('reference');
    for (const t of [...r.report.tried, ...tight.report.tried]) expect(t.size_ratio!).toBeLessThanOrEqual(0.5);
  });

  it('tries a scale per block first, and repairs from it when it comes closest', async () => {
    // Blocks fix the weights whose channels an outlier spoils (pw, big, huge), not the depthwise one.
    const { env } = fakeEnv((recipe) => behave(recipe, { pw: 0, big: 0, huge: 0.0005 }));
    const r = await runAuto({ analysis: a, cleanup: true, env, options: options({ recipes: ['weight_only'] }) });
    expect(r.report.tried.map((t) => [t.id, t.stage, t.from ?? ''])).toEqual([
      ['weight_only', 'base', ''],
      ['weight_only-blocked', 'blocked', 'weight_only'],
      ['weight_only-blocked-excl1', 'node', 'weight_only-blocked'],
    ]);
    expect(r.winner).toBe('weight_only-blocked-excl1');
    expect(r.recipe).toEqual([{ cleanup: {} }, { weight_only: { block_size: 16, nodes_exclude: ['dw'] } }]);
  });

  it('leaves a whole op type in float only after finer scales and float weights failed', async () => {
    const two = analysis([], { largeWeights: { Conv: 290, Gather: 5000 }, weights: weights.map(({ cost: _, ...w }) => w) });
    const run = async (extraCost: number) => {
      const { env } = fakeEnv((recipe) => {
        const b = behave(recipe);
        const o = (recipe.find((x) => 'weight_only' in x)!.weight_only ?? {}) as { op_types?: string[] };
        return o.op_types && !o.op_types.includes('Conv') ? { bytes: 900, drop: 0, ratio: 0.9, spread: 0.05 } : { ...b, drop: b.drop + extraCost };
      });
      return runAuto({ analysis: two, cleanup: true, env, options: options({ recipes: ['weight_only'] }) });
    };
    const repaired = await run(0);
    expect(repaired.winner).toBe('weight_only-excl2');
    expect(repaired.report.tried.some((t) => t.stage === 'op type')).toBe(false);
    // A cost no float weight within the size cap removes: the op-type fallback comes after the repair's trials.
    const fallback = await run(0.01);
    const stages = fallback.report.tried.map((t) => t.stage);
    expect(stages.indexOf('op type')).toBeGreaterThan(stages.indexOf('node'));
    expect(fallback.report.tried.filter((t) => t.stage === 'op type').map((t) => t.id)).toEqual(['weight_only-no-Conv', 'weight_only-no-Gather']);
  });

  it('int8Noise: a weight whose channels each have one outlier rounds worse than an even one', () => {
    const rand = rng(4);
    const even = Float32Array.from({ length: 64 * 32 }, () => rand() - 0.5);
    const outliers = Float32Array.from(even, (v, i) => (i % 32 === 0 ? 40 : v));
    const e = int8Noise(even, [64, 32], 0), o = int8Noise(outliers, [64, 32], 0);
    expect(e).toBeGreaterThan(0);
    expect(e).toBeLessThan(1e-4);
    // Each row's scale follows its outlier: the other 31 values round on a 40x coarser grid.
    expect(o).toBeGreaterThan(10 * e);
  });
});

describe('auto planning', () => {
  const conv = analysis([node('conv1', 'Conv', 288, 9), node('conv2', 'Conv', 18432, 288), node('fc', 'Gemm', 5000, 500)], { mix: { conv: 0.9, matmul: 0.1, recurrent: 0, attention: 0 } });
  const mlp = analysis([node('fc1', 'MatMul', 100000, 784), node('fc2', 'MatMul', 8000, 128)], { mix: { conv: 0, matmul: 1, recurrent: 0, attention: 0 } });

  it('puts static QDQ first for a Conv-heavy model on a CPU with VNNI, dynamic first for an MLP', () => {
    expect(planTrials(conv, X86_VNNI).planned.map((p) => p.family)).toEqual(['static', 'dynamic', 'dynamic_weight_only', 'weight_only']);
    expect(planTrials(mlp, X86_VNNI).planned[0]!.family).toBe('dynamic');
  });

  it('puts weight_only first where int8 arithmetic is not fast', () => {
    expect(planTrials(mlp, { avx: true, avx2: false, neon: false }).planned[0]!.family).toBe('weight_only');
  });

  it('skips ConvInteger and fp16 on x86 without native fp16, with a reason; tries fp16 where it is native', () => {
    const plan = planTrials(conv, X86_VNNI);
    expect(plan.skipped.find((s) => s.family === 'dynamic_conv')?.why).toMatch(/ConvInteger ran 3\.6-12\.6x slower/);
    expect(plan.skipped.find((s) => s.family === 'fp16')?.why).toMatch(/no native fp16/);
    const arm = planTrials(conv, { neon: true, dotprod: true, fp16: true, avx: false });
    expect(arm.planned.map((p) => p.family)).toEqual(expect.arrayContaining(['fp16', 'dynamic_conv']));
  });

  it('plans the tflite_* families only when the reference is a .tflite, and says why otherwise', () => {
    const tflite = (f: string) => f.startsWith('tflite_');
    expect(planTrials(conv, X86_VNNI).planned.some((p) => tflite(p.family))).toBe(false);
    expect(planTrials(conv, X86_VNNI, ['tflite_fp16']).skipped[0]!.why).toMatch(/reference is not a \.tflite/);
    const plan = planTrials({ ...conv, tfliteReference: true }, X86_VNNI);
    expect(plan.planned.filter((p) => tflite(p.family)).map((p) => p.family)).toEqual(['tflite_weight_only', 'tflite_dynamic_int8', 'tflite_fp16', 'tflite_int8']);
    // Weight-only needs a weight worth quantizing; float16 fits any model.
    const tiny = planTrials({ ...analysis([node('conv1', 'Conv', 288, 9)], { mix: { conv: 1, matmul: 0, recurrent: 0, attention: 0 } }), tfliteReference: true }, X86_VNNI, ['tflite_weight_only', 'tflite_fp16']);
    expect(tiny.planned.map((p) => p.family)).toEqual(['tflite_fp16']);
    expect(tiny.skipped).toEqual([{ family: 'tflite_weight_only', why: 'no Conv/MatMul/Gemm with a constant weight of 1,024 elements or more' }]);
    // The ONNX families stay in the plan: they may still win.
    expect(plan.planned.map((p) => p.family)).toContain('static');
  });

  it('tries only the requested families, and says why a requested one does not fit', () => {
    const plan = planTrials(mlp, X86_VNNI, ['weight_only', 'dynamic_conv']);
    expect(plan.planned.map((p) => p.family)).toEqual(['weight_only']);
    expect(plan.skipped).toEqual([{ family: 'dynamic_conv', why: 'no Conv' }]);
  });

  it('plans int4/int8 MatMulNBits for MatMul- or attention-heavy graphs, below dynamic int8; not for a CNN', () => {
    const plan = planTrials(mlp, X86_VNNI);
    const families = plan.planned.map((p) => p.family);
    expect(families).toContain('int4_weight_only');
    expect(families.indexOf('dynamic')).toBeLessThan(families.indexOf('int4_weight_only'));
    // 8-bit blocks have no fast x86 kernel: only when asked for, or on Arm.
    expect(plan.skipped.find((s) => s.family === 'int8_weight_only')?.why).toMatch(/int8 MatMulNBits ran 1\.4-9x slower than fp32 on x86/);
    const arm = planTrials(mlp, { neon: true, dotprod: true, avx: false }).planned.map((p) => p.family);
    expect(arm.indexOf('int4_weight_only')).toBeLessThan(arm.indexOf('int8_weight_only'));
    expect(planTrials(conv, X86_VNNI).skipped.find((s) => s.family === 'int4_weight_only')?.why).toBe('no MatMul with a constant weight of 4096 elements or more');
    const light = analysis([node('fc', 'MatMul', 8192, 128), node('conv', 'Conv', 18432, 288)], { mix: { conv: 0.8, matmul: 0.2, recurrent: 0, attention: 0 } });
    expect(planTrials(light, X86_VNNI).skipped.find((s) => s.family === 'int4_weight_only')?.why).toMatch(/MatMul\/attention is 20% of the multiply-adds; list it in auto.recipes/);
    expect(planTrials(light, X86_VNNI, ['int8_weight_only']).planned.map((p) => p.family)).toEqual(['int8_weight_only']);
    expect(planTrials({ ...light, attention: true }, X86_VNNI).planned.map((p) => p.family)).toContain('int4_weight_only');
  });

  it('a float16 decoder: plans fp32 and int4 MatMulNBits (both after fp32), not fp16', async () => {
    const d = buildTinyDecoder({ dtype: 'float16', hidden: 64, ffn: 256, vocab: 512 });
    const a = analyzeModel(d.model);
    expect(a.float16).toBe(true);
    expect(a.attention).toBe(true);
    expect(a.nodes.filter((n) => n.opType === 'MatMul')).toHaveLength(2 * 7 + 1);
    const plan = planTrials(a, X86_VNNI);
    expect(plan.planned.map((p) => p.family)).toEqual(expect.arrayContaining(['fp32', 'int4_weight_only']));
    expect(plan.skipped.find((s) => s.family === 'fp16')?.why).toBe('the model is float16 already');
    const seen: PassSpec[][] = [];
    const { env } = fakeEnv((recipe) => {
      seen.push(recipe);
      return { bytes: recipe.some((st) => 'matmul_nbits' in st) ? 200 : 2000, drop: 0, ratio: 0.5 };
    });
    const r = await runAuto({ analysis: a, cleanup: true, env, options: options({ recipes: ['fp32', 'int4_weight_only'] }) });
    expect(seen).toContainEqual([{ cleanup: {} }, { fp32: {} }]);
    expect(seen).toContainEqual([{ cleanup: {} }, { fp32: {} }, { matmul_nbits: { bits: 4, block_size: 32, accuracy_level: 4 } }]);
    expect(r.winner).toBe('int4_weight_only');
    expect(r.recipe).toEqual(seen.find((x) => x.some((st) => 'matmul_nbits' in st)));
    expect(planTrials(analyzeModel(buildTinyDecoder({ dtype: 'float32' }).model), X86_VNNI, ['fp32']).skipped).toEqual([{ family: 'fp32', why: 'no float16 weights' }]);
  });

  it('analyzes the op mix of a real graph, with shapes from ORT', async () => {
    const model = buildCnn();
    const a = analyzeModel(model, await inferTensorTypes(model));
    expect(a.nodes.map((n) => [n.key, n.opType, n.reduction])).toEqual([['conv', 'Conv', 9], ['dense', 'Gemm', 5408]]);
    // Conv: 26·26·32 outputs × 9; Gemm: 10 outputs × 5408.
    expect(a.nodes[0]!.macs).toBe(26 * 26 * 32 * 9);
    expect(a.mix.conv).toBeCloseTo((26 * 26 * 32 * 9) / (26 * 26 * 32 * 9 + 54080), 6);
    expect(a.largeWeights).toEqual({ Gemm: 54080 });
  });
});

// ---------------------------------------------------------------- the search, with fake measurements

describe('auto search (fake measurements)', () => {
  it('selects dynamic int8 over a smaller weight_only that runs slower, and explains it', async () => {
    const { env } = fakeEnv((recipe) => {
      const d = describe_(recipe);
      if (d.family === 'dynamic') return { bytes: 260, drop: 0.001, ratio: 0.6 };
      if (d.family === 'weight_only') return { bytes: 255, drop: 0, ratio: 1.02 };
      if (d.family === 'static') return { bytes: 270, drop: 0.002, ratio: 0.7 };
      throw new Error(`unexpected ${d.family}`);
    });
    const mlp = analysis([node('fc1', 'MatMul', 100000, 784), node('fc2', 'MatMul', 8000, 128)], { mix: { conv: 0, matmul: 1, recurrent: 0, attention: 0 } });
    const r = await runAuto({ analysis: mlp, cleanup: true, env, options: options() });
    expect(r.winner).toBe('dynamic');
    expect(r.recipe).toEqual([{ cleanup: {} }, { quantize: { mode: 'dynamic', op_types: ['MatMul'] } }]);
    expect(r.report.tried.find((t) => t.id === 'weight_only')?.outcome).toBe('slower than fp32: 95% CI from 1.010x');
    expect(r.report.tried.find((t) => t.id === 'dynamic')?.confirm_ratio).toBe(0.6);
    expect(r.report.reason).toMatch(/^dynamic is 0\.26x the reference's size/);
    expect(r.report.reason).toContain('Smaller but rejected: weight_only');
    // The reference stays on the front: nothing else is as accurate and at most as slow.
    expect(r.report.pareto.map((p) => p.id)).toEqual(['weight_only', 'dynamic', 'reference']);
  });

  it('falls back to the reference when every candidate is slower than fp32', async () => {
    const { env } = fakeEnv(() => ({ bytes: 250, drop: 0, ratio: 1.3 }));
    const r = await runAuto({ analysis: analysis([node('fc1', 'MatMul', 100000, 784), node('fc2', 'Gemm', 8000, 128)]), cleanup: true, env, options: options() });
    expect(r.winner).toBe('reference');
    expect(r.recipe).toEqual([]);
    expect(r.runtime).toEqual({});
    expect(r.report.reason).toMatch(/No candidate was both within the accuracy budget .* and not slower than fp32/);
    expect(r.report.tried.every((t) => t.outcome !== 'selected')).toBe(true);
  });

  it('names near misses within measurement noise, and accepts them under a looser latency_ratio_max', async () => {
    const behave = () => ({ bytes: 250, drop: 0, ratio: 1.01, spread: 0.005 });
    const strict = await runAuto({ analysis: analysis([node('fc1', 'MatMul', 100000, 784)]), cleanup: true, env: fakeEnv(behave).env, options: options({ recipes: ['weight_only'] }) });
    expect(strict.winner).toBe('reference');
    expect(strict.report.reason).toContain('Closest: weight_only (0.25x) at 1.010x');
    expect(strict.report.reason).toContain('auto.latency_ratio_max: 1.02 accepts them');
    const loose = await runAuto({ analysis: analysis([node('fc1', 'MatMul', 100000, 784)]), cleanup: true, env: fakeEnv(behave).env, options: options({ recipes: ['weight_only'], latency_ratio_max: 1.02 }) });
    expect(loose.winner).toBe('weight_only');
    expect(loose.runtime).toEqual({ configEntries: { 'session.disable_quant_qdq': '1' } });
  });

  it('takes a candidate that runs fp32\'s own kernels as fp32 speed, whatever one measurement reads', async () => {
    // weight_only measured at 1.012x (CI 1.004-1.020): slower by the numbers, but the session is fp32's op for op.
    const behave = () => ({ bytes: 250, drop: 0, ratio: 1.012, spread: 0.008 });
    const asked: string[] = [];
    const same = fakeEnv(behave);
    same.env.sameKernels = async (a) => (asked.push(a.id), true);
    const r = await runAuto({ analysis: analysis([node('fc1', 'MatMul', 100000, 784)]), cleanup: true, env: same.env, options: options({ recipes: ['weight_only', 'dynamic'] }) });
    expect(r.winner).toBe('weight_only');
    expect(asked).toEqual(['weight_only']); // dynamic int8 runs other kernels by design: not asked
    expect(r.report.tried.find((t) => t.id === 'weight_only')?.same_kernels).toBe(true);
    expect(r.report.reason).toContain("onnxruntime runs it with the reference's kernels");
    // The same measurements with a session that differs: rejected as slower, as before.
    const other = fakeEnv(behave);
    other.env.sameKernels = async () => false;
    const r2 = await runAuto({ analysis: analysis([node('fc1', 'MatMul', 100000, 784)]), cleanup: true, env: other.env, options: options({ recipes: ['weight_only'] }) });
    expect(r2.winner).toBe('reference');
    expect(r2.report.tried.find((t) => t.id === 'weight_only')?.outcome).toMatch(/^slower than fp32/);
    // Same kernels do not excuse the accuracy budget.
    const lossy = fakeEnv(() => ({ bytes: 250, drop: 0.02, ratio: 1.0 }));
    lossy.env.sameKernels = async () => true;
    expect((await runAuto({ analysis: analysis([node('fc1', 'MatMul', 100000, 784)]), cleanup: true, env: lossy.env, options: options({ recipes: ['weight_only'] }) })).winner).toBe('reference');
  });

  it('measures a repair that could still win on size × time, even when what it repairs was slow', async () => {
    // openWakeWord's melspectrogram: static QDQ over budget and slow (1.03x) because of its MatMul; without
    // the MatMul it runs at 0.62x; weight_only qualifies at fp32 speed, 8% smaller.
    const behave = (recipe: PassSpec[]) => {
      const d = describe_(recipe);
      if (d.family === 'weight_only') return { bytes: 255, drop: 0, ratio: 0.98 }; // CI 0.97-0.99: a solid qualifier, which prunes
      if (d.family === 'static') return d.q.op_types!.includes('MatMul') ? { bytes: 256, drop: 0.5, ratio: 1.03 } : { bytes: 278, drop: 0.001, ratio: 0.62 };
      return { bytes: 900, drop: 0.5, ratio: 1 };
    };
    const net = analysis([node('stft', 'Conv', 40000, 400), node('mel', 'MatMul', 4000, 200)]);
    const r = await runAuto({ analysis: net, cleanup: true, env: fakeEnv(behave).env, options: options({ recipes: ['static', 'weight_only'] }) });
    expect(r.winner).toBe('static-no-MatMul');
    expect(r.report.tried.find((t) => t.id === 'weight_only')?.outcome).toBe('qualifies; smaller, but slower than the winner by more (size × time)');
  });

  it('falls back per op type, then per node by sensitivity, in that order', async () => {
    // Static QDQ costs accuracy on conv2 (and a little on conv3); Gemm alone is harmless.
    const cost: Record<string, number> = { conv1: 0.001, conv2: 0.02, conv3: 0.004, fc: 0.001 };
    const { env, log } = fakeEnv((recipe, samples) => {
      const d = describe_(recipe);
      if (d.family !== 'static') return { bytes: 900, drop: 0.05, ratio: 1.2 }; // nothing else qualifies
      const quantized = ['conv1', 'conv2', 'conv3', 'fc'].filter((n) => (n === 'fc' ? d.q.op_types!.includes('Gemm') : d.q.op_types!.includes('Conv')) && !(d.q.nodes_exclude ?? []).includes(n));
      const drop = quantized.reduce((s, n) => s + cost[n]!, 0);
      void samples;
      return { bytes: 300 + 10 * (4 - quantized.length), drop, ratio: 0.8 };
    });
    const cnn = analysis([node('conv1', 'Conv', 288, 9), node('conv2', 'Conv', 18432, 288), node('conv3', 'Conv', 36864, 576), node('fc', 'Gemm', 5000, 500)]);
    const r = await runAuto({ analysis: cnn, cleanup: true, env, options: options({ recipes: ['static'] }) });
    const stages = r.report.tried.map((t) => [t.id, t.stage]);
    expect(stages.slice(0, 3)).toEqual([['static', 'base'], ['static-no-Conv', 'op type'], ['static-no-Gemm', 'op type']]);
    // static-no-Gemm (drop 0.025) is closer than static (0.026): the node search starts from it.
    expect(r.report.sensitivity).toHaveLength(1);
    expect(r.report.sensitivity[0]!.trial).toBe('static-no-Gemm');
    expect(r.report.sensitivity[0]!.nodes.map((n) => n.node)).toEqual(['conv2', 'conv3', 'conv1']);
    // Sensitivity runs on a subset; the cumulative exclusions on the full dataset.
    expect(log.evaluated.filter((e) => e.samples !== undefined)).toHaveLength(3);
    const nodeTrials = r.report.tried.filter((t) => t.stage === 'node');
    expect(nodeTrials.map((t) => t.recipe[1])).toEqual([{ quantize: { mode: 'static', op_types: ['Conv'], nodes_exclude: ['conv2'] } }]);
    // Two convs in int8 (320 bytes) beat the Gemm alone (330), which also qualifies.
    expect(r.winner).toBe(nodeTrials[0]!.id);
    expect(r.report.tried.find((t) => t.id === 'static-no-Conv')?.outcome).toBe('qualifies; larger than the winner');
  });

  it('excludes at most the ranked nodes: no repeated trial of the same model once the ranking is used up', async () => {
    const { env } = fakeEnv((recipe) => {
      const d = describe_(recipe);
      return { bytes: 300 + (d.q.nodes_exclude ?? []).length, drop: 0.1, ratio: 0.8 }; // no exclusion recovers
    });
    const many = analysis(Array.from({ length: 40 }, (_, i) => node(`conv${String(i).padStart(2, '0')}`, 'Conv', 2048 + i, 9)));
    const r = await runAuto({ analysis: many, cleanup: true, env, options: options({ recipes: ['static'], time_budget_s: 600 }) });
    const nodeTrials = r.report.tried.filter((t) => t.stage === 'node');
    expect(r.report.sensitivity[0]!.nodes).toHaveLength(16);
    expect(nodeTrials).toHaveLength(16);
    expect(nodeTrials.some((t) => t.outcome.startsWith('same model as'))).toBe(false);
  });

  it('leaves the nodes with the fewest multiply-adds per output in float when quantizing makes the model slower', async () => {
    const { env } = fakeEnv((recipe) => {
      const d = describe_(recipe);
      const excluded = d.q.nodes_exclude ?? [];
      // The depthwise convs (reduction 9) are what makes QDQ slow here.
      const slow = ['dw1', 'dw2'].filter((n) => !excluded.includes(n)).length;
      return { bytes: 300 + 20 * excluded.length, drop: 0, ratio: 0.7 + 0.25 * slow };
    });
    const net = analysis([node('stem', 'Conv', 864, 27), node('dw1', 'Conv', 1152, 9), node('pw1', 'Conv', 8192, 128), node('dw2', 'Conv', 2304, 9), node('pw2', 'Conv', 32768, 256)]);
    const r = await runAuto({ analysis: net, cleanup: true, env, options: options({ recipes: ['static'] }) });
    const nodeTrials = r.report.tried.filter((t) => t.stage === 'node');
    // The lowest-reduction quarter (1 of 5), then half (3 of 5).
    expect(nodeTrials.map((t) => (t.recipe[1] as unknown as { quantize: QuantizeStep }).quantize.nodes_exclude)).toEqual([['dw1'], ['dw1', 'dw2', 'stem']]);
    // Both are faster than fp32. Size × time: 360 bytes at 0.70x (252) beats 320 bytes at 0.95x (304).
    expect(r.winner).toBe(nodeTrials[1]!.id);
    expect(r.report.prefer).toBe('balanced');
    expect(r.report.tried.find((t) => t.id === nodeTrials[0]!.id)?.outcome).toBe('qualifies; smaller, but slower than the winner by more (size × time)');
    expect(r.report.reason).toContain(`${nodeTrials[0]!.id} is 11.1% smaller and also qualifies, but ${nodeTrials[1]!.id} costs less in size × time`);
    expect(r.report.tried.find((t) => t.id === 'static')?.outcome).toMatch(/^slower than fp32: 95% CI from /);
    // prefer: size takes the smallest (more than 10% smaller than the second).
    const bySize = await runAuto({ analysis: net, cleanup: true, env, options: { ...options({ recipes: ['static'] }), prefer: 'size' } });
    expect(bySize.winner).toBe(nodeTrials[0]!.id);
    expect(bySize.report.prefer).toBe('size');
  });

  it('does not select a candidate larger than the reference unless it is significantly faster', async () => {
    const run = (ratio: number) => runAuto({
      analysis: analysis([node('fc1', 'MatMul', 100000, 784)]), cleanup: true, options: options({ recipes: ['weight_only'] }),
      env: fakeEnv(() => ({ bytes: 1390, drop: 0, ratio })).env, // the fake reference is 1000 bytes
    });
    const same = await run(1.0);
    expect(same.winner).toBe('reference');
    expect(same.report.tried[0]!.outcome).toBe('larger than the reference and not faster');
    expect(same.report.reason).toContain('weight_only (1.39x) qualified but is larger than the reference without being faster');
    expect((await run(0.8)).winner).toBe('weight_only');
  });

  it('does not select a winner that fails its confirmation measurement', async () => {
    const { env, log } = fakeEnv((recipe) => {
      const d = describe_(recipe);
      if (d.family === 'dynamic') return { bytes: 250, drop: 0, ratio: [0.97, 1.04] }; // lucky once
      return { bytes: 260, drop: 0, ratio: 0.99 };
    });
    const r = await runAuto({ analysis: analysis([node('fc1', 'MatMul', 100000, 784)]), cleanup: true, env, options: options({ recipes: ['dynamic', 'weight_only'] }) });
    expect(r.winner).toBe('weight_only');
    expect(r.report.tried.find((t) => t.id === 'dynamic')?.outcome).toBe('slower than fp32 (confirm): 95% CI from 1.030x');
    expect(log.measured.at(-1)).toEqual(expect.arrayContaining(['dynamic', 'weight_only']));
  });

  it('stops building when the time budget runs out, and says so', async () => {
    const { env, log } = fakeEnv(() => ({ bytes: 250, drop: 0, ratio: 0.9 }));
    // 8 s: the first build and evaluation (1 s) fit before the 6 s measurement reserve, the rest does not.
    const r = await runAuto({ analysis: analysis([node('fc1', 'MatMul', 100000, 784), node('c', 'Conv', 4096, 36)]), cleanup: true, env, options: options({ time_budget_s: 8 }) });
    expect(log.built.length).toBeLessThan(4);
    expect(r.report.budget_exhausted).toBe(true);
    expect(r.report.tried.some((t) => t.outcome === 'skipped: time budget')).toBe(true);
    expect(r.report.reason).toContain('The time budget ran out');
  });

  it('treats a recipe that produces an already-seen model as the same candidate', async () => {
    const { env, log } = fakeEnv(() => ({ bytes: 250, drop: 0, ratio: 0.9 }));
    const base = env.build;
    env.build = async (id, recipe) => ({ ...(await base(id, recipe)), digest: 'same' });
    const r = await runAuto({ analysis: analysis([node('fc1', 'MatMul', 100000, 784)]), cleanup: true, env, options: options({ recipes: ['dynamic', 'weight_only'] }) });
    expect(r.report.tried.map((t) => t.outcome)).toEqual(['selected', 'same model as dynamic']);
    expect(log.evaluated).toHaveLength(1);
  });
});

// ---------------------------------------------------------------- config

describe('auto in the config', () => {
  it('accepts { auto: {...} } entries next to named recipes, with the name defaulting to auto', () => {
    const loaded = parseConfig('model: m.onnx\noptimize:\n  - auto: { accuracy_drop_max: 0.005, time_budget_s: 60 }\n  - name: fast\n    auto:\n  - name: d\n    passes: [{ quantize: { mode: dynamic } }]\n', 'c.yml');
    expect(loaded.config.optimize).toEqual([
      { auto: { accuracy_drop_max: 0.005, time_budget_s: 60 } },
      { name: 'fast', auto: null },
      { name: 'd', passes: [{ quantize: { mode: 'dynamic' } }] },
    ]);
  });

  it('rejects unknown auto options and families with their position', () => {
    expect(() => parseConfig('model: m.onnx\noptimize:\n  - auto: { budget: 3 }\n', 'c.yml')).toThrow(/optimize\[0\]\.auto\.budget: is not a known key \(c\.yml:3:13\)/);
    expect(() => parseConfig('model: m.onnx\noptimize:\n  - auto: { recipes: [int4] }\n', 'c.yml')).toThrow(/optimize\[0\]\.auto\.recipes\[0\]: expected one of cleanup, dynamic/);
    expect(() => parseConfig('model: m.onnx\noptimize:\n  - auto: {}\n    passes: []\n', 'c.yml')).toThrow(/optimize\[0\]\.passes: is not a known key/);
  });

  it('lists the same families in the schema as the search knows', () => {
    const items = (configSchema.properties.optimize.items.then.properties.auto.properties.recipes.items.enum as readonly string[]);
    expect([...items]).toEqual([...AUTO_FAMILIES]);
  });
});

// ---------------------------------------------------------------- one real run

/** `count` MLP inputs (784 floats in [0, 1)), no labels: quality is agreement with fp32. */
function mlpDataset(count: number): Dataset {
  const rand = rng(3);
  const data = Float32Array.from({ length: count * 784 }, rand);
  return {
    count, hasLabels: false, synthetic: false,
    *batches(size: number) {
      for (let start = 0; start < count; start += size) {
        const n = Math.min(size, count - start);
        yield { feeds: { x: { type: 'float32', dims: [n, 784], data: data.slice(start * 784, (start + n) * 784) } }, labels: null, labelWidth: 1, count: n };
      }
    },
    feedsForBatch: (batch: number) => ({ x: { type: 'float32', dims: [batch, 784], data: data.slice(0, batch * 784) } }),
  };
}

describe('auto search (real run)', () => {
  it('on a .tflite reference, builds .tflite trials from the ONNX IR, runs them in TFLite and sizes them against the .tflite', async () => {
    const model = buildMlp();
    const reference = await exportTflite(model, { quantize: 'float32', inputShapes: { x: [1, 784] } });
    const lines: string[] = [];
    const result = await searchAuto('auto', { time_budget_s: 20, recipes: ['tflite_fp16', 'tflite_dynamic_int8'], accuracy_drop_max: 0.05, latency_ratio_max: 100 }, undefined, {
      model, dataset: mlpDataset(100), inputs: [{ name: 'x', dtype: 'float32', shape: [1, 784], dynamicBatch: true }], metric: 'top1',
      benchmark: { batch: 1, threads: 1, warmup: 5, runs: 30, measurements: 1 }, referenceTflite: reference.bytes, log: (m) => lines.push(m),
    });
    const tried = new Map(result.report.tried.map((t) => [t.id, t]));
    expect([...tried.keys()]).toEqual(expect.arrayContaining(['tflite_fp16', 'tflite_dynamic_int8']));
    // float16 weights: about half the float32 .tflite; int8 weights: about a quarter.
    expect(tried.get('tflite_fp16')!.size_ratio).toBeGreaterThan(0.4);
    expect(tried.get('tflite_fp16')!.size_ratio).toBeLessThan(0.6);
    expect(tried.get('tflite_dynamic_int8')!.size_ratio).toBeLessThan(0.35);
    expect(tried.get('tflite_fp16')!.agreement).toBeGreaterThan(0.95);
    expect(tried.get('tflite_dynamic_int8')!.agreement).toBeGreaterThan(0.9);
    expect(tried.get('tflite_dynamic_int8')!.recipe.at(-1)).toEqual({ tflite: { quantize: 'dynamic-int8' } });
    // Both are smaller and quality holds; with no latency bound the smallest wins.
    expect(result.winner).toBe('tflite_dynamic_int8');
  }, 120_000);

  it('limits a dataset to its first samples', () => {
    const ds = firstSamples(mlpDataset(250), 120);
    const counts = [...ds.batches(100)].map((b) => b.count);
    expect(ds.count).toBe(120);
    expect(counts).toEqual([100, 20]);
  });

  it('searches a small MLP on ORT within a short budget and returns a recipe that builds', async () => {
    const lines: string[] = [];
    const result = await searchAuto('auto', { time_budget_s: 20, recipes: ['dynamic', 'weight_only'], accuracy_drop_max: 0.05 }, undefined, {
      model: buildMlp(),
      dataset: mlpDataset(200),
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 784], dynamicBatch: true }],
      metric: 'top1',
      benchmark: { batch: 1, threads: 1, warmup: 5, runs: 30, measurements: 1 },
      log: (m) => lines.push(m),
    });
    const r = result.report;
    expect(r.quality_basis).toBe('agreement');
    expect(r.tried.map((t) => t.id)).toEqual(expect.arrayContaining(['dynamic', 'weight_only']));
    for (const t of r.tried.filter((x) => x.stage === 'base')) {
      expect(t.bytes).toBeGreaterThan(0);
      expect(t.size_ratio).toBeLessThan(0.5); // both store the weights in int8
      expect(t.agreement).toBeGreaterThan(0.9);
    }
    expect(r.reason.length).toBeGreaterThan(20);
    expect(lines.some((l) => l.startsWith('auto: selected'))).toBe(true);
    if (result.winner === 'reference') {
      expect(result.recipe).toEqual([]);
    } else {
      const winner = r.tried.find((t) => t.id === result.winner)!;
      expect(winner.outcome).toMatch(/^selected/);
      expect(winner.latency_ci95![0]).toBeLessThanOrEqual(1);
      expect(winner.latency_ratio).toBeLessThanOrEqual(1 + CI_SLACK);
      expect(result.recipe).toEqual(winner.recipe);
      expect(result.recipe[0]).toEqual({ cleanup: {} });
    }
  });

  it('repairs weight_only on fidelity: the weight int8 per channel ruins stays float32, the file under half the size', async () => {
    // h = x·A has a column that is always 0; B's row for it holds a 1000 in every column. In float it adds
    // nothing, in int8 it sets every column's scale to 1000/127 and rounds B's other weights to 0.
    const rand = rng(8);
    const A = randn(64 * 1024, 0.1, rand);
    for (let r = 0; r < 64; r++) A[r * 1024] = 0;
    const B = randn(1024 * 16, 0.05, rand);
    for (let c = 0; c < 16; c++) B[c] = 1000;
    const m = model({
      name: 'outlier',
      node: [
        makeNode('MatMul', ['x', 'A'], ['h'], { name: 'mmA' }),
        makeNode('MatMul', ['h', 'B'], ['y'], { name: 'mmB' }),
      ],
      initializer: [makeTensor('A', [64, 1024], A), makeTensor('B', [1024, 16], B)],
      input: [tensorValueInfo('x', FLOAT, ['N', 64])],
      output: [tensorValueInfo('y', FLOAT, ['N', 16])],
    });
    const data = Float32Array.from({ length: 64 * 64 }, rand);
    const dataset: Dataset = {
      count: 64, hasLabels: false, synthetic: true,
      *batches(size: number) {
        for (let start = 0; start < 64; start += size) {
          const n = Math.min(size, 64 - start);
          yield { feeds: { x: { type: 'float32', dims: [n, 64], data: data.slice(start * 64, (start + n) * 64) } }, labels: null, labelWidth: 1, count: n };
        }
      },
      feedsForBatch: (batch: number) => ({ x: { type: 'float32', dims: [batch, 64], data: data.slice(0, batch * 64) } }),
    };
    const result = await searchAuto('auto', { time_budget_s: 60, recipes: ['weight_only'] }, undefined, {
      model: m, dataset, inputs: [{ name: 'x', dtype: 'float32', shape: [1, 64], dynamicBatch: true }], metric: 'top1',
      benchmark: { batch: 1, threads: 1, warmup: 5, runs: 30, measurements: 1 }, log: () => {},
    });
    const r = result.report;
    expect(r.quality_basis).toBe('fidelity');
    const base = r.tried.find((t) => t.id === 'weight_only')!;
    expect(base.drop!).toBeGreaterThan(0.5); // SNR under 3 dB
    const repaired = r.tried.find((t) => t.stage === 'node')!;
    expect(repaired.recipe).toEqual([{ cleanup: {} }, { weight_only: { nodes_exclude: ['mmB'] } }]);
    expect(repaired.drop!).toBeLessThan(0.01); // SNR above 20 dB
    expect(repaired.size_ratio!).toBeLessThan(0.5);
    // Its int8 weights fold to float at load: onnxruntime runs the reference's kernels (checked on the real session).
    expect(repaired.same_kernels).toBe(true);
    expect(r.sensitivity[0]!.nodes[0]!.node).toBe('mmB');
  });

  it('runs as a candidate of the pipeline: one auto entry, its report in report.json and report.md', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-auto-'));
    try {
      saveModel(buildMlp(), path.join(dir, 'mlp.onnx'));
      writeFileSync(path.join(dir, 'modelgate.yml'), [
        'model: mlp.onnx',
        'optimize:',
        '  - name: searched',
        '    auto: { time_budget_s: 15, recipes: [dynamic, weight_only], accuracy_drop_max: 0.05 }',
        'benchmark: { batch: 1, threads: 1, warmup: 5, runs: 30 }',
        '',
      ].join('\n'));
      const run = await runGate({ configPath: path.join(dir, 'modelgate.yml'), outDir: path.join(dir, 'out') });
      expect(run.error).toBeUndefined();
      const c = run.report.candidates.find((x) => x.id === 'searched')!;
      const auto = c.auto as { winner: string; recipe: unknown[]; tried: Array<{ id: string }> };
      expect(auto.tried.map((t) => t.id)).toEqual(expect.arrayContaining(['dynamic', 'weight_only']));
      // The candidate is the winner's recipe, rebuilt and measured with the others.
      expect(c.recipe).toEqual(auto.recipe);
      expect(c.latency).not.toBeNull();
      if (auto.winner === 'weight_only') expect(c.runtime_options).toEqual({ configEntries: { 'session.disable_quant_qdq': '1' } });
      const md = readFileSync(run.markdownPath, 'utf8');
      expect(md).toContain('<details><summary>auto `searched`:');
      expect(md).toContain('| tried | stage | size | accuracy | p50 vs fp32 (95% CI) | outcome |');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
