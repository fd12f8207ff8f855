import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { zipSync } from 'fflate';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { loadCalibration, loadDataset, calibrationFeeds, syntheticDataset } from '../../src/data/dataset.js';
import { writeNpy } from '../../src/data/npy.js';
import { floatToHalf } from '../../src/model/tensor.js';
import type { IoSpec } from '../../src/model/io.js';
import { tmp } from './models.js';

const at = (dir: string) => (p: string) => path.join(dir, p);
const vec = (name: string, n: number, dtype: IoSpec['dtype'] = 'float32'): IoSpec => ({ name, dtype, shape: [1, n], dynamicBatch: true, batchAxis: 0 });
const values = (t: { data: ArrayLike<number | bigint> }) => Array.from(t.data as ArrayLike<number>, Number);

function png(file: string, w: number, h: number, rgba: (x: number, y: number) => [number, number, number, number]): void {
  const p = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) p.data.set(rgba(x, y), 4 * (y * w + x));
  writeFileSync(file, PNG.sync.write(p));
}

describe('.npz', () => {
  it('feeds each input from the array named after it, with labels from the `labels` array, stored or deflated', () => {
    const dir = tmp();
    const a = Float32Array.from({ length: 8 }, (_, i) => i);
    const b = Float32Array.from({ length: 12 }, (_, i) => 100 + i);
    const entries = { 'a.npy': writeNpy('float32', [4, 2], a), 'b.npy': writeNpy('float32', [4, 3], b), 'labels.npy': writeNpy('int64', [4], BigInt64Array.from([1n, 0n, 2n, 1n])) };
    writeFileSync(path.join(dir, 'stored.npz'), zipSync(entries, { level: 0 }));
    writeFileSync(path.join(dir, 'deflated.npz'), zipSync(entries, { level: 9 }));
    for (const file of ['stored.npz', 'deflated.npz']) {
      const ds = loadDataset({ inputs: file }, at(dir), [vec('a', 2), vec('b', 3)]);
      expect(ds.count).toBe(4);
      expect(ds.hasLabels).toBe(true);
      const [first, second] = [...ds.batches(3)];
      expect(first!.feeds.a!.dims).toEqual([3, 2]);
      expect(values(first!.feeds.a!)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(values(second!.feeds.b!)).toEqual([109, 110, 111]);
      expect(Array.from(first!.labels!)).toEqual([1, 0, 2]);
      expect(Array.from(second!.labels!)).toEqual([1]);
    }
  });

  it('lets a single-input model use any one array, and `label` name the labels array', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'd.npz'), zipSync({ 'pixels.npy': writeNpy('uint8', [2, 2], Uint8Array.of(1, 2, 3, 4)), 'y.npy': writeNpy('uint8', [2], Uint8Array.of(5, 6)) }));
    const ds = loadDataset({ inputs: 'd.npz', label: 'y' }, at(dir), [vec('x', 2)]);
    const [batch] = [...ds.batches(2)];
    expect(values(batch!.feeds.x!)).toEqual([1, 2, 3, 4]);
    expect(Array.from(batch!.labels!)).toEqual([5, 6]);
    expect(() => loadDataset({ inputs: 'd.npz', label: 'nope' }, at(dir), [vec('x', 2)])).toThrow("dataset.label: d.npz has no array 'nope' (it has pixels, y)");
    expect(() => loadDataset({ inputs: 'd.npz' }, at(dir), [vec('x', 2), vec('z', 2)])).toThrow(/dataset\.inputs: d\.npz has no array named after an input, so it feeds one input, but the model has 2 \(x, z\)/);
  });

  it('refuses an archive without a zip directory, naming the file', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'bad.npz'), Buffer.from('PK not a zip at all'));
    expect(() => loadDataset({ inputs: 'bad.npz' }, at(dir), [vec('x', 2)])).toThrow('bad.npz: not a readable .npz archive (no end-of-central-directory record)');
  });

  it('says which input a multi-input archive lacks', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'a.npz'), zipSync({ 'a.npy': writeNpy('float32', [2, 2], new Float32Array(4)) }));
    expect(() => loadDataset({ inputs: 'a.npz' }, at(dir), [vec('a', 2), vec('b', 3)])).toThrow(
      "dataset: a.npz has no data for input 'b' (it feeds 'a'); add it to the file, or give inputs.<name>.range to synthesize it",
    );
  });
});

describe('.npy', () => {
  it('decodes float16 data to numbers instead of feeding raw half bits', () => {
    const dir = tmp();
    const halves = Uint16Array.from([0.5, 1.5, -2, 65504], floatToHalf);
    writeFileSync(path.join(dir, 'h.npy'), writeNpy('float16', [2, 2], halves));
    const [batch] = [...loadDataset({ inputs: 'h.npy' }, at(dir), [vec('x', 2)]).batches(2)];
    expect(values(batch!.feeds.x!)).toEqual([0.5, 1.5, -2, 65504]);
    // A float16 input gets half bits again.
    const [half] = [...loadDataset({ inputs: 'h.npy' }, at(dir), [vec('x', 2, 'float16')]).batches(2)];
    expect(Array.from(half!.feeds.x!.data as Uint16Array)).toEqual(Array.from(halves));
  });

  it('names the file, the sample and the key of a NaN', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'n.npy'), writeNpy('float32', [3, 2], Float32Array.of(0, 1, 2, 3, NaN, 5)));
    expect(() => [...loadDataset({ inputs: 'n.npy' }, at(dir), [vec('x', 2)]).batches(8)]).toThrow("n.npy sample 2, key 'x': value NaN is not a finite number");
  });
});

describe('CSV', () => {
  it('streams rows across read chunks, with features, label and the default feature set', () => {
    const dir = tmp();
    const rows = 40000; // about 1.3 MB: more than one 1 MiB read
    const lines = ['id,"f,1",f2,label'];
    for (let i = 0; i < rows; i++) lines.push(`${i},${i % 13}.5,${-(i % 7)},${i % 3}`);
    writeFileSync(path.join(dir, 'd.csv'), lines.join('\r\n') + '\r\n');
    const ds = loadDataset({ inputs: 'd.csv', label: 'label', features: ['f2', 'f,1'] }, at(dir), [vec('x', 2)]);
    expect(ds.count).toBe(rows);
    let seen = 0;
    let checked = 0;
    for (const batch of ds.batches(1000)) {
      const x = values(batch.feeds.x!);
      for (let k = 0; k < batch.count; k++) {
        const i = seen + k;
        if (i % 997 !== 0 && i !== rows - 1) continue;
        expect([x[2 * k], x[2 * k + 1], batch.labels![k]]).toEqual([-(i % 7) + 0, (i % 13) + 0.5, i % 3]);
        checked++;
      }
      seen += batch.count;
    }
    expect(seen).toBe(rows);
    expect(checked).toBeGreaterThan(40);
    const all = loadDataset({ inputs: 'd.csv', label: 'label', limit: 2 }, at(dir), [vec('x', 3)]);
    expect(all.count).toBe(2);
    expect(values([...all.batches(2)][0]!.feeds.x!)).toEqual([0, 0.5, 0, 1, 1.5, -1]);
  });

  it('feeds several inputs from their own columns, and labels from a labels file', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'd.csv'), 'a1,b1,b2\n1,2,3\n4,5,6\n');
    writeFileSync(path.join(dir, 'l.npy'), writeNpy('int32', [2], Int32Array.of(7, 8)));
    const ds = loadDataset({ inputs: 'd.csv', labels: 'l.npy', features: { a: ['a1'], b: ['b2', 'b1'] } }, at(dir), [vec('a', 1), vec('b', 2)]);
    const [batch] = [...ds.batches(2)];
    expect(values(batch!.feeds.a!)).toEqual([1, 4]);
    expect(values(batch!.feeds.b!)).toEqual([3, 2, 6, 5]);
    expect(Array.from(batch!.labels!)).toEqual([7, 8]);
    writeFileSync(path.join(dir, 'l3.npy'), writeNpy('int32', [3], Int32Array.of(7, 8, 9)));
    expect(() => loadDataset({ inputs: 'd.csv', labels: 'l3.npy' }, at(dir), [vec('x', 3)])).toThrow('l3.npy: 3 labels for 2 samples in d.csv');
    // With a limit the file is counted only up to it, and the labels need only cover it.
    const one = loadDataset({ inputs: 'd.csv', labels: 'l3.npy', limit: 1 }, at(dir), [vec('x', 3)]);
    expect(one.count).toBe(1);
    expect(Array.from([...one.batches(4)][0]!.labels!)).toEqual([7]);
  });

  it('names the file, row and key of a ragged row, a NaN and a missing column', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'r.csv'), 'a,b,label\n1,2,0\n\n3,4\n');
    expect(() => [...loadDataset({ inputs: 'r.csv', label: 'label' }, at(dir), [vec('x', 2)]).batches(4)]).toThrow(
      'r.csv row 2 (line 4): ragged row, 2 fields where the header has 3',
    );
    writeFileSync(path.join(dir, 'n.csv'), 'a,b,label\n1,2,0\n3,NaN,1\n');
    expect(() => [...loadDataset({ inputs: 'n.csv', label: 'label' }, at(dir), [vec('x', 2)]).batches(4)]).toThrow(
      "n.csv row 2 (line 3), key 'b': 'NaN' is not a finite number",
    );
    writeFileSync(path.join(dir, 'w.csv'), 'a,b,label\n1,two,0\n');
    expect(() => [...loadDataset({ inputs: 'w.csv', label: 'label' }, at(dir), [vec('x', 2)]).batches(4)]).toThrow("w.csv row 1 (line 2), key 'b': 'two' is not a finite number");
    expect(() => loadDataset({ inputs: 'w.csv', label: 'y' }, at(dir), [vec('x', 2)])).toThrow("dataset.label: column 'y' is not in the header of w.csv (a, b, label)");
    expect(() => loadDataset({ inputs: 'w.csv', features: ['a'] }, at(dir), [vec('x', 2)])).toThrow("w.csv: samples of 1 values cannot be reshaped to input 'x' [2] (2 values)");
  });

  it('refuses NaN for an int64 input with the row and key', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'i.csv'), 'ids\n1\nnan\n');
    expect(() => [...loadDataset({ inputs: 'i.csv' }, at(dir), [vec('ids', 1, 'int64')]).batches(2)]).toThrow("i.csv row 2 (line 3), key 'ids': 'nan' is not a finite number");
    // And synthetic data configured with a NaN range cannot reach BigInt().
    expect(() => syntheticDataset([{ ...vec('ids', 1, 'int64'), range: [NaN, NaN] }]).feedsForBatch(1)).toThrow("input 'ids' (int64): cannot feed NaN; integer inputs need finite values");
  });
});

describe('JSON Lines', () => {
  it('reads a key per input (nested arrays) and the label key', () => {
    const dir = tmp();
    const lines = [
      { img: [[1, 2], [3, 4]], mask: [1, 0], label: 2 },
      { img: [[5, 6], [7, 8]], mask: [true, true], label: 0, extra: 'ignored' },
    ].map((o) => JSON.stringify(o));
    writeFileSync(path.join(dir, 'd.jsonl'), lines.join('\n') + '\n\n');
    const inputs: IoSpec[] = [{ name: 'img', dtype: 'float32', shape: [1, 2, 2], dynamicBatch: true, batchAxis: 0 }, vec('mask', 2, 'int64')];
    const ds = loadDataset({ inputs: 'd.jsonl', label: 'label' }, at(dir), inputs);
    expect(ds.count).toBe(2);
    const [batch] = [...ds.batches(4)];
    expect(batch!.feeds.img!.dims).toEqual([2, 2, 2]);
    expect(values(batch!.feeds.img!)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(batch!.feeds.mask!.data as BigInt64Array)).toEqual([1n, 0n, 1n, 1n]);
    expect(Array.from(batch!.labels!)).toEqual([2, 0]);
  });

  it('names the line and key of a missing key, ragged arrays, a wrong count and a null', () => {
    const dir = tmp();
    const check = (second: object, message: string) => {
      writeFileSync(path.join(dir, 'e.jsonl'), `${JSON.stringify({ x: [1, 2], y: 0 })}\n${JSON.stringify(second)}\n`);
      expect(() => [...loadDataset({ inputs: 'e.jsonl', label: 'y' }, at(dir), [vec('x', 2)]).batches(4)]).toThrow(message);
    };
    check({ y: 1 }, "e.jsonl line 2: no key 'x' (the model input it feeds)");
    check({ x: [[1], [2, 3]], y: 1 }, "e.jsonl line 2, key 'x': ragged nested arrays ([1] then [2])");
    check({ x: [1, 2, 3], y: 1 }, "e.jsonl line 2, key 'x': 3 values (shape [3]), the input takes 2 per sample");
    check({ x: [1, null], y: 1 }, "e.jsonl line 2, key 'x': null where numbers or nested arrays of numbers belong");
    check({ x: [1, 2] }, "e.jsonl line 2: no label key 'y'");
  });
});

describe('image folders', () => {
  it('decodes PNG and JPEG, converts channels, resizes bilinearly and lays out NCHW or NHWC', () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'imgs', 'b'), { recursive: true });
    mkdirSync(path.join(dir, 'imgs', 'a'), { recursive: true });
    // 2×2 RGB image: red, green / blue, white.
    const colors: Array<[number, number, number, number]> = [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [255, 255, 255, 255]];
    png(path.join(dir, 'imgs', 'a', '1.png'), 2, 2, (x, y) => colors[y * 2 + x]!);
    const flat = new Uint8Array(4 * 4 * 4).fill(200);
    writeFileSync(path.join(dir, 'imgs', 'b', '1.jpg'), jpeg.encode({ data: flat, width: 4, height: 4 }, 100).data);
    const nchw: IoSpec = { name: 'x', dtype: 'float32', shape: [1, 3, 2, 2], dynamicBatch: true, batchAxis: 0 };
    const ds = loadDataset({ images: 'imgs' }, at(dir), [nchw]);
    expect(ds.classes).toEqual(['a', 'b']);
    const [batch] = [...ds.batches(2)];
    expect(Array.from(batch!.labels!)).toEqual([0, 1]);
    expect(values(batch!.feeds.x!).slice(0, 12)).toEqual([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]);
    // The JPEG (4×4, flat gray 200) is downsized to 2×2; a flat image stays flat within JPEG's rounding.
    expect(values(batch!.feeds.x!).slice(12).every((v) => Math.abs(v - 200) <= 2)).toBe(true);

    const nhwc: IoSpec = { name: 'x', dtype: 'float32', shape: [1, 2, 2, 3], dynamicBatch: true, batchAxis: 0 };
    const [h] = [...loadDataset({ images: 'imgs', classes: ['a'] }, at(dir), [nhwc]).batches(1)];
    expect(values(h!.feeds.x!)).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);

    // Gray, upsized 2×2 → 4×4 with half-pixel centers: row 0 of [[0, 100], [200, 40]] is 0, 25, 75, 100.
    mkdirSync(path.join(dir, 'gray', 'c'), { recursive: true });
    const g = [0, 100, 200, 40];
    png(path.join(dir, 'gray', 'c', 'g.png'), 2, 2, (x, y) => [g[y * 2 + x]!, g[y * 2 + x]!, g[y * 2 + x]!, 255]);
    const gray: IoSpec = { name: 'x', dtype: 'float32', shape: [1, 1, 4, 4], dynamicBatch: true, batchAxis: 0 };
    const [gb] = [...loadDataset({ images: 'gray', preprocess: { scale: 0.5 } }, at(dir), [gray]).batches(1)];
    expect(values(gb!.feeds.x!).slice(0, 4)).toEqual([0, 12.5, 37.5, 50]);
    expect(values(gb!.feeds.x!)[15]).toBe(20);
  });

  it('interleaves classes so that `limit` keeps every class', () => {
    const dir = tmp();
    for (const c of ['x', 'y']) {
      mkdirSync(path.join(dir, 'f', c), { recursive: true });
      for (let i = 0; i < 3; i++) png(path.join(dir, 'f', c, `${i}.png`), 1, 1, () => [i, i, i, 255]);
    }
    const spec: IoSpec = { name: 'x', dtype: 'float32', shape: [1, 1, 1], dynamicBatch: true, batchAxis: 0 };
    const ds = loadDataset({ images: 'f', limit: 4, classes: ['y', 'x'] }, at(dir), [spec]);
    const [batch] = [...ds.batches(4)];
    expect(Array.from(batch!.labels!)).toEqual([0, 1, 0, 1]);
    expect(values(batch!.feeds.x!)).toEqual([0, 0, 1, 1]);
    expect(ds.describeSample!(3)).toBe(path.join('f', 'x', '1.png'));
  });

  it('names an empty class folder, an undecodable image, and a missing class', () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'f', 'ok'), { recursive: true });
    mkdirSync(path.join(dir, 'f', 'empty'), { recursive: true });
    png(path.join(dir, 'f', 'ok', 'a.png'), 1, 1, () => [1, 1, 1, 255]);
    const spec: IoSpec = { name: 'x', dtype: 'float32', shape: [1, 1, 1, 1], dynamicBatch: true, batchAxis: 0 };
    expect(() => loadDataset({ images: 'f' }, at(dir), [spec])).toThrow(`dataset.images: class folder ${path.join('f', 'empty')} has no PNG or JPEG images`);
    expect(() => loadDataset({ images: 'f', classes: ['ok', 'cat'] }, at(dir), [spec])).toThrow("dataset.classes: class 'cat' has no folder in f (folders: empty, ok)");
    writeFileSync(path.join(dir, 'f', 'empty', 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\nnot really'));
    expect(() => [...loadDataset({ images: 'f' }, at(dir), [spec]).batches(2)]).toThrow(new RegExp(`^${path.join('f', 'empty', 'broken.png')}: cannot decode the image`));
    writeFileSync(path.join(dir, 'f', 'empty', 'broken.png'), readFileSync(path.join(dir, 'f', 'ok', 'a.png')));
    const huge = readFileSync(path.join(dir, 'f', 'ok', 'a.png'));
    huge.writeUInt32BE(20000, 16);
    huge.writeUInt32BE(20000, 20);
    writeFileSync(path.join(dir, 'f', 'ok', 'b.png'), huge);
    expect(() => [...loadDataset({ images: 'f' }, at(dir), [spec]).batches(4)]).toThrow(`${path.join('f', 'ok', 'b.png')}: cannot decode the image (20000×20000 is over 100 megapixels)`);
    writeFileSync(path.join(dir, 'f', 'ok', 'b.png'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    expect(() => [...loadDataset({ images: 'f' }, at(dir), [spec]).batches(4)]).toThrow(new RegExp(`^${path.join('f', 'ok', 'b.png')}: cannot decode the image`));
    const flat: IoSpec = { name: 'x', dtype: 'float32', shape: [1, 7, 5, 9], dynamicBatch: true, batchAxis: 0 };
    expect(() => loadDataset({ images: 'f' }, at(dir), [flat])).toThrow("dataset.images: input 'x' takes samples of shape [7, 5, 9], which is not an image");
  });
});

describe('calibration', () => {
  it('uses its own section when given, else the evaluation data, marked as overlapping', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'eval.npy'), writeNpy('float32', [2, 2], Float32Array.of(1, 2, 3, 4)));
    writeFileSync(path.join(dir, 'cal.csv'), 'p,q\n9,8\n7,6\n5,4\n');
    const inputs = [vec('x', 2)];
    const evaluation = loadDataset({ inputs: 'eval.npy' }, at(dir), inputs);
    const same = loadCalibration(undefined, evaluation, at(dir), inputs);
    expect(same.overlapsEvaluation).toBe(true);
    expect(values(calibrationFeeds(same, 5)[1]!.x!)).toEqual([3, 4]);
    const own = loadCalibration({ inputs: 'cal.csv', limit: 2 }, evaluation, at(dir), inputs);
    expect(own.overlapsEvaluation).toBe(false);
    const feeds = calibrationFeeds(own, 10);
    expect(feeds.map((f) => values(f.x!))).toEqual([[9, 8], [7, 6]]);
    expect(() => loadCalibration({ inputs: 'cal.csv', features: ['p', 'zz'] }, evaluation, at(dir), inputs)).toThrow(/calibration\.features: column 'zz'/);
    expect(loadCalibration(undefined, syntheticDataset(inputs), at(dir), inputs).overlapsEvaluation).toBe(false);
  });
});

describe('config keys', () => {
  it('accepts the dataset, calibration and metric_options keys and bounds them', async () => {
    const { parseConfig } = await import('../../src/config/load.js');
    const ok = parseConfig(
      'model: m.onnx\ndataset: { inputs: d.csv, label: y, features: { a: [c1, c2], b: [c3] }, limit: 10 }\ncalibration: { images: train/, classes: [cat, dog] }\nmetric: binary\nmetric_options: { output: prob, threshold: 0.7, activation: none }\ninputs: { past: { shape: [1, 4, 0, 8] } }\n',
      'c.yml',
    ).config;
    expect(ok.dataset?.features).toEqual({ a: ['c1', 'c2'], b: ['c3'] });
    expect(ok.calibration).toEqual({ images: 'train/', classes: ['cat', 'dog'] });
    expect(ok.metric_options).toEqual({ output: 'prob', threshold: 0.7, activation: 'none' });
    expect(ok.inputs.past!.shape).toEqual([1, 4, 0, 8]);
    expect(() => parseConfig('model: m.onnx\nmetric_options: { threshold: 2 }\n', 'c.yml')).toThrow(/metric_options\.threshold/);
    expect(() => parseConfig('model: m.onnx\ninputs: { x: { shape: [1, 1000000000] } }\n', 'c.yml')).toThrow(/inputs\.x\.shape\[1\]/);
    expect(() => parseConfig('model: m.onnx\ndataset: { inputs: a.csv, colums: [a] }\n', 'c.yml')).toThrow(/dataset\.colums: is not a known key/);
  });

  it('needs inputs or images, not both', () => {
    expect(() => loadDataset({}, (p) => p, [vec('x', 1)])).toThrow('dataset: needs inputs (a data file) or images (a folder)');
    expect(() => loadDataset({ inputs: 'a.npy', images: 'b' }, (p) => p, [vec('x', 1)], 'calibration')).toThrow('calibration: give either inputs or images, not both');
  });
});
