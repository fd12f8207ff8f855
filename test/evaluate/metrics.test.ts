import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { zipSync } from 'fflate';
import { evaluate } from '../../src/evaluate/metrics.js';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { writeNpy } from '../../src/data/npy.js';
import type { IoSpec } from '../../src/model/io.js';
import type { ModelSession } from '../../src/runtime/kind.js';
import { F, buildModel, openModel, tmp } from '../data/models.js';

/** y = x and neg = -x: the dataset's rows are the model's outputs, so every metric can be checked by hand. */
function passThrough(width: number) {
  return buildModel(
    [
      { opType: 'Identity', input: ['x'], output: ['y'] },
      { opType: 'Neg', input: ['x'], output: ['neg'] },
    ],
    [['x', F, ['batch', width]]],
    [['y', F, ['batch', width]], ['neg', F, ['batch', width]]],
  );
}

const dir = tmp('mg-eval-');
const sessions = new Map<number, ModelSession>();
beforeAll(async () => {
  for (const w of [1, 2, 3, 6]) sessions.set(w, await openModel(passThrough(w), dir, `pass${w}.onnx`));
});
afterAll(async () => {
  for (const s of sessions.values()) await s.release();
});

let n = 0;
function data(rows: number[][], labels: number[] | number[][]): Dataset {
  const width = rows[0]!.length;
  const file = `d${n++}.npz`;
  const labelArray = Array.isArray(labels[0]) ? writeNpy('float32', [labels.length, (labels[0] as number[]).length], Float32Array.from((labels as number[][]).flat())) : writeNpy('float64', [labels.length], Float64Array.from(labels as number[]));
  writeFileSync(path.join(dir, file), zipSync({ 'x.npy': writeNpy('float32', [rows.length, width], Float32Array.from(rows.flat())), 'labels.npy': labelArray }));
  const input: IoSpec = { name: 'x', dtype: 'float32', shape: [1, width], dynamicBatch: true, batchAxis: 0 };
  return loadDataset({ inputs: file }, (p) => path.join(dir, p), [input]);
}

const run = (width: number, ds: Dataset, options: Partial<Parameters<typeof evaluate>[2]> & { metric: Parameters<typeof evaluate>[2]['metric'] }) =>
  evaluate(sessions.get(width)!, ds, { batchSize: 2, pad: false, ...options });

describe('metrics', () => {
  const scores = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.1, 0.3], [0.1, 0.2, 0.7]];
  const labels = [1, 1, 2, 2, 0];

  it('top1, top5 (top-k over the classes there are) and f1_macro', async () => {
    const top1 = await run(3, data(scores, labels), { metric: 'top1' });
    // predictions 1, 0, 2, 0, 2 against 1, 1, 2, 2, 0: two right.
    expect(Array.from(top1.predictions)).toEqual([1, 0, 2, 0, 2]);
    expect(top1.accuracy).toBeCloseTo(2 / 5, 12);
    expect(top1.score).toEqual({ metric: 'top1', value: top1.accuracy, higherIsBetter: true });
    const top5 = await run(3, data(scores, labels), { metric: 'top5' });
    expect(top5.accuracy).toBe(1);
    // Per class (tp, fp, fn): 0 → (0, 2, 1) F1 0; 1 → (1, 0, 1) F1 2/3; 2 → (1, 1, 1) F1 1/2.
    const f1 = await run(3, data(scores, labels), { metric: 'f1_macro' });
    expect(f1.f1_macro).toBeCloseTo((0 + 2 / 3 + 1 / 2) / 3, 12);
    expect(f1.accuracy).toBe(f1.f1_macro);
  });

  it('mse and mae against regression targets', async () => {
    const rows = [[1, 2], [3, 5]];
    const targets = [[1.5, 2], [2, 7]];
    const mse = await run(2, data(rows, targets), { metric: 'mse' });
    expect(mse.mse).toBeCloseTo((0.25 + 0 + 1 + 4) / 4, 12);
    expect(mse.accuracy).toBeNull();
    const mae = await run(2, data(rows, targets), { metric: 'mae' });
    expect(mae.mae).toBeCloseTo((0.5 + 0 + 1 + 2) / 4, 12);
    expect(mae.score).toEqual({ metric: 'mae', value: mae.mae, higherIsBetter: false });
  });

  it('binary: one sigmoid logit gets a class (top1 too), two classes by softmax, with a threshold', async () => {
    const logits = [[2], [-1], [0.5], [-3]];
    const y = [1, 0, 0, 1];
    const top1 = await run(1, data(logits, y), { metric: 'top1' });
    expect(Array.from(top1.predictions)).toEqual([1, 0, 1, 0]);
    expect(top1.accuracy).toBe(0.5);
    // sigmoid(0.5) = 0.62: below a 0.7 threshold it is class 0, which is right for sample 2.
    const strict = await run(1, data(logits, y), { metric: 'binary', threshold: 0.7 });
    expect(Array.from(strict.predictions)).toEqual([1, 0, 0, 0]);
    expect(strict.accuracy).toBe(0.75);
    const probs = await run(1, data([[0.9], [0.2], [0.55]], [1, 0, 0]), { metric: 'binary', activation: 'none', threshold: 0.6 });
    expect(probs.accuracy).toBe(1);
    const two = await run(2, data([[0, 1], [2, 0], [0.2, 0]], [1, 0, 1]), { metric: 'binary' });
    expect(Array.from(two.predictions)).toEqual([1, 0, 0]);
    expect(two.accuracy).toBeCloseTo(2 / 3, 12);
    // Agreement with a reference works for one-logit models now that they have classes.
    const agree = await run(1, data(logits, y), { metric: 'binary', reference: Int32Array.from([1, 0, 0, 0]) });
    expect(agree.agreement).toBe(0.75);
    await expect(run(3, data(scores, labels), { metric: 'binary' })).rejects.toThrow("metric binary: output 'y' has 3 values per sample; binary reads one logit or two class scores");
  });

  it('reads the output named by `output`', async () => {
    const neg = await run(3, data(scores, labels), { metric: 'top1', output: 'neg' });
    // argmax of -x is the smallest score: 0, 2, 0, 1, 0 against 1, 1, 2, 2, 0.
    expect(Array.from(neg.predictions)).toEqual([0, 2, 0, 1, 0]);
    expect(neg.accuracy).toBeCloseTo(1 / 5, 12);
    expect(neg.output).toBe('neg');
    await expect(run(3, data(scores, labels), { metric: 'top1', output: 'logits' })).rejects.toThrow("metric_options.output: pass3.onnx has no output 'logits' (it has 'y', 'neg')");
  });

  it('refuses labels out of range, negative, fractional or one-hot of the wrong width, naming file, sample and key', async () => {
    await expect(run(3, data(scores, [1, 1, 3, 2, 0]), { metric: 'top1' })).rejects.toThrow(/^d\d+\.npz sample 2, d\d+\.npz:labels\.npy: label 3 is out of range; output 'y' has 3 classes \(0 to 2\)$/);
    await expect(run(3, data(scores, [1, -1, 2, 2, 0]), { metric: 'top1' })).rejects.toThrow(/sample 1, .*labels\.npy: label -1 is out of range/);
    await expect(run(3, data(scores, [1, 1, 2, 0.5, 0]), { metric: 'top1' })).rejects.toThrow(/sample 3, .*labels\.npy: label 0\.5 is not a class id \(a whole number\)/);
    await expect(run(3, data(scores, scores.map(() => [0, 1])), { metric: 'top1' })).rejects.toThrow(/sample 0, .*labels\.npy: a one-hot label of width 2, but output 'y' has 3 classes/);
    await expect(run(1, data([[1], [2]], [0, 2]), { metric: 'binary' })).rejects.toThrow(/sample 1, .*: label 2 is out of range; output 'y' has 2 classes/);
    // A right-width one-hot label is read by its argmax.
    const onehot = await run(3, data(scores, labels.map((l) => [0, 1, 2].map((c) => (c === l ? 1 : 0)))), { metric: 'top1' });
    expect(onehot.accuracy).toBeCloseTo(2 / 5, 12);
  });

  it('fails a model whose outputs are not finite instead of ranking NaN as class 0', async () => {
    const model = buildModel([{ opType: 'Log', input: ['x'], output: ['y'] }], [['x', F, ['batch', 3]]], [['y', F, ['batch', 3]]]);
    const session = await openModel(model, dir, 'log.onnx');
    try {
      // log(-1) is NaN, log(0) is -Inf.
      await expect(evaluate(session, data([[1, 2, 3], [-1, 2, 3]], [0, 0]), { metric: 'top1', batchSize: 2, pad: false })).rejects.toThrow(
        /^log\.onnx: output 'y' is NaN for d\d+\.npz sample 1; a model whose outputs are not finite cannot be evaluated$/,
      );
      await expect(evaluate(session, data([[0, 2, 3]], [[0, 0, 1]]), { metric: 'mse', batchSize: 2, pad: false })).rejects.toThrow(/output 'y' is -Infinity for d\d+\.npz sample 0/);
    } finally {
      await session.release();
    }
  });
});
