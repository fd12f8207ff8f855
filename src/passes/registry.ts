/**
 * Passes by name, and recipes: a list of single-key objects (`{ quantize: { mode: dynamic } }`) run in order.
 * Adding a pass is one file plus one line in PASSES.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Model } from '../model/onnx.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { ModelGateError } from '../errors.js';
import type { Pass, PassContext, PassDetails } from './pass.js';
import { quantizePass } from './quantize.js';
import { fp16Pass } from './fp16.js';
import { cleanupPass } from './cleanup.js';
import { weightOnlyPass } from './weight-only.js';
import { prunePass } from './prune.js';
import { lowRankPass } from './lowrank.js';
import { ortOptimizePass } from './ort-optimize.js';

// Each pass declares its own option type; the registry only sees options as validated JSON.
const PASSES: ReadonlyArray<Pass<never>> = [cleanupPass, ortOptimizePass, quantizePass, weightOnlyPass, fp16Pass, prunePass, lowRankPass];

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
  /** What each step reported beyond its model (only steps that reported something), in order. */
  details: Array<{ step: number; pass: string } & PassDetails>;
}

/** Validates the whole recipe first (a typo in step 3 fails before step 1 runs), then runs it in order. */
export async function runRecipe(model: Model, specs: ReadonlyArray<unknown>, ctx: PassContext): Promise<RecipeResult> {
  const steps = validateRecipe(specs);
  let current = model;
  const runtime: RuntimeOptions = {};
  const details: RecipeResult['details'] = [];
  for (const [i, step] of steps.entries()) {
    const pass = getPass(step.pass);
    const stepCtx: PassContext = {
      ...ctx,
      calibration: (n) => ctx.calibration(n),
      log: (m) => ctx.log(m),
      note: (d) => {
        details.push({ step: i, pass: step.pass, ...d });
        ctx.note?.(d);
      },
    };
    current = await pass.run(current, step.options, stepCtx);
    const extra = pass.runtimeOptions?.(step.options);
    if (extra) {
      const { configEntries, ...rest } = extra;
      Object.assign(runtime, rest);
      if (configEntries) runtime.configEntries = { ...runtime.configEntries, ...configEntries };
    }
  }
  return { model: current, runtime, steps, details };
}
