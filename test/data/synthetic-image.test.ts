/**
 * Image-like synthetic inputs (src/data/synthetic-image.ts): which inputs are read as images, what is fed
 * (pictures, not white noise), in what range (the config's, 0..255 for integers, the model's preprocessing,
 * else [0, 1]), and that the same seed gives the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { syntheticDataset } from '../../src/data/dataset.js';
import { imageInputOf, imageLayoutOf } from '../../src/data/synthetic-image.js';
import { impliedInputRange } from '../../src/model/input-range.js';
import { loadProject } from '../../src/load/project.js';
import { runGate } from '../../src/commands/run.js';
import { makeTensor } from '../../src/model/tensor.js';
import { saveModel, onnx } from '../../src/model/onnx.js';
import type { IoSpec } from '../../src/model/io.js';
import { F, buildModel, ints, tmp } from './models.js';

const spec = (name: string, dtype: IoSpec['dtype'], shape: number[], extra: Partial<IoSpec> = {}): IoSpec => ({ name, dtype, shape, dynamicBatch: true, batchAxis: 0, ...extra });
const values = (t: { data: ArrayLike<number | bigint> }) => Array.from(t.data as ArrayLike<number>, Number);

/** Pearson correlation of two equally long lists. */
function corr(a: number[], b: number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n, mb = b.reduce((s, v) => s + v, 0) / n;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) { ab += (a[i]! - ma) * (b[i]! - mb); aa += (a[i]! - ma) ** 2; bb += (b[i]! - mb) ** 2; }
  return ab / Math.sqrt(aa * bb);
}

describe('image-shaped inputs', () => {
  it('reads NCHW and NHWC images, and not feature maps, small maps, states or rank 3', () => {
    expect(imageLayoutOf(spec('x', 'float32', [1, 3, 224, 224]))).toEqual({ layout: 'NCHW', channels: 3, height: 224, width: 224 });
    expect(imageLayoutOf(spec('x', 'float32', [1, 192, 256, 4]))).toEqual({ layout: 'NHWC', channels: 4, height: 192, width: 256 });
    expect(imageLayoutOf(spec('x', 'float32', [1, 64, 64, 1]))).toEqual({ layout: 'NHWC', channels: 1, height: 64, width: 64 });
    // 64 channels is a feature map, 8×8 too small to be a picture, a cache keeps its zeros, rank 3 may be a sequence.
    expect(imageLayoutOf(spec('x', 'float32', [1, 64, 32, 32]))).toBeNull();
    expect(imageLayoutOf(spec('x', 'float32', [1, 3, 8, 8]))).toBeNull();
    expect(imageLayoutOf(spec('past_key', 'float32', [1, 4, 32, 64]))).toBeNull();
    expect(imageLayoutOf(spec('x', 'float32', [1, 100, 3]))).toBeNull();
    // Feeds for a non-image rank-4 input stay uniform noise in [0, 1).
    const feat = values(syntheticDataset([spec('f', 'float32', [1, 64, 16, 16])]).feedsForBatch(1).f!);
    expect(Math.abs(corr(feat.slice(0, -1), feat.slice(1)))).toBeLessThan(0.1);
  });

  it('feeds an integer image 0..255 pictures: smooth, channels correlated, not white noise', () => {
    const s = spec('img', 'int32', [1, 32, 32, 3]);
    expect(imageInputOf(s)).toMatchObject({ layout: 'NHWC', range: [0, 255], rangeFrom: 'dtype' });
    const t = syntheticDataset([s]).feedsForBatch(8).img!;
    expect(t.dims).toEqual([8, 32, 32, 3]);
    const v = values(t);
    expect(v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)).toBe(true);
    expect(Math.min(...v)).toBeLessThan(40);
    expect(Math.max(...v)).toBeGreaterThan(215);
    // Horizontal neighbours of the red channel, and red against green.
    const red = v.filter((_, i) => i % 3 === 0), green = v.filter((_, i) => i % 3 === 1);
    const left = red.filter((_, i) => i % 32 !== 31), right = red.filter((_, i) => i % 32 !== 0);
    expect(corr(left, right)).toBeGreaterThan(0.8);
    expect(corr(red, green)).toBeGreaterThan(0.5);
  });

  it('lays NCHW pictures out channel by channel, floats in [0, 1] by default', () => {
    const s = spec('x', 'float32', [1, 3, 32, 32]);
    const v = values(syntheticDataset([s]).feedsForBatch(2).x!);
    expect(v.every((x) => x >= 0 && x <= 1)).toBe(true);
    // In C×H×W order a plane is smooth along its rows; read as H×W×C interleaved it would not be.
    const plane = v.slice(0, 1024);
    expect(corr(plane.slice(0, -1), plane.slice(1))).toBeGreaterThan(0.6);
  });

  it('gives the same bytes for the same seed, other bytes for another', () => {
    const inputs = [spec('img', 'uint8', [1, 3, 48, 64]), spec('x', 'float32', [1, 48, 48, 3])];
    const a = syntheticDataset(inputs).feedsForBatch(4);
    const b = syntheticDataset(inputs).feedsForBatch(4);
    expect(Buffer.from(a.img!.data.buffer).equals(Buffer.from(b.img!.data.buffer))).toBe(true);
    expect(Buffer.from(a.x!.data.buffer).equals(Buffer.from(b.x!.data.buffer))).toBe(true);
    const c = syntheticDataset(inputs, 99).feedsForBatch(4);
    expect(Buffer.from(a.x!.data.buffer).equals(Buffer.from(c.x!.data.buffer))).toBe(false);
    // Batches of the same dataset differ from one another.
    const batches = [...syntheticDataset(inputs, 1234, 8).batches(4)];
    expect(Buffer.from(batches[0]!.feeds.x!.data.buffer).equals(Buffer.from(batches[1]!.feeds.x!.data.buffer))).toBe(false);
  });

  it("lets the config's range win over the dtype's and the model's", () => {
    const int = spec('img', 'int64', [1, 32, 32, 3], { range: [10, 20] });
    expect(imageInputOf(int)).toMatchObject({ range: [10, 20], rangeFrom: 'config' });
    const v = values(syntheticDataset([int]).feedsForBatch(2).img!);
    expect(v.every((x) => x >= 10 && x <= 20)).toBe(true);
    expect(new Set(v).size).toBeGreaterThan(5);
    const float = spec('x', 'float32', [1, 3, 32, 32], { range: [-1, 1], impliedRange: { range: [0, 255], why: 'test' } });
    expect(imageInputOf(float)).toMatchObject({ range: [-1, 1], rangeFrom: 'config' });
    expect(values(syntheticDataset([float]).feedsForBatch(2).x!).every((x) => x >= -1 && x <= 1)).toBe(true);
  });
});

/** x [1, 3, 32, 32] through `pre` (nodes on 'x' ending in 'p') into a 1×1 Conv. */
function preprocessed(pre: onnx.INodeProto[], consts: onnx.ITensorProto[]): onnx.ModelProto {
  const w = makeTensor('w', [2, 3, 1, 1], new Float32Array([1, 0, 0, 0, 1, 0]));
  return buildModel(
    [...pre, { opType: 'Conv', input: ['p', 'w'], output: ['y'], attribute: [ints('kernel_shape', [1, 1])] }],
    [['x', F, [1, 3, 32, 32]]], [['y', F, [1, 2, 32, 32]]], [...consts, w],
  );
}

describe("the range a float image's preprocessing implies", () => {
  const scalar = (name: string, v: number | number[], dims?: number[]) => makeTensor(name, dims ?? [], new Float32Array(Array.isArray(v) ? v : [v]));

  it('reads x·(1/127.5) − 1 and x/255 as 0..255, x·2 − 1 and ImageNet mean/std as 0..1, a bare Conv as nothing', () => {
    const m127 = preprocessed([
      { opType: 'Mul', input: ['x', 's'], output: ['a'] }, { opType: 'Sub', input: ['a', 'one'], output: ['p'] },
    ], [scalar('s', 1 / 127.5), scalar('one', 1)]);
    expect(impliedInputRange(m127, 'x')?.range).toEqual([0, 255]);
    expect(impliedInputRange(m127, 'x')?.why).toContain('maps [0, 255] to [-1, 1]');
    const div255 = preprocessed([{ opType: 'Transpose', input: ['x'], output: ['t'], attribute: [ints('perm', [0, 1, 2, 3])] }, { opType: 'Div', input: ['t', 'd'], output: ['p'] }], [scalar('d', 255)]);
    expect(impliedInputRange(div255, 'x')?.range).toEqual([0, 255]);
    const twoXminus1 = preprocessed([
      { opType: 'Mul', input: ['x', 'two'], output: ['a'] }, { opType: 'Sub', input: ['a', 'one'], output: ['p'] },
    ], [scalar('two', 2), scalar('one', 1)]);
    expect(impliedInputRange(twoXminus1, 'x')?.range).toEqual([0, 1]);
    const imagenet = preprocessed([
      { opType: 'Sub', input: ['x', 'mean'], output: ['a'] }, { opType: 'Div', input: ['a', 'std'], output: ['p'] },
    ], [scalar('mean', [0.485, 0.456, 0.406], [1, 3, 1, 1]), scalar('std', [0.229, 0.224, 0.225], [1, 3, 1, 1])]);
    expect(impliedInputRange(imagenet, 'x')?.range).toEqual([0, 1]);
    const caffe = preprocessed([{ opType: 'Sub', input: ['x', 'mean'], output: ['p'] }], [scalar('mean', [123.68, 116.78, 103.94], [1, 3, 1, 1])]);
    expect(impliedInputRange(caffe, 'x')?.range).toEqual([0, 255]);
    const bare = preprocessed([{ opType: 'Identity', input: ['x'], output: ['p'] }], []);
    expect(impliedInputRange(bare, 'x')).toBeNull();
  });

  it("reads the training data's mean from a first Conv's BatchNormalization when the graph does not normalise", () => {
    // 8 output channels with weight sums 1..8 (bias 0.1); running mean_o = 0.1 + μ·Σ W_o (+ a little noise).
    const bnModel = (mu: number, jitter: number[]) => {
      const w = new Float32Array(8 * 3 * 3 * 3);
      for (let o = 0; o < 8; o++) for (let k = 0; k < 27; k++) w[o * 27 + k] = (o + 1) / 27 * (k % 2 === 0 ? 1.5 : 0.5);
      const sums = Array.from({ length: 8 }, (_, o) => w.subarray(o * 27, (o + 1) * 27).reduce((a, v) => a + v, 0));
      const mean = Float32Array.from(sums, (sv, o) => 0.1 + mu * sv + jitter[o]!);
      const ones = new Float32Array(8).fill(1);
      return buildModel(
        [
          { opType: 'Conv', input: ['x', 'w', 'b'], output: ['c'], attribute: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] },
          { opType: 'BatchNormalization', input: ['c', 'g', 'beta', 'm', 'v'], output: ['y'], name: 'bn0' },
        ],
        [['x', F, [1, 3, 32, 32]]], [['y', F, [1, 8, 32, 32]]],
        [makeTensor('w', [8, 3, 3, 3], w), makeTensor('b', [8], new Float32Array(8).fill(0.1)), makeTensor('g', [8], ones), makeTensor('beta', [8], new Float32Array(8)), makeTensor('m', [8], mean), makeTensor('v', [8], ones)],
      );
    };
    const small = [0.01, -0.02, 0.015, 0, -0.01, 0.02, -0.015, 0.005];
    expect(impliedInputRange(bnModel(0.03, small), 'x')?.range).toEqual([-1, 1]);
    expect(impliedInputRange(bnModel(0.45, small), 'x')?.range).toEqual([0, 1]);
    expect(impliedInputRange(bnModel(110, small), 'x')?.range).toEqual([0, 255]);
    expect(impliedInputRange(bnModel(0.03, small), 'x')?.why).toContain("BatchNormalization 'bn0'");
    // Running means the weights do not explain: no guess.
    expect(impliedInputRange(bnModel(0, [3, -5, 2, 7, -4, 1, -6, 4]), 'x')).toBeNull();
  });

  it('feeds a loaded model the range its preprocessing expects, unless the config says otherwise', async () => {
    const dir = tmp('mg-synth-img-');
    saveModel(preprocessed([
      { opType: 'Mul', input: ['x', 's'], output: ['a'] }, { opType: 'Sub', input: ['a', 'one'], output: ['p'] },
    ], [scalar('s', 1 / 127.5), scalar('one', 1)]), path.join(dir, 'm.onnx'));
    const config = path.join(dir, 'modelgate.yml');
    writeFileSync(config, 'model: m.onnx\n');
    const p = await loadProject(config, { log: () => {} });
    expect(p.inputs[0]!.impliedRange?.range).toEqual([0, 255]);
    const v = values(p.dataset.feedsForBatch(4).x!);
    expect(Math.max(...v)).toBeGreaterThan(200);
    expect(v.every((x) => x >= 0 && x <= 255)).toBe(true);
    writeFileSync(config, 'model: m.onnx\ninputs: { x: { range: [0, 1] } }\n');
    const pinned = await loadProject(config, { log: () => {} });
    expect(values(pinned.dataset.feedsForBatch(4).x!).every((x) => x >= 0 && x <= 1)).toBe(true);
  });

  it('says in report.json and report.md what was fed', async () => {
    const dir = tmp('mg-synth-img-');
    saveModel(preprocessed([{ opType: 'Div', input: ['x', 'd'], output: ['p'] }], [scalar('d', 255)]), path.join(dir, 'm.onnx'));
    writeFileSync(path.join(dir, 'modelgate.yml'), 'model: m.onnx\nbenchmark: { runs: 5, warmup: 1 }\n');
    const out = path.join(dir, 'out');
    const result = await runGate({ configPath: path.join(dir, 'modelgate.yml'), outDir: out });
    expect(result.exitCode).toBe(0);
    expect(result.report.dataset?.synthetic_images).toEqual([
      { input: 'x', layout: 'NCHW', range: [0, 255], range_from: 'model', why: expect.stringContaining("Div 255") },
    ]);
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toContain("> No dataset: `x` (NCHW, values in [0, 255], inferred from the model (report.json says how)) was fed seeded synthetic pictures");
  }, 60_000);
});
