/**
 * ONNX → TFLite → run in the real TFLite runtime → compare with onnxruntime, for each op of the export
 * subset (alone or in the smallest graph that exercises it), then the four variants on a small CNN.
 */
import { describe, expect, it } from 'vitest';
import { buildModel, compareExport, float, int, ints, node, randomFeeds, smallCnn, type GraphSpec } from './fixtures.js';
import { makeTensor } from '../../src/model/tensor.js';
import { exportTflite } from '../../src/export/tflite/export.js';
import { decodeTflite } from '../../src/formats/tflite/flatbuffer.js';
import { Op, TensorType } from '../../src/formats/tflite/schema.js';
import { TfliteSession } from '../../src/runtime/tflite.js';

const F32 = { quantize: 'float32' as const };

/** float32 exports must match onnxruntime to float rounding: 1e-5 relative to the output scale. */
async function expectFloatMatch(spec: Parameters<typeof buildModel>[0]): Promise<void> {
  const r = await compareExport(buildModel(spec), F32, spec.inputs);
  expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-5 * Math.max(1, r.scale));
}

const conv = (x: string, w: string, b: string, out: string, attrs: ReturnType<typeof int>[] = []) =>
  node('Conv', [x, w, b], [out], { name: out, attributes: [ints('kernel_shape', [3, 3]), ...attrs] });

describe('TFLite export: each op round-trips (float32, max |Δ| ≤ 1e-5 × scale)', () => {
  it('Conv with SAME-equivalent pads and a fused Relu', () =>
    expectFloatMatch({ inputs: { x: [1, 3, 8, 8] }, outputs: ['y'], inits: { w: [[8, 3, 3, 3]], b: [[8]] }, nodes: [conv('x', 'w', 'b', 'c', [ints('pads', [1, 1, 1, 1])]), node('Relu', ['c'], ['y'])] }));

  it('Conv, stride 2 with pads that are not SAME (explicit PAD), and dilation 2', () =>
    expectFloatMatch({
      inputs: { x: [1, 3, 9, 9] }, outputs: ['y', 'z'], inits: { w: [[4, 3, 3, 3]], b: [[4]], w2: [[4, 3, 3, 3]], b2: [[4]] },
      nodes: [conv('x', 'w', 'b', 'y', [ints('pads', [1, 1, 1, 1]), ints('strides', [2, 2])]), conv('x', 'w2', 'b2', 'z', [ints('dilations', [2, 2])])],
    }));

  it('depthwise Conv (group = channels, multiplier 2) with Clip(0, 6) fused as RELU6', () =>
    expectFloatMatch({
      inputs: { x: [1, 4, 6, 6] }, outputs: ['y'], inits: { w: [[8, 1, 3, 3]], b: [[8]], lo: [[], Float32Array.of(0)], hi: [[], Float32Array.of(6)] },
      nodes: [conv('x', 'w', 'b', 'c', [ints('pads', [1, 1, 1, 1]), int('group', 4)]), node('Clip', ['c', 'lo', 'hi'], ['y'])],
    }));

  it('Gemm (transB 0, alpha, beta) and MatMul on a 3-D input', () =>
    expectFloatMatch({
      inputs: { a: [2, 16], m: [1, 4, 16] }, outputs: ['g', 'mm'], inits: { w: [[16, 8]], c: [[8]], w2: [[16, 5]] },
      nodes: [node('Gemm', ['a', 'w', 'c'], ['g'], { attributes: [float('alpha', 0.5), float('beta', 2)] }), node('MatMul', ['m', 'w2'], ['mm'])],
    }));

  it('Add, Sub, Mul: per-channel constants on an NHWC activation, and two activations', () =>
    expectFloatMatch({
      inputs: { x: [1, 3, 5, 5] }, outputs: ['y'], inits: { w: [[4, 3, 3, 3]], b: [[4]], w2: [[4, 3, 3, 3]], b2: [[4]], k: [[4, 1, 1]], m: [[1, 4, 1, 1]], s: [[]] },
      nodes: [
        conv('x', 'w', 'b', 'c1', [ints('pads', [1, 1, 1, 1])]), conv('x', 'w2', 'b2', 'c2', [ints('pads', [1, 1, 1, 1])]),
        node('Add', ['c1', 'k'], ['a1']), node('Mul', ['m', 'a1'], ['m1']), node('Sub', ['m1', 's'], ['s1']), node('Add', ['s1', 'c2'], ['y']),
      ],
    }));

  it('Relu, Sigmoid, Tanh, Clip(0, 6) standalone, and Softmax on 2-D', () =>
    expectFloatMatch({
      inputs: { x: [3, 7] }, outputs: ['r', 'sg', 'th', 'cl', 'sm'], inits: { lo: [[], Float32Array.of(0)], hi: [[], Float32Array.of(6)] },
      nodes: [node('Relu', ['x'], ['r']), node('Sigmoid', ['x'], ['sg']), node('Tanh', ['x'], ['th']), node('Clip', ['x', 'lo', 'hi'], ['cl']), node('Softmax', ['x'], ['sm'])],
    }));

  it('Softmax over the channel axis of an NCHW activation', () =>
    expectFloatMatch({ inputs: { x: [1, 3, 4, 4] }, outputs: ['y'], inits: { w: [[5, 3, 3, 3]], b: [[5]] }, nodes: [conv('x', 'w', 'b', 'c'), node('Softmax', ['c'], ['y'], { attributes: [int('axis', 1)] })] }));

  it('MaxPool (SAME pads and explicit pads) and AveragePool (VALID, and padded with count_include_pad=1)', () =>
    expectFloatMatch({
      inputs: { x: [1, 2, 8, 8] }, outputs: ['m1', 'm2', 'a1', 'a2'],
      nodes: [
        node('MaxPool', ['x'], ['m1'], { attributes: [ints('kernel_shape', [3, 3]), ints('strides', [1, 1]), ints('pads', [1, 1, 1, 1])] }),
        node('MaxPool', ['x'], ['m2'], { attributes: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])] }),
        node('AveragePool', ['x'], ['a1'], { attributes: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] }),
        node('AveragePool', ['x'], ['a2'], { attributes: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), int('count_include_pad', 1)] }),
      ],
    }));

  it('GlobalAveragePool → Flatten → Gemm', () =>
    expectFloatMatch({
      inputs: { x: [1, 3, 6, 6] }, outputs: ['y'], inits: { w: [[6, 3, 3, 3]], b: [[6]], g: [[4, 6]], gb: [[4]] },
      nodes: [conv('x', 'w', 'b', 'c'), node('GlobalAveragePool', ['c'], ['gap']), node('Flatten', ['gap'], ['f']), node('Gemm', ['f', 'g', 'gb'], ['y'], { attributes: [int('transB', 1)] })],
    }));

  it('Flatten of a multi-channel NHWC activation: into Gemm (weights reordered) and into elementwise ops (transposed back)', async () => {
    const spec: GraphSpec = {
      inputs: { x: [2, 3, 5, 5] }, outputs: ['y', 'z'], inits: { w: [[4, 3, 3, 3]], b: [[4]], g: [[36, 7]], k: [[36]] },
      nodes: [conv('x', 'w', 'b', 'c'), node('Flatten', ['c'], ['f']), node('Gemm', ['f', 'g'], ['y']), node('Relu', ['f'], ['fr']), node('Add', ['fr', 'k'], ['z'])],
    };
    await expectFloatMatch(spec);
    const exported = await exportTflite(buildModel(spec), { quantize: 'float32', inputShapes: spec.inputs });
    const ops = exported.model.graph.operators.map((o) => o.op);
    // One TRANSPOSE to NHWC at the input, one back for the Add branch; none in front of the FULLY_CONNECTED.
    expect(ops.filter((o) => o === Op.TRANSPOSE)).toHaveLength(2);
    expect(ops).toContain(Op.FULLY_CONNECTED);
  });

  it('Reshape with 0 and -1, Concat on the channel axis (NHWC) and on a plain axis, Identity', () =>
    expectFloatMatch({
      inputs: { x: [1, 3, 4, 4], v: [2, 6] }, outputs: ['cat', 'r', 'cv'],
      inits: { w: [[2, 3, 3, 3]], b: [[2]], w2: [[3, 3, 3, 3]], b2: [[3]], shape: makeTensor('shape', [3], BigInt64Array.of(0n, -1n, 3n)) },
      nodes: [
        conv('x', 'w', 'b', 'c1', [ints('pads', [1, 1, 1, 1])]), conv('x', 'w2', 'b2', 'c2', [ints('pads', [1, 1, 1, 1])]),
        node('Concat', ['c1', 'c2'], ['cat'], { attributes: [int('axis', 1)] }),
        node('Identity', ['v'], ['vi']), node('Reshape', ['vi', 'shape'], ['r']), node('Concat', ['v', 'v'], ['cv'], { attributes: [int('axis', 0)] }),
      ],
    }));

  it('Pad (zeros on an NHWC activation, a constant value on a plain tensor) and Transpose (on NHWC and plain)', () =>
    expectFloatMatch({
      inputs: { x: [1, 3, 4, 4], v: [2, 3] }, outputs: ['p', 'pv', 't1', 't2'],
      inits: {
        w: [[2, 3, 3, 3]], b: [[2]], pads: makeTensor('pads', [8], BigInt64Array.of(0n, 0n, 1n, 2n, 0n, 0n, 2n, 1n)),
        pads2: makeTensor('pads2', [4], BigInt64Array.of(1n, 0n, 0n, 2n)), val: [[], Float32Array.of(1.5)],
      },
      nodes: [
        conv('x', 'w', 'b', 'c'), node('Pad', ['c', 'pads'], ['p']), node('Pad', ['v', 'pads2', 'val'], ['pv']),
        node('Transpose', ['c'], ['t1'], { attributes: [ints('perm', [0, 2, 3, 1])] }), node('Transpose', ['x'], ['t2'], { attributes: [ints('perm', [0, 1, 3, 2])] }),
      ],
    }));

  it('an op outside the subset stops the export with an error naming the op and the node', async () => {
    const m = buildModel({ inputs: { x: [1, 4] }, outputs: ['y'], nodes: [node('Erf', ['x'], ['y'], { name: 'my_erf' })] });
    await expect(exportTflite(m, { quantize: 'float32', inputShapes: { x: [1, 4] } })).rejects.toThrow(/'my_erf' \(Erf\).*op 'Erf' is not supported/);
    const g = buildModel({ inputs: { x: [1, 4, 5, 5] }, outputs: ['y'], inits: { w: [[4, 2, 3, 3]], b: [[4]] }, nodes: [conv('x', 'w', 'b', 'y', [int('group', 2)])] });
    await expect(exportTflite(g, { quantize: 'float32', inputShapes: { x: [1, 4, 5, 5] } })).rejects.toThrow(/'y' \(Conv\).*grouped convolution \(group=2/);
  });
});

describe('TFLite export: variants on a small CNN (conv, depthwise, pool, flatten, dense, softmax)', () => {
  const { model, inputs } = smallCnn();
  const calibration = Array.from({ length: 32 }, (_, s) => ({
    x: { type: 'float32' as const, dims: [1, 8, 8, 8], data: Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 0.37 + s * 1.3)) },
  }));

  it('float32 matches onnxruntime within 1e-5 and keeps the ONNX interface (NCHW input, same names)', async () => {
    const r = await compareExport(model, F32, inputs);
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    const t = decodeTflite((await exportTflite(model, { quantize: 'float32', inputShapes: inputs })).bytes);
    expect(t.graph.inputs.map((i) => [t.graph.tensors[i]!.name, t.graph.tensors[i]!.shape])).toEqual([['x', [1, 8, 8, 8]]]);
    expect(t.graph.outputs.map((i) => t.graph.tensors[i]!.name)).toEqual(['probs']);
  });

  it('the builtin kernels (XNNPACK off) give the same results: float32 within 1e-5, int8 close to float', async () => {
    expect((await compareExport(model, { ...F32, xnnpack: false }, inputs)).maxAbsDiff).toBeLessThanOrEqual(1e-5);
    const r = await compareExport(model, { quantize: 'int8', calibration, xnnpack: false }, inputs, 8);
    expect(r.maxAbsDiff).toBeLessThan(0.08);
  });

  it('float16 stores weights as float16 behind DEQUANTIZE: half the bytes, outputs within 2e-3', async () => {
    const f32 = await compareExport(model, F32, inputs);
    const r = await compareExport(model, { quantize: 'float16' }, inputs);
    expect(r.bytes).toBeLessThan(f32.bytes * 0.6);
    // conv1, the depthwise and the dense weights behind DEQUANTIZE; biases under FP16_MIN_ELEMENTS stay float32.
    expect(r.ops.filter((o) => Number(o) === Op.DEQUANTIZE).length).toBe(3);
    expect(r.maxAbsDiff).toBeLessThan(2e-3);
  });

  it('dynamic-int8 stores the big weights int8 (hybrid conv and dense kernels) and stays close', async () => {
    const exported = await exportTflite(model, { quantize: 'dynamic-int8', inputShapes: inputs });
    const t = decodeTflite(exported.bytes);
    const int8 = t.graph.tensors.filter((x) => x.type === TensorType.INT8 && x.data);
    expect(int8.map((x) => x.shape)).toEqual([[16, 3, 3, 8], [10, 256]]); // conv1 (1,152 weights) and the dense layer; the depthwise (144) stays float
    expect(int8[0]!.quantization!.scale).toHaveLength(16);
    const r = await compareExport(model, { quantize: 'dynamic-int8' }, inputs, 8);
    expect(r.maxAbsDiff).toBeLessThan(0.05);
    expect(r.agreement).toBeGreaterThanOrEqual(0.75);
  });

  for (const ioType of ['float32', 'int8', 'uint8'] as const) {
    it(`int8 with ${ioType} I/O: int8 activations, per-channel conv weights, int32 biases; close to float`, async () => {
      const exported = await exportTflite(model, { quantize: 'int8', ioType, inputShapes: inputs, calibration });
      const t = decodeTflite(exported.bytes);
      const inT = t.graph.tensors[t.graph.inputs[0]!]!;
      expect(inT.type).toBe(ioType === 'float32' ? TensorType.FLOAT32 : ioType === 'int8' ? TensorType.INT8 : TensorType.UINT8);
      const convW = t.graph.tensors.find((x) => x.name === 'w1')!;
      expect(convW.type).toBe(TensorType.INT8);
      expect(convW.quantization!.scale).toHaveLength(16);
      expect(t.graph.tensors.find((x) => x.name === 'b1')!.type).toBe(TensorType.INT32);
      const session = await TfliteSession.create(exported.bytes);
      expect(session.inputs[0]!.type).toBe(ioType);
      const r = await compareExport(model, { quantize: 'int8', ioType, calibration }, inputs, 8);
      expect(r.maxAbsDiff).toBeLessThan(0.08);
      expect(r.agreement).toBeGreaterThanOrEqual(0.75);
      expect(r.bytes).toBeLessThan(0.5 * (await compareExport(model, F32, inputs, 1)).bytes); // small model: names and parameters weigh
    });
  }
});

describe('TFLite export int8: a channel of near-zero weights keeps its bias', () => {
  it('raises that channel weight scale so that its int32 bias fits (else the channel reads ~0 instead of its bias)', async () => {
    const w = Float32Array.from({ length: 4 * 2 * 9 }, (_, i) => Math.sin(i) * 0.4);
    w.fill(1e-20, 18, 36); // output channel 1: weights ~1e-20, as a folded batch norm with gamma ≈ 0 leaves them
    const model = buildModel({
      inputs: { x: [1, 2, 6, 6] },
      outputs: ['y'],
      inits: { w: [[4, 2, 3, 3], w], b: [[4], Float32Array.of(0.1, 2.5, -0.2, 0.3)] },
      nodes: [node('Conv', ['x', 'w', 'b'], ['c'], { name: 'conv', attributes: [ints('kernel_shape', [3, 3])] }), node('Relu', ['c'], ['y'], { name: 'relu' })],
    });
    const calibration = Array.from({ length: 8 }, (_, s) => randomFeeds({ x: [1, 2, 6, 6] }, 40 + s));
    const r = await compareExport(model, { quantize: 'int8', calibration, xnnpack: false }, { x: [1, 2, 6, 6] }, 4);
    expect(r.maxAbsDiff).toBeLessThan(0.05);
  });
});
