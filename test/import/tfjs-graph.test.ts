/**
 * TF.js graph models built here in tfjs-converter's format, imported op by op, and checked against
 * TF.js executing the same model.json (the import's own check, plus its figures asserted here).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectFormat, importModel } from '../../src/import/index.js';
import { OP_CONVERTERS } from '../../src/import/tfjs-graph/registry.js';
import { convertTfjsGraph, type GraphConversion } from '../../src/import/tfjs-graph/convert.js';
import { checkGraphConversion, loadGraphModel } from '../../src/import/tfjs-graph/check.js';
import { OrtSession } from '../../src/runtime/session.js';
import { seededRandom } from '../../src/data/random.js';
import { readTfjsArtifacts } from '../../src/formats/tfjs/files.js';
import { encodeModel, dimsOf, type onnx } from '../../src/model/onnx.js';
import { tensorToFloat32 } from '../../src/model/tensor.js';
import { ModelGateError } from '../../src/errors.js';
import { loadTfjs } from '../../src/runtime/tfjs.js';
import { T, b, constant, f, i, ints, node, placeholder, randomValues, s, strs, type, writeGraphModel, type ConstDef, type GraphNode } from '../support/tfjs-graph-fixtures.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'modelgate-tfjs-graph-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const NHWC = { data_format: s('NHWC') };
const conv = (strides: number[], padding: string, extra: Record<string, Record<string, unknown>> = {}) => ({ ...T, ...NHWC, strides: ints(strides), padding: s(padding), dilations: ints([1, 1, 1, 1]), ...extra });
const intConst = (name: string, shape: number[], values: number[]): ConstDef => constant(name, shape, values, { dtype: 'int32' });
let seed = 11;
const w = (name: string, shape: number[], quantize?: ConstDef['quantize'], lo = -0.5, hi = 0.5): ConstDef =>
  constant(name, shape, randomValues(shape.reduce((a, c) => a * c, 1), seed++, lo, hi), { quantize });

/** A CNN through every convolution, pooling, padding and resizing op, weights stored four ways. */
function cnnModel(): { nodes: GraphNode[]; consts: ConstDef[] } {
  const consts = [
    w('k1', [3, 3, 3, 4]),
    w('b1', [4], 'uint8'),
    w('dk1', [3, 3, 4, 2], 'uint16'),
    w('k2', [1, 1, 8, 6], 'float16'),
    w('b2', [6], 'float16'),
    w('dk2', [3, 3, 6, 1], 'uint8'),
    w('b3', [6]),
    w('bn_scale', [6], undefined, 0.5, 1.5),
    w('bn_offset', [6]),
    w('bn_mean', [6]),
    w('bn_var', [6], undefined, 0.2, 1),
    w('k3', [1, 1, 6, 6], 'uint8'),
    w('b4', [6]),
    w('alpha', [6], undefined, 0.05, 0.3),
    intConst('paddings', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0]),
    intConst('size9', [2], [9, 9]),
    intConst('axis3', [], [3]),
    intConst('axes12', [2], [1, 2]),
    w('wt', [12, 5], 'uint16'),
    w('bias5', [5]),
    w('w2', [4, 5], 'float16'),
  ];
  const nodes = [
    placeholder('x', [-1, 9, 9, 3]),
    node('c1', 'Conv2D', ['x', 'k1'], conv([1, 1, 1, 1], 'SAME')),
    node('c1b', 'BiasAdd', ['c1', 'b1'], { ...T, ...NHWC }),
    node('c1r', 'Relu', ['c1b'], T),
    node('d1', 'DepthwiseConv2dNative', ['c1r', 'dk1'], conv([1, 2, 2, 1], 'VALID')),
    node('f1', '_FusedConv2D', ['d1', 'k2', 'b2'], conv([1, 1, 1, 1], 'SAME', { fused_ops: strs(['BiasAdd', 'Relu6']), num_args: i(1), epsilon: f(0) })),
    node('f2', 'FusedDepthwiseConv2dNative', ['f1', 'dk2', 'b3'], conv([1, 1, 1, 1], 'SAME', { fused_ops: strs(['BiasAdd', 'Elu']), num_args: i(1) })),
    node('bn', 'FusedBatchNormV3', ['f2', 'bn_scale', 'bn_offset', 'bn_mean', 'bn_var'], { ...T, ...NHWC, U: type('DT_FLOAT'), epsilon: f(0.001), is_training: b(false) }),
    node('f3', '_FusedConv2D', ['bn', 'k3', 'b4'], conv([1, 1, 1, 1], 'VALID', { fused_ops: strs(['BiasAdd', 'LeakyRelu']), num_args: i(1), leakyrelu_alpha: f(0.1) })),
    node('mp', 'MaxPool', ['f3'], { ...T, ...NHWC, ksize: ints([1, 2, 2, 1]), strides: ints([1, 2, 2, 1]), padding: s('SAME') }),
    node('pr', 'Prelu', ['mp', 'alpha'], T),
    node('ap', 'AvgPool', ['pr'], { ...T, ...NHWC, ksize: ints([1, 2, 2, 1]), strides: ints([1, 1, 1, 1]), padding: s('VALID') }),
    node('pad', 'Pad', ['ap', 'paddings'], T),
    node('mpad', 'MirrorPad', ['pad', 'paddings'], { ...T, mode: s('REFLECT') }),
    node('rb', 'ResizeBilinear', ['mpad', 'size9'], { ...T, align_corners: b(false), half_pixel_centers: b(true) }),
    node('rn', 'ResizeNearestNeighbor', ['mpad', 'size9'], { ...T, align_corners: b(false), half_pixel_centers: b(true) }),
    node('rba', 'ResizeBilinear', ['mpad', 'size9'], { ...T, align_corners: b(true), half_pixel_centers: b(false) }),
    node('rna', 'ResizeNearestNeighbor', ['mpad', 'size9'], { ...T, align_corners: b(true), half_pixel_centers: b(false) }),
    node('rsum', 'AddV2', ['rba', 'rna'], T),
    node('cat', 'ConcatV2', ['rb', 'rn', 'axis3'], { ...T, N: i(2) }),
    node('cat2', 'ConcatV2', ['cat', 'rsum', 'axis3'], { ...T, N: i(2) }),
    node('cat3', 'StridedSlice', ['cat2', 'sl_begin', 'sl_end', 'sl_strides'], { ...T, Index: type('DT_INT32'), begin_mask: i(15), end_mask: i(7), shrink_axis_mask: i(0), ellipsis_mask: i(0), new_axis_mask: i(0) }),
    node('m', 'Mean', ['cat3', 'axes12'], { ...T, keep_dims: b(false), Tidx: type('DT_INT32') }),
    // TF.js 4.22's wasm kernel for a fused MatMul with transpose_b and a bias computes wrong values
    // (its cpu kernel and the unfused path agree with each other): transpose_b is covered on MatMul.
    node('fm', '_FusedMatMul', ['m', 'wt', 'bias5'], { ...T, transpose_a: b(false), transpose_b: b(false), fused_ops: strs(['BiasAdd', 'Relu']), num_args: i(1), epsilon: f(0) }),
    node('mm', 'MatMul', ['fm', 'w2'], { ...T, transpose_a: b(false), transpose_b: b(true) }),
    node('sm', 'Softmax', ['mm'], T),
    node('Identity', 'Identity', ['sm'], T),
    node('Identity_1', 'Identity', ['cat'], T),
  ];
  // Every channel of cat2 but the last 6: a slice along the channels of a channels-first value.
  consts.push(intConst('sl_begin', [4], [0, 0, 0, 0]), intConst('sl_end', [4], [0, 0, 0, 12]), intConst('sl_strides', [4], [1, 1, 1, 1]));
  return { nodes, consts };
}

/** Element-wise, shape and reduction ops on a rank-3 input, with int32 arithmetic and a dynamic reshape. */
function tensorOpsModel(): { nodes: GraphNode[]; consts: ConstDef[] } {
  const consts = [
    w('c6', [6]),
    constant('half', [], [0.5]),
    w('c46', [4, 6], undefined, 1, 2),
    constant('lo', [], [-0.1]),
    constant('hi', [], [0.8]),
    constant('one', [], [1]),
    constant('shift', [], [0.3]),
    constant('eight', [], [8]),
    constant('ten', [], [10]),
    constant('neg3', [], [-3.5]),
    intConst('three', [], [3]),
    intConst('shape24', [2], [-1, 24]),
    intConst('dim1', [], [1]),
    intConst('perm021', [3], [0, 2, 1]),
    intConst('ss_b', [3], [0, 1, 0]),
    intConst('ss_e', [3], [0, 5, 3]),
    intConst('ss_s', [3], [1, 2, 1]),
    intConst('sh_b', [3], [0, 2, 0]),
    intConst('sh_e', [3], [0, 3, 0]),
    intConst('sh_s', [3], [1, 1, 1]),
    intConst('axis1', [], [1]),
    intConst('axis2', [], [2]),
    intConst('axes2', [1], [2]),
    intConst('b0', [1], [0]),
    intConst('b1', [1], [1]),
    intConst('s1', [1], [1]),
    intConst('c24', [], [24]),
    intConst('idx', [2], [2, 0]),
    intConst('pads3', [3, 2], [0, 0, 1, 0, 0, 2]),
    intConst('sl_begin', [3], [0, 1, 2]),
    intConst('sl_size', [3], [-1, 2, -1]),
    intConst('k2', [], [2]),
    constant('padval', [], [0.5]),
  ];
  const nodes = [
    placeholder('x', [-1, 4, 6]),
    node('noop', 'NoOp'),
    node('a', 'Add', ['x', 'c6'], T),
    node('sb', 'Sub', ['a', 'half'], T),
    node('mu', 'Mul', ['sb', 'x'], T),
    node('dv', 'RealDiv', ['mu', 'c46'], T),
    node('dd', 'Div', ['dv', 'c46'], T),
    node('mx', 'Maximum', ['dd', 'lo'], T),
    node('mn', 'Minimum', ['mx', 'hi'], T),
    node('sig', 'Sigmoid', ['mn'], T),
    node('th', 'Tanh', ['mn'], T),
    node('sq', 'Sqrt', ['sig'], T),
    node('rs', 'Rsqrt', ['sig'], T),
    node('sqr', 'Square', ['th'], T),
    node('sd', 'SquaredDifference', ['sq', 'rs'], T),
    node('ex', 'Exp', ['th'], T),
    node('lg', 'Log', ['sig'], T),
    node('ng', 'Neg', ['lg'], T),
    node('abs', 'Abs', ['sb'], T),
    node('thm', 'Sub', ['th', 'shift'], T),
    node('elu', 'Elu', ['thm'], T),
    node('x8', 'Mul', ['x', 'eight'], T),
    node('r6', 'Relu6', ['x8'], T),
    node('lr', 'LeakyRelu', ['thm'], { ...T, alpha: f(0.2) }),
    node('rl', 'Relu', ['thm'], T),
    node('sn', 'AddN', ['sd', 'ex', 'ng', 'elu', 'r6', 'sqr', 'abs', 'lr', 'rl'], { ...T, N: i(9) }),
    node('sg', 'StopGradient', ['sn', '^noop'], T),
    node('snap', 'Snapshot', ['sg'], T),
    // int32 arithmetic: floor division and modulo, then back to float.
    node('x10', 'Mul', ['x', 'ten'], T),
    node('xm', 'Add', ['x10', 'neg3'], T),
    node('xi', 'Cast', ['xm'], { SrcT: type('DT_FLOAT'), DstT: type('DT_INT32'), Truncate: b(false) }),
    node('fdi', 'FloorDiv', ['xi', 'three'], { T: type('DT_INT32') }),
    node('fmi', 'FloorMod', ['xi', 'three'], { T: type('DT_INT32') }),
    node('sumi', 'AddV2', ['fdi', 'fmi'], { T: type('DT_INT32') }),
    node('xf', 'Cast', ['sumi'], { SrcT: type('DT_INT32'), DstT: type('DT_FLOAT'), Truncate: b(false) }),
    node('fdf', 'FloorDiv', ['xm', 'eight'], T),
    node('fmf', 'FloorMod', ['xm', 'neg3'], T),
    node('ints', 'AddN', ['xf', 'fdf', 'fmf', 'snap'], { ...T, N: i(4) }),
    // Shape ops: a reshape to [batch, 24] whose shape is computed from the input's.
    node('shp', 'Shape', ['x'], { T: type('DT_FLOAT'), out_type: type('DT_INT32') }),
    node('batch', 'StridedSlice', ['shp', 'b0', 'b1', 's1'], { T: type('DT_INT32'), Index: type('DT_INT32'), begin_mask: i(0), end_mask: i(0), shrink_axis_mask: i(1), ellipsis_mask: i(0), new_axis_mask: i(0) }),
    node('newshape', 'Pack', ['batch', 'c24'], { T: type('DT_INT32'), N: i(2), axis: i(0) }),
    node('flat', 'Reshape', ['ints', 'newshape'], { ...T, Tshape: type('DT_INT32') }),
    node('flat2', 'Reshape', ['sn', 'shape24'], { ...T, Tshape: type('DT_INT32') }),
    node('ed', 'ExpandDims', ['flat2', 'dim1'], { ...T, Tdim: type('DT_INT32') }),
    node('sqz', 'Squeeze', ['ed'], { ...T, squeeze_dims: ints([1]) }),
    node('both', 'AddV2', ['flat', 'sqz'], T),
    node('tr', 'Transpose', ['ints', 'perm021'], { ...T, Tperm: type('DT_INT32') }),
    node('ss', 'StridedSlice', ['tr', 'ss_b', 'ss_e', 'ss_s'], { ...T, Index: type('DT_INT32'), begin_mask: i(1), end_mask: i(1), shrink_axis_mask: i(0), ellipsis_mask: i(0), new_axis_mask: i(0) }),
    node('shr', 'StridedSlice', ['tr', 'sh_b', 'sh_e', 'sh_s'], { ...T, Index: type('DT_INT32'), begin_mask: i(5), end_mask: i(5), shrink_axis_mask: i(2), ellipsis_mask: i(0), new_axis_mask: i(0) }),
    node('sum', 'Sum', ['ss', 'axes2'], { ...T, keep_dims: b(true), Tidx: type('DT_INT32') }),
    node('max', 'Max', ['ss', 'axis1'], { ...T, keep_dims: b(false), Tidx: type('DT_INT32') }),
    node('min', 'Min', ['shr', 'axis1'], { ...T, keep_dims: b(false), Tidx: type('DT_INT32') }),
    node('prod', 'Prod', ['ss', 'axis2'], { ...T, keep_dims: b(false), Tidx: type('DT_INT32') }),
    node('gat', 'GatherV2', ['ints', 'idx', 'axis2'], { Tparams: type('DT_FLOAT'), Tindices: type('DT_INT32'), Taxis: type('DT_INT32'), batch_dims: i(0) }),
    node('pv', 'PadV2', ['gat', 'pads3', 'padval'], { ...T, Tpaddings: type('DT_INT32') }),
    node('am', 'ArgMax', ['ints', 'axis2'], { ...T, Tidx: type('DT_INT32'), output_type: type('DT_INT32') }),
    // Comparisons, selection, Slice, Unpack, TopKV2.
    node('eq', 'Equal', ['fdi', 'fmi'], { T: type('DT_INT32') }),
    node('gt', 'Greater', ['xm', 'half'], T),
    node('lt', 'Less', ['th', 'shift'], T),
    node('sel1', 'SelectV2', ['eq', 'xf', 'fdf'], T),
    node('sel2', 'SelectV2', ['gt', 'sel1', 'snap'], T),
    node('sel3', 'SelectV2', ['lt', 'sel2', 'fmf'], T),
    node('rec', 'Reciprocal', ['sig'], T),
    node('selrec', 'AddV2', ['sel3', 'rec'], T),
    node('slc', 'Slice', ['selrec', 'sl_begin', 'sl_size'], { ...T, Index: type('DT_INT32') }),
    node('unp', 'Unpack', ['tr'], { ...T, axis: i(1), num: i(6) }),
    node('unps', 'AddN', ['unp', 'unp:3', 'unp:5'], { ...T, N: i(3) }),
    node('topk', 'TopKV2', ['selrec', 'k2'], { ...T, sorted: b(true) }),
    node('out_slice', 'Identity', ['slc'], T),
    node('out_unpack', 'Identity', ['unps'], T),
    node('out_flat', 'Identity', ['both'], T),
    node('out_sum', 'Identity', ['sum'], T),
    node('out_max', 'Identity', ['max'], T),
    node('out_min', 'Identity', ['min'], T),
    node('out_prod', 'Identity', ['prod'], T),
    node('out_pad', 'Identity', ['pv'], T),
    node('out_arg', 'Identity', ['am'], { T: type('DT_INT32') }),
  ];
  return { nodes, consts };
}

/** Runs the converted model on onnxruntime with the check's first-run feed for a seed (float inputs, uniform [0, 1)). */
async function runOnnx(conversion: GraphConversion, seed: number): Promise<Record<string, number[]>> {
  const session = await OrtSession.create(encodeModel(conversion.model), {}, 'test model');
  try {
    const feeds = Object.fromEntries(
      conversion.inputs.map((input, k) => {
        const random = seededRandom(seed + 7919 * k);
        const dims = input.shape.map((d) => (d < 0 ? 4 : d));
        return [input.name, { type: 'float32' as const, dims, data: Float32Array.from({ length: dims.reduce((a, c) => a * c, 1) }, () => random()) }];
      }),
    );
    const result = await session.run(feeds);
    return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, Array.from(v.data as ArrayLike<number | bigint>, Number)]));
  } finally {
    await session.release();
  }
}

const sig = (names: string[]) => ({ inputs: {}, outputs: Object.fromEntries(names.map((n) => [n, { name: n.includes(':') ? n : `${n}:0`, dtype: 'DT_FLOAT' }])) });

describe('TF.js graph models → ONNX, checked against TF.js', () => {
  const built: Record<string, { nodes: GraphNode[]; consts: ConstDef[] }> = {};

  it('a CNN with every conv, pool, pad and resize op and float32/uint8/uint16/float16 weights matches TF.js', async () => {
    built.cnn = cnnModel();
    const file = writeGraphModel(path.join(root, 'cnn'), built.cnn.nodes, built.cnn.consts);
    expect(detectFormat(file)).toBe('tfjs-graph');
    expect(detectFormat(path.dirname(file))).toBe('tfjs-graph');
    const imported = await importModel(path.dirname(file));
    const check = imported.source.check!;
    expect(imported.source.format).toBe('tfjs-graph');
    expect(check.passed).toBe(true);
    expect(check.input_sensitive).toBe(true);
    expect(check.samples).toBe(4);
    expect(check.max_abs_diff).toBeLessThan(1e-4);
    expect(check.runtime).toMatch(/tfjs .*\((wasm|cpu|tensorflow)\)/);
    // The graph keeps TF.js' names and NHWC layouts at its boundary.
    const g = imported.model.graph as onnx.GraphProto;
    expect(g.input.map((v) => v.name)).toEqual(['x']);
    expect(g.output.map((v) => v.name)).toEqual(['Identity', 'Identity_1']);
    expect(g.output[1]!.type!.tensorType!.shape!.dim!.map((d) => d.dimValue ?? d.dimParam)).toEqual(['N', 9, 9, 12]);
    // Channels first inside: one Transpose in and one out, none between the convolutions.
    expect(g.node.filter((n) => n.opType === 'Transpose').length).toBeLessThanOrEqual(2);
    expect(g.node.filter((n) => n.opType === 'Conv').length).toBe(5);
  });

  it('dequantizes uint8/uint16/float16 weights exactly as the manifest says (value = q · scale + min)', () => {
    const file = path.join(root, 'cnn', 'model.json');
    const artifacts = readTfjsArtifacts(file);
    const conversion = convertTfjsGraph(artifacts);
    const biasSpec = artifacts.specs.find((x) => x.name === 'b1')!;
    expect(biasSpec.quantization?.dtype).toBe('uint8');
    const graph = conversion.model.graph as onnx.GraphProto;
    const add = graph.node.find((n) => n.opType === 'Add' && (n.name ?? '').startsWith('c1b/'))!;
    const bias = graph.initializer.find((t) => (add.input ?? []).includes(t.name ?? ''))!;
    const q = artifacts.weightData.subarray(artifacts.specs.slice(0, artifacts.specs.indexOf(biasSpec)).reduce((n, sp) => n + sp.shape.reduce((a, c) => a * c, 1) * (sp.quantization?.dtype === 'uint8' ? 1 : sp.quantization ? 2 : 4), 0)).subarray(0, 4);
    expect(dimsOf(bias)).toEqual([1, 4, 1, 1]);
    expect(Array.from(tensorToFloat32(bias))).toEqual(Array.from(q, (v) => Math.fround(v * biasSpec.quantization!.scale! + biasSpec.quantization!.min!)));
  });

  it('element-wise, reduction, int32 and shape ops (dynamic reshape from Shape/StridedSlice/Pack) match TF.js', async () => {
    built.tensor = tensorOpsModel();
    const outs = ['out_flat', 'out_sum', 'out_max', 'out_min', 'out_prod', 'out_pad', 'out_arg', 'out_slice', 'out_unpack', 'topk', 'topk:1'];
    const file = writeGraphModel(path.join(root, 'tensor'), built.tensor.nodes, built.tensor.consts, { signature: sig(outs) });
    const imported = await importModel(file);
    const check = imported.source.check!;
    expect(check.passed).toBe(true);
    expect(check.input_sensitive).toBe(true);
    expect(check.max_abs_diff).toBeLessThan(1e-4);
    const g = imported.model.graph as onnx.GraphProto;
    expect(g.output.map((o) => o.name)).toEqual(outs);
    expect(g.output.find((o) => o.name === 'out_arg')!.type!.tensorType!.elemType).toBe(6); // int32, as TF.js gives
  });

  it('an int32 input (indices into a uint8 table) and a fixed batch of 1 match TF.js', async () => {
    built.ids = {
      consts: [w('table', [10, 4], 'uint8'), intConst('axis0', [], [0]), intConst('axes1', [1], [1]), w('fb_scale', [4]), w('fb_offset', [4]), w('fb_mean', [4]), w('fb_var', [4], undefined, 0.5, 1)],
      nodes: [
        placeholder('ids', [1, 5], 'DT_INT32'),
        node('emb', 'GatherV2', ['table', 'ids', 'axis0'], { Tparams: type('DT_FLOAT'), Tindices: type('DT_INT32'), Taxis: type('DT_INT32'), batch_dims: i(0) }),
        node('avg', 'Mean', ['emb', 'axes1'], { ...T, keep_dims: b(true), Tidx: type('DT_INT32') }),
        node('img', 'Reshape', ['avg', 'img_shape'], { ...T, Tshape: type('DT_INT32') }),
        node('bn', 'FusedBatchNorm', ['img', 'fb_scale', 'fb_offset', 'fb_mean', 'fb_var'], { ...T, ...NHWC, epsilon: f(0.0001), is_training: b(false) }),
        node('bn2', 'FusedBatchNormV2', ['bn', 'fb_scale', 'fb_offset', 'fb_mean', 'fb_var'], { ...T, ...NHWC, U: type('DT_FLOAT'), epsilon: f(0.001), is_training: b(false) }),
        node('act', 'Tanh', ['bn2'], T),
        node('Identity', 'Identity', ['act'], T),
      ],
    };
    built.ids.consts.push(intConst('img_shape', [4], [1, 1, 1, 4]));
    const file = writeGraphModel(path.join(root, 'ids'), built.ids.nodes, built.ids.consts);
    const imported = await importModel(file);
    const check = imported.source.check!;
    expect(check.passed).toBe(true);
    expect(check.samples).toBe(2); // two runs of the fixed batch of 1
    expect(check.input_sensitive).toBe(true);
    expect(check.max_abs_diff).toBeLessThan(1e-5);
    expect(imported.source.inputs).toEqual([{ name: 'ids', shape: [5], onnxDims: [5], elemType: 'int32' }]);
    expect((imported.model.graph as onnx.GraphProto).input[0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimValue)).toEqual([1, 5]);
  });

  it('a fused MatMul with transpose_b and a bias (wrong in TF.js wasm) is checked on TF.js cpu and matches', async () => {
    const nodes = [
      placeholder('x', [-1, 12]),
      node('fm', '_FusedMatMul', ['x', 'wt', 'bias'], { ...T, transpose_a: b(false), transpose_b: b(true), fused_ops: strs(['BiasAdd', 'Relu']), num_args: i(1), epsilon: f(0) }),
      node('Identity', 'Identity', ['fm'], T),
    ];
    const file = writeGraphModel(path.join(root, 'fused-tb'), nodes, [w('wt', [5, 12]), w('bias', [5])]);
    const imported = await importModel(file);
    expect(imported.source.check!.passed).toBe(true);
    expect(imported.source.check!.input_sensitive).toBe(true);
    expect(imported.source.check!.max_abs_diff).toBeLessThan(1e-5);
    const rt = await loadTfjs();
    if (rt.backend === 'wasm') expect(imported.source.check!.runtime).toMatch(/\(cpu\)$/);
    expect(rt.tf.getBackend()).toBe(rt.backend); // switched back
  });

  it('GatherNd with computed and constant indices (keypoint decoding) matches TF.js', async () => {
    built.gatherNd = {
      consts: [intConst('dim2', [], [2]), intConst('rows', [4], [0, 1, 2, 3]), intConst('shape46', [2], [4, 6]), intConst('shape4', [1], [4]), intConst('idx3', [2, 1, 3], [0, 3, 5, 0, 1, 2]), intConst('idx2', [3, 2], [0, 2, 0, 0, 0, 3])],
      nodes: [
        placeholder('x', [1, 4, 6]),
        node('am', 'ArgMax', ['x', 'dim2'], { ...T, Tidx: type('DT_INT32'), output_type: type('DT_INT32') }),
        node('cols', 'Reshape', ['am', 'shape4'], { T: type('DT_INT32'), Tshape: type('DT_INT32') }),
        node('rc', 'Pack', ['rows', 'cols'], { T: type('DT_INT32'), N: i(2), axis: i(1) }),
        node('x46', 'Reshape', ['x', 'shape46'], { ...T, Tshape: type('DT_INT32') }),
        // The row maxima, read back through the argmax: indices computed in the graph.
        node('rowmax', 'GatherNd', ['x46', 'rc'], { Tparams: type('DT_FLOAT'), Tindices: type('DT_INT32') }),
        // Constant indices of rank 3 addressing every axis (scalars out) and two of three (rows out).
        node('picked', 'GatherNd', ['x', 'idx3'], { Tparams: type('DT_FLOAT'), Tindices: type('DT_INT32') }),
        node('slices', 'GatherNd', ['x', 'idx2'], { Tparams: type('DT_FLOAT'), Tindices: type('DT_INT32') }),
        node('out_rowmax', 'Identity', ['rowmax'], T),
        node('out_picked', 'Identity', ['picked'], T),
        node('out_slices', 'Identity', ['slices'], T),
      ],
    };
    const outs = ['out_rowmax', 'out_picked', 'out_slices'];
    const file = writeGraphModel(path.join(root, 'gathernd'), built.gatherNd.nodes, built.gatherNd.consts, { signature: sig(outs) });
    const imported = await importModel(file);
    const check = imported.source.check!;
    expect(check.passed).toBe(true);
    expect(check.input_sensitive).toBe(true);
    expect(check.max_abs_diff).toBe(0);
    const g = imported.model.graph as onnx.GraphProto;
    const dims = (name: string) => g.output.find((o) => o.name === name)!.type!.tensorType!.shape!.dim!.map((d) => d.dimValue);
    expect(dims('out_rowmax')).toEqual([4]);
    expect(dims('out_picked')).toEqual([2, 1]);
    expect(dims('out_slices')).toEqual([3, 6]);
  });

  it('SSD-style post-processing (NonMaxSuppression V3/V4/V5, Where, Select, Fill, Range, Split) matches TF.js', async () => {
    const I = { T: type('DT_INT32') };
    const bool = { T: type('DT_BOOL') };
    const toFloat = (name: string, from: string, src: 'DT_INT32' | 'DT_BOOL') => node(name, 'Cast', [from], { SrcT: type(src), DstT: type('DT_FLOAT'), Truncate: b(false) });
    const nms = (name: string, op: string, max: string, pad?: boolean) =>
      node(name, op, ['boxes', 'scores', max, 'iou', 'score_min', ...(op === 'NonMaxSuppressionV5' ? ['sigma'] : [])], { ...T, ...(pad === undefined ? {} : { pad_to_max_output_size: b(pad) }) });
    built.detect = {
      consts: [
        intConst('b0', [3], [0, 0, 0]), intConst('e4', [3], [0, 0, 4]), intConst('e5', [3], [0, 0, 5]), intConst('s1', [3], [1, 1, 1]), intConst('b4', [3], [0, 0, 4]),
        intConst('shape84', [2], [12, 4]), intConst('shape8', [1], [12]), intConst('shape81', [2], [12, 1]), intConst('max5', [], [5]), intConst('max20', [], [20]),
        constant('iou', [], [0.3]), constant('score_min', [], [0.35]), constant('sigma', [], [0]), constant('half', [], [0.5]), constant('quarter', [], [0.25]), constant('one', [], [1]),
        intConst('zero_i', [], [0]), intConst('one_i', [], [1]), intConst('axis1', [], [1]), intConst('dims84', [2], [12, 4]), intConst('sizes', [2], [1, -1]), intConst('ten', [], [10]), intConst('three', [], [3]),
      ],
      nodes: [
        placeholder('x', [1, 12, 5]),
        node('xb', 'StridedSlice', ['x', 'b0', 'e4', 's1'], { ...T, Index: type('DT_INT32'), begin_mask: i(3), end_mask: i(3), shrink_axis_mask: i(0), ellipsis_mask: i(0), new_axis_mask: i(0) }),
        node('boxes', 'Reshape', ['xb', 'shape84'], { ...T, Tshape: type('DT_INT32') }),
        node('xs', 'StridedSlice', ['x', 'b4', 'e5', 's1'], { ...T, Index: type('DT_INT32'), begin_mask: i(3), end_mask: i(3), shrink_axis_mask: i(0), ellipsis_mask: i(0), new_axis_mask: i(0) }),
        node('scores', 'Reshape', ['xs', 'shape8'], { ...T, Tshape: type('DT_INT32') }),
        nms('nms5', 'NonMaxSuppressionV5', 'max5', false),
        nms('nms5u', 'NonMaxSuppressionV5', 'max20', false),
        nms('nms4', 'NonMaxSuppressionV4', 'max5', true),
        nms('nms3', 'NonMaxSuppressionV3', 'max5'),
        // Range up to a computed count, Fill of a computed shape, Select of rows by a rank-1 condition.
        node('rng', 'Range', ['zero_i', 'nms4:1', 'one_i'], { Tidx: type('DT_INT32') }),
        node('rng_c', 'Range', ['zero_i', 'ten', 'three'], { Tidx: type('DT_INT32') }),
        node('keep', 'Greater', ['scores', 'half'], T),
        node('low', 'LessEqual', ['scores', 'quarter'], T),
        node('mid', 'GreaterEqual', ['scores', 'quarter'], T),
        node('both', 'LogicalAnd', ['keep', 'mid'], bool),
        node('either', 'LogicalOr', ['both', 'low'], bool),
        node('neither', 'LogicalNot', ['either'], bool),
        node('where', 'Where', ['either'], bool),
        node('bshape', 'Shape', ['boxes'], { T: type('DT_FLOAT'), out_type: type('DT_INT32') }),
        node('ones', 'Fill', ['bshape', 'one'], { index_type: type('DT_INT32'), T: type('DT_FLOAT') }),
        node('halves', 'Fill', ['dims84', 'half'], { index_type: type('DT_INT32'), T: type('DT_FLOAT') }),
        node('keep4', 'BroadcastTo', ['keepcol', 'dims84'], { T: type('DT_BOOL'), Tidx: type('DT_INT32') }),
        node('keepcol', 'Reshape', ['keep', 'shape81'], { T: type('DT_BOOL'), Tshape: type('DT_INT32') }),
        node('rows', 'Select', ['keep4', 'boxes', 'ones'], T),
        node('rows2', 'SelectV2', ['neither4', 'rows', 'halves'], T),
        node('neither4', 'Reshape', ['neither', 'shape81'], { T: type('DT_BOOL'), Tshape: type('DT_INT32') }),
        node('col', 'Reshape', ['scores', 'shape81'], { ...T, Tshape: type('DT_INT32') }),
        node('wide', 'BroadcastTo', ['col', 'dims84'], { ...T, Tidx: type('DT_INT32') }),
        node('parts', 'Split', ['axis1', 'rows2'], { ...T, num_split: i(4) }),
        node('partsv', 'SplitV', ['wide', 'sizes', 'axis1'], { ...T, Tlen: type('DT_INT32'), num_split: i(2) }),
        node('area', 'Mul', ['parts:2', 'parts:3'], T),
        node('mix', 'AddV2', ['area', 'partsv'], T),
        node('mix2', 'ConcatV2', ['mix', 'partsv:1', 'axis1'], { ...T, N: i(2) }),
        toFloat('where_f', 'where', 'DT_INT32'),
        node('out_idx5', 'Identity', ['nms5'], I),
        node('out_sc5', 'Identity', ['nms5:1'], T),
                node('out_idx5u', 'Identity', ['nms5u'], I),
        node('out_sc5u', 'Identity', ['nms5u:1'], T),
        node('out_idx4', 'Identity', ['nms4'], I),
        node('out_valid4', 'Identity', ['nms4:1'], I),
        node('out_idx3', 'Identity', ['nms3'], I),
        node('out_range', 'Identity', ['rng'], I),
        node('out_range_c', 'Identity', ['rng_c'], I),
        node('out_where', 'Identity', ['where_f'], T),
        node('out_mix', 'Identity', ['mix2'], T),
      ],
    };
    const outs = ['out_idx5', 'out_sc5', 'out_idx5u', 'out_sc5u', 'out_idx4', 'out_valid4', 'out_idx3', 'out_range', 'out_range_c', 'out_where', 'out_mix'];
    const file = writeGraphModel(path.join(root, 'detect'), built.detect.nodes, built.detect.consts, { signature: sig(outs) });
    const artifacts = readTfjsArtifacts(file);
    const conversion = convertTfjsGraph(artifacts);
    const rt = await loadTfjs();
    const model = await loadGraphModel(rt.tf, artifacts);
    try {
      // Several seeds: the number of boxes kept changes with the data, and each count must agree.
      const counts = new Set<number>();
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const check = await checkGraphConversion(rt.tf, model, conversion, { seed });
        expect(check.passed, `seed ${seed}: ${check.worst_output} differs by ${check.max_abs_diff}`).toBe(true);
        expect(check.max_abs_diff).toBeLessThan(1e-6);
        const onnxOut = await runOnnx(conversion, seed);
        counts.add(onnxOut.out_idx5u!.length);
        expect(onnxOut.out_idx4!.length).toBe(5); // padded to max_output_size
        expect(onnxOut.out_range!.length).toBe(Number(onnxOut.out_valid4![0]));
        expect(onnxOut.out_idx5!.length).toBe(Number(onnxOut.out_valid4![0]));
      }
      expect(counts.size).toBeGreaterThan(1);
    } finally {
      model.dispose();
    }
    const imported = await importModel(file);
    expect(imported.source.check!.input_sensitive).toBe(true);
  });

  it('Soft-NMS (soft_nms_sigma > 0) stops naming the node', () => {
    const nodes = [
      placeholder('boxes', [-1, 4]),
      node('scores', 'Sum', ['boxes', 'axis1'], { ...T, keep_dims: b(false), Tidx: type('DT_INT32') }),
      node('nms', 'NonMaxSuppressionV5', ['boxes', 'scores', 'max5', 'iou', 'iou', 'sigma'], { ...T, pad_to_max_output_size: b(false) }),
      node('Identity', 'Identity', ['nms:1'], T),
    ];
    const file = writeGraphModel(path.join(root, 'softnms'), nodes, [intConst('axis1', [], [1]), intConst('max5', [], [5]), constant('iou', [], [0.5]), constant('sigma', [], [0.5])]);
    expect(() => convertTfjsGraph(readTfjsArtifacts(file))).toThrow(/node 'nms' \(NonMaxSuppressionV5\): soft_nms_sigma 0.5: Soft-NMS is not supported/);
  });

  it('a TF1 while loop over TensorLists (tf.map_fn over a fixed batch) is unrolled and matches TF.js', async () => {
    const frame = { frame_name: s('map/while'), is_constant: b(false), parallel_iterations: i(10) };
    const F = { element_dtype: type('DT_FLOAT') };
    const I = { T: type('DT_INT32') };
    const slice = (name: string, x: string, bb: string, e: string, st: string, masks: Record<string, number>) =>
      node(name, 'StridedSlice', [x, bb, e, st], { ...T, Index: type('DT_INT32'), begin_mask: i(masks.begin ?? 0), end_mask: i(masks.end ?? 0), shrink_axis_mask: i(masks.shrink ?? 0), ellipsis_mask: i(masks.ellipsis ?? 0), new_axis_mask: i(masks.newAxis ?? 0) });
    built.loop = {
      consts: [
        intConst('zero', [], [0]), intConst('n', [], [3]), intConst('one', [], [1]), intConst('elem_shape', [2], [3, 4]), intConst('num', [], [3]),
        constant('two', [], [2]), constant('onef', [], [1]), intConst('z1', [1], [0]), intConst('o1', [1], [1]), intConst('b2', [2], [0, 1]), intConst('e2', [2], [0, 3]), intConst('s2', [2], [1, 1]),
      ],
      nodes: [
        placeholder('x', [3, 3, 4]),
        node('list_in', 'TensorListFromTensor', ['x', 'elem_shape'], { ...F, shape_type: type('DT_INT32') }),
        node('list_out', 'TensorListReserve', ['elem_shape', 'num'], { ...F, shape_type: type('DT_INT32') }),
        node('enter_i', 'Enter', ['zero'], { ...I, ...frame }),
        node('enter_n', 'Enter', ['n'], { ...I, ...frame, is_constant: b(true) }),
        node('enter_in', 'Enter', ['list_in'], { T: type('DT_VARIANT' as 'DT_FLOAT'), ...frame }),
        node('enter_out', 'Enter', ['list_out'], { T: type('DT_VARIANT' as 'DT_FLOAT'), ...frame }),
        node('merge_i', 'Merge', ['enter_i', 'next_i'], { ...I, N: i(2) }),
        node('merge_in', 'Merge', ['enter_in', 'next_in'], { N: i(2) }),
        node('merge_out', 'Merge', ['enter_out', 'next_out'], { N: i(2) }),
        node('less', 'Less', ['merge_i', 'enter_n'], I),
        node('cond', 'LoopCond', ['less']),
        node('sw_i', 'Switch', ['merge_i', 'cond'], I),
        node('sw_in', 'Switch', ['merge_in', 'cond']),
        node('sw_out', 'Switch', ['merge_out', 'cond']),
        node('exit_out', 'Exit', ['sw_out']),
        node('exit_i', 'Exit', ['sw_i'], I),
        node('idx', 'Identity', ['sw_i:1'], I),
        node('item', 'TensorListGetItem', ['sw_in:1', 'idx', 'elem_shape'], F),
        node('twice', 'Mul', ['item', 'two'], T),
        node('plus', 'AddV2', ['twice', 'onef'], T),
        slice('lifted', 'plus', 'z1', 'z1', 'o1', { newAxis: 1 }),
        slice('dropped', 'lifted', 'z1', 'o1', 'o1', { shrink: 1 }),
        node('set', 'TensorListSetItem', ['sw_out:1', 'idx', 'dropped'], F),
        node('inc', 'AddV2', ['idx', 'one'], I),
        node('next_i', 'NextIteration', ['inc'], I),
        node('next_in', 'NextIteration', ['sw_in:1']),
        node('next_out', 'NextIteration', ['set']),
        node('stacked', 'TensorListStack', ['exit_out', 'elem_shape'], { ...F, num_elements: i(3) }),
        slice('middle', 'stacked', 'b2', 'e2', 's2', { ellipsis: 1 }),
        node('out', 'Identity', ['middle'], T),
      ],
    };
    const file = writeGraphModel(path.join(root, 'loop'), built.loop.nodes, built.loop.consts, { signature: sig(['out']) });
    const imported = await importModel(file);
    const check = imported.source.check!;
    expect(check.passed).toBe(true);
    expect(check.input_sensitive).toBe(true);
    expect(check.max_abs_diff).toBeLessThan(1e-6);
    const g = imported.model.graph as onnx.GraphProto;
    expect(g.output[0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimValue)).toEqual([3, 3, 2]);
    // Three iterations unrolled: one Mul per item, no loop left.
    expect(g.node.filter((n) => n.opType === 'Mul').length).toBe(3);
    expect(g.node.some((n) => n.opType === 'Loop')).toBe(false);
  });

  it('a loop whose trip count depends on the data stops naming the loop', () => {
    const frame = { frame_name: s('w'), is_constant: b(false), parallel_iterations: i(10) };
    const I = { T: type('DT_INT32') };
    const nodes = [
      placeholder('x', [-1], 'DT_INT32'),
      node('limit', 'Sum', ['x', 'axis0'], { ...I, keep_dims: b(false), Tidx: type('DT_INT32') }),
      node('enter_i', 'Enter', ['zero'], { ...I, ...frame }),
      node('enter_l', 'Enter', ['limit'], { ...I, ...frame, is_constant: b(true) }),
      node('merge_i', 'Merge', ['enter_i', 'next_i'], { ...I, N: i(2) }),
      node('less', 'Less', ['merge_i', 'enter_l'], I),
      node('cond', 'LoopCond', ['less']),
      node('sw_i', 'Switch', ['merge_i', 'cond'], I),
      node('inc', 'AddV2', ['sw_i:1', 'one'], I),
      node('next_i', 'NextIteration', ['inc'], I),
      node('exit_i', 'Exit', ['sw_i'], I),
      node('Identity', 'Identity', ['exit_i'], I),
    ];
    const file = writeGraphModel(path.join(root, 'dataloop'), nodes, [intConst('zero', [], [0]), intConst('one', [], [1]), intConst('axis0', [], [0])]);
    expect(() => convertTfjsGraph(readTfjsArtifacts(file))).toThrow(/while loop 'w': its condition depends on the input data \(node 'cond'\)/);
  });

  it('TopKV2, Slice and Pad with sizes computed in the graph match TF.js', async () => {
    const I = { T: type('DT_INT32') };
    built.computed = {
      consts: [intConst('b1', [1], [1]), intConst('e2', [1], [2]), intConst('s1', [1], [1]), intConst('three', [], [3]), intConst('zero', [], [0]), intConst('size', [2], [-1, 5]), intConst('shape22', [2], [2, 2])],
      nodes: [
        placeholder('x', [-1, 10]),
        node('shp', 'Shape', ['x'], { T: type('DT_FLOAT'), out_type: type('DT_INT32') }),
        node('len', 'StridedSlice', ['shp', 'b1', 'e2', 's1'], { ...I, Index: type('DT_INT32'), begin_mask: i(0), end_mask: i(0), shrink_axis_mask: i(1), ellipsis_mask: i(0), new_axis_mask: i(0) }),
        node('k', 'FloorDiv', ['len', 'three'], I),
        node('top', 'TopKV2', ['x', 'k'], { ...T, sorted: b(true) }),
        node('begin', 'Pack', ['zero', 'k'], { ...I, N: i(2), axis: i(0) }),
        node('tail', 'Slice', ['x', 'begin', 'size'], { ...T, Index: type('DT_INT32') }),
        node('pads4', 'Pack', ['zero', 'zero', 'zero', 'k'], { ...I, N: i(4), axis: i(0) }),
        node('pads', 'Reshape', ['pads4', 'shape22'], { ...I, Tshape: type('DT_INT32') }),
        node('padded', 'Pad', ['tail', 'pads'], { ...T, Tpaddings: type('DT_INT32') }),
        node('out_top', 'Identity', ['top'], T),
        node('out_padded', 'Identity', ['padded'], T),
      ],
    };
    const file = writeGraphModel(path.join(root, 'computed'), built.computed.nodes, built.computed.consts, { signature: sig(['out_top', 'top:1', 'out_padded']) });
    const imported = await importModel(file);
    const check = imported.source.check!;
    expect(check.passed).toBe(true);
    expect(check.input_sensitive).toBe(true);
    expect(check.max_abs_diff).toBeLessThan(1e-6);
  });

  it('a float → bool Cast (wrong in TF.js wasm: it truncates first) is checked on TF.js cpu and matches', async () => {
    const nodes = [
      placeholder('x', [-1, 6]),
      node('nonzero', 'Cast', ['x'], { SrcT: type('DT_FLOAT'), DstT: type('DT_BOOL'), Truncate: b(false) }),
      node('Identity', 'SelectV2', ['nonzero', 'x', 'minus'], T),
    ];
    // Inputs in [0, 1), shifted so some are exactly 0: 0.5 must count as true, 0 as false.
    const file = writeGraphModel(path.join(root, 'cast-bool'), [placeholder('u', [-1, 6]), node('x', 'Relu', ['shifted'], T), node('shifted', 'Sub', ['u', 'quarter'], T), ...nodes.slice(1)], [constant('minus', [], [-1]), constant('quarter', [], [0.25])]);
    const imported = await importModel(file);
    const check = imported.source.check!;
    expect(check.passed).toBe(true);
    expect(check.input_sensitive).toBe(true);
    const rt = await loadTfjs();
    if (rt.backend === 'wasm') expect(check.runtime).toMatch(/\(cpu\)$/);
    expect(rt.tf.getBackend()).toBe(rt.backend);
  });

  it('a dilated convolution as TF writes it (SpaceToBatchND, Conv2D, BatchToSpaceND) matches TF.js', async () => {
    built.dilated = {
      consts: [w('k', [3, 3, 3, 4]), intConst('block', [2], [2, 2]), intConst('pads', [2, 2], [2, 3, 2, 1]), intConst('crops', [2, 2], [0, 1, 1, 0])],
      nodes: [
        placeholder('x', [-1, 9, 11, 3]),
        node('s2b', 'SpaceToBatchND', ['x', 'block', 'pads'], { ...T, Tblock_shape: type('DT_INT32'), Tpaddings: type('DT_INT32') }),
        node('conv', 'Conv2D', ['s2b', 'k'], conv([1, 1, 1, 1], 'VALID')),
        node('b2s', 'BatchToSpaceND', ['conv', 'block', 'crops'], { ...T, Tblock_shape: type('DT_INT32'), Tcrops: type('DT_INT32') }),
        node('Identity', 'Relu', ['b2s'], T),
      ],
    };
    const file = writeGraphModel(path.join(root, 'dilated'), built.dilated.nodes, built.dilated.consts);
    const imported = await importModel(file);
    const check = imported.source.check!;
    expect(check.passed).toBe(true);
    expect(check.input_sensitive).toBe(true);
    expect(check.max_abs_diff).toBeLessThan(1e-5);
    // (9+5)/2 = 7 and (11+3)/2 = 7 blocks, a 3x3 VALID conv leaves 5x5, back to 10x10 less the crops.
    const g = imported.model.graph as onnx.GraphProto;
    expect(g.output[0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimValue ?? d.dimParam)).toEqual(['N', 9, 9, 4]);
  });

  it('an input of unknown rank that is only broadcast (a recurrent state) takes the rank it is broadcast to; another asks for its shape', async () => {
    const unknownRank = (name: string) => node(name, 'Placeholder', [], { dtype: type('DT_FLOAT'), shape: { shape: { unknownRank: true } } });
    const nodes = [
      placeholder('x', [-1, 4, 4, 2]),
      unknownRank('state'),
      node('shp', 'Shape', ['x'], { T: type('DT_FLOAT'), out_type: type('DT_INT32') }),
      node('full', 'BroadcastTo', ['state', 'shp'], { ...T, Tidx: type('DT_INT32') }),
      node('Identity', 'AddV2', ['x', 'full'], T),
    ];
    const file = writeGraphModel(path.join(root, 'state'), nodes, []);
    const imported = await importModel(file);
    expect(imported.source.check!.passed).toBe(true);
    expect(imported.source.check!.input_sensitive).toBe(true);
    const g = imported.model.graph as onnx.GraphProto;
    expect(g.input.map((v) => v.name)).toEqual(['x', 'state']);
    expect(g.input[1]!.type!.tensorType!.shape!.dim!.map((d) => d.dimValue)).toEqual([1, 1, 1, 1]);
    // Used otherwise (here multiplied), the rank is not fixed by the graph: the message names the input.
    const other = writeGraphModel(path.join(root, 'ratio'), [placeholder('x', [-1, 3]), unknownRank('ratio'), node('Identity', 'Mul', ['x', 'ratio'], T)], []);
    expect(() => convertTfjsGraph(readTfjsArtifacts(other))).toThrow(/input 'ratio' has an unknown rank and the graph does not fix it; give its shape \(in modelgate.yml: inputs: \{ ratio: \{ shape/);
  });

  it('a tf.cond on a scalar input (resize by a ratio unless it is 1) becomes one ONNX If whose branches match TF.js on both sides', async () => {
    const unknownRank = (name: string) => node(name, 'Placeholder', [], { dtype: type('DT_FLOAT'), shape: { shape: { unknownRank: true } } });
    const I = { T: type('DT_INT32') };
    const nodes = [
      placeholder('x', [-1, 8, 8, 2]),
      unknownRank('ratio'),
      node('eq', 'Equal', ['ratio', 'onef'], { ...T, incompatible_shape_error: b(false) }),
      node('pred', 'Squeeze', ['eq'], { T: type('DT_BOOL'), squeeze_dims: ints([]) }),
      node('sw_x', 'Switch', ['x', 'pred'], T),
      node('sw_r', 'Switch', ['ratio', 'pred'], T),
      // True: the input as it is, and doubled.
      node('then_x', 'Identity', ['sw_x:1'], T),
      node('then_2', 'Mul', ['sw_x:1', 'twof'], T),
      // False: resized to (H, W) · ratio, and that less one.
      node('shp', 'Shape', ['sw_x'], { T: type('DT_FLOAT'), out_type: type('DT_INT32') }),
      node('hw', 'StridedSlice', ['shp', 'b1', 'e3', 's1'], { ...I, Index: type('DT_INT32'), begin_mask: i(0), end_mask: i(0), shrink_axis_mask: i(0), ellipsis_mask: i(0), new_axis_mask: i(0) }),
      node('hwf', 'Cast', ['hw'], { SrcT: type('DT_INT32'), DstT: type('DT_FLOAT') }),
      node('scaled', 'Mul', ['hwf', 'sw_r'], T),
      node('size', 'Cast', ['scaled'], { SrcT: type('DT_FLOAT'), DstT: type('DT_INT32') }),
      node('resized', 'ResizeBilinear', ['sw_x', 'size'], { ...T, align_corners: b(false), half_pixel_centers: b(true) }),
      node('else_2', 'Sub', ['resized', 'onef'], T),
      node('merge', 'Merge', ['then_x', 'resized'], { ...T, N: i(2) }),
      node('merge_2', 'Merge', ['then_2', 'else_2'], { ...T, N: i(2) }),
      node('Identity', 'Relu', ['merge'], T),
      node('Identity_1', 'Identity', ['merge_2'], T),
    ];
    const consts = [constant('onef', [], [1]), constant('twof', [], [2]), intConst('b1', [1], [1]), intConst('e3', [1], [3]), intConst('s1', [1], [1])];
    const file = writeGraphModel(path.join(root, 'cond'), nodes, consts, { signature: sig(['Identity', 'Identity_1']) });
    const imported = await importModel(file);
    const check = imported.source.check!;
    // Two runs: ratio 1 (the constant it is compared with: the true branch) and 0.5 (the false branch).
    expect(check.passed).toBe(true);
    expect(check.input_sensitive).toBe(true);
    expect(check.samples).toBe(8);
    expect(check.max_abs_diff).toBeLessThan(1e-5);
    const g = imported.model.graph as onnx.GraphProto;
    const ifs = g.node.filter((n) => n.opType === 'If');
    expect(ifs).toHaveLength(1);
    expect(ifs[0]!.output).toHaveLength(2);
    // The same model.json gives the same bytes, branches included.
    const again = () => Buffer.from(encodeModel(convertTfjsGraph(readTfjsArtifacts(file)).model));
    expect(again().equals(again())).toBe(true);
    // The ratio is a scalar: no batch axis.
    expect(g.input.map((v) => [v.name, v.type!.tensorType!.shape!.dim!.length])).toEqual([['x', 4], ['ratio', 0]]);
    // The output shape follows the branch taken at run time.
    const session = await OrtSession.create(encodeModel(imported.model), {}, 'cond model');
    try {
      const x = { type: 'float32' as const, dims: [1, 8, 8, 2], data: randomValues(128, 5) };
      for (const [ratio, side] of [[1, 8], [0.5, 4]] as const) {
        const out = await session.run({ x, ratio: { type: 'float32', dims: [], data: Float32Array.of(ratio) } });
        expect(out.Identity!.dims).toEqual([1, side, side, 2]);
        expect(out.Identity_1!.dims).toEqual([1, side, side, 2]);
      }
    } finally {
      await session.release();
    }
  });

  it('a rank-0 input (a scalar setting) is imported without a batch axis and matches TF.js', async () => {
    const nodes = [placeholder('x', [-1, 3]), placeholder('scale', []), node('Identity', 'Mul', ['x', 'scale'], T)];
    const file = writeGraphModel(path.join(root, 'scalar'), nodes, []);
    const conversion = convertTfjsGraph(readTfjsArtifacts(file));
    expect(conversion.inputs.map((v) => [v.name, v.shape])).toEqual([['x', [-1, 3]], ['scale', []]]);
    const imported = await importModel(file);
    expect(imported.source.check!.passed).toBe(true);
    expect(imported.source.check!.input_sensitive).toBe(true);
    const g = imported.model.graph as onnx.GraphProto;
    expect(g.input[1]!.type!.tensorType!.shape!.dim).toEqual([]);
  });

  it('every registered converter is exercised by a model above', () => {
    const used = new Set(Object.values(built).flatMap((m) => m.nodes.map((n) => n.op)));
    const missing = Object.keys(OP_CONVERTERS).filter((op) => !used.has(op));
    expect(missing).toEqual([]);
  });

  it('the same model.json gives byte-identical ONNX', () => {
    const artifacts = readTfjsArtifacts(path.join(root, 'tensor', 'model.json'));
    const a = encodeModel(convertTfjsGraph(artifacts).model);
    const c = encodeModel(convertTfjsGraph(readTfjsArtifacts(path.join(root, 'tensor', 'model.json'))).model);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(true);
  });

  it('an unsupported op stops with the op, the node and the supported ops', async () => {
    const file = writeGraphModel(path.join(root, 'erf'), [placeholder('x', [-1, 3]), node('gelu/erf', 'Erf', ['x'], T), node('Identity', 'Identity', ['gelu/erf'], T)], []);
    const err = await importModel(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelGateError);
    const message = (err as Error).message;
    expect(message).toContain("node 'gelu/erf' (Erf): op Erf is not supported");
    expect(message).toContain(file);
    expect(message).toMatch(/supported ops: .*Conv2D.*Softmax.*_FusedConv2D/);
    expect(message.split('\n')).toHaveLength(1);
  });

  it('an input with unknown dims asks for its shape in modelgate.yml, and takes it from inputShapes', async () => {
    const nodes = [placeholder('x', [-1, -1, 3]), node('Identity', 'Sigmoid', ['x'], T)];
    const file = writeGraphModel(path.join(root, 'unknown'), nodes, []);
    await expect(importModel(file)).rejects.toThrow(/input 'x' has shape \[\?, \?, 3\].*inputs: \{ x: \{ shape: \[1, …, 3\] \} \}/);
    const imported = await importModel(file, { inputShapes: { x: [7, 3] } });
    expect(imported.source.check!.passed).toBe(true);
    expect(imported.source.inputs![0]!.shape).toEqual([7, 3]);
    // Dims the graph leaves free but the signature fixes are taken from the signature.
    const signature = { inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, { size: '5' }, { size: '3' }] } } }, outputs: { 'Identity:0': { name: 'Identity:0', dtype: 'DT_FLOAT' } } };
    const signed = writeGraphModel(path.join(root, 'unknown-signed'), nodes, [], { signature });
    expect((await importModel(signed)).source.inputs![0]!.shape).toEqual([5, 3]);
  });
});
