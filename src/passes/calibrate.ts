/**
 * Activation ranges for static quantization, measured by running the float model in onnxruntime with the
 * tensors of interest added as graph outputs.
 *
 * - minmax: the observed min and max.
 * - percentile: the (100 - p)th and p-th percentiles of the values (two-sided), from a 2048-bin histogram.
 * - entropy: the clipping threshold that minimizes the KL divergence between the |x| histogram and its
 *   quantized version (the method TensorRT describes for int8 calibration).
 *
 * Histograms need the range first, so those methods run the samples twice: memory stays at one histogram
 * per tensor whatever the number of samples.
 */
import { onnx, cloneModel, encodeModel, type Model } from '../model/onnx.js';
import type { Feeds } from '../model/host-tensor.js';
import { OrtSession } from '../runtime/session.js';
import { ModelGateError } from '../errors.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

export interface TensorRange {
  min: number;
  max: number;
}

export interface CalibrationOptions {
  method: CalibrationMethod;
  /**
   * Tensors whose mean per slice along an axis is wanted as well (tensor → axis, negative from the end): a
   * Conv input's mean per channel, for bias correction. Measured in the same pass as the ranges.
   */
  means?: ReadonlyMap<string, number>;
  /** For 'percentile': keep this share of values inside the range, in percent. Default 99.999. */
  percentile?: number;
  /** Histogram bins. Default 2048. */
  bins?: number;
}

const DEFAULT_BINS = 2048;

type Observer = (name: string, data: Float32Array, dims: readonly number[]) => void;

/** Mean of a tensor per slice along one axis, accumulated over samples. */
class SliceMean {
  private sums: Float64Array | undefined;
  private count = 0;
  constructor(private readonly name: string, private readonly axis: number) {}

  add(data: Float32Array, dims: readonly number[]): void {
    const axis = this.axis < 0 ? dims.length + this.axis : this.axis;
    if (axis < 0 || axis >= dims.length) throw new ModelGateError(`calibration: tensor '${this.name}' has rank ${dims.length}, no axis ${this.axis}`);
    const slices = dims[axis]!;
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    if (this.sums && this.sums.length !== slices) throw new ModelGateError(`calibration: tensor '${this.name}' has ${slices} slices on axis ${this.axis} in one sample, ${this.sums.length} in another`);
    const sums = (this.sums ??= new Float64Array(slices));
    for (let i = 0; i < data.length; i++) sums[Math.floor(i / inner) % slices]! += data[i]!;
    this.count += data.length / slices;
  }

  result(): Float64Array {
    return (this.sums ?? new Float64Array(0)).map((v) => v / this.count);
  }
}

async function forEachActivation(model: Model, tensors: readonly string[], feeds: readonly Feeds[], observe: Observer): Promise<void> {
  const inputs = new Set((model.graph!.input ?? []).map((v) => v.name));
  const fromFeeds = tensors.filter((t) => inputs.has(t));
  const fetched = tensors.filter((t) => !inputs.has(t));
  let session: OrtSession | undefined;
  if (fetched.length > 0) {
    const probe = cloneModel(model);
    const outputs = new Set((probe.graph!.output ?? []).map((o) => o.name));
    for (const name of fetched) if (!outputs.has(name)) probe.graph!.output!.push(onnx.ValueInfoProto.create({ name }));
    // 'basic' keeps every listed tensor exactly as the float graph computes it.
    session = await OrtSession.create(encodeModel(probe), { graphOptimizationLevel: 'basic' }, 'calibration model');
  }
  try {
    for (const feed of feeds) {
      for (const name of fromFeeds) {
        const t = feed[name];
        if (t && t.data instanceof Float32Array) observe(name, t.data, t.dims);
      }
      if (session) {
        const out = await session.run(feed, fetched);
        for (const name of fetched) {
          const t = out[name];
          if (!t || !(t.data instanceof Float32Array)) throw new ModelGateError(`calibration: tensor '${name}' is not float32`);
          observe(name, t.data, t.dims);
        }
      }
    }
  } finally {
    await session?.release();
  }
}

export interface Calibration {
  ranges: Map<string, TensorRange>;
  /** For each tensor of `options.means`: its mean per slice along the asked axis. */
  means: Map<string, Float64Array>;
}

export async function calibrateRanges(model: Model, tensors: readonly string[], feeds: readonly Feeds[], options: CalibrationOptions): Promise<Map<string, TensorRange>> {
  return (await calibrate(model, tensors, feeds, options)).ranges;
}

export async function calibrate(model: Model, tensors: readonly string[], feeds: readonly Feeds[], options: CalibrationOptions): Promise<Calibration> {
  if (feeds.length === 0) throw new ModelGateError('calibration: no samples (static quantization needs calibration data from the dataset)');
  const ranges = new Map<string, TensorRange>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
  const meanOf = new Map([...(options.means ?? [])].map(([t, axis]) => [t, new SliceMean(t, axis)]));
  await forEachActivation(model, [...new Set([...tensors, ...meanOf.keys()])], feeds, (name, data, dims) => {
    meanOf.get(name)?.add(data, dims);
    const r = ranges.get(name);
    if (!r) return;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < r.min) r.min = v;
      if (v > r.max) r.max = v;
    }
  });
  for (const [name, r] of ranges) {
    if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new ModelGateError(`calibration: tensor '${name}' has non-finite values (range [${r.min}, ${r.max}])`);
  }
  const means = new Map([...meanOf].map(([t, m]) => [t, m.result()]));
  if (options.method === 'minmax' || tensors.length === 0) return { ranges, means };

  const bins = options.bins ?? DEFAULT_BINS;
  const signed = options.method === 'percentile';
  const hists = new Map<string, Float64Array>(tensors.map((t) => [t, new Float64Array(bins)]));
  // percentile: histogram of x over [min, max]; entropy: histogram of |x| over [0, max|x|].
  const lo = (r: TensorRange): number => (signed ? r.min : 0);
  const hi = (r: TensorRange): number => (signed ? r.max : Math.max(-r.min, r.max));
  await forEachActivation(model, tensors, feeds, (name, data) => {
    const r = ranges.get(name)!;
    const h = hists.get(name)!;
    const a = lo(r), width = (hi(r) - a) / bins;
    if (!(width > 0)) {
      h[0]! += data.length;
      return;
    }
    for (let i = 0; i < data.length; i++) {
      const v = signed ? data[i]! : Math.abs(data[i]!);
      // Exact zeros (half of a ReLU output) are exact at any scale; in the |x| histogram their spike would
      // dominate the divergence and push the threshold far down.
      if (!signed && v === 0) continue;
      h[Math.min(bins - 1, Math.floor((v - a) / width))]! += 1;
    }
  });
  const out = new Map<string, TensorRange>();
  for (const name of tensors) {
    const r = ranges.get(name)!;
    const h = hists.get(name)!;
    const a = lo(r), width = (hi(r) - a) / bins;
    if (!(width > 0)) {
      out.set(name, { ...r });
      continue;
    }
    if (signed) {
      const [b0, b1] = percentileBins(h, options.percentile ?? 99.999);
      out.set(name, { min: Math.max(r.min, a + b0 * width), max: Math.min(r.max, a + (b1 + 1) * width) });
    } else {
      const levels = r.min >= 0 ? 255 : 128;
      const t = (klThresholdBin(h, levels) + 0.5) * width;
      out.set(name, { min: Math.max(r.min, -t), max: Math.min(r.max, t) });
    }
  }
  return { ranges: out, means };
}

/** Bin indices holding the (100 - p)th and p-th percentiles. */
export function percentileBins(hist: ArrayLike<number>, p: number): [number, number] {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i]!;
  const tail = (total * (100 - p)) / 100;
  let lowBin = 0, acc = 0;
  for (; lowBin < hist.length - 1; lowBin++) {
    acc += hist[lowBin]!;
    if (acc > tail) break;
  }
  let highBin = hist.length - 1;
  acc = 0;
  for (; highBin > 0; highBin--) {
    acc += hist[highBin]!;
    if (acc > tail) break;
  }
  return [lowBin, Math.max(lowBin, highBin)];
}

/**
 * The histogram bin i (threshold = (i + 0.5) · width) that minimizes KL(P || Q), where P is the histogram
 * clipped at i (outliers folded into the last bin) and Q is P's first i bins merged into `levels` groups and
 * spread back over each group's non-empty bins.
 */
export function klThresholdBin(hist: ArrayLike<number>, levels: number): number {
  const n = hist.length;
  if (n <= levels) return n - 1;
  const suffix = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + hist[i]!;
  let best = n - 1, bestKl = Infinity;
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  for (let i = levels; i <= n; i++) {
    for (let k = 0; k < i; k++) p[k] = hist[k]!;
    p[i - 1]! += suffix[i]!;
    const per = i / levels;
    for (let g = 0; g < levels; g++) {
      const start = Math.floor(g * per);
      const end = g === levels - 1 ? i : Math.floor((g + 1) * per);
      let sum = 0, nonEmpty = 0;
      for (let k = start; k < end; k++) {
        sum += hist[k]!;
        if (hist[k]! > 0) nonEmpty++;
      }
      for (let k = start; k < end; k++) q[k] = hist[k]! > 0 ? sum / nonEmpty : 0;
    }
    const kl = klDivergence(p, q, i);
    if (kl < bestKl) {
      bestKl = kl;
      best = i - 1;
    }
  }
  return best;
}

/** KL(P || Q) of the first n entries, both normalized; Q is smoothed where P has mass and Q has none. */
function klDivergence(p: Float64Array, q: Float64Array, n: number): number {
  let ps = 0, qs = 0;
  for (let k = 0; k < n; k++) {
    ps += p[k]!;
    qs += q[k]!;
  }
  if (ps === 0) return 0;
  if (qs === 0) return Infinity;
  const eps = 1e-4 / n;
  let kl = 0;
  for (let k = 0; k < n; k++) {
    const pk = p[k]! / ps;
    if (pk === 0) continue;
    const qk = Math.max(q[k]! / qs, eps);
    kl += pk * Math.log(pk / qk);
  }
  return kl;
}
