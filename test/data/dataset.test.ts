import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { readIdx } from '../../src/data/idx.js';
import { loadDataset, syntheticDataset } from '../../src/data/dataset.js';
import type { IoSpec } from '../../src/model/io.js';

function idx(type: number, shape: number[], body: Uint8Array): Uint8Array {
  const head = Buffer.alloc(4 + 4 * shape.length);
  head[2] = type;
  head[3] = shape.length;
  shape.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, body]);
}

const image: IoSpec = { name: 'x', dtype: 'float32', shape: [1, 1, 2, 2], dynamicBatch: true };

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'mg-data-'));
}

describe('IDX reader', () => {
  it('reads uint8 and big-endian float32, gzipped or not', () => {
    const u8 = readIdx(idx(0x08, [2, 3], Uint8Array.from([1, 2, 3, 4, 5, 255])), 'a.idx');
    expect(u8.shape).toEqual([2, 3]);
    expect(Array.from(u8.data as Uint8Array)).toEqual([1, 2, 3, 4, 5, 255]);
    const f = Buffer.alloc(8);
    f.writeFloatBE(1.5, 0);
    f.writeFloatBE(-2.25, 4);
    const f32 = readIdx(gzipSync(idx(0x0d, [2], f)), 'b.idx.gz');
    expect(f32.dtype).toBe('float32');
    expect(Array.from(f32.data as Float32Array)).toEqual([1.5, -2.25]);
  });

  it('rejects truncated data and bad magic with the file name', () => {
    expect(() => readIdx(idx(0x08, [10, 10], new Uint8Array(99)), 'short-ubyte')).toThrow(/short-ubyte: IDX shape \[10, 10\] needs 112 bytes, the file has 111/);
    expect(() => readIdx(Uint8Array.from([1, 2, 3, 4]), 'bad-ubyte')).toThrow(/bad-ubyte: not an IDX file/);
    expect(() => readIdx(Uint8Array.from([0x1f, 0x8b, 0, 0]), 'x.gz')).toThrow(/x\.gz: cannot decompress/);
  });
});

describe('dataset', () => {
  it('scales, normalizes per channel, reshapes and batches with padding', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'images-idx3-ubyte.gz'), gzipSync(idx(0x08, [3, 2, 2], Uint8Array.from({ length: 12 }, (_, i) => i * 10))));
    writeFileSync(path.join(dir, 'labels-idx1-ubyte'), idx(0x08, [3], Uint8Array.from([7, 8, 9])));
    const ds = loadDataset(
      { inputs: 'images-idx3-ubyte.gz', labels: 'labels-idx1-ubyte', preprocess: { scale: 0.1, mean: 1, std: 2 } },
      (p) => path.join(dir, p),
      [image],
    );
    expect(ds.count).toBe(3);
    const batches = [...ds.batches(2, true)];
    expect(batches.map((b) => b.count)).toEqual([2, 1]);
    expect(batches[1]!.feeds.x!.dims).toEqual([2, 1, 2, 2]);
    // sample 2 = [80, 90, 100, 110] → (x*0.1 - 1) / 2
    expect(Array.from(batches[1]!.feeds.x!.data as Float32Array).slice(0, 4)).toEqual([3.5, 4, 4.5, 5]);
    expect(Array.from(batches[0]!.labels!)).toEqual([7, 8]);
    expect([...ds.batches(2)][1]!.feeds.x!.dims[0]).toBe(1);
  });

  it('says which shapes do not fit', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'i-idx3-ubyte'), idx(0x08, [2, 3, 3], new Uint8Array(18)));
    expect(() => loadDataset({ inputs: 'i-idx3-ubyte' }, (p) => path.join(dir, p), [image])).toThrow(
      /i-idx3-ubyte: samples of shape \[3, 3\] \(9 values\) cannot be reshaped to input 'x' \[1, 2, 2\] \(4 values\)/,
    );
    writeFileSync(path.join(dir, 'j-idx3-ubyte'), idx(0x08, [2, 2, 2], new Uint8Array(8)));
    writeFileSync(path.join(dir, 'l-idx1-ubyte'), idx(0x08, [3], new Uint8Array(3)));
    expect(() => loadDataset({ inputs: 'j-idx3-ubyte', labels: 'l-idx1-ubyte' }, (p) => path.join(dir, p), [image])).toThrow(/3 labels for 2 samples/);
    expect(() => loadDataset({ inputs: 'missing.npy' }, (p) => path.join(dir, p), [image])).toThrow(/missing.npy: cannot open/);
  });

  it('makes the same synthetic data every time, within the configured range', () => {
    const spec: IoSpec = { name: 'ids', dtype: 'int64', shape: [1, 4], dynamicBatch: true, range: [16000, 16000] };
    const a = syntheticDataset([image, spec]).feedsForBatch(2);
    const b = syntheticDataset([image, spec]).feedsForBatch(2);
    expect(Array.from(a.x!.data as Float32Array)).toEqual(Array.from(b.x!.data as Float32Array));
    expect((Array.from(a.x!.data as Float32Array)).every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(Array.from(a.ids!.data as BigInt64Array)).toEqual(Array(8).fill(16000n));
  });
});
