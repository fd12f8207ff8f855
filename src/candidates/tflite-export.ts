/**
 * The `tflite` recipe step: `{ tflite: { quantize: float32 | float16 | weight-only-int8 | dynamic-int8 | int8, io_type?, samples? } }`
 * as the last step of a candidate's recipe. The passes before it run on the ONNX model as usual; the result
 * is exported to .tflite, verified against that ONNX model (onnxruntime and TFLite on the same inputs), and
 * evaluated and benchmarked in the TFLite runtime.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import type { Model } from '../model/onnx.js';
import type { Feeds, HostTensor } from '../model/host-tensor.js';
import type { IoSpec } from '../model/io.js';
import type { Dataset } from '../data/dataset.js';
import type { PassContext } from '../passes/pass.js';
import { OrtSession, type RuntimeOptions } from '../runtime/session.js';
import { TfliteSession, tfliteOptionsFrom, XNNPACK_ENTRY, type TfliteRuntimeInfo, type TfliteRuntimeOptions } from '../runtime/tflite.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { encodeModel } from '../model/onnx.js';
import { exportTflite, TFLITE_IO_TYPES, TFLITE_QUANTIZE, type TfliteIoType, type TfliteQuantize } from '../export/tflite/export.js';

export const TFLITE_STEP = 'tflite';

export interface TfliteStep {
  quantize: TfliteQuantize;
  /** int8 only: the model's input/output type. float32 by default. */
  io_type?: TfliteIoType;
  /** int8 only: calibration samples from the dataset. 256 by default. */
  samples?: number;
  /** Run with the XNNPACK delegate: true requires it, false forbids it; by default it is used when available. */
  xnnpack?: boolean;
}

export const tfliteStepSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['quantize'],
  properties: {
    quantize: { enum: [...TFLITE_QUANTIZE] },
    io_type: { enum: [...TFLITE_IO_TYPES] },
    samples: { type: 'integer', minimum: 1, maximum: 100000 },
    xnnpack: { type: 'boolean' },
  },
} as const;

const DEFAULT_SAMPLES = 256;
/** Samples the export is verified on (whole batches of the exported batch size). */
const VERIFY_SAMPLES = 100;
/** float32 exports whose outputs stray further than this (relative to the output's magnitude) are refused. */
const FLOAT32_TOLERANCE = 1e-3;

const validateStep = new Ajv({ allErrors: false, strict: true }).compile(tfliteStepSchema);

/**
 * Separates a trailing `tflite` step from the passes before it. A `tflite` step anywhere but last, or with
 * bad options, is a config error naming the entry.
 */
const isTflite = (p: unknown): boolean => (typeof p === 'string' ? p === TFLITE_STEP : !!p && typeof p === 'object' && !Array.isArray(p) && Object.keys(p).length === 1 && TFLITE_STEP in p);

/** Whether a recipe has a `tflite` step (anywhere: splitTfliteStep says when it is misplaced). */
export function hasTfliteStep(passes: ReadonlyArray<unknown>): boolean {
  return passes.some(isTflite);
}

export function splitTfliteStep(passes: ReadonlyArray<unknown>, where: string): { passes: unknown[]; tflite?: TfliteStep } {
  const at = passes.findIndex(isTflite);
  if (at < 0) return { passes: [...passes] };
  if (at !== passes.length - 1) throw new ModelGateError(`${where}[${at}]: the '${TFLITE_STEP}' step must be the last step of a recipe (it turns the model into a .tflite file)`);
  const raw = typeof passes[at] === 'string' ? {} : ((passes[at] as Record<string, unknown>)[TFLITE_STEP] ?? {});
  const options = structuredClone(raw) as Record<string, unknown>;
  if (!validateStep(options)) {
    const e = validateStep.errors![0]!;
    const field = e.instancePath.slice(1) || (e.params as { missingProperty?: string; additionalProperty?: string }).missingProperty || (e.params as { additionalProperty?: string }).additionalProperty || '';
    const detail = e.keyword === 'enum' ? `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : e.keyword === 'additionalProperties' ? 'is not an option of this step' : e.message ?? 'is invalid';
    throw new ModelGateError(`${where}[${at}] '${TFLITE_STEP}': option '${field}' ${detail} (options: quantize, io_type, samples, xnnpack)`);
  }
  const step = options as unknown as TfliteStep;
  if (step.io_type && step.io_type !== 'float32' && step.quantize !== 'int8') {
    throw new ModelGateError(`${where}[${at}] '${TFLITE_STEP}': io_type ${step.io_type} needs quantize: int8`);
  }
  return { passes: passes.slice(0, at), tflite: step };
}

export interface TfliteVerification {
  /** What the .tflite was compared with: the ONNX model it was exported from, run in onnxruntime. */
  against: 'onnx-source';
  samples: number;
  /** Largest |TFLite − onnxruntime| over every output element. */
  max_abs_diff: number;
  /** Top-1 agreement between the two on the first output, 0..1 (null without a class axis). */
  top1_agreement: number | null;
}

export interface TfliteCandidateInfo {
  quantize: TfliteQuantize;
  io_type: TfliteIoType;
  /** The batch the .tflite is fixed to (a .tflite declares static shapes). */
  batch: number;
  operators: number;
  notes: string[];
  verification: TfliteVerification;
  /** How TFLite ran it: threads and whether XNNPACK was applied. */
  runtime: TfliteRuntimeInfo;
}

/** The runtime options a candidate carries for TFLite: the XNNPACK choice, when the step made one. */
export function tfliteRuntimeOptions(step: Pick<TfliteStep, 'xnnpack'>): RuntimeOptions {
  return step.xnnpack === undefined ? {} : { configEntries: { [XNNPACK_ENTRY]: step.xnnpack ? '1' : '0' } };
}

/** Opens the file once to learn what TFLite will use for it (XNNPACK applied or not), for the report. */
export async function tfliteRuntimeInfo(file: string | Uint8Array, runtime: RuntimeOptions): Promise<TfliteRuntimeInfo> {
  const session = await TfliteSession.create(file, tfliteOptionsFrom(runtime), typeof file === 'string' ? path.basename(file) : 'model.tflite');
  await session.release();
  return session.info;
}

export interface TfliteBuildOptions {
  inputs: IoSpec[];
  /** The batch to fix in the file: the benchmark's. */
  batch: number;
  dataset: Dataset;
  ctx: PassContext;
  /** Where to write the .tflite. */
  file: string;
  threads: number;
}

function rows(t: HostTensor): { rows: number; width: number } {
  const r = t.dims[0] ?? 1;
  return { rows: r, width: r > 0 ? t.data.length / r : 0 };
}

function argmax(a: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (a[offset + j]! > a[offset + best]!) best = j;
  return best;
}

/** Runs the source in onnxruntime and the .tflite in TFLite on the same dataset batches. */
export async function verifyTflite(source: Model, sourceRuntime: RuntimeOptions, tfliteBytes: Uint8Array, dataset: Dataset, batch: number, label: string, tfliteOptions: TfliteRuntimeOptions = {}, samples = VERIFY_SAMPLES): Promise<TfliteVerification> {
  const ort = await OrtSession.create(encodeModel(source), sourceRuntime, `${label} (onnx source)`);
  const tfl = await TfliteSession.create(tfliteBytes, tfliteOptions, label);
  let maxDiff = 0, agree = 0, classified = 0, seen = 0;
  try {
    for (const b of dataset.batches(batch, true)) {
      const want = await ort.run(b.feeds);
      const got = await tfl.run(b.feeds);
      ort.outputNames.forEach((name, k) => {
        const a = want[name]!, g = got[name];
        if (!g) throw new ModelGateError(`${label}: the .tflite has no output '${name}'`);
        if (g.data.length !== a.data.length) throw new ModelGateError(`${label}: output '${name}' has ${g.data.length} values in TFLite, ${a.data.length} in onnxruntime`);
        const av = a.data as Float32Array, gv = g.data as Float32Array;
        const { rows: r, width } = rows(a);
        for (let i = 0; i < b.count * width && i < av.length; i++) maxDiff = Math.max(maxDiff, Math.abs(Number(av[i]) - Number(gv[i])));
        if (k === 0 && width > 1 && r >= b.count) {
          for (let i = 0; i < b.count; i++) if (argmax(av, i * width, width) === argmax(gv, i * width, width)) agree++;
          classified += b.count;
        }
      });
      seen += b.count;
      if (seen >= samples) break;
    }
  } finally {
    await ort.release();
    await tfl.release();
  }
  return { against: 'onnx-source', samples: seen, max_abs_diff: maxDiff, top1_agreement: classified > 0 ? agree / classified : null };
}

/** Exports, writes, verifies. Throws (the candidate then fails) when a float32 export does not match its source. */
export async function buildTfliteCandidate(source: Model, sourceRuntime: RuntimeOptions, step: TfliteStep, options: TfliteBuildOptions): Promise<{ bytes: number; info: TfliteCandidateInfo; runtime: RuntimeOptions }> {
  const runtime = tfliteRuntimeOptions(step);
  const tfliteOptions = tfliteOptionsFrom({ ...runtime, intraOpThreads: options.threads });
  const inputShapes: Record<string, number[]> = Object.fromEntries(options.inputs.map((i) => [i.name, i.dynamicBatch ? [options.batch, ...i.shape.slice(1)] : i.shape]));
  const batch = options.inputs[0]?.dynamicBatch ? options.batch : (options.inputs[0]?.shape[0] ?? 1);
  let calibration: Feeds[] | undefined;
  if (step.quantize === 'int8') calibration = await options.ctx.calibration(step.samples ?? DEFAULT_SAMPLES);
  const exported = await exportTflite(source, { quantize: step.quantize, ioType: step.io_type, inputShapes, calibration, log: options.ctx.log });
  mkdirSync(path.dirname(options.file), { recursive: true });
  writeFileSync(options.file, exported.bytes);
  let verification: TfliteVerification;
  try {
    verification = await verifyTflite(source, sourceRuntime, exported.bytes, options.dataset, batch, path.basename(options.file), tfliteOptions);
  } catch (err) {
    throw new ModelGateError(`tflite export verification failed: ${errorMessage(err)}`, { cause: err });
  }
  options.ctx.log(
    `tflite ${step.quantize}: max |TFLite − onnxruntime| ${verification.max_abs_diff.toExponential(2)}` +
      (verification.top1_agreement !== null ? `, top-1 agreement ${(verification.top1_agreement * 100).toFixed(2)}%` : '') + ` on ${verification.samples} samples`,
  );
  if (step.quantize === 'float32') {
    const probe = await OrtSession.create(encodeModel(source), sourceRuntime, 'tflite tolerance probe');
    let scale = 1;
    try {
      const first = options.dataset.batches(batch, true).next().value;
      if (first) for (const t of Object.values(await probe.run(first.feeds))) for (const v of t.data as Float32Array) scale = Math.max(scale, Math.abs(Number(v)));
    } finally {
      await probe.release();
    }
    if (!(verification.max_abs_diff <= FLOAT32_TOLERANCE * scale)) {
      throw new ModelGateError(`the float32 .tflite differs from its ONNX source by up to ${verification.max_abs_diff} (tolerance ${FLOAT32_TOLERANCE * scale}); the export is wrong for this model`);
    }
  }
  return {
    bytes: exported.bytes.length,
    runtime,
    info: {
      quantize: step.quantize,
      io_type: step.io_type ?? 'float32',
      batch,
      operators: exported.model.graph.operators.length,
      notes: exported.notes,
      verification,
      runtime: await tfliteRuntimeInfo(exported.bytes, { ...runtime, intraOpThreads: options.threads }),
    },
  };
}
