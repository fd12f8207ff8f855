/**
 * What a corpus model holds, read from the file itself: its format, ONNX opset, float weight bytes (fp32 and
 * fp16, wherever they sit: initializers, Constant nodes, subgraph bodies, TF.js shards, TFLite buffers) and
 * its input signature. The corpus's `float_weight_mb` and tags come from here, so they can be re-checked:
 *   npx tsx bench/realworld/describe.ts <model file>...
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeModel, dimsOf, elementCount, toNumber, DataType, onnx } from '../../src/model/onnx.js';
import { decodeTflite } from '../../src/formats/tflite/flatbuffer.js';
import { TensorType } from '../../src/formats/tflite/schema.js';

export interface ModelFacts {
  format: 'onnx' | 'tflite' | 'tfjs-layers' | 'tfjs-graph' | 'keras';
  /** Default-domain opset (ONNX only). */
  opset?: number;
  fp32Bytes: number;
  fp16Bytes: number;
  /** Float weights held in Constant nodes rather than initializers (ONNX only). */
  constantFloatBytes: number;
  /** Control-flow ops (If/Loop/Scan) with weights in their bodies. */
  subgraphs: number;
  /** TF.js weights stored quantized (dequantized to float32 on load). */
  quantizedStorage?: string;
  inputs: string[];
  outputs: string[];
}

function shapeText(dims: Array<number | string>): string {
  return `[${dims.join(',')}]`;
}

function describeOnnx(bytes: Uint8Array, file: string): ModelFacts {
  const model = decodeModel(bytes, file);
  const g = model.graph!;
  const facts: ModelFacts = { format: 'onnx', fp32Bytes: 0, fp16Bytes: 0, constantFloatBytes: 0, subgraphs: 0, inputs: [], outputs: [] };
  const opset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (opset) facts.opset = toNumber(opset.version as number);
  const count = (t: { dataType?: number | null; dims?: unknown }, inConstant: boolean): void => {
    const n = elementCount(dimsOf(t as never));
    const b = t.dataType === DataType.FLOAT ? 4 * n : t.dataType === DataType.FLOAT16 ? 2 * n : 0;
    if (t.dataType === DataType.FLOAT) facts.fp32Bytes += b;
    if (t.dataType === DataType.FLOAT16) facts.fp16Bytes += b;
    if (inConstant) facts.constantFloatBytes += b;
  };
  const walk = (graph: onnx.IGraphProto, nested: boolean): void => {
    for (const t of graph.initializer ?? []) count(t, false);
    for (const n of graph.node ?? []) {
      if (n.opType === 'Constant') for (const a of n.attribute ?? []) if (a.t) count(a.t, true);
      const bodies = (n.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
      if (bodies.length > 0 && !nested) facts.subgraphs++;
      for (const body of bodies) walk(body, true);
    }
  };
  walk(g, false);
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const sig = (v: onnx.IValueInfoProto): string =>
    `${v.name}${shapeText((v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || toNumber(d.dimValue as number)))}`;
  facts.inputs = (g.input ?? []).filter((v) => !inits.has(v.name)).map(sig);
  facts.outputs = (g.output ?? []).map(sig);
  return facts;
}

function describeTflite(bytes: Uint8Array, file: string): ModelFacts {
  const m = decodeTflite(bytes, file);
  const g = m.graph;
  const facts: ModelFacts = { format: 'tflite', fp32Bytes: 0, fp16Bytes: 0, constantFloatBytes: 0, subgraphs: 0, inputs: [], outputs: [] };
  for (const t of g.tensors) {
    if (!t.data || t.data.length === 0) continue;
    if (t.type === TensorType.FLOAT32) facts.fp32Bytes += t.data.length;
    if (t.type === TensorType.FLOAT16) facts.fp16Bytes += t.data.length;
  }
  facts.inputs = g.inputs.map((i) => `${g.tensors[i]!.name}${shapeText(g.tensors[i]!.shapeSignature ?? g.tensors[i]!.shape)}`);
  facts.outputs = g.outputs.map((i) => `${g.tensors[i]!.name}${shapeText(g.tensors[i]!.shape)}`);
  return facts;
}

interface TfjsJson {
  format?: string;
  modelTopology?: { node?: unknown[]; model_config?: unknown; class_name?: string; config?: unknown };
  weightsManifest?: Array<{ weights: Array<{ name: string; shape: number[]; dtype: string; quantization?: { dtype: string } }> }>;
  signature?: { inputs?: Record<string, { name: string; tensorShape?: { dim?: Array<{ size?: string }> } }>; outputs?: Record<string, { name: string }> };
}

function describeTfjs(bytes: Uint8Array): ModelFacts {
  const j = JSON.parse(Buffer.from(bytes).toString('utf8')) as TfjsJson;
  const graph = j.format === 'graph-model' || Array.isArray(j.modelTopology?.node);
  const facts: ModelFacts = { format: graph ? 'tfjs-graph' : 'tfjs-layers', fp32Bytes: 0, fp16Bytes: 0, constantFloatBytes: 0, subgraphs: 0, inputs: [], outputs: [] };
  for (const group of j.weightsManifest ?? []) {
    for (const w of group.weights) {
      const n = w.shape.reduce((a, d) => a * d, 1);
      const stored = w.quantization?.dtype ?? w.dtype;
      if (w.dtype !== 'float32') continue;
      // TF.js dequantizes uint8/uint16/float16 storage to float32 on load: count what runs, note what is stored.
      if (stored === 'float16') facts.fp16Bytes += 2 * n;
      else facts.fp32Bytes += 4 * n;
      if (stored === 'uint8' || stored === 'uint16') facts.quantizedStorage = stored;
    }
  }
  for (const v of Object.values(j.signature?.inputs ?? {})) {
    facts.inputs.push(`${v.name}${shapeText((v.tensorShape?.dim ?? []).map((d) => Number(d.size ?? -1)))}`);
  }
  for (const v of Object.values(j.signature?.outputs ?? {})) facts.outputs.push(v.name);
  if (facts.inputs.length === 0 && graph) {
    for (const n of (j.modelTopology?.node ?? []) as Array<{ name: string; op: string; attr?: { shape?: { shape?: { dim?: Array<{ size?: string }> } } } }>) {
      if (n.op === 'Placeholder') facts.inputs.push(`${n.name}${shapeText((n.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size ?? -1)))}`);
    }
  }
  return facts;
}

export function describeModel(file: string): ModelFacts {
  const bytes = readFileSync(file);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.onnx') return describeOnnx(bytes, file);
  if (ext === '.tflite') return describeTflite(bytes, file);
  if (ext === '.json') return describeTfjs(bytes);
  return { format: 'keras', fp32Bytes: 0, fp16Bytes: 0, constantFloatBytes: 0, subgraphs: 0, inputs: [], outputs: [] };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const f of process.argv.slice(2)) {
    const d = describeModel(f);
    const mb = (b: number): string => (b / 1e6).toFixed(2);
    process.stdout.write(
      `${f}\n  ${d.format}${d.opset !== undefined ? ` opset ${d.opset}` : ''} fp32 ${mb(d.fp32Bytes)} MB fp16 ${mb(d.fp16Bytes)} MB` +
        ` in-Constant ${mb(d.constantFloatBytes)} MB subgraph-ops ${d.subgraphs}${d.quantizedStorage ? ` stored ${d.quantizedStorage}` : ''}\n  in ${d.inputs.join(' ')}\n  out ${d.outputs.join(' ')}\n`,
    );
  }
}
