/**
 * Benchmark worker: a child process that owns one onnxruntime session, so each measured model
 * gets its own heap, allocator arenas and thread pools, and a crash takes down only the worker.
 * Bundled by ncc to dist/worker/index.js; forked through ./worker-client.ts.
 */
import type * as Ort from 'onnxruntime-node';
import { loadOrt, ORT_VERSION } from '../runtime/ort.js';
import { OrtSession, runFailure } from '../runtime/session.js';
import { errorMessage } from '../errors.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';
// a worker forked with argv[2] = 'tflite' owns one TFLite interpreter instead of an ORT session.
import { TfliteSession, loadTfliteAddon, tfliteOptionsFrom, TFLITE_PACKAGE, TFLITE_PACKAGE_VERSION } from '../runtime/tflite.js';

// a worker forked with argv[2] = 'tfjs' owns one TF.js layers model.
import { TfjsSession } from '../runtime/tfjs-session.js';
import { loadTfjs } from '../runtime/tfjs.js';

const workerKind = process.argv[2] === 'tflite' || process.argv[2] === 'tfjs' ? process.argv[2] : 'onnxruntime';
let tflite: TfliteSession | undefined;
let tfjs: TfjsSession | undefined;

let session: OrtSession | undefined;
let ortFeeds: Record<string, Ort.Tensor> | undefined;
let label = '<model>';

function send(reply: WorkerReply): void {
  process.send!(reply);
}

const elapsedMs = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e6;

async function load(req: Extract<WorkerRequest, { type: 'load' }>): Promise<void> {
  label = req.label;
  if (req.runtimeKind === 'tflite') return loadTflite(req);
  if (req.runtimeKind === 'tfjs') return loadTfjsModel(req);
  const requested = req.runtime.executionProviders ?? ['cpu'];
  let executionProviders = requested;
  let fallbackReason: string | undefined;
  let start = process.hrtime.bigint();
  try {
    session = await OrtSession.create(req.modelPath, req.runtime, label);
  } catch (err) {
    if (requested.length === 1 && requested[0] === 'cpu') throw err;
    fallbackReason = `execution providers [${requested.join(', ')}] failed (${errorMessage(err)}); measured on cpu`;
    executionProviders = ['cpu'];
    start = process.hrtime.bigint(); // the failed attempt is not part of the cold start
    session = await OrtSession.create(req.modelPath, { ...req.runtime, executionProviders }, label);
  }
  const createMs = elapsedMs(start);
  ortFeeds = session.toOrtFeeds(req.feeds);
  const firstRunStart = process.hrtime.bigint();
  await runOnce();
  const firstRunMs = elapsedMs(firstRunStart);
  send({
    type: 'loaded', createMs, firstRunMs, coldStartMs: createMs + firstRunMs, executionProviders,
    ...(fallbackReason ? { fallbackReason } : {}),
    inputNames: [...session.inputNames], outputNames: [...session.outputNames],
  });
}

async function runOnce(): Promise<void> {
  try {
    await session!.runOrt(ortFeeds!);
  } catch (err) {
    throw new Error(`${label}: inference failed: ${runFailure(errorMessage(err), ortFeeds)}`);
  }
}

// the feeds are copied (and quantized, for int8 inputs) into the interpreter once; the
// timed region is the synchronous invoke and nothing else.
async function loadTflite(req: Extract<WorkerRequest, { type: 'load' }>): Promise<void> {
  const start = process.hrtime.bigint();
  tflite = await TfliteSession.create(req.modelPath, tfliteOptionsFrom(req.runtime), label);
  const createMs = elapsedMs(start);
  tflite.setInputs(req.feeds);
  const firstRunStart = process.hrtime.bigint();
  tflite.invoke();
  const firstRunMs = elapsedMs(firstRunStart);
  send({
    type: 'loaded', createMs, firstRunMs, coldStartMs: createMs + firstRunMs, executionProviders: ['cpu'],
    inputNames: [...tflite.inputNames], outputNames: [...tflite.outputNames],
  });
}

// the feeds become TF.js tensors once; the timed region is predict() + dataSync().
async function loadTfjsModel(req: Extract<WorkerRequest, { type: 'load' }>): Promise<void> {
  const start = process.hrtime.bigint();
  tfjs = await TfjsSession.create(req.modelPath, label);
  const createMs = elapsedMs(start);
  tfjs.setInputs(req.feeds);
  const firstRunStart = process.hrtime.bigint();
  tfjs.invoke();
  const firstRunMs = elapsedMs(firstRunStart);
  send({
    type: 'loaded', createMs, firstRunMs, coldStartMs: createMs + firstRunMs, executionProviders: ['cpu'],
    inputNames: [...tfjs.inputNames], outputNames: [...tfjs.outputNames],
  });
}

function runTflite(s: Pick<TfliteSession, 'invoke'>, iterations: number): void {
  const durationsMs = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    s.invoke();
    durationsMs[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  send({ type: 'ran', durationsMs, peakRssBytes: process.resourceUsage().maxRSS * 1024 });
}

async function run(iterations: number): Promise<void> {
  if (tflite) return runTflite(tflite, iterations);
  if (tfjs) return runTflite(tfjs, iterations); // same synchronous timed loop
  if (!session || !ortFeeds) throw new Error('run before load');
  const durationsMs = new Float64Array(iterations);
  const s = session;
  const feeds = ortFeeds;
  // The timed region is the awaited run and nothing else: no conversion, no allocation of ours.
  try {
    for (let i = 0; i < iterations; i++) {
      const t0 = process.hrtime.bigint();
      await s.runOrt(feeds);
      durationsMs[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
  } catch (err) {
    throw new Error(`${label}: inference failed: ${runFailure(errorMessage(err), ortFeeds)}`);
  }
  send({ type: 'ran', durationsMs, peakRssBytes: process.resourceUsage().maxRSS * 1024 });
}

async function handle(req: WorkerRequest): Promise<void> {
  switch (req.type) {
    case 'load':
      return load(req);
    case 'run':
      return run(req.iterations);
    case 'exit':
      await session?.release();
      await tflite?.release();
      await tfjs?.release();
      process.exit(0);
  }
}

if (!process.send) {
  process.stderr.write('modelgate benchmark worker: start me with child_process.fork\n');
  process.exit(2);
}
// An orphaned worker would keep its threads spinning on a shared runner: leave with the parent.
process.on('disconnect', () => process.exit(0));
process.on('message', (req: WorkerRequest) => {
  handle(req).catch((err: unknown) => send({ type: 'error', message: errorMessage(err) }));
});
// Loading the runtime's native library is a per-process cost, paid before 'ready' so that it is not
// counted in any model's cold start.
try {
  if (workerKind === 'tfjs') {
    // the backend (tfjs-node when installed, else wasm) is chosen before 'ready'.
    loadTfjs().then(
      (rt) => send({ type: 'ready', onnxruntime: '', runtime: rt.label }),
      (err: unknown) => send({ type: 'error', message: errorMessage(err) }),
    );
  } else if (workerKind === 'tflite') {
    loadTfliteAddon();
    send({ type: 'ready', onnxruntime: '', runtime: `${TFLITE_PACKAGE}@${TFLITE_PACKAGE_VERSION}` });
  } else {
    const ort = loadOrt();
    send({ type: 'ready', onnxruntime: (ort.env.versions as { node?: string } | undefined)?.node ?? ORT_VERSION });
  }
} catch (err) {
  send({ type: 'error', message: errorMessage(err) });
}
