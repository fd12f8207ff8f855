/**
 * The quantize pass on small seeded models, run in onnxruntime against the float model on the same 64
 * random inputs. Tolerances: max |int8 − fp32| ≤ 5% of the fp32 output range, top-1 agreement ≥ 95%.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeModel, DataType, type Model } from '../../src/model/onnx.js';
import { tensorData, tensorToFloat32 } from '../../src/model/tensor.js';
import { checkModel, getIntAttr, initializerMap } from '../../src/model/graph.js';
import { quantizePass } from '../../src/passes/quantize.js';
import { runRecipe } from '../../src/passes/registry.js';
import type { QuantizeOptions } from '../../src/passes/quant-common.js';
import type { Feeds } from '../../src/model/host-tensor.js';
import {
  buildCnn, buildMlp, compareOutputs, opTypes, optimizedOpTypes, randomFeeds, runAll, testContext, sameBytes
} from './fixtures.js';

const MAX_REL_DIFF = 0.05;
const MIN_TOP1 = 0.95;

interface Case {
  model: Model;
  feeds: Feeds[];
  calibration: (n: number) => Feeds[];
  reference: Float32Array[];
}

async function makeCase(model: Model, input: string, dims: number[]): Promise<Case> {
  const feeds = randomFeeds(input, dims, 64, 7);
  return { model, feeds, calibration: (n) => randomFeeds(input, dims, n, 99), reference: await runAll(model, feeds) };
}

async function quantize(c: Case, options: QuantizeOptions, log: string[] = []): Promise<Model> {
  const q = await quantizePass.run(c.model, options, testContext(c.calibration, log));
  checkModel(q);
  return q;
}

async function expectClose(c: Case, q: Model): Promise<void> {
  const got = await runAll(q, c.feeds);
  const { maxRelDiff, top1 } = compareOutputs(c.reference, got);
  expect(maxRelDiff).toBeLessThan(MAX_REL_DIFF);
  expect(top1).toBeGreaterThanOrEqual(MIN_TOP1);
}

const count = (list: string[], op: string): number => list.filter((o) => o === op).length;
const size = (m: Model): number => encodeModel(m).length;

let cnn: Case, cnnNoTrans: Case, mlp: Case;
beforeAll(async () => {
  cnn = await makeCase(buildCnn({ transB: true }), 'Input3', [1, 1, 28, 28]);
  cnnNoTrans = await makeCase(buildCnn({ transB: false }), 'Input3', [1, 1, 28, 28]);
  mlp = await makeCase(buildMlp(), 'x', [1, 784]);
});

describe('quantize: dynamic', () => {
  it('turns every MatMul and Gemm (transB=1) of the MLP into the graph ORT fuses to DynamicQuantizeMatMul', async () => {
    const before = encodeModel(mlp.model);
    const q = await quantize(mlp, { mode: 'dynamic' });
    const ops = opTypes(q);
    expect(count(ops, 'MatMulInteger')).toBe(3);
    expect(count(ops, 'DynamicQuantizeLinear')).toBe(3);
    expect(ops).not.toContain('MatMul');
    expect(ops).not.toContain('Gemm');
    const fused = await optimizedOpTypes(q);
    expect(count(fused, 'DynamicQuantizeMatMul')).toBe(3);
    expect(fused).not.toContain('MatMulInteger');
    expect(size(q)).toBeLessThan(0.3 * size(mlp.model));
    await expectClose(mlp, q);
    expect(sameBytes(encodeModel(mlp.model), before)).toBe(true); // the input is not mutated
  });

  it('is deterministic: the same input and options give byte-identical output', async () => {
    const a = await quantize(mlp, { mode: 'dynamic', per_channel: true });
    const b = await quantize(mlp, { mode: 'dynamic', per_channel: true });
    expect(sameBytes(encodeModel(a), encodeModel(b))).toBe(true);
  });

  it('per channel: one scale and zero point per output column', async () => {
    const q = await quantize(mlp, { mode: 'dynamic', per_channel: true });
    const inits = initializerMap(q.graph!);
    const mmi = q.graph!.node!.filter((n) => n.opType === 'MatMulInteger');
    expect(mmi.map((n) => tensorData(inits.get(n.input![3]!)!).length)).toEqual([128, 64, 10]);
    await expectClose(mlp, q);
  });

  it('leaves Conv in float by default and quantizes the Gemm; transB=0 and transB=1 give the same result', async () => {
    const q = await quantize(cnn, { mode: 'dynamic' });
    const ops = opTypes(q);
    expect(ops).toContain('Conv');
    expect(ops).not.toContain('ConvInteger');
    expect(count(ops, 'MatMulInteger')).toBe(1);
    await expectClose(cnn, q);
    const q2 = await quantize(cnnNoTrans, { mode: 'dynamic' });
    const [a, b] = [await runAll(q, cnn.feeds), await runAll(q2, cnn.feeds)];
    expect(compareOutputs(a, b).maxRelDiff).toBeLessThan(1e-6);
  });

  it('quantizes Conv to ConvInteger when op_types asks (per tensor: ORT has no per-channel ConvInteger)', async () => {
    const q = await quantize(cnn, { mode: 'dynamic', op_types: ['Conv', 'Gemm'], per_channel: true });
    const ops = opTypes(q);
    expect(count(ops, 'ConvInteger')).toBe(1);
    expect(ops).not.toContain('Conv');
    const conv = q.graph!.node!.find((n) => n.opType === 'ConvInteger')!;
    expect(getIntAttr(conv, 'group', 1)).toBe(1);
    expect(tensorData(initializerMap(q.graph!).get(conv.input![3]!)!).length).toBe(1);
    expect(size(q)).toBeLessThan(0.3 * size(cnn.model));
    await expectClose(cnn, q);
  });

  it('honours nodes_include and nodes_exclude', async () => {
    const excluded = await quantize(mlp, { mode: 'dynamic', nodes_exclude: ['fc2'] });
    expect(excluded.graph!.node!.filter((n) => n.opType === 'MatMul').map((n) => n.name)).toEqual(['fc2']);
    expect(count(opTypes(excluded), 'MatMulInteger')).toBe(2);
    const included = await quantize(mlp, { mode: 'dynamic', nodes_include: ['fc3'] });
    expect(count(opTypes(included), 'MatMulInteger')).toBe(1);
    expect(count(opTypes(included), 'MatMul')).toBe(2);
    await expectClose(mlp, excluded);
  });
});

describe('quantize: static QDQ', () => {
  it('CNN: QDQ around Conv/Relu/MaxPool/Flatten/Gemm that ORT fuses into QLinearConv and QGemm', async () => {
    const log: string[] = [];
    const q = await quantize(cnn, { mode: 'static', samples: 64 }, log);
    const ops = opTypes(q);
    expect(ops).toContain('QuantizeLinear');
    expect(ops).toContain('DequantizeLinear');
    const fused = await optimizedOpTypes(q);
    expect(fused).toContain('QLinearConv');
    expect(fused).toContain('QGemm');
    // MaxPool and Flatten run on uint8: no DequantizeLinear is left between the fused ops.
    for (const op of ['Conv', 'Gemm', 'DequantizeLinear']) expect(fused).not.toContain(op);
    expect(size(q)).toBeLessThan(0.3 * size(cnn.model));
    await expectClose(cnn, q);
    expect(log.join('\n')).toContain('calibrated 2 tensors on 64 samples (minmax)'); // Input3 and relu; the rest share
  });

  it('CNN: per-channel int8 symmetric weights (axis 0), int32 bias on input_scale × weight_scale, Relu output zero point 0', async () => {
    const q = await quantize(cnn, { mode: 'static', samples: 32 });
    const inits = initializerMap(q.graph!);
    const conv = q.graph!.node!.find((n) => n.opType === 'Conv')!;
    const dqOf = (name: string) => q.graph!.node!.find((n) => n.output![0] === name)!;
    const wdq = dqOf(conv.input![1]!);
    expect(wdq.opType).toBe('DequantizeLinear');
    expect(getIntAttr(wdq, 'axis', 1)).toBe(0);
    expect(inits.get(wdq.input![0]!)!.dataType).toBe(DataType.INT8);
    expect(Array.from(tensorToFloat32(inits.get(wdq.input![2]!)!))).toEqual(new Array(32).fill(0));
    const wScales = tensorData(inits.get(wdq.input![1]!)!) as Float32Array;
    const bdq = dqOf(conv.input![2]!);
    expect(inits.get(bdq.input![0]!)!.dataType).toBe(DataType.INT32);
    const xdq = dqOf(conv.input![0]!);
    const xScale = (tensorData(inits.get(xdq.input![1]!)!) as Float32Array)[0]!;
    const bScales = tensorData(inits.get(bdq.input![1]!)!) as Float32Array;
    bScales.forEach((s, c) => expect(s).toBe(Math.fround(xScale * wScales[c]!)));
    const reluQ = q.graph!.node!.find((n) => n.opType === 'QuantizeLinear' && n.input![0] === 'relu')!;
    expect(tensorData(inits.get(reluQ.input![2]!)!)[0]).toBe(0);
    // Gemm with transB=1 stores [10, 5408]: its output channels are axis 0.
    const gemm = q.graph!.node!.find((n) => n.opType === 'Gemm')!;
    expect(getIntAttr(dqOf(gemm.input![1]!), 'axis', 1)).toBe(0);
  });

  it('Gemm with transB=0 and MatMul weights are per column (axis 1)', async () => {
    const q = await quantize(cnnNoTrans, { mode: 'static', samples: 16 });
    const gemm = q.graph!.node!.find((n) => n.opType === 'Gemm')!;
    const wdq = q.graph!.node!.find((n) => n.output![0] === gemm.input![1])!;
    expect(getIntAttr(wdq, 'axis', 0)).toBe(1);
    await expectClose(cnnNoTrans, q);
    const m = await quantize(mlp, { mode: 'static', samples: 16 });
    const mm = m.graph!.node!.find((n) => n.opType === 'MatMul')!;
    expect(getIntAttr(m.graph!.node!.find((n) => n.output![0] === mm.input![1])!, 'axis', 0)).toBe(1);
  });

  it('MLP: every layer fuses into QGemm', async () => {
    const q = await quantize(mlp, { mode: 'static', samples: 64 });
    const fused = await optimizedOpTypes(q);
    expect(count(fused, 'QGemm')).toBe(3);
    expect(fused).not.toContain('MatMul');
    await expectClose(mlp, q);
  });

  for (const calibration of ['percentile', 'entropy'] as const) {
    it(`calibration: ${calibration} stays within tolerance`, async () => {
      const log: string[] = [];
      const q = await quantize(cnn, { mode: 'static', calibration, samples: 64 }, log);
      expect(log.join('\n')).toContain(`(${calibration})`);
      await expectClose(cnn, q);
    });
  }

  it('int8 activations, per-tensor weights', async () => {
    const q = await quantize(cnn, { mode: 'static', activation_type: 'int8', per_channel: false, samples: 32 });
    const inits = initializerMap(q.graph!);
    const reluQ = q.graph!.node!.find((n) => n.opType === 'QuantizeLinear' && n.input![0] === 'relu')!;
    expect(inits.get(reluQ.input![2]!)!.dataType).toBe(DataType.INT8);
    expect(tensorData(inits.get(reluQ.input![2]!)!)[0]).toBe(-128);
    expect(await optimizedOpTypes(q)).toContain('QLinearConv');
    await expectClose(cnn, q);
  });

  it('asks the context for `samples` calibration feeds, and is deterministic', async () => {
    const asked: number[] = [];
    const ctx = testContext((n) => (asked.push(n), cnn.calibration(n)));
    const a = await quantizePass.run(cnn.model, { mode: 'static', samples: 8 }, ctx);
    const b = await quantizePass.run(cnn.model, { mode: 'static', samples: 8 }, ctx);
    expect(asked).toEqual([8, 8]);
    expect(sameBytes(encodeModel(a), encodeModel(b))).toBe(true);
  });

  it('reuses calibration ranges kept in ctx.memo for the same model, with the same result', async () => {
    const asked: number[] = [];
    const log: string[] = [];
    const ctx = { ...testContext((n) => (asked.push(n), cnn.calibration(n)), log), memo: new Map<string, unknown>() };
    const plain = await quantizePass.run(cnn.model, { mode: 'static', samples: 8 }, testContext((n) => cnn.calibration(n)));
    const a = await quantizePass.run(cnn.model, { mode: 'static', samples: 8 }, ctx);
    const b = await quantizePass.run(cnn.model, { mode: 'static', samples: 8 }, ctx);
    // The second run (and one with a node excluded: a subset of the tensors) calibrates nothing.
    const c = await quantizePass.run(cnn.model, { mode: 'static', samples: 8, nodes_exclude: ['dense'] }, ctx);
    expect(asked).toEqual([8]);
    expect(log.filter((l) => /calibrated ranges from an earlier run on the same model/.test(l))).toHaveLength(2);
    expect(sameBytes(encodeModel(a), encodeModel(plain))).toBe(true);
    expect(sameBytes(encodeModel(b), encodeModel(plain))).toBe(true);
    const fresh = await quantizePass.run(cnn.model, { mode: 'static', samples: 8, nodes_exclude: ['dense'] }, testContext((n) => cnn.calibration(n)));
    expect(sameBytes(encodeModel(c), encodeModel(fresh))).toBe(true);
    // Through a recipe (the auto search builds with runRecipe) the memo reaches the pass too.
    await runRecipe(cnn.model, [{ quantize: { mode: 'static', samples: 8 } }], ctx);
    expect(asked).toEqual([8]);
    // Other samples or another method calibrate again.
    await quantizePass.run(cnn.model, { mode: 'static', samples: 16 }, ctx);
    expect(asked).toEqual([8, 16]);
  });

  it('nodes_exclude keeps a node in float', async () => {
    const q = await quantize(cnn, { mode: 'static', nodes_exclude: ['dense'], samples: 16 });
    const gemm = q.graph!.node!.find((n) => n.opType === 'Gemm')!;
    expect(gemm.input![1]).toBe('dense.w');
    expect(await optimizedOpTypes(q)).toContain('QLinearConv');
    await expectClose(cnn, q);
  });
});
