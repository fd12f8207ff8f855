import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BenchmarkWorker, benchmarkWorkerEntry } from '../../src/benchmark/worker-client.js';
import { ModelGateError } from '../../src/errors.js';
import { matMulFeeds, tempDir, writeMatMul } from './fixtures.js';

describe('benchmarkWorkerEntry', () => {
  const tmp = tempDir('mg-entry-');
  afterAll(tmp.cleanup);

  it('runs worker.ts through tsx from source', () => {
    const entry = benchmarkWorkerEntry();
    expect(entry.file).toBe(path.resolve('src/benchmark/worker.ts'));
    expect(entry.execArgv[0]).toBe('--import');
    expect(entry.execArgv[1]).toMatch(/tsx/);
  });

  it('finds dist/worker/index.js from dist/index.js and dist/cli/index.js, and not past dist', () => {
    const dist = path.join(tmp.dir, 'pkg', 'dist');
    mkdirSync(path.join(dist, 'worker'), { recursive: true });
    mkdirSync(path.join(dist, 'cli'), { recursive: true });
    const worker = path.join(dist, 'worker', 'index.js');
    writeFileSync(worker, '');
    const url = (f: string) => pathToFileURL(f).href;
    expect(benchmarkWorkerEntry(url(path.join(dist, 'index.js')))).toEqual({ file: worker, execArgv: [] });
    expect(benchmarkWorkerEntry(url(path.join(dist, 'cli', 'index.js')))).toEqual({ file: worker, execArgv: [] });
    // A worker/index.js above the dist folder belongs to something else.
    const other = path.join(tmp.dir, 'other', 'dist');
    mkdirSync(path.join(other, 'cli'), { recursive: true });
    mkdirSync(path.join(tmp.dir, 'worker'), { recursive: true });
    writeFileSync(path.join(tmp.dir, 'worker', 'index.js'), '');
    expect(() => benchmarkWorkerEntry(url(path.join(other, 'cli', 'index.js')))).toThrow(ModelGateError);
  });
});

describe('BenchmarkWorker', () => {
  const tmp = tempDir('mg-worker-');
  let model: string;
  beforeAll(() => {
    model = writeMatMul(tmp.dir, 'mm.onnx');
  });
  afterAll(tmp.cleanup);

  it('loads a model, runs timed iterations and reports durations, cold start and RSS', async () => {
    const worker = await BenchmarkWorker.start('mm');
    try {
      expect(worker.onnxruntime).toMatch(/^\d+\.\d+\.\d+/);
      const loaded = await worker.load(model, { intraOpThreads: 1 }, matMulFeeds(2, 16));
      expect(loaded.executionProviders).toEqual(['cpu']);
      expect(loaded.fallbackReason).toBeUndefined();
      expect(loaded.inputNames).toEqual(['x']);
      expect(loaded.outputNames).toEqual(['y']);
      expect(loaded.coldStartMs).toBeCloseTo(loaded.createMs + loaded.firstRunMs, 9);
      expect(loaded.createMs).toBeGreaterThan(0);
      const ran = await worker.run(7);
      expect(ran.durationsMs).toBeInstanceOf(Float64Array);
      expect(ran.durationsMs.length).toBe(7);
      for (const d of ran.durationsMs) expect(d).toBeGreaterThan(0);
      expect(ran.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
      await expect(worker.run(0)).rejects.toThrow(RangeError);
    } finally {
      await worker.close();
    }
  });

  it('falls back to cpu when the requested execution providers fail', async () => {
    const worker = await BenchmarkWorker.start('mm-ep');
    try {
      const loaded = await worker.load(model, { executionProviders: ['no-such-provider'] }, matMulFeeds(2, 16));
      expect(loaded.executionProviders).toEqual(['cpu']);
      expect(loaded.fallbackReason).toMatch(/no-such-provider/);
      expect((await worker.run(2)).durationsMs.length).toBe(2);
    } finally {
      await worker.close();
    }
  });

  it('reports a missing model and wrong feeds as errors that name the model', async () => {
    const worker = await BenchmarkWorker.start('missing');
    try {
      await expect(worker.load(path.join(tmp.dir, 'nope.onnx'), {}, matMulFeeds(2, 16))).rejects.toThrow(/missing: onnxruntime could not load/);
    } finally {
      await worker.close();
    }
    const bad = await BenchmarkWorker.start('badfeeds');
    try {
      await expect(bad.load(model, {}, matMulFeeds(3, 5))).rejects.toThrow(/badfeeds: inference failed/);
    } finally {
      await bad.close();
    }
  });

  it('rejects the pending request when the worker dies', async () => {
    const worker = await BenchmarkWorker.start('killed');
    await worker.load(model, {}, matMulFeeds(2, 16));
    const pending = worker.run(1_000_000);
    process.kill(worker.pid!, 'SIGKILL');
    await expect(pending).rejects.toThrow(/killed: benchmark worker exited \(SIGKILL\)/);
    await expect(worker.run(1)).rejects.toThrow(/exited/);
    await worker.close();
  });
});
