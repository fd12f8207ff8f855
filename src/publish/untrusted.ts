/**
 * Data that crosses a trust boundary before it is posted: report.json and the run context that a
 * `mode: measure` job (which may run a fork's code) uploads, read back by `mode: publish` (which holds
 * a write token). Everything here assumes the bytes were written by an attacker:
 * - the zip is parsed by hand, only the few entries we want are inflated, each with a hard output cap,
 *   so a zip bomb or a path like ../../.bashrc never touches the disk;
 * - report.json and the context are schema-validated (types, ranges, lengths, counts) with ajv;
 * - every string that reaches markdown goes through mdText/htmlText/mermaidLabel, which leave no
 *   HTML, link, image, mention, issue reference, math or table break to a hostile value.
 */
import { inflateRawSync } from 'node:zlib';
import { Ajv, type ErrorObject } from 'ajv';
import type { Report } from '../report/types.js';
import { checkReport } from '../report/validate.js';
import { plainText } from '../report/escape.js';

export const LIMITS = {
  /** report.json as read from an artifact. A real one is tens of KB; 8 MiB leaves room for thousands of candidates. */
  reportBytes: 8 * 1024 * 1024,
  contextBytes: 64 * 1024,
  /** The artifact zip a publish or merge job downloads (compressed). Measure artifacts hold only the report. */
  artifactBytes: 64 * 1024 * 1024,
  /** Artifacts read per run: a matrix is rarely wider than a handful of runners. */
  artifacts: 32,
  candidates: 1000,
  checksPerCandidate: 100,
  idChars: 200,
  messageChars: 4000,
  errorChars: 20_000,
} as const;

export class UntrustedDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UntrustedDataError';
  }
}

// ---------------------------------------------------------------------------------------------
// Escaping
// ---------------------------------------------------------------------------------------------

// The escapers live in src/report/escape.ts (report renders with them); re-exported for publish's callers.
export { plainText, mdText, htmlText, mermaidLabel, shellWord } from '../report/escape.js';

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

const str = (max: number) => ({ type: 'string', maxLength: max });
const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });

/** What a measure (or run/auto) job records beside report.json so a publish job can verify where it came from. */
export interface ArtifactContext {
  kind: 'modelgate-context';
  version: 1;
  /** The publish key: comment marker and artifact name suffix. */
  key: string;
  mode: string;
  /** The config path relative to the workspace. */
  config: string;
  event: string;
  /** The pull request the measure job ran for, or null outside a pull_request event. */
  pull_request: number | null;
  head_sha: string | null;
  base_sha: string | null;
  run_id: number | null;
  runner: { os: string; arch: string; name: string };
}

export const CONTEXT_FILE = 'modelgate-context.json';

const sha = nullable({ type: 'string', pattern: '^[0-9a-f]{40}$' });
export const CONTEXT_SCHEMA = {
  type: 'object',
  required: ['kind', 'version', 'key', 'pull_request', 'head_sha'],
  properties: {
    kind: { const: 'modelgate-context' },
    version: { const: 1 },
    key: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,200}$' },
    mode: str(20),
    config: str(1000),
    event: str(100),
    pull_request: nullable({ type: 'integer', minimum: 1, maximum: 2_147_483_647 }),
    head_sha: sha,
    base_sha: sha,
    run_id: nullable({ type: 'integer', minimum: 0 }),
    runner: { type: 'object', properties: { os: str(100), arch: str(100), name: str(200) } },
  },
};

const ajv = new Ajv({ allErrors: true, strict: false });
const validateContextSchema = ajv.compile(CONTEXT_SCHEMA);

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  const list = (errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
  const more = (errors?.length ?? 0) > 5 ? ` (and ${errors!.length - 5} more)` : '';
  return plainText(list.join('; ') + more, 1000);
}

function parseJson(bytes: Buffer, maxBytes: number, what: string): unknown {
  if (bytes.length > maxBytes) throw new UntrustedDataError(`${what}: ${bytes.length} bytes is over the ${maxBytes}-byte limit`);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new UntrustedDataError(`${what}: not JSON (${plainText(err instanceof Error ? err.message : err, 200)})`);
  }
}

/** report.json bytes from an untrusted source → a Report whose every field the renderer reads has the right type and size. */
export function parseUntrustedReport(bytes: Buffer, what = 'report.json'): Report {
  const data = parseJson(bytes, LIMITS.reportBytes, what);
  const checked = checkReport(data);
  if ('errors' in checked) throw new UntrustedDataError(`${what} does not match the report.json schema (schema/report.schema.json): ${plainText(checked.errors, 1000)}`);
  return checked.report;
}

export function parseUntrustedContext(bytes: Buffer, what = CONTEXT_FILE): ArtifactContext {
  const data = parseJson(bytes, LIMITS.contextBytes, what);
  if (!validateContextSchema(data)) throw new UntrustedDataError(`${what} does not match the context schema: ${describeErrors(validateContextSchema.errors)}`);
  return data as unknown as ArtifactContext;
}

// ---------------------------------------------------------------------------------------------
// Zip
// ---------------------------------------------------------------------------------------------

/**
 * Reads the named entries of a zip without extracting anything else. Offsets and sizes are bounds-checked,
 * only stored and deflated entries are read, and inflation stops at each entry's byte cap. Entries that are
 * absent are absent from the result; a name that appears twice is refused (which copy would a reader trust?).
 */
export function readZipEntries(zip: Buffer, wanted: Record<string, number>): Map<string, Buffer> {
  const fail = (why: string): never => {
    throw new UntrustedDataError(`artifact zip: ${why}`);
  };
  const u16 = (at: number) => (at + 2 <= zip.length ? zip.readUInt16LE(at) : fail('truncated'));
  const u32 = (at: number) => (at + 4 <= zip.length ? zip.readUInt32LE(at) : fail('truncated'));
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('no end of central directory record');
  const count = u16(eocd + 10);
  let offset = u32(eocd + 16);
  const found = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (u32(offset) !== 0x02014b50) fail(`bad central directory entry at ${offset}`);
    const flags = u16(offset + 8);
    const method = u16(offset + 10);
    const compressedSize = u32(offset + 20);
    const size = u32(offset + 24);
    const nameLength = u16(offset + 28);
    const next = offset + 46 + nameLength + u16(offset + 30) + u16(offset + 32);
    if (offset + 46 + nameLength > zip.length) fail('truncated');
    const name = zip.subarray(offset + 46, offset + 46 + nameLength).toString('utf8');
    const cap = Object.hasOwn(wanted, name) ? wanted[name]! : undefined;
    if (cap !== undefined) {
      if (found.has(name)) fail(`${name} appears twice`);
      if (flags & 1) fail(`${name} is encrypted`);
      if (size > cap) fail(`${name}: ${size} bytes is over the ${cap}-byte limit`);
      const local = u32(offset + 42);
      if (u32(local) !== 0x04034b50) fail(`${name}: bad local header`);
      const start = local + 30 + u16(local + 26) + u16(local + 28);
      if (start + compressedSize > zip.length) fail(`${name}: data runs past the end`);
      const data = zip.subarray(start, start + compressedSize);
      let content: Buffer;
      if (method === 0) content = Buffer.from(data);
      else if (method === 8) {
        try {
          content = inflateRawSync(data, { maxOutputLength: cap + 1 });
        } catch (err) {
          return fail(`${name}: cannot inflate within ${cap} bytes (${plainText(err instanceof Error ? err.message : err, 100)})`);
        }
      } else return fail(`${name}: compression method ${method} is not supported`);
      if (content.length > cap) fail(`${name}: over the ${cap}-byte limit`);
      found.set(name, content);
    }
    offset = next;
  }
  return found;
}
