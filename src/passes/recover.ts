/**
 * Accuracy recovery for structured pruning and low-rank factorization, without back-propagation, so it works
 * on any ONNX model: each recovered layer is re-fitted so that its output on calibration samples matches the
 * unmodified model's.
 *
 * - Activations come from onnxruntime: the current (already pruned or factorized) model and the reference
 *   model run sample by sample with the layer's input X and output Y added as graph outputs. Only sufficient
 *   statistics are kept (XᵀX, XᵀY and ‖Y‖², accumulated in float64; the products of each block of rows are
 *   computed by a small ONNX MatMul graph in onnxruntime), so memory is bounded by the layer's width, not by
 *   the number of samples.
 * - Layers are handled one after the other in graph order, each seeing the activations that the already
 *   recovered layers before it produce, so errors do not pile up.
 * - The least-squares fits are ridge-regularized towards the current weights, (XᵀX + λI)·W = XᵀY + λ·W₀ with
 *   λ = ridge · trace(XᵀX)/n: a layer wider than the number of calibration rows stays well posed and keeps
 *   the original weights in the directions the samples do not cover.
 *
 * Structured pruning (channel pruning with reconstruction, He, Zhang and Sun, ICCV 2017): the channels to
 * keep are chosen by their contribution to the next layer's output, Z_c = X_c·W_c, greedily (orthogonal
 * matching pursuit on the Gram matrix of the contributions, the same objective as the paper's LASSO step:
 * the subset whose best combination reconstructs the output), then the next layer is re-fitted on the kept
 * channels by least squares, its bias included.
 *
 * Low rank (activation-aware SVD, as ASVD, Yuan et al. 2023, and SVD-LLM, Wang et al. 2024): with
 * S·Sᵀ = XᵀX + λI (Cholesky), ‖X·W − X·W′‖ ≈ ‖Sᵀ(W − W′)‖, so the truncated SVD of Sᵀ·W minimizes the output
 * error instead of the weight error. Using the least-squares solution W* (inputs from the factorized model,
 * targets from the reference) in place of W makes it the exact reduced-rank regression: truncation and the
 * least-squares re-fit of both factors in one closed form.
 *
 * The error reported per layer is the relative output error ‖Ŷ − Y‖_F / ‖Y‖_F on the calibration samples,
 * before recovery (L1 channel choice without re-fit, or the plain SVD) and after.
 */
import Long from 'long';
import type { RecoveredLayer, RecoveryNote } from './pass.js';
export type { RecoveredLayer, RecoveryNote };
import { DataType, cloneModel, dimsOf, encodeModel, onnx, type Model } from '../model/onnx.js';
import { tensorToFloat32 } from '../model/tensor.js';
import { consumerMap, describeNode, getFloatAttr, getInitializer, getIntAttr, getIntsAttr, getStringAttr, makeNode, removeUnusedInitializers } from '../model/graph.js';
import { seededRandom } from '../data/random.js';
import type { Feeds, HostTensor } from '../model/host-tensor.js';
import { OrtSession } from '../runtime/session.js';
import { loadOrt, type OrtModule } from '../runtime/ort.js';
import { ModelGateError } from '../errors.js';
import type { PassContext } from './pass.js';
import { cholesky, solveLowerTransposed, solveSpd, truncatedSvd } from './linalg.js';

export interface RecoverOptions {
  /** Calibration samples (default 1,000; fewer when the calibration data has fewer). */
  samples?: number;
  /** 'all' (default) or the node names to recover (prune: the pruned node; lowrank: the factorized node). */
  layers?: 'all' | string[];
  /** Ridge strength relative to the mean diagonal of XᵀX (default 0.01). */
  ridge?: number;
}

export const recoverSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    samples: { type: 'integer', minimum: 1 },
    layers: { anyOf: [{ const: 'all' }, { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true, minItems: 1 }] },
    ridge: { type: 'number', exclusiveMinimum: 0 },
  },
} as const;


const DEFAULT_SAMPLES = 1000;
const DEFAULT_RIDGE = 0.01;
/** Rows per onnxruntime Gram product: large enough for MLAS to run at full speed, small enough to keep. */
const BLOCK_ROWS = 256;

type Node = onnx.INodeProto;

/** Writes `values` (float32, `dims`) as a new initializer and points node.input[slot] at it. */
export type ReplaceInput = (node: Node, slot: number, values: Float32Array, dims: number[]) => void;

/**
 * A MatMul or Gemm seen as y = x·W + b with W [F, M] (alpha and transB folded in), b [M] when the layer has
 * a per-output bias it can re-fit (the Gemm's C, or an Add of a constant right after a MatMul when
 * `absorbAdd`), and `y` the tensor that then holds x·W + b.
 */
export interface DenseLayer {
  node: Node;
  x: string;
  y: string;
  F: number;
  M: number;
  weight: Float64Array;
  bias?: Float64Array;
  /** Consecutive features per input channel (a Conv's kh·kw patch; 1 for MatMul/Gemm). */
  channelBlock: number;
  /** The rows of one sample: x [rows, F] and y [rows, M]. */
  rows(x: HostTensor, y: HostTensor, sample: number): { x: Float32Array; y: Float32Array; rows: number };
  write(replace: ReplaceInput, weight: Float64Array, bias?: Float64Array): void;
}

/** Rows along the last axis: x [..., F] and y [..., M]. */
function lastAxisRows(label: string, F: number, M: number) {
  return (x: HostTensor, y: HostTensor): { x: Float32Array; y: Float32Array; rows: number } => {
    const rows = x.data.length / F;
    if (x.dims[x.dims.length - 1] !== F || y.data.length !== rows * M) throw new ModelGateError(`${label}: activations of shape [${x.dims.join(', ')}] and [${y.dims.join(', ')}] do not match the weight's ${F} inputs and ${M} outputs`);
    return { x: x.data as Float32Array, y: y.data as Float32Array, rows };
  };
}

/**
 * Output positions sampled per sample for a Conv (seeded by the sample's index: the same positions in the
 * current and the reference model, and in every rerun). Each position is one im2col row of C·kh·kw values;
 * a few per image bound the cost of the statistics, and 1,000 images give thousands of rows.
 */
export const CONV_POSITIONS = 16;
const POSITION_SEED = 0x5eed;

function convLayer(graph: onnx.IGraphProto, node: Node, what: string, w: { values: Float32Array; dims: number[] }): DenseLayer | string {
  if (w.dims.length !== 4) return `${what}: only 2-D convolutions are re-fitted`;
  if (getIntAttr(node, 'group', 1) !== 1) return `${what}: grouped convolution`;
  const autoPad = getStringAttr(node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') return `${what}: auto_pad ${autoPad} is not handled`;
  const [Cout, Cin, kh, kw] = w.dims as [number, number, number, number];
  const [sh, sw] = getIntsAttr(node, 'strides') ?? [1, 1];
  const [dh, dw] = getIntsAttr(node, 'dilations') ?? [1, 1];
  const pads = autoPad === 'VALID' ? [0, 0, 0, 0] : getIntsAttr(node, 'pads') ?? [0, 0, 0, 0];
  const [pt, pl] = [pads[0]!, pads[1]!];
  const F = Cin * kh * kw, M = Cout;
  const weight = new Float64Array(F * M);
  for (let m = 0; m < M; m++) for (let f = 0; f < F; f++) weight[f * M + m] = w.values[m * F + f]!;
  const b = node.input?.[2] ? floatInit(graph, node.input[2]) : undefined;
  if (node.input?.[2] && (!b || b.values.length !== M)) return `${what}: the bias is not a float32 initializer`;
  return {
    node, x: node.input![0]!, y: node.output![0]!, F, M, weight, bias: b ? Float64Array.from(b.values) : undefined, channelBlock: kh * kw,
    rows(x, y, sample) {
      const [n, c, H, W] = x.dims as [number, number, number, number];
      const [, m, Ho, Wo] = y.dims as [number, number, number, number];
      if (x.dims.length !== 4 || c !== Cin || m !== M || y.dims[0] !== n) throw new ModelGateError(`${what}: activations of shape [${x.dims.join(', ')}] → [${y.dims.join(', ')}] do not match its weight`);
      const per = Math.min(CONV_POSITIONS, Ho * Wo);
      const random = seededRandom(POSITION_SEED + sample);
      const xs = new Float32Array(n * per * F), ys = new Float32Array(n * per * M);
      const xd = x.data as Float32Array, yd = y.data as Float32Array;
      for (let img = 0; img < n; img++) {
        for (let p = 0; p < per; p++) {
          const pos = per === Ho * Wo ? p : Math.floor(random() * Ho * Wo);
          const [ho, wo] = [Math.floor(pos / Wo), pos % Wo];
          const row = img * per + p;
          for (let ci = 0; ci < Cin; ci++) {
            for (let i = 0; i < kh; i++) {
              const h = ho * sh - pt + i * dh;
              for (let j = 0; j < kw; j++) {
                const ww = wo * sw - pl + j * dw;
                xs[row * F + (ci * kh + i) * kw + j] = h >= 0 && h < H && ww >= 0 && ww < W ? xd[((img * Cin + ci) * H + h) * W + ww]! : 0;
              }
            }
          }
          for (let mm = 0; mm < M; mm++) ys[row * M + mm] = yd[((img * M + mm) * Ho + ho) * Wo + wo]!;
        }
      }
      return { x: xs, y: ys, rows: n * per };
    },
    write(replace, wNew, bNew) {
      const out = new Float32Array(F * M);
      for (let m = 0; m < M; m++) for (let f = 0; f < F; f++) out[m * F + f] = wNew[f * M + m]!;
      replace(node, 1, out, [...w.dims]);
      if (b && bNew) replace(node, 2, Float32Array.from(bNew), b.dims);
    },
  };
}

function floatInit(graph: onnx.IGraphProto, name: string | undefined): { values: Float32Array; dims: number[] } | undefined {
  const t = name ? getInitializer(graph, name) : undefined;
  return t && t.dataType === DataType.FLOAT ? { values: tensorToFloat32(t), dims: dimsOf(t) } : undefined;
}

/** The dense view of a MatMul/Gemm node, or a string saying why it has none. */
export function denseLayer(graph: onnx.IGraphProto, node: Node, absorbAdd: boolean): DenseLayer | string {
  const what = describeNode(node);
  const w = floatInit(graph, node.input?.[1]);
  if (node.opType === 'Conv' && w) return convLayer(graph, node, what, w);
  if (!w || w.dims.length !== 2) return `${what}: the weight is not a 2-D float32 initializer`;
  if (node.opType === 'MatMul') {
    const [F, M] = w.dims as [number, number];
    const weight = Float64Array.from(w.values);
    let y = node.output![0]!;
    let addNode: Node | undefined;
    let bias: Float64Array | undefined;
    let biasDims: number[] | undefined;
    const readers = consumerMap(graph).get(y) ?? [];
    const isOutput = (graph.output ?? []).some((o) => o.name === y);
    if (absorbAdd && readers.length === 1 && !isOutput && readers[0]!.opType === 'Add' && (readers[0]!.domain ?? '') === '') {
      const add = readers[0]!;
      const slot = add.input![0] === y ? 1 : 0;
      const b = floatInit(graph, add.input![slot]);
      if (b && b.values.length === M && b.dims[b.dims.length - 1] === M) {
        addNode = add;
        bias = Float64Array.from(b.values);
        biasDims = b.dims;
        y = add.output![0]!;
        if (slot !== 1) return `${describeNode(add)}: the bias comes first`;
      }
    }
    return {
      node, x: node.input![0]!, y, F, M, weight, bias, channelBlock: 1, rows: lastAxisRows(what, F, M),
      write(replace, wNew, bNew) {
        replace(node, 1, Float32Array.from(wNew), [F, M]);
        if (addNode && bNew) replace(addNode, 1, Float32Array.from(bNew), biasDims!);
      },
    };
  }
  if (node.opType === 'Gemm') {
    if (getIntAttr(node, 'transA', 0) !== 0) return `${what}: transA=1 is not handled`;
    const transB = getIntAttr(node, 'transB', 0) !== 0;
    const alpha = getFloatAttr(node, 'alpha', 1);
    const beta = getFloatAttr(node, 'beta', 1);
    const [F, M] = transB ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!];
    const weight = new Float64Array(F * M);
    for (let f = 0; f < F; f++) for (let m = 0; m < M; m++) weight[f * M + m] = alpha * w.values[transB ? m * F + f : f * M + m]!;
    const c = node.input?.[2] ? floatInit(graph, node.input[2]) : undefined;
    if (node.input?.[2] && (!c || c.values.length !== M)) return `${what}: the bias is not a float32 initializer with one value per output`;
    const bias = c ? Float64Array.from(c.values, (v) => beta * v) : undefined;
    return {
      node, x: node.input![0]!, y: node.output![0]!, F, M, weight, bias, channelBlock: 1, rows: lastAxisRows(what, F, M),
      write(replace, wNew, bNew) {
        const out = new Float32Array(F * M);
        for (let f = 0; f < F; f++) for (let m = 0; m < M; m++) out[transB ? m * F + f : f * M + m] = wNew[f * M + m]! / alpha;
        replace(node, 1, out, transB ? [M, F] : [F, M]);
        if (c && bNew) replace(node, 2, Float32Array.from(bNew, (v) => v / beta), c.dims);
      },
    };
  }
  return `${what}: not a MatMul, Gemm or Conv`;
}

// ---------------------------------------------------------------- activations

/** A session that returns the listed tensors ('basic' optimization keeps each one as the graph computes it). */
async function openProbe(model: Model, tensors: readonly string[], label: string): Promise<{ run(feed: Feeds): Promise<HostTensor[]>; release(): Promise<void> }> {
  const inputs = new Set((model.graph!.input ?? []).map((v) => v.name));
  const fetched = tensors.filter((t) => !inputs.has(t));
  let session: OrtSession | undefined;
  if (fetched.length > 0) {
    const probe = cloneModel(model);
    const outputs = new Set((probe.graph!.output ?? []).map((o) => o.name));
    for (const name of fetched) if (!outputs.has(name)) probe.graph!.output!.push(onnx.ValueInfoProto.create({ name }));
    // A pass mid-way leaves replaced weights behind until it finishes; ORT would warn about each one.
    removeUnusedInitializers(probe.graph!);
    session = await OrtSession.create(encodeModel(probe), { graphOptimizationLevel: 'basic', intraOpThreads: 1 }, label);
  }
  return {
    async run(feed) {
      const out = session ? await session.run(feed, fetched) : {};
      return tensors.map((name) => {
        const t = inputs.has(name) ? feed[name] : out[name];
        if (!t || !(t.data instanceof Float32Array)) throw new ModelGateError(`${label}: tensor '${name}' is not float32`);
        return t;
      });
    },
    async release() {
      await session?.release();
    },
  };
}

/**
 * Runs the current and the reference model on every sample: the layer's input from the current model, its
 * output from the reference, as the layer's rows.
 */
async function forEachSample(
  current: Model, layer: DenseLayer, reference: Model, feeds: readonly Feeds[], label: string,
  visit: (x: Float32Array, y: Float32Array, rows: number) => Promise<void> | void,
): Promise<void> {
  const cur = await openProbe(current, [layer.x], `${label} (current model)`);
  const ref = await openProbe(reference, [layer.y], `${label} (reference model)`);
  try {
    for (const [i, feed] of feeds.entries()) {
      const [xt] = await cur.run(feed);
      const [yt] = await ref.run(feed);
      const r = layer.rows(xt!, yt!, i);
      await visit(r.x, r.y, r.rows);
    }
  } finally {
    await cur.release();
    await ref.release();
  }
}

function gramModel(): Uint8Array {
  const v = (name: string, dims: Array<string | number>) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: Long.fromNumber(d) } : { dimParam: d })) } } } });
  const model = onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    producerName: 'modelgate-recover',
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'gram',
      node: [makeNode('Transpose', ['X'], ['Xt']), makeNode('MatMul', ['Xt', 'X'], ['G']), makeNode('MatMul', ['Xt', 'T'], ['C'])],
      input: [v('X', ['R', 'F']), v('T', ['R', 'M'])],
      output: [v('G', ['F', 'F']), v('C', ['F', 'M'])],
    },
  });
  return encodeModel(model);
}

/** Streaming XᵀX, XᵀT and ‖T‖² over rows of X [F] and T [M], in float64. */
export class GramAccumulator {
  readonly G: Float64Array;
  readonly C: Float64Array;
  tt = 0;
  rows = 0;
  private readonly bx: Float32Array;
  private readonly bt: Float32Array;
  private n = 0;
  private constructor(readonly F: number, readonly M: number, private readonly session: OrtSession, private readonly ort: OrtModule) {
    this.G = new Float64Array(F * F);
    this.C = new Float64Array(F * M);
    this.bx = new Float32Array(BLOCK_ROWS * F);
    this.bt = new Float32Array(BLOCK_ROWS * M);
  }

  static async create(F: number, M: number): Promise<GramAccumulator> {
    const session = await OrtSession.create(gramModel(), { intraOpThreads: 1 }, 'recover: Gram products');
    return new GramAccumulator(F, M, session, loadOrt());
  }

  /** Adds one row: x [F] and t [M]. */
  async add(x: ArrayLike<number>, t: ArrayLike<number>): Promise<void> {
    this.bx.set(x, this.n * this.F);
    this.bt.set(t, this.n * this.M);
    for (let i = 0; i < this.M; i++) this.tt += t[i]! * t[i]!;
    this.rows++;
    if (++this.n === BLOCK_ROWS) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.n === 0) return;
    const { F, M, n } = this;
    const feeds = {
      X: new this.ort.Tensor('float32', this.bx.subarray(0, n * F), [n, F]),
      T: new this.ort.Tensor('float32', this.bt.subarray(0, n * M), [n, M]),
    };
    const out = await this.session.runOrt(feeds);
    const g = (out.G as { data: Float32Array }).data, c = (out.C as { data: Float32Array }).data;
    for (let i = 0; i < g.length; i++) this.G[i]! += g[i]!;
    for (let i = 0; i < c.length; i++) this.C[i]! += c[i]!;
    this.n = 0;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** ‖X·W − T‖² from the statistics G = XᵀX, C = XᵀT and tt = ‖T‖² (a bias is a last row of W over a 1 column of X). */
export function residual(stats: { G: Float64Array; C: Float64Array; tt: number; F: number; M: number }, w: Float64Array): number {
  const { G, C, F, M } = stats;
  const n = F;
  let err = stats.tt;
  const gw = new Float64Array(M);
  for (let i = 0; i < n; i++) {
    gw.fill(0);
    const gi = i * F;
    for (let k = 0; k < n; k++) {
      const g = G[gi + k]!;
      if (g === 0) continue;
      const wk = k * M;
      for (let m = 0; m < M; m++) gw[m]! += g * w[wk + m]!;
    }
    const wi = i * M;
    for (let m = 0; m < M; m++) err += w[wi + m]! * (gw[m]! - 2 * C[wi + m]!);
  }
  return Math.max(0, err);
}

/** Solves (G + λ·I)·W = C + λ·W₀ with λ = ridge · trace(G)/n; returns W. */
export function ridgeSolve(G: Float64Array, C: Float64Array, w0: Float64Array, n: number, m: number, ridge: number): Float64Array {
  const { a, lambda } = ridged(G, n, ridge);
  const rhs = Float64Array.from(C, (v, i) => v + lambda * w0[i]!);
  return solveSpd(a, n, rhs, m);
}

function ridged(G: Float64Array, n: number, ridge: number): { a: Float64Array; lambda: number } {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += G[i * n + i]!;
  const lambda = Math.max(ridge * (trace / n), 1e-12);
  const a = Float64Array.from(G);
  for (let i = 0; i < n; i++) a[i * n + i]! += lambda;
  return { a, lambda };
}

/**
 * Greedy forward selection of `count` of n contributions Z_c that best reconstruct the target (orthogonal
 * matching pursuit, on A = ZᵀZ [n×n] and b = Zᵀt): each step adds the channel whose component orthogonal
 * to the chosen ones explains the most of what is left. Ties go to the lower index. Sorted indices.
 */
export function selectChannels(A: Float64Array, b: Float64Array, n: number, count: number): number[] {
  const chosen: number[] = [];
  const taken = new Uint8Array(n);
  const resNorm = Float64Array.from({ length: n }, (_, c) => A[c * n + c]!);
  const resCorr = Float64Array.from(b);
  const q: Float64Array[] = [];
  const scale = Math.max(...Array.from(resNorm), 0);
  while (chosen.length < Math.min(count, n)) {
    let best = -1, bestGain = -1;
    for (let c = 0; c < n; c++) {
      if (taken[c]) continue;
      const gain = resNorm[c]! > 1e-12 * scale ? (resCorr[c]! * resCorr[c]!) / resNorm[c]! : 0;
      if (gain > bestGain) [best, bestGain] = [c, gain];
    }
    taken[best] = 1;
    chosen.push(best);
    if (!(resNorm[best]! > 1e-12 * scale)) continue;
    const norm = Math.sqrt(resNorm[best]!);
    const u = new Float64Array(n);
    for (let c = 0; c < n; c++) {
      let s = A[best * n + c]!;
      for (let j = 0; j < q.length; j++) s -= q[j]![best]! * q[j]![c]!;
      u[c] = s / norm;
    }
    const uy = resCorr[best]! / norm;
    for (let c = 0; c < n; c++) {
      resCorr[c]! -= u[c]! * uy;
      resNorm[c]! -= u[c]! * u[c]!;
    }
    q.push(u);
  }
  return chosen.sort((x, y) => x - y);
}

// ---------------------------------------------------------------- the recovery session of one pass

export class Recovery {
  readonly layers: RecoveredLayer[] = [];
  readonly skipped: string[] = [];
  private readonly started = performance.now();
  private readonly cpuStarted = process.cpuUsage();
  private readonly pending = new Map<Node, { before: number; pruned: string }>();

  private constructor(
    private readonly reference: Model,
    readonly feeds: readonly Feeds[],
    private readonly options: RecoverOptions,
    private readonly pass: string,
  ) {}

  /** Loads the calibration samples; `reference` is the pass's input (never modified). */
  static async open(reference: Model, options: RecoverOptions, ctx: PassContext, pass: string, candidates: readonly Node[]): Promise<Recovery> {
    if (Array.isArray(options.layers)) {
      const names = new Set(candidates.map((n) => n.name ?? ''));
      const missing = options.layers.filter((l) => !names.has(l));
      if (missing.length > 0) {
        throw new ModelGateError(`pass '${pass}': recover.layers names ${missing.map((m) => `'${m}'`).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not among the nodes it changes (${[...names].filter(Boolean).join(', ') || 'none'})`);
      }
    }
    const feeds = await ctx.calibration(options.samples ?? DEFAULT_SAMPLES);
    if (feeds.length === 0) throw new ModelGateError(`pass '${pass}': recover needs calibration samples and the dataset gave none`);
    return new Recovery(reference, feeds, options, pass);
  }

  wants(node: Node): boolean {
    const layers = this.options.layers ?? 'all';
    return layers === 'all' || layers.includes(node.name ?? '');
  }

  private get ridge(): number {
    return this.options.ridge ?? DEFAULT_RIDGE;
  }

  /**
   * Chooses the channels of `producer` to keep by their contribution to `consumer`'s output (the model
   * before this producer is pruned). `block`: each channel is that many consecutive features of the
   * consumer's input (a flattened C·H·W map). `l1Keep`: the channels plain pruning keeps, for the error
   * before recovery. Returns the sorted kept channels, or undefined when the consumer cannot be recovered.
   */
  async chooseChannels(model: Model, producer: Node, consumer: Node, channels: number, block: number, keepCount: number, l1Keep: readonly number[]): Promise<number[] | undefined> {
    const layer = denseLayer(model.graph!, consumer, true);
    if (typeof layer === 'string') {
      this.skipped.push(`${describeNode(producer)}: ${layer}`);
      return undefined;
    }
    const { F, M, weight, bias } = layer;
    block *= layer.channelBlock;
    if (F !== channels * block) {
      this.skipped.push(`${describeNode(consumer)} reads ${F} features, not ${channels} × ${block}`);
      return undefined;
    }
    const A = new Float64Array(channels * channels);
    const b = new Float64Array(channels);
    let tt = 0, yy = 0;
    const label = `pass '${this.pass}' recover ${describeNode(consumer)}`;
    if (block === 1) {
      // A = G ∘ (W·Wᵀ) and b_c = Σ_m C_cm·W_cm: the contributions' Gram matrix from XᵀX and XᵀT.
      const acc = await GramAccumulator.create(F, M);
      const t = new Float64Array(M);
      try {
        await forEachSample(model, layer, this.reference, this.feeds, label, async (x, y, rows) => {
          for (let r = 0; r < rows; r++) {
            for (let m = 0; m < M; m++) {
              const v = y[r * M + m]!;
              yy += v * v;
              t[m] = v - (bias?.[m] ?? 0);
            }
            await acc.add(x.subarray(r * F, (r + 1) * F), t);
          }
        });
        await acc.flush();
      } finally {
        await acc.release();
      }
      tt = acc.tt;
      for (let c = 0; c < F; c++) {
        for (let d = 0; d < F; d++) {
          let s = 0;
          for (let m = 0; m < M; m++) s += weight[c * M + m]! * weight[d * M + m]!;
          A[c * F + d] = acc.G[c * F + d]! * s;
        }
        let s = 0;
        for (let m = 0; m < M; m++) s += acc.C[c * M + m]! * weight[c * M + m]!;
        b[c] = s;
      }
    } else {
      // Z_c = X_c·W_c per row, a channels × M matrix: cheap when the consumer has few outputs per feature.
      const z = new Float64Array(channels * M);
      await forEachSample(model, layer, this.reference, this.feeds, label, (x, y, rows) => {
        for (let r = 0; r < rows; r++) {
          z.fill(0);
          const xr = r * F;
          for (let c = 0; c < channels; c++) {
            const zc = c * M;
            for (let k = 0; k < block; k++) {
              const f = c * block + k;
              const v = x[xr + f]!;
              if (v === 0) continue;
              const wf = f * M;
              for (let m = 0; m < M; m++) z[zc + m]! += v * weight[wf + m]!;
            }
          }
          for (let m = 0; m < M; m++) {
            const v = y[r * M + m]!;
            yy += v * v;
            const tv = v - (bias?.[m] ?? 0);
            tt += tv * tv;
            for (let c = 0; c < channels; c++) b[c]! += z[c * M + m]! * tv;
          }
          for (let c = 0; c < channels; c++) {
            for (let d = c; d < channels; d++) {
              let s = 0;
              for (let m = 0; m < M; m++) s += z[c * M + m]! * z[d * M + m]!;
              A[c * channels + d]! += s;
            }
          }
        }
      });
      for (let c = 0; c < channels; c++) for (let d = 0; d < c; d++) A[c * channels + d] = A[d * channels + c]!;
    }
    // Plain pruning keeps the L1 channels with their weights unchanged: ‖t − Σ_{c∈S} Z_c‖².
    let before = tt;
    for (const c of l1Keep) {
      before -= 2 * b[c]!;
      for (const d of l1Keep) before += A[c * channels + d]!;
    }
    const keep = selectChannels(A, b, channels, keepCount);
    this.pending.set(consumer, { before: Math.sqrt(Math.max(0, before) / Math.max(yy, 1e-30)), pruned: describeNode(producer) });
    return keep;
  }

  /** Re-fits `consumer` (weights and bias) on the pruned model's activations to the reference outputs. */
  async refit(model: Model, consumer: Node, replace: ReplaceInput): Promise<void> {
    const pending = this.pending.get(consumer);
    const layer = denseLayer(model.graph!, consumer, true);
    if (!pending || typeof layer === 'string') return;
    const { F, M, weight, bias } = layer;
    const n = bias ? F + 1 : F;
    const acc = await GramAccumulator.create(n, M);
    const row = new Float32Array(n);
    let yy = 0;
    try {
      await forEachSample(model, layer, this.reference, this.feeds, `pass '${this.pass}' recover ${describeNode(consumer)}`, async (x, y, rows) => {
        for (let r = 0; r < rows; r++) {
          row.set(x.subarray(r * F, (r + 1) * F));
          if (bias) row[F] = 1;
          const yr = y.subarray(r * M, (r + 1) * M);
          for (let m = 0; m < M; m++) yy += yr[m]! * yr[m]!;
          await acc.add(row, yr);
        }
      });
      await acc.flush();
    } finally {
      await acc.release();
    }
    const w0 = new Float64Array(n * M);
    w0.set(weight);
    if (bias) w0.set(bias, F * M);
    this.checkFinite(acc, consumer);
    const w = ridgeSolve(acc.G, acc.C, w0, n, M, this.ridge);
    const after = residual({ G: acc.G, C: acc.C, tt: acc.tt, F: n, M }, w);
    layer.write(replace, w.subarray(0, F * M), bias ? w.subarray(F * M) : undefined);
    this.layers.push({
      node: describeNode(consumer), pruned: pending.pruned, method: 'channel selection + least squares',
      error_before: round(pending.before), error_after: round(Math.sqrt(after / Math.max(yy, 1e-30))), rows: acc.rows,
    });
  }

  /**
   * Activation-aware factors of a MatMul/Gemm (bias kept as is): W ≈ left·right in the dense view, left
   * [F, r] and right [r, M], from the current model's input activations and the reference's outputs.
   * `plain`: the plain SVD factors of the dense-view weight at the same rank (the error before recovery).
   */
  async factorize(model: Model, node: Node, plain: { left: Float32Array; right: Float32Array; rank: number; energy: number }): Promise<{ left: Float32Array; right: Float32Array; rank: number; energy: number; layer: DenseLayer } | undefined> {
    const layer = denseLayer(model.graph!, node, false);
    if (typeof layer === 'string') {
      this.skipped.push(layer);
      return undefined;
    }
    const { F, M, weight, bias } = layer;
    const acc = await GramAccumulator.create(F, M);
    const t = new Float32Array(M);
    let yy = 0;
    try {
      await forEachSample(model, layer, this.reference, this.feeds, `pass '${this.pass}' recover ${describeNode(node)}`, async (x, y, rows) => {
        for (let r = 0; r < rows; r++) {
          for (let m = 0; m < M; m++) {
            const v = y[r * M + m]!;
            yy += v * v;
            t[m] = v - (bias?.[m] ?? 0);
          }
          await acc.add(x.subarray(r * F, (r + 1) * F), t);
        }
      });
      await acc.flush();
    } finally {
      await acc.release();
    }
    const stats = { G: acc.G, C: acc.C, tt: acc.tt, F, M };
    const rel = (err: number) => round(Math.sqrt(err / Math.max(yy, 1e-30)));
    const before = residualFactored(stats, plain.left, plain.right, plain.rank);

    this.checkFinite(acc, node);
    const { a, lambda } = ridged(acc.G, F, this.ridge);
    const chol = cholesky(a, F);
    const wStar = solveSpd(a, F, Float64Array.from(acc.C, (v, i) => v + lambda * weight[i]!), M);
    // Sᵀ·W* with S = chol (lower): row i is Σ_{k ≥ i} S[k, i]·W*[k, :].
    const whitened = new Float32Array(F * M);
    const acc64 = new Float64Array(M);
    for (let i = 0; i < F; i++) {
      acc64.fill(0);
      for (let k = i; k < F; k++) {
        const s = chol[k * F + i]!;
        if (s === 0) continue;
        for (let m = 0; m < M; m++) acc64[m]! += s * wStar[k * M + m]!;
      }
      whitened.set(acc64, i * M);
    }
    const f = truncatedSvd(whitened, F, M, { rank: plain.rank });
    const left64 = Float64Array.from(f.left);
    solveLowerTransposed(chol, F, left64, f.rank);
    const right64 = Float64Array.from(f.right);
    const after = residualFactored(stats, left64, right64, f.rank);
    if (!(after <= before)) {
      // Never worse than the plain SVD on the samples: keep it and say so.
      this.layers.push({ node: describeNode(node), method: 'whitened SVD + least squares', error_before: rel(before), error_after: rel(before), rows: acc.rows });
      this.skipped.push(`${describeNode(node)}: the activation-aware factors fit the samples worse than the plain SVD (${rel(after)} vs ${rel(before)}); kept the plain SVD`);
      return { left: plain.left, right: plain.right, rank: plain.rank, energy: plain.energy, layer };
    }
    this.layers.push({ node: describeNode(node), method: 'whitened SVD + least squares', error_before: rel(before), error_after: rel(after), rows: acc.rows });
    return { left: Float32Array.from(left64), right: f.right, rank: f.rank, energy: f.energy, layer };
  }

  /** NaN or Inf in the activations would surface as a failed factorization; say where they are instead. */
  private checkFinite(acc: GramAccumulator, node: Node): void {
    let trace = acc.tt;
    for (let i = 0; i < acc.F; i++) trace += acc.G[i * acc.F + i]!;
    if (!Number.isFinite(trace)) throw new ModelGateError(`pass '${this.pass}' recover ${describeNode(node)}: its input or output activations on the calibration samples are not finite`);
  }

  note(): RecoveryNote {
    const cpu = process.cpuUsage(this.cpuStarted);
    return {
      samples: this.feeds.length, seconds: round((performance.now() - this.started) / 1000), cpu_seconds: round((cpu.user + cpu.system) / 1e6),
      layers: this.layers, skipped: this.skipped,
    };
  }

  summary(): string {
    const parts = this.layers.map((l) => `${l.node} ${l.error_before.toFixed(4)} → ${l.error_after.toFixed(4)}`);
    return `recover (${this.feeds.length} samples): relative output error ${parts.join('; ') || 'no layer recovered'}${this.skipped.length ? `; not recovered: ${this.skipped.join('; ')}` : ''}`;
  }
}

/**
 * ‖X·L·R − T‖² for W = L·R (L [F, r], R [r, M]) from the statistics, in O(F²·r) instead of O(F²·M):
 * tr(WᵀGW) = tr((LᵀGL)(RRᵀ)) and tr(WᵀC) = Σ (LᵀC) ∘ R.
 */
export function residualFactored(stats: { G: Float64Array; C: Float64Array; tt: number; F: number; M: number }, left: ArrayLike<number>, right: ArrayLike<number>, r: number): number {
  const { G, C, F, M } = stats;
  const gl = new Float64Array(F * r);
  for (let i = 0; i < F; i++) {
    const gi = i * F, oi = i * r;
    for (let k = 0; k < F; k++) {
      const g = G[gi + k]!;
      if (g === 0) continue;
      const lk = k * r;
      for (let j = 0; j < r; j++) gl[oi + j]! += g * left[lk + j]!;
    }
  }
  const lgl = new Float64Array(r * r);
  const lc = new Float64Array(r * M);
  for (let k = 0; k < F; k++) {
    for (let a = 0; a < r; a++) {
      const la = left[k * r + a]!;
      if (la === 0) continue;
      for (let b = 0; b < r; b++) lgl[a * r + b]! += la * gl[k * r + b]!;
      for (let m = 0; m < M; m++) lc[a * M + m]! += la * C[k * M + m]!;
    }
  }
  let err = stats.tt;
  for (let a = 0; a < r; a++) {
    for (let b = 0; b < r; b++) {
      let rr = 0;
      for (let m = 0; m < M; m++) rr += right[b * M + m]! * right[a * M + m]!;
      err += lgl[a * r + b]! * rr;
    }
    for (let m = 0; m < M; m++) err -= 2 * lc[a * M + m]! * right[a * M + m]!;
  }
  return Math.max(0, err);
}

/** Errors go into the report: 6 significant digits keep them readable and identical across reruns. */
function round(v: number): number {
  return Number(v.toPrecision(6));
}
