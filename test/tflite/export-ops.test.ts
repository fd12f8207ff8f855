/**
 * The TFLite export of the ops imported TFLite models bring back (LeakyRelu, HardSwish as x·HardSigmoid(x),
 * Max/Min, Log, ReduceMax, Squeeze/Unsqueeze, bilinear Resize, ConvTranspose, batch MatMul, static shape
 * arithmetic), and the layout rule that keeps an imported NHWC graph free of TRANSPOSE ops. Each exported
 * .tflite runs in TFLite against the ONNX model in onnxruntime on the same inputs.
 */
import { describe, expect, it } from 'vitest';
import { buildModel, compareExport, float, int, ints, node, randomFeeds, type GraphSpec } from './fixtures.js';
import { makeTensor } from '../../src/model/tensor.js';
import { Op } from '../../src/formats/tflite/schema.js';
import { onnx } from '../../src/model/onnx.js';

const F32 = { quantize: 'float32' as const };

async function expectFloatMatch(spec: GraphSpec, lo = -1, hi = 1): Promise<string[]> {
  const r = await compareExport(buildModel(spec), F32, spec.inputs, 4, [lo, hi]);
  expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-5 * Math.max(1, r.scale));
  return r.ops;
}

const str = (name: string, s: string) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) });
const int64 = (name: string, values: number[]) => makeTensor(name, [values.length], BigInt64Array.from(values.map(BigInt)));
const conv = (x: string, w: string, b: string, out: string) => node('Conv', [x, w, b], [out], { name: out, attributes: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] });
const count = (ops: string[], op: number) => ops.filter((o) => o === String(op)).length;

describe('TFLite export: ops of imported TFLite models (float32, max |Δ| ≤ 1e-5 × scale)', () => {
  it('an NHWC graph (Transpose around each Conv, as the import writes it) exports without any TRANSPOSE', async () => {
    const ops = await expectFloatMatch({
      inputs: { x: [1, 6, 6, 3] }, outputs: ['y'], inits: { w: [[4, 3, 3, 3]], b: [[4]], w2: [[4, 4, 3, 3]], b2: [[4]] },
      nodes: [
        node('Transpose', ['x'], ['xc'], { attributes: [ints('perm', [0, 3, 1, 2])] }), conv('xc', 'w', 'b', 'c1'),
        node('Transpose', ['c1'], ['h1'], { attributes: [ints('perm', [0, 2, 3, 1])] }), node('Relu', ['h1'], ['r1']),
        node('Transpose', ['r1'], ['r1c'], { attributes: [ints('perm', [0, 3, 1, 2])] }), conv('r1c', 'w2', 'b2', 'c2'),
        node('Transpose', ['c2'], ['y'], { attributes: [ints('perm', [0, 2, 3, 1])] }),
      ],
    });
    expect(count(ops, Op.TRANSPOSE)).toBe(0);
    expect(count(ops, Op.CONV_2D)).toBe(2);
  });

  it('LeakyRelu, Max/Min with a scalar constant and between two tensors, Log', async () => {
    const ops = await expectFloatMatch({
      inputs: { x: [2, 5, 7] }, outputs: ['lr', 'mx', 'mn', 'lg'], inits: { k: [[], Float32Array.of(0.1)], lo: [[], Float32Array.of(1e-3)] },
      nodes: [
        node('LeakyRelu', ['x'], ['lr'], { attributes: [float('alpha', 0.2)] }), node('Max', ['lr', 'k'], ['mx']), node('Min', ['x', 'mx'], ['mn']),
        node('Max', ['x', 'lo'], ['pos']), node('Log', ['pos'], ['lg']),
      ],
    });
    for (const op of [Op.LEAKY_RELU, Op.MAXIMUM, Op.MINIMUM, Op.LOG]) expect(count(ops, op)).toBeGreaterThan(0);
  });

  it('x · HardSigmoid(x) (1/6, 1/2) becomes one HARD_SWISH; another HardSigmoid is computed as it is', async () => {
    const ops = await expectFloatMatch({
      inputs: { x: [1, 3, 6, 6] }, outputs: ['hs', 'g'], inits: { w: [[4, 3, 3, 3]], b: [[4]] },
      nodes: [
        conv('x', 'w', 'b', 'c'), node('HardSigmoid', ['c'], ['gate'], { attributes: [float('alpha', 1 / 6), float('beta', 0.5)] }), node('Mul', ['c', 'gate'], ['hs']),
        node('HardSigmoid', ['x'], ['g'], { attributes: [float('alpha', 0.3), float('beta', 0.4)] }),
      ],
    }, -4, 4);
    expect(count(ops, Op.HARD_SWISH)).toBe(1);
  });

  it('ReduceMax over every axis (keepdims 0), Sub, Max against the scalar; Squeeze/Unsqueeze; MatMul of two activations', async () => {
    const ops = await expectFloatMatch({
      inputs: { x: [1, 4, 6], y: [1, 6, 3] }, outputs: ['z', 'sq', 'bm'], inits: { eighty: [[], Float32Array.of(0.5)], ax1: int64('ax1', [1]) },
      opset: 13,
      nodes: [
        node('ReduceMax', ['x'], ['m'], { attributes: [ints('axes', [0, 1, 2]), int('keepdims', 0)] }), node('Sub', ['m', 'eighty'], ['t']), node('Max', ['x', 't'], ['z']),
        node('Unsqueeze', ['x', 'ax1'], ['u']), node('Squeeze', ['u', 'ax1'], ['sq']), node('MatMul', ['x', 'y'], ['bm']),
      ],
    });
    expect(count(ops, Op.REDUCE_MAX)).toBe(1);
    expect(count(ops, Op.BATCH_MATMUL)).toBe(1);
  });

  it('bilinear Resize (half_pixel, sizes from Shape/Slice/Concat arithmetic) and ConvTranspose with SAME-like pads and a bias', async () => {
    const ops = await expectFloatMatch({
      inputs: { x: [1, 3, 5, 5] }, outputs: ['r', 'ct'],
      inits: { nc: int64('nc', [1, 3]), hw: int64('hw', [10, 10]), s0: int64('s0', [0]), s2: int64('s2', [2]), wt: [[3, 4, 4, 4]], bt: [[4]] },
      nodes: [
        node('Shape', ['x'], ['shp']), node('Slice', ['shp', 's0', 's2'], ['lead']), node('Concat', ['lead', 'hw'], ['sizes'], { attributes: [int('axis', 0)] }),
        node('Resize', ['x', '', '', 'sizes'], ['r'], { attributes: [str('mode', 'linear'), str('coordinate_transformation_mode', 'half_pixel')] }),
        node('ConvTranspose', ['x', 'wt', 'bt'], ['ct'], { attributes: [ints('kernel_shape', [4, 4]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])] }),
      ],
    });
    expect(count(ops, Op.RESIZE_BILINEAR)).toBe(1);
    expect(count(ops, Op.TRANSPOSE_CONV)).toBe(1);
  });
});

describe('TFLite export: int8 rules for the new ops', () => {
  it('ConvTranspose with a bias quantizes fully (int8 weights per channel, int32 bias) and stays close to float', async () => {
    const spec: GraphSpec = {
      inputs: { x: [1, 3, 5, 5] }, outputs: ['y'], inits: { wt: [[3, 4, 4, 4]], bt: [[4]] },
      nodes: [node('ConvTranspose', ['x', 'wt', 'bt'], ['y'], { attributes: [ints('kernel_shape', [4, 4]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])] })],
    };
    const model = buildModel(spec);
    const calibration = Array.from({ length: 32 }, (_, s) => randomFeeds(spec.inputs, 700 + s));
    const q = await compareExport(model, { quantize: 'int8', calibration }, spec.inputs);
    expect(count(q.ops, Op.TRANSPOSE_CONV)).toBe(1);
    expect(q.maxAbsDiff).toBeLessThanOrEqual(0.05 * Math.max(1, q.scale));
  });

  it('Conv → LeakyRelu → Max(0.1) and Conv → HardSwish → Resize quantize fully and stay close to float', async () => {
    const spec: GraphSpec = {
      inputs: { x: [1, 3, 8, 8] }, outputs: ['y'], inits: { w: [[4, 3, 3, 3]], b: [[4]], w2: [[4, 4, 3, 3]], b2: [[4]], k: [[], Float32Array.of(0.1)], sz: int64('sz', [1, 4, 16, 16]) },
      nodes: [
        conv('x', 'w', 'b', 'c'), node('LeakyRelu', ['c'], ['l'], { attributes: [float('alpha', 0.2)] }), node('Max', ['l', 'k'], ['m']),
        conv('m', 'w2', 'b2', 'c2'), node('HardSigmoid', ['c2'], ['g'], { attributes: [float('alpha', 1 / 6), float('beta', 0.5)] }), node('Mul', ['c2', 'g'], ['h']),
        node('Resize', ['h', '', '', 'sz'], ['y'], { attributes: [str('mode', 'linear'), str('coordinate_transformation_mode', 'half_pixel')] }),
      ],
    };
    const model = buildModel(spec);
    const f = await compareExport(model, F32, spec.inputs);
    const calibration = Array.from({ length: 32 }, (_, s) => randomFeeds(spec.inputs, 500 + s));
    const q = await compareExport(model, { quantize: 'int8', calibration }, spec.inputs);
    expect(f.maxAbsDiff).toBeLessThanOrEqual(1e-5 * Math.max(1, f.scale));
    // int8: within a few percent of the output's range.
    expect(q.maxAbsDiff).toBeLessThanOrEqual(0.08 * Math.max(1, q.scale));
    // Without an int8 rule the export throws; with one, each op is there, int8 inside (QUANTIZE in, DEQUANTIZE out).
    for (const op of [Op.LEAKY_RELU, Op.MAXIMUM, Op.HARD_SWISH, Op.RESIZE_BILINEAR, Op.QUANTIZE, Op.DEQUANTIZE]) expect(count(q.ops, op)).toBeGreaterThan(0);
  });
});
