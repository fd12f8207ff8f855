/**
 * cleanup's op fusions: chains an exporter writes as separate nodes that one node computes exactly.
 * - Conv → Mul/Div/Add/Sub by a per-output-channel constant: the scale goes into the weights, the shift into
 *   the bias. Keras importers and tf2onnx write an inference BatchNormalization this way (MobileNetV2 from
 *   Keras: 52 Conv → Mul → Add chains).
 * - Pad (constant zeros, spatial axes only) → Conv: the padding goes into the Conv's `pads` (Keras ZeroPadding2D).
 * - Relu → Clip with a lower bound ≥ 0 or none: one Clip with the lower bound raised to 0 (Keras ReLU(6.)).
 * - Sum of two inputs: Add (the same broadcasting), which the quantizers know.
 * onnxruntime fuses the first two itself when it loads a float model (ConvMulFusion, ConvAddFusion, PadFusion,
 * onnxruntime/core/optimizer), which is why fp32 runs fast either way. A quantized model is another matter: static
 * QDQ puts Q/DQ pairs on the Conv's output before the Mul, so the chain no longer fuses into one int8 Conv, and
 * every Mul/Add runs in float between a dequantize and a quantize. Done in the file, the quantizers see one Conv.
 * Each fusion is exact up to float rounding; none makes the file larger (a fused constant's values move into a
 * weight or a bias of the node's own, which is only rewritten when nothing else reads it).
 */
import { DataType, dimsOf, onnx } from '../model/onnx.js';
import { makeTensor, tensorToFloat32 } from '../model/tensor.js';
import { NameAllocator, consumerMap, getIntsAttr, getStringAttr, getFloatAttr, initializerMap, producerMap, setIntsAttr, removeAttribute } from '../model/graph.js';

type IGraph = onnx.IGraphProto;
type INode = onnx.INodeProto;

export interface FuseCounts {
  /** Mul/Div/Add/Sub by a per-channel constant folded into the Conv before it. */
  affine: number;
  pads: number;
  relus: number;
  sums: number;
}

const isDefault = (n: INode) => (n.domain ?? '') === '';

/**
 * The per-channel values of a constant broadcast against a Conv output of rank `rank` with `channels` channels:
 * length 1 or `channels`, or null when it varies along another axis (or the batch).
 */
export function perChannel(c: onnx.ITensorProto, rank: number, channels: number): Float32Array | null {
  const dims = dimsOf(c);
  if (dims.length > rank) return null;
  let size = 1;
  for (let j = 0; j < dims.length; j++) {
    const axis = rank - dims.length + j;
    const d = dims[j]!;
    if (axis === 1 && (d === channels || d === 1)) size = d;
    else if (d !== 1) return null;
  }
  const v = tensorToFloat32(c);
  return v.length === size ? v : null;
}

/**
 * Applies every fusion to one graph until none applies. `outer` holds the enclosing graphs' constants (a
 * subgraph body may scale by them); weights are rewritten only when they are this graph's own initializers
 * read by this node alone.
 */
export function fuseOps(graph: IGraph, outer: ReadonlyMap<string, onnx.ITensorProto>, names: NameAllocator, opset: number): FuseCounts {
  const counts: FuseCounts = { affine: 0, pads: 0, relus: 0, sums: 0 };
  for (;;) {
    const before = counts.affine + counts.pads + counts.relus + counts.sums;
    fuseOnce(graph, outer, names, opset, counts);
    if (counts.affine + counts.pads + counts.relus + counts.sums === before) return counts;
  }
}

function fuseOnce(graph: IGraph, outer: ReadonlyMap<string, onnx.ITensorProto>, names: NameAllocator, opset: number, counts: FuseCounts): void {
  const own = initializerMap(graph);
  const inits = new Map([...outer, ...own]);
  for (const v of graph.input ?? []) inits.delete(v.name!);
  const producers = producerMap(graph);
  const consumers = consumerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((v) => v.name));
  const removed = new Set<INode>();
  /** The one node reading `name`, when it is read once and is not a graph output. */
  const soleReader = (name: string): INode | undefined => {
    const readers = consumers.get(name) ?? [];
    return readers.length === 1 && !graphOutputs.has(name) ? readers[0] : undefined;
  };
  const ownedBy = (name: string, node: INode) => own.has(name) && (consumers.get(name) ?? []).length === 1 && consumers.get(name)![0] === node;
  const bypass = (gone: INode, keep: INode) => {
    // `keep` takes over what `gone` wrote.
    keep.output = [gone.output![0]!];
    producers.set(gone.output![0]!, keep);
    removed.add(gone);
  };

  for (const node of graph.node ?? []) {
    if (removed.has(node) || !isDefault(node)) continue;
    if (node.opType === 'Sum' && (node.input ?? []).length === 2) {
      node.opType = 'Add';
      counts.sums++;
      continue;
    }
    if (node.opType === 'Conv') {
      fuseAffine(node);
      continue;
    }
    if (node.opType === 'Pad') {
      fusePad(node);
      continue;
    }
    if (node.opType === 'Relu') fuseReluClip(node);
  }
  if (removed.size > 0) graph.node = graph.node!.filter((n) => !removed.has(n));

  function fuseAffine(conv: INode): void {
    const wName = conv.input?.[1] ?? '';
    const w = own.get(wName);
    if (!w || w.dataType !== DataType.FLOAT || !ownedBy(wName, conv)) return;
    const wDims = dimsOf(w);
    const channels = wDims[0]!;
    const bName = conv.input?.[2] ?? '';
    if (bName && (!own.get(bName) || own.get(bName)!.dataType !== DataType.FLOAT || !ownedBy(bName, conv) || tensorToFloat32(own.get(bName)!).length !== channels)) return;
    let weights: Float32Array | null = null;
    let bias: Float32Array | null = null;
    let fused = 0;
    for (;;) {
      const out = conv.output![0]!;
      const next = soleReader(out);
      if (!next || !isDefault(next) || !['Mul', 'Div', 'Add', 'Sub'].includes(next.opType!) || (next.input ?? []).length !== 2) break;
      const first = next.input![0] === out;
      const other = next.input![first ? 1 : 0]!;
      // x / c and x - c only (c / x, c - x are not affine in the weights' sense).
      if (!first && (next.opType === 'Div' || next.opType === 'Sub')) break;
      const c = inits.get(other);
      if (!c || c.dataType !== DataType.FLOAT) break;
      const v = perChannel(c, wDims.length, channels);
      if (!v) break;
      const at = (k: number) => v[v.length === 1 ? 0 : k]!;
      weights ??= Float32Array.from(tensorToFloat32(w));
      bias ??= bName ? Float32Array.from(tensorToFloat32(own.get(bName)!)) : new Float32Array(channels);
      if (next.opType === 'Mul' || next.opType === 'Div') {
        if (next.opType === 'Div' && v.some((x) => x === 0)) break;
        const inner = weights.length / channels;
        for (let k = 0; k < channels; k++) {
          const s = next.opType === 'Mul' ? at(k) : 1 / at(k);
          for (let i = k * inner; i < (k + 1) * inner; i++) weights[i] = weights[i]! * s;
          bias[k] = bias[k]! * s;
        }
      } else {
        for (let k = 0; k < channels; k++) bias[k] = bias[k]! + (next.opType === 'Add' ? at(k) : -at(k));
      }
      bypass(next, conv);
      // The Conv now writes what the Mul/Add wrote: its readers are the chain's next link.
      consumers.delete(out);
      fused++;
    }
    if (fused === 0 || !weights || !bias) return;
    const newW = makeTensor(names.next(`${wName}_fused`), wDims, weights);
    const newB = makeTensor(names.next(bName ? `${bName}_fused` : `${conv.output![0]}_bias`), [channels], bias);
    (graph.initializer ??= []).push(newW, newB);
    own.set(newW.name, newW);
    own.set(newB.name, newB);
    conv.input = [conv.input![0]!, newW.name, newB.name];
    counts.affine += fused;
  }

  function fusePad(pad: INode): void {
    const conv = soleReader(pad.output?.[0] ?? '');
    if (!conv || !isDefault(conv) || conv.opType !== 'Conv' || conv.input?.[0] !== pad.output![0]) return;
    if (getStringAttr(pad, 'mode', 'constant') !== 'constant') return;
    const autoPad = getStringAttr(conv, 'auto_pad', 'NOTSET');
    if (autoPad !== 'NOTSET') return;
    let pads: number[] | undefined;
    if (opset < 11) {
      pads = getIntsAttr(pad, 'pads');
      if (getFloatAttr(pad, 'value', 0) !== 0) return;
    } else {
      const p = inits.get(pad.input?.[1] ?? '');
      if (!p || (pad.input ?? []).length > 3) return; // an axes input (opset 18) names the padded axes: not handled
      pads = Array.from(tensorToFloat32(p));
      const value = pad.input?.[2] ? inits.get(pad.input[2]) : undefined;
      if (pad.input?.[2] && (!value || tensorToFloat32(value).some((x) => x !== 0))) return;
    }
    if (!pads || pads.length % 2 !== 0) return;
    const rank = pads.length / 2;
    const spatial = rank - 2;
    if (spatial < 1 || pads.some((x) => x < 0) || pads[0] !== 0 || pads[1] !== 0 || pads[rank] !== 0 || pads[rank + 1] !== 0) return;
    const convPads = getIntsAttr(conv, 'pads') ?? new Array<number>(2 * spatial).fill(0);
    if (convPads.length !== 2 * spatial) return;
    const merged = convPads.map((x, i) => x + (i < spatial ? pads![2 + i]! : pads![rank + 2 + (i - spatial)]!));
    removeAttribute(conv, 'auto_pad');
    setIntsAttr(conv, 'pads', merged);
    conv.input = [pad.input![0]!, ...conv.input!.slice(1)];
    removed.add(pad);
    counts.pads++;
  }

  function fuseReluClip(relu: INode): void {
    const clip = soleReader(relu.output?.[0] ?? '');
    if (!clip || !isDefault(clip) || clip.opType !== 'Clip' || clip.input?.[0] !== relu.output![0]) return;
    if (opset < 11) {
      const min = getFloatAttr(clip, 'min', -3.4028234663852886e38);
      if (min < 0) clip.attribute = [...(clip.attribute ?? []).filter((a) => a.name !== 'min'), onnx.AttributeProto.create({ name: 'min', f: 0, type: onnx.AttributeProto.AttributeType.FLOAT })];
    } else {
      const minName = clip.input?.[1] ?? '';
      const min = minName ? inits.get(minName) : undefined;
      if (minName && !min) return;
      if (min && (min.dataType !== DataType.FLOAT || dimsOf(min).length !== 0)) return;
      if (!min || tensorToFloat32(min)[0]! < 0) {
        // The bound must be float32 like the data: only when the Clip reads a float32 max (or the Relu's input is known float).
        const max = clip.input?.[2] ? inits.get(clip.input[2]) : undefined;
        if (min?.dataType !== DataType.FLOAT && max?.dataType !== DataType.FLOAT) return;
        const zero = makeTensor(names.next(`${clip.output![0]}_min`), [], new Float32Array([0]));
        (graph.initializer ??= []).push(zero);
        const inputs = [...(clip.input ?? [])];
        inputs[1] = zero.name;
        clip.input = inputs;
      }
    }
    clip.input = [relu.input![0]!, ...clip.input!.slice(1)];
    removed.add(relu);
    counts.relus++;
  }
}
