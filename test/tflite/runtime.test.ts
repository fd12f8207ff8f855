/** The TFLite runtime adapter: I/O quantization, the flatbuffer codec's fields, and the errors that say what is missing. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { TfliteSession, dequantize, quantizeInto, tfliteBindingPath, tfliteOptionsFrom } from '../../src/runtime/tflite.js';
import { xnnpackPlugin } from '../../src/runtime/tflite-xnnpack.js';
import { decodeTflite, encodeTflite, type TfliteModel } from '../../src/formats/tflite/flatbuffer.js';
import { Activation, Op, Padding, TensorType } from '../../src/formats/tflite/schema.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-tflite-rt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** y = relu(x · Wᵀ + b) as one FULLY_CONNECTED, with int8 or float I/O. */
function fcModel(io: 'float32' | 'int8'): TfliteModel {
  const w = Float32Array.of(1, -2, 0.5, 3, 0.25, -1);
  const b = Float32Array.of(0.5, -0.5);
  const bytes = (a: Float32Array | Int8Array | Int32Array) => new Uint8Array(a.buffer.slice(0));
  const tensors = io === 'float32'
    ? [
        { name: 'x', type: TensorType.FLOAT32, shape: [1, 3] },
        { name: 'w', type: TensorType.FLOAT32, shape: [2, 3], data: bytes(w) },
        { name: 'b', type: TensorType.FLOAT32, shape: [2], data: bytes(b) },
        { name: 'y', type: TensorType.FLOAT32, shape: [1, 2] },
      ]
    : [
        { name: 'x', type: TensorType.INT8, shape: [1, 3], quantization: { scale: [0.05], zeroPoint: [3], axis: 0 } },
        { name: 'w', type: TensorType.INT8, shape: [2, 3], data: bytes(Int8Array.from(w, (v) => Math.round(v / 0.025))), quantization: { scale: [0.025], zeroPoint: [0], axis: 0 } },
        { name: 'b', type: TensorType.INT32, shape: [2], data: bytes(Int32Array.from(b, (v) => Math.round(v / (0.05 * 0.025)))), quantization: { scale: [0.05 * 0.025], zeroPoint: [0], axis: 0 } },
        { name: 'y', type: TensorType.INT8, shape: [1, 2], quantization: { scale: [0.04], zeroPoint: [-128], axis: 0 } },
      ];
  return {
    description: 'fc',
    extraSubgraphs: 0,
    metadata: [{ name: 'note', data: new Uint8Array([7, 8, 9]) }],
    graph: { tensors, inputs: [0], outputs: [3], operators: [{ op: Op.FULLY_CONNECTED, version: io === 'int8' ? 4 : 1, inputs: [0, 1, 2], outputs: [3], options: { fused_activation_function: Activation.RELU } }] },
  };
}

describe('TFLite runtime adapter', () => {
  for (const xnnpack of [false, true]) {
    it(`runs a float32 model ${xnnpack ? 'with' : 'without'} the XNNPACK delegate and reports what it used`, async () => {
      const s = await TfliteSession.create(encodeTflite(fcModel('float32')), { threads: 2, xnnpack });
      const out = await s.run({ x: { type: 'float32', dims: [1, 3], data: Float32Array.of(1, 1, 1) } });
      // relu(1 - 2 + 0.5 + 0.5) = 0, relu(3 + 0.25 - 1 - 0.5) = 1.75
      expect(Array.from(out.y!.data as Float32Array)).toEqual([0, 1.75]);
      expect(s.info).toMatchObject({ runtime: 'tflite', threads: 2, xnnpack: xnnpack ? 'applied' : 'off' });
    });
  }

  it('builds the XNNPACK delegate plugin once and reuses it; the choice travels as a session config entry', () => {
    const dir = path.dirname(createRequire(import.meta.url).resolve('tfjs-tflite-node/package.json'));
    const a = xnnpackPlugin(dir);
    expect(a).toHaveProperty('path');
    expect(xnnpackPlugin(dir)).toEqual(a);
    expect(tfliteOptionsFrom({ intraOpThreads: 3, configEntries: { 'tflite.xnnpack': '0' } })).toEqual({ threads: 3, xnnpack: false });
    expect(tfliteOptionsFrom({})).toEqual({ threads: 1, xnnpack: 'auto' });
  });

  it('quantizes float feeds for an int8 input and dequantizes the int8 output with their scales and zero points', async () => {
    const s = await TfliteSession.create(encodeTflite(fcModel('int8')));
    expect(s.inputs[0]).toMatchObject({ type: 'int8', quantization: { scale: Math.fround(0.05), zeroPoint: 3 } });
    const out = await s.run({ x: { type: 'float32', dims: [1, 3], data: Float32Array.of(1, 1, 1) } });
    expect(out.y!.type).toBe('float32');
    const y = out.y!.data as Float32Array;
    expect(y[0]).toBeCloseTo(0, 5);
    expect(Math.abs(y[1]! - 1.75)).toBeLessThanOrEqual(0.04); // one output step
    const raw = s.getOutputs(undefined, true).y!;
    expect(raw.type).toBe('int8');
  });

  it('quantizeInto rounds half away from zero and saturates; dequantize inverts it on the grid', () => {
    const q = new Int8Array(5);
    quantizeInto(q, [0.25, -0.25, 100, -100, 0.1], 0.5, 1, 'int8');
    expect(Array.from(q)).toEqual([2, 0, 127, -128, 1]);
    const u = new Uint8Array(2);
    quantizeInto(u, [-1, 1000], 1, 10, 'uint8');
    expect(Array.from(u)).toEqual([9, 255]);
    expect(Array.from(dequantize(Int8Array.of(2, 0, -128), 0.5, 1))).toEqual([0.5, -0.5, -64.5]);
  });

  it('refuses a feed whose size does not match the fixed shape, naming the input', async () => {
    const s = await TfliteSession.create(encodeTflite(fcModel('float32')), {}, 'fc.tflite');
    await expect(s.run({ x: { type: 'float32', dims: [2, 3], data: new Float32Array(6) } })).rejects.toThrow(/fc\.tflite: input 'x' takes 3 values \[1, 3\].*fixed batch/);
  });

  it('the flatbuffer codec keeps shapes, quantization, options, custom codes and metadata', () => {
    const m = fcModel('int8');
    m.graph.operators.push({ op: Op.CONV_2D, version: 3, inputs: [0, -1], outputs: [3], options: { padding: Padding.VALID, stride_w: 2, stride_h: 3, fused_activation_function: Activation.RELU6, dilation_w_factor: 1, dilation_h_factor: 2 } });
    const d = decodeTflite(encodeTflite(m));
    expect(d.description).toBe('fc');
    expect(d.graph.tensors.map((t) => [t.name, t.type, t.shape])).toEqual(m.graph.tensors.map((t) => [t.name, t.type, t.shape]));
    expect(d.graph.tensors[0]!.quantization).toMatchObject({ zeroPoint: [3], axis: 0 });
    expect(d.graph.tensors[0]!.quantization!.scale[0]).toBeCloseTo(0.05, 7);
    expect(Array.from(d.graph.tensors[1]!.data!)).toEqual(Array.from(m.graph.tensors[1]!.data!));
    expect(d.graph.operators[1]).toMatchObject({ op: Op.CONV_2D, version: 3, inputs: [0, -1], options: { padding: Padding.VALID, stride_w: 2, stride_h: 3, fused_activation_function: Activation.RELU6, dilation_h_factor: 2 } });
    expect(d.metadata).toEqual([{ name: 'note', data: new Uint8Array([7, 8, 9]) }]);
  });

  it('says what is missing when tfjs-tflite-node is installed but its native addon was not built', () => {
    const pkg = path.join(tmp, 'node_modules', 'tfjs-tflite-node');
    mkdirSync(pkg, { recursive: true });
    expect(() => tfliteBindingPath(pkg)).toThrow(/not built.*node_tflite_binding\.node is missing.*g\+\+ make.*npm rebuild tfjs-tflite-node/);
  });
});
