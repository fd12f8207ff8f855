/**
 * Decoder latency, as users of a language model feel it: time to first token (a prefill of N prompt tokens
 * into an empty cache) and the time of each further token (one input token against a KV cache of N), with
 * tokens/s derived from the latter. Both are measured with the interleaved worker protocol of runner.ts,
 * each model with its own feeds: the decode-step cache is what that same model returned for the prompt,
 * so a candidate with another cache type (or other cache values) is measured on its own cache.
 */
import type { Config } from '../config/types.js';
import { loadModel } from '../model/onnx.js';
import { decoderFeeds, decoderSignature, presentAsPast, seededPrompt, type DecoderSignature } from '../model/decoder.js';
import type { Feeds } from '../model/host-tensor.js';
import { OrtSession, type RuntimeOptions } from '../runtime/session.js';
import { seededRandom } from '../data/random.js';
import { combineComparisons, compareLatency, controlId, controlRatio, measureInterleaved, withControls, type LatencyComparison, type LatencyStats, type MeasureOptions, type ProgressListener, type RepeatedComparison } from './runner.js';

/** The prefill of the decoder latency when benchmark.decoder.prefill_tokens is not set (the schema's default). */
export const DEFAULT_PREFILL_TOKENS = 128;

/** The measurement settings of a config's `benchmark:` section, for decoders (run and compare use the same). */
export function decoderMeasureSettings(benchmark: Config['benchmark']): Pick<DecoderLatencyOptions, 'prefillTokens' | 'warmupMin' | 'minSamples'> {
  return { prefillTokens: benchmark.decoder?.prefill_tokens ?? DEFAULT_PREFILL_TOKENS, warmupMin: benchmark.warmup, minSamples: benchmark.runs };
}

export interface DecoderBenchmarkModel {
  id: string;
  path: string;
  runtime: RuntimeOptions;
}

export interface DecoderLatencyOptions extends Omit<MeasureOptions, 'batch'> {
  /** Prompt tokens of the prefill, and the cache length of the decode step; 128 by default. */
  prefillTokens?: number;
  /** Seeds the prompt's token ids. */
  seed?: number;
}

export interface DecoderLatency {
  prefill_tokens: number;
  /** p50 of the prefill run: time to first token, ms. */
  ttft_ms: number;
  /** p50 of one decode step with a cache of prefill_tokens, ms. */
  decode_ms_per_token: number;
  /** 1000 / decode_ms_per_token. */
  tokens_per_s: number;
  prefill: LatencyStats;
  decode: LatencyStats;
}

export interface DecoderFeedsPair {
  prefill: Feeds;
  decode: Feeds;
  signature: DecoderSignature;
}

/**
 * The prefill feeds (the prompt, empty cache) and the decode-step feeds (one more token, the cache this
 * model returned for the prompt) of one decoder file.
 */
export async function buildDecoderFeeds(model: DecoderBenchmarkModel, prompt: readonly number[]): Promise<DecoderFeedsPair> {
  const signature = decoderSignature(loadModel(model.path, { inlineExternalData: false }), model.path);
  const prefill = decoderFeeds(signature, prompt, 0, null);
  const session = await OrtSession.create(model.path, model.runtime, model.id);
  try {
    const out = await session.run(prefill);
    const next = [prompt[prompt.length - 1]!];
    const decode = decoderFeeds(signature, next, prompt.length, presentAsPast(signature, out, model.path));
    return { prefill, decode, signature };
  } finally {
    await session.release();
  }
}

/** Prefill and decode latency of each decoder, interleaved between the models; results by id. */
export async function measureDecoderLatency(
  models: DecoderBenchmarkModel[],
  options: DecoderLatencyOptions = {},
  onProgress?: ProgressListener,
): Promise<Map<string, DecoderLatency>> {
  const n = options.prefillTokens ?? 128;
  const { prefillTokens: _n, seed, ...measure } = options;
  // The same prompt for every model; ids below the smallest declared vocabulary (or 100) are valid for all.
  const vocabs = models.map((m) => decoderSignature(loadModel(m.path, { inlineExternalData: false }), m.path).vocab ?? 100);
  const prompt = seededPrompt(seededRandom(seed ?? 1), n, Math.min(...vocabs));
  const feeds = new Map<string, DecoderFeedsPair>();
  for (const m of models) feeds.set(m.id, await buildDecoderFeeds(m, prompt));
  const run = (phase: 'prefill' | 'decode') =>
    measureInterleaved(
      models.map((m) => ({ id: m.id, path: m.path, runtime: m.runtime, feeds: feeds.get(m.id)![phase] })),
      {},
      { ...measure, batch: 1 },
      onProgress,
    );
  const prefill = await run('prefill');
  const decode = await run('decode');
  const out = new Map<string, DecoderLatency>();
  for (const m of models) {
    const p = prefill.get(m.id)!, d = decode.get(m.id)!;
    out.set(m.id, {
      prefill_tokens: n, ttft_ms: p.p50_ms, decode_ms_per_token: d.p50_ms, tokens_per_s: d.p50_ms > 0 ? 1000 / d.p50_ms : 0, prefill: p, decode: d,
    });
  }
  return out;
}

export interface DecoderLatencyComparison {
  ttft: LatencyComparison;
  decode: LatencyComparison;
}

/** Candidate against reference from the same measureDecoderLatency call: one ratio (with bootstrap CI) per phase. */
/** `threshold` as compareLatency takes it: the ratio (≥ 1) above which a slowdown counts. */
export function compareDecoderLatency(ref: DecoderLatency, cand: DecoderLatency, threshold: number, seed: number): DecoderLatencyComparison {
  return { ttft: compareLatency(ref.prefill, cand.prefill, threshold, seed), decode: compareLatency(ref.decode, cand.decode, threshold, seed + 1) };
}

/** What a report keeps of a decoder measurement (candidates[].decoder): the p50s, and the ratios against the reference. */
export interface DecoderLatencySummary {
  prefill_tokens: number;
  ttft_ms: number;
  decode_ms_per_token: number;
  tokens_per_s: number;
  ttft_ratio?: number;
  ttft_ratio_ci95?: [number, number];
  decode_ratio?: number;
  decode_ratio_ci95?: [number, number];
}

export function summarizeDecoderLatency(lat: DecoderLatency, vsReference?: DecoderLatencyComparison): DecoderLatencySummary {
  const out: DecoderLatencySummary = {
    prefill_tokens: lat.prefill_tokens, ttft_ms: lat.ttft_ms, decode_ms_per_token: lat.decode_ms_per_token, tokens_per_s: lat.tokens_per_s,
  };
  if (vsReference) {
    Object.assign(out, {
      ttft_ratio: vsReference.ttft.ratio, ttft_ratio_ci95: vsReference.ttft.ci95, decode_ratio: vsReference.decode.ratio, decode_ratio_ci95: vsReference.decode.ci95,
    });
  }
  return out;
}

/** One measureDecoderLatency per measurement (fresh workers each), as measureRuns does for the plain latency. */
export async function measureDecoderRuns(
  models: DecoderBenchmarkModel[], options: DecoderLatencyOptions & { measurements: number; controls?: readonly string[]; log?: (m: string) => void },
): Promise<Array<Map<string, DecoderLatency>>> {
  const { measurements, controls, log, ...rest } = options;
  models = withControls(models, controls, measurements);
  const runs: Array<Map<string, DecoderLatency>> = [];
  for (let k = 0; k < measurements; k++) {
    log?.(`benchmark ${models.length} decoders interleaved: prefill of ${rest.prefillTokens ?? 128} tokens and one decode step${measurements > 1 ? `; measurement ${k + 1} of ${measurements}` : ''}`);
    runs.push(await measureDecoderLatency(models, rest, (m: string) => log?.(m)));
  }
  return runs;
}

export interface DecoderPairMeasurement {
  /** The candidate's measurement from the run whose decode ratio is the median. */
  latency: DecoderLatency;
  ttft: RepeatedComparison;
  decode: RepeatedComparison;
}

/** `candidateId` against `baselineId`, each phase the median of the runs (see combineComparisons). */
export function compareDecoderPair(
  runs: ReadonlyArray<Map<string, DecoderLatency>>, baselineId: string, candidateId: string, thresholds: { ttft: number; decode: number }, seed: number,
): DecoderPairMeasurement | undefined {
  const each = runs.flatMap((m, k) => {
    const b = m.get(baselineId), c = m.get(candidateId), a = m.get(controlId(baselineId));
    return b && c ? [{
      c, ttft: compareLatency(b.prefill, c.prefill, thresholds.ttft, seed + 2 * k), decode: compareLatency(b.decode, c.decode, thresholds.decode, seed + 2 * k + 1),
      control: a ? { ttft: controlRatio(b.prefill, a.prefill), decode: controlRatio(b.decode, a.decode) } : undefined,
    }] : [];
  });
  if (each.length === 0) return undefined;
  const controlled = each.every((e) => e.control);
  const ttft = combineComparisons(each.map((e) => e.ttft), thresholds.ttft, controlled ? each.map((e) => e.control!.ttft) : undefined);
  const decode = combineComparisons(each.map((e) => e.decode), thresholds.decode, controlled ? each.map((e) => e.control!.decode) : undefined);
  return { latency: each[decode.central]!.c, ttft, decode };
}

/** A model's own decoder latency across runs: the run with the median decode p50. */
export function centralDecoderLatency(runs: ReadonlyArray<Map<string, DecoderLatency>>, id: string): DecoderLatency | undefined {
  const all = runs.flatMap((m) => (m.has(id) ? [m.get(id)!] : []));
  const order = all.map((s, i) => [s.decode_ms_per_token, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return order.length ? all[order[(order.length - 1) >> 1]![1]] : undefined;
}
