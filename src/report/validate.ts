/**
 * report.json from an untrusted source (another job's artifact, a stored base report) checked against
 * schema/report.schema.json, which is generated from src/report/types.ts. The generated schema says
 * what each field is; here every string, list and map also gets a size cap, so a hostile report can't
 * make the renderer's work unbounded.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { REPORT_JSON_SCHEMA } from './schema.generated.js';
import type { Report } from './types.js';

export const REPORT_LIMITS = {
  /** report.json as read from an artifact. A real one is tens of KB; 8 MiB leaves room for thousands of candidates. */
  bytes: 8 * 1024 * 1024,
  stringChars: 20_000,
  listItems: 1_000,
  mapKeys: 200,
} as const;

type Schema = Record<string, unknown>;

/** A copy of `schema` with a cap on every string, array and open-ended object that has none. */
export function capped(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(capped);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema as Schema)) out[k] = k === 'const' || k === 'enum' ? v : capped(v);
  const types = ([] as unknown[]).concat(out.type ?? []);
  if (types.includes('string') && out.maxLength === undefined) out.maxLength = REPORT_LIMITS.stringChars;
  if (types.includes('array') && out.maxItems === undefined) out.maxItems = REPORT_LIMITS.listItems;
  if (types.includes('object') && out.additionalProperties !== false && out.maxProperties === undefined) out.maxProperties = REPORT_LIMITS.mapKeys;
  return out;
}

const validate = new Ajv({ allErrors: true, strict: false }).compile(capped(REPORT_JSON_SCHEMA) as Schema);

export function describeSchemaErrors(errors: ErrorObject[] | null | undefined): string {
  const list = (errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
  return list.join('; ') + ((errors?.length ?? 0) > 5 ? ` (and ${errors!.length - 5} more)` : '');
}

/** The parsed value as a Report, or the schema's complaints. */
export function checkReport(data: unknown): { report: Report } | { errors: string } {
  return validate(data) ? { report: data as Report } : { errors: describeSchemaErrors(validate.errors) };
}
