/**
 * .tflite → ONNX for the ops real TFLite models use beyond ModelGate's own exports (openWakeWord's
 * LEAKY_RELU/MAXIMUM, its mel front end's EXPAND_DIMS/BATCH_MATMUL/LOG/REDUCE_MAX, MediaPipe's HARD_SWISH,
 * RESIZE_BILINEAR and custom Convolution2DTransposeBias). Each small model is built here as a flatbuffer,
 * run by the TFLite interpreter, imported, run by onnxruntime, and the two outputs compared.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runGate } from '../../src/commands/run.js';
import { randomFeeds } from './fixtures.js';
import { encodeModel } from '../../src/model/onnx.js';
import { OrtSession } from '../../src/runtime/session.js';
import { TfliteSession } from '../../src/runtime/tflite.js';
import { decodeTflite, encodeTflite, type OptionValue, type TfliteModel, type TfliteOperator, type TfliteTensor } from '../../src/formats/tflite/flatbuffer.js';
import { Op, Padding, TensorType } from '../../src/formats/tflite/schema.js';
import { TRANSPOSE_CONV_BIAS, withBuiltinEquivalents } from '../../src/formats/tflite/mediapipe.js';
import { withInputShapes } from '../../src/formats/tflite/input-shapes.js';
import { importTflite } from '../../src/import/tflite.js';
import type { Feeds } from '../../src/model/host-tensor.js';
import { rng, randn } from '../passes/fixtures.js';

const bytesOf = (a: Float32Array | Int32Array): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
const f32 = (name: string, shape: number[], data?: Float32Array, shapeSignature?: number[]): TfliteTensor => ({
  name, type: TensorType.FLOAT32, shape, ...(data ? { data: bytesOf(data) } : {}), ...(shapeSignature ? { shapeSignature } : {}),
});
const i32 = (name: string, values: number[], shape = [values.length]): TfliteTensor => ({ name, type: TensorType.INT32, shape, data: bytesOf(Int32Array.from(values)) });
const op = (code: number, inputs: number[], outputs: number[], options?: Record<string, OptionValue>): TfliteOperator => ({ op: code, version: 1, inputs, outputs, ...(options ? { options } : {}) });

function tflite(tensors: TfliteTensor[], inputs: number[], outputs: number[], operators: TfliteOperator[]): TfliteModel {
  return { description: 'test', extraSubgraphs: 0, metadata: [], graph: { tensors, inputs, outputs, operators } };
}

interface Result {
  maxAbsDiff: number;
  /** max |TFLite output|, so that a test can tell a real comparison from zeros. */
  scale: number;
  onnxOps: string[];
  tflite: Record<string, Float32Array>;
}

/** Runs the model in TFLite (builtin kernels and XNNPACK) and its import in onnxruntime on seeded feeds. */
async function compare(model: TfliteModel, feeds: Feeds, samples = 1): Promise<Result> {
  const bytes = encodeTflite(model);
  const onnxModel = importTflite(decodeTflite(bytes), 'ops.tflite');
  const ort = await OrtSession.create(encodeModel(onnxModel), {}, 'imported');
  let maxAbsDiff = 0, scale = 0;
  const tfliteOut: Record<string, Float32Array> = {};
  try {
    for (const xnnpack of [false, 'auto'] as const) {
      const tfl = await TfliteSession.create(bytes, { xnnpack }, 'ops.tflite');
      for (let s = 0; s < samples; s++) {
        const a = await ort.run(feeds);
        const b = await tfl.run(feeds);
        for (const name of tfl.outputNames) {
          const x = a[name]!.data as Float32Array, y = b[name]!.data as Float32Array;
          expect(a[name]!.dims).toEqual(b[name]!.dims);
          for (let i = 0; i < y.length; i++) {
            maxAbsDiff = Math.max(maxAbsDiff, Number.isNaN(x[i]! - y[i]!) ? Infinity : Math.abs(x[i]! - y[i]!));
            scale = Math.max(scale, Math.abs(y[i]!));
          }
          tfliteOut[name] = y;
        }
      }
    }
  } finally {
    await ort.release();
  }
  return { maxAbsDiff, scale, onnxOps: (onnxModel.graph!.node ?? []).map((n) => n.opType!), tflite: tfliteOut };
}

const feedsFor = (shapes: Record<string, number[]>, seed = 11, lo = -2, hi = 2): Feeds => randomFeeds(shapes, seed, lo, hi);

describe('TFLite import of the ops real models use, checked against the TFLite interpreter', () => {
  it('LEAKY_RELU, MAXIMUM and MINIMUM (openWakeWord embedding)', async () => {
    const rand = rng(1);
    const m = tflite(
      [f32('x', [1, 4, 5, 3]), f32('leaky', [1, 4, 5, 3]), f32('floor', [], Float32Array.of(-0.4)), f32('max', [1, 4, 5, 3]), f32('ceil', [3], randn(3, 0.5, rand)), f32('y', [1, 4, 5, 3])],
      [0], [5],
      [op(Op.LEAKY_RELU, [0], [1], { alpha: 0.2 }), op(Op.MAXIMUM, [1, 2], [3]), op(Op.MINIMUM, [3, 4], [5])],
    );
    const r = await compare(m, feedsFor({ x: [1, 4, 5, 3] }));
    expect(r.onnxOps).toEqual(expect.arrayContaining(['LeakyRelu', 'Max', 'Min']));
    expect(r.scale).toBeGreaterThan(0.1);
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-6);
    // The floor holds: alpha 0.2 on inputs down to -2 would give -0.4 at worst, MAXIMUM keeps it there.
    expect(Math.min(...r.tflite.y!)).toBeGreaterThanOrEqual(-0.4 - 1e-6);
  });

  it('EXPAND_DIMS (positive and negative axis), LOG and SQUEEZE', async () => {
    const m = tflite(
      [f32('x', [2, 6]), f32('eps', [], Float32Array.of(0.01)), f32('pos', [2, 6]), f32('log', [2, 6]), i32('axis1', [1], []), f32('e1', [2, 1, 6]), i32('axisNeg', [-1], []), f32('e2', [2, 1, 6, 1]), f32('y', [2, 6, 1])],
      [0], [8],
      [op(Op.MAXIMUM, [0, 1], [2]), op(Op.LOG, [2], [3]), op(Op.EXPAND_DIMS, [3, 4], [5]), op(Op.EXPAND_DIMS, [5, 6], [7]), op(Op.SQUEEZE, [7], [8], { squeeze_dims: [-3] })],
    );
    const r = await compare(m, feedsFor({ x: [2, 6] }, 12, 0, 3));
    expect(r.onnxOps).toEqual(expect.arrayContaining(['Unsqueeze', 'Log', 'Squeeze']));
    expect(r.scale).toBeGreaterThan(1);
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-6);
  });

  for (const keep of [false, true]) {
    it(`REDUCE_MAX over two axes (keep_dims ${keep})`, async () => {
      const m = tflite([f32('x', [2, 3, 4, 5]), i32('axes', [1, -1]), f32('y', keep ? [2, 1, 4, 1] : [2, 4])], [0], [2], [op(Op.REDUCE_MAX, [0, 1], [2], { keep_dims: keep })]);
      const r = await compare(m, feedsFor({ x: [2, 3, 4, 5] }, 13));
      expect(r.onnxOps).toContain('ReduceMax');
      expect(r.tflite.y!.length).toBe(8);
      expect(r.maxAbsDiff).toBe(0);
    });
  }

  it('BATCH_MATMUL with a constant right side, and with adj_x / adj_y between two inputs', async () => {
    const rand = rng(2);
    const m = tflite(
      [f32('a', [2, 3, 4]), f32('w', [4, 5], randn(20, 0.5, rand)), f32('aw', [2, 3, 5]), f32('b', [2, 6, 5]), f32('c', [2, 4, 3]), f32('y', [2, 3, 6]), f32('z', [2, 3, 3])],
      [0, 3, 4], [5, 6],
      [op(Op.BATCH_MATMUL, [0, 1], [2]), op(Op.BATCH_MATMUL, [2, 3], [5], { adj_y: true }), op(Op.BATCH_MATMUL, [4, 0], [6], { adj_x: true, adj_y: true })],
    );
    const r = await compare(m, feedsFor({ a: [2, 3, 4], b: [2, 6, 5], c: [2, 4, 3] }, 14));
    expect(r.onnxOps.filter((o) => o === 'MatMul')).toHaveLength(3);
    expect(r.scale).toBeGreaterThan(1);
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-5);
  });

  it('HARD_SWISH (MediaPipe) over the range where it bends', async () => {
    const m = tflite([f32('x', [1, 4, 4, 3]), f32('y', [1, 4, 4, 3])], [0], [1], [op(Op.HARD_SWISH, [0], [1])]);
    const r = await compare(m, feedsFor({ x: [1, 4, 4, 3] }, 15, -5, 5));
    expect(r.onnxOps).toEqual(['HardSigmoid', 'Mul', 'Identity']);
    expect(r.scale).toBeGreaterThan(3);
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-6);
  });

  for (const [mode, options] of [
    ['align_corners', { align_corners: true }],
    ['half_pixel_centers', { half_pixel_centers: true }],
    ['neither (asymmetric)', {}],
  ] as const) {
    it(`RESIZE_BILINEAR with ${mode}, up by 2 and by a non-integer ratio`, async () => {
      const m = tflite(
        [f32('x', [1, 3, 5, 2]), i32('size2', [6, 10]), f32('up2', [1, 6, 10, 2]), i32('sizeOdd', [7, 8]), f32('odd', [1, 7, 8, 2])],
        [0], [2, 4],
        [op(Op.RESIZE_BILINEAR, [0, 1], [2], options), op(Op.RESIZE_BILINEAR, [0, 3], [4], options)],
      );
      const r = await compare(m, feedsFor({ x: [1, 3, 5, 2] }, 16));
      expect(r.onnxOps.filter((o) => o === 'Resize')).toHaveLength(2);
      expect(r.scale).toBeGreaterThan(1);
      expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    });
  }

  for (const [padding, name] of [[Padding.SAME, 'SAME'], [Padding.VALID, 'VALID']] as const) {
    it(`TRANSPOSE_CONV with a bias (${name}, stride 2, 3×3)`, async () => {
      const rand = rng(3);
      const outHw = padding === Padding.SAME ? [10, 12] : [11, 13];
      const m = tflite(
        [f32('x', [1, 5, 6, 3]), i32('out_shape', [1, ...outHw, 4]), f32('w', [4, 3, 3, 3], randn(108, 0.5, rand)), f32('b', [4], randn(4, 0.5, rand)), f32('y', [1, ...outHw, 4])],
        [0], [4],
        [{ ...op(Op.TRANSPOSE_CONV, [1, 2, 0, 3], [4], { padding, stride_w: 2, stride_h: 2 }), version: 3 }],
      );
      const r = await compare(m, feedsFor({ x: [1, 5, 6, 3] }, 17));
      expect(r.onnxOps).toContain('ConvTranspose');
      expect(r.scale).toBeGreaterThan(1);
      expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    });
  }
});

describe('an op the import does not handle', () => {
  it('is refused with its schema name, not its number', () => {
    const m = tflite([f32('x', [4, 3]), i32('idx', [0, 2]), f32('y', [2, 3])], [0], [2], [op(36, [0, 1], [2])]);
    expect(() => importTflite(m, 'g.tflite')).toThrow(/g\.tflite: operator 0 \(GATHER\): GATHER is not supported by the TFLite import/);
  });
});

describe("MediaPipe's Convolution2DTransposeBias", () => {
  /** custom_options: TfLiteTransposeConvParams as three little-endian int32s (padding 1 = SAME, 2 = VALID; stride w, h). */
  const params = (padding: number, sw: number, sh: number): Uint8Array => bytesOf(Int32Array.of(padding, sw, sh));
  const customModel = (x: number[], w: Float32Array, wShape: number[], b: Float32Array, out: number[], options: Uint8Array): TfliteModel =>
    tflite(
      [f32('x', x), f32('w', wShape, w), f32('b', [wShape[0]!], b), f32('y', out)],
      [0], [3],
      [{ op: Op.CUSTOM, custom: TRANSPOSE_CONV_BIAS, version: 1, inputs: [0, 1, 2], outputs: [3], customOptions: options }],
    );

  it('imports as ConvTranspose with the bias and matches a hand-computed case', async () => {
    // One input channel, 2×2 input, 2×2 kernel of ones, stride 2 (VALID): each input cell fills its own 2×2 block, plus the bias.
    const m = customModel([1, 2, 2, 1], Float32Array.of(1, 1, 1, 1), [1, 2, 2, 1], Float32Array.of(0.5), [1, 4, 4, 1], params(2, 2, 2));
    const onnxModel = importTflite(m, 'mp.tflite');
    expect((onnxModel.graph!.node ?? []).map((n) => n.opType)).toContain('ConvTranspose');
    const ort = await OrtSession.create(encodeModel(onnxModel), {}, 'mp');
    const y = (await ort.run({ x: { type: 'float32', dims: [1, 2, 2, 1], data: Float32Array.of(1, 2, 3, 4) } })).y!;
    await ort.release();
    expect(y.dims).toEqual([1, 4, 4, 1]);
    expect(Array.from(y.data as Float32Array)).toEqual([1.5, 1.5, 2.5, 2.5, 1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 4.5, 4.5, 3.5, 3.5, 4.5, 4.5]);
  });

  it('SAME with an odd total crop: the import, the runtime substitute and builtin TRANSPOSE_CONV + ADD in TFLite agree', async () => {
    const rand = rng(4);
    const w = randn(3 * 3 * 3 * 2, 0.5, rand), b = randn(3, 0.5, rand);
    // in 5×6, kernel 3, stride 2, SAME: total crop 3 - (4 % 2) - 1 = 2 (h), 3 - (5 % 2) - 1 = 1 (w) → out 2·4 + 3 - 2 = 9 by 2·5 + 3 - 1 = 12
    // (not TF's SAME 10×12: MediaPipe's rule), with 1 row and 0 columns cropped first.
    const custom = customModel([1, 5, 6, 2], w, [3, 3, 3, 2], b, [1, 9, 12, 3], params(1, 2, 2));
    // The same computation with stock ops: TRANSPOSE_CONV (no bias) then ADD of the bias.
    const stock = tflite(
      [f32('x', [1, 5, 6, 2]), i32('out_shape', [1, 9, 12, 3]), f32('w', [3, 3, 3, 2], w), f32('conv', [1, 9, 12, 3]), f32('b', [3], b), f32('y', [1, 9, 12, 3])],
      [0], [5],
      [op(Op.TRANSPOSE_CONV, [1, 2, 0], [3], { padding: Padding.SAME, stride_w: 2, stride_h: 2 }), op(Op.ADD, [3, 4], [5])],
    );
    const feeds = feedsFor({ x: [1, 5, 6, 2] }, 18);
    const reference = await compare(stock, feeds); // stock TFLite vs its own import
    expect(reference.maxAbsDiff).toBeLessThanOrEqual(1e-5);

    // The custom model's import against stock TFLite.
    const ort = await OrtSession.create(encodeModel(importTflite(custom, 'mp.tflite')), {}, 'mp');
    const imported = (await ort.run(feeds)).y!;
    await ort.release();
    expect(imported.dims).toEqual([1, 9, 12, 3]);
    const want = reference.tflite.y!;
    expect(Math.max(...Array.from(imported.data as Float32Array, (v, i) => Math.abs(v - want[i]!)))).toBeLessThanOrEqual(1e-5);

    // The runtime runs the custom-op file itself, through the builtin substitute.
    const sub = withBuiltinEquivalents(custom, 'mp.tflite');
    expect(sub.graph.operators.map((o) => o.op)).toEqual([Op.TRANSPOSE_CONV]);
    const tfl = await TfliteSession.create(encodeTflite(custom), { xnnpack: false }, 'mp.tflite');
    const ran = (await tfl.run(feeds)).y!.data as Float32Array;
    expect(Math.max(...Array.from(ran, (v, i) => Math.abs(v - want[i]!)))).toBeLessThanOrEqual(1e-5);
    expect(Math.max(...Array.from(want, Math.abs))).toBeGreaterThan(1);
  });

  it('custom options that are too short or name no padding are refused by name', () => {
    const base = customModel([1, 2, 2, 1], Float32Array.of(1, 1, 1, 1), [1, 2, 2, 1], Float32Array.of(0), [1, 4, 4, 1], new Uint8Array(8));
    expect(() => importTflite(base, 'short.tflite')).toThrow(/short\.tflite: .*Convolution2DTransposeBias needs 12 bytes of custom options/);
    const bad = customModel([1, 2, 2, 1], Float32Array.of(1, 1, 1, 1), [1, 2, 2, 1], Float32Array.of(0), [1, 4, 4, 1], params(7, 2, 2));
    expect(() => importTflite(bad, 'pad.tflite')).toThrow(/pad\.tflite: .*padding 7/);
  });
});

describe('a .tflite with open dims (shape signature -1)', () => {
  // [-1, -1] samples → EXPAND_DIMS → [-1, 1, -1] → MUL by itself → SQUEEZE: the file's shapes are placeholders [1, 1].
  const model = tflite(
    [f32('x', [1, 1], undefined, [-1, -1]), i32('axis', [1], []), f32('e', [1, 1, 1], undefined, [-1, 1, -1]), f32('sq', [1, 1, 1], undefined, [-1, 1, -1]), f32('y', [1, 1], undefined, [-1, -1])],
    [0], [4],
    [op(Op.EXPAND_DIMS, [0, 1], [2]), op(Op.MUL, [2, 2], [3]), op(Op.SQUEEZE, [3], [4], { squeeze_dims: [1] })],
  );

  it('imports with those dims open, and runs in TFLite and onnxruntime at the shape the config gives', async () => {
    const onnxModel = importTflite(model, 'dyn.tflite');
    const dims = onnxModel.graph!.input![0]!.type!.tensorType!.shape!.dim!;
    expect(dims.map((d) => d.dimValue ?? null)).toEqual([null, null]);
    const sized = withInputShapes(model, { x: [1, 7] }, 'dyn.tflite');
    expect(sized.graph.tensors[0]!.shape).toEqual([1, 7]);
    const r = await compare(sized, feedsFor({ x: [1, 7] }, 19));
    expect(r.tflite.y!.length).toBe(7);
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-6);
  });

  it('a fixed dim cannot be resized', () => {
    const fixed = tflite([f32('x', [1, 4], undefined, [-1, 4]), f32('y', [1, 4])], [0], [1], [op(Op.RELU, [0], [1])]);
    expect(withInputShapes(fixed, { x: [3, 4] }, 'f.tflite').graph.tensors[0]!.shape).toEqual([3, 4]);
    expect(withInputShapes(fixed, { x: [1, 4] }, 'f.tflite')).toBe(fixed);
    expect(() => withInputShapes(fixed, { x: [1, 5] }, 'f.tflite')).toThrow(/f\.tflite: input 'x' is \[-1, 4\].*cannot run at \[1, 5\]/);
  });
});

describe('through the gate: a .tflite with open dims and a MediaPipe custom op as the config model', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-tflite-ops-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the TFLite reference runs at the configured shape with the custom op substituted, and the ORT candidate matches it', async () => {
    const rand = rng(5);
    // audio [-1, -1] → log(max(audio, 0.01)) → reduce max over the samples (keep dims); image [-1, 3, 3, 2] → Convolution2DTransposeBias.
    const model = tflite(
      [
        f32('audio', [1, 1], undefined, [-1, -1]), f32('eps', [], Float32Array.of(0.01)), f32('pos', [1, 1], undefined, [-1, -1]),
        f32('log', [1, 1], undefined, [-1, -1]), i32('axes', [1]), f32('peak', [1, 1], undefined, [-1, 1]),
        f32('image', [1, 3, 3, 2], undefined, [-1, 3, 3, 2]), f32('w', [4, 3, 3, 2], randn(72, 0.5, rand)), f32('b', [4], randn(4, 0.5, rand)),
        f32('mask', [1, 5, 5, 4], undefined, [-1, 5, 5, 4]),
      ],
      [0, 6], [5, 9],
      [
        op(Op.MAXIMUM, [0, 1], [2]), op(Op.LOG, [2], [3]), op(Op.REDUCE_MAX, [3, 4], [5], { keep_dims: true }),
        { op: Op.CUSTOM, custom: TRANSPOSE_CONV_BIAS, version: 1, inputs: [6, 7, 8], outputs: [9], customOptions: bytesOf(Int32Array.of(1, 2, 2)) },
      ],
    );
    writeFileSync(path.join(dir, 'mp.tflite'), encodeTflite(model));
    writeFileSync(path.join(dir, 'modelgate.yml'), [
      'model: mp.tflite',
      'inputs: { audio: { shape: [1, 50], range: [0, 4] } }',
      'optimize:',
      '  - { name: ort, passes: [{ cleanup: {} }] }',
      'benchmark: { batch: 1, threads: 1, runs: 20 }',
      '',
    ].join('\n'));
    const r = await runGate({ configPath: path.join(dir, 'modelgate.yml'), outDir: path.join(dir, 'out') });
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(0);
    const [ref, ort] = r.report.candidates;
    expect(ref).toMatchObject({ id: 'reference', runtime_kind: 'tflite' });
    expect(ref!.latency?.p50_ms).toBeGreaterThan(0);
    // The reference file is the model at [1, 50]: what TFLite ran.
    const written = decodeTflite(readFileSync(path.join(dir, 'out', 'models', 'reference.tflite')));
    expect(written.graph.tensors[written.graph.inputs[0]!]!.shape).toEqual([1, 50]);
    expect(ort).toMatchObject({ id: 'ort', runtime_kind: 'onnxruntime' });
    expect(ort!.fidelity!.outputs.map((o) => o.name).sort()).toEqual(['mask', 'peak']);
    expect(ort!.fidelity!.max_abs_error).toBeLessThanOrEqual(1e-4);
  }, 120_000);
});
