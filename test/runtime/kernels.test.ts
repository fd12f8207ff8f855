import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../src/model/onnx.js';
import { kernelSignature } from '../../src/runtime/kernels.js';
import { weightOnlyPass } from '../../src/passes/weight-only.js';
import { quantizePass } from '../../src/passes/quantize.js';
import { buildCnn, randomFeeds, testContext } from '../passes/fixtures.js';

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
