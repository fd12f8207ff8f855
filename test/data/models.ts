/** Small ONNX graphs built in the tests, and a way to run them in onnxruntime-node. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, onnx, saveModel } from '../../src/model/onnx.js';
import { openSession } from '../../src/runtime/kind.js';
import type { ModelSession } from '../../src/runtime/kind.js';

export type Dim = number | string;
export type ValueDecl = [name: string, elemType: number, dims: Dim[] | null];

export function info([name, elemType, dims]: ValueDecl): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, ...(dims ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } : {}) } },
  };
}

export function buildModel(nodes: onnx.INodeProto[], inputs: ValueDecl[], outputs: ValueDecl[], initializer: onnx.ITensorProto[] = []): onnx.ModelProto {
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', node: nodes, initializer, input: inputs.map(info), output: outputs.map(info) },
  });
}

export function tmp(prefix = 'mg-data-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function openModel(model: onnx.ModelProto, dir: string, name = 'model.onnx'): Promise<ModelSession> {
  const file = path.join(dir, name);
  saveModel(model, file);
  return openSession(file, { intraOpThreads: 1 }, name);
}

export const F = DataType.FLOAT;
export const F16 = DataType.FLOAT16;
export const I64 = DataType.INT64;
export const BOOL = DataType.BOOL;

export function ints(name: string, values: number[]): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}

export function int(name: string, value: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

export function float(name: string, value: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}
