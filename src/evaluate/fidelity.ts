/**
 * Numerical fidelity of a candidate against its reference, on every output: cosine similarity, signal-to-
 * noise ratio in dB (the reference as the signal) and the largest absolute difference, with the worst
 * output named. It is the quality figure for outputs where top-1 agreement means nothing: a single value
 * (a probability, a regression) has no class to agree on, and top-1 over a dense map's pixels flips
 * between near-equal pixels for a change that is numerically lossless. A probability output (a Sigmoid's
 * or a Softmax's, src/model/squashed.ts) is measured in the logit domain as well: see squashedFigures.
 *
 * Both models run on the same first samples; only running sums are kept, so memory does not grow with
 * the sample count or the output size.
 */
import { statSync } from 'node:fs';
import type { Candidate } from '../candidates/types.js';
import type { Dataset } from '../data/dataset.js';
import type { HostTensor } from '../model/host-tensor.js';
import { halfToFloat } from '../model/tensor.js';
import { openSession, type ModelSession } from '../runtime/kind.js';
import { ModelGateError } from '../errors.js';
import { loadModel, type Model } from '../model/onnx.js';
import { discreteOutputs } from '../model/discrete.js';
import { squashedOutputs, type Squash } from '../model/squashed.js';
import { EVAL_BATCH, firstSamples } from './samples.js';

/** Samples the fidelity pass runs by default: enough for a stable SNR, few enough to stay a small share of evaluation. */
export const FIDELITY_SAMPLES = 64;

/** A tensor's values as floats (ORT hands float16 back as raw bits). */
export function floatValues(t: HostTensor): Float32Array {
  if (t.type === 'float16') return Float32Array.from(t.data as Uint16Array, halfToFloat);
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) return Float32Array.from(t.data, Number);
  return Float32Array.from(t.data as ArrayLike<number>);
}

export interface RowFidelity {
  /** Mean over compared rows of the cosine similarity of the two value vectors. */
  cosine: number;
  /** 10·log10(Σ ref² / Σ (ref − cand)²) over every compared value; Infinity when identical. */
  snr_db: number;
  /** Largest |ref − cand| over every compared value. */
  max_abs_error: number;
  /** Share of rows whose largest value sits at the same index, 0..1 (meaningful only for class scores). */
  top1_agreement: number;
  /** Share of compared values equal to the reference's, 0..1. */
  exact_match: number;
}

/** Accumulates fidelity over rows (one row: one sample's values of one output, or one logit vector). */
export class FidelityAccumulator {
  private signal = 0;
  private noise = 0;
  private cosSum = 0;
  private agree = 0;
  private maxAbs = 0;
  private equal = 0;
  private values = 0;
  rows = 0;

  add(ref: ArrayLike<number>, cand: ArrayLike<number>, label = 'fidelity'): void {
    if (ref.length !== cand.length) throw new ModelGateError(`${label}: ${ref.length} reference values against ${cand.length} candidate values`);
    let dot = 0, rr = 0, cc = 0, noise = 0, ra = 0, ca = 0, maxAbs = this.maxAbs, equal = 0;
    for (let i = 0; i < ref.length; i++) {
      const r = ref[i]!, c = cand[i]!;
      const d = r - c;
      if (r === c || (Number.isNaN(r) && Number.isNaN(c))) equal++;
      dot += r * c;
      rr += r * r;
      cc += c * c;
      noise += d * d;
      // NaN on one side only is an infinite error; NaN on both is the same value.
      const abs = Number.isNaN(d) ? (Number.isNaN(r) && Number.isNaN(c) ? 0 : Infinity) : Math.abs(d);
      if (abs > maxAbs) maxAbs = abs;
      if (r > ref[ra]!) ra = i;
      if (c > cand[ca]!) ca = i;
    }
    this.signal += rr;
    this.noise += noise;
    this.maxAbs = maxAbs;
    this.equal += equal;
    this.values += ref.length;
    this.cosSum += rr > 0 && cc > 0 ? dot / Math.sqrt(rr * cc) : rr === cc ? 1 : 0;
    if (ra === ca) this.agree++;
    this.rows++;
  }

  result(): RowFidelity {
    return {
      cosine: this.rows ? this.cosSum / this.rows : NaN,
      snr_db: this.noise === 0 ? Infinity : this.signal === 0 ? -Infinity : 10 * Math.log10(this.signal / this.noise),
      max_abs_error: this.maxAbs,
      top1_agreement: this.rows ? this.agree / this.rows : NaN,
      exact_match: this.values ? this.equal / this.values : NaN,
    };
  }
}

export interface OutputFidelity {
  name: string;
  cosine: number;
  /** Infinity when the outputs are identical (report.json writes null). */
  snr_db: number;
  max_abs_error: number;
  /**
   * Set when the output is discrete: an integer or boolean tensor, or a float one computed through a
   * decision on computed values (an index, a comparison such as a peak mask, a rounding; see
   * src/model/discrete.ts). Such an output jumps when a near-tie breaks the other way, so its SNR says
   * how many ties broke, not how close the model is: it is reported with `exact_match` (share of values
   * equal to the reference's) and is not the one the gate reads while a continuous output exists.
   */
  discrete?: true;
  /** Share of this output's values equal to the reference's, 0..1; given for discrete outputs. */
  exact_match?: number;
  /**
   * What `snr_db` and `cosine` were measured on: the output's values (`output`), or their logits
   * (`logit`) for an output squashed by a Sigmoid or a Softmax (src/model/squashed.ts). See squashedFigures.
   */
  domain: FidelityDomain;
  /** For a squashed output: the op that squashed it. */
  squash?: Squash['op'];
  /** For a squashed output: the SNR on the output's values (the probabilities) and on their logits. */
  output_snr_db?: number;
  logit_snr_db?: number;
}

export type FidelityDomain = 'output' | 'logit';

export interface Fidelity {
  /** Samples both models ran. */
  samples: number;
  /**
   * The output with the lowest SNR (ties: the lowest cosine, then the first) among the continuous ones;
   * among all outputs when every output is discrete.
   */
  worst_output: string;
  /** The worst output's figures: the ones the gate reads. */
  cosine: number;
  snr_db: number;
  /** The largest absolute error over all outputs. */
  max_abs_error: number;
  /** Whether top-1 agreement fits the reference's first output (a class axis), see top1Fits. */
  top1_fits: boolean;
  outputs: OutputFidelity[];
}

/**
 * Whether top-1 agreement means something for an output of these dims: besides the batch, exactly one
 * axis wider than 1, the last such one, with at least 2 classes ([batch, classes], [batch, classes, 1, 1],
 * [batch, 1, classes]). A single value has no class to pick; a map ([batch, 1, H, W], [batch, seq, vocab])
 * has more than one axis, and a top-1 over all of it is a pixel, not a class.
 */
export function top1Fits(dims: readonly number[]): boolean {
  const wide = dims.slice(1).filter((d) => d !== 1);
  return wide.length === 1 && wide[0]! >= 2;
}

export interface FidelityOptions {
  /** First samples of the dataset to run; FIDELITY_SAMPLES by default. */
  samples?: number;
  threads: number;
  /**
   * What the reference's graph says of its outputs (outputFacts()); read from the reference's file when it is
   * an ONNX file and this is absent. Callers holding the ONNX IR of a .tflite or TF.js reference pass it.
   */
  outputs?: OutputFacts;
  /** Keeps the reference's outputs for the next measurement against the same reference and dataset. */
  referenceOutputs?: ReferenceOutputs;
}

type Runnable = Pick<Candidate, 'id' | 'file' | 'runtimeKind' | 'runtimeOptions' | 'batch'>;

/**
 * The rows of one output of a run over a batch of `count` samples (padded up to `size`): one row per
 * sample when the first dimension is the batch, else the whole tensor as one row (a state output whose
 * first dimension is not the batch cannot be split by sample).
 */
function rowsOf(t: HostTensor, count: number, size: number, values: Float32Array = floatValues(t)): Float32Array[] {
  const first = t.dims[0];
  if (t.dims.length === 0 || first !== size || size === 0) return [values];
  const width = values.length / size;
  return Array.from({ length: count }, (_, i) => values.subarray(i * width, (i + 1) * width));
}

/** The candidate's outputs matched to the reference's: by name, or by position when the names differ (a converted format). */
function matchOutputs(ref: ModelSession, cand: ModelSession): Array<[string, string]> {
  if (ref.outputNames.every((n) => cand.outputNames.includes(n))) return ref.outputNames.map((n) => [n, n]);
  if (ref.outputNames.length !== cand.outputNames.length) {
    throw new ModelGateError(`${cand.label}: outputs ${cand.outputNames.join(', ')} do not match the reference's ${ref.outputNames.join(', ')}`);
  }
  return ref.outputNames.map((n, i) => [n, cand.outputNames[i]!]);
}

/**
 * The reference's outputs on the first samples, kept across fidelity measurements against the same
 * reference and dataset: the auto search measures dozens of trials, and running the reference again for
 * each one was a third of a trial's evaluation time. Outputs beyond `maxBytes` in total are not kept
 * (those batches run the reference again).
 */
export class ReferenceOutputs {
  outputNames: readonly string[] | null = null;
  private readonly runs = new Map<string, Record<string, HostTensor>>();
  private bytes = 0;
  constructor(private readonly maxBytes = 256 * 2 ** 20) {}

  get(key: string): Record<string, HostTensor> | undefined {
    return this.runs.get(key);
  }

  set(key: string, outputs: Record<string, HostTensor>): void {
    const size = Object.values(outputs).reduce((s, t) => s + t.data.byteLength, 0);
    if (this.bytes + size > this.maxBytes) return;
    this.bytes += size;
    this.runs.set(key, outputs);
  }
}

/** Fidelity of `candidate` against `reference` on every output, over the first samples of `dataset`. */
export async function measureFidelity(reference: Runnable, candidate: Runnable, dataset: Dataset, options: FidelityOptions): Promise<Fidelity> {
  const samples = options.samples ?? FIDELITY_SAMPLES;
  const fixed = fixedBatch(reference, candidate);
  const cache = options.referenceOutputs;
  let refSession: ModelSession | null = null;
  const openRef = async (): Promise<ModelSession> =>
    (refSession ??= await openSession(reference.file, { ...reference.runtimeOptions, intraOpThreads: options.threads }, reference.id, reference.runtimeKind));
  try {
    const cand = await openSession(candidate.file, { ...candidate.runtimeOptions, intraOpThreads: options.threads }, candidate.id, candidate.runtimeKind);
    try {
      const names = cache?.outputNames ?? (await openRef()).outputNames;
      if (cache) cache.outputNames = names;
      // The k-th run is the k-th batch of the same samples in the same batch size: that is the cache key.
      let k = 0;
      const ref: ModelSession = {
        label: reference.id, inputNames: [], outputNames: names,
        async run(feeds) {
          const key = `${samples}|${fixed}|${k++}`;
          const hit = cache?.get(key);
          if (hit) return hit;
          const out = await (await openRef()).run(feeds);
          cache?.set(key, out);
          return out;
        },
        release: async () => {},
      };
      const facts = options.outputs ?? graphFactsOf(reference);
      return await compareSessions(ref, cand, dataset, samples, fixed, facts.decisions, facts.squashed);
    } finally {
      await cand.release();
    }
  } finally {
    if (refSession) await (refSession as ModelSession).release();
  }
}

/** What a graph says of its outputs: which carry a decision on computed values (discrete), which are squashed probabilities. */
export interface OutputFacts {
  decisions: ReadonlySet<string>;
  squashed: ReadonlyMap<string, Squash>;
}
const NO_FACTS: OutputFacts = { decisions: new Set(), squashed: new Map() };

export function outputFacts(model: Model): OutputFacts {
  return { decisions: discreteOutputs(model), squashed: squashedOutputs(model) };
}

/**
 * What the reference's graph says of its outputs, when it is an ONNX file: which carry a decision on
 * computed values, which are squashed probabilities.
 */
function graphFactsOf(reference: Runnable): OutputFacts {
  if (reference.runtimeKind !== 'onnxruntime') return NO_FACTS;
  let key: string;
  try {
    const st = statSync(reference.file);
    key = `${reference.file}\0${st.size}\0${st.mtimeMs}`;
  } catch {
    return NO_FACTS;
  }
  let found = factsCache.get(key);
  if (!found) {
    try {
      const model = loadModel(reference.file, { inlineExternalData: false });
      found = outputFacts(model);
    } catch {
      found = NO_FACTS; // the session opened it: a graph the analysis cannot read leaves every output continuous and unsquashed
    }
    if (factsCache.size >= 16) factsCache.clear();
    factsCache.set(key, found);
  }
  return found;
}
/** The search measures many trials against one reference file: its graph is read once. */
const factsCache = new Map<string, OutputFacts>();

const INTEGER_TYPES: ReadonlySet<HostTensor['type']> = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool']);

function fixedBatch(a: Runnable, b: Runnable): number | null {
  const fixed = [a.batch, b.batch].flatMap((p) => (p.kind === 'fixed' ? [p.batch] : []));
  if (fixed.length === 2 && fixed[0] !== fixed[1]) throw new ModelGateError(`${b.id}: fixed batch ${fixed[1]} differs from the reference's ${fixed[0]}`);
  return fixed[0] ?? null;
}

/**
 * The smallest probability the logit domain tells apart for outputs of these types: 1 − ε is the largest
 * value below 1 of the coarser type (2^-24 for float32, 2^-11 for float16), so a logit beyond ±log((1−ε)/ε)
 * (±16.6 for float32) cannot be read from the probability on the upper side. The lower side is clamped at
 * the same ε, so the domain treats both classes alike (a model that outputs 1 − p is judged the same):
 * a probability below ε, however far below, counts as ε: it is saturated, and its differences are not judged.
 */
export function squashFloor(...types: HostTensor['type'][]): number {
  const ulpBelowOne = (t: HostTensor['type']): number => (t === 'float16' ? 2 ** -11 : t === 'float64' ? 2 ** -53 : 2 ** -24);
  return Math.max(...types.map(ulpBelowOne));
}

/**
 * `values` (of a tensor of `dims`) in the logit domain: the sigmoid's inverse log(p / (1 − p)) on p clamped
 * to [ε, 1 − ε]; for a softmax, log(max(p, ε)) centred on each softmax row (its mean subtracted), which is
 * the row's logits up to the constant a softmax cannot see.
 */
export function toLogits(values: Float32Array, dims: readonly number[], squash: Squash, eps: number): Float32Array {
  const out = new Float32Array(values.length);
  if (squash.op === 'sigmoid') {
    for (let i = 0; i < values.length; i++) {
      const p = Math.min(Math.max(values[i]!, eps), 1 - eps);
      out[i] = Math.log(p / (1 - p));
    }
    return out;
  }
  for (let i = 0; i < values.length; i++) out[i] = Math.log(Math.max(values[i]!, eps));
  const rank = dims.length;
  if (rank === 0) return out.fill(0);
  const axis = squash.axis < 0 ? squash.axis + rank : squash.axis;
  if (axis < 0 || axis >= rank) throw new ModelGateError(`fidelity: softmax axis ${squash.axis} is outside an output of dims [${dims.join(', ')}]`);
  const prod = (a: readonly number[]) => a.reduce((x, y) => x * y, 1);
  const outer = prod(dims.slice(0, axis));
  const n = squash.coerce2d ? prod(dims.slice(axis)) : dims[axis]!;
  const inner = squash.coerce2d ? 1 : prod(dims.slice(axis + 1));
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let sum = 0;
      for (let c = 0; c < n; c++) sum += out[base + c * inner]!;
      const mean = sum / n;
      for (let c = 0; c < n; c++) out[base + c * inner]! -= mean;
    }
  }
  return out;
}

/**
 * The judged figures of a squashed output, from its figures on the probabilities (`output`) and on the
 * logits (`logit`). Closeness in either domain is closeness, so the better of the two counts, with one
 * guard on the logit side: its SNR is capped by the probabilities' peak SNR against their full scale of 1,
 * −20·log10(max |Δp|). The logit domain weighs an error against the model's confidence, so on saturated
 * outputs (a probability map of 1e-6 on noise) it sees what the probability SNR cannot; the cap keeps it
 * from passing a candidate whose saturated values happen to agree while a probability that matters moved
 * (at the 20 dB default: no probability may move by more than 0.1). A candidate that is off in both
 * domains fails in both; one that saturates differently (1e-3 where the reference has 1e-7) is judged
 * on the probabilities, where the difference is as small as it is.
 */
export function squashedFigures(output: RowFidelity, logit: RowFidelity): { domain: FidelityDomain; snr_db: number; cosine: number } {
  const peak = output.max_abs_error === 0 ? Infinity : -20 * Math.log10(output.max_abs_error);
  const capped = Math.min(logit.snr_db, peak);
  return capped > output.snr_db || (Number.isNaN(output.snr_db) && !Number.isNaN(capped))
    ? { domain: 'logit', snr_db: capped, cosine: logit.cosine }
    : { domain: 'output', snr_db: output.snr_db, cosine: output.cosine };
}

/**
 * Fidelity of two open sessions on the same feeds; `fixed` is the batch both need, or null for a dynamic
 * batch. `decisions` names reference outputs known to be discrete from the graph (integer and boolean
 * outputs are discrete whatever it says); `squashed` the reference outputs that are probabilities squashed
 * by a Sigmoid or a Softmax, measured in the logit domain as well (see squashedFigures).
 */
export async function compareSessions(
  ref: ModelSession, cand: ModelSession, dataset: Dataset, samples: number, fixed: number | null = null, decisions: ReadonlySet<string> = new Set(),
  squashed: ReadonlyMap<string, Squash> = new Map(),
): Promise<Fidelity> {
  if (!(samples >= 1)) throw new ModelGateError(`fidelity: needs at least one sample, got ${samples}`);
  const pairs = matchOutputs(ref, cand);
  const acc = pairs.map(() => new FidelityAccumulator());
  const logitAcc = pairs.map(([rn]) => (squashed.has(rn) ? new FidelityAccumulator() : null));
  const size = fixed ?? Math.min(EVAL_BATCH, samples);
  let seen = 0;
  let firstDims: readonly number[] | null = null;
  const discrete = new Set([...decisions].filter((n) => pairs.some(([rn]) => rn === n)));
  for (const batch of firstSamples(dataset, samples).batches(size, fixed !== null)) {
    const r = await ref.run(batch.feeds);
    const c = await cand.run(batch.feeds);
    const runSize = fixed ?? batch.count;
    for (const [k, [rn, cn]] of pairs.entries()) {
      const rt = r[rn], ct = c[cn];
      if (!rt || !ct) throw new ModelGateError(`${cand.label}: output '${rt ? cn : rn}' is missing from a run`);
      if (k === 0) firstDims ??= rt.dims;
      if (INTEGER_TYPES.has(rt.type)) discrete.add(rn);
      const rv = floatValues(rt), cv = floatValues(ct);
      const rr = rowsOf(rt, batch.count, runSize, rv), cr = rowsOf(ct, batch.count, runSize, cv);
      if (rr.length !== cr.length) throw new ModelGateError(`${cand.label}: output '${cn}' has dims [${ct.dims.join(', ')}], the reference's '${rn}' [${rt.dims.join(', ')}]`);
      const label = `${cand.label}: output '${cn}'`;
      for (let i = 0; i < rr.length; i++) acc[k]!.add(rr[i]!, cr[i]!, label);
      const la = logitAcc[k];
      if (la && rv.length === cv.length) {
        const squash = squashed.get(rn)!, eps = squashFloor(rt.type, ct.type);
        const rl = rowsOf(rt, batch.count, runSize, toLogits(rv, rt.dims, squash, eps));
        const cl = rowsOf(ct, batch.count, runSize, toLogits(cv, rt.dims, squash, eps));
        for (let i = 0; i < rl.length; i++) la.add(rl[i]!, cl[i]!, label);
      }
    }
    seen += batch.count;
  }
  const outputs: OutputFidelity[] = pairs.map(([name], k) => {
    const f = acc[k]!.result();
    const base = { name, cosine: f.cosine, snr_db: f.snr_db, max_abs_error: f.max_abs_error };
    if (discrete.has(name)) return { ...base, discrete: true as const, exact_match: f.exact_match, domain: 'output' as const };
    const la = logitAcc[k];
    if (!la) return { ...base, domain: 'output' as const };
    const l = la.result();
    const judged = squashedFigures(f, l);
    return { ...base, ...judged, squash: squashed.get(name)!.op, output_snr_db: f.snr_db, logit_snr_db: l.snr_db };
  });
  if (outputs.length === 0) throw new ModelGateError(`${ref.label}: the model has no outputs to compare`);
  // Discrete outputs are judged only when nothing else is there to judge: their SNR counts broken ties.
  const continuous = outputs.filter((o) => !o.discrete);
  const worst = [...(continuous.length > 0 ? continuous : outputs)].sort((a, b) => a.snr_db - b.snr_db || a.cosine - b.cosine)[0]!;
  return {
    samples: seen, worst_output: worst.name, cosine: worst.cosine, snr_db: worst.snr_db,
    max_abs_error: Math.max(...outputs.map((o) => o.max_abs_error)), top1_fits: firstDims ? top1Fits(firstDims) : false, outputs,
  };
}

/** Whether top-1 agreement fits `candidate`'s first output, from one run on the dataset's first sample. */
export async function probeTop1Fits(candidate: Runnable, dataset: Dataset, threads: number): Promise<boolean> {
  const s = await openSession(candidate.file, { ...candidate.runtimeOptions, intraOpThreads: threads }, candidate.id, candidate.runtimeKind);
  try {
    const size = candidate.batch.kind === 'fixed' ? candidate.batch.batch : 1;
    for (const batch of firstSamples(dataset, 1).batches(size, candidate.batch.kind === 'fixed')) {
      const name = s.outputNames[0]!;
      return top1Fits((await s.run(batch.feeds, [name]))[name]!.dims);
    }
    return false;
  } finally {
    await s.release();
  }
}
