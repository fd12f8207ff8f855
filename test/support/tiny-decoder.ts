/**
 * A tiny Llama-style decoder in the layout onnxruntime-genai exports: inputs input_ids [batch, seq],
 * attention_mask [batch, total_seq], position_ids [batch, seq] (int64) and past_key_values.N.key/value
 * [batch, heads, past_seq, head_dim]; outputs logits [batch, seq, vocab] and present.N.key/value.
 * Each layer: RMSNorm, q/k/v projections, rotary embedding (rotate-half form, from position_ids), KV-cache
 * concatenation, causal attention under the attention mask, output projection, RMSNorm, SwiGLU MLP.
 *
 * Weights are seeded. With dtype 'float16' the whole graph computes in fp16 (weights, cache and logits),
 * as GPU-oriented exports do; saveWithExternalData writes the weights to a side file as large exports do.
 */
import Long from 'long';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { onnx, DataType, encodeModel, type Model } from '../../src/model/onnx.js';
import { floatToHalf, makeTensor } from '../../src/model/tensor.js';
import { intAttr, intsAttr, makeNode, tensorValueInfo } from '../../src/model/graph.js';
import { seededRandom } from '../../src/data/random.js';

export interface TinyDecoderOptions {
  vocab?: number;
  hidden?: number;
  heads?: number;
  layers?: number;
  /** MLP width. */
  ffn?: number;
  /** Longest position the rotary tables cover. */
  maxPositions?: number;
  dtype?: 'float16' | 'float32';
  seed?: number;
}

export interface TinyDecoder {
  model: Model;
  vocab: number;
  hidden: number;
  heads: number;
  headDim: number;
  layers: number;
  dtype: 'float16' | 'float32';
}

export function buildTinyDecoder(o: TinyDecoderOptions = {}): TinyDecoder {
  const V = o.vocab ?? 512, D = o.hidden ?? 64, H = o.heads ?? 4, L = o.layers ?? 2, F = o.ffn ?? D * 4, P = o.maxPositions ?? 1024;
  const dtype = o.dtype ?? 'float16';
  const Dh = D / H;
  const elem = dtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  const rand = seededRandom(o.seed ?? 7);
  const nodes: onnx.NodeProto[] = [];
  const inits: onnx.TensorProto[] = [];
  const float = (name: string, dims: number[], values: Float32Array): string => {
    inits.push(dtype === 'float16' ? makeTensor(name, dims, Uint16Array.from(values, floatToHalf), DataType.FLOAT16) : makeTensor(name, dims, values));
    return name;
  };
  const randn = (n: number, std: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (rand() + rand() + rand() + rand() - 2) * Math.sqrt(3) * std;
    return out;
  };
  const weight = (name: string, dims: number[], std: number) => float(name, dims, randn(dims[0]! * dims[1]!, std));
  const int64 = (name: string, values: number[]): string => {
    inits.push(makeTensor(name, [values.length], BigInt64Array.from(values.map(BigInt))));
    return name;
  };
  const scalar = (name: string, v: number) => float(name, [], Float32Array.of(v));
  let counter = 0;
  const node = (op: string, inputs: string[], attributes: onnx.AttributeProto[] = [], out?: string): string => {
    const name = out ?? `${op.toLowerCase()}_${counter++}`;
    nodes.push(makeNode(op, inputs, [name], { name: `n_${name}`, attributes }));
    return name;
  };

  const eps = scalar('rms_eps', 1e-5);
  const rmsNorm = (x: string, name: string): string => {
    const w = float(`${name}.weight`, [D], Float32Array.from(randn(D, 0.05), (v) => 1 + v));
    const ms = node('ReduceMean', [node('Mul', [x, x])], [intsAttr('axes', [-1]), intAttr('keepdims', 1)]);
    return node('Mul', [node('Div', [x, node('Sqrt', [node('Add', [ms, eps])])]), w]);
  };
  // Rotary tables, [P, Dh/2]: inv_freq = 10000^(-2i/Dh).
  const half = Dh / 2;
  const cos = new Float32Array(P * half), sin = new Float32Array(P * half);
  for (let p = 0; p < P; p++) for (let i = 0; i < half; i++) {
    const a = p * 10000 ** (-(2 * i) / Dh);
    cos[p * half + i] = Math.cos(a);
    sin[p * half + i] = Math.sin(a);
  }
  float('rotary.cos', [P, half], cos);
  float('rotary.sin', [P, half], sin);
  const cosP = node('Unsqueeze', [node('Gather', ['rotary.cos', 'position_ids'], [intAttr('axis', 0)]), int64('axis1', [1])]); // [B,1,S,half]
  const sinP = node('Unsqueeze', [node('Gather', ['rotary.sin', 'position_ids'], [intAttr('axis', 0)]), 'axis1']);
  const rotate = (x: string): string => {
    const x1 = node('Slice', [x, int64(`rot_lo_start_${counter}`, [0]), int64(`rot_lo_end_${counter}`, [half]), int64(`rot_axes_${counter}`, [-1])]);
    const x2 = node('Slice', [x, int64(`rot_hi_start_${counter}`, [half]), int64(`rot_hi_end_${counter}`, [Dh]), int64(`rot_axes2_${counter}`, [-1])]);
    const a = node('Sub', [node('Mul', [x1, cosP]), node('Mul', [x2, sinP])]);
    const b = node('Add', [node('Mul', [x2, cosP]), node('Mul', [x1, sinP])]);
    return node('Concat', [a, b], [intAttr('axis', -1)]);
  };

  // Additive attention bias [B, 1, S, T]: causal over absolute positions (query i sits at past + i) plus padding.
  const one64 = int64('one64', [1]);
  const zero64 = int64('zero64', [0]);
  const T = node('Gather', [node('Shape', ['attention_mask']), int64('idx1', [1])], [intAttr('axis', 0)]); // [1]
  const S = node('Gather', [node('Shape', ['input_ids']), 'idx1'], [intAttr('axis', 0)]);
  const Tscalar = node('Squeeze', [T, zero64]);
  const Sscalar = node('Squeeze', [S, zero64]);
  const past = node('Sub', [Tscalar, Sscalar]);
  const step = node('Squeeze', [one64, zero64]);
  const rows = node('Range', [past, Tscalar, step]); // [S]: the queries' absolute positions
  const cols = node('Range', [node('Squeeze', [zero64, zero64]), Tscalar, step]); // [T]: the keys'
  const allowed = node('LessOrEqual', [node('Unsqueeze', [cols, zero64]), node('Unsqueeze', [rows, one64])]); // [S, T]
  const maskValue = scalar('mask_value', -10000);
  const zero = scalar('zero', 0);
  const causal = node('Where', [allowed, zero, maskValue]);
  const padKeep = node('Cast', ['attention_mask'], [intAttr('to', elem)]); // [B, T]
  const padBias = node('Mul', [node('Sub', [scalar('one', 1), padKeep]), maskValue]);
  const bias = node('Add', [node('Unsqueeze', [causal, int64('axes01', [0, 1])]), node('Unsqueeze', [padBias, int64('axes12', [1, 2])])]);

  const scale = scalar('attn_scale', 1 / Math.sqrt(Dh));
  const splitShape = int64('split_shape', [0, 0, H, Dh]);
  const mergeShape = int64('merge_shape', [0, 0, D]);
  const std = 1 / Math.sqrt(D);
  let x = node('Gather', [weight('embed_tokens', [V, D], 1), 'input_ids'], [intAttr('axis', 0)]);
  const inputs = [
    tensorValueInfo('input_ids', DataType.INT64, ['batch_size', 'sequence_length']),
    tensorValueInfo('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length']),
    tensorValueInfo('position_ids', DataType.INT64, ['batch_size', 'sequence_length']),
  ];
  const outputs = [tensorValueInfo('logits', elem, ['batch_size', 'sequence_length', V])];
  for (let l = 0; l < L; l++) {
    const p = `layers.${l}`;
    const h = rmsNorm(x, `${p}.input_layernorm`);
    const heads = (t: string) => node('Transpose', [node('Reshape', [t, splitShape])], [intsAttr('perm', [0, 2, 1, 3])]);
    const q = rotate(heads(node('MatMul', [h, weight(`${p}.attn.q_proj`, [D, D], std)])));
    const k = rotate(heads(node('MatMul', [h, weight(`${p}.attn.k_proj`, [D, D], std)])));
    const v = heads(node('MatMul', [h, weight(`${p}.attn.v_proj`, [D, D], std)]));
    const pastK = `past_key_values.${l}.key`, pastV = `past_key_values.${l}.value`;
    for (const n of [pastK, pastV]) inputs.push(tensorValueInfo(n, elem, ['batch_size', H, 'past_sequence_length', Dh]));
    const presentK = node('Concat', [pastK, k], [intAttr('axis', 2)], `present.${l}.key`);
    const presentV = node('Concat', [pastV, v], [intAttr('axis', 2)], `present.${l}.value`);
    for (const n of [presentK, presentV]) outputs.push(tensorValueInfo(n, elem, ['batch_size', H, 'total_sequence_length', Dh]));
    const scores = node('Add', [node('Mul', [node('MatMul', [q, node('Transpose', [presentK], [intsAttr('perm', [0, 1, 3, 2])])]), scale]), bias]);
    const probs = node('Softmax', [scores], [intAttr('axis', -1)]);
    const ctx = node('Reshape', [node('Transpose', [node('MatMul', [probs, presentV])], [intsAttr('perm', [0, 2, 1, 3])]), mergeShape]);
    x = node('Add', [x, node('MatMul', [ctx, weight(`${p}.attn.o_proj`, [D, D], std / Math.sqrt(2 * L))])]);
    const m = rmsNorm(x, `${p}.post_attention_layernorm`);
    const gate = node('MatMul', [m, weight(`${p}.mlp.gate_proj`, [D, F], std)]);
    const up = node('MatMul', [m, weight(`${p}.mlp.up_proj`, [D, F], std)]);
    const act = node('Mul', [node('Mul', [gate, node('Sigmoid', [gate])]), up]);
    x = node('Add', [x, node('MatMul', [act, weight(`${p}.mlp.down_proj`, [F, D], (1 / Math.sqrt(F)) / Math.sqrt(2 * L))])]);
  }
  node('MatMul', [rmsNorm(x, 'norm'), weight('lm_head', [D, V], std * 4)], [], 'logits');
  const model = onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    producerName: 'modelgate-test',
    opsetImport: [{ domain: '', version: Long.fromNumber(17) }],
    graph: { name: 'tiny_llama', node: nodes, initializer: inits, input: inputs, output: outputs },
  });
  return { model, vocab: V, hidden: D, heads: H, headDim: Dh, layers: L, dtype };
}

/**
 * Writes the model with every initializer of at least `minBytes` in one side file `<name>.data`
 * (onnx's external-data layout: location, offset, length), as exporters do for large models.
 */
export function saveWithExternalData(model: Model, file: string, minBytes = 1024): { modelBytes: number; dataBytes: number } {
  const copy = onnx.ModelProto.decode(encodeModel(model));
  const location = `${path.basename(file)}.data`;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of copy.graph!.initializer ?? []) {
    const raw = t.rawData;
    if (!raw || raw.length < minBytes) continue;
    // 64-byte alignment, as onnx's writer can do, lets runtimes map tensors directly.
    const pad = (64 - (offset % 64)) % 64;
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    chunks.push(raw);
    t.externalData = [
      onnx.StringStringEntryProto.create({ key: 'location', value: location }),
      onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
      onnx.StringStringEntryProto.create({ key: 'length', value: String(raw.length) }),
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
    offset += raw.length;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const bytes = encodeModel(copy);
  writeFileSync(file, bytes);
  writeFileSync(path.join(path.dirname(file), location), Buffer.concat(chunks));
  return { modelBytes: bytes.length, dataBytes: offset };
}
