/** Cleanup, dynamic and weight-only quantization and fp16 reach into Loop and If bodies; checked in onnxruntime. */
import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx, DataType, encodeModel, type Model } from '../../src/model/onnx.js';
import { analyzeModel, planTrials } from '../../src/search/auto.js';
import { makeTensor } from '../../src/model/tensor.js';
import { checkModel, intAttr, makeNode, tensorAttr, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { runRecipe } from '../../src/passes/registry.js';
import type { Feeds } from '../../src/model/host-tensor.js';
import { compareOutputs, randn, rng, runAll, testContext } from './fixtures.js';

const H = 32;
const GRAPH = onnx.AttributeProto.AttributeType.GRAPH;

/**
 * x → Loop ×3 { h ← tanh((h · W_body) · W_outer) } → If (Σx > 0) { then: h · W_then } { else: −h } → y.
 * W_body is a Constant node inside the loop body, W_outer an initializer of the main graph read from the
 * body, W_then an initializer of the then-branch; Identity nodes sit inside the body.
 */
function controlFlowModel(): Model {
  const rand = rng(17);
  const body = onnx.GraphProto.create({
    name: 'loop_body',
    input: [tensorValueInfo('i', DataType.INT64, []), tensorValueInfo('cond_in', DataType.BOOL, []), tensorValueInfo('h', FLOAT, [1, H])],
    output: [tensorValueInfo('cond_out', DataType.BOOL, []), tensorValueInfo('h_next', FLOAT, [1, H])],
    node: [
      makeNode('Identity', ['cond_in'], ['cond_out']),
      makeNode('Constant', [], ['w_body'], { attributes: [tensorAttr('value', makeTensor('', [H, H], randn(H * H, 0.3, rand)))] }),
      makeNode('MatMul', ['h', 'w_body'], ['m1'], { name: 'body_mm1' }),
      makeNode('Identity', ['m1'], ['m1_id']),
      makeNode('MatMul', ['m1_id', 'w_outer'], ['m2'], { name: 'body_mm2' }),
      makeNode('Tanh', ['m2'], ['h_next']),
    ],
  });
  const thenBranch = onnx.GraphProto.create({
    name: 'then',
    output: [tensorValueInfo('y_then', FLOAT, [1, H])],
    initializer: [makeTensor('w_then', [H, H], randn(H * H, 0.3, rand))],
    node: [makeNode('MatMul', ['h_final', 'w_then'], ['y_then'], { name: 'then_mm' })],
  });
  const elseBranch = onnx.GraphProto.create({
    name: 'else',
    output: [tensorValueInfo('y_else', FLOAT, [1, H])],
    node: [makeNode('Neg', ['h_final'], ['y_else'])],
  });
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'control_flow',
      input: [tensorValueInfo('x', FLOAT, [1, H])],
      output: [tensorValueInfo('y', FLOAT, [1, H])],
      initializer: [makeTensor('w_outer', [H, H], randn(H * H, 0.3, rand)), makeTensor('trips', [], BigInt64Array.of(3n)), makeTensor('zero', [], Float32Array.of(0))],
      node: [
        makeNode('Loop', ['trips', '', 'x'], ['h_final'], { name: 'loop', attributes: [{ name: 'body', type: GRAPH, g: body }] }),
        makeNode('ReduceSum', ['x'], ['sum'], { attributes: [intAttr('keepdims', 0)] }),
        makeNode('Greater', ['sum', 'zero'], ['positive']),
        makeNode('If', ['positive'], ['y'], { name: 'branch', attributes: [{ name: 'then_branch', type: GRAPH, g: thenBranch }, { name: 'else_branch', type: GRAPH, g: elseBranch }] }),
      ],
    },
  });
}

/** Half the feeds sum to a positive number (then-branch), half to a negative one (else-branch). */
function feeds(): Feeds[] {
  const rand = rng(3);
  return Array.from({ length: 12 }, (_, k) => ({
    x: { type: 'float32' as const, dims: [1, H], data: Float32Array.from({ length: H }, () => rand() - (k % 2 === 0 ? 0.3 : 0.7)) },
  }));
}

function bodies(m: Model): { loop: onnx.IGraphProto; then: onnx.IGraphProto; otherwise: onnx.IGraphProto } {
  const loop = m.graph!.node!.find((n) => n.opType === 'Loop')!.attribute![0]!.g!;
  const branch = m.graph!.node!.find((n) => n.opType === 'If')!;
  return { loop, then: branch.attribute!.find((a) => a.name === 'then_branch')!.g!, otherwise: branch.attribute!.find((a) => a.name === 'else_branch')!.g! };
}

const opsOf = (g: onnx.IGraphProto): string[] => (g.node ?? []).map((n) => n.opType!);

async function expectClose(original: Model, changed: Model, tolerance: number): Promise<void> {
  const f = feeds();
  const ref = await runAll(original, f);
  expect(new Set(ref.map((r) => Math.sign(r[0]!))).size).toBe(2); // both branches ran
  expect(compareOutputs(ref, await runAll(changed, f)).maxRelDiff).toBeLessThan(tolerance);
}

describe('passes inside If/Loop bodies', () => {
  it('cleanup promotes the body Constant and removes body Identity nodes; the outer weight stays outer', async () => {
    const m = controlFlowModel();
    const r = await runRecipe(m, ['cleanup'], testContext(() => []));
    checkModel(r.model);
    const { loop } = bodies(r.model);
    // The Identity from the body input to the body output must stay: it is the only thing writing cond_out.
    expect(opsOf(loop)).toEqual(['Identity', 'MatMul', 'MatMul', 'Tanh']);
    expect(loop.initializer!.map((t) => t.name)).toEqual(['w_body']);
    expect(r.model.graph!.initializer!.map((t) => t.name)).toContain('w_outer');
    expect(r.notes[0]!.changed).toBe(true);
    await expectClose(m, r.model, 1e-6);
  });

  it('dynamic quantization quantizes the MatMuls in the loop body and in the then-branch', async () => {
    const m = controlFlowModel();
    const r = await runRecipe(m, [{ quantize: { mode: 'dynamic' } }], testContext(() => []));
    checkModel(r.model);
    const { loop, then } = bodies(r.model);
    expect(opsOf(loop).filter((o) => o === 'MatMulInteger')).toHaveLength(2);
    expect(opsOf(then)).toContain('MatMulInteger');
    expect(opsOf(loop)).not.toContain('MatMul');
    // The outer weight is quantized where it is read; its float copy is gone from the main graph.
    expect(r.model.graph!.initializer!.map((t) => t.name)).not.toContain('w_outer');
    expect(r.notes[0]).toEqual({ pass: 'quantize', changed: true, why: 'quantized MatMul 3' });
    await expectClose(m, r.model, 0.05);
  });

  it('weight_only stores body weights as int8 with their DequantizeLinear inside the body', async () => {
    const m = controlFlowModel();
    const r = await runRecipe(m, [{ weight_only: {} }], testContext(() => []));
    checkModel(r.model);
    const { loop, then } = bodies(r.model);
    expect(opsOf(loop)).toContain('DequantizeLinear');
    expect(opsOf(then)).toContain('DequantizeLinear');
    expect(then.initializer!.find((t) => t.name!.startsWith('w_then'))!.dataType).toBe(DataType.INT8);
    // w_outer, read only by the Loop body, moves into it with its DequantizeLinear, so that onnxruntime folds
    // the float weight where the MatMul that reads it is (and packs it once at load).
    expect(r.notes[0]!.why).toBe('3 weights stored as int8 (2 of them in subgraphs); 1 dequantizing chain moved into the body that reads it');
    expect(opsOf(r.model.graph!)).not.toContain('DequantizeLinear');
    expect(r.model.graph!.initializer!.some((t) => t.name!.startsWith('w_outer'))).toBe(false);
    expect(loop.initializer!.find((t) => t.name!.startsWith('w_outer'))!.dataType).toBe(DataType.INT8);
    await expectClose(m, r.model, 0.05);
  });

  it('weight_only gives each branch of an If its own int8 weight, held by the body whose MatMul reads it', async () => {
    const m = (await runRecipe(sharedWeightModel(), ['cleanup'], testContext(() => []))).model;
    const r = await runRecipe(m, [{ weight_only: {} }], testContext(() => []));
    checkModel(r.model);
    const branch = r.model.graph!.node!.find((n) => n.opType === 'If')!;
    const [then, otherwise] = ['then_branch', 'else_branch'].map((a) => branch.attribute!.find((x) => x.name === a)!.g!);
    expect(opsOf(r.model.graph!)).not.toContain('DequantizeLinear');
    for (const body of [then!, otherwise!]) {
      const dq = body.node!.find((n) => n.opType === 'DequantizeLinear')!;
      expect(body.initializer!.find((t) => t.name === dq.input![0])!.dataType).toBe(DataType.INT8);
      expect(body.node!.find((n) => n.opType === 'MatMul')!.input![1]).toBe(dq.output![0]);
    }
    await expectClose(m, r.model, 0.05);
  });

  it('fp16 converts the bodies to float16 with float32 at their boundary', async () => {
    const m = controlFlowModel();
    const r = await runRecipe(m, ['fp16'], testContext(() => []));
    checkModel(r.model);
    const { then } = bodies(r.model);
    expect(then.initializer!.find((t) => t.name === 'w_then')!.dataType).toBe(DataType.FLOAT16);
    expect(opsOf(then)).toEqual(['Cast', 'MatMul', 'Cast']);
    expect(r.notes[0]!.why).toMatch(/subgraph bodies converted inside/);
    await expectClose(m, r.model, 1e-2);
  });
});

/**
 * One weight of the main graph, transposed in both branches of an If (as silero-vad's LSTM weights are
 * Unsqueezed in both branches): then = |x · Wᵀ| + 1, else = −(|x · Wᵀ| + 1).
 */
function sharedWeightModel(): Model {
  const rand = rng(23);
  const branch = (name: string, negate: boolean) => {
    const t = (s: string) => `${name}_${s}`;
    return onnx.GraphProto.create({
      name,
      output: [tensorValueInfo(t('y'), FLOAT, [1, H])],
      node: [
        makeNode('Transpose', ['w_src'], [t('wt')], { attributes: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0] }] }),
        makeNode('MatMul', ['x', t('wt')], [t('m')], { name: t('mm') }),
        makeNode('Abs', [t('m')], [t('a')]),
        makeNode('Add', [t('a'), 'one'], [negate ? t('p') : t('y')]),
        ...(negate ? [makeNode('Neg', [t('p')], [t('y')])] : []),
      ],
    });
  };
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'shared_weight',
      input: [tensorValueInfo('x', FLOAT, [1, H])],
      output: [tensorValueInfo('y', FLOAT, [1, H])],
      initializer: [makeTensor('w_src', [H, H], randn(H * H, 0.3, rand)), makeTensor('zero', [], Float32Array.of(0)), makeTensor('one', [], Float32Array.of(1))],
      node: [
        makeNode('ReduceSum', ['x'], ['sum'], { attributes: [intAttr('keepdims', 0)] }),
        makeNode('Greater', ['sum', 'zero'], ['positive']),
        makeNode('If', ['positive'], ['y'], { name: 'branch', attributes: [{ name: 'then_branch', type: GRAPH, g: branch('then', false) }, { name: 'else_branch', type: GRAPH, g: branch('else', true) }] }),
      ],
    },
  });
}

describe('weights shared by several bodies', () => {
  it('cleanup leaves a weight each branch\'s MatMul reads in the branch, and the file does not grow', async () => {
    const m = sharedWeightModel();
    const r = await runRecipe(m, ['cleanup'], testContext(() => []));
    checkModel(r.model);
    const branch = r.model.graph!.node!.find((n) => n.opType === 'If')!;
    const [then, otherwise] = ['then_branch', 'else_branch'].map((a) => branch.attribute!.find((x) => x.name === a)!.g!);
    // Sharing the folded weight through the main graph would make it an implicit input of each MatMul on
    // every run (not packed at load), and one folded copy per branch makes the file bigger: the branches keep
    // their Transpose of the main graph's weight, as in the input, which onnxruntime folds into each at load.
    for (const body of [then!, otherwise!]) {
      const mm = body.node!.find((n) => n.opType === 'MatMul')!;
      const producer = body.node!.find((n) => n.output!.includes(mm.input![1]!));
      const held = (body.initializer ?? []).some((t) => t.name === mm.input![1]);
      expect(held || producer?.opType === 'Transpose').toBe(true);
    }
    expect(r.model.graph!.initializer!.filter((t) => t.dims!.length === 2).map((t) => t.name)).not.toContain(then!.node!.find((n) => n.opType === 'MatMul')!.input![1]);
    expect(encodeModel(r.model).length).toBeLessThanOrEqual(encodeModel(m).length);
    await expectClose(m, r.model, 1e-6);
  });

  it('auto sees weights and ops that sit only in bodies', async () => {
    const a = analyzeModel(sharedWeightModel());
    expect(a.opCounts.MatMul).toBe(2);
    expect(a.largeWeights).toEqual({ Transpose: H * H });
    const cleaned = (await runRecipe(sharedWeightModel(), ['cleanup'], testContext(() => []))).model;
    const b = analyzeModel(cleaned, undefined, true);
    // cleanup leaves each branch's Transpose of the weight (see above); the MatMuls it feeds are counted.
    expect(b.largeWeights).toEqual({ Transpose: H * H });
    expect(b.opCounts.MatMul).toBe(2);
    const plan = planTrials(b, { avx2: true, avx512_vnni: true });
    expect(plan.planned.map((p) => p.family)).toContain('weight_only');
  });
});
