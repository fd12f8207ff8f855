/**
 * What onnxruntime will run for a model: the graph it builds at load (every optimization level the benchmark
 * uses, saved with the session option optimizedModelFilePath), reduced to the kernels and their shapes.
 *
 * Two models with the same signature run the same kernels on tensors of the same shapes, in the same order;
 * only constant values differ. That is the case of int8 weight storage behind a DequantizeLinear that ORT
 * folds at load (weight_only with session.disable_quant_qdq=1): the file is 4x smaller, the session is
 * fp32's op for op (seen on MoveNet in the corpus: 159 nodes, identical). Its speed is then fp32's, and a
 * measured ratio of 1.01 is the noise between two worker processes (1.5-4.5% here, docs/benchmarks.md).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { decodeModel, dimsOf, onnx, type Model } from '../model/onnx.js';
import { nodeBodies } from '../model/graph.js';
import { OrtSession, type RuntimeOptions } from './session.js';

/**
 * The graph an onnxruntime session builds for `model` with these options, as onnxruntime saves it
 * (optimizedModelFilePath, which writes only to a file: a private folder, removed at once).
 */
export async function sessionGraph(model: string | Uint8Array, options: RuntimeOptions, label: string, scratchDir?: string): Promise<Model> {
  const dir = mkdtempSync(path.join(scratchDir ?? os.tmpdir(), 'modelgate-session-graph-'));
  try {
    const file = path.join(dir, 'session.onnx');
    const session = await OrtSession.create(model, { ...options, optimizedModelFilePath: file }, label);
    await session.release();
    return decodeModel(readFileSync(file), `${label} output`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A digest of the session's graph: per node its domain, op, attributes (tensor values left out) and constant
 * inputs' types and shapes, and the same for the If/Loop/Scan bodies, where a constant also says whether the
 * body holds it or reads it from an enclosing graph. That scope is part of what runs: a kernel in a body that
 * reads its weight from outside gets it as an implicit input on every run instead of packing it at load (an
 * LSTM so fed ran 1.022x, the same weights held by its body 0.992x, against a copy's 0.996x,
 * docs/benchmarks.md).
 */
export async function kernelSignature(model: string | Uint8Array, options: RuntimeOptions, scratchDir?: string): Promise<string> {
  // Errors only: saving an 'all'-level graph warns that it is hardware-specific, which is the point here.
  const graph = (await sessionGraph(model, { ...options, logSeverityLevel: 3 }, 'kernel signature', scratchDir)).graph!;
  const hash = createHash('sha256');
  const visit = (g: onnx.IGraphProto, outer: ReadonlyMap<string, string>, depth: number): void => {
    const own = new Map((g.initializer ?? []).map((t) => [t.name!, `${t.dataType}[${dimsOf(t).join('x')}]`]));
    const constants = new Map([...[...outer].map(([k, v]) => [k, `outer ${v}`] as const), ...own]);
    for (const v of g.input ?? []) constants.delete(v.name!);
    hash.update(`graph ${depth} ${(g.node ?? []).length}`);
    const visible = new Map([...outer, ...own]);
    for (const node of g.node ?? []) {
      const attrs = (node.attribute ?? []).map((a) => [a.name, a.type, a.i, a.f, a.ints, a.floats, a.s ? Buffer.from(a.s).toString('base64') : null, a.t ? `${a.t.dataType}[${dimsOf(a.t).join('x')}]` : null]);
      const inputs = (node.input ?? []).map((i) => (i === '' ? '-' : constants.get(i) ?? '*'));
      hash.update(JSON.stringify([node.domain ?? '', node.opType, attrs, inputs, (node.output ?? []).length]));
      for (const body of nodeBodies(node)) visit(body, visible, depth + 1);
    }
  };
  visit(graph, new Map(), 0);
  // The inputs' element types and shapes (a session at other input shapes runs other kernels).
  hash.update(JSON.stringify((graph.input ?? []).map((v) => Buffer.from(onnx.TypeProto.encode(v.type ?? {}).finish()).toString('base64'))));
  return hash.digest('hex');
}
