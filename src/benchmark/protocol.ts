/** Messages between the benchmark parent and its worker process (IPC with `serialization: 'advanced'`, so typed arrays cross as-is). */
import type { Feeds } from '../model/host-tensor.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { RuntimeKind } from '../runtime/kind.js';

export type WorkerRequest =
  | { type: 'load'; modelPath: string; runtime: RuntimeOptions; feeds: Feeds; label: string; /** 'onnxruntime' when absent. */ runtimeKind?: RuntimeKind }
  | { type: 'run'; iterations: number }
  | { type: 'exit' };

export interface WorkerReady {
  type: 'ready';
  onnxruntime: string;
  /** The runtime this worker loaded, when it is not onnxruntime (e.g. 'tfjs-tflite-node@0.0.2'). */
  runtime?: string;
}

export interface WorkerLoaded {
  type: 'loaded';
  /** InferenceSession.create, ms. */
  createMs: number;
  /** The first run after create, ms (allocations, kernel selection, lazy init). */
  firstRunMs: number;
  /** createMs + firstRunMs: what a fresh process pays before the first answer, onnxruntime already loaded. */
  coldStartMs: number;
  /** The providers the session was created with: the requested list, or ['cpu'] after a fallback. */
  executionProviders: string[];
  /** Why the requested providers were not used, when they were not. */
  fallbackReason?: string;
  inputNames: string[];
  outputNames: string[];
}

export interface WorkerRan {
  type: 'ran';
  /** One entry per session.run, ms, from process.hrtime.bigint() around the awaited call. */
  durationsMs: Float64Array;
  /** The worker's peak resident set so far (process.resourceUsage().maxRSS), bytes. */
  peakRssBytes: number;
}

export interface WorkerFailed {
  type: 'error';
  message: string;
}

export type WorkerReply = WorkerReady | WorkerLoaded | WorkerRan | WorkerFailed;
