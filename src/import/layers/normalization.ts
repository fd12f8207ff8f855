/** BatchNormalization (folded into one Mul and one Add) and LayerNormalization (decomposed; ORT fuses it back). */
import { inOnnxOrder, one, type LayerConverter } from './core.js';

/** Broadcast dims for per-feature constants along ONNX axis `axis` of a rank-`rank` tensor. */
function alongAxis(size: number, axis: number, rank: number): number[] {
  return [size, ...Array.from({ length: rank - 1 - axis }, () => 1)];
}

export const batchNormalization: LayerConverter = (g, inputs, config, layer) => {
  const x = one(g, inputs);
  const axis = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1];
  if (axis.length !== 1) g.fail('normalizing over several axes is not supported');
  const epsilon = (config.epsilon as number | undefined) ?? 1e-3;
  const center = config.center !== false;
  const scale = config.scale !== false;
  const onnxAxis = x.kerasOrder ? 1 : g.onnxAxis(x, axis[0] as number);
  const features = x.shape[(axis[0] as number) < 0 ? x.shape.length + (axis[0] as number) : (axis[0] as number) - 1]!;
  const shapes = [...(scale ? [[features]] : []), ...(center ? [[features]] : []), [features], [features]];
  const ws = g.weights(layer, shapes);
  const gamma = scale ? ws.shift()! : undefined;
  const beta = center ? ws.shift()! : undefined;
  const [mean, variance] = ws as [Float32Array, Float32Array];
  // y = (x − mean) / √(var + ε) · γ + β = x · a + b, folded here in float64.
  const a = new Float32Array(features);
  const b = new Float32Array(features);
  for (let c = 0; c < features; c++) {
    const m = (gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + epsilon);
    a[c] = m;
    b[c] = (beta ? beta[c]! : 0) - mean[c]! * m;
  }
  const dims = alongAxis(features, onnxAxis, x.shape.length + 1);
  const scaled = g.node('Mul', [x.name, g.floats('scale', dims, inOnnxOrder(x, a))]);
  return { ...x, name: g.node('Add', [scaled, g.floats('offset', dims, inOnnxOrder(x, b))]), graphInput: undefined };
};

export const layerNormalization: LayerConverter = (g, inputs, config, layer) => {
  let x = one(g, inputs);
  const rank = x.shape.length;
  const kerasAxes = (Array.isArray(config.axis) ? config.axis : [config.axis ?? -1]).map((a) => ((a as number) < 0 ? (a as number) + rank + 1 : (a as number)));
  if (kerasAxes.some((a) => !Number.isInteger(a) || a < 1 || a > rank)) g.fail(`axis ${JSON.stringify(config.axis)} is out of range`);
  kerasAxes.sort((p, q) => p - q);
  const epsilon = (config.epsilon as number | undefined) ?? 1e-3;
  const paramShape = kerasAxes.map((a) => x.shape[a - 1]!);
  const shapes = [...(config.scale !== false ? [paramShape] : []), ...(config.center !== false ? [paramShape] : [])];
  const ws = g.weights(layer, shapes);
  const gamma = config.scale !== false ? ws.shift()! : undefined;
  const beta = config.center !== false ? ws.shift()! : undefined;

  let axes: number[];
  let broadcast: number[];
  if (x.kerasOrder) {
    // Normalizing all features of a flat vector does not care about their order; γ and β follow it.
    axes = [1];
    broadcast = [x.shape[0]!];
  } else if (x.channelsFirst && kerasAxes.length === 1 && kerasAxes[0] === rank) {
    axes = [1];
    broadcast = alongAxis(x.shape[rank - 1]!, 1, rank + 1);
  } else {
    x = g.kerasLayout(x);
    axes = kerasAxes;
    // γ's data is laid out over the normalized axes in Keras order; size-1 dims for the others keep it broadcastable.
    broadcast = Array.from({ length: rank + 1 - kerasAxes[0]! }, (_, i) => (kerasAxes.includes(kerasAxes[0]! + i) ? x.shape[kerasAxes[0]! + i - 1]! : 1));
  }
  const mean = g.reduce('ReduceMean', x.name, axes, true, 'mean');
  const centered = g.node('Sub', [x.name, mean], [], 'centered');
  const variance = g.reduce('ReduceMean', g.node('Mul', [centered, centered], [], 'squared'), axes, true, 'variance');
  const std = g.node('Sqrt', [g.node('Add', [variance, g.scalar('epsilon', epsilon)])], [], 'std');
  let y = g.node('Div', [centered, std], [], 'normalized');
  if (gamma) y = g.node('Mul', [y, g.floats('gamma', broadcast, inOnnxOrder(x, gamma))], [], 'scaled');
  if (beta) y = g.node('Add', [y, g.floats('beta', broadcast, inOnnxOrder(x, beta))], [], 'shifted');
  return { ...x, name: y, graphInput: undefined };
};

