/**
 * matmul_nbits against onnxruntime: the packed layout is checked by ORT computing exactly A · dequant(B)
 * as we dequantize it ourselves; accuracy by the tiny decoder's logits against fp32/fp16.
 */
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { onnx, encodeModel, DataType, type Model } from '../../src/model/onnx.js';
import { floatToHalf, halfToFloat, makeTensor } from '../../src/model/tensor.js';
import { checkModel, getIntAttr, makeNode, tensorValueInfo } from '../../src/model/graph.js';
import { matmulNBitsPass, quantizeBlocks } from '../../src/passes/matmul-nbits.js';
import { validateRecipe } from '../../src/passes/registry.js';
import { OrtSession } from '../../src/runtime/session.js';
import { decoderQuality, floatValues } from '../../src/evaluate/decoder-quality.js';
import { decoderSignature } from '../../src/model/decoder.js';
import { buildTinyDecoder } from '../support/tiny-decoder.js';
import { randn, rng, sameBytes, testContext } from './fixtures.js';

function matMulModel(K: number, N: number, half: boolean, seed: number): { model: Model; w: Float32Array } {
  const w = randn(K * N, 0.5, rng(seed));
  const elem = half ? DataType.FLOAT16 : DataType.FLOAT;
  const init = half ? makeTensor('w', [K, N], Uint16Array.from(w, floatToHalf), DataType.FLOAT16) : makeTensor('w', [K, N], w);
  const model = onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(17) }],
    graph: {
      name: 'mm', node: [makeNode('MatMul', ['a', 'w'], ['y'], { name: 'mm' })], initializer: [init],
      input: [tensorValueInfo('a', elem, ['M', K])], output: [tensorValueInfo('y', elem, ['M', N])],
    },
  });
  return { model, w: half ? Float32Array.from(w, (v) => halfToFloat(floatToHalf(v))) : w };
}

/** Our own reading of the packed format: what ORT must compute if the layout is what we think. */
function dequantize(q: ReturnType<typeof quantizeBlocks>, K: number, N: number, bits: 4 | 8, blockSize: number): Float32Array {
  const out = new Float32Array(K * N);
  const zpRow = Math.ceil((q.kBlocks * bits) / 8);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) {
    const b = Math.floor(k / blockSize), i = k % blockSize;
    const byte = q.packed[(n * q.kBlocks + b) * q.blobSize + (bits === 8 ? i : i >> 1)]!;
    const code = bits === 8 ? byte : (byte >> ((i & 1) * 4)) & 15;
    const zp = q.zeroPoints ? (bits === 8 ? q.zeroPoints[n * zpRow + b]! : (q.zeroPoints[n * zpRow + (b >> 1)]! >> ((b & 1) * 4)) & 15) : 1 << (bits - 1);
    out[k * N + n] = (code - zp) * q.scales[n * q.kBlocks + b]!;
  }
  return out;
}

async function run(model: Model, feeds: Record<string, { type: 'float32' | 'float16'; dims: number[]; data: Float32Array | Uint16Array }>): Promise<Float32Array> {
  const s = await OrtSession.create(encodeModel(model));
  try {
    return floatValues((await s.run(feeds)).y!);
  } finally {
    await s.release();
  }
}

describe('matmul_nbits', () => {
  const M = 3;
  for (const [bits, blockSize, symmetric, K] of [[4, 32, true, 80], [4, 16, false, 64], [8, 32, true, 96], [8, 64, false, 72], [4, 128, false, 200]] as const) {
    it(`packs ${bits}-bit blocks of ${blockSize} (${symmetric ? 'symmetric' : 'zero points'}, K ${K}) as ORT reads them`, async () => {
      const N = 24;
      const { model, w } = matMulModel(K, N, false, K + bits);
      const q = await matmulNBitsPass.run(model, { bits, block_size: blockSize, symmetric, min_elements: 1 }, testContext(() => []));
      checkModel(q);
      const node = q.graph!.node![0]!;
      expect([node.opType, node.domain]).toEqual(['MatMulNBits', 'com.microsoft']);
      expect(['K', 'N', 'bits', 'block_size'].map((a) => getIntAttr(node, a, -1))).toEqual([K, N, bits, blockSize]);
      expect(node.input).toHaveLength(symmetric ? 3 : 4);
      const a = randn(M * K, 1, rng(3));
      const got = await run(q, { a: { type: 'float32', dims: [M, K], data: a } });
      const deq = dequantize(quantizeBlocks(w, K, N, bits, blockSize, symmetric), K, N, bits, blockSize);
      let worst = 0, scale = 0;
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        let ref = 0;
        for (let k = 0; k < K; k++) ref += a[m * K + k]! * deq[k * N + n]!;
        worst = Math.max(worst, Math.abs(ref - got[m * N + n]!));
        scale = Math.max(scale, Math.abs(ref));
      }
      expect(worst / scale).toBeLessThan(1e-4);
      // And the dequantized weight is close to the float one: codes are within half a step.
      let err = 0;
      for (let i = 0; i < w.length; i++) err = Math.max(err, Math.abs(w[i]! - deq[i]!));
      const range = Math.max(...w.map(Math.abs));
      expect(err / range).toBeLessThan(bits === 8 ? 0.01 : 0.15);
    });
  }

  it('fp16 weights: scales in float16, ORT runs the fp16 MatMulNBits close to the fp16 MatMul', async () => {
    const [K, N] = [64, 32];
    const { model } = matMulModel(K, N, true, 5);
    const q = await matmulNBitsPass.run(model, { bits: 8, min_elements: 1 }, testContext(() => []));
    const scales = q.graph!.initializer!.find((t) => t.name!.endsWith('_scales'))!;
    expect(scales.dataType).toBe(DataType.FLOAT16);
    const a = Uint16Array.from(randn(M * K, 1, rng(4)), floatToHalf);
    const feeds = { a: { type: 'float16' as const, dims: [M, K], data: a } };
    const ref = await run(model, feeds);
    const got = await run(q, feeds);
    const range = Math.max(...ref.map(Math.abs));
    for (let i = 0; i < ref.length; i++) expect(Math.abs(ref[i]! - got[i]!)).toBeLessThan(0.02 * range);
  });

  it('tiny decoder: int8 is very close and int4 within the measured SNR; sizes shrink; output repeats byte for byte', async () => {
    const d = buildTinyDecoder({ dtype: 'float32', hidden: 128, ffn: 384, vocab: 1024, layers: 2 });
    const ctx = testContext(() => []);
    const int4 = await matmulNBitsPass.run(d.model, {}, ctx);
    const int8 = await matmulNBitsPass.run(d.model, { bits: 8 }, ctx);
    expect(sameBytes(encodeModel(int4), encodeModel(await matmulNBitsPass.run(d.model, {}, ctx)))).toBe(true);
    // Every projection and the LM head (all ≥ 4096 elements); the embedding is a Gather and stays.
    expect(int4.graph!.node!.filter((n) => n.opType === 'MatMulNBits')).toHaveLength(2 * 7 + 1);
    // The replaced weights: 4 bits + one fp32 scale per 32 weights = 5/32 of their fp32 bytes (8 bits: 9/32).
    const initBytes = (m: Model, pick: (name: string) => boolean) =>
      m.graph!.initializer!.filter((t) => pick(t.name!)).reduce((s, t) => s + t.rawData!.length, 0);
    const projections = (name: string) => /_proj$|^lm_head$/.test(name);
    const packed = (name: string) => /_(Q4|Q8|scales)$/.test(name);
    expect(initBytes(int4, packed) / initBytes(d.model, projections)).toBeCloseTo(5 / 32, 6);
    expect(initBytes(int8, packed) / initBytes(d.model, projections)).toBeCloseTo(9 / 32, 6);
    // The whole file keeps the fp32 embedding and rotary tables (more than half of this small model).
    expect(encodeModel(int4).length / encodeModel(d.model).length).toBeLessThan(0.4);
    const sig = decoderSignature(d.model);
    const open = (m: Model, label: string) => OrtSession.create(encodeModel(m), {}, label);
    const [ref, s4, s8] = await Promise.all([open(d.model, 'fp32'), open(int4, 'int4'), open(int8, 'int8')]);
    const q4 = await decoderQuality(ref, s4, sig, { prompts: 4, promptLength: 16, decodeSteps: 3 });
    const q8 = await decoderQuality(ref, s8, sig, { prompts: 4, promptLength: 16, decodeSteps: 3 });
    expect(q8.positions).toBe(16);
    // Measured on this model (seeded, so they repeat): int8 43.2 dB, cosine 0.99998, 16/16 top-1; int4 19.0 dB, cosine 0.994, 14/16.
    expect(q8.snr_db).toBeGreaterThan(30);
    expect(q8.cosine).toBeGreaterThan(0.999);
    expect(q8.top1_agreement).toBeGreaterThanOrEqual(0.9);
    expect(q4.snr_db).toBeGreaterThan(16);
    expect(q4.snr_db).toBeLessThan(q8.snr_db);
    expect(q4.cosine).toBeGreaterThan(0.98);
    expect(q4.top1_agreement).toBeGreaterThanOrEqual(0.75);
    for (const s of [ref, s4, s8]) await s.release();
  });

  it('min_elements and nodes_exclude leave MatMuls float; a 3-D weight is skipped with a reason', async () => {
    const d = buildTinyDecoder({ dtype: 'float32' });
    const log: string[] = [];
    const q = await matmulNBitsPass.run(d.model, { min_elements: 64 * 256, nodes_exclude: ['n_logits'] }, testContext(() => [], log));
    // Only the MLP weights (64 x 256) qualify; the LM head is excluded by name.
    expect(q.graph!.node!.filter((n) => n.opType === 'MatMulNBits')).toHaveLength(2 * 3);
    expect(q.graph!.node!.find((n) => n.name === 'n_logits')!.opType).toBe('MatMul');
    const { model } = matMulModel(8, 8, false, 1);
    model.graph!.initializer![0] = makeTensor('w', [1, 8, 8], new Float32Array(64));
    const log3: string[] = [];
    await matmulNBitsPass.run(model, { min_elements: 1 }, testContext(() => [], log3));
    expect(log3.join('\n')).toContain(`'mm' (MatMul): weight 'w' is 3-D`);
    await expect(matmulNBitsPass.run(d.model, { nodes_exclude: ['lm_head'] }, testContext(() => []))).rejects.toThrow(
      "pass 'matmul_nbits': option 'nodes_exclude' names 'lm_head', which is not a node of the model",
    );
  });

  it('bad options name the key', () => {
    expect(() => validateRecipe([{ matmul_nbits: { bits: 3 } }])).toThrow(/passes\[0\] 'matmul_nbits': option 'bits' must be one of 4, 8 \(got 3\)/);
    expect(() => validateRecipe([{ matmul_nbits: { block_size: 48 } }])).toThrow(/option 'block_size' must be one of 16, 32, 64, 128/);
    expect(() => validateRecipe([{ matmul_nbits: { accuracy_level: 5 } }])).toThrow(/option 'accuracy_level'/);
    expect(() => validateRecipe([{ matmul_nbits: { blocksize: 32 } }])).toThrow(/unknown option 'blocksize'/);
    expect(() => validateRecipe([{ matmul_nbits: { min_elements: 0 } }])).toThrow(/option 'min_elements'/);
    expect(validateRecipe([{ matmul_nbits: { bits: 8, block_size: 128, symmetric: false, accuracy_level: 4 } }])[0]!.options.bits).toBe(8);
  });

  it('accuracy_level is written when given, and ORT runs level 4 (int8 activations) close to level 0', async () => {
    const d = buildTinyDecoder({ dtype: 'float32' });
    const q = await matmulNBitsPass.run(d.model, { accuracy_level: 4, min_elements: 1 }, testContext(() => []));
    expect(getIntAttr(q.graph!.node!.find((n) => n.opType === 'MatMulNBits')!, 'accuracy_level', -1)).toBe(4);
    const q0 = await matmulNBitsPass.run(d.model, { min_elements: 1 }, testContext(() => []));
    const sig = decoderSignature(d.model);
    const [a, b] = await Promise.all([OrtSession.create(encodeModel(q0)), OrtSession.create(encodeModel(q))]);
    const r = await decoderQuality(a, b, sig, { prompts: 2, promptLength: 8, decodeSteps: 1 });
    expect(r.cosine).toBeGreaterThan(0.99);
    await a.release();
    await b.release();
  });
});
