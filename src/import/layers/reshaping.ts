/** Flatten, Reshape, Permute, RepeatVector, ZeroPadding2D, Cropping2D, UpSampling2D. */
import { one, type LayerConverter } from './core.js';
import { intAttr, intsAttr, product, stringAttr, type GraphBuilder, type Value } from './graph.js';

export const flatten: LayerConverter = (g, inputs, config) => {
  const x = one(g, inputs);
  if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') g.fail(`data_format '${String(config.dataFormat)}' is not supported (channels_last)`);
  if (x.shape.length <= 1) return x;
  const size = product(x.shape);
  const y = g.node('Flatten', [x.name], [intAttr('axis', 1)]);
  if (!x.channelsFirst) return { name: y, shape: [size], channelsFirst: false, elemType: x.elemType };
  // ONNX flattens [C, ...spatial]; Keras flattens [...spatial, C]. Record where each Keras feature went
  // instead of transposing: a following Dense permutes its weight rows and the Transpose never runs.
  const channels = x.shape[x.shape.length - 1]!;
  const spatial = size / channels;
  if (channels === 1 || spatial === 1) return { name: y, shape: [size], channelsFirst: false, elemType: x.elemType };
  const kerasOrder = new Int32Array(size);
  for (let s = 0; s < spatial; s++) for (let c = 0; c < channels; c++) kerasOrder[s * channels + c] = c * spatial + s;
  return { name: y, shape: [size], channelsFirst: false, kerasOrder, elemType: x.elemType };
};

function resolveTarget(g: GraphBuilder, from: number[], target: number[]): number[] {
  const known = target.filter((d) => d !== -1);
  const unknown = target.length - known.length;
  if (unknown > 1 || known.some((d) => !Number.isInteger(d) || d < 1)) g.fail(`target_shape [${target.join(', ')}] is not valid`);
  const total = product(from);
  const out = target.map((d) => (d === -1 ? total / product(known) : d));
  if (product(out) !== total || out.some((d) => !Number.isInteger(d))) g.fail(`cannot reshape [${from.join(', ')}] into [${target.join(', ')}]`);
  return out;
}

export const reshape: LayerConverter = (g, inputs, config) => {
  const x = g.kerasLayout(one(g, inputs));
  // TF.js writes Keras' -1 (the inferred dim) as null.
  const target = resolveTarget(g, x.shape, (config.targetShape as Array<number | null>).map((d) => d ?? -1));
  return { name: g.reshape(x.name, target), shape: target, channelsFirst: false, elemType: x.elemType };
};

export const permute: LayerConverter = (g, inputs, config) => {
  const x = g.kerasLayout(one(g, inputs));
  const dims = config.dims as number[];
  if (!Array.isArray(dims) || [...dims].sort((a, b) => a - b).some((d, i) => d !== i + 1) || dims.length !== x.shape.length) {
    g.fail(`dims ${JSON.stringify(dims)} is not a permutation of 1..${x.shape.length}`);
  }
  const y = g.node('Transpose', [x.name], [intsAttr('perm', [0, ...dims])]);
  return { name: y, shape: dims.map((d) => x.shape[d - 1]!), channelsFirst: false, elemType: x.elemType };
};

export const repeatVector: LayerConverter = (g, inputs, config) => {
  const x = g.inKerasOrder(one(g, inputs));
  if (x.shape.length !== 1) g.fail(`expects a flat input, got [${x.shape.join(', ')}]`);
  const n = config.n as number;
  const unsqueezed = g.node('Unsqueeze', [x.name, g.int64s('axes', [1])]);
  const y = g.node('Expand', [unsqueezed, g.int64s('shape', [1, n, 1])]);
  return { name: y, shape: [n, x.shape[0]!], channelsFirst: false };
};

/** [[top, bottom], [left, right]] from Keras' int, (sym_h, sym_w) or ((t, b), (l, r)) forms. */
function pairs(g: GraphBuilder, value: unknown, what: string): [[number, number], [number, number]] {
  const asPair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0] as number, v[1] as number] : [v as number, v as number]);
  const both = Array.isArray(value) ? value : [value, value];
  const out = [asPair(both[0]), asPair(both[1])] as [[number, number], [number, number]];
  if (both.length !== 2 || out.flat().some((d) => !Number.isInteger(d) || d < 0)) g.fail(`${what} ${JSON.stringify(value)} is not valid`);
  return out;
}

function imageInput(g: GraphBuilder, inputs: Value[], config: Record<string, unknown>): Value {
  const x = one(g, inputs);
  if (x.shape.length !== 3) g.fail(`expects an image input [height, width, channels], got [${x.shape.join(', ')}]`);
  if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') g.fail(`data_format '${String(config.dataFormat)}' is not supported (channels_last)`);
  return g.channelsFirst(x);
}

export const zeroPadding2d: LayerConverter = (g, inputs, config) => {
  const x = imageInput(g, inputs, config);
  const [[t, b], [l, r]] = pairs(g, config.padding ?? 1, 'padding');
  const y = g.node('Pad', [x.name, g.int64s('pads', [0, 0, t, l, 0, 0, b, r])]);
  return { name: y, shape: [x.shape[0]! + t + b, x.shape[1]! + l + r, x.shape[2]!], channelsFirst: true };
};

export const cropping2d: LayerConverter = (g, inputs, config) => {
  const x = imageInput(g, inputs, config);
  const [[t, b], [l, r]] = pairs(g, config.cropping ?? 0, 'cropping');
  const [h, w, c] = x.shape as [number, number, number];
  if (t + b >= h || l + r >= w) g.fail(`cropping ${JSON.stringify(config.cropping)} leaves nothing of a ${h}x${w} input`);
  const y = g.node('Slice', [x.name, g.int64s('starts', [t, l]), g.int64s('ends', [h - b, w - r]), g.int64s('axes', [2, 3])]);
  return { name: y, shape: [h - t - b, w - l - r, c], channelsFirst: true };
};

/**
 * UpSampling2D. 'nearest' repeats pixels. TF.js' 'bilinear' samples at corners (align_corners=False,
 * half_pixel_centers=False, ONNX 'asymmetric'); Keras 2.x/3.x use half-pixel centers, which
 * keras-config.ts selects by renaming the class to KerasUpSampling2D.
 */
function upSampling(halfPixel: boolean): LayerConverter {
  return (g, inputs, config) => {
    const x = imageInput(g, inputs, config);
    const size = Array.isArray(config.size) ? (config.size as number[]) : [config.size as number, config.size as number];
    if (size.length !== 2 || size.some((s) => !Number.isInteger(s) || s < 1)) g.fail(`size ${JSON.stringify(config.size)} is not two positive integers`);
    const interpolation = config.interpolation ?? 'nearest';
    if (interpolation !== 'nearest' && interpolation !== 'bilinear') g.fail(`interpolation '${String(interpolation)}' is not supported (nearest, bilinear)`);
    const attributes =
      interpolation === 'nearest'
        ? [stringAttr('mode', 'nearest'), stringAttr('coordinate_transformation_mode', 'asymmetric'), stringAttr('nearest_mode', 'floor')]
        : [stringAttr('mode', 'linear'), stringAttr('coordinate_transformation_mode', halfPixel ? 'half_pixel' : 'asymmetric')];
    const scales = g.floats('scales', [4], [1, 1, size[0]!, size[1]!]);
    const y = g.node('Resize', [x.name, '', scales], attributes);
    return { name: y, shape: [x.shape[0]! * size[0]!, x.shape[1]! * size[1]!, x.shape[2]!], channelsFirst: true };
  };
}

export const upSampling2d = upSampling(false);
export const kerasUpSampling2d = upSampling(true);

