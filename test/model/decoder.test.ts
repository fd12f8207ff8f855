/** The decoder layout: recognising it, its feeds, and the tiny GenAI-style Llama running in onnxruntime-node. */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeModel, loadModel, saveModel, DataType } from '../../src/model/onnx.js';
import { decoderFeeds, decoderSignature, isDecoderModel, presentAsPast } from '../../src/model/decoder.js';
import { OrtSession } from '../../src/runtime/session.js';
import { decoderQuality, floatValues, lastLogits, logitFidelity } from '../../src/evaluate/decoder-quality.js';
import { runRecipe } from '../../src/passes/registry.js';
import { buildTinyDecoder, saveWithExternalData } from '../support/tiny-decoder.js';
import { buildMlp, testContext } from '../passes/fixtures.js';

describe('decoder models', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-decoder-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('recognises the layout and reads layers, heads, head size, cache type and vocabulary', () => {
    const d = buildTinyDecoder({ dtype: 'float16', layers: 3, heads: 2, hidden: 32, vocab: 300 });
    expect(isDecoderModel(d.model)).toBe(true);
    expect(isDecoderModel(buildMlp())).toBe(false);
    expect(decoderSignature(d.model)).toEqual({ layers: 3, kvHeads: 2, headDim: 16, kvType: 'float16', hasPositionIds: true, vocab: 300 });
    const broken = buildTinyDecoder({ layers: 2 }).model;
    broken.graph!.input = broken.graph!.input!.filter((i) => i.name !== 'past_key_values.1.value');
    expect(() => decoderSignature(broken, 'llm.onnx')).toThrow('llm.onnx: decoder input past_key_values.1.value is missing');
    expect(() => decoderSignature(buildMlp(), 'mlp.onnx')).toThrow(/mlp.onnx: not a decoder model/);
  });

  it('fp16 weights in external data: runs with an empty past, and a decode step on the returned cache matches the full prefill', async () => {
    const d = buildTinyDecoder({ dtype: 'float16' });
    const file = path.join(dir, 'model.onnx');
    const { modelBytes, dataBytes } = saveWithExternalData(d.model, file);
    expect(statSync(`${file}.data`).size).toBe(dataBytes);
    expect(modelBytes).toBeLessThan(dataBytes / 10);
    // Our loader resolves the side file, weight for weight.
    expect(encodeModel(loadModel(file)).length).toBeGreaterThan(dataBytes);
    const sig = decoderSignature(loadModel(file, { inlineExternalData: false }));
    const s = await OrtSession.create(file, {}, 'tiny');
    const tokens = [3, 14, 15, 92, 65, 35];
    const full = await s.run(decoderFeeds(sig, tokens, 0, null));
    expect(full.logits!.type).toBe('float16');
    expect(full.logits!.dims).toEqual([1, 6, 512]);
    expect(full['present.1.value']!.dims).toEqual([1, 4, 6, 16]);
    // Prefill 5, then decode the 6th against the cache: the same next-token logits as prefilling all 6.
    const head = await s.run(decoderFeeds(sig, tokens.slice(0, 5), 0, null));
    const step = await s.run(decoderFeeds(sig, tokens.slice(5), 5, presentAsPast(sig, head)));
    expect(step['present.0.key']!.dims).toEqual([1, 4, 6, 16]);
    const f = logitFidelity(lastLogits(full, 'full'), lastLogits(step, 'step'));
    expect(f.cosine).toBeGreaterThan(0.9999);
    expect(f.snr_db).toBeGreaterThan(40);
    // The causal mask holds: the first position's logits do not depend on later tokens.
    const other = await s.run(decoderFeeds(sig, [3, 1, 2, 4, 5, 6], 0, null));
    const first = (t: typeof full) => floatValues(t.logits!).subarray(0, 512);
    expect(Array.from(first(other))).toEqual(Array.from(first(full)));
    await s.release();
  });

  it('a masked-out position changes nothing for the others', async () => {
    const d = buildTinyDecoder({ dtype: 'float32' });
    const sig = decoderSignature(d.model);
    const s = await OrtSession.create(encodeModel(d.model));
    const feeds = decoderFeeds(sig, [7, 8, 9], 0, null);
    const base = lastLogits(await s.run(feeds), 'base');
    (feeds.attention_mask!.data as BigInt64Array)[1] = 0n;
    const masked = lastLogits(await s.run(feeds), 'masked');
    expect(logitFidelity(base, masked).snr_db).toBeLessThan(60);
    feeds.input_ids = { ...feeds.input_ids!, data: BigInt64Array.of(7n, 500n, 9n) };
    expect(Array.from(lastLogits(await s.run(feeds), 'masked2'))).toEqual(Array.from(masked));
    expect(d.model.graph!.output![0]!.type!.tensorType!.elemType).toBe(DataType.FLOAT);
    await s.release();
  });
});

describe('decoder candidates from an fp16 export', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-decoder-cands-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('load (external data) → fp32 / int4 / int8 recipes → saved files that ORT runs on the reference feeds, within their fidelity', async () => {
    const d = buildTinyDecoder({ dtype: 'float16', hidden: 128, ffn: 384, vocab: 1024 });
    const ref = path.join(dir, 'model.onnx');
    saveWithExternalData(d.model, ref);
    const loaded = loadModel(ref);
    const sig = decoderSignature(loaded, ref);
    const refSession = await OrtSession.create(ref, {}, 'fp16');
    const results: Record<string, Awaited<ReturnType<typeof decoderQuality>>> = {};
    for (const [id, passes] of [
      ['fp32', [{ fp32: {} }]],
      ['int8', [{ matmul_nbits: { bits: 8 } }]],
      ['int4', [{ fp32: {} }, { matmul_nbits: { bits: 4, accuracy_level: 4 } }]],
    ] as const) {
      const { model } = await runRecipe(loaded, passes, testContext(() => []));
      const file = path.join(dir, `${id}.onnx`);
      saveModel(model, file);
      const s = await OrtSession.create(file, {}, id);
      results[id] = await decoderQuality(refSession, s, sig, { prompts: 3, promptLength: 16, decodeSteps: 2 });
      await s.release();
    }
    await refSession.release();
    // Measured (seeded): fp32 72 dB; int8 43 dB, 9/9 top-1; int4 19 dB, cosine 0.994.
    expect(results.fp32!.snr_db).toBeGreaterThan(40);
    expect(results.int8!.snr_db).toBeGreaterThan(30);
    expect(results.int8!.top1_agreement).toBe(1);
    expect(results.int4!.snr_db).toBeGreaterThan(14);
    expect(results.int4!.cosine).toBeGreaterThan(0.98);
  });
});
