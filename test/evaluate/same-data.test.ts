/** The same samples in two formats give the same evaluation. */
import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { evaluate } from '../../src/evaluate/metrics.js';
import { loadDataset } from '../../src/data/dataset.js';
import { readNpy, writeNpy } from '../../src/data/npy.js';
import { resolveInputs } from '../../src/model/io.js';
import { loadModel } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { openSession } from '../../src/runtime/kind.js';
import { seededRandom } from '../../src/data/random.js';
import { F, I64, buildModel, int, openModel, tmp } from '../data/models.js';

const SEQ = 6, VOCAB = 10, DIM = 4, CLASSES = 3;

describe('a two-input text classifier', () => {
  it('scores the same from .npz and from JSON Lines, and as a by-hand forward pass says', async () => {
    const rand = seededRandom(7);
    const emb = Float32Array.from({ length: VOCAB * DIM }, () => rand() * 2 - 1);
    const w = Float32Array.from({ length: DIM * CLASSES }, () => rand() * 2 - 1);
    // Embedding lookup, masked sum over the sequence, linear layer.
    const model = buildModel(
      [
        { opType: 'Gather', input: ['emb', 'input_ids'], output: ['e'] },
        { opType: 'Cast', input: ['attention_mask'], output: ['mf'], attribute: [int('to', F)] },
        { opType: 'Unsqueeze', input: ['mf', 'axis2'], output: ['m3'] },
        { opType: 'Mul', input: ['e', 'm3'], output: ['masked'] },
        { opType: 'ReduceSum', input: ['masked', 'axis1'], output: ['pooled'], attribute: [int('keepdims', 0)] },
        { opType: 'MatMul', input: ['pooled', 'w'], output: ['logits'] },
      ],
      [['input_ids', I64, ['batch', SEQ]], ['attention_mask', I64, ['batch', SEQ]]],
      [['logits', F, ['batch', CLASSES]]],
      [makeTensor('emb', [VOCAB, DIM], emb), makeTensor('w', [DIM, CLASSES], w), makeTensor('axis2', [1], BigInt64Array.of(2n)), makeTensor('axis1', [1], BigInt64Array.of(1n))],
    );
    const N = 60;
    const ids: number[][] = [], masks: number[][] = [], labels: number[] = [];
    for (let i = 0; i < N; i++) {
      const len = 1 + Math.floor(rand() * SEQ);
      ids.push(Array.from({ length: SEQ }, (_, t) => (t < len ? Math.floor(rand() * VOCAB) : 0)));
      masks.push(Array.from({ length: SEQ }, (_, t) => (t < len ? 1 : 0)));
      labels.push(Math.floor(rand() * CLASSES));
    }
    let expectedRight = 0;
    for (let i = 0; i < N; i++) {
      const pooled = Array.from({ length: DIM }, (_, d) => ids[i]!.reduce((s, id, t) => s + masks[i]![t]! * emb[id * DIM + d]!, 0));
      const logits = Array.from({ length: CLASSES }, (_, c) => pooled.reduce((s, v, d) => s + v * w[d * CLASSES + c]!, 0));
      if (logits.indexOf(Math.max(...logits)) === labels[i]) expectedRight++;
    }

    const dir = tmp();
    writeFileSync(path.join(dir, 'text.npz'), zipSync({
      'input_ids.npy': writeNpy('int64', [N, SEQ], BigInt64Array.from(ids.flat(), BigInt)),
      'attention_mask.npy': writeNpy('int64', [N, SEQ], BigInt64Array.from(masks.flat(), BigInt)),
      'labels.npy': writeNpy('int64', [N], BigInt64Array.from(labels, BigInt)),
    }));
    writeFileSync(path.join(dir, 'text.jsonl'), ids.map((_, i) => JSON.stringify({ text: `sample ${i}`, input_ids: ids[i], attention_mask: masks[i], label: labels[i] })).join('\n') + '\n');

    const inputs = resolveInputs(model, {}, 1, 'text.onnx');
    const session = await openModel(model, dir, 'text.onnx');
    try {
      const resolve = (p: string) => path.join(dir, p);
      const fromNpz = await evaluate(session, loadDataset({ inputs: 'text.npz' }, resolve, inputs), { metric: 'top1', batchSize: 16, pad: false });
      const fromJsonl = await evaluate(session, loadDataset({ inputs: 'text.jsonl', label: 'label' }, resolve, inputs), { metric: 'top1', batchSize: 7, pad: false });
      expect(fromNpz.samples).toBe(N);
      expect(fromNpz.accuracy).toBeCloseTo(expectedRight / N, 12);
      expect(fromJsonl.accuracy).toBe(fromNpz.accuracy);
      expect(Array.from(fromJsonl.predictions)).toEqual(Array.from(fromNpz.predictions));
    } finally {
      await session.release();
    }
  });
});

describe('MNIST digits as a PNG folder and as .npy', () => {
  it('give exactly the same accuracy with examples/mnist/model.onnx', async () => {
    const root = path.resolve('examples/mnist');
    const images = readNpy(readFileSync(path.join(root, 'test-images.npy')), 'test-images.npy');
    const labels = readNpy(readFileSync(path.join(root, 'test-labels.npy')), 'test-labels.npy');
    const N = 300;
    const dir = tmp('mg-mnist-png-');
    for (let i = 0; i < N; i++) {
      const png = new PNG({ width: 28, height: 28 });
      for (let p = 0; p < 784; p++) {
        const v = (images.data as Uint8Array)[i * 784 + p]!;
        png.data.set([v, v, v, 255], 4 * p);
      }
      const label = String((labels.data as Uint8Array)[i]);
      mkdirSync(path.join(dir, 'digits', label), { recursive: true });
      writeFileSync(path.join(dir, 'digits', label, `${String(i).padStart(4, '0')}.png`), PNG.sync.write(png, { colorType: 0 }));
    }
    const model = loadModel(path.join(root, 'model.onnx'));
    const inputs = resolveInputs(model, { Input3: { shape: [1, 1, 28, 28] } }, 1, 'model.onnx');
    const preprocess = { scale: 1 / 255 };
    const npy = loadDataset({ inputs: 'test-images.npy', labels: 'test-labels.npy', limit: N, preprocess }, (p) => path.join(root, p), inputs);
    const folder = loadDataset({ images: 'digits', preprocess, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] }, (p) => path.join(dir, p), inputs);
    expect(folder.count).toBe(N);
    const session = await openSession(path.join(root, 'model.onnx'), { intraOpThreads: 1 }, 'mnist');
    try {
      const a = await evaluate(session, npy, { metric: 'top1', batchSize: 1, pad: true });
      const b = await evaluate(session, folder, { metric: 'top1', batchSize: 1, pad: true });
      expect(a.accuracy).toBeGreaterThan(0.9);
      expect(b.accuracy).toBe(a.accuracy);
      // Same predictions per digit, not just the same count.
      const byClass = (r: typeof a, ds: typeof npy) => {
        const counts = new Map<string, number>();
        for (const batch of ds.batches(N)) for (let k = 0; k < batch.count; k++) {
          const key = `${batch.labels![k]}→${r.predictions[(batch.start ?? 0) + k]}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        return [...counts].sort();
      };
      expect(byClass(b, folder)).toEqual(byClass(a, npy));
    } finally {
      await session.release();
    }
  });
});
