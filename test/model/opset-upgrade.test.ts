/** upgradeOpset against onnxruntime: models at old opsets, built here, give the same outputs after the upgrade. */
import { describe, expect, it } from 'vitest';
import Long from 'long';
import { encodeModel, onnx, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { checkModel, floatAttr, floatsAttr, intAttr, intsAttr, makeNode, opsetVersion, stringAttr, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { OrtSession } from '../../src/runtime/session.js';
import { upgradeOpset } from '../../src/passes/upgrade-opset.js';
import { quantizeDynamic } from '../../src/passes/quantize-dynamic.js';
import { ModelGateError } from '../../src/errors.js';
import type { Feeds } from '../../src/model/host-tensor.js';
import { buildMlp, compareOutputs, randn, randomFeeds, rng, runAll, testContext } from '../passes/fixtures.js';

const X_DIMS = [2, 3, 4, 6];

function build(opset: number, node: onnx.INodeProto[], outputs: string[], initializer: onnx.ITensorProto[] = [], graphs?: Partial<onnx.IGraphProto>): Model {
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(opset < 9 ? 3 : 6),
    opsetImport: [{ domain: '', version: Long.fromNumber(opset) }],
    graph: {
      name: `opset${opset}`,
      node,
      initializer,
      input: [tensorValueInfo('x', FLOAT, X_DIMS)],
      output: outputs.map((name) => onnx.ValueInfoProto.create({ name })),
      ...graphs,
    },
  });
}

async function runAllOutputs(m: Model, feeds: Feeds): Promise<Record<string, Float32Array | BigInt64Array>> {
  const s = await OrtSession.create(encodeModel(m), { graphOptimizationLevel: 'disabled' });
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

function feedX(seed = 5): Feeds {
  const rand = rng(seed);
  return { x: { type: 'float32', dims: X_DIMS, data: randn(X_DIMS.reduce((a, b) => a * b, 1), 1, rand) } };
}

/** Runs the model before and after the upgrade and expects every output to match exactly (or to 1e-6). */
async function expectSameOutputs(m: Model, feeds = feedX()): Promise<Model> {
  const before = await runAllOutputs(m, feeds);
  const { model: up, from, to } = await upgradeOpset(m);
  expect([from, to]).toEqual([opsetVersion(m), 13]);
  expect(opsetVersion(up)).toBe(13);
  checkModel(up);
  const after = await runAllOutputs(up, feeds);
  expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
  for (const [name, ref] of Object.entries(before)) {
    const got = after[name]!;
    expect(got.length, name).toBe(ref.length);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(Number(ref[i]) - Number(got[i])));
    expect(worst, `output '${name}'`).toBeLessThan(1e-6);
  }
  return up;
}

const ops = (m: Model): string[] => (m.graph!.node ?? []).map((n) => n.opType!);

describe('upgradeOpset', () => {
  it('opset 9: Clip, Slice, Pad, TopK, Softmax family, ReduceSum, (Un)Squeeze, Split, Dropout, Upsample keep their outputs', async () => {
    const m = build(9, [
      makeNode('Clip', ['x'], ['clip'], { attributes: [floatAttr('min', -0.3), floatAttr('max', 0.4)] }),
      makeNode('Clip', ['x'], ['clip_lo'], { attributes: [floatAttr('min', 0)] }),
      makeNode('Slice', ['x'], ['slice'], { attributes: [intsAttr('starts', [0, 1]), intsAttr('ends', [2, 3]), intsAttr('axes', [1, 2])] }),
      makeNode('Pad', ['x'], ['pad'], { attributes: [intsAttr('pads', [0, 0, 1, 2, 0, 0, 1, 0]), floatAttr('value', 1.5)] }),
      makeNode('Pad', ['x'], ['pad_reflect'], { attributes: [intsAttr('pads', [0, 0, 1, 1, 0, 0, 1, 1]), stringAttr('mode', 'reflect')] }),
      makeNode('TopK', ['x'], ['topk_values', 'topk_indices'], { attributes: [intAttr('k', 2)] }),
      makeNode('Softmax', ['x'], ['softmax'], { name: 'softmax_axis1', attributes: [intAttr('axis', 1)] }),
      makeNode('Softmax', ['x'], ['softmax_default']),
      makeNode('LogSoftmax', ['x'], ['logsoftmax'], { attributes: [intAttr('axis', 3)] }),
      makeNode('Hardmax', ['x'], ['hardmax'], { attributes: [intAttr('axis', 2)] }),
      makeNode('ReduceSum', ['x'], ['reducesum'], { attributes: [intsAttr('axes', [1, 3]), intAttr('keepdims', 0)] }),
      makeNode('Unsqueeze', ['x'], ['unsqueezed'], { attributes: [intsAttr('axes', [0, 5])] }),
      makeNode('Squeeze', ['unsqueezed'], ['squeezed'], { attributes: [intsAttr('axes', [0])] }),
      makeNode('Split', ['x'], ['split_a', 'split_b'], { attributes: [intAttr('axis', 3), intsAttr('split', [2, 4])] }),
      makeNode('Dropout', ['x'], ['dropout'], { attributes: [floatAttr('ratio', 0.2)] }),
      makeNode('Upsample', ['x', 'scales'], ['upsample_nearest']),
      makeNode('Upsample', ['x', 'scales'], ['upsample_linear'], { attributes: [stringAttr('mode', 'linear')] }),
      makeNode('BatchNormalization', ['x', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], ['bn']),
    ], [
      'clip', 'clip_lo', 'slice', 'pad', 'pad_reflect', 'topk_values', 'topk_indices', 'softmax', 'softmax_default', 'logsoftmax', 'hardmax',
      'reducesum', 'squeezed', 'split_a', 'split_b', 'dropout', 'upsample_nearest', 'upsample_linear', 'bn',
    ], [
      makeTensor('scales', [4], Float32Array.of(1, 1, 2, 3)),
      makeTensor('bn_s', [3], Float32Array.of(0.5, 1, 2)), makeTensor('bn_b', [3], Float32Array.of(0.1, 0, -0.1)),
      makeTensor('bn_m', [3], Float32Array.of(0, 0.2, -0.3)), makeTensor('bn_v', [3], Float32Array.of(1, 0.5, 2)),
    ]);
    const up = await expectSameOutputs(m);
    expect(Buffer.from(encodeModel((await upgradeOpset(m)).model)).equals(Buffer.from(encodeModel(up)))).toBe(true);
    // Softmax over axis 1 of a rank-4 tensor keeps its old 2-D meaning through Flatten → Softmax → Reshape.
    expect(ops(up)).toEqual(expect.arrayContaining(['Flatten', 'Reshape', 'Resize']));
    expect(ops(up)).not.toContain('Upsample');
    const clip = up.graph!.node!.find((n) => n.output![0] === 'clip')!;
    expect(clip.input).toHaveLength(3);
    expect(clip.attribute ?? []).toHaveLength(0);
  });

  it('opset 7: Upsample scales attribute, BatchNormalization spatial=1, Dropout', async () => {
    const m = build(7, [
      makeNode('Upsample', ['x'], ['up'], { attributes: [floatsAttr('scales', [1, 1, 2, 2])] }),
      makeNode('BatchNormalization', ['x', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], ['bn'], { attributes: [intAttr('spatial', 1), floatAttr('epsilon', 1e-3)] }),
      makeNode('Dropout', ['bn'], ['out'], { attributes: [floatAttr('ratio', 0.5)] }),
    ], ['up', 'out'], [
      makeTensor('bn_s', [3], Float32Array.of(0.5, 1, 2)), makeTensor('bn_b', [3], Float32Array.of(0.1, 0, -0.1)),
      makeTensor('bn_m', [3], Float32Array.of(0, 0.2, -0.3)), makeTensor('bn_v', [3], Float32Array.of(1, 0.5, 2)),
    ]);
    const up = await expectSameOutputs(m);
    expect(up.graph!.node!.find((n) => n.opType === 'BatchNormalization')!.attribute!.map((a) => a.name)).toEqual(['epsilon']);
  });

  it('opset 10: Resize shrinking (nearest) and enlarging (linear) keeps the asymmetric sampling of Resize-10', async () => {
    const m = build(10, [
      makeNode('Resize', ['x', 'down'], ['down_nearest'], { attributes: [stringAttr('mode', 'nearest')] }),
      makeNode('Resize', ['x', 'up'], ['up_linear'], { attributes: [stringAttr('mode', 'linear')] }),
      makeNode('Resize', ['x', 'up'], ['up_nearest']),
      makeNode('Resize', ['x', 'down'], ['down_linear'], { attributes: [stringAttr('mode', 'linear')] }),
    ], ['down_nearest', 'up_linear', 'up_nearest', 'down_linear'], [makeTensor('down', [4], Float32Array.of(1, 1, 0.5, 0.5)), makeTensor('up', [4], Float32Array.of(1, 1, 1.5, 2))]);
    const up = await expectSameOutputs(m);
    expect(up.graph!.node!.map((n) => n.attribute!.find((a) => a.name === 'nearest_mode')?.s).map((s) => (s ? Buffer.from(s).toString() : undefined)))
      .toEqual(['ceil', undefined, 'floor', undefined]);
  });

  it('opset 6: legacy broadcast along an axis and a per-channel PRelu slope', async () => {
    const m = build(6, [
      makeNode('Add', ['x', 'bias'], ['add'], { attributes: [intAttr('broadcast', 1), intAttr('axis', 1)] }),
      makeNode('Mul', ['add', 'scale'], ['mul'], { attributes: [intAttr('broadcast', 1)] }),
      makeNode('PRelu', ['mul', 'slope'], ['out']),
    ], ['out'], [makeTensor('bias', [3], Float32Array.of(1, -2, 3)), makeTensor('scale', [6], randn(6, 1, rng(3))), makeTensor('slope', [3], Float32Array.of(0.1, 0.2, 0.3))]);
    // onnxruntime has no opset-6 Add kernel with those attributes: check against the math directly.
    const { model: up } = await upgradeOpset(m);
    checkModel(up);
    const feeds = feedX(9);
    const got = (await runAllOutputs(up, feeds)).out as Float32Array;
    const x = feeds.x!.data as Float32Array;
    const scale = randn(6, 1, rng(3));
    const [bias, slope] = [[1, -2, 3], [0.1, 0.2, 0.3]];
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / 24) % 3;
      const v = Math.fround(Math.fround(x[i]! + bias[c]!) * scale[i % 6]!);
      worst = Math.max(worst, Math.abs((v < 0 ? Math.fround(v * slope[c]!) : v) - got[i]!));
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('upgrades inside a Loop body (Unsqueeze axes) and keeps the loop outputs', async () => {
    const body = onnx.GraphProto.create({
      name: 'body',
      input: [tensorValueInfo('i', onnx.TensorProto.DataType.INT64, []), tensorValueInfo('cond', onnx.TensorProto.DataType.BOOL, []), tensorValueInfo('acc', FLOAT, X_DIMS)],
      output: [tensorValueInfo('cond_out', onnx.TensorProto.DataType.BOOL, []), tensorValueInfo('acc_out', FLOAT, X_DIMS), tensorValueInfo('scan_out', FLOAT, [1, ...X_DIMS])],
      node: [
        makeNode('Identity', ['cond'], ['cond_out']),
        makeNode('Add', ['acc', 'x'], ['acc_out']),
        makeNode('Unsqueeze', ['acc_out'], ['scan_out'], { name: 'body_unsqueeze', attributes: [intsAttr('axes', [0])] }),
      ],
    });
    const m = build(11, [makeNode('Loop', ['trips', ''], ['final', 'stacked'], { name: 'loop', attributes: [{ name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body }] })],
      ['final', 'stacked'], [makeTensor('trips', [], BigInt64Array.of(3n))]);
    m.graph!.node![0]!.input = ['trips', '', 'x'];
    const up = await expectSameOutputs(m);
    const inner = up.graph!.node![0]!.attribute![0]!.g!;
    expect(inner.node!.find((n) => n.opType === 'Unsqueeze')!.input).toHaveLength(2);
  });

  it('ImageScaler (experimental, removed at 10) becomes Mul + Add', async () => {
    const m = build(8, [makeNode('ImageScaler', ['x'], ['y'], { attributes: [floatAttr('scale', 2), floatsAttr('bias', [1, 2, 3])] })], ['y']);
    const { model: up, rewritten } = await upgradeOpset(m);
    expect(rewritten).toEqual({ ImageScaler: 1 });
    expect(ops(up)).toEqual(['Mul', 'Add']);
    const feeds = feedX(2);
    const got = (await runAllOutputs(up, feeds)).y as Float32Array;
    const x = feeds.x!.data as Float32Array;
    for (const i of [0, 30, 50, 143]) expect(got[i]).toBeCloseTo(x[i]! * 2 + [1, 2, 3][Math.floor(i / 24) % 3]!, 5);
  });

  it('refuses what it cannot carry over, naming the node and op', async () => {
    const scan8 = build(8, [makeNode('Scan', ['', 'x'], ['y'], { name: 'old_scan', attributes: [intAttr('num_scan_inputs', 1)] })], ['y']);
    await expect(upgradeOpset(scan8)).rejects.toThrow(/node 'old_scan' \(Scan\): Scan-8 is upgraded only with a batch of 1, and 'x'/);
    const crop = build(9, [makeNode('Crop', ['x'], ['y'], { name: 'crop1' })], ['y']);
    await expect(upgradeOpset(crop)).rejects.toThrow(/node 'crop1' \(Crop\): Crop was an experimental op/);
    const old = build(5, [makeNode('Relu', ['x'], ['y'])], ['y']);
    await expect(upgradeOpset(old)).rejects.toThrow(ModelGateError);
    await expect(upgradeOpset(old)).rejects.toThrow(/opset 5; only opsets 6 to 12/);
  });

  it('returns a model already at opset 13 as it is', async () => {
    const m = build(13, [makeNode('Relu', ['x'], ['y'])], ['y']);
    const r = await upgradeOpset(m);
    expect(r.model).toBe(m);
    expect(r.rewritten).toEqual({});
  });

  it('dynamic quantization upgrades an opset-9 model itself instead of refusing it', async () => {
    const mlp = buildMlp();
    mlp.opsetImport = [{ domain: '', version: Long.fromNumber(9) }];
    const log: string[] = [];
    const q = await quantizeDynamic(mlp, { mode: 'dynamic' }, testContext(() => [], log));
    expect(opsetVersion(q)).toBe(13);
    expect(log.join('\n')).toMatch(/upgraded the model from opset 9 to 13/);
    expect(ops(q)).toContain('MatMulInteger');
    const feeds = randomFeeds('x', [1, 784], 16, 4);
    expect(compareOutputs(await runAll(mlp, feeds), await runAll(q, feeds)).maxRelDiff).toBeLessThan(0.05);
  });
});
