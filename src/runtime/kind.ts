/**
 * Which runtime runs a model file, and one session shape over both: evaluation and the benchmark worker
 * open sessions through here, so a .tflite candidate is measured by TFLite and an .onnx one by onnxruntime.
 */
import type { Feeds, HostTensor } from '../model/host-tensor.js';
import { OrtSession, type RuntimeOptions } from './session.js';
import { TfliteSession, tfliteOptionsFrom } from './tflite.js';
// exported TF.js layers models (model.json) are candidates too.
import { TfjsSession } from './tfjs-session.js';

export type RuntimeKind = 'onnxruntime' | 'tflite' | 'tfjs';

/** What evaluation and verification need from a session; OrtSession and TfliteSession both fit. */
export interface ModelSession {
  readonly label: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Feeds, outputNames?: readonly string[]): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

export function runtimeKindOf(file: string): RuntimeKind {
  const lower = file.toLowerCase();
  if (lower.endsWith('.tflite')) return 'tflite';
  return lower.endsWith('.json') ? 'tfjs' : 'onnxruntime';
}

/**
 * Opens `file` in `kind` (by default, from its extension). For TFLite, `intraOpThreads` is the interpreter's
 * thread count and configEntries['tflite.xnnpack'] the XNNPACK choice (see tfliteOptionsFrom).
 */
export async function openSession(file: string, options: RuntimeOptions, label: string, kind: RuntimeKind = runtimeKindOf(file)): Promise<ModelSession> {
  if (kind === 'tflite') return TfliteSession.create(file, tfliteOptionsFrom(options), label);
  if (kind === 'tfjs') return TfjsSession.create(file, label); // the backend is per process (loadTfjs)
  return OrtSession.create(file, options, label);
}
