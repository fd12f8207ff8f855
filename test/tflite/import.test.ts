/** .tflite → ONNX: files made by the exporter import and run in onnxruntime like they run in TFLite; custom ops are refused by name. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { argmax, randomFeeds, smallCnn } from './fixtures.js';
import { encodeModel } from '../../src/model/onnx.js';
import { OrtSession } from '../../src/runtime/session.js';
import { TfliteSession } from '../../src/runtime/tflite.js';
import { exportTflite, type TfliteQuantize } from '../../src/export/tflite/export.js';
import { decodeTflite, encodeTflite, type TfliteModel } from '../../src/formats/tflite/flatbuffer.js';
import { Op, TensorType } from '../../src/formats/tflite/schema.js';
import { importTflite, importTfliteFile } from '../../src/import/tflite.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-tflite-import-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const { model, inputs } = smallCnn(5);
const calibration = Array.from({ length: 32 }, (_, s) => randomFeeds(inputs, 500 + s));

async function compareImported(bytes: Uint8Array, samples = 8): Promise<{ maxAbsDiff: number; agreement: number; ops: string[] }> {
  const onnxModel = importTflite(decodeTflite(bytes), 'test.tflite');
  const ort = await OrtSession.create(encodeModel(onnxModel), {}, 'imported');
  const tfl = await TfliteSession.create(bytes, {}, 'tflite');
  let maxAbsDiff = 0, agree = 0;
  for (let s = 0; s < samples; s++) {
    const feeds = randomFeeds(inputs, 900 + s);
    const a = (await ort.run(feeds)).probs!.data as Float32Array;
    const b = (await tfl.run(feeds)).probs!.data as Float32Array;
    for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
    if (argmax(a) === argmax(b)) agree++;
  }
  await ort.release();
  return { maxAbsDiff, agreement: agree / samples, ops: (onnxModel.graph!.node ?? []).map((n) => n.opType!) };
}

describe('TFLite import', () => {
  for (const quantize of ['float32', 'float16'] as TfliteQuantize[]) {
    it(`a ${quantize} .tflite made by the exporter imports to ONNX that matches TFLite within 1e-5`, async () => {
      const { bytes } = await exportTflite(model, { quantize, inputShapes: inputs });
      const r = await compareImported(bytes);
      expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-5);
      expect(r.ops).toContain('Conv');
      expect(r.ops).not.toContain('DequantizeLinear'); // float16 weights stay float16 behind a Cast
      expect(r.ops.filter((o) => o === 'Cast')).toHaveLength(quantize === 'float16' ? 3 : 0);
    });
  }

  it('a dynamic-range int8 .tflite imports with DequantizeLinear on the int8 weights', async () => {
    const { bytes } = await exportTflite(model, { quantize: 'dynamic-int8', inputShapes: inputs });
    const r = await compareImported(bytes);
    expect(r.ops.filter((o) => o === 'DequantizeLinear')).toHaveLength(2);
    expect(r.maxAbsDiff).toBeLessThan(0.05); // TFLite's hybrid kernels also quantize the activations; the ONNX model does not
  });

  for (const ioType of ['float32', 'uint8'] as const) {
    it(`a full int8 .tflite (${ioType} I/O) imports as QDQ and agrees with TFLite`, async () => {
      const { bytes } = await exportTflite(model, { quantize: 'int8', ioType, inputShapes: inputs, calibration });
      const r = await compareImported(bytes);
      expect(r.ops.filter((o) => o === 'QuantizeLinear').length).toBeGreaterThanOrEqual(6);
      expect(r.ops.filter((o) => o === 'DequantizeLinear').length).toBeGreaterThanOrEqual(10);
      // Softmax outputs are on a 1/256 grid: allow a few steps of rounding difference between the integer kernels and QDQ in float.
      expect(r.maxAbsDiff).toBeLessThan(4 / 256);
      expect(r.agreement).toBeGreaterThanOrEqual(7 / 8);
    });
  }

  it('importTfliteFile reads a file and keeps the interface names and shapes', async () => {
    const { bytes } = await exportTflite(model, { quantize: 'float32', inputShapes: inputs });
    const file = path.join(tmp, 'cnn.tflite');
    writeFileSync(file, bytes);
    const imp = importTfliteFile(file);
    expect(imp.bytes.length).toBe(bytes.length);
    expect(imp.model.graph!.input!.map((i) => i.name)).toEqual(['x']);
    expect(imp.model.graph!.output!.map((o) => o.name)).toEqual(['probs']);
  });

  it('a custom op (as in an Edge TPU-compiled file) gives an error naming it, in the importer and in the runtime', async () => {
    const t: TfliteModel = {
      description: 'edgetpu-like',
      extraSubgraphs: 0,
      metadata: [],
      graph: {
        tensors: [
          { name: 'in', type: TensorType.UINT8, shape: [1, 4], quantization: { scale: [0.1], zeroPoint: [0], axis: 0 } },
          { name: 'out', type: TensorType.UINT8, shape: [1, 4], quantization: { scale: [0.1], zeroPoint: [0], axis: 0 } },
        ],
        inputs: [0],
        outputs: [1],
        operators: [{ op: Op.CUSTOM, custom: 'edgetpu-custom-op', version: 1, inputs: [0], outputs: [1], customOptions: new Uint8Array([1, 2, 3]) }],
      },
    };
    const bytes = encodeTflite(t);
    const decoded = decodeTflite(bytes);
    expect(decoded.graph.operators[0]!.custom).toBe('edgetpu-custom-op');
    expect(() => importTflite(decoded, 'model_edgetpu.tflite')).toThrow(/model_edgetpu\.tflite: operator 0 is custom op 'edgetpu-custom-op'/);
    await expect(TfliteSession.create(bytes, {}, 'model_edgetpu.tflite')).rejects.toThrow(/custom op 'edgetpu-custom-op'/);
  });

  it('bytes that are not a TFLite flatbuffer are refused', () => {
    expect(() => decodeTflite(new Uint8Array(64), 'x.tflite')).toThrow(/x\.tflite: not a TFLite model/);
  });
});
