/** Small models built in code (seeded), and an ORT runner, for the pass tests. */
import Long from 'long';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onnx, encodeModel, decodeModel, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { makeNode, intAttr, intsAttr, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { OrtSession, type RuntimeOptions } from '../../src/runtime/session.js';
import type { Feeds, HostTensor } from '../../src/model/host-tensor.js';
import type { PassContext } from '../../src/passes/pass.js';
import { seededRandom } from '../../src/data/random.js';

/** The project's seeded PRNG: weights and inputs repeat exactly. */
export const rng = seededRandom;

/** Roughly normal (sum of uniforms), times `std`. */
export function randn(n: number, std: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() + rand() + rand() + rand() - 2) * Math.sqrt(3) * std;
  return out;
}

export function model(graph: onnx.IGraphProto, opset = 13): Model {
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    producerName: 'modelgate-test',
    opsetImport: [{ domain: '', version: Long.fromNumber(opset) }],
    graph,
  });
}

export interface CnnOptions {
  seed?: number;
  /** Gemm weight stored as [10, 5408] with transB=1 (default) or [5408, 10]. */
  transB?: boolean;
  softmax?: boolean;
}

/** The MNIST example's shape: Conv(32,3x3)+Relu → MaxPool(2) → Flatten → Gemm(5408→10) → Softmax. */
export function buildCnn(o: CnnOptions = {}): Model {
  const rand = rng(o.seed ?? 1);
  const transB = o.transB ?? true;
  const softmax = o.softmax ?? true;
  const W = randn(32 * 9, Math.sqrt(2 / 9), rand);
  const B = randn(32, 0.05, rand);
  const G = randn(5408 * 10, Math.sqrt(1 / 5408) * 4, rand);
  const C = randn(10, 0.1, rand);
  const nodes = [
    makeNode('Conv', ['Input3', 'conv.w', 'conv.b'], ['conv'], { name: 'conv', attributes: [intsAttr('kernel_shape', [3, 3])] }),
    makeNode('Relu', ['conv'], ['relu'], { name: 'relu' }),
    makeNode('MaxPool', ['relu'], ['pool'], { name: 'pool', attributes: [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])] }),
    makeNode('Flatten', ['pool'], ['flat'], { name: 'flatten', attributes: [intAttr('axis', 1)] }),
    makeNode('Gemm', ['flat', 'dense.w', 'dense.b'], [softmax ? 'logits' : 'probs'], { name: 'dense', attributes: transB ? [intAttr('transB', 1)] : [] }),
  ];
  if (softmax) nodes.push(makeNode('Softmax', ['logits'], ['probs'], { name: 'softmax', attributes: [intAttr('axis', 1)] }));
  let gemmW = G;
  if (!transB) {
    gemmW = new Float32Array(G.length);
    for (let n = 0; n < 10; n++) for (let k = 0; k < 5408; k++) gemmW[k * 10 + n] = G[n * 5408 + k]!;
  }
  return model({
    name: 'cnn',
    node: nodes,
    initializer: [
      makeTensor('conv.w', [32, 1, 3, 3], W),
      makeTensor('conv.b', [32], B),
      makeTensor('dense.w', transB ? [10, 5408] : [5408, 10], gemmW),
      makeTensor('dense.b', [10], C),
    ],
    input: [tensorValueInfo('Input3', FLOAT, ['N', 1, 28, 28])],
    output: [tensorValueInfo('probs', FLOAT, ['N', 10])],
  });
}

/** MatMul+Add+Relu → MatMul+Add+Relu → Gemm(transB=1): the dynamic-quantization target. */
export function buildMlp(seed = 2): Model {
  const rand = rng(seed);
  return model({
    name: 'mlp',
    node: [
      makeNode('MatMul', ['x', 'fc1.w'], ['fc1.mm'], { name: 'fc1' }),
      makeNode('Add', ['fc1.mm', 'fc1.b'], ['fc1.out'], { name: 'fc1.add' }),
      makeNode('Relu', ['fc1.out'], ['h1'], { name: 'relu1' }),
      makeNode('MatMul', ['h1', 'fc2.w'], ['fc2.mm'], { name: 'fc2' }),
      makeNode('Add', ['fc2.mm', 'fc2.b'], ['fc2.out'], { name: 'fc2.add' }),
      makeNode('Relu', ['fc2.out'], ['h2'], { name: 'relu2' }),
      makeNode('Gemm', ['h2', 'fc3.w', 'fc3.b'], ['logits'], { name: 'fc3', attributes: [intAttr('transB', 1)] }),
    ],
    initializer: [
      makeTensor('fc1.w', [784, 128], randn(784 * 128, Math.sqrt(2 / 784) * 2, rand)),
      makeTensor('fc1.b', [128], randn(128, 0.05, rand)),
      makeTensor('fc2.w', [128, 64], randn(128 * 64, Math.sqrt(2 / 128), rand)),
      makeTensor('fc2.b', [64], randn(64, 0.05, rand)),
      makeTensor('fc3.w', [10, 64], randn(10 * 64, Math.sqrt(1 / 64) * 2, rand)),
      makeTensor('fc3.b', [10], randn(10, 0.1, rand)),
    ],
    input: [tensorValueInfo('x', FLOAT, ['N', 784])],
    output: [tensorValueInfo('logits', FLOAT, ['N', 10])],
  });
}

/** `count` batch-1 feeds of uniform [0, 1) values for a single float input. */
export function randomFeeds(name: string, dims: number[], count: number, seed: number): Feeds[] {
  const rand = rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => ({
    [name]: { type: 'float32', dims, data: Float32Array.from({ length: n }, rand) } satisfies HostTensor,
  }));
}

export function testContext(feedsFor: (samples: number) => Feeds[], log: string[] = []): PassContext {
  return {
    calibration: async (samples) => feedsFor(samples),
    log: (m) => log.push(m),
  };
}

/** Runs every feed through the model in ORT; returns the first output of each run. */
export async function runAll(m: Model, feeds: Feeds[], options: RuntimeOptions = {}): Promise<Float32Array[]> {
  const session = await OrtSession.create(encodeModel(m), options);
  try {
    const out: Float32Array[] = [];
    for (const f of feeds) {
      const r = await session.run(f);
      out.push(r[session.outputNames[0]!]!.data as Float32Array);
    }
    return out;
  } finally {
    await session.release();
  }
}

export interface Agreement {
  /** max |a - b| over all outputs, divided by the range of the reference outputs. */
  maxRelDiff: number;
  top1: number;
}

export function compareOutputs(ref: Float32Array[], got: Float32Array[]): Agreement {
  let lo = Infinity, hi = -Infinity, maxDiff = 0, same = 0;
  const argmax = (a: Float32Array): number => a.reduce((best, v, i) => (v > a[best]! ? i : best), 0);
  ref.forEach((r, k) => {
    const g = got[k]!;
    for (let i = 0; i < r.length; i++) {
      lo = Math.min(lo, r[i]!);
      hi = Math.max(hi, r[i]!);
      maxDiff = Math.max(maxDiff, Math.abs(r[i]! - g[i]!));
    }
    if (argmax(r) === argmax(g)) same++;
  });
  return { maxRelDiff: maxDiff / (hi - lo || 1), top1: same / ref.length };
}

export function opTypes(m: Model): string[] {
  return (m.graph?.node ?? []).map((n) => n.opType ?? '');
}

/**
 * The op types ORT runs after its level-2 ("extended") optimizations, where the QDQ and dynamic-quantization
 * fusions happen; level 3 adds layout changes that depend on the CPU.
 */
export async function optimizedOpTypes(m: Model, options: RuntimeOptions = {}): Promise<string[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-passes-'));
  try {
    const file = path.join(dir, 'optimized.onnx');
    const session = await OrtSession.create(encodeModel(m), { ...options, graphOptimizationLevel: 'extended', optimizedModelFilePath: file });
    await session.release();
    return opTypes(decodeModel(readFileSync(file)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Byte equality without vitest's element-by-element diff (slow on 100 KB arrays). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
