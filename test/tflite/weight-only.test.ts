/**
 * The weight-only-int8 TFLite export (int8 weights behind DEQUANTIZE, float32 compute), on a small CNN
 * built here, run in the real TFLite runtime (XNNPACK and the builtin kernels) against onnxruntime.
 */
import { describe, expect, it } from 'vitest';
import { buildModel, int, ints, node, randomFeeds, randn, rng } from './fixtures.js';
import { encodeModel } from '../../src/model/onnx.js';
import { exportTflite } from '../../src/export/tflite/export.js';
import { WEIGHT_ONLY_MIN_ELEMENTS } from '../../src/export/tflite/quantize.js';
import { decodeTflite, type TfliteTensor } from '../../src/formats/tflite/flatbuffer.js';
import { Op, TensorType } from '../../src/formats/tflite/schema.js';
import { OrtSession } from '../../src/runtime/session.js';
import { TfliteSession } from '../../src/runtime/tflite.js';

/**
 * Conv(8→32, 3×3: 2,304 weights)+Relu → depthwise Conv(32: 288 weights, under the threshold) → Conv(32→32,
 * 1×1: 1,024 weights, at it) → MaxPool → Flatten → Gemm(512→64, transB) → Relu → MatMul(64→10), on [1, 8, 8, 8].
 */
function cnn() {
  const rand = rng(11);
  const inits: Record<string, [number[], Float32Array]> = {
    w1: [[32, 8, 3, 3], randn(32 * 72, Math.sqrt(2 / 72), rand)], b1: [[32], randn(32, 0.1, rand)],
    dw: [[32, 1, 3, 3], randn(32 * 9, Math.sqrt(2 / 9), rand)], db: [[32], randn(32, 0.1, rand)],
    pw: [[32, 32, 1, 1], randn(1024, Math.sqrt(2 / 32), rand)], pb: [[32], randn(32, 0.1, rand)],
    fc: [[64, 512], randn(64 * 512, Math.sqrt(2 / 512), rand)], fb: [[64], randn(64, 0.1, rand)],
    head: [[64, 10], randn(640, Math.sqrt(1 / 64), rand)],
  };
  const model = buildModel({
    inputs: { x: [1, 8, 8, 8] }, outputs: ['y'], inits,
    nodes: [
      node('Conv', ['x', 'w1', 'b1'], ['c1'], { name: 'conv1', attributes: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] }),
      node('Relu', ['c1'], ['r1']),
      node('Conv', ['r1', 'dw', 'db'], ['c2'], { name: 'dw', attributes: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), int('group', 32)] }),
      node('Conv', ['c2', 'pw', 'pb'], ['c3'], { name: 'pw', attributes: [ints('kernel_shape', [1, 1])] }),
      node('MaxPool', ['c3'], ['p'], { attributes: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] }),
      node('Flatten', ['p'], ['f']),
      node('Gemm', ['f', 'fc', 'fb'], ['g'], { name: 'fc', attributes: [int('transB', 1)] }),
      node('Relu', ['g'], ['gr']),
      node('MatMul', ['gr', 'head'], ['y'], { name: 'head' }),
    ],
  });
  return { model, inputs: { x: [1, 8, 8, 8] }, inits };
}

function floats(t: TfliteTensor): Float32Array {
  const d = t.data!;
  return new Float32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
}

/** Signal-to-noise ratio (dB) and cosine similarity of TFLite's outputs against onnxruntime's over `samples` seeded inputs. */
async function fidelity(bytes: Uint8Array, xnnpack: boolean, samples = 8): Promise<{ snrDb: number; cos: number; maxAbs: number; outputs: Float32Array[] }> {
  const { model, inputs } = cnn();
  const ort = await OrtSession.create(encodeModel(model), {}, 'onnx');
  const tfl = await TfliteSession.create(bytes, { threads: 1, xnnpack }, 'weight-only');
  let signal = 0, noise = 0, dot = 0, na = 0, nb = 0, maxAbs = 0;
  const outputs: Float32Array[] = [];
  try {
    for (let s = 0; s < samples; s++) {
      const feeds = randomFeeds(inputs, 300 + s);
      const a = (await ort.run(feeds))['y']!.data as Float32Array;
      const b = Float32Array.from((await tfl.run(feeds))['y']!.data as Float32Array);
      outputs.push(b);
      for (let i = 0; i < a.length; i++) {
        signal += a[i]! ** 2;
        noise += (a[i]! - b[i]!) ** 2;
        dot += a[i]! * b[i]!;
        na += a[i]! ** 2;
        nb += b[i]! ** 2;
        maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
      }
    }
  } finally {
    await ort.release();
    await tfl.release();
  }
  return { snrDb: 10 * Math.log10(signal / noise), cos: dot / Math.sqrt(na * nb), maxAbs, outputs };
}

describe('TFLite export: weight-only-int8 (int8 weights behind DEQUANTIZE, float32 compute)', () => {
  const { model, inputs, inits } = cnn();

  it('stores the weights of 1,024 elements or more int8 per output channel, the smaller ones float16, each behind a DEQUANTIZE into the float op', async () => {
    const exported = await exportTflite(model, { quantize: 'weight-only-int8', inputShapes: inputs });
    const t = decodeTflite(exported.bytes);
    const { tensors, operators } = t.graph;
    const producer = new Map(operators.flatMap((op) => op.outputs.map((o) => [o, op] as const)));
    const weighted = operators.filter((op) => op.op === Op.CONV_2D || op.op === Op.DEPTHWISE_CONV_2D || op.op === Op.FULLY_CONNECTED);
    expect(weighted.map((op) => op.op)).toEqual([Op.CONV_2D, Op.DEPTHWISE_CONV_2D, Op.CONV_2D, Op.FULLY_CONNECTED, Op.FULLY_CONNECTED]);
    const stored: Array<[string, number, number[], number]> = [];
    for (const op of weighted) {
      const w = tensors[op.inputs[1]!]!;
      // Every op still computes in float32: its input, weight and output are float32 tensors.
      expect([tensors[op.inputs[0]!]!.type, w.type, tensors[op.outputs[0]!]!.type]).toEqual([TensorType.FLOAT32, TensorType.FLOAT32, TensorType.FLOAT32]);
      expect(w.data).toBeUndefined();
      const dq = producer.get(op.inputs[1]!)!;
      expect(dq.op).toBe(Op.DEQUANTIZE);
      const q = tensors[dq.inputs[0]!]!;
      expect(q.shape).toEqual(w.shape);
      const elements = w.shape.reduce((a, b) => a * b, 1);
      if (q.type === TensorType.INT8) {
        expect(elements).toBeGreaterThanOrEqual(WEIGHT_ONLY_MIN_ELEMENTS);
        expect(q.data!.byteLength).toBe(elements);
        expect(q.quantization!.zeroPoint.every((z) => z === 0)).toBe(true);
        expect(dq.version).toBe(q.quantization!.scale.length > 1 ? 5 : 2);
      } else {
        expect(elements).toBeLessThan(WEIGHT_ONLY_MIN_ELEMENTS);
        expect(q.data!.byteLength).toBe(2 * elements);
        expect(dq.version).toBe(3);
      }
      stored.push([q.name, q.type, q.shape, q.quantization?.scale.length ?? 0]);
    }
    // conv1 [32, 3, 3, 8], the pointwise conv [32, 1, 1, 32] and the dense layer [64, 512] int8 with one scale per
    // output channel (axis 0); the depthwise weight (288 elements) and the head (640) float16.
    expect(stored).toEqual([
      ['w1', TensorType.INT8, [32, 3, 3, 8], 32], ['dw', TensorType.FLOAT16, [1, 3, 3, 32], 0], ['pw', TensorType.INT8, [32, 1, 1, 32], 32],
      ['fc', TensorType.INT8, [64, 512], 64], ['head', TensorType.FLOAT16, [10, 64], 0],
    ]);
    // Biases under 64 elements stay float32 constants (a DEQUANTIZE would cost more than it saves).
    const b1 = tensors[weighted[0]!.inputs[2]!]!;
    expect([b1.type, b1.data?.byteLength]).toEqual([TensorType.FLOAT32, 4 * 32]);
    expect(exported.notes.join('\n')).toMatch(/weight-only-int8: 3 weight tensors stored int8 .* 2 under 1024 elements kept float32/);
  });

  it('the int8 values are the float weights rounded to their channel\'s scale (|error| ≤ scale/2, absmax at ±127)', async () => {
    const t = decodeTflite((await exportTflite(model, { quantize: 'weight-only-int8', inputShapes: inputs })).bytes);
    const fc = t.graph.tensors.find((x) => x.name === 'fc' && x.type === TensorType.INT8)!;
    const q = new Int8Array(fc.data!.buffer.slice(fc.data!.byteOffset, fc.data!.byteOffset + fc.data!.byteLength));
    // The Flatten of an NHWC activation reorders the dense weight's input columns (./convert.ts), not its rows:
    // each row is compared as a sorted list, which rounding to a grid keeps in order.
    const w = inits['fc']![1];
    for (let o = 0; o < 64; o++) {
      const s = fc.quantization!.scale[o]!;
      const want = Array.from(w.subarray(o * 512, (o + 1) * 512)).sort((a, b) => a - b);
      const got = Array.from(q.subarray(o * 512, (o + 1) * 512)).sort((a, b) => a - b);
      const absMax = Math.max(-want[0]!, want[511]!);
      expect(s).toBeCloseTo(absMax / 127, 7);
      expect(Math.max(-got[0]!, got[511]!)).toBe(127);
      const worst = Math.max(...got.map((g, i) => Math.abs(g * s - want[i]!)));
      expect(worst).toBeLessThanOrEqual(s / 2 + 1e-7);
    }
  });

  it('is about 4x smaller than the float32 export in its weights, and smaller than float16', async () => {
    const f32 = (await exportTflite(model, { quantize: 'float32', inputShapes: inputs })).bytes.length;
    const f16 = (await exportTflite(model, { quantize: 'float16', inputShapes: inputs })).bytes.length;
    const wo = (await exportTflite(model, { quantize: 'weight-only-int8', inputShapes: inputs })).bytes.length;
    // 36,096 weights int8 (3 bytes saved each), 928 weights and 64 biases float16 (2 bytes each), less the
    // 512 bytes of scales and six DEQUANTIZE ops (with their tensors and buffers, about 250 bytes each).
    const saved = 3 * (2304 + 1024 + 32768) + 2 * (288 + 640 + 64);
    expect(f32 - wo).toBeGreaterThan(saved - 512 - 6 * 300);
    expect(f32 - wo).toBeLessThan(saved);
    expect(wo / f32).toBeLessThan(0.3);
    expect(wo).toBeLessThan(0.6 * f16); // float16 halves the weights; int8 quarters the large ones
  });

  it('runs in TFLite close to float: SNR ≥ 30 dB and cosine ≥ 0.999 against onnxruntime, with XNNPACK and with the builtin kernels alike', async () => {
    const { bytes } = await exportTflite(model, { quantize: 'weight-only-int8', inputShapes: inputs });
    const xnn = await fidelity(bytes, true);
    const builtin = await fidelity(bytes, false);
    for (const r of [xnn, builtin]) {
      expect(r.snrDb).toBeGreaterThanOrEqual(30);
      expect(r.cos).toBeGreaterThanOrEqual(0.999);
      // int8 weights, not float ones: the outputs differ from float by more than float32 rounding.
      expect(r.snrDb).toBeLessThan(70);
    }
    // Both runtimes compute in float32 from the same dequantized weights.
    let diff = 0, scale = 0;
    xnn.outputs.forEach((o, s) => o.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - builtin.outputs[s]![i]!));
      scale = Math.max(scale, Math.abs(v));
    }));
    expect(diff).toBeLessThanOrEqual(1e-4 * scale);
  });

  it('writes the same bytes for the same model', async () => {
    const a = await exportTflite(model, { quantize: 'weight-only-int8', inputShapes: inputs });
    const b = await exportTflite(cnn().model, { quantize: 'weight-only-int8', inputShapes: inputs });
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
  });
});

describe('TFLite export: weight-only-int8 of a ConvTranspose (TRANSPOSE_CONV weights [O, H, W, I], per output channel)', () => {
  it('stores the weight int8 with one scale per output channel and stays close to float in TFLite', async () => {
    const rand = rng(5);
    const spec = {
      inputs: { x: [1, 16, 6, 6] }, outputs: ['y'],
      inits: { w: [[16, 24, 3, 3], randn(16 * 24 * 9, Math.sqrt(2 / 144), rand)] as [number[], Float32Array], b: [[24], randn(24, 0.1, rand)] as [number[], Float32Array] },
      nodes: [node('ConvTranspose', ['x', 'w', 'b'], ['y'], { attributes: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2])] })],
    };
    const m = buildModel(spec);
    const { bytes } = await exportTflite(m, { quantize: 'weight-only-int8', inputShapes: spec.inputs });
    const t = decodeTflite(bytes);
    const q = t.graph.tensors.find((x) => x.name === 'w' && x.type === TensorType.INT8)!;
    expect(q.shape).toEqual([24, 3, 3, 16]);
    expect(q.quantization!.scale).toHaveLength(24);
    const ort = await OrtSession.create(encodeModel(m), {}, 'onnx');
    for (const xnnpack of [true, false]) {
      const tfl = await TfliteSession.create(bytes, { threads: 1, xnnpack }, 'transpose-conv');
      const feeds = randomFeeds(spec.inputs, 9);
      const a = (await ort.run(feeds))['y']!.data as Float32Array, b = (await tfl.run(feeds))['y']!.data as Float32Array;
      let signal = 0, noise = 0;
      a.forEach((v, i) => { signal += v * v; noise += (v - b[i]!) ** 2; });
      expect(10 * Math.log10(signal / noise)).toBeGreaterThanOrEqual(30);
      await tfl.release();
    }
    await ort.release();
  });
});
