import { describe, expect, it } from 'vitest';
import Long from 'long';
import { encodeModel, onnx, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { FLOAT, intAttr, makeNode, tensorValueInfo } from '../../src/model/graph.js';
import { kernelSignature } from '../../src/runtime/kernels.js';
import { weightOnlyPass } from '../../src/passes/weight-only.js';
import { quantizePass } from '../../src/passes/quantize.js';
import { buildCnn, randn, randomFeeds, rng, testContext } from '../passes/fixtures.js';

const QDQ_OFF = { configEntries: { 'session.disable_quant_qdq': '1' } };

describe('kernelSignature: what onnxruntime runs', () => {
  it('int8 weights folded at load run the reference\'s kernels; int8 compute, other weights kept as DequantizeLinear, or other shapes do not', async () => {
    const ref = buildCnn();
    const ctx = testContext((n) => randomFeeds('Input3', [1, 1, 28, 28], n, 3));
    const wo = await weightOnlyPass.run(ref, {}, ctx);
    const refSig = await kernelSignature(encodeModel(ref), {});
    // Deterministic, and blind to weight values.
    expect(await kernelSignature(encodeModel(ref), {})).toBe(refSig);
    expect(await kernelSignature(encodeModel(buildCnn({ seed: 7 })), {})).toBe(refSig);
    // weight_only with the session option it needs: the DequantizeLinear folds, the session is fp32's.
    expect(await kernelSignature(encodeModel(wo), QDQ_OFF)).toBe(refSig);
    // Without it onnxruntime keeps the DequantizeLinear nodes (or fuses them): other kernels.
    expect(await kernelSignature(encodeModel(wo), {})).not.toBe(refSig);
    // Static int8: QLinear kernels.
    const q = await quantizePass.run(ref, { mode: 'static', op_types: ['Conv'] }, ctx);
    expect(await kernelSignature(encodeModel(q), {})).not.toBe(refSig);
    // The same ops on other shapes: a transposed dense weight changes the Gemm.
    expect(await kernelSignature(encodeModel(buildCnn({ transB: false })), {})).not.toBe(refSig);
  });
});

describe('kernelSignature: If/Loop/Scan bodies', () => {
  const H = 8;
  const rand = rng(5);
  const w = randn(H * H, 0.3, rand);
  /** y = If(x sums > 0) then x·W else −x, with W held by the then-body or read from the main graph. */
  const ifModel = (weightInBody: boolean, opType = 'MatMul'): Model => {
    const thenBranch = onnx.GraphProto.create({
      name: 'then',
      output: [tensorValueInfo('y_then', FLOAT, [1, H])],
      initializer: weightInBody ? [makeTensor('w', [H, H], w)] : [],
      node: [makeNode(opType, ['x', 'w'], ['y_then'])],
    });
    const elseBranch = onnx.GraphProto.create({ name: 'else', output: [tensorValueInfo('y_else', FLOAT, [1, H])], node: [makeNode('Neg', ['x'], ['y_else'])] });
    return onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'if_weight',
        input: [tensorValueInfo('x', FLOAT, [1, H])],
        output: [tensorValueInfo('y', FLOAT, [1, H])],
        initializer: [...(weightInBody ? [] : [makeTensor('w', [H, H], w)]), makeTensor('zero', [], Float32Array.of(0))],
        node: [
          makeNode('ReduceSum', ['x'], ['sum'], { attributes: [intAttr('keepdims', 0)] }),
          makeNode('Greater', ['sum', 'zero'], ['positive']),
          makeNode('If', ['positive'], ['y'], { attributes: [
            { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: thenBranch },
            { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: elseBranch },
          ] }),
        ],
      },
    });
  };

  it('reads the bodies: another op in a body, or a weight read from the enclosing graph instead of held, is another signature', async () => {
    const held = await kernelSignature(encodeModel(ifModel(true)), {});
    expect(await kernelSignature(encodeModel(ifModel(true)), {})).toBe(held);
    expect(await kernelSignature(encodeModel(ifModel(true, 'Add')), {})).not.toBe(held);
    expect(await kernelSignature(encodeModel(ifModel(false)), {})).not.toBe(held);
  });
});
