/**
 * Weights wherever exporters put them (Constant nodes, a Transpose/Reshape/Cast/Identity/Unsqueeze of an
 * initializer, ConstantOfShape) are found by a plain quantize, and every pass says when it changed nothing.
 */
import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { checkModel, intAttr, intsAttr, makeNode, tensorAttr, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { runRecipe } from '../../src/passes/registry.js';
import { cleanupPass } from '../../src/passes/cleanup.js';
import { compareOutputs, opTypes, randn, randomFeeds, rng, runAll, testContext } from './fixtures.js';

const F = onnx.TensorProto.DataType;

/** x[N,64] → MatMul(Constant W1) → MatMul(Transpose(W2ᵀ)) → Gemm(Reshape(flat W3), bias from ConstantOfShape) → MatMul(Cast(Identity(W4))). */
function scatteredWeights(): Model {
  const rand = rng(21);
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'scattered',
      input: [tensorValueInfo('x', FLOAT, ['N', 64])],
      output: [tensorValueInfo('y', FLOAT, ['N', 16])],
      initializer: [
        makeTensor('w2_t', [48, 64], randn(48 * 64, 0.2, rand)),
        makeTensor('w3_flat', [48 * 32], randn(48 * 32, 0.2, rand)),
        makeTensor('w3_shape', [2], BigInt64Array.of(48n, 32n)),
        makeTensor('w4_f64', [32, 16], Float64Array.from(randn(32 * 16, 0.2, rand))),
        makeTensor('bias_shape', [1], BigInt64Array.of(32n)),
        makeTensor('w4_axes', [1], BigInt64Array.of(0n)),
      ],
      node: [
        makeNode('Constant', [], ['w1'], { attributes: [tensorAttr('value', makeTensor('', [64, 64], randn(64 * 64, 0.2, rand)))] }),
        makeNode('MatMul', ['x', 'w1'], ['h1'], { name: 'mm1' }),
        makeNode('Transpose', ['w2_t'], ['w2'], { attributes: [intsAttr('perm', [1, 0])] }),
        makeNode('MatMul', ['h1', 'w2'], ['h2'], { name: 'mm2' }),
        makeNode('Reshape', ['w3_flat', 'w3_shape'], ['w3']),
        makeNode('ConstantOfShape', ['bias_shape'], ['b3'], { attributes: [tensorAttr('value', makeTensor('', [1], Float32Array.of(0.25)))] }),
        makeNode('Gemm', ['h2', 'w3', 'b3'], ['h3'], { name: 'gemm3' }),
        makeNode('Identity', ['w4_f64'], ['w4_id']),
        makeNode('Cast', ['w4_id'], ['w4_2d'], { attributes: [intAttr('to', F.FLOAT)] }),
        makeNode('Unsqueeze', ['w4_2d', 'w4_axes'], ['w4_3d']),
        makeNode('Squeeze', ['w4_3d', 'w4_axes'], ['w4']),
        makeNode('MatMul', ['h3', 'w4'], ['y'], { name: 'mm4' }),
      ],
    },
  });
}

describe('weights wherever they sit', () => {
  it('a plain quantize {mode: dynamic} quantizes Constant, transposed, reshaped, cast and ConstantOfShape-fed weights', async () => {
    const m = scatteredWeights();
    const log: string[] = [];
    const r = await runRecipe(m, [{ quantize: { mode: 'dynamic' } }], testContext(() => [], log));
    checkModel(r.model);
    expect(opTypes(r.model).filter((o) => o === 'MatMulInteger')).toHaveLength(4);
    for (const op of ['Constant', 'Transpose', 'Reshape', 'ConstantOfShape', 'Squeeze', 'Unsqueeze']) expect(opTypes(r.model)).not.toContain(op);
    expect(r.notes).toEqual([{ pass: 'quantize', changed: true, why: 'quantized MatMul 3, Gemm 1' }]);
    expect(log.join('\n')).toMatch(/1 Constant nodes and \d+ constant expressions became initializers first/);
    const feeds = randomFeeds('x', [1, 64], 16, 8);
    expect(compareOutputs(await runAll(m, feeds), await runAll(r.model, feeds)).maxRelDiff).toBeLessThan(0.05);
  });

  it('the mnist-8 layout (opset 8, dense weight behind a Reshape of a 4-D initializer) is upgraded and quantized', async () => {
    const rand = rng(8);
    const m = onnx.ModelProto.create({
      irVersion: Long.fromNumber(3),
      opsetImport: [{ domain: '', version: Long.fromNumber(8) }],
      graph: {
        name: 'mnist8_like',
        input: [tensorValueInfo('Input3', FLOAT, [1, 1, 28, 28])],
        output: [tensorValueInfo('Plus214_Output_0', FLOAT, [1, 10])],
        initializer: [
          makeTensor('Parameter5', [8, 1, 5, 5], randn(200, 0.3, rand)),
          makeTensor('Parameter6', [8, 1, 1], randn(8, 0.1, rand)),
          makeTensor('Parameter193', [8, 14, 14, 10], randn(8 * 196 * 10, 0.05, rand)),
          makeTensor('Parameter193_reshape1_shape', [2], BigInt64Array.of(1568n, 10n)),
          makeTensor('Pooling_shape', [2], BigInt64Array.of(1n, 1568n)),
          makeTensor('Parameter194', [1, 10], randn(10, 0.1, rand)),
        ],
        node: [
          makeNode('Reshape', ['Parameter193', 'Parameter193_reshape1_shape'], ['Parameter193_reshape1']),
          makeNode('Conv', ['Input3', 'Parameter5'], ['Convolution28_Output_0'], { attributes: [intsAttr('kernel_shape', [5, 5]), intsAttr('pads', [2, 2, 2, 2])] }),
          makeNode('Add', ['Convolution28_Output_0', 'Parameter6'], ['Plus30_Output_0']),
          makeNode('Relu', ['Plus30_Output_0'], ['ReLU32_Output_0']),
          makeNode('MaxPool', ['ReLU32_Output_0'], ['Pooling66_Output_0'], { attributes: [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])] }),
          makeNode('Reshape', ['Pooling66_Output_0', 'Pooling_shape'], ['Pooling66_Output_0_reshape0']),
          makeNode('MatMul', ['Pooling66_Output_0_reshape0', 'Parameter193_reshape1'], ['Times212_Output_0']),
          makeNode('Add', ['Times212_Output_0', 'Parameter194'], ['Plus214_Output_0']),
        ],
      },
    });
    // IR 3 lists every initializer as an input too, as the zoo files do.
    m.graph!.input!.push(...m.graph!.initializer!.map((t) => tensorValueInfo(t.name!, t.dataType!, t.dims!.map(Number))));
    const log: string[] = [];
    const r = await runRecipe(m, [{ quantize: { mode: 'dynamic' } }], testContext(() => [], log));
    expect(r.notes[0]).toEqual({ pass: 'quantize', changed: true, why: 'quantized MatMul 1' });
    expect(log.join('\n')).toMatch(/upgraded the model from opset 8 to 13/);
    const feeds = randomFeeds('Input3', [1, 1, 28, 28], 8, 5);
    expect(compareOutputs(await runAll(m, feeds), await runAll(r.model, feeds)).maxRelDiff).toBeLessThan(0.05);
  });

  it('weight_only finds them too', async () => {
    const m = scatteredWeights();
    const r = await runRecipe(m, [{ weight_only: { min_elements: 256 } }], testContext(() => []));
    expect(opTypes(r.model).filter((o) => o === 'DequantizeLinear')).toHaveLength(4);
    expect(r.notes[0]).toEqual({ pass: 'weight_only', changed: true, why: '4 weights stored as int8' });
  });

  it('every pass says when it changed nothing, and why', async () => {
    const relu = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'tiny', input: [tensorValueInfo('x', FLOAT, ['N', 4])], output: [tensorValueInfo('y', FLOAT, ['N', 4])],
        initializer: [makeTensor('w', [4, 4], randn(16, 1, rng(1)))],
        node: [makeNode('MatMul', ['x', 'w'], ['h']), makeNode('Relu', ['h'], ['y'])],
      },
    });
    const ctx = testContext(() => []);
    const r = await runRecipe(relu, ['cleanup', { quantize: { mode: 'dynamic', op_types: ['Conv'] } }, { weight_only: {} }, 'fp16'], ctx);
    expect(r.notes).toEqual([
      { pass: 'cleanup', changed: false, why: 'no Constant node, Identity/Dropout, foldable BatchNormalization, fusable chain, constant expression or dead node' },
      { pass: 'quantize', changed: false, why: 'no Conv node to quantize' },
      { pass: 'weight_only', changed: false, why: 'no float32 initializer with at least 1024 elements' },
      { pass: 'fp16', changed: true, why: '1 initializers to float16' },
    ]);
    // A MatMul whose weight is a graph input has nothing constant to quantize: the reason names it.
    const dynamicWeight = onnx.ModelProto.create({
      ...relu,
      graph: { ...relu.graph, initializer: [], input: [...relu.graph!.input!, tensorValueInfo('w', FLOAT, [4, 4])] },
    });
    const q = await runRecipe(dynamicWeight, [{ quantize: { mode: 'dynamic' } }], ctx);
    expect(q.notes[0]!.changed).toBe(false);
    expect(q.notes[0]!.why).toMatch(/no MatMul node has a constant float32 weight it can quantize \(MatMul → 'h': weight 'w' is not a float32 initializer\)/);
  });

  it('cleanup folds Shape of a fully known shape, so a Reshape target computed from it folds too', async () => {
    const rand = rng(5);
    const m = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'shapes', input: [tensorValueInfo('x', FLOAT, [1, 8])], output: [tensorValueInfo('y', FLOAT, [1, 4])],
        initializer: [makeTensor('w_flat', [32], randn(32, 1, rand)), makeTensor('minus1', [1], BigInt64Array.of(-1n)), makeTensor('one', [], BigInt64Array.of(1n))],
        node: [
          makeNode('Shape', ['x'], ['xs']),
          makeNode('Gather', ['xs', 'one'], ['k']),
          makeNode('Unsqueeze', ['k', 'zero_axes'], ['k1']),
          makeNode('Concat', ['k1', 'minus1'], ['w_shape'], { attributes: [intAttr('axis', 0)] }),
          makeNode('Reshape', ['w_flat', 'w_shape'], ['w']),
          makeNode('MatMul', ['x', 'w'], ['y']),
        ],
      },
    });
    m.graph!.initializer!.push(makeTensor('zero_axes', [1], BigInt64Array.of(0n)));
    const c = await cleanupPass.run(m, {}, testContext(() => []));
    expect(opTypes(c)).toEqual(['MatMul']);
    const feeds = randomFeeds('x', [1, 8], 4, 2);
    expect(compareOutputs(await runAll(m, feeds), await runAll(c, feeds)).maxRelDiff).toBeLessThan(1e-6);
  });
});
