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
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Candidate } from '../candidates/types.js';
import type { Dataset } from '../data/dataset.js';
import type { HostTensor } from '../model/host-tensor.js';
import { halfToFloat } from '../model/tensor.js';
import { openSession, type ModelSession } from '../runtime/kind.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { loadModel, type Model } from '../model/onnx.js';
import { decisionInputs, discreteOutputs, type DecisionReader } from '../model/discrete.js';
import { squashedOutputs, squashedTensors, type Squash } from '../model/squashed.js';
import { describeReader, exposeTensors, loadForExposure, resolveDecisionInputs, type DecisionPair, type DecisionTensor } from './decision-inputs.js';
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
   * For a discrete output: the decision inputs (Fidelity.decision_inputs) it was judged through, every one
   * of which was measured in the candidate; unset when it has none, or when `decision_inputs_missing` says why not.
   */
  decision_inputs?: string[];
  /** For a discrete output with decision inputs: why they could not stand for it (it is then judged as before, on its own values). */
  decision_inputs_missing?: string;
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

/**
 * A decision input of a discrete output (src/model/discrete.ts decisionInputs: the heat map an ArgMax reads,
 * the offsets a GatherND picks at the argmax), compared between the reference and the candidate like an
 * output. On synthetic inputs it stands for the discrete outputs it feeds: their own SNR counts near-ties
 * broken the other way, which says nothing about the model on pictures with no peak to find.
 */
export interface DecisionInputFidelity {
  /** The reference's tensor. */
  tensor: string;
  /** The nodes that read it where the computation turns discrete (an ArgMax deciding on it, a GatherND combining it with the argmax). */
  readers: DecisionReader[];
  /** The discrete graph outputs it feeds. */
  outputs: string[];
  /** The candidate's tensor it was compared with: the input its reader reads there (`<tensor>_dequantized` after static QDQ), else the same name. */
  candidate_tensor?: string;
  /** Why it was not measured; the figures below are then absent. */
  missing?: string;
  cosine?: number;
  snr_db?: number;
  max_abs_error?: number;
  domain?: FidelityDomain;
  squash?: Squash['op'];
  output_snr_db?: number;
  logit_snr_db?: number;
}

export interface Fidelity {
  /** Samples both models ran. */
  samples: number;
  /**
   * The judged tensor with the lowest SNR (ties: the lowest cosine, then the first). Judged: the continuous
   * outputs; the decision inputs of every discrete output whose decision inputs were all measured; and,
   * when no output is continuous, the discrete outputs themselves, except on synthetic inputs those whose
   * decision inputs stand for them. A decision input's name when `worst_kind` says so.
   */
  worst_output: string;
  /** Whether worst_output is a graph output or a decision input (listed in decision_inputs). */
  worst_kind: 'output' | 'decision_input';
  /** The worst tensor's figures: the ones the gate reads. */
  cosine: number;
  snr_db: number;
  /** The largest absolute error over all outputs. */
  max_abs_error: number;
  /** Whether top-1 agreement fits the reference's first output (a class axis), see top1Fits. */
  top1_fits: boolean;
  outputs: OutputFidelity[];
  /** The decision inputs of the discrete outputs, when the reference's graph has any (see DecisionInputFidelity). */
  decision_inputs?: DecisionInputFidelity[];
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
  /** The reference's graph outputs. */
  outputNames: readonly string[] | null = null;
  /** What the reference session exposes of its decision inputs (see ReferenceSide). */
  exposure: ReferenceExposure | null = null;
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

/** The decision inputs the reference's runs carry besides its outputs, or why they carry none. */
interface ReferenceExposure {
  /** Decision inputs present in every reference run (appended outputs, or outputs already). */
  available: ReadonlySet<string>;
  /** Why none is: the reference is no ONNX file, or its copy could not be written or opened. */
  missing?: string;
}

/** Fidelity of `candidate` against `reference` on every output, over the first samples of `dataset`. */
export async function measureFidelity(reference: Runnable, candidate: Runnable, dataset: Dataset, options: FidelityOptions): Promise<Fidelity> {
  const samples = options.samples ?? FIDELITY_SAMPLES;
  const fixed = fixedBatch(reference, candidate);
  const cache = options.referenceOutputs;
  const facts = options.outputs ?? graphFactsOf(reference);
  const wanted = facts.decisionInputs ?? [];
  // Copies that expose decision inputs go to a private folder, removed when the measurement ends.
  let scratch: string | null = null;
  const scratchDir = (): string => (scratch ??= mkdtempSync(path.join(os.tmpdir(), 'modelgate-fidelity-')));
  let refSession: ModelSession | null = null;
  let refExposure: ReferenceExposure | null = cache?.exposure ?? null;
  let refOutputs: readonly string[] | null = cache?.outputNames ?? null;
  const openRef = async (): Promise<ModelSession> => {
    if (refSession) return refSession;
    const opts = { ...reference.runtimeOptions, intraOpThreads: options.threads };
    let exposure: ReferenceExposure = {
      available: new Set(),
      missing: wanted.length === 0 ? 'the reference outputs were kept from a measurement without decision inputs' : `the reference runs in ${reference.runtimeKind}, where its tensors cannot be exposed`,
    };
    let session: ModelSession | null = null;
    let graphOutputs: readonly string[] | null = null;
    if (wanted.length > 0 && reference.runtimeKind === 'onnxruntime') {
      const model = loadForExposure(reference.file);
      if (typeof model === 'string') exposure = { available: new Set(), missing: model };
      else {
        try {
          graphOutputs = (model.graph?.output ?? []).map((o) => o.name ?? '');
          const { file } = exposeTensors(model, wanted.map((d) => d.tensor), scratchDir(), 'reference.onnx');
          session = await openSession(file, opts, reference.id, reference.runtimeKind);
          exposure = { available: new Set(wanted.map((d) => d.tensor).filter((t) => session!.outputNames.includes(t))) };
        } catch (err) {
          exposure = { available: new Set(), missing: `the reference with its decision inputs exposed could not be opened (${privateCopy(errorMessage(err), scratch)})` };
          graphOutputs = null;
        }
      }
    }
    session ??= await openSession(reference.file, opts, reference.id, reference.runtimeKind);
    refSession = session;
    // The cache and this measurement must agree on what a reference run carries: the first to open the reference decides.
    refExposure ??= exposure;
    refOutputs ??= graphOutputs ?? session.outputNames;
    return session;
  };
  try {
    if (!refOutputs || !refExposure) await openRef();
    if (cache) {
      cache.outputNames = refOutputs;
      cache.exposure = refExposure;
    }
    const exposed = refExposure!;
    // The k-th run is the k-th batch of the same samples in the same batch size: that is the cache key.
    let k = 0;
    const ref: ModelSession = {
      label: reference.id, inputNames: [], outputNames: refOutputs!,
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
    const { session: cand, pairs } = await openCandidate(candidate, wanted, exposed, options.threads, scratchDir);
    try {
      return await compareSessions(ref, cand, dataset, samples, fixed, facts.decisions, facts.squashed, pairs);
    } finally {
      await cand.release();
    }
  } finally {
    if (refSession) await (refSession as ModelSession).release();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** A message with the private copies' folder named as such: the same message for the same model on every run. */
const privateCopy = (message: string, dir: string | null): string => (dir ? message.split(dir).join('<copy>') : message);

/**
 * The candidate's session, exposing the candidate's tensor of each decision input the reference's runs
 * carry; its outputNames are the candidate's graph outputs only. Where a decision input cannot be had,
 * its pair says why.
 */
async function openCandidate(
  candidate: Runnable, wanted: readonly DecisionTensor[], exposed: ReferenceExposure, threads: number, scratchDir: () => string,
): Promise<{ session: ModelSession; pairs: DecisionPair[] }> {
  const opts = { ...candidate.runtimeOptions, intraOpThreads: threads };
  const open = (file: string) => openSession(file, opts, candidate.id, candidate.runtimeKind);
  const missing = (why: string): DecisionPair[] => wanted.map((input) => ({ input, missing: why }));
  if (wanted.length === 0) return { session: await open(candidate.file), pairs: [] };
  if (exposed.missing) return { session: await open(candidate.file), pairs: missing(exposed.missing) };
  if (candidate.runtimeKind !== 'onnxruntime') return { session: await open(candidate.file), pairs: missing(`the candidate runs in ${candidate.runtimeKind}, where its tensors cannot be exposed`) };
  const model = loadForExposure(candidate.file);
  if (typeof model === 'string') return { session: await open(candidate.file), pairs: missing(model) };
  const pairs = resolveDecisionInputs(model, wanted).map((p): DecisionPair => ('candidate' in p && !exposed.available.has(p.input.tensor) ? { input: p.input, missing: `the reference does not give '${p.input.tensor}'` } : p));
  const names = pairs.flatMap((p) => ('candidate' in p ? [p.candidate] : []));
  if (names.length === 0) return { session: await open(candidate.file), pairs };
  const graphOutputs = (model.graph?.output ?? []).map((o) => o.name ?? '');
  let session: ModelSession;
  try {
    session = await open(exposeTensors(model, names, scratchDir(), 'candidate.onnx').file);
  } catch (err) {
    return { session: await open(candidate.file), pairs: missing(`the candidate with its decision inputs exposed could not be opened (${privateCopy(errorMessage(err), scratchDir())})`) };
  }
  const outputs = graphOutputs.filter((n) => session.outputNames.includes(n));
  return {
    session: { label: session.label, inputNames: session.inputNames, outputNames: outputs, run: (feeds, want) => session.run(feeds, want), release: () => session.release() },
    pairs,
  };
}

/** What a graph says of its outputs: which carry a decision on computed values (discrete), which are squashed probabilities, and the discrete ones' decision inputs. */
export interface OutputFacts {
  decisions: ReadonlySet<string>;
  squashed: ReadonlyMap<string, Squash>;
  /** The continuous tensors the discrete outputs are computed from where their computation turns discrete (src/model/discrete.ts decisionInputs). */
  decisionInputs?: readonly DecisionTensor[];
}
const NO_FACTS: OutputFacts = { decisions: new Set(), squashed: new Map() };

export function outputFacts(model: Model): OutputFacts {
  const inputs = decisionInputs(model);
  const squash = squashedTensors(model, inputs.map((d) => d.tensor));
  return {
    decisions: discreteOutputs(model), squashed: squashedOutputs(model),
    decisionInputs: inputs.map((d) => (squash.has(d.tensor) ? { ...d, squash: squash.get(d.tensor)! } : d)),
  };
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

/** One tensor compared between the two sessions' runs: a graph output, or a decision input. */
class Track {
  readonly acc = new FidelityAccumulator();
  readonly logitAcc: FidelityAccumulator | null;
  constructor(readonly refName: string, readonly candName: string, readonly squash: Squash | undefined, readonly what: string) {
    this.logitAcc = squash ? new FidelityAccumulator() : null;
  }

  /** Adds one run's values; throws when the tensors cannot be compared. */
  add(rt: HostTensor, ct: HostTensor, count: number, runSize: number, label: string): void {
    const rv = floatValues(rt), cv = floatValues(ct);
    const rr = rowsOf(rt, count, runSize, rv), cr = rowsOf(ct, count, runSize, cv);
    if (rr.length !== cr.length) throw new ModelGateError(`${label}: ${this.what} '${this.candName}' has dims [${ct.dims.join(', ')}], the reference's '${this.refName}' [${rt.dims.join(', ')}]`);
    const where = `${label}: ${this.what} '${this.candName}'`;
    for (let i = 0; i < rr.length; i++) this.acc.add(rr[i]!, cr[i]!, where);
    if (this.logitAcc && rv.length === cv.length) {
      const eps = squashFloor(rt.type, ct.type);
      const rl = rowsOf(rt, count, runSize, toLogits(rv, rt.dims, this.squash!, eps));
      const cl = rowsOf(ct, count, runSize, toLogits(cv, rt.dims, this.squash!, eps));
      for (let i = 0; i < rl.length; i++) this.logitAcc.add(rl[i]!, cl[i]!, where);
    }
  }

  /** The figures: on the values, and for a squashed tensor the judged domain (see squashedFigures). */
  figures(): { cosine: number; snr_db: number; max_abs_error: number; exact_match: number; domain: FidelityDomain; squash?: Squash['op']; output_snr_db?: number; logit_snr_db?: number } {
    const f = this.acc.result();
    const base = { cosine: f.cosine, snr_db: f.snr_db, max_abs_error: f.max_abs_error, exact_match: f.exact_match, domain: 'output' as const };
    if (!this.logitAcc) return base;
    const l = this.logitAcc.result();
    return { ...base, ...squashedFigures(f, l), squash: this.squash!.op, output_snr_db: f.snr_db, logit_snr_db: l.snr_db };
  }
}

/**
 * Fidelity of two open sessions on the same feeds; `fixed` is the batch both need, or null for a dynamic
 * batch. `decisions` names reference outputs known to be discrete from the graph (integer and boolean
 * outputs are discrete whatever it says); `squashed` the reference outputs that are probabilities squashed
 * by a Sigmoid or a Softmax, measured in the logit domain as well (see squashedFigures). `decisionPairs`:
 * the discrete outputs' decision inputs, each with the candidate's tensor (both sessions' runs carry them
 * besides their outputs) or why it has none; see Fidelity.worst_output for what is judged.
 */
export async function compareSessions(
  ref: ModelSession, cand: ModelSession, dataset: Dataset, samples: number, fixed: number | null = null, decisions: ReadonlySet<string> = new Set(),
  squashed: ReadonlyMap<string, Squash> = new Map(), decisionPairs: readonly DecisionPair[] = [],
): Promise<Fidelity> {
  if (!(samples >= 1)) throw new ModelGateError(`fidelity: needs at least one sample, got ${samples}`);
  const tracks = matchOutputs(ref, cand).map(([rn, cn]) => new Track(rn, cn, squashed.get(rn), 'output'));
  // A decision input that cannot be compared is missing, not an error: its outputs are then judged as before.
  const inputMissing = new Map<DecisionTensor, string>();
  const inputTracks = new Map<DecisionTensor, Track>();
  for (const p of decisionPairs) {
    if ('candidate' in p) inputTracks.set(p.input, new Track(p.input.tensor, p.candidate, p.input.squash, 'decision input'));
    else inputMissing.set(p.input, p.missing);
  }
  const size = fixed ?? Math.min(EVAL_BATCH, samples);
  let seen = 0;
  let firstDims: readonly number[] | null = null;
  const discrete = new Set([...decisions].filter((n) => tracks.some((t) => t.refName === n)));
  for (const batch of firstSamples(dataset, samples).batches(size, fixed !== null)) {
    const r = await ref.run(batch.feeds);
    const c = await cand.run(batch.feeds);
    const runSize = fixed ?? batch.count;
    for (const [k, t] of tracks.entries()) {
      const rt = r[t.refName], ct = c[t.candName];
      if (!rt || !ct) throw new ModelGateError(`${cand.label}: output '${rt ? t.candName : t.refName}' is missing from a run`);
      if (k === 0) firstDims ??= rt.dims;
      if (INTEGER_TYPES.has(rt.type)) discrete.add(t.refName);
      t.add(rt, ct, batch.count, runSize, cand.label);
    }
    for (const [input, t] of inputTracks) {
      if (inputMissing.has(input)) continue;
      const rt = r[t.refName], ct = c[t.candName];
      try {
        if (!rt || !ct) throw new ModelGateError(`${rt ? `the candidate's '${t.candName}'` : `the reference's '${t.refName}'`} is missing from a run`);
        t.add(rt, ct, batch.count, runSize, cand.label);
      } catch (err) {
        inputMissing.set(input, errorMessage(err));
      }
    }
    seen += batch.count;
  }
  if (tracks.length === 0) throw new ModelGateError(`${ref.label}: the model has no outputs to compare`);
  const decisionInputs: DecisionInputFidelity[] = decisionPairs.map(({ input }) => {
    const base = { tensor: input.tensor, readers: input.readers, outputs: input.outputs };
    const missing = inputMissing.get(input);
    const t = inputTracks.get(input);
    if (missing !== undefined || !t) return { ...base, ...(t ? { candidate_tensor: t.candName } : {}), missing: missing ?? 'not measured' };
    const { exact_match: _, ...f } = t.figures();
    return { ...base, candidate_tensor: t.candName, ...f };
  });
  const outputs: OutputFidelity[] = tracks.map((t) => {
    const { exact_match, ...f } = t.figures();
    if (!discrete.has(t.refName)) return { name: t.refName, ...f };
    const feeding = decisionInputs.filter((d) => d.outputs.includes(t.refName));
    const missing = feeding.find((d) => d.missing !== undefined);
    return {
      name: t.refName, cosine: f.cosine, snr_db: f.snr_db, max_abs_error: f.max_abs_error, discrete: true as const, exact_match, domain: 'output' as const,
      ...(feeding.length === 0 ? {} : missing ? { decision_inputs_missing: `${missing.tensor}: ${missing.missing}` } : { decision_inputs: feeding.map((d) => d.tensor) }),
    };
  });
  // What is judged (see Fidelity.worst_output). A discrete output's own SNR counts near-ties broken the other
  // way: it is judged only when no output is continuous, and on synthetic inputs (no peak to find, every
  // maximum a near-tie) not when its decision inputs stand for it.
  const judged: Array<{ name: string; kind: Fidelity['worst_kind']; snr_db: number; cosine: number }> = [];
  const anyContinuous = outputs.some((o) => !o.discrete);
  for (const o of outputs) {
    if (!o.discrete || (!anyContinuous && !(dataset.synthetic && o.decision_inputs))) judged.push({ name: o.name, kind: 'output', snr_db: o.snr_db, cosine: o.cosine });
  }
  const standing = new Set(outputs.flatMap((o) => o.decision_inputs ?? []));
  for (const d of decisionInputs) if (standing.has(d.tensor)) judged.push({ name: d.tensor, kind: 'decision_input', snr_db: d.snr_db!, cosine: d.cosine! });
  const worst = [...judged].sort((a, b) => a.snr_db - b.snr_db || a.cosine - b.cosine)[0]!;
  return {
    samples: seen, worst_output: worst.name, worst_kind: worst.kind, cosine: worst.cosine, snr_db: worst.snr_db,
    max_abs_error: Math.max(...outputs.map((o) => o.max_abs_error)), top1_fits: firstDims ? top1Fits(firstDims) : false, outputs,
    ...(decisionInputs.length > 0 ? { decision_inputs: decisionInputs } : {}),
  };
}

/**
 * What the gate's message calls the judged tensor when it is a decision input: "the decision input 'heat'
 * (read by ArgMax 'argmax', for discrete output 'cls')"; undefined when it is a graph output.
 */
export function describeJudged(f: Fidelity): string | undefined {
  if (f.worst_kind !== 'decision_input') return undefined;
  const d = f.decision_inputs?.find((x) => x.tensor === f.worst_output);
  if (!d) return `the decision input '${f.worst_output}'`;
  const all = d.readers.map(describeReader);
  const readers = all.length > 2 ? `${all.slice(0, 2).join(', ')} and ${all.length - 2} more` : all.join(', ');
  return `the decision input '${d.tensor}' (read by ${readers}, for discrete output${d.outputs.length > 1 ? 's' : ''} ${d.outputs.map((o) => `'${o}'`).join(', ')})`;
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
