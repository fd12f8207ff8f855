/**
 * Upgrades a model's default-domain (ai.onnx) graph from opset 6–12 to opset 13, node by node, the way
 * onnx's version converter does (onnx/onnx onnx/version_converter/convert.h registers one adapter per op and
 * version step). Most version steps between 7 and 13 only widened types or allowed negative axes; those nodes
 * stay as they are. The ones that changed meaning or moved an attribute to an input are rewritten here
 * (onnx docs/Changelog.md, per operator):
 *
 * - Upsample-7/9 → Resize-13 (Upsample is deprecated from opset 10; scales move to an input at 9);
 * - Resize-10 → Resize-13 (roi input added at 11, coordinate_transformation_mode defaults to half_pixel from 11,
 *   while Resize-10 sampled "asymmetric");
 * - Slice-1 → inputs (10), TopK-1 k → input (10), Clip-6 min/max → inputs (11), Pad-2 pads/value → inputs (11),
 *   Scatter-9 → ScatterElements-11 (same semantics, renamed), Dropout-7/10 ratio → input (12);
 * - BatchNormalization-7 drops `spatial` (9; only spatial=1 exists afterwards);
 * - Softmax/LogSoftmax/Hardmax-13 normalise along one axis instead of over the 2-D coercion at `axis`
 *   (default 1); when `axis` is not the last axis a Flatten → op → Reshape keeps the old meaning. (onnx's
 *   converter registers Hardmax 12→13 as compatible; its changelog entry changed the same way as Softmax's.)
 * - ReduceSum/Squeeze/Unsqueeze `axes` and Split `split` move to inputs (13);
 * - ImageScaler (experimental, removed at 10) becomes Mul + Add.
 * - From 6: the legacy `broadcast`/`axis` attributes of the binary ops go (7 broadcasts like numpy; a
 *   broadcast at an inner `axis` gets an Unsqueeze of the trailing dimensions), Gemm's `broadcast` and the
 *   RNNs' `output_sequence` go, BatchNormalization/Dropout drop `is_test` (which must be set, as onnx's
 *   converter requires), and experimental Upsample-1 (height_scale/width_scale) becomes Resize.
 * - Scan-8 with a batch of 1 and no sequence_lens becomes Scan-9 between Squeeze and Unsqueeze.
 * Scan-8 otherwise, and the experimental ops removed at 10 (but ImageScaler), are refused by name.
 *
 * Why 13: it is the first opset with per-axis QuantizeLinear/DequantizeLinear (static and weight-only
 * quantization per channel need it), every quantizing pass here works from 13, and it stays below the next
 * breaking steps (BatchNormalization training_mode at 14, Reduce* axes inputs at 18).
 */
import Long from 'long';
import { DataType, cloneModel, onnx, toNumber, type Model } from '../model/onnx.js';
import { makeTensor, tensorData } from '../model/tensor.js';
import {
  NameAllocator, describeNode, getAttribute, getFloatAttr, getFloatsAttr, getIntAttr, getIntsAttr, getStringAttr,
  initializerMap, intAttr, intsAttr, makeNode, opsetVersion, removeAttribute, setAttribute, stringAttr,
} from '../model/graph.js';
import { ModelGateError } from '../errors.js';
import { inferTensorTypes, type TensorTypeInfo } from './infer-types.js';

type IGraph = onnx.IGraphProto;
type INode = onnx.INodeProto;

export const OPSET_UPGRADE_TARGET = 13;
export const OPSET_UPGRADE_MIN = 6;

/** Experimental ops of opsets 1–9, removed at 10 (onnx docs/Changelog.md); only ImageScaler has an adapter. */
const REMOVED_EXPERIMENTAL = new Set([
  'Affine', 'ConstantFill', 'Crop', 'DynamicSlice', 'GRUUnit', 'GivenTensorFill', 'ParametricSoftplus', 'Scale', 'ScaledTanh',
]);

export interface OpsetUpgrade {
  model: Model;
  from: number;
  to: number;
  /** "Clip 3, Softmax 1": the nodes rewritten, by op type. */
  rewritten: Record<string, number>;
}

interface UpgradeContext {
  from: number;
  names: NameAllocator;
  types: Map<string, TensorTypeInfo>;
  counts: Record<string, number>;
}

/**
 * Returns the model upgraded to opset 13 (a copy; the input is not changed). A model already at 13 or later
 * comes back as it is. Throws a ModelGateError naming the node for an op that cannot be carried over.
 */
export async function upgradeOpset(input: Model, target = OPSET_UPGRADE_TARGET): Promise<OpsetUpgrade> {
  const from = opsetVersion(input);
  if (target !== OPSET_UPGRADE_TARGET) throw new ModelGateError(`opset upgrade: only opset ${OPSET_UPGRADE_TARGET} is supported as a target (asked for ${target})`);
  if (from >= target) return { model: input, from, to: from, rewritten: {} };
  if (from < OPSET_UPGRADE_MIN) {
    throw new ModelGateError(`opset upgrade: the model uses opset ${from}; only opsets ${OPSET_UPGRADE_MIN} to ${target - 1} can be upgraded (re-export it at opset ${OPSET_UPGRADE_MIN} or later)`);
  }
  const model = cloneModel(input);
  // Element types and ranks decide Clip/Pad constant types and whether Softmax needs the 2-D coercion kept.
  let types: Map<string, TensorTypeInfo>;
  try {
    types = await inferTensorTypes(model);
  } catch {
    // onnxruntime does not run every opset-6 kernel; what the file declares is enough for the adapters.
    types = declaredTypes(model.graph!);
  }
  const ctx: UpgradeContext = { from, names: new NameAllocator(model.graph!), types, counts: {} };
  upgradeGraph(model.graph!, ctx);
  for (const o of model.opsetImport ?? []) if ((o.domain ?? '') === '' || o.domain === 'ai.onnx') o.version = Long.fromNumber(target);
  // IR 7 was released with opset 13 (onnx docs/Versioning.md): an older IR on an opset-13 graph is a pairing
  // no exporter writes and onnx's checker rejects.
  if (toNumber(model.irVersion) < 7) model.irVersion = Long.fromNumber(7);
  return { model, from, to: target, rewritten: ctx.counts };
}

function declaredTypes(graph: IGraph): Map<string, TensorTypeInfo> {
  const map = new Map<string, TensorTypeInfo>();
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const t = v.type?.tensorType;
    if (v.name && t?.elemType) map.set(v.name, { elemType: t.elemType, shape: t.shape ? (t.shape.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue))) : [] });
  }
  for (const t of graph.initializer ?? []) if (t.name) map.set(t.name, { elemType: t.dataType ?? 0, shape: (t.dims ?? []).map(toNumber) });
  return map;
}

function isDefault(node: INode): boolean {
  return (node.domain ?? '') === '' || node.domain === 'ai.onnx';
}

function upgradeGraph(graph: IGraph, ctx: UpgradeContext): void {
  const out: INode[] = [];
  for (const node of graph.node ?? []) {
    for (const attr of node.attribute ?? []) {
      if (attr.g) upgradeGraph(attr.g, ctx);
      for (const g of attr.graphs ?? []) upgradeGraph(g, ctx);
    }
    if (!isDefault(node)) {
      out.push(node);
      continue;
    }
    const op = node.opType!;
    const replaced = upgradeNode(node, graph, ctx);
    if (replaced) {
      ctx.counts[op] = (ctx.counts[op] ?? 0) + 1;
      out.push(...replaced);
    } else {
      out.push(node);
    }
  }
  graph.node = out;
}

function fail(node: INode, why: string): never {
  throw new ModelGateError(`opset upgrade: node ${describeNode(node)}: ${why}`);
}

/** A new initializer in `graph` (the node's own graph, so subgraph bodies stay self-contained). */
function constant(graph: IGraph, ctx: UpgradeContext, base: string, tensor: (name: string) => onnx.TensorProto): string {
  const name = ctx.names.next(base);
  (graph.initializer ??= []).push(tensor(name));
  return name;
}

function int64s(graph: IGraph, ctx: UpgradeContext, base: string, values: readonly number[]): string {
  return constant(graph, ctx, base, (n) => makeTensor(n, [values.length], BigInt64Array.from(values, (v) => BigInt(v))));
}

/** A scalar of the element type of `like` (float, float16 or double: the types Clip-6 and Pad-2 accept). */
function scalarLike(graph: IGraph, ctx: UpgradeContext, base: string, like: string, value: number): string {
  const elem = ctx.types.get(like)?.elemType ?? DataType.FLOAT;
  return constant(graph, ctx, base, (n) => {
    switch (elem) {
      case DataType.DOUBLE: return makeTensor(n, [], Float64Array.of(value));
      case DataType.FLOAT16: return makeTensor(n, [], Uint16Array.of(floatToHalfBits(value)), DataType.FLOAT16);
      case DataType.FLOAT: return makeTensor(n, [], Float32Array.of(value));
      default: throw new ModelGateError(`opset upgrade: '${like}' has element type ${onnx.TensorProto.DataType[elem] ?? elem}; a float scalar was expected`);
    }
  });
}

function floatToHalfBits(v: number): number {
  // Only ±FLT_MAX defaults and user clip bounds reach here; saturate to ±65504 like the fp16 pass.
  const f = new Float32Array([Math.max(-65504, Math.min(65504, v))]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  return sign | (exp << 10) | ((x >>> 13) & 0x3ff);
}

function withInputs(node: INode, inputs: string[], drop: string[]): INode {
  node.input = inputs;
  for (const a of drop) removeAttribute(node, a);
  // Trailing empty optional inputs are dropped: "" means "absent" anyway.
  while (node.input.length > 0 && node.input[node.input.length - 1] === '') node.input.pop();
  return node;
}

function rankOf(ctx: UpgradeContext, name: string): number | undefined {
  const shape = ctx.types.get(name)?.shape;
  return shape && shape.length > 0 ? shape.length : undefined;
}

/** Rewrites one default-domain node; returns the nodes that replace it, or undefined when it stays as it is. */
function upgradeNode(node: INode, graph: IGraph, ctx: UpgradeContext): INode[] | undefined {
  const from = ctx.from;
  const op = node.opType ?? '';
  const input = node.input ?? [];
  if (from < 7) {
    const legacy = upgradeFrom6(node, graph, ctx);
    if (legacy) return legacy;
  }
  switch (op) {
    case 'Upsample':
    case 'Resize': {
      if (op === 'Resize' && from >= 11) return undefined;
      let scales: string;
      if (op === 'Upsample' && from < 7) {
        // Upsample-1 (experimental): NCHW with height_scale and width_scale.
        const h = getFloatAttr(node, 'height_scale', 0), w = getFloatAttr(node, 'width_scale', 0);
        if (!(h > 0 && w > 0)) fail(node, "Upsample-1 needs 'height_scale' and 'width_scale'");
        scales = constant(graph, ctx, `${input[0]}_scales`, (n) => makeTensor(n, [4], Float32Array.of(1, 1, h, w)));
      } else if (op === 'Upsample' && from < 9) {
        const values = getFloatsAttr(node, 'scales');
        if (!values) fail(node, "Upsample-7 has no 'scales' attribute");
        scales = constant(graph, ctx, `${input[0]}_scales`, (n) => makeTensor(n, [values.length], Float32Array.from(values)));
      } else {
        scales = input[1] ?? fail(node, 'no scales input');
      }
      const mode = getStringAttr(node, 'mode', 'nearest');
      const linear = mode === 'linear' || mode === 'bilinear';
      if (!linear && mode !== 'nearest') fail(node, `mode '${mode}' has no Resize equivalent`);
      const attributes = [stringAttr('mode', linear ? 'linear' : 'nearest'), stringAttr('coordinate_transformation_mode', 'asymmetric')];
      // Opset < 11 nearest sampling (onnxruntime upsamplebase.h, "simple" mode): floor when enlarging, ceil when shrinking.
      if (!linear) attributes.push(stringAttr('nearest_mode', nearestModeFor(node, graph, scales)));
      return [makeNode('Resize', [input[0]!, '', scales], node.output ?? [], { name: node.name ?? undefined, attributes })];
    }
    case 'Slice': {
      if (from >= 10) return undefined;
      const starts = getIntsAttr(node, 'starts') ?? fail(node, "Slice-1 has no 'starts'");
      const ends = getIntsAttr(node, 'ends') ?? fail(node, "Slice-1 has no 'ends'");
      const axes = getIntsAttr(node, 'axes');
      const base = node.name || node.output![0]!;
      const ins = [input[0]!, int64s(graph, ctx, `${base}_starts`, starts), int64s(graph, ctx, `${base}_ends`, ends)];
      if (axes) ins.push(int64s(graph, ctx, `${base}_axes`, axes));
      return [withInputs(node, ins, ['starts', 'ends', 'axes'])];
    }
    case 'TopK': {
      if (from >= 10) return undefined;
      const k = getIntAttr(node, 'k', -1);
      if (k < 0) fail(node, "TopK-1 has no 'k'");
      return [withInputs(node, [input[0]!, int64s(graph, ctx, `${node.name || node.output![0]}_k`, [k])], ['k'])];
    }
    case 'Clip': {
      if (from >= 11) return undefined;
      const base = node.name || node.output![0]!;
      const lo = getAttribute(node, 'min') ? scalarLike(graph, ctx, `${base}_min`, input[0]!, getFloatAttr(node, 'min', 0)) : '';
      const hi = getAttribute(node, 'max') ? scalarLike(graph, ctx, `${base}_max`, input[0]!, getFloatAttr(node, 'max', 0)) : '';
      return [withInputs(node, [input[0]!, lo, hi], ['min', 'max'])];
    }
    case 'Pad': {
      if (from >= 11) return undefined;
      const pads = getIntsAttr(node, 'pads') ?? getIntsAttr(node, 'paddings') ?? fail(node, "Pad-2 has no 'pads'");
      const mode = getStringAttr(node, 'mode', 'constant');
      const value = getFloatAttr(node, 'value', 0);
      const base = node.name || node.output![0]!;
      const ins = [input[0]!, int64s(graph, ctx, `${base}_pads`, pads)];
      if (mode === 'constant' && value !== 0) ins.push(scalarLike(graph, ctx, `${base}_value`, input[0]!, value));
      return [withInputs(node, ins, ['pads', 'paddings', 'value'])];
    }
    case 'Scatter':
      if (from >= 11) return undefined;
      node.opType = 'ScatterElements';
      return [node];
    case 'Dropout': {
      if (from >= 12) return undefined;
      const mask = node.output?.[1];
      if (mask && from < 10 && isRead(graph, mask)) fail(node, 'its mask output changes type from the data type to bool at opset 10, and the graph reads it');
      const ratio = getAttribute(node, 'ratio');
      const ins = [input[0]!];
      if (ratio) ins.push(constant(graph, ctx, `${node.name || node.output![0]}_ratio`, (n) => makeTensor(n, [], Float32Array.of(ratio.f ?? 0.5))));
      return [withInputs(node, ins, ['ratio', 'is_test'])];
    }
    case 'BatchNormalization': {
      if (from >= 9) return undefined;
      if (!getAttribute(node, 'spatial')) return undefined;
      if (getIntAttr(node, 'spatial', 1) !== 1) fail(node, 'spatial=0 (per-activation statistics) no longer exists from opset 9');
      removeAttribute(node, 'spatial');
      return [node];
    }
    case 'Scan':
      return from < 9 ? upgradeScan8(node, graph, ctx) : undefined;
    case 'Softmax':
    case 'LogSoftmax':
    case 'Hardmax':
      return from >= 13 ? undefined : upgradeSoftmax(node, ctx);
    case 'ReduceSum':
    case 'Squeeze':
    case 'Unsqueeze': {
      if (from >= 13) return undefined;
      const axes = getIntsAttr(node, 'axes');
      if (!axes) return undefined;
      if (op === 'Unsqueeze' || axes.length > 0) return [withInputs(node, [input[0]!, int64s(graph, ctx, `${node.name || node.output![0]}_axes`, axes)], ['axes'])];
      removeAttribute(node, 'axes');
      return [node];
    }
    case 'Split': {
      if (from >= 13) return undefined;
      const split = getIntsAttr(node, 'split');
      if (!split) return undefined;
      return [withInputs(node, [input[0]!, int64s(graph, ctx, `${node.name || node.output![0]}_split`, split)], ['split'])];
    }
    case 'ImageScaler': {
      if (from >= 10) return undefined;
      const scale = getFloatAttr(node, 'scale', 1);
      const bias = getFloatsAttr(node, 'bias') ?? [];
      const base = node.name || node.output![0]!;
      const scaleName = scalarLike(graph, ctx, `${base}_scale`, input[0]!, scale);
      const biasName = constant(graph, ctx, `${base}_bias`, (n) => makeTensor(n, [1, bias.length, 1, 1], Float32Array.from(bias)));
      const scaled = ctx.names.next(`${base}_scaled`);
      return [
        makeNode('Mul', [input[0]!, scaleName], [scaled], { name: ctx.names.next(`${base}_Mul`) }),
        makeNode('Add', [scaled, biasName], [node.output![0]!], { name: ctx.names.next(`${base}_Add`) }),
      ];
    }
    case 'MeanVarianceNormalization':
      if (from < 9) fail(node, 'MeanVarianceNormalization before opset 9 was experimental (across_channels attribute) and is not upgraded');
      return undefined;
    default:
      if (REMOVED_EXPERIMENTAL.has(op) && from < 10) fail(node, `${op} was an experimental op, removed at opset 10, and has no upgrade`);
      return undefined;
  }
}

const LEGACY_BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less']);

/** The 6 → 7 step (onnx convert.h "6 -> 7", plus the ops it lists as missing there). */
function upgradeFrom6(node: INode, graph: IGraph, ctx: UpgradeContext): INode[] | undefined {
  const op = node.opType ?? '';
  if (LEGACY_BROADCAST.has(op)) {
    // Legacy broadcasting only stretches B, so the output has A's shape: known ranks flow down the chain
    // when onnxruntime could not infer them (it has no kernels for some opset-6 versions).
    const typeA = ctx.types.get(node.input?.[0] ?? '');
    const y = node.output?.[0];
    if (typeA && y && !ctx.types.has(y)) ctx.types.set(y, typeA);
    if (!getAttribute(node, 'broadcast') && !getAttribute(node, 'axis')) return undefined;
    const broadcast = getIntAttr(node, 'broadcast', 0) !== 0;
    const axisAttr = getAttribute(node, 'axis');
    removeAttribute(node, 'broadcast');
    removeAttribute(node, 'axis');
    if (!broadcast || !axisAttr) return [node];
    // B's dimensions line up with A's from `axis`: numpy broadcasting needs B's trailing ones spelled out.
    const [a, b] = [node.input![0]!, node.input![1]!];
    const rankA = rankOf(ctx, a);
    const rankB = rankOf(ctx, b) ?? (ctx.types.get(b)?.shape.length === 0 ? 0 : undefined);
    if (rankA === undefined || rankB === undefined) fail(node, 'legacy broadcast along an axis needs both input ranks, which are unknown');
    let axis = toNumber(axisAttr.i);
    if (axis < 0) axis += rankA;
    const trailing = rankA - axis - rankB;
    if (trailing <= 0) return [node];
    const base = node.name || node.output![0]!;
    const unsqueezed = ctx.names.next(`${b}_broadcast`);
    const axes = Array.from({ length: trailing }, (_, i) => rankB + i);
    node.input = [a, unsqueezed];
    return [
      makeNode('Unsqueeze', [b, int64s(graph, ctx, `${base}_broadcast_axes`, axes)], [unsqueezed], { name: ctx.names.next(`${base}_broadcast_Unsqueeze`) }),
      node,
    ];
  }
  switch (op) {
    case 'PRelu': {
      // PRelu-6 applied a 1-D slope per channel (axis 1); from 7 it broadcasts like numpy, against the last axis.
      // (onnx's converter calls this step compatible; the pytorch-converted PReLU_*_multiparam cases show otherwise.)
      const [x, slope] = [node.input![0]!, node.input![1]!];
      const slopeShape = ctx.types.get(slope)?.shape;
      const rankX = rankOf(ctx, x);
      if (!slopeShape || slopeShape.length !== 1 || slopeShape[0] === 1) return undefined;
      if (rankX === undefined) fail(node, 'a per-channel PRelu-6 slope needs the input rank, which is unknown');
      if (rankX <= 2) return undefined;
      const base = node.name || node.output![0]!;
      const reshaped = ctx.names.next(`${slope}_per_channel`);
      node.input = [x, reshaped];
      const axes = Array.from({ length: rankX - 2 }, (_, i) => i + 1);
      return [makeNode('Unsqueeze', [slope, int64s(graph, ctx, `${base}_slope_axes`, axes)], [reshaped], { name: ctx.names.next(`${base}_slope_Unsqueeze`) }), node];
    }
    case 'Gemm':
      if (!getAttribute(node, 'broadcast')) return undefined;
      removeAttribute(node, 'broadcast');
      return [node];
    case 'RNN':
    case 'GRU':
    case 'LSTM':
      if (!getAttribute(node, 'output_sequence')) return undefined;
      removeAttribute(node, 'output_sequence');
      return [node];
    case 'BatchNormalization':
    case 'Dropout': {
      if (getIntAttr(node, 'is_test', 0) === 0) fail(node, `${op}-6 without is_test=1 computes training-mode statistics, which opset 7 no longer has`);
      removeAttribute(node, 'is_test');
      return undefined; // the later steps (spatial, ratio) still apply
    }
    default:
      return undefined;
  }
}

/**
 * Scan-8 carries a batch axis in front of every state and scan input and output, and an optional
 * sequence_lens; Scan-9 has neither. With batch size 1 and no sequence_lens they are the same loop on the
 * squeezed tensors: Squeeze axis 0 before, Unsqueeze it after, `directions` renamed scan_input_directions.
 * (onnx's Scan_8_9 adapter only drops the axis from the declared shapes, which leaves the data batched.)
 */
function upgradeScan8(node: INode, graph: IGraph, ctx: UpgradeContext): INode[] {
  const inputs = node.input ?? [];
  if (inputs[0]) fail(node, 'Scan-8 with sequence_lens has no opset-9 equivalent; re-export the model at opset 9 or later');
  const batched = [...inputs.slice(1), ...(node.output ?? []).filter((o) => o)];
  const unknown = batched.find((name) => ctx.types.get(name)?.shape[0] !== 1);
  if (unknown !== undefined) fail(node, `Scan-8 is upgraded only with a batch of 1, and '${unknown}' does not have a first dimension of 1; re-export the model at opset 9 or later`);
  const base = node.name || node.output![0]!;
  const axes = int64s(graph, ctx, `${base}_batch_axis`, [0]);
  const before: INode[] = [];
  const after: INode[] = [];
  node.input = inputs.slice(1).map((name) => {
    const squeezed = ctx.names.next(`${name}_unbatched`);
    before.push(makeNode('Squeeze', [name, axes], [squeezed], { name: ctx.names.next(`${base}_${name}_Squeeze`) }));
    return squeezed;
  });
  node.output = (node.output ?? []).map((name) => {
    if (!name) return name;
    const inner = ctx.names.next(`${name}_unbatched`);
    after.push(makeNode('Unsqueeze', [inner, axes], [name], { name: ctx.names.next(`${base}_${name}_Unsqueeze`) }));
    return inner;
  });
  const directions = getIntsAttr(node, 'directions');
  if (directions) {
    removeAttribute(node, 'directions');
    setAttribute(node, intsAttr('scan_input_directions', directions));
  }
  return [...before, node, ...after];
}

function isRead(graph: IGraph, name: string): boolean {
  if ((graph.output ?? []).some((o) => o.name === name)) return true;
  const visit = (g: IGraph): boolean =>
    (g.node ?? []).some((n) => (n.input ?? []).includes(name) || (n.attribute ?? []).some((a) => (a.g && visit(a.g)) || (a.graphs ?? []).some(visit)));
  return visit(graph);
}

function nearestModeFor(node: INode, graph: IGraph, scales: string): string {
  const init = initializerMap(graph).get(scales);
  if (!init) return 'floor';
  const values = Array.from(tensorData(init) as Float32Array);
  if (values.every((s) => s >= 1)) return 'floor';
  if (values.every((s) => s <= 1)) return 'ceil';
  fail(node, `nearest resize that enlarges some axes and shrinks others (scales [${values.join(', ')}]) has no single nearest_mode in opset 13`);
}

/**
 * Before 13, Softmax(axis=a) coerced the input to 2-D [d0·…·d(a-1), da·…·dn-1] and normalised each row;
 * from 13 it normalises along axis a alone. Both agree when a is the last axis. Otherwise Flatten(a) gives
 * the old 2-D view, the op runs on its last axis, and Reshape restores the input's shape.
 */
function upgradeSoftmax(node: INode, ctx: UpgradeContext): INode[] {
  const x = node.input![0]!;
  const y = node.output![0]!;
  const axis = getIntAttr(node, 'axis', 1);
  const rank = rankOf(ctx, x);
  if (rank !== undefined && (axis === rank - 1 || axis === -1)) {
    setAttribute(node, intAttr('axis', rank - 1));
    return [node];
  }
  if (axis === -1) {
    setAttribute(node, intAttr('axis', -1));
    return [node];
  }
  const base = node.name || y;
  const flat = ctx.names.next(`${base}_2d`);
  const shape = ctx.names.next(`${base}_input_shape`);
  const inner = ctx.names.next(`${base}_2d_out`);
  return [
    makeNode('Shape', [x], [shape], { name: ctx.names.next(`${base}_Shape`) }),
    makeNode('Flatten', [x], [flat], { name: ctx.names.next(`${base}_Flatten`), attributes: [intAttr('axis', axis)] }),
    makeNode(node.opType!, [flat], [inner], { name: node.name ?? undefined, attributes: [intAttr('axis', 1)] }),
    makeNode('Reshape', [inner, shape], [y], { name: ctx.names.next(`${base}_Reshape`) }),
  ];
}
