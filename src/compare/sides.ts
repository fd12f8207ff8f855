/**
 * The comparison step: two pipeline results (base and head, each from its own checkout) → the pairs
 * to compare, evaluated on the same data and measured interleaved, judged by the gate rules with base
 * as the baseline. It works on the typed results the stages returned; it reads no report.json and
 * loads no model file.
 */
import type { Config } from '../config/types.js';
import type { IoSpec } from '../model/io.js';
import type { Feeds } from '../model/host-tensor.js';
import { errorMessage } from '../errors.js';
import { REFERENCE_ID, type Candidate } from '../candidates/types.js';
import { benchmarkBatch } from '../candidates/reference.js';
import { evaluateCandidate, evaluateDecoderPair } from '../evaluate/evaluate-all.js';
import type { DecoderQuality } from '../evaluate/decoder-quality.js';
import { measureFidelity, type Fidelity } from '../evaluate/fidelity.js';
import type { EvalResult } from '../evaluate/metrics.js';
import { comparePair, measureRuns, type MeasureSubject } from '../benchmark/measure.js';
import type { LatencyStats, RepeatedComparison } from '../benchmark/runner.js';
import { decoderThresholds, latencyThreshold } from '../gate/rules.js';
import { centralDecoderLatency, compareDecoderPair, decoderMeasureSettings, measureDecoderRuns } from '../benchmark/decoder.js';
import { BOOTSTRAP_SEED } from '../benchmark/measure.js';
import type { DecoderSignature } from '../model/decoder.js';
import { buildPair } from './pair.js';
import type { CandidateResult } from '../gate/result.js';
import type { Dataset } from '../data/dataset.js';
import type { LatencyDelta, PairComparison, SideMetrics } from '../report/types.js';

/** What the comparison needs from one side's pipeline run. */
export interface Side {
  config: Config;
  inputs: IoSpec[];
  dataset: Dataset;
  results: CandidateResult[];
  selected: string | null;
  /** gzip size by candidate id, from that side's report. */
  gzip: ReadonlyMap<string, number>;
  /** Set when that side's model is a decoder (its pipeline judged it on generation). */
  decoder?: DecoderSignature;
}

export interface CompareSettings {
  /** Independent interleaved measurements; the median decides. */
  measurements: number;
  timeBudgetMs?: number;
  log: (message: string) => void;
}

interface Subject {
  key: string;
  side: 'base' | 'head';
  result: CandidateResult;
  quality?: EvalResult;
}

/** Whether feeds made for `head` fit `base`: same names, dtypes and shapes. */
export function sameInputs(base: IoSpec[], head: IoSpec[]): boolean {
  return base.length === head.length && base.every((b) => {
    const h = head.find((x) => x.name === b.name);
    return h !== undefined && h.dtype === b.dtype && h.dynamicBatch === b.dynamicBatch && h.shape.join(',') === b.shape.join(',');
  });
}

const sideMetrics = (s: Subject, gzip: ReadonlyMap<string, number>, quality: EvalResult | undefined, l: LatencyStats | undefined): SideMetrics => ({
  candidate: s.result.candidate.id,
  bytes: s.result.candidate.bytes,
  gzip_bytes: gzip.get(s.result.candidate.id) ?? null,
  accuracy: quality?.accuracy ?? null,
  mse: quality?.mse ?? null,
  ...(quality?.mae != null ? { mae: quality.mae } : {}),
  p50_ms: l?.p50_ms ?? null,
  p90_ms: l?.p90_ms ?? null,
  p99_ms: l?.p99_ms ?? null,
  throughput_items_per_s: l?.throughput_items_per_s ?? null,
  cold_start_ms: l?.cold_start_ms ?? null,
  peak_rss_bytes: l?.peak_rss_bytes ?? null,
  samples: l?.samples ?? null,
});

/** A base-vs-head comparison measured interleaved in this job, as the report keeps it (gated against `threshold`). */
const latencyDelta = (c: RepeatedComparison, threshold: number): LatencyDelta => ({
  ratio: c.ratio, ci95: c.ci95, verdict: c.verdict, threshold, method: c.resampling, gated: true, measurements: c.measurements, runs: c.runs,
  ...(c.control ? { control: c.control } : {}),
});

const usable = (r: CandidateResult | undefined): r is CandidateResult => r !== undefined && !r.error && !r.sameAsReference && r.candidate.file !== '';

/**
 * The reference pair (the repository's model on both sides) and, when both sides selected a candidate,
 * the selected pair; each evaluated on the head's data when the inputs allow, and measured base vs head interleaved.
 */
export async function compareSides(base: Side, head: Side, settings: CompareSettings, warnings: string[]): Promise<PairComparison[]> {
  const { config } = head;
  const { log } = settings;
  const subjects = new Map<string, Subject>();
  const subjectFor = (side: 'base' | 'head', s: Side, id: string): Subject | undefined => {
    const key = `${side}:${id}`;
    const known = subjects.get(key);
    if (known) return known;
    const result = s.results.find((r) => r.candidate.id === id);
    if (!usable(result)) return undefined;
    const subject: Subject = { key, side, result };
    subjects.set(key, subject);
    return subject;
  };
  const pairs: PairSubjects[] = [];
  const refBase = subjectFor('base', base, REFERENCE_ID);
  const refHead = subjectFor('head', head, REFERENCE_ID);
  if (!refBase || !refHead) throw new Error('compareSides: a side has no usable reference');
  pairs.push({ id: 'reference', base: refBase, head: refHead });
  if (base.selected && head.selected && !(base.selected === REFERENCE_ID && head.selected === REFERENCE_ID)) {
    const b = subjectFor('base', base, base.selected);
    const h = subjectFor('head', head, head.selected);
    if (b && h) pairs.push({ id: 'selected', base: b, head: h });
  }

  // Each base-side model is timed in a second worker too: its A/A control.
  const baselines = [...new Set(pairs.map((p) => p.base.key))];
  if (base.decoder && head.decoder) return compareDecoderSides(pairs, [...subjects.values()], baselines, base, head, settings);
  if (base.decoder || head.decoder) {
    warnings.push(`the ${head.decoder ? 'head' : 'base'} model is a decoder and the ${head.decoder ? 'base' : 'head'} model is not: compared on dataset rows and plain latency`);
  }

  // Same data for both sides when the inputs allow: the head's dataset, in the head's input layout.
  let sameData = sameInputs(base.inputs, head.inputs);
  const agreements = new Map<PairComparison['id'], number | null>();
  const fidelities = new Map<PairComparison['id'], Fidelity>();
  const threads = config.benchmark.threads;
  if (sameData) {
    try {
      for (const p of pairs) {
        log(`evaluate base ${p.base.result.candidate.id} and head ${p.head.result.candidate.id} on the head's ${head.dataset.count} samples`);
        const metricOptions = config.metric_options ? { metricOptions: config.metric_options } : {};
        p.base.quality ??= await evaluateCandidate(p.base.result.candidate, head.dataset, { metric: config.metric, threads, ...metricOptions });
        // Agreement belongs to the pair (head against its base counterpart), not to the head model.
        const q = await evaluateCandidate(p.head.result.candidate, head.dataset, { metric: config.metric, threads, ...metricOptions, reference: p.base.quality.predictions });
        p.head.quality ??= q;
        agreements.set(p.id, q.agreement);
        try {
          fidelities.set(p.id, await measureFidelity(p.base.result.candidate, p.head.result.candidate, head.dataset, { threads }));
        } catch (err) {
          log(`fidelity of head ${p.head.result.candidate.id} to base could not be measured: ${errorMessage(err)}`);
        }
      }
    } catch (err) {
      sameData = false;
      warnings.push(`the base model could not be evaluated on the head's dataset (${errorMessage(err)}): each side's accuracy is from its own pipeline run`);
    }
  } else {
    warnings.push("the base model's inputs differ from the head's: each side is evaluated on its own dataset and measured with its own inputs, and no agreement is computed");
  }

  const batch = config.benchmark.batch;
  const feedsOf = (s: Side, c: Candidate): Feeds => s.dataset.feedsForBatch(benchmarkBatch(c.batch, batch));
  const headFeeds = feedsOf(head, refHead.result.candidate);
  const baseFeeds = sameData ? undefined : feedsOf(base, refBase.result.candidate);
  const measured: MeasureSubject[] = [...subjects.values()].map((s) => ({
    id: s.key, file: s.result.candidate.file, runtimeKind: s.result.candidate.runtimeKind, runtimeOptions: s.result.candidate.runtimeOptions,
    ...(s.side === 'base' && baseFeeds ? { feeds: baseFeeds } : {}),
  }));
  const threshold = latencyThreshold(config.gate);
  const runs = await measureRuns(measured, headFeeds, {
    batch, threads, warmup: config.benchmark.warmup, minSamples: config.benchmark.runs, measurements: settings.measurements, controls: baselines, log: (m) => log(`base vs head: ${m}`),
    ...(settings.timeBudgetMs !== undefined ? { timeBudgetMs: settings.timeBudgetMs } : {}),
  });

  return pairs.map((p) => {
    const m = comparePair(runs, p.base.key, p.head.key, threshold);
    const latency = m ? latencyDelta(m.comparison, threshold) : null;
    const bq = sameData ? p.base.quality : p.base.result.quality;
    const hq = sameData ? p.head.quality : p.head.result.quality;
    return buildPair({
      id: p.id, base: sideMetrics(p.base, base.gzip, bq, m?.baseline), head: sideMetrics(p.head, head.gzip, hq, m?.candidate),
      agreement: sameData ? agreements.get(p.id) ?? null : null, sameData, latency, ...(sameData && fidelities.has(p.id) ? { fidelity: fidelities.get(p.id)! } : {}),
    }, config.gate, config.metric);
  });
}

type PairSubjects = { id: PairComparison['id']; base: Subject; head: Subject };

/**
 * Two decoders are compared as `run` judges a decoder: head against base on the same seeded prompts
 * (next-token agreement and logit fidelity, each model fed its own cache type), and time to first token
 * and per-token decode time measured interleaved, with the head config's benchmark settings and budgets.
 */
async function compareDecoderSides(pairs: PairSubjects[], subjects: Subject[], baselines: readonly string[], base: Side, head: Side, settings: CompareSettings): Promise<PairComparison[]> {
  const { config } = head;
  const { log } = settings;
  const threads = config.benchmark.threads;
  const quality = new Map<PairComparison['id'], DecoderQuality | null>();
  for (const p of pairs) {
    log(`evaluate head ${p.head.result.candidate.id} against base ${p.base.result.candidate.id}: next-token agreement on seeded prompts`);
    try {
      quality.set(p.id, await evaluateDecoderPair(p.base.result.candidate, p.head.result.candidate, { signature: base.decoder! }, threads));
    } catch (err) {
      log(`next-token quality of head ${p.head.result.candidate.id} against base could not be measured: ${errorMessage(err)}`);
      quality.set(p.id, null);
    }
  }
  const runs = await measureDecoderRuns(
    subjects.map((s) => ({ id: s.key, path: s.result.candidate.file, runtime: { ...s.result.candidate.runtimeOptions, intraOpThreads: threads } })),
    {
      ...decoderMeasureSettings(config.benchmark), measurements: settings.measurements, controls: baselines, log: (m) => log(`base vs head: ${m}`),
      ...(settings.timeBudgetMs !== undefined ? { timeBudgetMs: settings.timeBudgetMs } : {}),
    },
  );
  const thresholds = decoderThresholds(config.gate);
  return pairs.map((p) => {
    const m = compareDecoderPair(runs, p.base.key, p.head.key, thresholds, BOOTSTRAP_SEED);
    const baseLatency = centralDecoderLatency(runs, p.base.key);
    const headLatency = m?.latency ?? centralDecoderLatency(runs, p.head.key);
    return buildPair({
      id: p.id,
      base: { ...sideMetrics(p.base, base.gzip, p.base.result.quality, baseLatency?.prefill), decode_ms_per_token: baseLatency?.decode_ms_per_token ?? null },
      head: { ...sideMetrics(p.head, head.gzip, p.head.result.quality, headLatency?.prefill), decode_ms_per_token: headLatency?.decode_ms_per_token ?? null },
      agreement: quality.get(p.id)?.top1_agreement ?? null, sameData: true, latency: m ? latencyDelta(m.ttft, thresholds.ttft) : null,
      decoder: { decode: m ? latencyDelta(m.decode, thresholds.decode) : null, quality: quality.get(p.id) ?? null },
    }, config.gate, config.metric);
  });
}
