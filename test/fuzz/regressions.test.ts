/**
 * The fuzz job's corpus and every case it ever failed, replayed: each corpus seed must load, and
 * each stored case must end in a result or a clean refusal, with no canary content anywhere.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCase, materialize, problems, runCase, type CaseSpec } from './cases.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-fuzz-regress-'));
const outside = mkdtempSync(path.join(os.tmpdir(), 'modelgate-fuzz-regress-outside-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});
const CANARY = 'MODELGATE-CANARY-regressions';
const canaryFile = path.join(outside, 'secret.txt');
writeFileSync(canaryFile, `${CANARY}\n`);

const dir = path.join(import.meta.dirname, 'regressions');
const stored = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('fuzz regressions', () => {
  it('keeps at least one stored case per format the fuzzer found failing', () => {
    expect(stored.length).toBeGreaterThan(0);
  });

  for (const name of stored) {
    it(name, async () => {
      const spec = decodeCase(readFileSync(path.join(dir, name), 'utf8'));
      const at = path.join(tmp, name);
      materialize(spec, at, canaryFile);
      const outcome = await runCase(spec, at);
      expect(problems(outcome, CANARY, at, 60_000)).toEqual([]);
    }, 60_000);
  }
});

describe('fuzz corpus', () => {
  const read = (rel: string) => new Uint8Array(readFileSync(path.join(import.meta.dirname, 'corpus', rel)));
  const seeds: CaseSpec[] = [
    { format: 'onnx-external', entry: 'model.onnx', files: { 'model.onnx': read('onnx-external/model.onnx'), 'weights.bin': read('onnx-external/weights.bin') }, links: [], mutation: 'none' },
    { format: 'tflite', entry: 'model.tflite', files: { 'model.tflite': read('tflite/model.tflite') }, links: [], mutation: 'none' },
    { format: 'npy', entry: 'f4.npy', files: { 'f4.npy': read('npy/f4.npy') }, links: [], mutation: 'none' },
    { format: 'keras-h5', entry: 'model.h5', files: { 'model.h5': read('keras-h5/model.h5') }, links: [], mutation: 'none' },
    { format: 'keras-zip', entry: 'model.keras', files: { 'model.keras': read('keras-zip/model.keras') }, links: [], mutation: 'none' },
    { format: 'tfjs', entry: 'model.json', files: { 'model.json': read('tfjs/model.json'), 'group1-shard1of1.bin': read('tfjs/group1-shard1of1.bin') }, links: [], mutation: 'none' },
  ];
  for (const spec of seeds) {
    it(`the ${spec.format} seed loads`, async () => {
      const at = path.join(tmp, `seed-${spec.format}`);
      materialize(spec, at, canaryFile);
      const outcome = await runCase(spec, at);
      expect(outcome.message).toBeUndefined();
      expect(outcome.outcome).toBe('ok');
    }, 60_000);
  }
});
