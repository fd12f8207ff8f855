import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeModel, encodeModel, loadModel, saveModel, onnx } from '../../src/model/onnx.js';
import { tensorData } from '../../src/model/tensor.js';
import { hostDType } from '../../src/model/io.js';
import { OrtSession } from '../../src/runtime/session.js';
import type { Feeds, HostTensor } from '../../src/model/host-tensor.js';
import { ModelGateError } from '../../src/errors.js';

const CORPUS = '/usr/share/libonnx-testdata/data';
const haveCorpus = existsSync(CORPUS);

function corpusModels(): string[] {
  const dirs: string[] = [];
  for (const group of ['node', 'pytorch-converted', 'pytorch-operator', 'simple']) {
    const root = path.join(CORPUS, group);
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root).sort()) {
      if (existsSync(path.join(root, name, 'model.onnx'))) dirs.push(path.join(root, name));
    }
  }
  return dirs;
}

function readTensorPb(file: string): HostTensor {
  const t = onnx.TensorProto.decode(readFileSync(file));
  return { type: hostDType(t.dataType, file), dims: t.dims.map(Number), data: tensorData(t) };
}

describe('ONNX codec', () => {
  it('re-encodes every libonnx-testdata model byte for byte', () => {
    expect(haveCorpus, `${CORPUS} is missing: run bash scripts/fixtures.sh`).toBe(true);
    const models = corpusModels();
    expect(models.length).toBeGreaterThan(1000);
    const differing = models.filter((dir) => {
      const bytes = readFileSync(path.join(dir, 'model.onnx'));
      return Buffer.compare(Buffer.from(encodeModel(decodeModel(bytes))), bytes) !== 0;
    });
    expect(differing).toEqual([]);
  });

  it('keeps ORT outputs unchanged after a round trip on 60+ corpus models', async () => {
    expect(haveCorpus, `${CORPUS} is missing: run bash scripts/fixtures.sh`).toBe(true);
    // Every 8th model whose inputs are plain tensors and that this ORT build runs.
    const candidates = corpusModels().filter((_, i) => i % 8 === 0);
    let compared = 0;
    for (const dir of candidates) {
      const setDir = path.join(dir, 'test_data_set_0');
      if (!existsSync(setDir)) continue;
      const original = readFileSync(path.join(dir, 'model.onnx'));
      const model = decodeModel(original);
      const inputNames = (model.graph!.input ?? []).filter((i) => i.type?.tensorType).map((i) => i.name!);
      const inputFiles = readdirSync(setDir).filter((f) => f.startsWith('input_')).sort();
      if (inputFiles.length !== (model.graph!.input ?? []).length || inputFiles.length !== inputNames.length) continue;
      let feeds: Feeds;
      try {
        feeds = Object.fromEntries(inputFiles.map((f, i) => [inputNames[i]!, readTensorPb(path.join(setDir, f))]));
      } catch {
        continue; // string or sequence inputs
      }
      let before: Record<string, HostTensor>;
      try {
        const s = await OrtSession.create(original);
        before = await s.run(feeds);
        await s.release();
      } catch {
        continue; // an op this ORT build lacks (training ops, old opsets)
      }
      const s2 = await OrtSession.create(encodeModel(model));
      const after = await s2.run(feeds);
      await s2.release();
      expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
      for (const name of Object.keys(before)) {
        expect(after[name]!.dims, `${dir} ${name}`).toEqual(before[name]!.dims);
        expect(Buffer.from(after[name]!.data.buffer).equals(Buffer.from(before[name]!.data.buffer)), `${dir} ${name}`).toBe(true);
      }
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(60);
  });

  it('round-trips the MNIST example byte for byte, and through saveModel', () => {
    const file = path.resolve('examples/mnist/model.onnx');
    const bytes = readFileSync(file);
    const model = loadModel(file);
    expect(Buffer.from(encodeModel(model)).equals(bytes)).toBe(true);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-codec-'));
    saveModel(model, path.join(dir, 'copy.onnx'));
    expect(readFileSync(path.join(dir, 'copy.onnx')).equals(bytes)).toBe(true);
  });

  it('rejects a truncated model with a message that names the file', () => {
    const bytes = readFileSync(path.resolve('examples/mnist/model.onnx'));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-codec-'));
    const file = path.join(dir, 'truncated.onnx');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(() => loadModel(file)).toThrow(ModelGateError);
    expect(() => loadModel(file)).toThrow(/truncated\.onnx: not a valid ONNX model/);
  });

  it('refuses external data that escapes the model folder', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-codec-'));
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        node: [{ opType: 'Identity', input: ['w'], output: ['y'] }],
        initializer: [{
          name: 'w', dims: [2], dataType: onnx.TensorProto.DataType.FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [{ key: 'location', value: '../../etc/passwd' }],
        }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } }],
      },
    });
    writeFileSync(path.join(dir, 'm.onnx'), encodeModel(model));
    expect(() => loadModel(path.join(dir, 'm.onnx'))).toThrow(/outside the model folder/);
  });

  it('inlines external data that sits beside the model', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-codec-'));
    const w = new Float32Array([1.5, -2]);
    writeFileSync(path.join(dir, 'w.bin'), Buffer.concat([Buffer.alloc(8), Buffer.from(w.buffer)]));
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        node: [{ opType: 'Add', input: ['x', 'w'], output: ['y'] }],
        initializer: [{
          name: 'w', dims: [2], dataType: onnx.TensorProto.DataType.FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [{ key: 'location', value: 'w.bin' }, { key: 'offset', value: '8' }, { key: 'length', value: '8' }],
        }],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } }],
      },
    });
    writeFileSync(path.join(dir, 'm.onnx'), encodeModel(model));
    const loaded = loadModel(path.join(dir, 'm.onnx'));
    const s = await OrtSession.create(encodeModel(loaded));
    const out = await s.run({ x: { type: 'float32', dims: [2], data: new Float32Array([1, 1]) } });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([2.5, -1]);
  });
});
