/**
 * Loads modelgate.yml: YAML with positions (the `yaml` library's CST ranges), validated with ajv
 * against ./schema.ts. Every error names the file, the key path and line:col, and all of them are reported
 * in one round: the schema's, and those of an optional extra validator (the pass options, which the schema
 * leaves to each pass) that the command layer passes in.
 */
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode, type Document } from 'yaml';
import { Ajv, type ErrorObject } from 'ajv';
import { configSchema, MAX_CANDIDATES } from './schema.js';
import type { Config, LoadedConfig, SourcePosition } from './types.js';
import { ModelGateError, errorMessage } from '../errors.js';
import { didYouMean } from './suggest.js';
import { checkConfigPath, configPathPolicy, readFileSafe } from '../io/files.js';

const MAX_CONFIG_BYTES = 1 << 20;
const MAX_ALIAS_COUNT = 100;

// verbose: errors carry their parent schema, whose property names feed "did you mean".
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
const validate = ajv.compile(configSchema);

/** A problem an extra validator found, at a key path from the config's top level. */
export interface ConfigProblem {
  path: Array<string | number>;
  message: string;
}

export interface LoadOptions {
  /**
   * More checks on the parsed config, run even when the schema fails, so that every error shows at once.
   * Gets the data as parsed (defaults filled where the schema could), returns problems with key paths.
   */
  validate?: (data: unknown) => ConfigProblem[];
}

export function loadConfig(file: string, options: LoadOptions = {}): LoadedConfig {
  // The config is the user's own choice of file (--config), so it may live anywhere; it must still be a regular file under the cap.
  const text = readFileSafe(file, { maxBytes: MAX_CONFIG_BYTES, what: 'config' }).toString('utf8');
  return parseConfig(text, file, options);
}

export function parseConfig(text: string, file: string, options: LoadOptions = {}): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const name = path.basename(file);
  const at = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = at(e.pos[0]);
    throw new ModelGateError(`${file}: invalid YAML: ${e.message.split('\n')[0]} (${name}:${pos.line}:${pos.col})`);
  }
  let data: unknown;
  try {
    // maxAliasCount bounds the expansion of alias chains ("billion laughs"); an undefined alias throws here too.
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    const reason = errorMessage(err).split('\n')[0]!;
    throw new ModelGateError(`${file}: invalid YAML: ${reason}${/alias count/i.test(reason) ? ` (aliases may expand at most ${MAX_ALIAS_COUNT} times)` : ''}`, { cause: err });
  }
  const locate = (keyPath: ReadonlyArray<string | number>, wantKey = false): SourcePosition | undefined => {
    const node = nodeAt(doc, keyPath, wantKey);
    return node?.range ? at(node.range[0]) : undefined;
  };
  const nonFinite = findNonFinite(data);
  if (nonFinite) {
    const pos = locate(nonFinite.path);
    throw new ModelGateError(`${file}: invalid config:\n  ${formatPath(nonFinite.path)}: expected a finite number, got ${nonFinite.value}${pos ? ` (${name}:${pos.line}:${pos.col})` : ''}`);
  }
  const found = validate(data) ? [] : (validate.errors ?? []).filter(relevant).map((e) => describe(e, data, locate, name));
  let extra: ConfigProblem[] = [];
  try {
    extra = options.validate?.(data) ?? [];
  } catch (err) {
    // A validator that trips over a shape the schema already rejects must not hide the schema's errors.
    if (found.length === 0) throw err;
  }
  for (const problem of extra) {
    const pos = locate(problem.path, true);
    found.push({ text: `${formatPath(problem.path)}: ${problem.message}${pos ? ` (${name}:${pos.line}:${pos.col})` : ''}`, line: pos?.line ?? 0, col: pos?.col ?? 0 });
  }
  if (found.length > 0) {
    found.sort((a, b) => a.line - b.line || a.col - b.col);
    const messages = [...new Set(found.map((f) => f.text))];
    throw new ModelGateError(`${file}: invalid config:\n  ${messages.join('\n  ')}`);
  }
  const config = data as unknown as Config;
  checkCandidateCount(config, file);
  config.inputs ??= {};
  const dir = path.dirname(path.resolve(file));
  const policy = configPathPolicy(dir);
  const resolve = (relative: string): string => {
    const target = path.resolve(dir, relative);
    checkConfigPath(target, policy, `${file}: '${relative}'`);
    return target;
  };
  return { config, file, dir, locate, resolve };
}

/** The YAML node at a key path: its value for scalars/collections, so the column points at what is wrong. */
function nodeAt(doc: Document, keyPath: ReadonlyArray<string | number>, wantKey = false): YamlNode | undefined {
  let node: unknown = doc.contents;
  for (const [i, key] of keyPath.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (!pair) return node as YamlNode;
      node = wantKey && i === keyPath.length - 1 ? pair.key : (pair.value ?? pair.key);
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
    } else {
      return undefined;
    }
  }
  return node as YamlNode | undefined;
}

/** ajv reports every branch of a oneOf; keep the errors a person needs. */
function relevant(e: ErrorObject): boolean {
  return e.keyword !== 'if';
}

function keyPathOf(e: ErrorObject): Array<string | number> {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const out: Array<string | number> = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  if (e.keyword === 'additionalProperties') out.push((e.params as { additionalProperty: string }).additionalProperty);
  return out;
}

function formatPath(keyPath: ReadonlyArray<string | number>): string {
  return keyPath.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), '') || '(top level)';
}

function valueAt(data: unknown, keyPath: ReadonlyArray<string | number>): unknown {
  let cur = data;
  for (const k of keyPath) cur = cur != null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[k] : undefined;
  return cur;
}

function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

type Locate = (keyPath: ReadonlyArray<string | number>, wantKey?: boolean) => SourcePosition | undefined;

function describe(e: ErrorObject, data: unknown, locate: Locate, name: string): { text: string; line: number; col: number } {
  const keyPath = keyPathOf(e);
  const got = valueAt(data, e.keyword === 'additionalProperties' ? keyPath.slice(0, -1) : keyPath);
  let what: string;
  switch (e.keyword) {
    case 'type':
      what = `expected ${article((e.params as { type: string | string[] }).type)}, got ${show(got)}`;
      break;
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      const hint = typeof got === 'string' ? didYouMean(got, allowed.filter((v): v is string => typeof v === 'string')) : '';
      what = `expected one of ${allowed.map((v) => String(v)).join(', ')}, got ${show(got)}${hint}`;
      break;
    }
    case 'required':
      keyPath.push((e.params as { missingProperty: string }).missingProperty);
      what = 'is required';
      break;
    case 'additionalProperties': {
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      what = `is not a known key${didYouMean(String(keyPath[keyPath.length - 1]), known)}`;
      break;
    }
    default:
      what = `${e.message ?? 'is invalid'}${got !== undefined && typeof got !== 'object' ? `, got ${show(got)}` : ''}`;
  }
  const pos = e.keyword === 'required' ? locate(keyPath.slice(0, -1)) : locate(keyPath, e.keyword === 'additionalProperties');
  const text = `${formatPath(keyPath)}: ${what}${pos ? ` (${name}:${pos.line}:${pos.col})` : ''}`;
  return { text, line: pos?.line ?? 0, col: pos?.col ?? 0 };
}

function article(type: string | string[]): string {
  const t = Array.isArray(type) ? type.join(' or ') : type;
  const word = t === 'integer' ? 'an integer' : t === 'object' ? 'a mapping' : t === 'array' ? 'a list' : `a ${t}`;
  return word;
}

/** YAML's .inf and .nan (and overflowing literals like 1e400) are numbers to ajv; no config key means them. */
function findNonFinite(data: unknown): { path: Array<string | number>; value: number } | undefined {
  // Iterative: a config is small, but its nesting is the PR author's choice.
  const stack: Array<{ v: unknown; path: Array<string | number> }> = [{ v: data, path: [] }];
  while (stack.length > 0) {
    const { v, path: at } = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) return { path: at, value: v };
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, path: [...at, i] }));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) stack.push({ v: x, path: [...at, k] });
  }
  return undefined;
}

/** The schema's maxItems, again for configs built in code: every candidate costs a build, an evaluation and a worker. */
export function checkCandidateCount(config: Pick<Config, 'optimize'>, file: string): void {
  const n = config.optimize?.length ?? 0;
  if (n > MAX_CANDIDATES) {
    throw new ModelGateError(`${file}: optimize lists ${n} candidates; at most ${MAX_CANDIDATES} are allowed (each is built, evaluated and benchmarked in its own worker)`);
  }
}
