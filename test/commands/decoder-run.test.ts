/** A decoder through `run`: MatMulNBits int4/int8 candidates, judged on generation and on prefill/decode latency. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveModel } from '../../src/model/onnx.js';
import { runGate } from '../../src/commands/run.js';
import { checkReport } from '../../src/report/validate.js';
import { buildTinyDecoder } from '../support/tiny-decoder.js';

describe('decoder through the pipeline', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mg-decoder-run-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  // fp32, and fp16 as GPU-oriented exports ship it (fp16 weights, cache and logits).
  it.each(['float32', 'float16'] as const)('reports prefill and decode latency and next-token quality for the int4 and int8 candidates (%s)', async (dtype) => {
    const d = buildTinyDecoder({ dtype, layers: 1, vocab: 256 });
    const dir = path.join(root, dtype);
    saveModel(d.model, path.join(dir, 'decoder.onnx'));
    // The config cannot say an empty past (a 0 dimension) yet; the decoder path never feeds these shapes:
    // its prompts and caches are its own (src/model/decoder.ts).
    const kv = (l: number, kind: string) => `  past_key_values.${l}.${kind}: { shape: [1, ${d.heads}, 1, ${d.headDim}] }`;
    writeFileSync(path.join(dir, 'modelgate.yml'), [
      'model: decoder.onnx',
      'inputs:',
      '  input_ids: { shape: [1, 8] }',
      '  attention_mask: { shape: [1, 8] }',
      '  position_ids: { shape: [1, 8] }',
      kv(0, 'key'), kv(0, 'value'),
      'optimize:',
      '  - { name: int4, passes: [{ matmul_nbits: { bits: 4, min_elements: 1 } }] }',
      '  - { name: int8, passes: [{ matmul_nbits: { bits: 8, min_elements: 1 } }] }',
      'benchmark: { warmup: 2, runs: 6, measurements: 1, decoder: { prefill_tokens: 16 } }',
      'gate: { ttft_ratio_max: 50, decode_ratio_max: 50, accuracy_drop_max: 1 }',
    ].join('\n') + '\n');
    const r = await runGate({ configPath: path.join(dir, 'modelgate.yml'), outDir: path.join(dir, 'out') });
    expect(r.error).toBeUndefined();
    expect(checkReport(JSON.parse(JSON.stringify(r.report)))).not.toHaveProperty('errors');
    const [ref, int4, int8] = r.report.candidates;
    expect([ref!.id, int4!.id, int8!.id]).toEqual(['reference', 'int4', 'int8']);
    expect(ref!.decoder!.prefill_tokens).toBe(16);
    expect(ref!.decoder_quality).toBeUndefined();
    for (const c of [int4!, int8!]) {
      expect(c.error).toBeUndefined();
      expect(c.bytes).toBeLessThan(ref!.bytes);
      expect(c.decoder!.ttft_ms).toBeGreaterThan(0);
      expect(c.decoder!.decode_ms_per_token).toBeGreaterThan(0);
      expect(c.decoder!.ttft_ratio).toBeGreaterThan(0);
      expect(c.decoder!.decode_ratio_ci95![0]).toBeLessThanOrEqual(c.decoder!.decode_ratio_ci95![1]);
      expect(c.latency!.p50_ms).toBe(c.decoder!.ttft_ms);
      expect(c.decoder_quality!.positions).toBe(8 * 5);
      expect(c.decoder_quality!.cosine).toBeGreaterThan(0.9);
      expect(c.checks.map((k) => k.name)).toEqual(['accuracy_drop_max', 'ttft_ratio_max', 'decode_ratio_max']);
      expect(c.checks.every((k) => k.passed)).toBe(true);
    }
    // int8 keeps the logits closer than int4.
    expect(int8!.decoder_quality!.snr_db!).toBeGreaterThan(int4!.decoder_quality!.snr_db!);
    expect(r.report.gate!.budgets!.map((b) => `${b.name}:${b.source}`)).toEqual(['accuracy_drop_max:config', 'fidelity_min_snr_db:default', 'ttft_ratio_max:config', 'decode_ratio_max:config']);
    expect(r.markdown).toContain('| candidate | time to first token | per token | tokens/s | next-token agreement | logit SNR |');
    expect(r.markdown).toMatch(/\| int4 \| [\d.]+ ms \([\d.]+×, [\d.]+–[\d.]+\) \|/);
    expect(r.exitCode).toBe(0);
  }, 180_000);

  it('auto tries int4 and int8 MatMulNBits on a decoder, judged on next-token agreement and decoder latency', async () => {
    const d = buildTinyDecoder({ dtype: 'float32', layers: 1, vocab: 256 });
    const sub = path.join(root, 'auto');
    saveModel(d.model, path.join(sub, 'decoder.onnx'));
    const kv = (l: number, kind: string) => `  past_key_values.${l}.${kind}: { shape: [1, ${d.heads}, 1, ${d.headDim}] }`;
    writeFileSync(path.join(sub, 'modelgate.yml'), [
      'model: decoder.onnx',
      'inputs:',
      '  input_ids: { shape: [1, 8] }',
      '  attention_mask: { shape: [1, 8] }',
      '  position_ids: { shape: [1, 8] }',
      kv(0, 'key'), kv(0, 'value'),
      'optimize:',
      '  - { name: auto, auto: { time_budget_s: 25, recipes: [int4_weight_only, int8_weight_only], latency_ratio_max: 50, accuracy_drop_max: 0.5 } }',
      'benchmark: { warmup: 2, runs: 6, measurements: 1, decoder: { prefill_tokens: 16 } }',
      'gate: { ttft_ratio_max: 50, decode_ratio_max: 50, accuracy_drop_max: 0.5 }',
    ].join('\n') + '\n');
    const r = await runGate({ configPath: path.join(sub, 'modelgate.yml'), outDir: path.join(sub, 'out') });
    expect(r.error).toBeUndefined();
    const c = r.report.candidates.find((x) => x.id === 'auto')!;
    const auto = c.auto!;
    expect(auto.quality_basis).toBe('agreement');
    const base = auto.tried.filter((t) => t.stage === 'base');
    expect(base.map((t) => t.id).sort()).toEqual(['int4_weight_only', 'int8_weight_only']);
    for (const t of base) {
      expect(t.agreement).toBeGreaterThan(0.5);
      expect(t.latency_ratio).toBeGreaterThan(0);
      expect(t.size_ratio).toBeLessThan(0.6);
    }
    expect(auto.winner).not.toBe('reference');
    expect(c.recipe).toEqual(auto.recipe);
    expect(c.decoder!.ttft_ratio).toBeGreaterThan(0);
    expect(c.decoder_quality!.top1_agreement).toBeGreaterThan(0.5);
  }, 240_000);
});
