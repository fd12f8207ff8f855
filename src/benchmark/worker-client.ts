/** Starting a benchmark worker from source (tsx) or from the ncc bundle, and talking to it. */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Feeds } from '../model/host-tensor.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { RuntimeKind } from '../runtime/kind.js';
import { ModelGateError } from '../errors.js';
import type { WorkerLoaded, WorkerRan, WorkerReply, WorkerRequest } from './protocol.js';

// webpack (ncc) rewrites `createRequire`; process.getBuiltinModule keeps a real one.
const { createRequire } = process.getBuiltinModule('node:module') as typeof import('node:module');

export interface WorkerEntry {
  /** The script to fork. */
  file: string;
  /** Node flags for it: the tsx loader when running from source. */
  execArgv: string[];
}

/**
 * Where the worker script is, seen from the module at `moduleUrl` (this one by default).
 * From source (a .ts file under vitest or tsx) it is ./worker.ts, run through tsx.
 * From a bundle (dist/index.js, dist/cli/index.js, ...) it is worker/index.js in the nearest
 * folder upward that has one, stopping at the first folder named dist. Built with the
 * `new URL(literal, import.meta.url)` idiom instead, webpack would copy the file as an asset.
 */
export function benchmarkWorkerEntry(moduleUrl: string = import.meta.url): WorkerEntry {
  const here = fileURLToPath(moduleUrl);
  const dir = path.dirname(here);
  if (/\.[cm]?ts$/.test(here)) {
    return { file: path.join(dir, 'worker.ts'), execArgv: ['--import', tsxLoader(here)] };
  }
  const sibling = path.join(dir, 'worker.js');
  if (path.basename(here) !== 'index.js' && existsSync(sibling)) return { file: sibling, execArgv: [] };
  for (let d = dir; ; d = path.dirname(d)) {
    const candidate = path.join(d, 'worker', 'index.js');
    if (existsSync(candidate)) return { file: candidate, execArgv: [] };
    if (path.basename(d) === 'dist' || path.dirname(d) === d) break;
  }
  throw new ModelGateError(`benchmark worker not found: no worker/index.js next to ${here} or above it up to its dist folder; rebuild with npm run build`);
}

function tsxLoader(from: string): string {
  try {
    return pathToFileURL(createRequire(from).resolve('tsx')).href;
  } catch {
    return 'tsx';
  }
}

const STDERR_TAIL_BYTES = 4096;

/**
 * Backstop for worker processes alive in this process at once, whoever starts them (the runner
 * groups models to stay at MAX_LIVE_WORKERS; this catches any path that does not).
 */
export const MAX_WORKER_PROCESSES = 16;
let liveWorkers = 0;

/** Worker processes started and not yet exited. */
export function liveWorkerCount(): number {
  return liveWorkers;
}

/**
 * One worker process, one request at a time. Replies come back in order, so a single pending slot
 * is enough; an exit while a request is pending rejects it with the tail of the worker's stderr.
 */
export class BenchmarkWorker {
  private pending: { resolve: (r: WorkerReply) => void; reject: (e: Error) => void } | undefined;
  private stderrTail = '';
  private exited: Error | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.stdout?.resume(); // a worker has nothing to say on stdout, and an unread pipe would block it
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    child.on('message', (msg: WorkerReply) => {
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(msg);
    });
    child.on('error', (err) => this.fail(new ModelGateError(`${label}: benchmark worker failed: ${err.message}`, { cause: err })));
    child.on('exit', (code, signal) => {
      const detail = this.stderrTail.trim() ? `; its stderr ended with:\n${this.stderrTail.trim()}` : '';
      this.fail(new ModelGateError(`${label}: benchmark worker exited (${signal ?? `code ${code}`})${detail}`));
    });
  }

  private fail(err: Error): void {
    this.exited ??= err;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }

  /** Forks a worker and waits until its runtime (onnxruntime, or TFLite for runtimeKind 'tflite') is loaded in it. */
  static async start(label: string, entry: WorkerEntry = benchmarkWorkerEntry(), runtimeKind: RuntimeKind = 'onnxruntime'): Promise<BenchmarkWorker> {
    if (liveWorkers >= MAX_WORKER_PROCESSES) {
      throw new ModelGateError(`${label}: ${liveWorkers} benchmark workers are already running; at most ${MAX_WORKER_PROCESSES} may run at once`);
    }
    liveWorkers++;
    const child = fork(entry.file, runtimeKind === 'onnxruntime' ? [] : [runtimeKind], {
      execArgv: entry.execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let counted = true;
    const release = () => {
      if (counted) liveWorkers--;
      counted = false;
    };
    child.once('exit', release);
    child.once('error', () => {
      if (child.pid === undefined) release();
    });
    const worker = new BenchmarkWorker(child, label);
    const ready = await worker.receive();
    if (ready.type !== 'ready') throw worker.unexpected(ready, 'ready');
    worker.onnxruntime = ready.onnxruntime;
    return worker;
  }

  /** onnxruntime version as loaded in the worker. */
  onnxruntime = '';

  get pid(): number | undefined {
    return this.child.pid;
  }

  private receive(): Promise<WorkerReply> {
    if (this.exited) return Promise.reject(this.exited);
    if (this.pending) return Promise.reject(new Error(`${this.label}: benchmark worker is busy`));
    return new Promise((resolve, reject) => (this.pending = { resolve, reject }));
  }

  private request(req: WorkerRequest): Promise<WorkerReply> {
    const reply = this.receive();
    if (!this.exited) this.child.send(req);
    return reply;
  }

  private unexpected(reply: WorkerReply, wanted: string): Error {
    if (reply.type === 'error') return new ModelGateError(reply.message);
    return new Error(`${this.label}: benchmark worker answered '${reply.type}' to '${wanted}'`);
  }

  /** Creates the session (falling back to cpu if the requested providers fail) and runs once. */
  async load(modelPath: string, runtime: RuntimeOptions, feeds: Feeds, runtimeKind?: RuntimeKind): Promise<WorkerLoaded> {
    const reply = await this.request({ type: 'load', modelPath, runtime, feeds, label: this.label, ...(runtimeKind && runtimeKind !== 'onnxruntime' ? { runtimeKind } : {}) });
    if (reply.type !== 'loaded') throw this.unexpected(reply, 'load');
    return reply;
  }

  /** Runs `iterations` timed inferences and returns their durations. */
  async run(iterations: number): Promise<WorkerRan> {
    if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
    const reply = await this.request({ type: 'run', iterations });
    if (reply.type !== 'ran') throw this.unexpected(reply, 'run');
    return reply;
  }

  /** Asks the worker to release its session and exit; kills it if it has not within `graceMs`. */
  async close(graceMs = 2000): Promise<void> {
    if (this.exited || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.child.send({ type: 'exit' } satisfies WorkerRequest);
    } catch {
      // the channel is already closed: the kill below settles it
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}
