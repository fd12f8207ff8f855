/**
 * auto on a model whose layers all sit inside an If on an input (Silero VAD's shape: `if sr == 16000`),
 * reading the main graph's initializers: the analysis must see them, or nothing is planned.
 */
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { onnx, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { analyzeModel, defaultTimeBudgetS, planTrials } from '../../src/search/auto.js';
import { searchAuto } from '../../src/search/env.js';
import type { Dataset } from '../../src/data/dataset.js';
import { randn, rng } from './fixtures.js';

const INT64 = onnx.TensorProto.DataType.INT64;
const X86_VNNI = { avx: true, avx2: true, avx512_vnni: true, fp16: false, avx512_fp16: false, dotprod: false, neon: false };

/** x [N, 64], sr [] → If(sr == 16000) { x·w1 → Relu → ·w2 } else { the same with scale 0.5 } → p [N, 1]. */
function branchyModel(): Model {
  const rand = rng(4);
  const body = (tag: string, extra: onnx.INodeProto[] = []): onnx.IGraphProto => ({
    name: tag,
    node: [
      makeNode('MatMul', ['x', 'w1'], [`${tag}_h`], { name: `${tag}_fc1` }),
      makeNode('Relu', [`${tag}_h`], [`${tag}_r`], { name: `${tag}_relu` }),
      makeNode('MatMul', [`${tag}_r`, 'w2'], extra.length ? [`${tag}_l`] : [`${tag}_y`], { name: `${tag}_fc2` }),
      ...extra,
    ],
    output: [tensorValueInfo(`${tag}_y`, FLOAT, ['N', 1])],
  });
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8), producerName: 'modelgate-test', opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'g',
      node: [
        makeNode('Equal', ['sr', 'rate'], ['is16k'], { name: 'is16k' }),
        makeNode('If', ['is16k'], ['p'], {
          name: 'branch',
          attributes: [
            { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: body('then') },
            { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: body('else', [makeNode('Mul', ['else_l', 'half'], ['else_y'], { name: 'else_scale' })]) },
          ],
        }),
      ],
      initializer: [
        makeTensor('w1', [64, 1024], randn(64 * 1024, 0.2, rand)), makeTensor('w2', [1024, 1], randn(1024, 0.05, rand)),
        makeTensor('rate', [], new BigInt64Array([16000n]), INT64), makeTensor('half', [], new Float32Array([0.5])),
      ],
      input: [tensorValueInfo('x', FLOAT, ['N', 64]), tensorValueInfo('sr', INT64, [])],
      output: [tensorValueInfo('p', FLOAT, ['N', 1])],
    },
  });
}

function dataset(count: number): Dataset {
  const data = Float32Array.from({ length: 64 * count }, rng(11));
  const feeds = (start: number, n: number) => ({
    x: { type: 'float32' as const, dims: [n, 64], data: data.slice(start * 64, (start + n) * 64) },
    sr: { type: 'int64' as const, dims: [], data: new BigInt64Array([16000n]) },
  });
  return {
    count, hasLabels: false, synthetic: false,
    *batches(size: number) {
      for (let s = 0; s < count; s += size) yield { feeds: feeds(s, Math.min(size, count - s)), labels: null, labelWidth: 1, count: Math.min(size, count - s) };
    },
    feedsForBatch: (b: number) => feeds(0, b),
  };
}

describe('auto on a model inside an If', () => {
  it('sees the nodes and weights of If bodies, and skips static QDQ (main graph only) with a reason', () => {
    const a = analyzeModel(branchyModel());
    expect(a.nodes.map((n) => [n.key, n.opType, n.inSubgraph])).toEqual([
      ['then_fc1', 'MatMul', true], ['then_fc2', 'MatMul', true], ['else_fc1', 'MatMul', true], ['else_fc2', 'MatMul', true],
    ]);
    // w1 is read by MatMul nodes in both bodies: its direct readers, not the If.
    expect(a.largeWeights).toEqual({ MatMul: 64 * 1024 + 1024 });
    const plan = planTrials(a, X86_VNNI);
    expect(plan.planned.map((p) => p.family)).toEqual(expect.arrayContaining(['dynamic', 'weight_only']));
    expect(plan.skipped.find((s) => s.family === 'static')?.why).toMatch(/inside If\/Loop\/Scan bodies/);
  });

  it('plans dynamic int8 for the MatMuls inside the bodies and finds a smaller candidate within the fidelity budget', async () => {
    const result = await searchAuto('auto', { time_budget_s: 40, recipes: ['dynamic', 'weight_only'], latency_ratio_max: 100 }, undefined, {
      model: branchyModel(), dataset: dataset(64),
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 64], dynamicBatch: true }, { name: 'sr', dtype: 'int64', shape: [], dynamicBatch: true, batchAxis: null }],
      metric: 'top1', benchmark: { batch: 1, threads: 1, warmup: 2, runs: 10, measurements: 1 }, log: () => {},
    });
    const r = result.report;
    expect(r.quality_basis).toBe('fidelity');
    expect(r.model.quantizable_nodes).toBe(4);
    const base = r.tried.filter((t) => t.stage === 'base');
    expect(base.map((t) => t.id).sort()).toEqual(['dynamic', 'weight_only']);
    for (const t of base) expect(t.drop!).toBeLessThan(0.01); // above 20 dB
    // weight_only stores w1 once in int8; dynamic int8 quantizes it for each body's MatMul, so twice.
    expect(base.find((t) => t.id === 'weight_only')!.size_ratio!).toBeLessThan(0.3);
    expect(base.find((t) => t.id === 'dynamic')!.size_ratio!).toBeLessThan(0.6);
    expect(result.winner).not.toBe('reference');
  }, 120_000);

  it('gives a costly model more time than the size-based budget, up to 4x', () => {
    expect(defaultTimeBudgetS(1e6)).toBe(120);
    expect(defaultTimeBudgetS(1e6, 2)).toBe(120); // 12 trials of 2 s and the measurements fit in 120 s
    expect(defaultTimeBudgetS(1e6, 10)).toBe(180);
    expect(defaultTimeBudgetS(1e6, 100)).toBe(480);
    expect(defaultTimeBudgetS(40 * 2 ** 20, 10)).toBe(240); // the size-based budget already covers it
  });
});
