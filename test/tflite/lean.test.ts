/**
 * What the TFLite export spends bytes on besides the weights (float16 and int8 variants), the int8 float
 * fallback around ops without an int8 rule, and the import of float16 weights (kept float16 behind a Cast).
 * Every model runs in the real TFLite runtime and onnxruntime.
 */
import { describe, expect, it } from 'vitest';
import { buildModel, compareExport, ints, node, randomFeeds, type GraphSpec } from './fixtures.js';
import { makeTensor } from '../../src/model/tensor.js';
import { DataType, encodeModel } from '../../src/model/onnx.js';
import { exportTflite } from '../../src/export/tflite/export.js';
import { FP16_MIN_ELEMENTS } from '../../src/export/tflite/quantize.js';
import { decodeTflite, elementCount, type TfliteModel } from '../../src/formats/tflite/flatbuffer.js';
import { Op, TensorType } from '../../src/formats/tflite/schema.js';
import { importTflite } from '../../src/import/tflite.js';
import { OrtSession } from '../../src/runtime/session.js';
import { TfliteSession } from '../../src/runtime/tflite.js';
import { runRecipe } from '../../src/passes/registry.js';
import { testContext } from '../passes/fixtures.js';

const dataBytes = (m: TfliteModel): number => m.graph.tensors.reduce((s, t) => s + (t.data?.length ?? 0), 0);
const count = (m: TfliteModel, op: number): number => m.graph.operators.filter((o) => o.op === op).length;

/**
 * An audio-frontend-like graph: Unsqueeze → Conv (a framing filter bank, 64×1×1×128 weights) → Squeeze →
 * Unsqueeze → Transpose of size-1 axes (a chain of reshapes that ends at the shape it started from), a MatMul
 * without bias, a scalar Mul, the same scale constant twice (two initializers).
 */
function frontend(): { spec: GraphSpec; inputs: Record<string, number[]> } {
  const inputs = { x: [1, 1, 512] };
  const spec: GraphSpec = {
    inputs,
    outputs: ['y'],
    inits: {
      ax: makeTensor('ax', [1], BigInt64Array.of(2n)),
      w: [[64, 1, 1, 128]], b: [[64]], mel: [[64, 16]],
      k1: [[], Float32Array.of(0.25)], k2: [[], Float32Array.of(0.25)], s: [[16], Float32Array.from({ length: 16 }, (_, i) => 1 + i / 16)],
    },
    nodes: [
      node('Unsqueeze', ['x', 'ax'], ['x4']), // [1, 1, 1, 512]
      node('Conv', ['x4', 'w', 'b'], ['c'], { attributes: [ints('kernel_shape', [1, 128]), ints('strides', [1, 64])] }), // [1, 64, 1, 7]
      node('Transpose', ['c'], ['t'], { attributes: [ints('perm', [0, 2, 3, 1])] }), // [1, 1, 7, 64]
      node('Mul', ['t', 't'], ['p']),
      node('MatMul', ['p', 'mel'], ['m']), // [1, 1, 7, 16], no bias
      node('Mul', ['m', 'k1'], ['m1']),
      node('Mul', ['m1', 's'], ['m2']),
      node('Mul', ['m2', 'k2'], ['y']),
    ],
  };
  return { spec, inputs };
}

describe('TFLite export: bytes besides the weights', () => {
  it('float16: only constants of FP16_MIN_ELEMENTS or more behind DEQUANTIZE, no zero bias, duplicates stored once, and the float16 file costs at most ~100 bytes per DEQUANTIZE over its data more than the float32 one', async () => {
    const { spec, inputs } = frontend();
    const model = buildModel(spec);
    const f32 = decodeTflite((await exportTflite(model, { quantize: 'float32', inputShapes: inputs })).bytes);
    const exported = await exportTflite(model, { quantize: 'float16', inputShapes: inputs });
    const f16 = decodeTflite(exported.bytes);
    const consts = f16.graph.tensors.filter((t) => t.data);
    for (const t of consts.filter((x) => x.type === TensorType.FLOAT16)) expect(elementCount(t.shape)).toBeGreaterThanOrEqual(FP16_MIN_ELEMENTS);
    for (const t of consts.filter((x) => x.type === TensorType.FLOAT32)) expect(elementCount(t.shape)).toBeLessThan(FP16_MIN_ELEMENTS);
    expect(consts.filter((x) => x.type === TensorType.FLOAT16).map((t) => t.shape)).toEqual([[64, 1, 128, 1], [64], [16, 64]]);
    // k1 and k2 hold the same scalar: one tensor, read by both MULs.
    expect(consts.filter((x) => x.type === TensorType.FLOAT32 && x.shape.length === 0)).toHaveLength(1);
    const fc = f16.graph.operators.find((o) => o.op === Op.FULLY_CONNECTED)!;
    expect(fc.inputs[2]).toBe(-1);
    // Unsqueeze/Squeeze/Transpose of size-1 axes: one RESHAPE at the input, none left between the conv and the MUL.
    expect(count(f16, Op.RESHAPE)).toBe(1);
    expect(exported.notes.join('\n')).toMatch(/RESHAPE ops removed/);
    const dq = count(f16, Op.DEQUANTIZE);
    expect(dq).toBe(3);
    const overhead32 = exported.bytes.length - dataBytes(f16);
    const f32Bytes = (await exportTflite(model, { quantize: 'float32', inputShapes: inputs })).bytes.length;
    expect(overhead32 - (f32Bytes - dataBytes(f32))).toBeLessThanOrEqual(100 * dq);
    const r = await compareExport(model, { quantize: 'float16' }, inputs);
    expect(r.maxAbsDiff).toBeLessThan(2e-3 * Math.max(1, r.scale));
  });

  it('float32 and int8 exports also lose the reshape chain and match their references', async () => {
    const { spec, inputs } = frontend();
    const model = buildModel(spec);
    const r = await compareExport(model, { quantize: 'float32' }, inputs);
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-5 * Math.max(1, r.scale));
    expect(r.ops.filter((o) => Number(o) === Op.RESHAPE)).toHaveLength(1);
    const calibration = Array.from({ length: 16 }, (_, s) => randomFeeds(inputs, 300 + s));
    const q = await compareExport(model, { quantize: 'int8', calibration }, inputs);
    expect(q.ops.filter((o) => Number(o) === Op.RESHAPE)).toHaveLength(1);
    expect(q.maxAbsDiff).toBeLessThan(0.2 * q.scale); // a square of int8 activations: coarse, but the same function
  });
});

describe('TFLite int8 export: float fallback for ops without an int8 rule', () => {
  // x → Conv → Sigmoid → Log (no int8 rule) → Mul: Log runs in float32 between DEQUANTIZE and QUANTIZE.
  // a, b → Sigmoid → Log → MatMul of the two Logs (BATCH_MATMUL: no int8 rule either): the float ops read each
  // other's float outputs directly, with no QUANTIZE/DEQUANTIZE pair between them.
  // p → Log → Mul: a float op at the graph's input reads the float input itself; z, computed by the float
  // BATCH_MATMUL, is written in float (no QUANTIZE/DEQUANTIZE round trip at the edges with float32 I/O).
  const inputs = { x: [1, 3, 6, 6], a: [1, 4, 8], b: [1, 8, 3], p: [1, 5] };
  const spec: GraphSpec = {
    inputs,
    outputs: ['y', 'z', 'v'],
    inits: { w: [[4, 3, 3, 3]], cb: [[4]], k: [[], Float32Array.of(-0.5)] },
    nodes: [
      node('Conv', ['x', 'w', 'cb'], ['c'], { attributes: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] }),
      node('Sigmoid', ['c'], ['s']), node('Log', ['s'], ['l']), node('Mul', ['l', 'k'], ['y']),
      node('Sigmoid', ['a'], ['sa']), node('Log', ['sa'], ['la']), node('Sigmoid', ['b'], ['sb']), node('Log', ['sb'], ['lb']),
      node('MatMul', ['la', 'lb'], ['z']),
      node('Log', ['p'], ['lp']), node('Mul', ['lp', 'k'], ['v']),
    ],
  };
  const model = buildModel(spec);
  // Positive inputs (Log of p): [0.1, 2].
  const calibration = Array.from({ length: 32 }, (_, s) => randomFeeds(inputs, 700 + s, 0.1, 2));

  it('runs in the TFLite runtime close to float, with float tensors only around the fallback ops', async () => {
    const exported = await exportTflite(model, { quantize: 'int8', inputShapes: inputs, calibration });
    const g = exported.model.graph;
    expect(exported.notes.join('\n')).toMatch(/4 LOG, BATCH_MATMUL have no int8 kernel rule here; run in float32/);
    for (const o of g.operators.filter((x) => x.op === Op.LOG || x.op === Op.BATCH_MATMUL)) {
      for (const i of [...o.inputs, ...o.outputs]) expect(g.tensors[i]!.type).toBe(TensorType.FLOAT32);
    }
    for (const o of g.operators.filter((x) => x.op === Op.CONV_2D || x.op === Op.LOGISTIC || x.op === Op.MUL)) {
      expect(g.tensors[o.inputs[0]!]!.type).toBe(TensorType.INT8);
      expect(g.tensors[o.outputs[0]!]!.type).toBe(TensorType.INT8);
    }
    // The Log outputs feeding the MatMul are read as float: no QUANTIZE is left that nothing reads.
    const read = new Set([...g.outputs, ...g.operators.flatMap((o) => o.inputs)]);
    for (const o of g.operators.filter((x) => x.op === Op.QUANTIZE)) expect(o.outputs.some((t) => read.has(t))).toBe(true);
    const bmm = g.operators.find((o) => o.op === Op.BATCH_MATMUL)!;
    const producers = bmm.inputs.map((i) => g.operators.find((o) => o.outputs.includes(i))!.op);
    expect(producers).toEqual([Op.LOG, Op.LOG]);
    const z = g.outputs[1]!;
    expect(bmm.outputs).toEqual([z]);
    const p = g.inputs[3]!;
    expect(g.operators.filter((o) => o.inputs.includes(p)).map((o) => o.op)).toEqual([Op.LOG]);

    const session = await TfliteSession.create(exported.bytes, { threads: 1 }, 'fallback.tflite');
    const ort = await OrtSession.create(encodeModel(model), {}, 'fallback.onnx');
    try {
      for (let s = 0; s < 4; s++) {
        const feeds = randomFeeds(inputs, 40 + s, 0.2, 1.8); // inside the calibrated range (Log is steep near 0)
        const want = await ort.run(feeds);
        const got = await session.run(feeds);
        for (const name of ['y', 'z', 'v']) {
          const a = want[name]!.data as Float32Array, b = got[name]!.data as Float32Array;
          const scale = Math.max(...Array.from(a, Math.abs));
          let err = 0;
          for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - b[i]!));
          expect(err).toBeLessThan(0.04 * scale);
        }
      }
    } finally {
      await ort.release();
    }
  });
});

describe('TFLite import of float16 weights', () => {
  it('keeps them float16 behind a Cast: the ONNX file is about the .tflite size and runs like TFLite', async () => {
    const inputs = { x: [1, 8, 10, 10] };
    const model = buildModel({
      inputs, outputs: ['y'],
      inits: { w1: [[32, 8, 3, 3]], b1: [[32]], w2: [[16, 32, 3, 3]], b2: [[16]], lo: [[], Float32Array.of(0)], hi: [[], Float32Array.of(6)] },
      nodes: [
        node('Conv', ['x', 'w1', 'b1'], ['c1'], { attributes: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] }),
        node('Clip', ['c1', 'lo', 'hi'], ['r1']),
        node('Conv', ['r1', 'w2', 'b2'], ['y'], { attributes: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2])] }),
      ],
    });
    const { bytes } = await exportTflite(model, { quantize: 'float16', inputShapes: inputs });
    const imported = importTflite(decodeTflite(bytes), 'fp16.tflite');
    const inits = imported.graph!.initializer!;
    const half = inits.filter((t) => t.dataType === DataType.FLOAT16);
    expect(half.map((t) => t.dims!.map(Number))).toEqual([[32, 8, 3, 3], [16, 32, 3, 3]]);
    const casts = imported.graph!.node!.filter((n) => n.opType === 'Cast');
    expect(casts).toHaveLength(2);
    expect(casts.every((n) => n.attribute!.find((a) => a.name === 'to')!.i!.toString() === String(DataType.FLOAT))).toBe(true);
    const onnxBytes = encodeModel(imported);
    // Before: float16 weights widened to float32, ~1.9x the .tflite.
    expect(onnxBytes.length).toBeLessThan(1.15 * bytes.length);
    const ort = await OrtSession.create(onnxBytes, {}, 'imported');
    const tfl = await TfliteSession.create(bytes, { threads: 1 }, 'fp16.tflite');
    try {
      for (let s = 0; s < 3; s++) {
        const feeds = randomFeeds(inputs, 60 + s);
        const a = (await ort.run(feeds)).y!.data as Float32Array;
        const b = (await tfl.run(feeds)).y!.data as Float32Array;
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(b[i]!)));
      }
    } finally {
      await ort.release();
    }
  });

  it('weight_only finds the weights behind the Cast; the one it leaves float stays float16, and the outputs do not move', async () => {
    const inputs = { x: [1, 8, 10, 10] };
    const model = buildModel({
      inputs, outputs: ['y'],
      inits: { w1: [[32, 8, 3, 3]], b1: [[32]], w2: [[16, 32, 3, 3]], b2: [[16]] },
      nodes: [
        node('Conv', ['x', 'w1', 'b1'], ['c1'], { name: 'conv1', attributes: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] }),
        node('Relu', ['c1'], ['r1']),
        node('Conv', ['r1', 'w2', 'b2'], ['y'], { name: 'conv2', attributes: [ints('kernel_shape', [3, 3])] }),
      ],
    });
    const { bytes } = await exportTflite(model, { quantize: 'float16', inputShapes: inputs });
    const imported = importTflite(decodeTflite(bytes), 'fp16.tflite');
    const log: string[] = [];
    // conv2's weight (4,608 elements) is quantized; conv1's (2,304) is under min_elements and stays float.
    const { model: q } = await runRecipe(imported, [{ weight_only: { min_elements: 4000 } }], testContext(() => [], log));
    const inits = q.graph!.initializer!;
    const byType = (type: number) => inits.filter((t) => t.dataType === type).map((t) => t.dims!.map(Number));
    expect(byType(DataType.INT8).filter((d) => d.length === 4)).toEqual([[16, 32, 3, 3]]); // and its per-channel zero points
    expect(byType(DataType.FLOAT16)).toEqual([[32, 8, 3, 3]]);
    expect(inits.filter((t) => t.dataType === DataType.FLOAT && t.dims!.map(Number).length === 4)).toHaveLength(0);
    expect(log.join('\n')).toMatch(/weight_only: 1 float16 weight it left float kept as float16 behind a Cast/);
    // Size: the int8 weight is half its float16 bytes, the float16 one unchanged.
    expect(encodeModel(q).length).toBeLessThan(encodeModel(imported).length - 4000);
    const a = await OrtSession.create(encodeModel(imported), {}, 'imported');
    const b = await OrtSession.create(encodeModel(q), {}, 'weight_only');
    try {
      const feeds = randomFeeds(inputs, 5);
      const ya = (await a.run(feeds)).y!.data as Float32Array, yb = (await b.run(feeds)).y!.data as Float32Array;
      const scale = Math.max(...Array.from(ya, Math.abs));
      let err = 0;
      for (let i = 0; i < ya.length; i++) err = Math.max(err, Math.abs(ya[i]! - yb[i]!));
      expect(err).toBeLessThan(0.05 * scale); // int8 rounding of conv2's weights only
      expect(err).toBeGreaterThan(0);
    } finally {
      await a.release();
      await b.release();
    }
  });
});
