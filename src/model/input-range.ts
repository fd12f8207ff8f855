/**
 * The value range a model's own preprocessing implies for an input. Image models often normalise inside
 * the graph: x/255, x·(1/127.5) − 1, (x − mean)/std with ImageNet's mean and std, or x·2 − 1 for inputs
 * already in [0, 1]. Following the input through ops that only move values (Transpose, Reshape, Cast, …)
 * to the first chain of Mul/Div/Add/Sub by constants gives the affine map y = a·x + b the model applies.
 * Which input range it was written for is the one that it maps onto values centred on 0 with a spread near
 * 1: [0, 255] for a scale of 1/255 or 1/127.5 or a mean of 123.7, [0, 1] for a mean of 0.485 or x·2 − 1.
 *
 * A model normalised outside the graph (PaddleOCR's (x/255 − 0.5)/0.5, torchvision's mean/std) shows no
 * such chain, but a first Conv followed by a BatchNormalization still carries the training data's mean:
 * the running mean of output channel o is E[conv(x)]_o = b_o + μ·Σ W_o when the input's mean is μ, so a
 * least-squares fit over the output channels gives μ. When the fit explains the running means (R² ≥ 0.8),
 * the input range is the one of [−1, 1], [0, 1], [0, 255] whose middle is nearest μ.
 */
import type { onnx } from './onnx.js';
import { consumerMap, getIntAttr, initializerMap, producerMap } from './graph.js';
import { tensorToFloat32 } from './tensor.js';

/** Ops that only move or re-type their first input's values. */
const MOVES: ReadonlySet<string> = new Set(['Identity', 'Transpose', 'Reshape', 'Squeeze', 'Unsqueeze', 'Cast', 'Flatten']);
const AFFINE: ReadonlySet<string> = new Set(['Mul', 'Div', 'Add', 'Sub']);
/** Constants longer than this are not a per-channel normalisation. */
const MAX_CONSTANT = 16;
/** The input ranges considered. */
const CANDIDATES: ReadonlyArray<[number, number]> = [[0, 1], [0, 255]];

export interface ImpliedRange {
  range: [number, number];
  why: string;
}

/** How far y = a·x + b over `range` is from values centred on 0 with a spread of 1 (0 is perfect). */
function misfit(a: number, b: number, range: [number, number]): number {
  const y0 = a * range[0] + b, y1 = a * range[1] + b;
  const span = Math.abs(y1 - y0);
  if (!(span > 0)) return Infinity;
  return Math.abs((y0 + y1) / 2) / span + 0.1 * Math.abs(Math.log10(span));
}

const fmt = (v: number) => String(Number(v.toPrecision(4)));

/**
 * The range the preprocessing right after `input` is written for, or null when the input does not reach
 * an affine chain by constants (or its consumers disagree).
 */
export function impliedInputRange(model: onnx.IModelProto, input: string): ImpliedRange | null {
  const graph = model.graph;
  if (!graph) return null;
  const consumers = consumerMap(graph);
  const inits = initializerMap(graph);
  const producers = producerMap(graph);
  const tensor = constantTensor(inits, producers);
  const constant = (name: string): number | null => {
    const t = tensor(name);
    if (!t) return null;
    const v = tensorToFloat32(t);
    if (v.length === 0 || v.length > MAX_CONSTANT || !v.every(Number.isFinite)) return null;
    return v.reduce((s, x) => s + x, 0) / v.length;
  };
  const found: ImpliedRange[] = [];
  const walk = (value: string, a: number, b: number, steps: string[], depth: number): void => {
    const next = consumers.get(value) ?? [];
    const end = () => {
      if (steps.length === 0) return;
      const scored = CANDIDATES.map((r) => ({ r, m: misfit(a, b, r) })).sort((p, q) => p.m - q.m);
      const best = scored[0]!;
      if (!Number.isFinite(best.m) || best.m >= scored[1]!.m) return;
      const lo = a * best.r[0] + b, hi = a * best.r[1] + b;
      found.push({ range: best.r, why: `the graph computes ${steps.join(', ')} on it, which maps [${best.r.join(', ')}] to [${fmt(Math.min(lo, hi))}, ${fmt(Math.max(lo, hi))}]` });
    };
    if (next.length === 0 || depth > 8) return end();
    for (const node of next) {
      const op = node.opType ?? '';
      const ins = node.input ?? [];
      const out = node.output?.[0];
      if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') { end(); continue; }
      if (MOVES.has(op) && ins[0] === value && out) { walk(out, a, b, steps, depth + 1); continue; }
      if (!AFFINE.has(op) || ins.length !== 2 || !out) { end(); continue; }
      const first = ins[0] === value;
      const c = constant(first ? ins[1]! : ins[0]!);
      if (c === null || (ins[0] === value && ins[1] === value)) { end(); continue; }
      const label = `${op} ${fmt(c)} ('${node.name || out}')`;
      if (op === 'Mul') walk(out, a * c, b * c, [...steps, label], depth + 1);
      else if (op === 'Add') walk(out, a, b + c, [...steps, label], depth + 1);
      else if (op === 'Sub') walk(out, first ? a : -a, first ? b - c : c - b, [...steps, label], depth + 1);
      else if (first && c !== 0) walk(out, a / c, b / c, [...steps, label], depth + 1);
      else end();
    }
  };
  walk(input, 1, 0, [], 0);
  if (found.length === 0) return batchNormMean(input, consumers, tensor);
  const first = found[0]!;
  return found.every((f) => f.range[1] === first.range[1]) ? first : null;
}

type ConstantOf = (name: string) => onnx.ITensorProto | undefined;

function constantTensor(inits: Map<string, onnx.ITensorProto>, producers: Map<string, onnx.INodeProto>): ConstantOf {
  return (name) => {
    const t = inits.get(name);
    if (t) return t;
    const p = producers.get(name);
    return p?.opType === 'Constant' ? (p.attribute?.find((a) => a.name === 'value')?.t ?? undefined) : undefined;
  };
}

/** Least R² of the fit of the running means for μ to count. */
const MIN_FIT = 0.8;
/** Input ranges by their middle, for a fitted mean. */
const BY_MIDDLE: ReadonlyArray<[number, [number, number]]> = [[0, [-1, 1]], [0.5, [0, 1]], [127.5, [0, 255]]];

/** The input mean a first Conv → BatchNormalization was trained on (see the file comment), as a range. */
function batchNormMean(input: string, consumers: Map<string, onnx.INodeProto[]>, constant: ConstantOf): ImpliedRange | null {
  let value = input;
  for (let depth = 0; depth < 4; depth++) {
    const next = consumers.get(value) ?? [];
    if (next.length !== 1) return null;
    const node = next[0]!;
    if (MOVES.has(node.opType ?? '') && node.opType !== 'Reshape' && node.opType !== 'Flatten' && node.output?.[0]) {
      value = node.output[0];
      continue;
    }
    if (node.opType !== 'Conv' || (node.input ?? [])[0] !== value) return null;
    const after = consumers.get(node.output?.[0] ?? '') ?? [];
    const bn = after.length === 1 && after[0]!.opType === 'BatchNormalization' ? after[0]! : null;
    const w = constant(node.input?.[1] ?? '');
    const meanT = bn ? constant(bn.input?.[3] ?? '') : undefined;
    if (!bn || !w || !meanT || (w.dims ?? []).length !== 4) return null;
    const weights = tensorToFloat32(w);
    const runningMean = tensorToFloat32(meanT);
    const bias = node.input?.[2] ? constant(node.input[2]) : undefined;
    const b = bias ? tensorToFloat32(bias) : null;
    const outs = Number(w.dims![0]);
    const group = getIntAttr(node, 'group', 1);
    if (group !== 1 || outs < 4 || runningMean.length !== outs || (b && b.length !== outs)) return null;
    const per = weights.length / outs;
    const sums = Array.from({ length: outs }, (_, o) => weights.subarray(o * per, (o + 1) * per).reduce((s, v) => s + v, 0));
    const target = Array.from(runningMean, (m, o) => m - (b ? b[o]! : 0));
    const ss = sums.reduce((s, v) => s + v * v, 0);
    if (!(ss > 0)) return null;
    const mu = sums.reduce((s, v, o) => s + v * target[o]!, 0) / ss;
    const mean = target.reduce((s, v) => s + v, 0) / outs;
    const total = target.reduce((s, v) => s + (v - mean) ** 2, 0);
    const residual = target.reduce((s, v, o) => s + (v - mu * sums[o]!) ** 2, 0);
    const r2 = total > 0 ? 1 - residual / total : 0;
    if (!Number.isFinite(mu) || r2 < MIN_FIT) return null;
    const [, range] = BY_MIDDLE.reduce((best, c) => (Math.abs(c[0] - mu) < Math.abs(best[0] - mu) ? c : best));
    return { range: [range[0], range[1]], why: `the running mean of BatchNormalization '${bn.name || bn.output?.[0]}' after the first Conv fits inputs of mean ${fmt(mu)} (R² ${r2.toFixed(2)})` };
  }
  return null;
}
