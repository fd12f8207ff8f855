/** Small ONNX graphs built in code, and runners that compare onnxruntime with TFLite on the same inputs. */
import Long from 'long';
import { onnx, encodeModel, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { OrtSession } from '../../src/runtime/session.js';
import { TfliteSession } from '../../src/runtime/tflite.js';
import type { Feeds } from '../../src/model/host-tensor.js';
import { exportTflite, type TfliteExportOptions } from '../../src/export/tflite/export.js';
import { rng, randn } from '../passes/fixtures.js';

export { rng, randn };

export interface GraphSpec {
  nodes: onnx.NodeProto[];
  /** name → [dims, values]; values default to seeded random weights. */
  inits?: Record<string, [number[], Float32Array?] | onnx.TensorProto>;
  inputs: Record<string, number[]>;
  outputs: string[];
  opset?: number;
  seed?: number;
}

export function buildModel(spec: GraphSpec): Model {
  const rand = rng(spec.seed ?? 7);
  const initializer = Object.entries(spec.inits ?? {}).map(([name, v]) => {
    if (v instanceof onnx.TensorProto) return v;
    const [dims, values] = v;
    const n = dims.reduce((a, b) => a * b, 1);
    return makeTensor(name, dims, values ?? randn(n, 0.5, rand));
  });
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    producerName: 'modelgate-test',
    opsetImport: [{ domain: '', version: Long.fromNumber(spec.opset ?? 13) }],
    graph: {
      name: 'g',
      node: spec.nodes,
      initializer,
      input: Object.entries(spec.inputs).map(([name, dims]) => tensorValueInfo(name, FLOAT, dims)),
      output: spec.outputs.map((name) => onnx.ValueInfoProto.create({ name })),
    },
  });
}

export const node = makeNode;

export function randomFeeds(inputs: Record<string, number[]>, seed: number, lo = -1, hi = 1): Feeds {
  const rand = rng(seed);
  return Object.fromEntries(
    Object.entries(inputs).map(([name, dims]) => {
      const n = dims.reduce((a, b) => a * b, 1);
      return [name, { type: 'float32' as const, dims, data: Float32Array.from({ length: n }, () => lo + (hi - lo) * rand()) }];
    }),
  );
}

export interface Comparison {
  maxAbsDiff: number;
  /** max |onnxruntime output|, for relative bounds. */
  scale: number;
  /** Top-1 agreement on the first output's rows. */
  agreement: number;
  bytes: number;
  ops: string[];
}

/** Exports `model`, then runs onnxruntime and TFLite on `samples` seeded feeds and compares every output. */
export async function compareExport(
  model: Model,
  options: Omit<TfliteExportOptions, 'inputShapes'> & { inputShapes?: Record<string, number[]>; xnnpack?: boolean },
  inputs: Record<string, number[]>,
  samples = 4,
  range: [number, number] = [-1, 1],
): Promise<Comparison> {
  const exported = await exportTflite(model, { inputShapes: inputs, ...options });
  const ort = await OrtSession.create(encodeModel(model), {}, 'onnx');
  const tfl = await TfliteSession.create(exported.bytes, { threads: 1, xnnpack: options.xnnpack ?? 'auto' }, 'tflite');
  let maxAbsDiff = 0, scale = 0, agree = 0, rows = 0;
  try {
    for (let s = 0; s < samples; s++) {
      const feeds = randomFeeds(inputs, 100 + s, range[0], range[1]);
      const a = await ort.run(feeds);
      const b = await tfl.run(feeds);
      ort.outputNames.forEach((name, k) => {
        const x = a[name]!.data as Float32Array, y = b[name]!.data as Float32Array;
        if (x.length !== y.length) throw new Error(`output ${name}: ${x.length} values in onnxruntime, ${y.length} in TFLite`);
        for (let i = 0; i < x.length; i++) {
          maxAbsDiff = Math.max(maxAbsDiff, Math.abs(x[i]! - y[i]!));
          scale = Math.max(scale, Math.abs(x[i]!));
        }
        if (k === 0) {
          const r = a[name]!.dims[0] ?? 1, w = x.length / r;
          for (let i = 0; i < r; i++) {
            if (argmax(x, i * w, w) === argmax(y, i * w, w)) agree++;
            rows++;
          }
        }
      });
    }
  } finally {
    await ort.release();
  }
  return { maxAbsDiff, scale, agreement: agree / rows, bytes: exported.bytes.length, ops: exported.model.graph.operators.map((o) => String(o.op)) };
}

export function argmax(a: ArrayLike<number>, offset = 0, width = a.length): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (a[offset + j]! > a[offset + best]!) best = j;
  return best;
}

/** Conv(8→16, 3×3, pad 1)+Relu → MaxPool 2 → Conv(16→16 depthwise)+Relu6 → Flatten → Gemm(→10) → Softmax, on [1, 8, 8, 8]. */
export function smallCnn(seed = 3): { model: Model; inputs: Record<string, number[]> } {
  const rand = rng(seed);
  const model = buildModel({
    seed,
    inputs: { x: [1, 8, 8, 8] },
    outputs: ['probs'],
    inits: {
      w1: [[16, 8, 3, 3], randn(16 * 8 * 9, Math.sqrt(2 / 72), rand)],
      b1: [[16], randn(16, 0.1, rand)],
      w2: [[16, 1, 3, 3], randn(16 * 9, Math.sqrt(2 / 9), rand)],
      b2: [[16], randn(16, 0.1, rand)],
      fc: [[10, 256], randn(2560, Math.sqrt(1 / 256) * 3, rand)],
      fb: [[10], randn(10, 0.1, rand)],
      lo: [[], Float32Array.of(0)],
      hi: [[], Float32Array.of(6)],
    },
    nodes: [
      node('Conv', ['x', 'w1', 'b1'], ['c1'], { name: 'conv1', attributes: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] }),
      node('Relu', ['c1'], ['r1'], { name: 'relu1' }),
      node('MaxPool', ['r1'], ['p1'], { name: 'pool1', attributes: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] }),
      node('Conv', ['p1', 'w2', 'b2'], ['c2'], { name: 'dw', attributes: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), int('group', 16)] }),
      node('Clip', ['c2', 'lo', 'hi'], ['r2'], { name: 'relu6' }),
      node('Flatten', ['r2'], ['flat'], { name: 'flatten' }),
      node('Gemm', ['flat', 'fc', 'fb'], ['logits'], { name: 'fc', attributes: [int('transB', 1)] }),
      node('Softmax', ['logits'], ['probs'], { name: 'softmax', attributes: [int('axis', 1)] }),
    ],
  });
  return { model, inputs: { x: [1, 8, 8, 8] } };
}

import { intAttr, intsAttr, floatAttr } from '../../src/model/graph.js';
export const int = intAttr;
export const ints = intsAttr;
export const float = floatAttr;
