/**
 * A float .tflite whose input is raw uint8 pixels (no quantization parameters) with a CAST inside,
 * as TFLite converters write image models that take bytes: imported to ONNX with a uint8 input,
 * run by the TFLite runtime on uint8 feeds, and through the gate as the config's model.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeTflite, decodeTflite, type TfliteModel } from '../../src/formats/tflite/flatbuffer.js';
import { Activation, Op, TensorType } from '../../src/formats/tflite/schema.js';
import { importTflite } from '../../src/import/tflite.js';
import { encodeModel, DataType } from '../../src/model/onnx.js';
import { OrtSession } from '../../src/runtime/session.js';
import { TfliteSession } from '../../src/runtime/tflite.js';
import { runGate } from '../../src/commands/run.js';
import { rng, randn } from './fixtures.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-tflite-uint8-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytesOf = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer.slice(0));

/** image (uint8 [1,4,4,3]) → CAST → ·1/255 → RESHAPE [1,48] → FULLY_CONNECTED (3) + RELU → SOFTMAX. */
function uint8Model(): TfliteModel {
  const rand = rng(3);
  return {
    description: 'uint8 input',
    extraSubgraphs: 0,
    metadata: [],
    graph: {
      tensors: [
        { name: 'image', type: TensorType.UINT8, shape: [1, 4, 4, 3] },
        { name: 'image_float', type: TensorType.FLOAT32, shape: [1, 4, 4, 3] },
        { name: 'inv255', type: TensorType.FLOAT32, shape: [1], data: bytesOf(Float32Array.of(1 / 255)) },
        { name: 'scaled', type: TensorType.FLOAT32, shape: [1, 4, 4, 3] },
        { name: 'flat_shape', type: TensorType.INT32, shape: [2], data: bytesOf(Int32Array.of(1, 48)) },
        { name: 'flat', type: TensorType.FLOAT32, shape: [1, 48] },
        { name: 'w', type: TensorType.FLOAT32, shape: [3, 48], data: bytesOf(randn(144, 0.5, rand)) },
        { name: 'b', type: TensorType.FLOAT32, shape: [3], data: bytesOf(Float32Array.of(0.1, -0.2, 0.3)) },
        { name: 'logits', type: TensorType.FLOAT32, shape: [1, 3] },
        { name: 'probs', type: TensorType.FLOAT32, shape: [1, 3] },
      ],
      inputs: [0],
      outputs: [9],
      operators: [
        { op: Op.CAST, version: 1, inputs: [0], outputs: [1] },
        { op: Op.MUL, version: 1, inputs: [1, 2], outputs: [3], options: { fused_activation_function: Activation.NONE } },
        { op: Op.RESHAPE, version: 1, inputs: [3, 4], outputs: [5], options: { new_shape: [1, 48] } },
        { op: Op.FULLY_CONNECTED, version: 1, inputs: [5, 6, 7], outputs: [8], options: { fused_activation_function: Activation.RELU } },
        { op: Op.SOFTMAX, version: 1, inputs: [8], outputs: [9], options: { beta: 1 } },
      ],
    },
  };
}

describe('TFLite float models with a raw uint8 input', () => {
  const bytes = encodeTflite(uint8Model());

  it('import to ONNX with a uint8 input and match TFLite on uint8 pixels', async () => {
    const onnxModel = importTflite(decodeTflite(bytes), 'uint8.tflite');
    const input = onnxModel.graph!.input![0]!;
    expect(input.name).toBe('image');
    expect(input.type!.tensorType!.elemType).toBe(DataType.UINT8);
    const ort = await OrtSession.create(encodeModel(onnxModel), {}, 'imported');
    const tfl = await TfliteSession.create(bytes, { threads: 1 }, 'uint8.tflite');
    expect(tfl.inputs[0]).toMatchObject({ name: 'image', type: 'uint8' });
    expect(tfl.inputs[0]!.quantization).toBeUndefined();
    const rand = rng(17);
    let worst = 0;
    const seen = new Set<string>();
    for (let s = 0; s < 6; s++) {
      const pixels = Uint8Array.from({ length: 48 }, () => Math.floor(rand() * 256));
      const feeds = { image: { type: 'uint8' as const, dims: [1, 4, 4, 3], data: pixels } };
      const a = (await ort.run(feeds)).probs!.data as Float32Array;
      const b = (await tfl.run(feeds)).probs!.data as Float32Array;
      for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(a[k]! - b[k]!));
      seen.add(Array.from(b, (v) => v.toFixed(4)).join());
    }
    await ort.release();
    await tfl.release();
    expect(seen.size).toBeGreaterThan(1); // the outputs follow the pixels
    expect(worst).toBeLessThan(1e-6);
  });

  it('float feeds (a float dataset) are rounded into the uint8 input; out-of-range values are held to 0..255', async () => {
    const tfl = await TfliteSession.create(bytes, { threads: 1 }, 'uint8.tflite');
    const ints = Uint8Array.from({ length: 48 }, (_, k) => (k * 37) % 256);
    const asInts = Array.from((await tfl.run({ image: { type: 'uint8', dims: [1, 4, 4, 3], data: ints } })).probs!.data as Float32Array);
    const floats = Float32Array.from(ints, (v, k) => (k === 0 ? -5 : k === 1 ? 300 : v + 0.2));
    const expected = Uint8Array.from(ints, (v, k) => (k === 0 ? 0 : k === 1 ? 255 : v));
    const asFloats = Array.from((await tfl.run({ image: { type: 'float32', dims: [1, 4, 4, 3], data: floats } })).probs!.data as Float32Array);
    const clamped = Array.from((await tfl.run({ image: { type: 'uint8', dims: [1, 4, 4, 3], data: expected } })).probs!.data as Float32Array);
    expect(asFloats).toEqual(clamped);
    expect(asFloats).not.toEqual(asInts);
    await tfl.release();
  });

  it('runs through the gate as the config model: TFLite reference, ORT candidate from its import', async () => {
    writeFileSync(path.join(dir, 'uint8.tflite'), bytes);
    writeFileSync(path.join(dir, 'modelgate.yml'), ['model: uint8.tflite', 'optimize:', '  - { name: ort, passes: [{ cleanup: {} }] }', 'benchmark: { batch: 1, threads: 1, runs: 30 }', ''].join('\n'));
    const r = await runGate({ configPath: path.join(dir, 'modelgate.yml'), outDir: path.join(dir, 'out') });
    expect(r.error).toBeUndefined();
    expect([0, 1]).toContain(r.exitCode);
    const [ref, ort] = r.report.candidates;
    expect(ref).toMatchObject({ id: 'reference', runtime_kind: 'tflite' });
    expect(ort).toMatchObject({ id: 'ort', runtime_kind: 'onnxruntime', agreement: 1 });
    expect(ref!.latency?.p50_ms).toBeGreaterThan(0);
    expect(ort!.latency?.p50_ms).toBeGreaterThan(0);
  }, 120_000);
});
