/** Decoder latency: prefill and decode-step feeds per model, measured interleaved in workers. */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveModel } from '../../src/model/onnx.js';
import { buildDecoderFeeds, compareDecoderLatency, compareDecoderPair, measureDecoderLatency, measureDecoderRuns, summarizeDecoderLatency } from '../../src/benchmark/decoder.js';
import { controlId } from '../../src/benchmark/runner.js';
import { quantizeMatMulNBits } from '../../src/passes/matmul-nbits.js';
import { buildTinyDecoder, saveWithExternalData } from '../support/tiny-decoder.js';
import { tempDir } from './fixtures.js';

describe('decoder latency', () => {
  const tmp = tempDir('mg-decoder-bench-');
  afterAll(tmp.cleanup);

  it('the decode step reads the cache its own model returned for the prompt', async () => {
    const d = buildTinyDecoder({ dtype: 'float16' });
    const file = path.join(tmp.dir, 'fp16.onnx');
    saveWithExternalData(d.model, file);
    const prompt = Array.from({ length: 20 }, (_, i) => i + 1);
    const f = await buildDecoderFeeds({ id: 'fp16', path: file, runtime: {} }, prompt);
    expect(f.prefill.input_ids!.dims).toEqual([1, 20]);
    expect(f.prefill['past_key_values.0.key']!.dims).toEqual([1, 4, 0, 16]);
    expect(f.decode.input_ids!.dims).toEqual([1, 1]);
    expect(f.decode.attention_mask!.dims).toEqual([1, 21]);
    expect(Array.from(f.decode.position_ids!.data as BigInt64Array)).toEqual([20n]);
    expect(f.decode['past_key_values.1.value']!.dims).toEqual([1, 4, 20, 16]);
    expect(f.decode['past_key_values.1.value']!.type).toBe('float16');
  });

  it('measures TTFT and ms/token for each model in the same interleaved run', async () => {
    const d = buildTinyDecoder({ dtype: 'float32' });
    const ref = path.join(tmp.dir, 'fp32.onnx');
    const cand = path.join(tmp.dir, 'int4.onnx');
    saveModel(d.model, ref);
    saveModel(await quantizeMatMulNBits(d.model, { min_elements: 1 }, { calibration: async () => [], log: () => {} }), cand);
    const out = await measureDecoderLatency(
      [{ id: 'fp32', path: ref, runtime: {} }, { id: 'int4', path: cand, runtime: {} }],
      { prefillTokens: 16, warmupMin: 2, ciWidth: 1e9, minSamples: 6, rounds: { burst: 3, min: 2 }, timeBudgetMs: 30_000 },
    );
    expect([...out.keys()]).toEqual(['fp32', 'int4']);
    for (const r of out.values()) {
      expect(r.prefill_tokens).toBe(16);
      expect(r.ttft_ms).toBe(r.prefill.p50_ms);
      expect(r.decode_ms_per_token).toBe(r.decode.p50_ms);
      expect(r.tokens_per_s).toBeCloseTo(1000 / r.decode.p50_ms, 9);
      expect(r.prefill.samples).toBe(6);
      expect(r.decode.samples).toBe(6);
      expect(r.prefill.rounds).toBe(r.decode.rounds);
    }
    const c = compareDecoderLatency(out.get('fp32')!, out.get('int4')!, 1.05, 1);
    expect(c.ttft.resampling).toBe('paired rounds');
    expect(c.decode.ratio).toBeCloseTo(out.get('int4')!.decode_ms_per_token / out.get('fp32')!.decode_ms_per_token, 9);
    const summary = summarizeDecoderLatency(out.get('int4')!, c);
    expect(Object.keys(summary)).toEqual(['prefill_tokens', 'ttft_ms', 'decode_ms_per_token', 'tokens_per_s', 'ttft_ratio', 'ttft_ratio_ci95', 'decode_ratio', 'decode_ratio_ci95']);
    expect(summary.ttft_ratio_ci95).toEqual(c.ttft.ci95);
    expect(Object.keys(summarizeDecoderLatency(out.get('fp32')!))).toHaveLength(4);
  }, 120_000);

  it('times the baseline decoder in a second worker in each measurement (A/A control), for both phases', async () => {
    const d = buildTinyDecoder({ dtype: 'float32' });
    const ref = path.join(tmp.dir, 'aa-ref.onnx');
    const cand = path.join(tmp.dir, 'aa-cand.onnx');
    saveModel(d.model, ref);
    saveModel(d.model, cand);
    const runs = await measureDecoderRuns(
      [{ id: 'reference', path: ref, runtime: {} }, { id: 'cand', path: cand, runtime: {} }],
      { prefillTokens: 8, warmupMin: 2, ciWidth: 1e9, minSamples: 6, rounds: { burst: 3, min: 2 }, timeBudgetMs: 10_000, measurements: 2, controls: ['reference'] },
    );
    for (const r of runs) expect([...r.keys()]).toEqual(['reference', controlId('reference'), 'cand']);
    const pair = compareDecoderPair(runs, 'reference', 'cand', { ttft: 1.05, decode: 1.05 }, 1)!;
    for (const phase of [pair.ttft, pair.decode]) {
      expect(phase.control!.ratios).toHaveLength(2);
      expect(phase.ci95[0]).toBeLessThanOrEqual(phase.ratio);
      expect(phase.ci95[1]).toBeGreaterThanOrEqual(phase.ratio);
    }
  }, 120_000);
});
