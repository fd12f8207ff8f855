/**
 * Passes by name, and recipes: a list of single-key objects (`{ quantize: { mode: dynamic } }`) run in order.
 * Adding a pass is one file plus one line in PASSES.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { encodeModel, type Model } from '../model/onnx.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { ModelGateError } from '../errors.js';
import type { Pass, PassContext, PassDetails, PassNote } from './pass.js';
import { didYouMean } from '../config/suggest.js';
import { quantizePass } from './quantize.js';
import { fp16Pass } from './fp16.js';
import { cleanupPass } from './cleanup.js';
import { weightOnlyPass } from './weight-only.js';
import { prunePass } from './prune.js';
import { lowRankPass } from './lowrank.js';
import { ortOptimizePass } from './ort-optimize.js';
import { matmulNBitsPass } from './matmul-nbits.js';
import { fp32Pass } from './fp32.js';
import { keepHalfWeights } from './half-weights.js';

// Each pass declares its own option type; the registry only sees options as validated JSON.
const PASSES: ReadonlyArray<Pass<never>> = [cleanupPass, ortOptimizePass, quantizePass, weightOnlyPass, fp16Pass, prunePass, lowRankPass, matmulNBitsPass, fp32Pass];

const byName = new Map<string, Pass<never>>(PASSES.map((p) => [p.name, p]));

export function listPasses(): ReadonlyArray<Pass<never>> {
  return PASSES;
}

export function getPass(name: string): Pass<Record<string, unknown>> {
  const pass = byName.get(name);
  if (!pass) throw new ModelGateError(`unknown pass '${name}' (known: ${[...byName.keys()].join(', ')})`);
  return pass as unknown as Pass<Record<string, unknown>>;
}

const ajv = new Ajv({ allErrors: false, strict: true });
const validators = new Map<string, ValidateFunction>();

function validatorFor(pass: Pass<never>): ValidateFunction {
  let v = validators.get(pass.name);
  if (!v) {
    v = ajv.compile(pass.schema);
    validators.set(pass.name, v);
  }
  return v;
}

function optionPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

function describeError(e: ErrorObject, options: unknown): string {
  const at = optionPath(e.instancePath);
  let value: unknown = options;
  for (const p of e.instancePath.split('/').slice(1)) value = (value as Record<string, unknown>)?.[p];
  const got = ` (got ${JSON.stringify(value)})`;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = (e.params as { additionalProperty: string }).additionalProperty;
      return `unknown option '${at ? `${at}.` : ''}${name}'`;
    }
    case 'required':
      return `missing option '${(e.params as { missingProperty: string }).missingProperty}'`;
    case 'enum':
      return `option '${at}' must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(', ')}${got}`;
    case 'type':
      return at ? `option '${at}' must be ${(e.params as { type: string }).type}${got}` : `options must be an object${got}`;
    default:
      return `option '${at}' ${e.message ?? 'is invalid'}${got}`;
  }
}

/** A problem in a config's optimize list, at a key path from the config's top level (for the loader to locate). */
export interface RecipeProblem {
  path: Array<string | number>;
  message: string;
}

/**
 * Every pass problem in a config's `optimize` list at once, without throwing: unknown pass names (with the closest
 * known name) and every option that does not match the pass's schema. Entries the config schema itself rejects (not a
 * list, not single-key objects, auto entries) are left to it. The config loader takes this as its extra validator, so
 * that a misspelt pass shows in the same round as the schema's errors.
 */
const EXPORT_STEP = 'tflite';

export function recipeErrors(optimize: unknown): RecipeProblem[] {
  const problems: RecipeProblem[] = [];
  if (!Array.isArray(optimize)) return problems;
  optimize.forEach((entry: unknown, i) => {
    if (!entry || typeof entry !== 'object' || !Array.isArray((entry as { passes?: unknown }).passes)) return;
    ((entry as { passes: unknown[] }).passes).forEach((spec, j) => {
      const at: Array<string | number> = ['optimize', i, 'passes', j];
      let name: string;
      let raw: unknown;
      if (typeof spec === 'string') [name, raw] = [spec, {}];
      else if (spec && typeof spec === 'object' && !Array.isArray(spec) && Object.keys(spec).length === 1) [name, raw] = Object.entries(spec)[0]!;
      else return;
      // A trailing tflite step is an export, not a pass: the TFLite candidate producer checks its options.
      if (name === EXPORT_STEP) return;
      const pass = byName.get(name);
      if (!pass) {
        const known = [...byName.keys(), EXPORT_STEP];
        problems.push({ path: [...at, name], message: `unknown pass '${name}'${didYouMean(name, known)} (known: ${known.join(', ')})` });
        return;
      }
      if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) return; // the config schema reports it
      const options = structuredClone(raw ?? {}) as Record<string, unknown>;
      const validate = allErrorsValidatorFor(pass);
      if (validate(options)) return;
      for (const e of validate.errors ?? []) {
        let message = `'${name}': ${describeError(e, options)}`;
        if (e.keyword === 'additionalProperties') message += didYouMean((e.params as { additionalProperty: string }).additionalProperty, Object.keys((pass.schema as { properties?: object }).properties ?? {}));
        const optionKeys = e.instancePath.split('/').slice(1);
        if (e.keyword === 'additionalProperties') optionKeys.push((e.params as { additionalProperty: string }).additionalProperty);
        problems.push({ path: [...at, name, ...optionKeys.map((k) => (/^\d+$/.test(k) ? Number(k) : k))], message });
      }
    });
  });
  return problems;
}

/** recipeErrors over a whole config as parsed: what the command layer passes to loadConfig's `validate`. */
export function configRecipeErrors(data: unknown): RecipeProblem[] {
  return data && typeof data === 'object' ? recipeErrors((data as { optimize?: unknown }).optimize) : [];
}

const ajvAll = new Ajv({ allErrors: true, strict: true });
const allErrorsValidators = new Map<string, ValidateFunction>();

function allErrorsValidatorFor(pass: Pass<never>): ValidateFunction {
  let v = allErrorsValidators.get(pass.name);
  if (!v) {
    v = ajvAll.compile(pass.schema);
    allErrorsValidators.set(pass.name, v);
  }
  return v;
}

export interface RecipeStep {
  pass: string;
  options: Record<string, unknown>;
}

/**
 * Checks a recipe without running it: each entry is a single-key object naming a known pass, and its
 * options match the pass's schema. Errors name the entry, the pass and the option.
 */
export function validateRecipe(specs: ReadonlyArray<unknown>, where = 'passes'): RecipeStep[] {
  if (!Array.isArray(specs)) throw new ModelGateError(`${where} must be a list of passes`);
  return specs.map((spec, i) => {
    const at = `${where}[${i}]`;
    let name: string;
    let raw: unknown;
    if (typeof spec === 'string') {
      [name, raw] = [spec, {}];
    } else if (spec && typeof spec === 'object' && !Array.isArray(spec) && Object.keys(spec).length === 1) {
      [name, raw] = Object.entries(spec)[0]!;
    } else {
      throw new ModelGateError(`${at}: a pass is a single-key object such as { quantize: { mode: dynamic } } (got ${JSON.stringify(spec)})`);
    }
    const pass = byName.get(name);
    if (!pass) throw new ModelGateError(`${at}: unknown pass '${name}' (known: ${[...byName.keys()].join(', ')})`);
    const options = structuredClone(raw ?? {}) as Record<string, unknown>;
    const validate = validatorFor(pass);
    if (!validate(options)) {
      const e = validate.errors![0]!;
      throw new ModelGateError(`${at} '${name}': ${describeError(e, options)}`);
    }
    return { pass: name, options };
  });
}

export interface RecipeResult {
  model: Model;
  /** Session options the candidate needs (merged over its passes): measure with them, ship them. */
  runtime: RuntimeOptions;
  steps: RecipeStep[];
  /** Per step, in order: whether it changed the model, and what it did or why it did nothing. */
  notes: PassNote[];
  /** What each step reported beyond its model (only steps that reported something), in order. */
  details: Array<{ step: number; pass: string } & PassDetails>;
}

/** Validates the whole recipe first (a typo in step 3 fails before step 1 runs), then runs it in order. */
export async function runRecipe(model: Model, specs: ReadonlyArray<unknown>, ctx: PassContext): Promise<RecipeResult> {
  const steps = validateRecipe(specs);
  let current = model;
  const runtime: RuntimeOptions = {};
  const notes: PassNote[] = [];
  const details: RecipeResult['details'] = [];
  for (const [i, step] of steps.entries()) {
    const pass = getPass(step.pass);
    let said: { changed: boolean; why: string } | undefined;
    const stepCtx: PassContext = {
      calibration: (samples) => ctx.calibration(samples),
      log: (message) => ctx.log(message),
      note: (changed, why) => {
        said = { changed, why };
        ctx.note?.(changed, why);
      },
      detail: (d) => {
        details.push({ step: i, pass: step.pass, ...d });
        ctx.detail?.(d);
      },
    };
    if (ctx.scratchDir !== undefined) stepCtx.scratchDir = ctx.scratchDir;
    if (ctx.trainingSamples) stepCtx.trainingSamples = (samples) => ctx.trainingSamples!(samples);
    if (ctx.sourceFormat !== undefined) stepCtx.sourceFormat = ctx.sourceFormat;
    if (ctx.progress) stepCtx.progress = (name, k, n, detail) => ctx.progress!(name, k, n, detail);
    if (ctx.memo !== undefined) stepCtx.memo = ctx.memo;
    const before = current;
    current = await pass.run(current, step.options, stepCtx);
    // Float16 weights behind a Cast that the pass exposed and left float stay float16 (not for fp32, which
    // widens them on purpose).
    if (step.pass !== 'fp32') {
      const kept = keepHalfWeights(before, current);
      if (kept.restored > 0) {
        current = kept.model;
        ctx.log(`${step.pass}: ${kept.restored} float16 weight${kept.restored === 1 ? '' : 's'} it left float kept as float16 behind a Cast`);
      }
    }
    // A pass that does not say is judged by its output: the same bytes means no change.
    notes.push({ pass: step.pass, ...(said ?? (sameModel(before, current) ? { changed: false, why: 'the output is identical to the input' } : { changed: true, why: 'changed' })) });
    const extra = pass.runtimeOptions?.(step.options);
    if (extra) {
      const { configEntries, ...rest } = extra;
      Object.assign(runtime, rest);
      if (configEntries) runtime.configEntries = { ...runtime.configEntries, ...configEntries };
    }
  }
  return { model: current, runtime, steps, notes, details };
}

function sameModel(a: Model, b: Model): boolean {
  if (a === b) return true;
  return Buffer.from(encodeModel(a)).equals(Buffer.from(encodeModel(b)));
}
