/**
 * Dimensions that neither the model nor the config fixes: ModelGate chooses them, checks each choice by
 * running the reference model once on synthetic inputs of that shape, and records what it assumed.
 *
 * One mechanism for every format. ONNX models probe with the graph as it is; importers that need every
 * dim at import time (TF.js layers and graph models) throw an InputDimsError with their declared dims,
 * and the probe imports them with the chosen shapes. README.md ("Dimensions the model leaves open")
 * documents the lists and the order.
 *
 * The choice, per dynamic dim (a symbol is one dim everywhere it appears):
 * - a symbol named like the batch, or shared with the batch, takes the batch (src/model/io.ts);
 * - a dim named like a cache (`past…`, `…cache…`): 0, 1, 16 (an empty KV cache first);
 * - height/width of an image-like input (rank 4 with 1, 3 or 4 channels on axis 1 or 3):
 *   224, 256, 320, 512, 640;
 * - a dim of a state input (rank ≥ 3, leading dim fixed above 1, e.g. [2, ?, 128]) in a model with a
 *   batch dim: the batch, then the sequence list;
 * - anything else (a sequence or sample count): 512, 1024, 128, 16, 16000.
 * Probe k gives every open dim the k-th value of its list (the last one when the list is shorter), so
 * at most MAX_PROBES runs; a probe whose feed would exceed PROBE_MAX_ELEMENTS elements is skipped. The
 * first probe with which the reference runs and gives finite outputs is kept.
 *
 * A rank-0 int32/int64/float32 input (a sample rate `sr`, a ratio) that the graph compares with a constant
 * (Equal/Less/Greater…, through Cast/Reshape/…) is fed that constant (src/model/io.ts comparedConstant).
 */
import { OrtSession } from '../runtime/session.js';
import { encodeModel, type Model } from '../model/onnx.js';
import type { HostTensor } from '../model/host-tensor.js';
import {
  comparedConstant, dimKey, missingDimsMessage, takesBatch,
  type AssumedInput, type DeclaredInput, type DimAssignment, type IoSpec, type MissingDim,
} from '../model/io.js';
import type { InputSpec } from '../config/types.js';
import { syntheticDataset } from '../data/dataset.js';
import { ModelGateError, errorMessage } from '../errors.js';

/** Height and width of image-like inputs: 224 first (the ImageNet convention, a multiple of 32 as detectors need). */
export const SPATIAL_VALUES: readonly number[] = [224, 256, 320, 512, 640];
/** Sequence and sample counts: 512 first (a BERT context, 32 ms of 16 kHz audio), 16000 (1 s of 16 kHz audio) last, as the largest. */
export const SEQUENCE_VALUES: readonly number[] = [512, 1024, 128, 16, 16000];
/** Dims named like a cache: an empty cache first. */
export const CACHE_VALUES: readonly number[] = [0, 1, 16];
/** At most this many runs of the reference model. */
export const MAX_PROBES = 5;
/** A probe's largest input, in elements (2^24: 64 MiB of float32). */
export const PROBE_MAX_ELEMENTS = 2 ** 24;

type Kind = 'cache' | 'spatial' | 'state' | 'sequence';

interface Group {
  key: string;
  param: string;
  members: MissingDim[];
  kind: Kind;
  values: ReadonlyArray<number | 'batch'>;
  /** What the dim looks like, for `why`. */
  what: string;
}

const CHANNELS = new Set([1, 3, 4]);

function classify(m: MissingDim, declared: DeclaredInput[], modelHasBatch: boolean): Pick<Group, 'kind' | 'values' | 'what'> {
  const dims = declared.find((d) => d.name === m.input)?.dims ?? [];
  if (/past|cache/i.test(m.param)) return { kind: 'cache', values: CACHE_VALUES, what: `named like a cache ('${m.param}')` };
  if (dims.length === 4) {
    for (const [c, spatial] of [[1, [2, 3]], [3, [1, 2]]] as const) {
      const v = dims[c]!.value;
      if (v !== null && CHANNELS.has(v) && (spatial as readonly number[]).includes(m.axis)) {
        return { kind: 'spatial', values: SPATIAL_VALUES, what: `height/width of an image-like input (${v} channel${v > 1 ? 's' : ''} on axis ${c})` };
      }
    }
  }
  const lead = dims[0]?.value ?? null;
  if (modelHasBatch && dims.length >= 3 && m.axis > 0 && lead !== null && lead > 1) {
    return { kind: 'state', values: ['batch', ...SEQUENCE_VALUES], what: `a dim of a state input [${dims.map((d) => d.value ?? '?').join(', ')}]` };
  }
  return { kind: 'sequence', values: SEQUENCE_VALUES, what: 'a sequence or sample length' };
}

/** The open dims as groups, one per symbol (or per anonymous dim), in input and axis order. */
function planGroups(declared: DeclaredInput[], missing: MissingDim[]): Group[] {
  const modelHasBatch = declared.some((d, k) => d.dims.some((_, i) => takesBatch(declared, k, i)));
  const groups = new Map<string, Group>();
  for (const m of missing) {
    const key = dimKey(m.input, m.axis, m.param);
    const known = groups.get(key);
    if (known) known.members.push(m);
    else groups.set(key, { key, param: m.param, members: [m], ...classify(m, declared, modelHasBatch) });
  }
  return [...groups.values()];
}

/** The shapes as far as they are known: -1 for an open dim, the batch on the batch axis. */
export interface KnownShape {
  name: string;
  shape: number[];
  batchAxis?: number | null;
}

export interface ChooseArgs<T> {
  /** The model file as the config names it (errors start with it). */
  file: string;
  declared: DeclaredInput[];
  known: KnownShape[];
  missing: MissingDim[];
  batch: number;
  /** Runs the reference with these dims; throws when it does not run or gives non-finite outputs. */
  attempt: (assign: DimAssignment) => Promise<T>;
}

export interface Chosen<T> {
  assign: DimAssignment;
  result: T;
  assumed: AssumedInput[];
}

function describe(groups: Group[], values: Array<number | 'batch'>, batch: number): string {
  return groups.map((g, k) => `${g.param || `'${g.members[0]!.input}' axis ${g.members[0]!.axis}`} = ${values[k] === 'batch' ? `${batch} (the batch)` : values[k]}`).join(', ');
}

/** Chooses the open dims (module comment), or throws the exit-2 message listing them all and what was tried. */
export async function chooseDims<T>(args: ChooseArgs<T>): Promise<Chosen<T>> {
  const { file, declared, known, missing, batch, attempt } = args;
  const groups = planGroups(declared, missing);
  const count = Math.min(MAX_PROBES, Math.max(...groups.map((g) => g.values.length)));
  const tried: string[] = [];
  const reasons: string[] = [];
  const seen = new Set<string>();
  for (let k = 0; k < count; k++) {
    const values = groups.map((g) => g.values[Math.min(k, g.values.length - 1)]!);
    const label = describe(groups, values, batch);
    if (seen.has(label)) continue;
    seen.add(label);
    const assign = new Map(groups.map((g, i) => [g.key, values[i]!]));
    const tooBig = known.find((s) => {
      const elements = s.shape.reduce((acc, d, i) => {
        const m = d >= 0 ? undefined : missing.find((x) => x.input === s.name && x.axis === i);
        const v = m ? assign.get(dimKey(m.input, m.axis, m.param)) : d;
        return acc * (v === 'batch' ? batch : (v ?? 1));
      }, 1);
      return elements > PROBE_MAX_ELEMENTS;
    });
    if (tooBig) {
      tried.push(`${label}: skipped ('${tooBig.name}' would exceed ${PROBE_MAX_ELEMENTS} elements)`);
      continue;
    }
    try {
      const result = await attempt(assign);
      const assumed: AssumedInput[] = [];
      for (const s of known) {
        for (const m of missing.filter((x) => x.input === s.name)) {
          const g = groups.find((x) => x.members.includes(m))!;
          const v = assign.get(g.key)!;
          const list = g.values.map((x) => (x === 'batch' ? 'the batch' : String(x))).join(', ');
          assumed.push({
            input: m.input, axis: m.axis, name: m.param || null, value: v === 'batch' ? batch : v,
            why: `${g.what}: ${v === 'batch' ? `${batch} (the batch)` : v} is the first of ${list} with which the reference model ran with finite outputs`,
          });
        }
      }
      return { assign, result, assumed };
    } catch (err) {
      const reason = errorMessage(err).split('\n')[0]!.slice(0, 300);
      reasons.push(errorMessage(err));
      tried.push(`${label}: ${reason}`);
    }
  }
  // Every probe failing the same way is the model's own problem, not its dims'.
  if (reasons.length > 1 && reasons.every((r) => r === reasons[0])) {
    throw new ModelGateError(`${reasons[0]} (with input dims ModelGate assumed because the model and the config leave them open: ${tried[0]!.split(': ')[0]})`);
  }
  throw new ModelGateError(
    `${missingDimsMessage(file, known, missing)}\nModelGate tried these values and the reference model did not run with finite outputs:\n${tried.map((t) => `  - ${t}`).join('\n')}`,
  );
}

/**
 * Rank-0 inputs with no configured range that the graph compares with a constant: fed that constant (an
 * integer sample rate checked with Equal(sr, 16000); a float ratio that a tf.cond tests with `ratio == 1`).
 */
export function assumeScalars(model: Model, specs: IoSpec[], overrides: Record<string, InputSpec>): { specs: IoSpec[]; assumed: AssumedInput[] } {
  const assumed: AssumedInput[] = [];
  const out = specs.map((s) => {
    const isInt = s.dtype === 'int64' || s.dtype === 'int32';
    if (s.shape.length !== 0 || !(isInt || s.dtype === 'float32') || overrides[s.name]?.range) return s;
    const c = comparedConstant(model, s.name);
    if (!c || !(isInt ? Number.isSafeInteger(c.value) : Number.isFinite(c.value))) return s;
    assumed.push({ input: s.name, axis: null, name: null, value: c.value, why: `the graph compares it with ${c.value} (${c.op} node '${c.node}')` });
    return { ...s, range: [c.value, c.value] as [number, number] };
  });
  return { specs: out, assumed };
}

function allFinite(t: HostTensor): boolean {
  if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) return true;
  for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i]!)) return false;
  return true;
}

/** The reference model in onnxruntime, opened once for every probe of one model. */
export class ReferenceProbe {
  private constructor(private readonly session: OrtSession) {}

  static async open(model: Model, label: string): Promise<ReferenceProbe> {
    return new ReferenceProbe(await OrtSession.create(encodeModel(model), { graphOptimizationLevel: 'basic' }, label));
  }

  /** One run on synthetic inputs of these shapes; throws unless every float output is finite. */
  async check(specs: IoSpec[], batch: number): Promise<void> {
    const outputs = await this.session.run(syntheticDataset(specs).feedsForBatch(batch));
    const bad = Object.entries(outputs).find(([, t]) => !allFinite(t));
    if (bad) throw new ModelGateError(`${this.session.label}: output '${bad[0]}' is not finite (NaN or infinity) on synthetic inputs`);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Open dims that an array dataset's sample shapes fix (not assumptions: the data says so), by dimKey. */
export function dimsFromData(known: KnownShape[], missing: MissingDim[], samples: ReadonlyMap<string, number[]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of missing) {
    const sample = samples.get(m.input);
    const s = known.find((k) => k.name === m.input);
    if (!sample || !s) continue;
    const b = s.batchAxis ?? null;
    if (sample.length !== s.shape.length - (b === null ? 0 : 1)) continue;
    const v = sample[b === null || m.axis < b ? m.axis : m.axis - 1];
    const key = dimKey(m.input, m.axis, m.param);
    if (v !== undefined && Number.isSafeInteger(v) && !out.has(key)) out.set(key, v);
  }
  return out;
}
