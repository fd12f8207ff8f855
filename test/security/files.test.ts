/** Bounded, symlink-safe reads: nothing outside the model's folder or the workspace is read, special files are refused, bytes are capped first. */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkConfigPath, configPathPolicy, prepareOutDir, readFileSafe } from '../../src/io/files.js';
import { DataType, encodeModel, loadModel, onnx } from '../../src/model/onnx.js';
import { loadConfig } from '../../src/config/load.js';
import { readArrayFile } from '../../src/data/dataset.js';
import { importTfliteFile } from '../../src/import/tflite.js';
import { Hdf5File } from '../../src/import/hdf5.js';
import { readTfjsLayersModel } from '../../src/formats/tfjs/files.js';
import { runGate } from '../../src/commands/run.js';
import { ModelGateError } from '../../src/errors.js';
import * as tf from '@tensorflow/tfjs';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-sec-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A file outside every model folder whose content must never be read. */
const outside = mkdtempSync(path.join(os.tmpdir(), 'modelgate-sec-outside-'));
afterAll(() => rmSync(outside, { recursive: true, force: true }));
const CANARY = 'CANARY-7f3a9c-secret-token';
const canaryFile = path.join(outside, 'secret.bin');
writeFileSync(canaryFile, Buffer.from(CANARY.padEnd(64, '.')));

function externalDataModel(location: string): Uint8Array {
  const w = onnx.TensorProto.create({
    name: 'w', dims: [16], dataType: DataType.FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [onnx.StringStringEntryProto.create({ key: 'location', value: location })],
  });
  const vi = (name: string) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 16 }] } } } });
  return encodeModel(onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'g', node: [{ opType: 'Add', input: ['x', 'w'], output: ['y'] }], initializer: [w], input: [vi('x')], output: [vi('y')] },
  }));
}

function expectRefused(fn: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ModelGateError);
  expect((err as Error).message).toMatch(pattern);
  expect((err as Error).message).not.toContain(CANARY);
  expect((err as Error).message.split('\n')).toHaveLength(1);
}

describe('readFileSafe', () => {
  it('reads a regular file and refuses one over the cap before reading it', () => {
    const f = path.join(tmp, 'ten.bin');
    writeFileSync(f, Buffer.alloc(10, 1));
    expect(readFileSafe(f, { maxBytes: 10 }).length).toBe(10);
    expectRefused(() => readFileSafe(f, { maxBytes: 9 }), /10 bytes is more than the 9-byte limit/);
  });

  it('refuses devices, /proc and /sys files, directories and FIFOs without blocking', () => {
    expectRefused(() => readFileSafe('/dev/zero', { maxBytes: 1 << 20 }), /kernel or device file/);
    expectRefused(() => readFileSafe('/proc/self/environ', { maxBytes: 1 << 20 }), /kernel or device file/);
    expectRefused(() => readFileSafe('/sys/kernel/mm/transparent_hugepage/enabled', { maxBytes: 1 << 20 }), /cannot read|kernel or device file/);
    expectRefused(() => readFileSafe(tmp, { maxBytes: 1 << 20 }), /is a directory/);
    const fifo = path.join(tmp, 'pipe.npy');
    execFileSync('mkfifo', [fifo]);
    expectRefused(() => readFileSafe(fifo, { maxBytes: 1 << 20 }), /FIFO/);
    expectRefused(() => readArrayFile(fifo), /FIFO/);
  });

  it('resolves symlinks before the containment check', () => {
    const dir = path.join(tmp, 'contain');
    mkdirSync(dir);
    symlinkSync(canaryFile, path.join(dir, 'link.bin'));
    expectRefused(() => readFileSafe(path.join(dir, 'link.bin'), { maxBytes: 1 << 20, within: dir }), /outside the allowed folder/);
    writeFileSync(path.join(dir, 'inside.bin'), 'ok');
    symlinkSync(path.join(dir, 'inside.bin'), path.join(dir, 'inner-link.bin'));
    expect(readFileSafe(path.join(dir, 'inner-link.bin'), { maxBytes: 10, within: dir }).toString()).toBe('ok');
  });

  it('stops at the cap when a file grows while it is read', () => {
    const f = path.join(tmp, 'growing.bin');
    writeFileSync(f, Buffer.alloc(1000));
    // Growth after the size check is what the bounded loop catches; simulate it by growing between two reads.
    const first = readFileSafe(f, { maxBytes: 1500 });
    appendFileSync(f, Buffer.alloc(1000));
    expect(first.length).toBe(1000);
    expectRefused(() => readFileSafe(f, { maxBytes: 1500 }), /2000 bytes is more than the 1500-byte limit/);
  });
});

describe('files a model names', () => {
  for (const [name, target] of [['/etc/passwd', '/etc/passwd'], ['/proc/self/environ', '/proc/self/environ'], ['a canary outside the folder', canaryFile]] as const) {
    it(`ONNX external data symlinked to ${name} is refused`, () => {
      const dir = mkdtempSync(path.join(tmp, 'ext-'));
      writeFileSync(path.join(dir, 'model.onnx'), externalDataModel('weights.bin'));
      symlinkSync(target, path.join(dir, 'weights.bin'));
      expectRefused(() => loadModel(path.join(dir, 'model.onnx')), /tensor 'w'.*(outside the allowed folder|kernel or device file)/);
    });

    it(`a TF.js weight shard symlinked to ${name} is refused`, async () => {
      const dir = mkdtempSync(path.join(tmp, 'tfjs-'));
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
        format: 'layers-model',
        modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'd', units: 4, batch_input_shape: [null, 4] } }] } },
        weightsManifest: [{ paths: ['shard.bin'], weights: [{ name: 'd/kernel', shape: [4, 4], dtype: 'float32' }, { name: 'd/bias', shape: [4], dtype: 'float32' }] }],
      }));
      symlinkSync(target, path.join(dir, 'shard.bin'));
      await expect(readTfjsLayersModel(tf, path.join(dir, 'model.json'))).rejects.toThrow(/weight shard 'shard.bin'.*(outside the allowed folder|kernel or device file)/);
    });
  }

  it('external data that names a path outside the folder is refused without reading', () => {
    const dir = mkdtempSync(path.join(tmp, 'ext-'));
    writeFileSync(path.join(dir, 'model.onnx'), externalDataModel(`../${path.basename(outside)}/secret.bin`));
    expectRefused(() => loadModel(path.join(dir, 'model.onnx')), /points outside the model folder/);
    writeFileSync(path.join(dir, 'abs.onnx'), externalDataModel(canaryFile));
    expectRefused(() => loadModel(path.join(dir, 'abs.onnx')), /points outside the model folder/);
  });

  it('a model path that is a directory, a FIFO or /dev/zero is a clean error', async () => {
    const dir = path.join(tmp, 'dir.onnx');
    mkdirSync(dir);
    expectRefused(() => loadModel(dir), /is a directory/);
    expectRefused(() => importTfliteFile('/dev/zero'), /kernel or device file/);
    await expect(Hdf5File.open(path.join(tmp))).rejects.toThrow(/is a directory/);
  });
});

describe('files a config names', () => {
  it('the config itself: a FIFO, /dev/zero or a directory is refused, and 1 MiB is checked before reading', () => {
    const fifo = path.join(tmp, 'config-fifo.yml');
    execFileSync('mkfifo', [fifo]);
    expectRefused(() => loadConfig(fifo), /FIFO/);
    expectRefused(() => loadConfig('/dev/zero'), /kernel or device file/);
    expectRefused(() => loadConfig(tmp), /is a directory/);
    const big = path.join(tmp, 'big.yml');
    writeFileSync(big, `model: m.onnx\n#${'x'.repeat(1 << 20)}\n`);
    expectRefused(() => loadConfig(big), /more than the 1048576-byte limit/);
  });

  it('a symlink in the workspace cannot redirect a config path outside it; a path the config writes out explicitly can', () => {
    const ws = mkdtempSync(path.join(tmp, 'ws-'));
    symlinkSync(canaryFile, path.join(ws, 'model.onnx'));
    const policy = configPathPolicy(ws);
    expectRefused(() => checkConfigPath(path.join(ws, 'model.onnx'), policy, 'modelgate.yml: model'), /through a symlink.*outside the workspace/);
    expect(() => checkConfigPath(canaryFile, policy, 'modelgate.yml: model')).not.toThrow();
  });

  it('runGate: a model symlinked out of the workspace ends with exit 2, report.json, and no canary anywhere in out/', async () => {
    const ws = mkdtempSync(path.join(tmp, 'ws-'));
    const out = path.join(ws, 'out');
    writeFileSync(path.join(ws, 'model.onnx'), externalDataModel('weights.bin'));
    symlinkSync(canaryFile, path.join(ws, 'weights.bin'));
    writeFileSync(path.join(ws, 'modelgate.yml'), 'model: model.onnx\n');
    const result = await runGate({ configPath: path.join(ws, 'modelgate.yml'), outDir: out });
    expect(result.exitCode).toBe(2);
    expect(result.error).toMatch(/external data 'weights.bin'.*outside the allowed folder/);
    expect(result.error).not.toMatch(/internal error|\n\s+at /);
    const files = readdirSync(out, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(files.map((f) => f.name)).toContain('report.json');
    for (const f of files) expect(readFileSync(path.join(f.parentPath, f.name), 'utf8')).not.toContain(CANARY);
  });
});

describe('--out', () => {
  it('prepareOutDir names --out when the folder cannot be used', () => {
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, '');
    expectRefused(() => prepareOutDir(file), /^--out '.*a-file': exists and is a file, not a folder$/);
    expectRefused(() => prepareOutDir(path.join(file, 'sub')), /^--out '.*': cannot create the folder/);
    expectRefused(() => prepareOutDir('/proc/modelgate-out'), /^--out '\/proc\/modelgate-out': is on a kernel filesystem/);
    expectRefused(() => prepareOutDir(path.join(file, 'z', 'y')), /cannot create the folder/);
    const ok = prepareOutDir(path.join(tmp, 'new', 'out'));
    expect(readdirSync(ok)).toEqual([]);
  });
});
