/** A thin onnxruntime-node session over HostTensors: the one place that talks to ORT's API. */
import type * as Ort from 'onnxruntime-node';
import { loadOrt } from './ort.js';
import type { Feeds, HostTensor } from '../model/host-tensor.js';
import { ModelGateError, errorMessage } from '../errors.js';

export interface RuntimeOptions {
  intraOpThreads?: number;
  interOpThreads?: number;
  executionMode?: 'sequential' | 'parallel';
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  executionProviders?: string[];
  /** Session config entries, e.g. { 'session.disable_quant_qdq': '1' }: part of a candidate, shipped with it. */
  configEntries?: Record<string, string>;
  optimizedModelFilePath?: string;
  /** onnxruntime's log level for this session (0 verbose … 4 fatal); its default (2, warnings) when absent. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

export function toOrtOptions(o: RuntimeOptions): Ort.InferenceSession.SessionOptions {
  const opts: Ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: o.intraOpThreads ?? 1,
    interOpNumThreads: o.interOpThreads ?? 1,
    executionMode: o.executionMode ?? 'sequential',
    graphOptimizationLevel: o.graphOptimizationLevel ?? 'all',
    executionProviders: (o.executionProviders ?? ['cpu']) as Ort.InferenceSession.ExecutionProviderConfig[],
  };
  if (o.configEntries && Object.keys(o.configEntries).length > 0) (opts as Record<string, unknown>).extra = nestEntries(o.configEntries);
  if (o.optimizedModelFilePath) opts.optimizedModelFilePath = o.optimizedModelFilePath;
  if (o.logSeverityLevel !== undefined) opts.logSeverityLevel = o.logSeverityLevel;
  return opts;
}

/** onnxruntime-node takes config entries as a nested `extra` object: 'session.x' → { session: { x } }. */
function nestEntries(entries: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entries)) {
    const parts = key.split('.');
    let cur = out;
    for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
    cur[parts[parts.length - 1]!] = value;
  }
  return out;
}

const MAX_FEEDS_LISTED = 8;
const NESTED_STATUS = /^Non-zero status code returned while running (\S+) node\. Name:'([^']*)' Status Message: /;

/**
 * An ORT run failure, said plainly: ORT nests the status of a node inside an If/Loop/Scan body in its
 * parent's ("… running If node. Name:'If_0' Status Message: … running LSTM node. Name:'…/LSTM' Status
 * Message: <the cause>"), so the cause comes first, then the node and the bodies it sits in, then the shape
 * of every feed: the node's own input names (initial_h) are not the model's, the feeds' shapes are what the
 * user can change.
 */
export function runFailure(message: string, feeds?: Readonly<Record<string, { type: string; dims: readonly number[] }>>): string {
  const path: Array<{ op: string; name: string }> = [];
  let rest = message.trim();
  for (let m = NESTED_STATUS.exec(rest); m; m = NESTED_STATUS.exec(rest)) {
    path.push({ op: m[1]!, name: m[2]! });
    rest = rest.slice(m[0].length);
  }
  let out = rest;
  if (path.length > 0) {
    const { op, name } = path[path.length - 1]!;
    const inside = path.slice(0, -1).map((p) => `${p.op} '${p.name}'`);
    out = `${op} node${name ? ` '${name}'` : ''}${inside.length > 0 ? ` (inside ${inside.join(' > ')})` : ''}: ${rest}`;
  }
  const fed = Object.entries(feeds ?? {});
  if (fed.length > 0) {
    // A decoder may have dozens of KV-cache feeds: the first few say enough.
    const shown = fed.slice(0, MAX_FEEDS_LISTED).map(([name, t]) => `${name} ${t.type}[${t.dims.join(', ')}]`);
    if (fed.length > MAX_FEEDS_LISTED) shown.push(`${fed.length - MAX_FEEDS_LISTED} more`);
    out += ` [fed ${shown.join(', ')}]`;
  }
  return out;
}

export class OrtSession {
  private constructor(
    private readonly ort: ReturnType<typeof loadOrt>,
    readonly session: Ort.InferenceSession,
    readonly label: string,
  ) {}

  static async create(model: string | Uint8Array, options: RuntimeOptions = {}, label = typeof model === 'string' ? model : '<memory>'): Promise<OrtSession> {
    const ort = loadOrt();
    try {
      const opts = toOrtOptions(options);
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
      return new OrtSession(ort, session, label);
    } catch (err) {
      throw new ModelGateError(`${label}: onnxruntime could not load the model: ${errorMessage(err)}`, { cause: err });
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  toOrtFeeds(feeds: Feeds): Record<string, Ort.Tensor> {
    const out: Record<string, Ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      out[name] = new this.ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
    }
    return out;
  }

  /** Runs already-converted feeds: the benchmark loop's path, with no conversion per call. */
  async runOrt(feeds: Record<string, Ort.Tensor>): Promise<Ort.InferenceSession.OnnxValueMapType> {
    return this.session.run(feeds);
  }

  async run(feeds: Feeds, outputNames?: readonly string[]): Promise<Record<string, HostTensor>> {
    let result: Ort.InferenceSession.OnnxValueMapType;
    try {
      result = outputNames ? await this.session.run(this.toOrtFeeds(feeds), outputNames) : await this.session.run(this.toOrtFeeds(feeds));
    } catch (err) {
      throw new ModelGateError(`${this.label}: inference failed: ${runFailure(errorMessage(err), feeds)}`, { cause: err });
    }
    const out: Record<string, HostTensor> = {};
    for (const [name, v] of Object.entries(result)) {
      const t = v as Ort.Tensor;
      out[name] = { type: t.type as HostTensor['type'], dims: [...t.dims], data: t.data as HostTensor['data'] };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
