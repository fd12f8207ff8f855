/**
 * The TensorFlow Lite runtime: .tflite models run by the real TFLite C library in Node.
 *
 * Which binding, and why: ModelGate uses the node-gyp addon of the npm package tfjs-tflite-node (0.0.2),
 * which links the libtensorflowlite_c it ships for linux x64/arm64, darwin arm64 and win32 x64. We load
 * the addon file directly (not the package's JS, which pulls in tfjs-core) and fill its gaps here:
 *   - num_threads: the addon passes `threads` to TfLiteInterpreterOptionsSetNumThreads. Used as is.
 *   - int8/uint8 I/O: the addon exposes raw typed arrays but no quantization parameters, so the scale and
 *     zero point of each I/O tensor are read from the model's own flatbuffer (../export/tflite/flatbuffer.ts).
 *   - XNNPACK: the shipped library exports TfLiteXNNPackDelegateCreate but does not apply it by default (under
 *     gdb, TfLiteInterpreterCreate is hit and TfLiteXNNPackDelegateCreate never is), and the addon's only
 *     delegate hook loads an external delegate library by path. ./tflite-xnnpack.ts builds that library (a
 *     30-line C plugin forwarding to TfLiteXNNPackDelegateCreate) once per machine; with it, XNNPACK runs
 *     float and int8 ops with the interpreter's thread count. Without a C compiler the report says
 *     'unavailable' and the figures are TFLite's builtin kernels (ruy/gemmlowp).
 *   - Fixed shapes: the addon does not expose TfLiteInterpreterResizeInputTensor, so a model runs at the
 *     shapes its file declares; the exporter writes the batch the config asks for, and a file with open dims
 *     is rewritten at the configured shapes (../formats/tflite/input-shapes.ts).
 *   - Custom ops: the addon registers none. MediaPipe's Convolution2DTransposeBias, which has an exact builtin
 *     equivalent, runs as that builtin (../formats/tflite/mediapipe.ts); any other custom op is refused by name.
 * A binding of our own over the same C API (TfLiteInterpreterResizeInputTensor, TfLiteXNNPackDelegateCreate and
 * TfLiteTensorQuantizationParams are all exported by the shipped library) would close the gaps more directly,
 * at the price of a second N-API addon to build and maintain on four platforms. With the quantization
 * parameters read from the flatbuffer and XNNPACK through the plugin, only resizing is missing, so the
 * package is used as is.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Feeds, HostTensor } from '../model/host-tensor.js';
import { decodeTflite, describeOperator, encodeTflite, type TfliteModel, type TfliteQuantization } from '../formats/tflite/flatbuffer.js';
import { withBuiltinEquivalents } from '../formats/tflite/mediapipe.js';
import { Op } from '../formats/tflite/schema.js';
import { ModelGateError, errorMessage } from '../errors.js';
import type { RuntimeOptions } from './session.js';
import { xnnpackPlugin, XNNPACK_FLAGS_QS8_QU8 } from './tflite-xnnpack.js';
import { runtimeInstallDir, type RuntimePackage } from './install.js';

// webpack (ncc) rewrites `createRequire`; process.getBuiltinModule keeps a real one.
const { createRequire } = process.getBuiltinModule('node:module') as typeof import('node:module');

export const TFLITE_PACKAGE = 'tfjs-tflite-node';
export const TFLITE_PACKAGE_VERSION = '0.0.2';
/** How ./install.ts installs it into the tool cache: from runtime-lock/tfjs-tflite-node, then node-gyp for its addon. */
export const TFLITE_RUNTIME_PACKAGE: RuntimePackage = { name: TFLITE_PACKAGE, version: TFLITE_PACKAGE_VERSION, build: true };
/** Platforms for which tfjs-tflite-node ships libtensorflowlite_c. */
export const TFLITE_PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64'] as const;

interface AddonTensor {
  readonly name: string;
  /** 'float32', 'int8', 'uint8', 'int32', 'int16', 'bool', 'float64', 'uint32', or 'kTfLite…' for the rest. */
  readonly dataType: string;
  /** Comma-separated dims, e.g. "1,28,28,1". */
  readonly shape: string;
  data(): Float32Array | Int8Array | Uint8Array | Int32Array | Int16Array | Float64Array | Uint32Array | BigInt64Array;
}

interface AddonInterpreter {
  getInputs(): AddonTensor[];
  getOutputs(): AddonTensor[];
  infer(): boolean;
}

interface AddonOptions {
  threads?: number;
  /** An external delegate library and its key/value options. */
  delegate?: { path: string; options: Array<[string, string]> };
}

interface Addon {
  Interpreter: new (model: ArrayBuffer, options: AddonOptions) => AddonInterpreter;
}

let cachedAddon: Addon | undefined;
let cachedPackageDir = '';

function packageDirFrom(from: string): string | undefined {
  try {
    return path.dirname(createRequire(from).resolve(`${TFLITE_PACKAGE}/package.json`));
  } catch {
    return undefined;
  }
}

/** The tfjs-tflite-node folder found without the tool-cache install (MODELGATE_TFLITE_PATH, beside the bundle, the working directory). */
export function resolveTfliteWithoutInstall(): string | undefined {
  const froms = [...(process.env.MODELGATE_TFLITE_PATH ? [path.join(path.resolve(process.env.MODELGATE_TFLITE_PATH), 'x.js')] : []), import.meta.url, path.join(process.cwd(), 'x.js')];
  for (const from of froms) {
    const dir = packageDirFrom(from);
    if (dir) return dir;
  }
  return undefined;
}

/**
 * Loads the addon, or stops with an error that says what is missing: the platform, the package, or its
 * native build (which needs python3, make and a C++ compiler at `npm ci` time).
 */
export function loadTfliteAddon(): Addon {
  if (cachedAddon) return cachedAddon;
  const platform = `${process.platform}-${process.arch}`;
  if (!(TFLITE_PLATFORMS as readonly string[]).includes(platform)) {
    throw new ModelGateError(
      `the TFLite runtime is not available on ${platform}: ${TFLITE_PACKAGE} ships libtensorflowlite_c only for ${TFLITE_PLATFORMS.join(', ')}`,
    );
  }
  const froms = [
    ...(process.env.MODELGATE_TFLITE_PATH ? [path.join(path.resolve(process.env.MODELGATE_TFLITE_PATH), 'x.js')] : []),
    import.meta.url,
    path.join(process.cwd(), 'x.js'),
    // where the action installs it (./install.ts) when a C compiler is present
    path.join(runtimeInstallDir(TFLITE_RUNTIME_PACKAGE), 'x.js'),
  ];
  let dir: string | undefined;
  for (const from of froms) if ((dir = packageDirFrom(from))) break;
  if (!dir) {
    throw new ModelGateError(
      `the TFLite runtime is not installed: the npm package ${TFLITE_PACKAGE}@${TFLITE_PACKAGE_VERSION} was not found ` +
        `(install it beside modelgate, or set MODELGATE_TFLITE_PATH to a folder whose node_modules has it)`,
    );
  }
  const binding = tfliteBindingPath(dir);
  try {
    cachedAddon = createRequire(import.meta.url)(binding) as Addon;
    cachedPackageDir = dir;
  } catch (err) {
    throw new ModelGateError(`the TFLite runtime failed to load (${binding}): ${errorMessage(err)}`, { cause: err });
  }
  return cachedAddon;
}

/** The addon inside an installed tfjs-tflite-node, or an error saying what its build needs. */
export function tfliteBindingPath(packageDir: string): string {
  const binding = path.join(packageDir, 'build', 'Release', 'node_tflite_binding.node');
  if (!existsSync(binding)) {
    throw new ModelGateError(
      `the TFLite runtime is not built: ${TFLITE_PACKAGE} is installed at ${packageDir} but its native addon ${path.relative(packageDir, binding)} is missing. ` +
        `Its install script (node-gyp rebuild) needs python3, make and a C++ compiler (Debian/Ubuntu: apt-get install g++ make), ` +
        `and npm must be allowed to run it (package.json allowScripts); then run: npm rebuild ${TFLITE_PACKAGE}`,
    );
  }
  return binding;
}

export interface TfliteRuntimeOptions {
  /** Interpreter threads (TfLiteInterpreterOptionsSetNumThreads); XNNPACK uses the same count. 1 by default. */
  threads?: number;
  /** XNNPACK delegate: 'auto' (default) applies it when the plugin is available; true requires it; false runs the builtin kernels. */
  xnnpack?: boolean | 'auto';
}

/** The session config entry that carries the XNNPACK choice with a candidate ('1' on, '0' off, absent = auto). */
export const XNNPACK_ENTRY = 'tflite.xnnpack';

/** TFLite options from the runtime options a candidate carries: intraOpThreads = threads, configEntries['tflite.xnnpack']. */
export function tfliteOptionsFrom(runtime: RuntimeOptions): TfliteRuntimeOptions {
  const x = runtime.configEntries?.[XNNPACK_ENTRY];
  return { threads: runtime.intraOpThreads ?? 1, xnnpack: x === '1' ? true : x === '0' ? false : 'auto' };
}

/** What the runtime used, for the report. */
export interface TfliteRuntimeInfo {
  runtime: 'tflite';
  binding: string;
  threads: number;
  /** 'applied': the XNNPACK delegate was attached; 'off': not requested; 'unavailable': requested as auto, could not be had. */
  xnnpack: 'applied' | 'off' | 'unavailable';
  /** Why XNNPACK is unavailable. */
  xnnpack_note?: string;
}

export interface TfliteIo {
  name: string;
  /** The tensor's own type: float32, int8, uint8, ... */
  type: string;
  dims: number[];
  quantization?: { scale: number; zeroPoint: number };
}

type IoArray = ReturnType<AddonTensor['data']>;

function perTensorQuant(q: TfliteQuantization | undefined): { scale: number; zeroPoint: number } | undefined {
  if (!q || q.scale.length !== 1) return undefined;
  return { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0] ?? 0 };
}

const Q_RANGE: Record<string, [number, number]> = { int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767] };
const RAW_RANGE: Record<string, [number, number]> = { ...Q_RANGE, int32: [-(2 ** 31), 2 ** 31 - 1] };

/** TFLite rounds half away from zero when it quantizes (std::round in its reference kernels). */
function roundAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

export function quantizeInto(dst: Int8Array | Uint8Array | Int16Array, src: ArrayLike<number>, scale: number, zeroPoint: number, type: string): void {
  const [lo, hi] = Q_RANGE[type]!;
  for (let i = 0; i < dst.length; i++) {
    const q = roundAway(src[i]! / scale) + zeroPoint;
    dst[i] = q < lo ? lo : q > hi ? hi : q;
  }
}

export function dequantize(src: ArrayLike<number>, scale: number, zeroPoint: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = (src[i]! - zeroPoint) * scale;
  return out;
}

/**
 * One TFLite interpreter over HostTensors, shaped like OrtSession (inputNames, outputNames, run) so that
 * evaluation and the benchmark worker treat both runtimes alike. Feeds are float (quantized here for
 * int8/uint8 inputs) or already of the tensor's type; int8/uint8 outputs come back dequantized to float32.
 */
export class TfliteSession {
  readonly inputs: TfliteIo[];
  readonly outputs: TfliteIo[];
  readonly info: TfliteRuntimeInfo;
  private released = false;

  private constructor(
    private readonly interpreter: AddonInterpreter,
    private readonly inputTensors: AddonTensor[],
    private readonly outputTensors: AddonTensor[],
    readonly model: TfliteModel,
    readonly label: string,
    threads: number,
  ) {
    const io = (t: AddonTensor, index: number): TfliteIo => {
      const q = perTensorQuant(model.graph.tensors[index]?.quantization);
      return { name: t.name, type: t.dataType, dims: t.shape === '' ? [] : t.shape.split(',').map(Number), ...(q && t.dataType !== 'float32' ? { quantization: q } : {}) };
    };
    this.inputs = inputTensors.map((t, i) => io(t, model.graph.inputs[i]!));
    this.outputs = outputTensors.map((t, i) => io(t, model.graph.outputs[i]!));
    this.info = { runtime: 'tflite', binding: `${TFLITE_PACKAGE}@${TFLITE_PACKAGE_VERSION}`, threads, xnnpack: 'off' };
  }

  static async create(model: string | Uint8Array, options: TfliteRuntimeOptions = {}, label = typeof model === 'string' ? model : '<memory>'): Promise<TfliteSession> {
    const addon = loadTfliteAddon();
    let bytes: Uint8Array;
    try {
      bytes = typeof model === 'string' ? readFileSync(model) : model;
    } catch (err) {
      throw new ModelGateError(`${label}: cannot read the TFLite model (${errorMessage(err)})`, { cause: err });
    }
    let parsed = decodeTflite(bytes, label);
    // MediaPipe's custom ops with an exact builtin equivalent run as that builtin (./formats/tflite/mediapipe.ts).
    const substituted = parsed.extraSubgraphs === 0 ? withBuiltinEquivalents(parsed, label) : parsed;
    if (substituted !== parsed) {
      parsed = substituted;
      bytes = encodeTflite(parsed);
    }
    const custom = parsed.graph.operators.filter((o) => o.op === Op.CUSTOM);
    if (custom.length > 0) {
      const names = [...new Set(custom.map(describeOperator))].join(', ');
      throw new ModelGateError(
        `${label}: the model uses ${names}, which the TFLite runtime does not have (custom ops need the runtime they were built for; an Edge TPU-compiled model runs only with the Edge TPU delegate)`,
      );
    }
    const threads = Math.max(1, Math.floor(options.threads ?? 1));
    const addonOptions: AddonOptions = { threads };
    let xnnpack: TfliteRuntimeInfo['xnnpack'] = 'off';
    let xnnpackNote: string | undefined;
    if ((options.xnnpack ?? 'auto') !== false) {
      const plugin = xnnpackPlugin(cachedPackageDir);
      if ('path' in plugin) {
        addonOptions.delegate = { path: plugin.path, options: [['num_threads', String(threads)], ['flags', String(XNNPACK_FLAGS_QS8_QU8)]] };
        xnnpack = 'applied';
      } else if (options.xnnpack === true) {
        throw new ModelGateError(`${label}: XNNPACK was requested but is not available: ${plugin.unavailable}`);
      } else {
        xnnpack = 'unavailable';
        xnnpackNote = plugin.unavailable;
      }
    }
    // The addon keeps its own copy of the bytes; hand it an exact ArrayBuffer, not a view's backing store.
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    let interpreter: AddonInterpreter;
    try {
      interpreter = new addon.Interpreter(buffer, addonOptions);
    } catch (err) {
      throw new ModelGateError(`${label}: TFLite could not load the model: ${errorMessage(err).trim()}`, { cause: err });
    }
    const session = new TfliteSession(interpreter, interpreter.getInputs(), interpreter.getOutputs(), parsed, label, threads);
    session.info.xnnpack = xnnpack;
    if (xnnpackNote) session.info.xnnpack_note = xnnpackNote;
    return session;
  }

  get inputNames(): readonly string[] {
    return this.inputs.map((i) => i.name);
  }

  get outputNames(): readonly string[] {
    return this.outputs.map((o) => o.name);
  }

  /** Copies (and quantizes, for int8/uint8 inputs) the feeds into the interpreter's input tensors. */
  setInputs(feeds: Feeds): void {
    this.inputTensors.forEach((t, i) => {
      const io = this.inputs[i]!;
      const feed = feeds[io.name] ?? (this.inputTensors.length === 1 && Object.keys(feeds).length === 1 ? Object.values(feeds)[0] : undefined);
      if (!feed) throw new ModelGateError(`${this.label}: no feed for TFLite input '${io.name}' (feeds: ${Object.keys(feeds).join(', ') || 'none'})`);
      const dst = t.data();
      if (feed.data.length !== dst.length) {
        throw new ModelGateError(
          `${this.label}: input '${io.name}' takes ${dst.length} values [${io.dims.join(', ')}] (a .tflite has a fixed batch), the feed has ${feed.data.length} [${feed.dims.join(', ')}]`,
        );
      }
      if (feed.type === io.type) {
        (dst as Float32Array).set(feed.data as Float32Array);
      } else if (io.quantization && (io.type === 'int8' || io.type === 'uint8' || io.type === 'int16') && (feed.type === 'float32' || feed.type === 'float64')) {
        quantizeInto(dst as Int8Array, feed.data as Float32Array, io.quantization.scale, io.quantization.zeroPoint, io.type);
      } else if (io.type === 'float32' && feed.type !== 'int64' && feed.type !== 'uint64') {
        (dst as Float32Array).set(feed.data as Float32Array);
      } else if (!io.quantization && RAW_RANGE[io.type] && feed.type !== 'int64' && feed.type !== 'uint64') {
        // A plain integer input (raw uint8 pixels): the values as they are, rounded and held to the type's range.
        const [lo, hi] = RAW_RANGE[io.type]!;
        const src = feed.data as Float32Array;
        for (let k = 0; k < dst.length; k++) dst[k] = Math.min(hi, Math.max(lo, Math.round(src[k]!)));
      } else {
        throw new ModelGateError(`${this.label}: input '${io.name}' is ${io.type}${io.quantization ? ' (quantized)' : ''}, the feed is ${feed.type}`);
      }
    });
  }

  /** One inference on the inputs already set: the benchmark loop's path (no conversion per call). */
  invoke(): void {
    if (this.released) throw new ModelGateError(`${this.label}: the TFLite session was released`);
    try {
      this.interpreter.infer();
    } catch (err) {
      throw new ModelGateError(`${this.label}: TFLite inference failed: ${errorMessage(err).trim()}`, { cause: err });
    }
  }

  /** Outputs of the last invoke: int8/uint8 tensors dequantized to float32 unless `raw`. */
  getOutputs(outputNames?: readonly string[], raw = false): Record<string, HostTensor> {
    const out: Record<string, HostTensor> = {};
    this.outputTensors.forEach((t, i) => {
      const io = this.outputs[i]!;
      if (outputNames && !outputNames.includes(io.name)) return;
      const data: IoArray = t.data();
      if (io.quantization && !raw) {
        out[io.name] = { type: 'float32', dims: [...io.dims], data: dequantize(data as Int8Array, io.quantization.scale, io.quantization.zeroPoint) };
      } else {
        const type = (io.type.startsWith('kTfLite') ? 'uint8' : io.type) as HostTensor['type'];
        out[io.name] = { type, dims: [...io.dims], data: data.slice() as HostTensor['data'] };
      }
    });
    if (outputNames) {
      for (const name of outputNames) if (!out[name]) throw new ModelGateError(`${this.label}: the TFLite model has no output '${name}' (it has ${this.outputNames.join(', ')})`);
    }
    return out;
  }

  async run(feeds: Feeds, outputNames?: readonly string[]): Promise<Record<string, HostTensor>> {
    this.setInputs(feeds);
    this.invoke();
    return this.getOutputs(outputNames);
  }

  /** The addon frees the interpreter when it is garbage-collected; after release this session refuses to run. */
  async release(): Promise<void> {
    this.released = true;
  }
}
