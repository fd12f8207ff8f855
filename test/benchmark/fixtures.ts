/** Tiny ONNX models for the benchmark tests, written to a temp folder. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, onnx, saveModel } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import type { Feeds } from '../../src/model/host-tensor.js';

const floatInfo = (name: string, dims: number[]): onnx.IValueInfoProto => ({
  name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
});

/** y = x · W with x [batch, k] and W [k, n] of ones. */
export function matMulModel(batch: number, k: number, n: number): onnx.ModelProto {
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'matmul',
      node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'] }],
      initializer: [makeTensor('w', [k, n], new Float32Array(k * n).fill(1))],
      input: [floatInfo('x', [batch, k])],
      output: [floatInfo('y', [batch, n])],
    },
  });
}

export function matMulFeeds(batch: number, k: number): Feeds {
  return { x: { type: 'float32', dims: [batch, k], data: Float32Array.from({ length: batch * k }, (_, i) => (i % 7) / 7) } };
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeMatMul(dir: string, name: string, batch = 2, k = 16, n = 8): string {
  const file = path.join(dir, name);
  saveModel(matMulModel(batch, k, n), file);
  return file;
}
