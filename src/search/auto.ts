/**
 * `auto`: choose the recipe on the runner, by measuring.
 *
 * No single recipe wins (shared/anchors.md): dynamic int8 makes MatMul models 2x faster and CNNs up to
 * 12x slower (ConvInteger), static QDQ helps CNNs only where the CPU has fast int8 dot products, and
 * weight-only int8 shrinks anything 4x at fp32 speed if the session folds its DequantizeLinear nodes.
 * So the search plans the recipes that fit the model's op mix and the CPU's features, builds and
 * evaluates each, measures their latency interleaved against the fp32 reference, repairs the ones that
 * are slower or cost accuracy (per op type, then per node), and selects one model:
 *
 *   the smallest within the accuracy budget that is not slower than fp32, else the reference itself.
 *
 * Everything that touches ORT, files or the dataset comes in through AutoEnv (see auto-env.ts for the
 * real one), so the selection logic is testable with made-up measurements.
 */
import { DataType, dimsOf, type Model, type onnx } from '../model/onnx.js';
import { getIntAttr } from '../model/graph.js';
import type { IsaFlags } from '../benchmark/hardware.js';
import type { AutoAllow, AutoFamily, AutoSpec, Metric, PassSpec } from '../config/types.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { allGraphs, dequantizeWeight, nodeKey, quantizeWeight } from '../passes/quant-common.js';
import { channelAxis, directReaders } from '../passes/weight-only.js';
import { tensorToFloat32 } from '../model/tensor.js';
import { MATMUL_NBITS_DEFAULTS } from '../passes/matmul-nbits.js';
import { WEIGHT_ONLY_MIN_ELEMENTS } from '../export/tflite/quantize.js';
import type { AutoReport, AutoTried, ParetoPoint, QualityBasis, SearchStage, OpMix } from '../candidates/search-report.js';

// ---------------------------------------------------------------- options

/** Every family, in the order ties in priority are broken. config/schema.ts lists the same names. */
export const AUTO_FAMILIES: readonly AutoFamily[] = [
  'cleanup', 'dynamic', 'dynamic_weight_only', 'static', 'weight_only', 'dynamic_conv', 'fp16', 'lowrank', 'prune', 'int4_weight_only', 'int8_weight_only', 'fp32',
  'tflite_weight_only', 'tflite_fp16', 'tflite_dynamic_int8', 'tflite_int8',
];
/** The families exported to .tflite (src/export/tflite) and run in TFLite: planned when the reference is a .tflite. */
export const TFLITE_FAMILIES: ReadonlySet<AutoFamily> = new Set(['tflite_weight_only', 'tflite_fp16', 'tflite_dynamic_int8', 'tflite_int8']);
export type { AutoFamily };
export type { AutoReport, AutoTried, ParetoPoint, QualityBasis };
export type AutoOptions = AutoSpec;

export const DEFAULT_ACCURACY_DROP_MAX = 0.005;
/** The gate's default fidelity budget (src/gate/rules.ts DEFAULT_BUDGETS; the search sits below the gate's layer). */
export const DEFAULT_FIDELITY_MIN_SNR_DB = 20;
const DEFAULT_BUDGET_S = 120;
const BUDGET_REFERENCE_BYTES = 20 * 1024 * 1024;

/** Trial evaluations the default budget affords, besides its measurements. */
const BUDGET_TRIALS = 12;
/** What the measurements take: the base, op-type, node and confirm rounds, up to 15 s each. */
const BUDGET_MEASURE_S = 60;

/**
 * 120 s up to 20 MB, then proportionally to the model size (the issue's "about 2 minutes on 2 cores").
 * With `trialSeconds` (what evaluating one trial costs, measured on the reference before the search),
 * at least enough for BUDGET_TRIALS trials and the measurements, up to 4x the size-based budget: a model
 * whose every evaluation takes 10-20 s on a loaded runner (a 320x320 detector on 64 samples, twice per
 * trial) ran out of time after its base recipes, before any repair was tried.
 */
export function defaultTimeBudgetS(modelBytes: number, trialSeconds = 0): number {
  const bySize = DEFAULT_BUDGET_S * Math.max(1, modelBytes / BUDGET_REFERENCE_BYTES);
  const byCost = BUDGET_TRIALS * trialSeconds + BUDGET_MEASURE_S;
  return Math.round(Math.max(bySize, Math.min(4 * bySize, byCost)));
}

// ---------------------------------------------------------------- the environment

export interface AutoQuality {
  accuracy: number | null;
  agreement: number | null;
  mse: number | null;
  /** SNR of the worst output against the reference, dB; set when quality is judged on fidelity. */
  snr_db?: number | null;
  /** The reference's quality says whether top-1 agreement fits its first output; false: judge on fidelity. */
  top1_fits?: boolean;
}

/** The fidelity budget as a drop: the noise-to-signal energy ratio an SNR of `db` allows. */
export function noiseRatio(db: number): number {
  return 10 ** (-db / 10);
}

export interface AutoLatency {
  /** p50(candidate) / p50(reference), measured in the same interleaved run. */
  ratio: number;
  ci95: [number, number];
  p50_ms: number;
  reference_p50_ms: number;
}

export interface AutoArtifact {
  id: string;
  bytes: number;
  runtime: RuntimeOptions;
  /** Identifies the model bytes and runtime options: equal digests are the same candidate. */
  digest: string;
}

export interface AutoEnv {
  /** Runs the recipe on the reference model. */
  build(id: string, recipe: PassSpec[]): Promise<AutoArtifact>;
  /** Quality on the dataset (its first `samples` samples when given), agreement against the reference's predictions. */
  evaluate(artifact: AutoArtifact, samples?: number): Promise<AutoQuality>;
  /** Latency of each artifact against the reference, all interleaved in one measurement; same order as given. */
  measure(artifacts: AutoArtifact[], timeBudgetMs: number): Promise<AutoLatency[]>;
  /**
   * Whether onnxruntime runs the artifact with the reference's kernels, op for op on the same shapes
   * (src/runtime/kernels.ts): its speed is then fp32's whatever one measurement reads. Absent where the
   * reference does not run in onnxruntime (a .tflite) or is timed another way (a decoder).
   */
  sameKernels?(artifact: AutoArtifact): Promise<boolean>;
  reference: { bytes: number; digest: string; quality: AutoQuality };
  metric: Metric;
  isa: Partial<IsaFlags>;
  /** Milliseconds, monotonic. */
  now(): number;
  log(message: string): void;
}

// ---------------------------------------------------------------- model analysis

export interface QuantizableNode {
  /** The name include/exclude lists use (node name, else its first output). */
  key: string;
  opType: 'Conv' | 'MatMul' | 'Gemm';
  weightElements: number;
  /** Multiply-adds per output element: Cin/group·kh·kw for Conv, K for MatMul/Gemm. */
  reduction: number;
  /** Multiply-adds per sample, when shapes are known. */
  macs: number | null;
  /** Inside an If/Loop/Scan body: dynamic int8 and weight_only reach it, static QDQ does not. */
  inSubgraph?: boolean;
}

export interface ModelAnalysis {
  opCounts: Record<string, number>;
  /** Conv/MatMul/Gemm nodes whose weight is a float initializer: what the quantizers can touch. */
  nodes: QuantizableNode[];
  /** Elements of float weights with ≥ 1024 elements, by the (single) op type reading them; 'mixed' when several. */
  largeWeights: Record<string, number>;
  /** Share of multiply-adds (weight elements when shapes are unknown) by kind. */
  mix: OpMix;
  recurrent: boolean;
  attention: boolean;
  /** Whether cleanup changed the model (the search then tries cleanup alone too). */
  cleanupChanged: boolean;
  /** Float16 weights (a GPU-oriented export): every recipe converts to float32 first (pass 'fp32'). */
  float16?: boolean;
  /**
   * The reference is a .tflite run in TFLite (set by the environment, not by analyzeModel): the tflite_*
   * families export the trials back to .tflite, because a TFLite user deploys a .tflite.
   */
  tfliteReference?: boolean;
  /** The float weights weight_only quantizes (≥ 1024 elements, read by a node), for its per-weight repair. */
  weights?: LargeWeight[];
}

export interface LargeWeight {
  name: string;
  /** A node that reads it (its nodeKey): weight_only's nodes_exclude names it to keep the weight in float. */
  key: string;
  /** The op type of that reader. */
  opType: string;
  elements: number;
  /**
   * Rounding noise of int8 per-channel storage relative to the weight's energy (Σ(w−ŵ)²/Σw²): large where a
   * few outliers set each channel's scale. A proxy that orders which weights the search measures first.
   */
  noise: number;
}

const QUANT_OPS = ['Conv', 'MatMul', 'Gemm'] as const;
const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);
const LARGE_WEIGHT = 1024;

const product = (dims: ReadonlyArray<number>): number => dims.reduce((a, b) => a * b, 1);

/** Elements per sample of a tensor whose leading dim is the batch, or null when a dim is unknown. */
function perSample(shape: ReadonlyArray<number | string> | undefined): number | null {
  if (!shape || shape.length === 0) return null;
  const rest = shape.slice(1);
  return rest.every((d) => typeof d === 'number' && d > 0) ? product(rest as number[]) : null;
}

/**
 * What the search needs to know about the model (after cleanup): which nodes the quantizers can
 * touch, how the multiply-adds split between Conv, MatMul/Gemm, recurrent and attention ops, and where
 * the large weights are. `shapes` (tensor name → dims, batch first) makes the split exact.
 * Op counts, nodes, recurrent ops and large weights include If/Loop/Scan bodies (a model may keep every
 * weight there, as silero-vad does): weight_only and dynamic quantization reach them. Body nodes are
 * marked `inSubgraph`: static quantization, pruning and low-rank work on the main graph only.
 */
export function analyzeModel(model: Model, shapes?: ReadonlyMap<string, { shape: ReadonlyArray<number | string> }>, cleanupChanged = false): ModelAnalysis {
  const main = model.graph!;
  const opCounts: Record<string, number> = {};
  const nodes: QuantizableNode[] = [];
  const work = { conv: 0, matmul: 0, recurrent: 0, attention: 0 };
  const weightWork = { conv: 0, matmul: 0, recurrent: 0, attention: 0 };
  let attentionMatMul = false;
  // If/Loop/Scan bodies count as the model too: exporters put whole models inside an If on a sample-rate
  // input (Silero VAD), reading the main graph's initializers or their own. Names are unique across scopes.
  const inits = new Map<string, onnx.ITensorProto>();
  const graphs = [...allGraphs(main)];
  for (const g of graphs) for (const t of g.initializer ?? []) if (t.name) inits.set(t.name, t);
  const floatInit = (name: string | undefined): onnx.ITensorProto | undefined => {
    const t = name ? inits.get(name) : undefined;
    return t && (t.dataType === DataType.FLOAT || t.dataType === DataType.FLOAT16) ? t : undefined;
  };
  const readers = new Map<string, Set<string>>();
  for (const graph of graphs) {
    const inSubgraph = graph !== main;
    for (const node of graph.node ?? []) {
      const op = node.opType ?? '';
      opCounts[op] = (opCounts[op] ?? 0) + 1;
      for (const name of node.input ?? []) if (name) (readers.get(name) ?? readers.set(name, new Set()).get(name)!).add(op);
      const out = shapes?.get(node.output?.[0] ?? '')?.shape;
      const w = floatInit(node.input?.[1]);
      if ((QUANT_OPS as readonly string[]).includes(op) && (node.domain ?? '') === '' && w) {
        const dims = dimsOf(w);
        let reduction: number;
        if (op === 'Conv') reduction = product(dims.slice(1));
        else if (op === 'Gemm') reduction = getIntAttr(node, 'transB', 0) !== 0 ? dims[1] ?? 1 : dims[0] ?? 1;
        else reduction = dims.length >= 2 ? dims[dims.length - 2]! : dims[0] ?? 1;
        const outElements = perSample(out);
        const macs = outElements === null ? null : outElements * reduction;
        nodes.push({ key: nodeKey(node), opType: op as QuantizableNode['opType'], weightElements: product(dims), reduction, macs, ...(inSubgraph ? { inSubgraph: true } : {}) });
        const kind = op === 'Conv' ? 'conv' : 'matmul';
        work[kind] += macs ?? 0;
        weightWork[kind] += product(dims);
      } else if (RECURRENT.has(op)) {
        const elements = [node.input?.[1], node.input?.[2]].map((n) => floatInit(n)).reduce((s, t) => s + (t ? product(dimsOf(t)) : 0), 0);
        const seq = shapes?.get(node.input?.[0] ?? '')?.shape?.[getIntAttr(node, 'layout', 0) === 0 ? 0 : 1];
        work.recurrent += typeof seq === 'number' && seq > 0 ? elements * seq : 0;
        weightWork.recurrent += elements;
      } else if (op === 'MatMul' && !node.input?.some((i) => inits.has(i))) {
        attentionMatMul = true;
        const a = shapes?.get(node.input?.[0] ?? '')?.shape;
        const k = a?.[a.length - 1];
        const outElements = perSample(out);
        if (outElements !== null && typeof k === 'number') work.attention += outElements * k;
      }
    }
  }
  const largeWeights: Record<string, number> = {};
  for (const t of inits.values()) {
    if (t.dataType !== DataType.FLOAT && t.dataType !== DataType.FLOAT16) continue;
    const n = product(dimsOf(t));
    if (n < LARGE_WEIGHT) continue;
    // The ops that read it directly, in whichever body (what weight_only's op_types filter looks at).
    const ops = readers.get(t.name ?? '') ?? new Set<string>();
    if (ops.size === 0) continue;
    const key = ops.size === 1 ? [...ops][0]! : 'mixed';
    largeWeights[key] = (largeWeights[key] ?? 0) + n;
  }
  const weights: LargeWeight[] = [];
  const direct = directReaders(main);
  for (const t of inits.values()) {
    if (t.dataType !== DataType.FLOAT && t.dataType !== DataType.FLOAT16) continue;
    const dims = dimsOf(t);
    if (product(dims) < LARGE_WEIGHT) continue;
    const rs = direct.get(t.name ?? '') ?? [];
    if (rs.length === 0) continue;
    weights.push({ name: t.name!, key: nodeKey(rs[0]!), opType: rs[0]!.opType ?? '', elements: product(dims), noise: int8Noise(tensorToFloat32(t), dims, channelAxis(rs, t.name!, dims.length)) });
  }
  // Shapes may be missing (symbolic dims): then weight elements stand in for multiply-adds.
  const useWork = work.conv + work.matmul + work.recurrent > 0;
  const basis = useWork ? work : weightWork;
  const total = basis.conv + basis.matmul + basis.recurrent + basis.attention || 1;
  return {
    opCounts,
    nodes,
    largeWeights,
    mix: { conv: basis.conv / total, matmul: basis.matmul / total, recurrent: basis.recurrent / total, attention: basis.attention / total },
    recurrent: Object.keys(opCounts).some((op) => RECURRENT.has(op)),
    attention: attentionMatMul && (opCounts.Softmax ?? 0) > 0,
    cleanupChanged,
    float16: [...inits.values()].some((t) => t.dataType === DataType.FLOAT16),
    weights,
  };
}

/** Σ(w−ŵ)²/Σw² of symmetric int8 with one scale per slice along `axis` (what weight_only stores). */
export function int8Noise(values: Float32Array, dims: readonly number[], axis: number): number {
  const q = quantizeWeight(values, dims, 'int8', true, dims.length > 0 ? axis : null);
  const back = dequantizeWeight(q, dims);
  let err = 0, energy = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    err += (v - back[i]!) ** 2;
    energy += v * v;
  }
  return energy > 0 ? err / energy : 0;
}

// ---------------------------------------------------------------- planning

interface Variant {
  /** Op types the quantizer (or weight_only) may touch; undefined = the family's default. */
  opTypes?: string[];
  exclude?: string[];
  perChannel?: boolean;
  /** weight_only: a scale per this many weights of an output channel. */
  blockSize?: number;
}

type Stage = SearchStage;

interface Trial {
  id: string;
  family: AutoFamily;
  stage: Stage;
  variant: Variant;
  recipe: PassSpec[];
  why: string;
  parent?: string;
  artifact?: AutoArtifact;
  duplicateOf?: string;
  quality?: AutoQuality;
  drop?: number | null;
  latency?: AutoLatency;
  confirm?: AutoLatency;
  /** Runs the reference's kernels (AutoEnv.sameKernels); undefined when not checked. */
  sameKernels?: boolean;
  error?: string;
  skipped?: string;
  seconds?: number;
}

/** Op types of the model each family can quantize, in a fixed order. */
function familyOpTypes(family: AutoFamily, a: ModelAnalysis): string[] {
  const present = (ops: readonly string[]) => ops.filter((op) => a.nodes.some((n) => n.opType === op));
  switch (family) {
    case 'dynamic':
    case 'dynamic_weight_only':
      // LSTM → DynamicQuantizeLSTM (0.55× on the bench LSTM); it is not a per-node quantizable op here.
      return [...present(['MatMul', 'Gemm']), ...((a.opCounts.LSTM ?? 0) > 0 ? ['LSTM'] : [])];
    case 'dynamic_conv':
      return present(QUANT_OPS);
    case 'static':
      // The static quantizer calibrates and rewrites the main graph only.
      return QUANT_OPS.filter((op) => a.nodes.some((n) => n.opType === op && !n.inSubgraph));
    case 'weight_only':
      return Object.keys(a.largeWeights).filter((k) => k !== 'mixed').sort();
    default:
      return [];
  }
}

/** With `recover`, prune and lowrank re-fit the changed layers on calibration samples (src/passes/recover.ts). */
function recipeFor(family: AutoFamily, v: Variant, a: ModelAnalysis, cleanup: boolean, recover = false): PassSpec[] {
  const steps: PassSpec[] = [...(cleanup ? [{ cleanup: {} }] : []), ...(a.float16 ? [{ fp32: {} }] : [])];
  const filter = (): Record<string, unknown> => ({
    op_types: v.opTypes ?? familyOpTypes(family, a),
    ...(v.exclude && v.exclude.length > 0 ? { nodes_exclude: [...v.exclude].sort() } : {}),
  });
  switch (family) {
    case 'cleanup':
      return [{ cleanup: {} }];
    case 'dynamic':
    case 'dynamic_conv':
      return [...steps, { quantize: { mode: 'dynamic', ...filter(), ...(v.perChannel ? { per_channel: true } : {}) } }];
    case 'dynamic_weight_only':
      return [...steps, { quantize: { mode: 'dynamic', ...filter(), ...(v.perChannel ? { per_channel: true } : {}) } }, { weight_only: {} }];
    case 'static':
      return [...steps, { quantize: { mode: 'static', ...filter() } }];
    case 'weight_only':
      return [...steps, { weight_only: { ...(v.opTypes ? { op_types: v.opTypes } : {}), ...(v.blockSize ? { block_size: v.blockSize } : {}), ...(v.exclude && v.exclude.length > 0 ? { nodes_exclude: [...v.exclude].sort() } : {}) } }];
    case 'fp32':
      return steps;
    case 'fp16':
      return [...steps, { fp16: {} }];
    case 'lowrank':
      return [...steps, { lowrank: recover ? { recover: {} } : {} }];
    case 'prune':
      // With recovery, half the channels: 25% of a 32-channel Conv rounds to no change (channel_multiple 16).
      return [...steps, { prune: recover ? { mode: 'structured', sparsity: 0.5, recover: {} } : { mode: 'structured', sparsity: 0.25 } }];
    case 'int4_weight_only':
      return [...steps, { matmul_nbits: { bits: 4, block_size: 32, accuracy_level: 4 } }];
    case 'int8_weight_only':
      return [...steps, { matmul_nbits: { bits: 8, block_size: 32 } }];
    // The export runs cleanup itself (src/export/tflite/export.ts); float16 weights are widened first like any recipe.
    case 'tflite_weight_only':
      return [...steps, { tflite: { quantize: 'weight-only-int8' } }];
    case 'tflite_fp16':
      return [...steps, { tflite: { quantize: 'float16' } }];
    case 'tflite_dynamic_int8':
      return [...steps, { tflite: { quantize: 'dynamic-int8' } }];
    case 'tflite_int8':
      return [...steps, { tflite: { quantize: 'int8' } }];
  }
}

function trialId(family: AutoFamily, v: Variant, all: ReadonlyArray<string>): string {
  let id: string = family;
  if (v.perChannel) id += '-per-channel';
  if (v.blockSize) id += '-blocked';
  if (v.opTypes) {
    const dropped = all.filter((op) => !v.opTypes!.includes(op));
    if (dropped.length > 0) id += `-no-${dropped.join('-')}`;
  }
  if (v.exclude && v.exclude.length > 0) id += `-excl${v.exclude.length}`;
  return id;
}

export interface PlannedTrial {
  family: AutoFamily;
  why: string;
  priority: number;
}

export interface PlanResult {
  planned: PlannedTrial[];
  skipped: Array<{ family: AutoFamily; why: string }>;
}

const pct = (v: number) => `${Math.round(v * 100)}%`;

/**
 * Which recipes fit, most promising (and cheapest) first. Priorities encode the measurements in
 * shared/anchors.md: int8 MatMul pays on any x86 with AVX2 and on Arm with dot products; int8 Conv via
 * QDQ pays only with fast int8 dot products (VNNI, dotprod), via ConvInteger (dynamic) it is 3.6-12.6x
 * slower on x86; fp16 is 1.1-2.7x slower on CPUs without native fp16 arithmetic.
 */
export function planTrials(a: ModelAnalysis, isa: Partial<IsaFlags>, requested?: ReadonlyArray<AutoFamily>, allow: ReadonlyArray<AutoAllow> = []): PlanResult {
  const int8Fast = !!(isa.avx512_vnni || isa.avx_vnni || isa.amx_int8 || isa.dotprod || isa.i8mm);
  const int8Ok = int8Fast || !!isa.avx2;
  const nativeFp16 = !!(isa.fp16 || isa.avx512_fp16);
  const hasMatMul = familyOpTypes('dynamic', a).length > 0;
  const hasConv = a.nodes.some((n) => n.opType === 'Conv');
  const otherLarge = Object.keys(a.largeWeights).filter((k) => k !== 'MatMul' && k !== 'Gemm');
  const largeTotal = Object.values(a.largeWeights).reduce((s, n) => s + n, 0);
  const cpu = int8Fast ? 'the CPU has fast int8 dot products (VNNI/dotprod)' : int8Ok ? 'AVX2 int8 (no VNNI)' : 'no fast int8 instructions found';
  const mix = `MatMul/Gemm ${pct(a.mix.matmul)}, Conv ${pct(a.mix.conv)} of the multiply-adds`;
  const planned: PlannedTrial[] = [];
  const skipped: Array<{ family: AutoFamily; why: string }> = [];
  const want = (f: AutoFamily) => !requested || requested.includes(f);
  const consider = (family: AutoFamily, fits: string | null, priority: number, why: string, defaultOff?: string) => {
    if (!want(family)) return;
    if (fits) skipped.push({ family, why: fits });
    else if (defaultOff && !requested && !(allow as readonly string[]).includes(family)) skipped.push({ family, why: defaultOff });
    else planned.push({ family, why, priority });
  };
  consider('cleanup', a.cleanupChanged ? null : 'cleanup changes nothing in this model', 100, 'lossless graph clean-up: the cheapest candidate');
  consider('dynamic', hasMatMul ? null : 'no MatMul/Gemm with constant weights', int8Ok ? 50 + 40 * (a.mix.matmul + a.mix.attention) : 20, `int8 MatMul/Gemm: ${mix}; ${cpu}`);
  consider(
    'dynamic_weight_only',
    !hasMatMul ? 'no MatMul/Gemm with constant weights' : otherLarge.length === 0 ? 'no large weights outside MatMul/Gemm' : null,
    int8Ok ? 45 + 40 * a.mix.matmul : 18,
    `int8 MatMul/Gemm, and int8 storage for the ${otherLarge.join('/')} weights`,
  );
  consider('static', familyOpTypes('static', a).length > 0 ? null : hasConv || hasMatMul ? 'its Conv/MatMul/Gemm nodes are all inside If/Loop/Scan bodies, which static quantization does not rewrite' : 'no Conv/MatMul/Gemm with constant weights', int8Fast ? 30 + 40 * a.mix.conv : 15 + 10 * a.mix.conv, `QDQ int8 (calibrated): ${mix}; ${cpu}`);
  consider('weight_only', largeTotal > 0 ? null : 'no float weights with 1,024 elements or more', int8Ok ? 45 : 90, 'int8 storage, fp32 compute (session.disable_quant_qdq=1): 4x smaller at fp32 speed');
  // Only Arm with dot products is left untried by the published measurements; elsewhere it is a known loss.
  consider(
    'dynamic_conv', hasConv ? null : 'no Conv', 25, 'ORT\'s default dynamic quantization (Conv → ConvInteger)',
    isa.dotprod ? undefined : 'ConvInteger ran 3.6-12.6x slower than fp32 Conv on x86 (shared/anchors.md); list it in auto.recipes to measure it anyway',
  );
  consider(
    'fp32', a.float16 ? null : 'no float16 weights', nativeFp16 ? 10 : 95,
    'the float16 model computed in float32: CPUs without fp16 arithmetic emulate it (0.87x decode time on the bench decoder)',
  );
  consider('fp16', a.float16 ? 'the model is float16 already' : null, nativeFp16 ? 25 : 5, 'fp16 weights and compute', nativeFp16 ? undefined : 'no native fp16 arithmetic on this CPU (fp16 ran 1.1-2.7x slower on CPUs without it)');
  const recovers = (f: AutoAllow) => allow.includes(f);
  consider(
    'lowrank', hasMatMul ? null : 'no MatMul/Gemm with constant weights', 8,
    recovers('lowrank') ? 'activation-aware SVD of large MatMul/Gemm weights (95% energy), re-fitted on calibration samples' : 'truncated SVD of large MatMul/Gemm weights (95% energy)',
    'changes the function; allow it with auto.allow: [lowrank] (with recovery) or list it in auto.recipes',
  );
  consider(
    'prune', hasConv || hasMatMul ? null : 'no Conv/MatMul/Gemm with constant weights', 6,
    recovers('prune') ? 'structured pruning of 50% of the channels, next layers re-fitted on calibration samples' : 'structured pruning of 25% of the channels',
    'changes the function until fine-tuned; allow it with auto.allow: [prune] (with recovery) or list it in auto.recipes',
  );
  // MatMulNBits (com.microsoft): the weight-only form LLM exports ship; it pays where MatMul weights dominate.
  const nbits = a.nodes.some((n) => n.opType === 'MatMul' && n.weightElements >= MATMUL_NBITS_DEFAULTS.min_elements)
    ? null : `no MatMul with a constant weight of ${MATMUL_NBITS_DEFAULTS.min_elements} elements or more`;
  const matmulHeavy = a.attention || a.mix.matmul + a.mix.attention >= 0.5;
  const notHeavy = `MatMul/attention is ${pct(a.mix.matmul + a.mix.attention)} of the multiply-adds; list it in auto.recipes to try it`;
  consider('int4_weight_only', nbits, 38 + 40 * a.mix.matmul, `int4 MatMulNBits blocks of 32, int8 compute (accuracy_level 4): 5/32 of the MatMul weight bytes; ${mix}`, matmulHeavy ? undefined : notHeavy);
  // On x86 onnxruntime 1.30 has no fast 8-bit block kernel: 1.4-9x slower than fp32 (docs/benchmarks.md, MatMulNBits).
  consider('int8_weight_only', nbits, 35 + 40 * a.mix.matmul, `int8 MatMulNBits blocks of 32: 9/32 of the MatMul weight bytes; ${mix}`,
    isa.dotprod || isa.neon ? (matmulHeavy ? undefined : notHeavy) : 'int8 MatMulNBits ran 1.4-9x slower than fp32 on x86 (docs/benchmarks.md); list it in auto.recipes to measure it anyway');
  // A .tflite reference: the same model back as a smaller .tflite, run where the reference runs (TFLite, XNNPACK).
  // Weights-only variants first: int8 and float16 weights behind a DEQUANTIZE of a constant are dequantized once
  // (TFLite's kernel caches the result, XNNPACK unpacks them when it prepares the graph: src/export/tflite/quantize.ts),
  // so both run the float kernels at float speed; weight-only int8 is the TFLite analogue of weight_only (4x
  // smaller), float16 the safer 2x. Dynamic-range int8 runs hybrid kernels that quantize the activations on
  // the fly (faster on some MatMul models, at an accuracy risk); full int8 (calibrated) is the smallest and the
  // one XNNPACK runs with int8 kernels, at the larger accuracy risk.
  const notTflite = 'the reference is not a .tflite (the tflite_* families export back to the reference\'s format)';
  const tfliteOnly = a.tfliteReference ? null : notTflite;
  const weightOnlyFits = a.nodes.some((n) => n.weightElements >= WEIGHT_ONLY_MIN_ELEMENTS) ? null : `no Conv/MatMul/Gemm with a constant weight of ${WEIGHT_ONLY_MIN_ELEMENTS.toLocaleString('en-US')} elements or more`;
  consider('tflite_weight_only', tfliteOnly ?? weightOnlyFits, 93, 'the .tflite with int8 weights behind DEQUANTIZE, float32 compute (weight-only): about 4x smaller at float speed');
  consider('tflite_dynamic_int8', tfliteOnly ?? (hasConv || hasMatMul ? null : 'no Conv/MatMul/Gemm with constant weights'), 92, 'the .tflite with int8 weights (dynamic-range quantization): about 4x smaller, hybrid int8 kernels');
  consider('tflite_fp16', tfliteOnly, 91, 'the .tflite with float16 weights, float32 compute: 2x smaller at float speed');
  consider('tflite_int8', tfliteOnly ?? (hasConv || hasMatMul ? null : 'no Conv/MatMul/Gemm with constant weights'), 89, 'the .tflite fully int8 (calibrated activations, float32 I/O): 4x smaller, int8 XNNPACK kernels');
  planned.sort((x, y) => y.priority - x.priority || AUTO_FAMILIES.indexOf(x.family) - AUTO_FAMILIES.indexOf(y.family));
  return { planned, skipped };
}

// ---------------------------------------------------------------- selection

/**
 * The "not slower" rule: not significantly slower than fp32, the same reading of a latency ratio as the
 * gate's (src/benchmark/stats.ts latencyVerdict: only a ratio whose whole 95% CI lies above the bound is a
 * slow-down) and as the real-world yardstick's (bench/realworld/readout.ts notSlower: the CI reaches 1.00).
 * A trial qualifies when the lower end of its 95% bootstrap CI (p50 ratio against fp32, measured
 * interleaved) is ≤ latency_ratio_max (1.00), and its point estimate is ≤ latency_ratio_max + CI_SLACK.
 *
 * Why not "p50 ≤ 1.00" (the rule before): a model that runs at exactly fp32 speed (weight_only, cleanup)
 * reads above 1.00 in half of its measurements, so that rule threw it away by coin toss (cleanup at 1.024,
 * CI 0.95-1.09, called slower). Two workers running the same model differ by 1.5-4.5% here, more than
 * any in-run CI shows (docs/benchmarks.md, trust experiment), so a ratio the data cannot separate from
 * 1.00 is fp32 speed. Why the cap on the point estimate: a wide CI that still reaches 1.00 must not let a
 * p50 above the gate's own default budget (1.05) through. The winner is then measured again (confirm)
 * and must pass both, which guards against picking the luckiest of many noisy ratios; among equally
 * small qualifiers the fastest wins, so a real speed-up still beats fp32 speed.
 */
export const CI_SLACK = 0.05;

/**
 * How the winner is chosen among the qualifiers (`auto.prefer`):
 * - 'balanced' (default): the lowest size × time, the product of the size ratio and the p50 ratio against fp32.
 *   Halving the file and halving the latency count alike, so a 0.30x model at 0.50x speed (cost 0.15) beats a
 *   0.27x model at fp32 speed (0.27): "smallest" alone threw a 2x speed-up away for 10% of the file
 *   (openWakeWord's embedding model in the corpus, docs/benchmarks.md).
 * - 'size': the smallest file; sizes within SIZE_TIE count as equal and the fastest of those wins.
 * - 'speed': the lowest p50 ratio; ratios within SPEED_TIE count as equal and the smallest of those wins.
 */
export type AutoPrefer = 'balanced' | 'size' | 'speed';
export const AUTO_PREFER_DEFAULT: AutoPrefer = 'balanced';

/**
 * prefer: size. Sizes within 10% of the smallest count as equally small; among those the fastest wins. Dynamic
 * int8 and weight-only int8 differ by a few scale tensors (under 1% of the file), and trading a 2x speed-up
 * for that is not what "smallest" means to anyone.
 */
export const SIZE_TIE = 0.1;

/**
 * prefer: balanced and speed. Scores within 5% count as equal, and the smaller file of those wins: two workers
 * running the same model differ by 1.5-4.5% here (docs/benchmarks.md, trust experiment), so a closer latency
 * difference is noise, while a size difference is exact.
 */
export const COST_TIE = 0.05;

/**
 * The lowest latency ratio a quantized trial is assumed able to reach, for pruning repairs: int8 dot products
 * do 4 multiply-adds per 32-bit lane where float32 FMA does 1 (x86 VNNI VPDPBUSD, Arm SDOT), so an int8 model
 * computes at most about 4x as fast as fp32.
 */
const INT8_SPEEDUP_BOUND = 0.25;

/** A rejected candidate this close above the latency bound is within measurement noise: the reason says how to accept it. */
const NEAR_MISS = 0.02;

export interface Contender {
  id: string;
  bytes: number;
  /** Accuracy drop against the reference (disagreement, mse rise), or null if unmeasurable. */
  drop: number | null;
  /** Every latency measurement of this candidate (search, confirm); all must pass, unless it runs fp32's kernels. */
  latency: AutoLatency[];
  /**
   * onnxruntime runs it with the reference's kernels, op for op (AutoEnv.sameKernels): its speed is fp32's
   * (within about 2%: silero-vad-16k-op15's folded graph read 1.020 where a copy of the reference read 1.003,
   * docs/benchmarks.md), so a measurement does not reject it, and it ranks at a ratio of 1.
   */
  fp32Kernels?: boolean;
}

export interface SelectionRules {
  accuracyDropMax: number;
  latencyRatioMax: number;
  /**
   * The reference's size. A candidate larger than it qualifies only when it is significantly faster (every
   * CI below 1.00): at fp32 speed it gains nothing and costs bytes (weight_only leaving the Conv weights in
   * float, after Constant nodes became initializers, came out 1.39x the size of a VAD at the same speed).
   */
  referenceBytes?: number;
  /** How the winner is chosen among the qualifiers; AUTO_PREFER_DEFAULT when absent. */
  prefer?: AutoPrefer;
}

export function accuracyOk(drop: number | null, max: number): boolean {
  return drop !== null && drop <= max + 1e-12;
}

export function latencyOk(l: AutoLatency, max: number): boolean {
  return l.ci95[0] <= max && l.ratio <= max + CI_SLACK;
}

/** Not slower than fp32: every measurement passes, or it runs fp32's own kernels (measured all the same, for the report). */
export function speedOk(c: Contender, rules: SelectionRules): boolean {
  return c.latency.length > 0 && (c.fp32Kernels === true || c.latency.every((l) => latencyOk(l, rules.latencyRatioMax)));
}

export function qualifies(c: Contender, rules: SelectionRules): boolean {
  return accuracyOk(c.drop, rules.accuracyDropMax) && speedOk(c, rules) && !largerNotFaster(c, rules);
}

/** Larger than the reference without being significantly faster: nothing gained. */
export function largerNotFaster(c: Pick<Contender, 'bytes' | 'latency'>, rules: SelectionRules): boolean {
  return rules.referenceBytes !== undefined && c.bytes > rules.referenceBytes && !c.latency.every((l) => l.ci95[1] < 1);
}

/** The ratio to rank by: the latest measurement (confirm, when there is one). */
const lastRatio = (c: Contender) => c.latency[c.latency.length - 1]!.ratio;
/** The ratio a candidate is ranked at: 1 for fp32's kernels (a measurement only adds noise), else the latest measurement. */
const rankRatio = (c: Contender) => (c.fp32Kernels ? 1 : lastRatio(c));

/**
 * What a preference ranks by (lower is better): bytes, the p50 ratio, or bytes × ratio. Within `tie` of the
 * best score, the preference's second key decides (see AutoPrefer).
 */
export function preferenceScore(prefer: AutoPrefer, bytes: number, ratio: number): number {
  if (prefer === 'size') return bytes;
  if (prefer === 'speed') return ratio;
  return bytes * ratio;
}

function preferenceTie(prefer: AutoPrefer): number {
  return prefer === 'size' ? SIZE_TIE : COST_TIE;
}

/** The winner among contenders (null: none qualifies, ship the reference). */
export function selectWinner(contenders: ReadonlyArray<Contender>, rules: SelectionRules): Contender | null {
  const ok = contenders.filter((c) => qualifies(c, rules));
  if (ok.length === 0) return null;
  const prefer = rules.prefer ?? AUTO_PREFER_DEFAULT;
  const score = (c: Contender) => preferenceScore(prefer, c.bytes, rankRatio(c));
  const best = Math.min(...ok.map(score));
  const band = ok.filter((c) => score(c) <= best * (1 + preferenceTie(prefer)));
  // In the band: 'size' takes the fastest; 'balanced' and 'speed' take the smallest (its size is exact, the ratio noisy).
  const second = (c: Contender) => (prefer === 'size' ? rankRatio(c) : c.bytes);
  band.sort((x, y) => second(x) - second(y) || score(x) - score(y) || x.bytes - y.bytes || (x.id < y.id ? -1 : 1));
  return band[0]!;
}

/** Points no other point beats on size, latency and accuracy at once (ties on all three keep both). */
export function paretoFront(points: ReadonlyArray<ParetoPoint>): ParetoPoint[] {
  const loss = (p: ParetoPoint) => p.drop ?? Number.POSITIVE_INFINITY;
  const dominates = (a: ParetoPoint, b: ParetoPoint) =>
    a.bytes <= b.bytes && a.latency_ratio <= b.latency_ratio && loss(a) <= loss(b) && (a.bytes < b.bytes || a.latency_ratio < b.latency_ratio || loss(a) < loss(b));
  return points.filter((p) => !points.some((q) => q !== p && dominates(q, p))).sort((a, b) => a.bytes - b.bytes || a.latency_ratio - b.latency_ratio);
}

// ---------------------------------------------------------------- the report entry



export interface AutoResult {
  /** 'reference' when nothing qualified. */
  winner: string;
  recipe: PassSpec[];
  runtime: RuntimeOptions;
  report: AutoReport;
}

export interface AutoInput {
  analysis: ModelAnalysis;
  options: Required<Pick<AutoOptions, 'accuracy_drop_max' | 'time_budget_s' | 'latency_ratio_max'>> & Pick<AutoOptions, 'recipes' | 'allow' | 'prefer'> & {
    /** The quality budget when quality is fidelity (no labels, no class axis); DEFAULT_FIDELITY_MIN_SNR_DB by default. */
    fidelity_min_snr_db?: number;
  };
  /** Whether recipes start with the cleanup pass (false when cleanup failed on this model). */
  cleanup: boolean;
  env: AutoEnv;
}

// ---------------------------------------------------------------- the search

/** Samples for the per-node sensitivity ranking: enough to rank, fewer than the full evaluation. */
export const SENSITIVITY_SAMPLES = 500;
const MAX_SENSITIVITY_NODES = 16;
/** weight_only's repair: weights ranked at most, and the size it may grow to (above it int8 storage is not worth its noise). */
const MAX_WEIGHT_SENSITIVITY = 24;
export const WEIGHT_ONLY_SIZE_CAP = 0.5;
/**
 * weight_only's finer scales: 16 weights per scale stores 1 + 5/16 bytes per weight (0.33x of float32,
 * against 0.25x per channel), and confines an outlier to 15 neighbours instead of its whole channel.
 */
const WEIGHT_ONLY_BLOCK = 16;
/** The predicted drop a weight_only repair aims under, as a share of the budget (the prediction is from a subset). */
const PREDICTION_MARGIN = 0.8;
const MAX_EXTRA_WEIGHT_TRIALS = 3;
const WEIGHT_RANK_FIDELITY_SAMPLES = 8;
const MEASURE_MIN_MS = 2000;
const MEASURE_MAX_MS = 15000;
const CONFIRM_COUNT = 3;

export function qualityDrop(q: AutoQuality, ref: AutoQuality, metric: Metric): number | null {
  if (metric === 'mse' && q.mse !== null && ref.mse !== null) return q.mse - ref.mse;
  if (q.accuracy !== null && ref.accuracy !== null) return ref.accuracy - q.accuracy;
  if (ref.top1_fits !== false && q.agreement !== null) return 1 - q.agreement;
  if (q.snr_db !== undefined && q.snr_db !== null) return noiseRatio(q.snr_db);
  return null;
}

/** Families built to run at fp32 speed (int8 storage folded at load, or a lossless rewrite): checked with AutoEnv.sameKernels. */
const FP32_SPEED_FAMILIES: ReadonlySet<AutoFamily> = new Set(['weight_only', 'cleanup']);

/** The model families that quantize nodes, and so can fall back per op type and per node. */
const QUANTIZING: ReadonlySet<AutoFamily> = new Set(['dynamic', 'dynamic_weight_only', 'dynamic_conv', 'static']);

export async function runAuto(input: AutoInput): Promise<AutoResult> {
  const { analysis: a, env, cleanup } = input;
  const basis = qualityBasis(env.reference.quality, env.metric);
  const accuracyDropMax = basis === 'fidelity' ? noiseRatio(input.options.fidelity_min_snr_db ?? DEFAULT_FIDELITY_MIN_SNR_DB) : input.options.accuracy_drop_max;
  const prefer = input.options.prefer ?? AUTO_PREFER_DEFAULT;
  const rules: SelectionRules = { accuracyDropMax, latencyRatioMax: input.options.latency_ratio_max, referenceBytes: env.reference.bytes, prefer };
  const start = env.now();
  const deadline = start + input.options.time_budget_s * 1000;
  const remaining = () => deadline - env.now();
  let budgetExhausted = false;
  const trials: Trial[] = [];
  const byDigest = new Map<string, Trial>();
  const sensitivity: AutoReport['sensitivity'] = [];
  // Measuring needs time too: stop building once less than this is left.
  const measureReserve = Math.max(6000, input.options.time_budget_s * 1000 * 0.15);
  const allow = input.options.allow ?? [];
  const plan = planTrials(a, env.isa, input.options.recipes, allow);
  const recoverFamily = (f: AutoFamily) => (allow as readonly string[]).includes(f);
  env.log(`auto: ${plan.planned.map((p) => p.family).join(', ') || 'nothing'} to try${plan.skipped.length ? `; skipped ${plan.skipped.map((s) => s.family).join(', ')}` : ''}`);

  const drop = (t: Trial) => (t.duplicateOf ? byId(t.duplicateOf)?.drop : t.drop) ?? null;
  const byId = (id: string) => trials.find((t) => t.id === id);
  const resolved = (t: Trial): Trial => (t.duplicateOf ? byId(t.duplicateOf) ?? t : t);

  /** Builds and evaluates a trial (full dataset); returns false when it could not be built or evaluated. */
  const buildAndEvaluate = async (t: Trial): Promise<boolean> => {
    trials.push(t);
    if (remaining() < measureReserve) {
      t.skipped = 'time budget';
      budgetExhausted = true;
      return false;
    }
    const t0 = env.now();
    try {
      t.artifact = await env.build(t.id, t.recipe);
      const same = t.artifact.digest === env.reference.digest ? 'reference' : byDigest.get(t.artifact.digest)?.id;
      if (same) {
        t.duplicateOf = same;
        return false;
      }
      byDigest.set(t.artifact.digest, t);
      t.quality = await env.evaluate(t.artifact);
      t.drop = qualityDrop(t.quality, env.reference.quality, env.metric);
      return true;
    } catch (err) {
      t.error = err instanceof Error ? err.message : String(err);
      return false;
    } finally {
      t.seconds = (env.now() - t0) / 1000;
      env.log(`auto: ${t.id}: ${describeTrial(t)}`);
    }
  };

  const measure = async (list: Trial[], confirm = false): Promise<void> => {
    const todo = list.filter((t) => t.artifact && !t.duplicateOf && !t.error);
    if (todo.length === 0) return;
    const left = remaining();
    if (left < MEASURE_MIN_MS) {
      budgetExhausted = true;
      for (const t of todo) if (!t.latency) t.skipped ??= 'not measured: time budget';
      return;
    }
    const budget = Math.min(MEASURE_MAX_MS, Math.max(MEASURE_MIN_MS, left * 0.4));
    // The families meant to run at fp32 speed: does onnxruntime run them with fp32's own kernels?
    for (const t of todo) {
      if (!env.sameKernels || t.sameKernels !== undefined || !FP32_SPEED_FAMILIES.has(t.family)) continue;
      try {
        t.sameKernels = await env.sameKernels(t.artifact!);
      } catch {
        t.sameKernels = false;
      }
      if (t.sameKernels) env.log(`auto: ${t.id} runs the reference's kernels op for op: fp32 speed`);
    }
    try {
      const results = await env.measure(todo.map((t) => t.artifact!), budget);
      todo.forEach((t, i) => {
        if (confirm) t.confirm = results[i];
        else t.latency = results[i];
      });
      env.log(`auto: measured ${todo.map((t) => `${t.id} ${(confirm ? t.confirm : t.latency)!.ratio.toFixed(2)}x`).join(', ')}${confirm ? ' (confirm)' : ''}`);
    } catch (err) {
      for (const t of todo) t.error ??= `measurement failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  };

  const contender = (t: Trial): Contender | null => {
    if (!t.artifact || t.duplicateOf || t.error || !t.latency) return null;
    return { id: t.id, bytes: t.artifact.bytes, drop: t.drop ?? null, latency: t.confirm ? [t.latency, t.confirm] : [t.latency], ...(t.sameKernels ? { fp32Kernels: true } : {}) };
  };
  const contenders = () => trials.map(contender).filter((c): c is Contender => c !== null);
  /**
   * The best score (AutoPrefer) a repair has to come near to be worth building or measuring. Only candidates
   * whose whole CI is within the latency bound count: a borderline one (fp32 speed, CI straddling 1)
   * may fail its confirmation, and must not have pruned the search before that.
   */
  const bestScore = () => {
    const solid = contenders().filter((c) => qualifies(c, rules) && (c.fp32Kernels || c.latency.every((l) => l.ci95[1] <= rules.latencyRatioMax)));
    return solid.length ? Math.min(...solid.map((c) => preferenceScore(prefer, c.bytes, rankRatio(c)))) : Number.POSITIVE_INFINITY;
  };
  /**
   * The best score a trial's repairs could reach: its size (repairs only add float weights) at the fastest
   * speed int8 can reach, since a repair changes which kernels run (static QDQ at 1.03x without its MatMul
   * ran at 0.62x on openWakeWord's melspectrogram, so the parent's speed is no bound).
   */
  const potential = (t: Trial) => preferenceScore(prefer, t.artifact!.bytes, INT8_SPEEDUP_BOUND);
  const couldWin = (t: Trial) => potential(t) <= bestScore() * (1 + preferenceTie(prefer));
  const accOk = (t: Trial) => accuracyOk(t.drop ?? null, rules.accuracyDropMax);
  const fast = (t: Trial) => !!t.latency && (t.sameKernels === true || latencyOk(t.latency, rules.latencyRatioMax));
  /** A family's repair can only produce something bigger than its base: skip it when that cannot beat the best qualifier. */
  const worthRepairing = (t: Trial) => !!t.artifact && couldWin(t);
  /** Repairs are measured only when they could still win: within the accuracy budget and near the best score. */
  const measurable = (t: Trial) => {
    if (!accOk(t)) return false;
    if (t.artifact && !couldWin(t)) {
      t.skipped = prefer === 'size' ? 'not measured: larger than a qualifying candidate' : 'not measured: cannot beat a qualifying candidate';
      return false;
    }
    return true;
  };
  const newTrial = (family: AutoFamily, stage: Stage, variant: Variant, why: string, parent?: string): Trial => {
    const all = familyOpTypes(family, a);
    let id = trialId(family, variant, all);
    for (let k = 2; trials.some((t) => t.id === id); k++) id = `${trialId(family, variant, all)}-${k}`;
    return { id, family, stage, variant, recipe: recipeFor(family, variant, a, cleanup, recoverFamily(family)), why, parent };
  };

  // 1. Base recipes, most promising first; one interleaved measurement for all of them.
  const base: Trial[] = [];
  for (const p of plan.planned) {
    const t = newTrial(p.family, 'base', {}, p.why);
    if (await buildAndEvaluate(t)) base.push(t);
  }
  await measure(base);

  // 2. Per op type: a candidate that is slower or over the accuracy budget is tried without each of its
  //    op types (and, for dynamic int8 over the accuracy budget, with per-channel weight scales).
  const opTypeTrials: Trial[] = [];
  for (const t of base) {
    if ((accOk(t) && fast(t)) || !worthRepairing(t)) continue;
    const ops = t.variant.opTypes ?? familyOpTypes(t.family, a);
    if (QUANTIZING.has(t.family) || t.family === 'weight_only') {
      // weight_only over the accuracy budget: finer scales and float weights first (3a), which keep the file small;
      // leaving a whole op type in float only when they fail.
      const deferred = t.family === 'weight_only' && !accOk(t);
      if (ops.length >= 2 && !deferred) {
        for (const op of ops) {
          const keep = ops.filter((o) => o !== op);
          const why = `${t.id} was ${accOk(t) ? 'slower than fp32' : 'over the accuracy budget'}: leave ${op} in float`;
          const v = newTrial(t.family, 'op type', { ...t.variant, opTypes: keep }, why, t.id);
          if (await buildAndEvaluate(v)) opTypeTrials.push(v);
        }
      }
      if (!accOk(t) && (t.family === 'dynamic' || t.family === 'dynamic_weight_only') && !t.variant.perChannel) {
        const v = newTrial(t.family, 'per channel', { ...t.variant, perChannel: true }, `${t.id} was over the accuracy budget: one weight scale per output channel`, t.id);
        if (await buildAndEvaluate(v)) opTypeTrials.push(v);
      }
      if (!accOk(t) && t.family === 'weight_only' && !t.variant.blockSize && !t.variant.opTypes) {
        const why = `${t.id} was over the accuracy budget: a scale per ${WEIGHT_ONLY_BLOCK} weights of an output channel, not one per channel`;
        const v = newTrial(t.family, 'blocked', { ...t.variant, blockSize: WEIGHT_ONLY_BLOCK }, why, t.id);
        if (await buildAndEvaluate(v)) opTypeTrials.push(v);
      }
    }
  }
  await measure(opTypeTrials.filter(measurable));

  // 3a. weight_only over the accuracy budget: leave the weights whose int8 rounding costs the most in float.
  //     Before the quantizers' node repairs: its trials need no calibration, and it is the smallest family.
  const weightTrials: Trial[] = [];
  const woFrom = closestMiss(trials.filter((t) => t.family === 'weight_only' && t.artifact && !t.duplicateOf && !t.error && !accOk(t) && t.drop !== null), rules);
  if (woFrom && worthRepairing(woFrom) && remaining() >= measureReserve) await repairWeightOnly(woFrom);
  const woBase = base.find((t) => t.family === 'weight_only' && !accOk(t) && worthRepairing(t));
  if (woBase && !trials.some((t) => t.family === 'weight_only' && accOk(t))) {
    const ops = familyOpTypes('weight_only', a);
    for (const op of ops.length >= 2 ? ops : []) {
      const why = `${woBase.id} was over the accuracy budget, and finer scales and float weights within half the size did not repair it: leave ${op} in float`;
      const v = newTrial('weight_only', 'op type', { opTypes: ops.filter((o) => o !== op) }, why, woBase.id);
      if (await buildAndEvaluate(v)) weightTrials.push(v);
    }
  }
  await measure(weightTrials.filter(measurable));

  // 3. Per node, for each quantizing family: start from its closest miss (when that could still win on
  //    size) and exclude the nodes that cost the most accuracy, or the ones least worth quantizing.
  const nodeTrials: Trial[] = [];
  for (const family of AUTO_FAMILIES.filter((f) => QUANTIZING.has(f))) {
    // A qualifying trial in the family does not end its search: a node-level repair of a smaller miss may still win on size.
    const misses = trials.filter((t) => t.family === family && t.artifact && !t.duplicateOf && !t.error && !(accOk(t) && fast(t)));
    const from = closestMiss(misses, rules);
    if (!from || !worthRepairing(from) || remaining() < measureReserve) continue;
    const ops = from.variant.opTypes ?? familyOpTypes(family, a);
    const excluded = new Set(from.variant.exclude ?? []);
    const nodes = a.nodes.filter((n) => ops.includes(n.opType) && !excluded.has(n.key) && !(family === 'static' && n.inSubgraph));
    if (nodes.length < 2) continue; // excluding the only node leaves nothing quantized
    if (accOk(from)) {
      // Slower: int8 pays least where each output sums few products (depthwise and first convs, thin
      // MatMuls) and the quantize/dequantize overhead is the same; leave the lowest-reduction quarter,
      // then half, in float.
      const order = [...nodes].sort((x, y) => x.reduction - y.reduction || (x.key < y.key ? -1 : 1));
      const counts = new Set([0.25, 0.5].map((share) => Math.min(nodes.length - 1, Math.max(1, Math.round(nodes.length * share)))));
      for (const k of counts) {
        const exclude = [...excluded, ...order.slice(0, k).map((n) => n.key)];
        const why = `${from.id} was slower than fp32: leave the ${k} quantized node${k > 1 ? 's' : ''} with the fewest multiply-adds per output in float`;
        const v = newTrial(family, 'node', { ...from.variant, exclude }, why, from.id);
        if (await buildAndEvaluate(v)) nodeTrials.push(v);
      }
    } else {
      // Over the accuracy budget: rank nodes by how much excluding each alone recovers (on a subset),
      // then exclude the worst ones cumulatively until the candidate is within budget.
      const ranked = await rankBySensitivity(from, nodes);
      env.log(`auto: sensitivity of ${from.id}: ${ranked.map((r) => `${r.node.key} ${r.drop === null ? '?' : (r.drop * 100).toFixed(2)}`).join(', ')}`);
      sensitivity.push({ trial: from.id, nodes: ranked.map((r) => ({ node: r.node.key, op_type: r.node.opType, drop_without: r.drop })) });
      // Only ranked nodes can be excluded: past them every further trial was the same model again.
      const limit = Math.min(nodes.length - 1, Math.max(1, Math.ceil(nodes.length / 2)), ranked.length);
      for (let k = 1; k <= limit; k++) {
        const exclude = [...excluded, ...ranked.slice(0, k).map((r) => r.node.key)];
        const why = `${from.id} was over the accuracy budget: leave the ${k} most sensitive node${k > 1 ? 's' : ''} in float`;
        const v = newTrial(family, 'node', { ...from.variant, exclude }, why, from.id);
        const ok = await buildAndEvaluate(v);
        if (ok) nodeTrials.push(v);
        if ((ok && accOk(v)) || v.skipped) break;
      }
    }
  }
  await measure(nodeTrials.filter(measurable));

  /**
   * Ranks the weights that fit the size cap (float32 costs 3 more bytes per element than int8) by what
   * leaving each alone in float recovers on a subset, smallest weights first (the cheapest to keep, and
   * where the sensitive ones were: a 3x3 depthwise kernel, 1x1 convs of a detector), then leaves the
   * fewest in float that the ranking predicts reach the budget (the rounding noise of separate weights
   * adds up), one more each time the prediction falls short.
   */
  async function repairWeightOnly(from: Trial): Promise<void> {
    const excluded = new Set(from.variant.exclude ?? []);
    const ops = from.variant.opTypes;
    const room = WEIGHT_ONLY_SIZE_CAP * env.reference.bytes - from.artifact!.bytes;
    const seen = new Set<string>();
    const candidates = (a.weights ?? [])
      .filter((w) => !excluded.has(w.key) && (!ops || ops.includes(w.opType)) && 3 * w.elements <= room)
      .sort((x, y) => x.elements - y.elements || y.noise - x.noise || (x.key < y.key ? -1 : 1))
      .filter((w) => !seen.has(w.key) && !!seen.add(w.key))
      .slice(0, MAX_WEIGHT_SENSITIVITY);
    if (candidates.length === 0) return;
    // On fidelity a few samples rank the weights (each weight's noise shows on every sample); agreement needs many.
    const rankSamples = basis === 'fidelity' ? WEIGHT_RANK_FIDELITY_SAMPLES : SENSITIVITY_SAMPLES;
    let baseDrop: number | null;
    try {
      baseDrop = subsetDrop(await env.evaluate(from.artifact!, rankSamples));
    } catch {
      return;
    }
    if (baseDrop === null) return;
    const ranked: Array<{ w: LargeWeight; drop: number | null }> = [];
    // Enough left after the ranking for two of the trials it leads to (each costs about what the base trial did).
    const reserve = measureReserve + 2 * (from.seconds ?? 0) * 1000;
    for (const w of candidates) {
      if (remaining() < reserve) {
        budgetExhausted = true;
        break;
      }
      try {
        const art = await env.build(`${from.id}-without-${w.key}`, recipeFor('weight_only', { ...from.variant, exclude: [...excluded, w.key] }, a, cleanup));
        ranked.push({ w, drop: subsetDrop(await env.evaluate(art, rankSamples)) });
      } catch {
        ranked.push({ w, drop: null });
      }
    }
    ranked.sort((x, y) => (x.drop ?? Infinity) - (y.drop ?? Infinity));
    env.log(`auto: sensitivity of ${from.id} per weight: ${ranked.map((r) => `${r.w.key} ${r.drop === null ? '?' : (r.drop * 100).toFixed(3)}`).join(', ')}`);
    sensitivity.push({ trial: from.id, nodes: ranked.map((r) => ({ node: r.w.key, op_type: r.w.opType, drop_without: r.drop })) });
    // What each weight's rounding adds to the subset's drop; the useful ones, largest gain first.
    const gains = ranked.filter((r) => r.drop !== null && r.drop < baseDrop!).map((r) => ({ w: r.w, gain: baseDrop! - r.drop! }));
    if (gains.length === 0) return;
    const prefixFits = (k: number) => 3 * gains.slice(0, k).reduce((n, g) => n + g.w.elements, 0) <= room;
    let k = 1;
    let predicted = baseDrop - gains[0]!.gain;
    while (k < gains.length && predicted > rules.accuracyDropMax * PREDICTION_MARGIN && prefixFits(k + 1)) predicted -= gains[k++]!.gain;
    for (let extra = 0; extra <= MAX_EXTRA_WEIGHT_TRIALS && k <= gains.length && prefixFits(k); extra++, k++) {
      const exclude = [...excluded, ...gains.slice(0, k).map((g) => g.w.key)];
      const why = `${from.id} was over the accuracy budget: leave the ${k} weight${k > 1 ? 's' : ''} whose int8 rounding costs the most in float`;
      const v = newTrial('weight_only', 'node', { ...from.variant, exclude }, why, from.id);
      const ok = await buildAndEvaluate(v);
      if (ok) weightTrials.push(v);
      if ((ok && accOk(v)) || v.skipped) break;
    }
  }

  /** The drop on the sensitivity subset, ranked the way the budget is judged (fidelity: noise ratio). */
  function subsetDrop(q: AutoQuality): number | null {
    return q.agreement !== null && basis !== 'fidelity' ? 1 - q.agreement : qualityDrop(q, env.reference.quality, env.metric);
  }

  async function rankBySensitivity(from: Trial, nodes: QuantizableNode[]): Promise<Array<{ node: QuantizableNode; drop: number | null }>> {
    const candidates = [...nodes].sort((x, y) => y.weightElements - x.weightElements).slice(0, MAX_SENSITIVITY_NODES);
    const out: Array<{ node: QuantizableNode; drop: number | null }> = [];
    for (const node of candidates) {
      if (remaining() < measureReserve) {
        budgetExhausted = true;
        break;
      }
      const exclude = [...(from.variant.exclude ?? []), node.key];
      try {
        const art = await env.build(`${from.id}-without-${node.key}`, recipeFor(from.family, { ...from.variant, exclude }, a, cleanup, recoverFamily(from.family)));
        const q = await env.evaluate(art, SENSITIVITY_SAMPLES);
        // Ranked by disagreement with fp32 where there is one: it moves with every flipped prediction.
        const d = q.agreement !== null && basis !== 'fidelity' ? 1 - q.agreement : qualityDrop(q, env.reference.quality, env.metric);
        out.push({ node, drop: d });
      } catch {
        out.push({ node, drop: null });
      }
    }
    // Unranked nodes (budget) go last, largest weights first.
    for (const node of candidates.slice(out.length)) out.push({ node, drop: null });
    return out.sort((x, y) => (x.drop ?? Infinity) - (y.drop ?? Infinity));
  }

  // 4. Confirm: measure the leading qualifiers again; a winner must pass both measurements. When all
  //    leaders fail, the next ones get their second measurement, while the budget lasts.
  const checked = new Set<string>();
  for (;;) {
    const next = rankQualifiers(contenders().filter((c) => !checked.has(c.id)), rules).slice(0, CONFIRM_COUNT);
    if (next.length === 0) break;
    for (const c of next) checked.add(c.id);
    await measure(next.map((c) => byId(c.id)!), true);
    if (next.some((c) => !byId(c.id)!.confirm)) break; // no time left to confirm: decide on one measurement
    if (contenders().some((c) => checked.has(c.id) && qualifies(c, rules))) break;
  }
  const winner = selectWinner(contenders().filter((c) => checked.has(c.id)), rules);
  const winnerTrial = winner ? byId(winner.id)! : undefined;
  const confirmed = !!winnerTrial?.confirm;
  if (remaining() <= 0) budgetExhausted = true;

  // ---- explanation
  const refBytes = env.reference.bytes;
  const tried: AutoTried[] = trials.map((t) => {
    const r = resolved(t);
    const q = r.quality;
    const outcome = outcomeOf(t, r, winnerTrial, rules, confirmed);
    const entry: AutoTried = {
      id: t.id, stage: t.stage, recipe: t.recipe, why: t.why, ...(t.parent ? { from: t.parent } : {}),
      bytes: t.artifact?.bytes ?? null, size_ratio: t.artifact ? t.artifact.bytes / refBytes : null,
      accuracy: q?.accuracy ?? null, agreement: q?.agreement ?? null, drop: drop(t),
      latency_ratio: r.latency?.ratio ?? null, latency_ci95: r.latency?.ci95 ?? null,
      outcome,
    };
    if (r.confirm) [entry.confirm_ratio, entry.confirm_ci95] = [r.confirm.ratio, r.confirm.ci95];
    if (r.sameKernels !== undefined) entry.same_kernels = r.sameKernels;
    if (t.artifact && Object.keys(t.artifact.runtime).length > 0) entry.runtime_options = t.artifact.runtime;
    if (t.seconds !== undefined) entry.seconds = Math.round(t.seconds * 10) / 10;
    return entry;
  });
  const points: ParetoPoint[] = [
    { id: 'reference', bytes: refBytes, latency_ratio: 1, drop: 0, within_accuracy_budget: true },
    ...contenders().map((c) => ({ id: c.id, bytes: c.bytes, latency_ratio: lastRatio(c), drop: c.drop, within_accuracy_budget: accuracyOk(c.drop, rules.accuracyDropMax) })),
  ];
  const report: AutoReport = {
    winner: winnerTrial?.id ?? 'reference',
    recipe: winnerTrial?.recipe ?? [],
    ...(winnerTrial && Object.keys(winnerTrial.artifact!.runtime).length > 0 ? { runtime_options: winnerTrial.artifact!.runtime } : {}),
    reason: explain(winner, winnerTrial, contenders(), rules, refBytes, budgetExhausted, trials, basis),
    quality_basis: basis,
    accuracy_drop_max: rules.accuracyDropMax,
    latency_ratio_max: rules.latencyRatioMax,
    prefer,
    time_budget_s: input.options.time_budget_s,
    elapsed_s: Math.round((env.now() - start) / 100) / 10,
    budget_exhausted: budgetExhausted,
    isa: Object.entries(env.isa).filter(([, v]) => v === true).map(([k]) => k),
    model: { mix: a.mix, quantizable_nodes: a.nodes.length, recurrent: a.recurrent, attention: a.attention },
    tried,
    skipped: plan.skipped,
    pareto: paretoFront(points),
    sensitivity,
  };
  env.log(`auto: selected ${report.winner} (${report.elapsed_s} s): ${report.reason}`);
  return { winner: report.winner, recipe: report.recipe, runtime: winnerTrial?.artifact?.runtime ?? {}, report };
}

/** Qualifying contenders in the order selectWinner would take them (winner first). */
function rankQualifiers(all: Contender[], rules: SelectionRules): Contender[] {
  const out: Contender[] = [];
  let rest = all.filter((c) => qualifies(c, rules));
  while (rest.length > 0) {
    const w = selectWinner(rest, rules)!;
    out.push(w);
    rest = rest.filter((c) => c !== w);
  }
  return out;
}

/** The failing trial closest to qualifying: within accuracy and fastest, else the smallest drop. */
function closestMiss(list: Trial[], rules: SelectionRules): Trial | undefined {
  const accurate = list.filter((t) => accuracyOk(t.drop ?? null, rules.accuracyDropMax) && t.latency);
  if (accurate.length > 0) return accurate.sort((x, y) => x.latency!.ratio - y.latency!.ratio)[0];
  return [...list].sort((x, y) => (x.drop ?? Infinity) - (y.drop ?? Infinity) || x.id.localeCompare(y.id))[0];
}

function fmtRatio(l: AutoLatency): string {
  return `${l.ratio.toFixed(3)}x (95% CI ${l.ci95[0].toFixed(3)}-${l.ci95[1].toFixed(3)})`;
}

function fmtDrop(d: number | null): string {
  return d === null ? 'unmeasured' : `${(d * 100).toFixed(2)} pt`;
}


export function qualityBasis(ref: AutoQuality, metric: Metric): QualityBasis {
  if (metric === 'mse' && ref.mse !== null) return 'mse';
  if (ref.accuracy !== null) return 'accuracy';
  return ref.top1_fits === false ? 'fidelity' : 'agreement';
}

function describeQuality(d: number | null, basis: QualityBasis): string {
  if (d === null) return 'quality could not be measured';
  if (basis === 'mse') return `mse ${d >= 0 ? '+' : ''}${d.toPrecision(3)}`;
  if (basis === 'agreement') return `${((1 - d) * 100).toFixed(2)}% top-1 agreement with fp32`;
  if (basis === 'fidelity') return `SNR ${d === 0 ? '∞' : (-10 * Math.log10(d)).toFixed(1)} dB against fp32`;
  const pt = -d * 100;
  return `accuracy ${pt > 0 ? '+' : ''}${pt.toFixed(2)} pt`;
}

function describeBudget(max: number, basis: QualityBasis): string {
  if (basis === 'mse') return `an mse rise of at most ${max}`;
  if (basis === 'agreement') return `at least ${((1 - max) * 100).toFixed(2)}% agreement`;
  if (basis === 'fidelity') return `an SNR of at least ${(-10 * Math.log10(max)).toFixed(1)} dB`;
  return `a drop of at most ${(max * 100).toFixed(2)} pt`;
}

function describeTrial(t: Trial): string {
  if (t.skipped) return `skipped (${t.skipped})`;
  if (t.error) return `failed: ${t.error}`;
  if (t.duplicateOf) return `same model as ${t.duplicateOf}`;
  return `${t.artifact!.bytes} bytes, drop ${fmtDrop(t.drop ?? null)}, ${t.seconds?.toFixed(1)} s`;
}

function outcomeOf(t: Trial, r: Trial, winner: Trial | undefined, rules: SelectionRules, confirmed: boolean): string {
  if (t.skipped) return t.skipped.startsWith('not measured') ? t.skipped : `skipped: ${t.skipped}`;
  if (t.error) return `failed: ${t.error}`;
  if (t.duplicateOf) return `same model as ${t.duplicateOf}`;
  if (winner && t === winner) return confirmed ? 'selected' : 'selected (not confirmed: time budget)';
  if (!accuracyOk(r.drop ?? null, rules.accuracyDropMax)) return r.drop === null ? 'accuracy could not be measured' : 'over the accuracy budget';
  if (!r.latency) return 'not measured';
  if (largerNotFaster({ bytes: r.artifact!.bytes, latency: [r.latency, ...(r.confirm ? [r.confirm] : [])] }, rules)) return 'larger than the reference and not faster';
  const failed = r.sameKernels ? [] : [r.latency, r.confirm].filter((l): l is AutoLatency => !!l && !latencyOk(l, rules.latencyRatioMax));
  if (failed.length > 0) {
    const l = failed[0]!;
    const which = l === r.confirm ? ' (confirm)' : '';
    return l.ci95[0] > rules.latencyRatioMax ? `slower than fp32${which}: 95% CI from ${l.ci95[0].toFixed(3)}x` : `p50 ${l.ratio.toFixed(3)}x above ${(rules.latencyRatioMax + CI_SLACK).toFixed(2)}x${which}`;
  }
  if (!winner) return 'qualifies';
  const ratioOf = (x: Trial) => (x.confirm ?? x.latency)!.ratio;
  const prefer = rules.prefer ?? AUTO_PREFER_DEFAULT;
  if (prefer === 'size') {
    const inBand = r.artifact!.bytes <= winner.artifact!.bytes * (1 + SIZE_TIE);
    return inBand && ratioOf(r) > ratioOf(winner) ? 'qualifies; slower than the winner' : 'qualifies; larger than the winner';
  }
  const smaller = r.artifact!.bytes < winner.artifact!.bytes;
  const faster = ratioOf(r) < ratioOf(winner);
  if (smaller) return prefer === 'speed' ? 'qualifies; slower than the winner' : 'qualifies; smaller, but slower than the winner by more (size × time)';
  if (faster) return prefer === 'speed' ? 'qualifies; larger than the winner, within the speed tie' : 'qualifies; faster, but larger than the winner by more (size × time)';
  return 'qualifies; larger than the winner';
}

function explain(
  winner: Contender | null, w: Trial | undefined, all: Contender[], rules: SelectionRules, refBytes: number, budgetExhausted: boolean, trials: Trial[],
  basis: QualityBasis,
): string {
  const budget = budgetExhausted ? ' The time budget ran out before every recipe was tried.' : '';
  const bound = `the 95% CI of the p50 ratio reaching ${rules.latencyRatioMax.toFixed(2)}x fp32, the p50 at most ${(rules.latencyRatioMax + CI_SLACK).toFixed(2)}x`;
  if (!winner || !w) {
    const measured = all.length;
    const accurate = all.filter((c) => accuracyOk(c.drop, rules.accuracyDropMax)).length;
    const built = trials.filter((t) => t.artifact && !t.duplicateOf && !t.error).length;
    const near = all
      .filter((c) => accuracyOk(c.drop, rules.accuracyDropMax))
      .map((c) => ({ c, slow: c.fp32Kernels ? undefined : c.latency.find((l) => !latencyOk(l, rules.latencyRatioMax)) }))
      .filter((x): x is { c: Contender; slow: AutoLatency } => !!x.slow && x.slow.ci95[0] <= rules.latencyRatioMax + NEAR_MISS && x.slow.ratio <= rules.latencyRatioMax + CI_SLACK)
      .sort((x, y) => x.c.bytes - y.c.bytes);
    const hint = near.length > 0
      ? ` Closest: ${near.slice(0, 3).map(({ c, slow }) => `${c.id} (${(c.bytes / refBytes).toFixed(2)}x) at ${fmtRatio(slow)}${c.latency.length > 1 && slow === c.latency[1] ? ' in its confirmation' : ''}`).join('; ')}. ` +
        `These are within measurement noise of fp32 speed (two workers running the same model differ by 1.5-4.5%); auto.latency_ratio_max: ${(rules.latencyRatioMax + NEAR_MISS).toFixed(2)} accepts them.`
      : '';
    const larger = all.filter((c) => accuracyOk(c.drop, rules.accuracyDropMax) && speedOk(c, rules) && largerNotFaster(c, rules));
    const largerNote = larger.length > 0 ? ` ${larger.map((c) => `${c.id} (${(c.bytes / refBytes).toFixed(2)}x)`).join(', ')} qualified but ${larger.length > 1 ? 'are' : 'is'} larger than the reference without being faster.` : '';
    return (
      `No candidate was both within the accuracy budget (${describeBudget(rules.accuracyDropMax, basis)}) and not slower than fp32 (${bound}): ` +
      `${built} built, ${accurate} within the accuracy budget and measured, ${measured} measured. The reference model is kept.${largerNote}${hint}${budget}`
    );
  }
  const lat = winner.latency;
  const parts = [
    `${w.id} is ${(winner.bytes / refBytes).toFixed(2)}x the reference's size, ${describeQuality(winner.drop, basis)} (budget: ${describeBudget(rules.accuracyDropMax, basis)}) ` +
      `and runs at ${fmtRatio(lat[0]!)}${lat[1] ? `, confirmed at ${fmtRatio(lat[1])}` : ''}.` +
      (winner.fp32Kernels ? " onnxruntime runs it with the reference's kernels, op for op on the same shapes (the int8 weights are folded to float at load), so its speed is fp32's; the measurements differ from 1.00 by noise." : ''),
  ];
  const smaller = all.filter((c) => c.bytes < winner.bytes && c.id !== winner.id);
  const inBand = smaller.filter((c) => qualifies(c, rules));
  if (inBand.length > 0) {
    const c = inBand.sort((x, y) => x.bytes - y.bytes)[0]!;
    const prefer = rules.prefer ?? AUTO_PREFER_DEFAULT;
    const costs = (x: Contender) => `${(x.bytes / refBytes).toFixed(2)}x × ${rankRatio(x).toFixed(2)}x = ${((x.bytes / refBytes) * rankRatio(x)).toFixed(3)}`;
    parts.push(
      prefer === 'size'
        ? `${c.id} is ${(100 * (1 - c.bytes / winner.bytes)).toFixed(1)}% smaller and also qualifies, but sizes within ${SIZE_TIE * 100}% count as equal and ${w.id} is faster (${rankRatio(winner).toFixed(2)}x vs ${rankRatio(c).toFixed(2)}x).`
        : prefer === 'speed'
          ? `${c.id} is ${(100 * (1 - c.bytes / winner.bytes)).toFixed(1)}% smaller and also qualifies, but ${w.id} is faster (${rankRatio(winner).toFixed(2)}x vs ${rankRatio(c).toFixed(2)}x; auto.prefer: speed).`
          : `${c.id} is ${(100 * (1 - c.bytes / winner.bytes)).toFixed(1)}% smaller and also qualifies, but ${w.id} costs less in size × time (${costs(winner)}, against ${costs(c)}; auto.prefer: size picks the smallest).`,
    );
  }
  const rejected = smaller.filter((c) => !qualifies(c, rules)).sort((x, y) => x.bytes - y.bytes).slice(0, 3);
  let nearMiss = false;
  for (const c of rejected) {
    const slow = c.latency.find((l) => !latencyOk(l, rules.latencyRatioMax)) ?? c.latency[0]!;
    const why = !accuracyOk(c.drop, rules.accuracyDropMax) ? `has ${describeQuality(c.drop, basis)}` : `runs at ${fmtRatio(slow)}`;
    parts.push(`Smaller but rejected: ${c.id} (${(c.bytes / refBytes).toFixed(2)}x) ${why}.`);
    nearMiss ||= accuracyOk(c.drop, rules.accuracyDropMax) && slow.ci95[0] <= rules.latencyRatioMax + NEAR_MISS && slow.ratio <= rules.latencyRatioMax + CI_SLACK;
  }
  if (nearMiss) {
    parts.push(
      `A candidate whose CI starts within ${NEAR_MISS * 100}% of fp32 speed is within measurement noise of it (two workers running the same model differ by 1.5-4.5%); ` +
        `auto.latency_ratio_max: ${(rules.latencyRatioMax + NEAR_MISS).toFixed(2)} accepts such candidates.`,
    );
  }
  const unmeasured = trials.filter((t) => t.artifact && !t.duplicateOf && !t.error && !t.latency && accuracyOk(t.drop ?? null, rules.accuracyDropMax) && t.artifact.bytes < winner.bytes);
  if (unmeasured.length > 0) parts.push(`Smaller, within the accuracy budget, but not measured: ${unmeasured.map((t) => `${t.id} (${t.skipped ?? 'not measured'})`).join(', ')}.`);
  return parts.join(' ') + budget;
}
