import { describe, expect, it } from 'vitest';
import { onnx, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { checkModel, floatAttr, getIntsAttr, intAttr, intsAttr, makeNode, stringAttr, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { cleanupPass } from '../../src/passes/cleanup.js';
import { perChannel } from '../../src/passes/cleanup-fuse.js';
import { quantizePass } from '../../src/passes/quantize.js';
import { compareOutputs, model, opTypes, randn, randomFeeds, rng, runAll, testContext } from './fixtures.js';

const C = 8;

/**
 * What a Keras MobileNet block looks like after a Keras-to-ONNX import: ZeroPadding2D as a Pad, Conv, the
 * inference BatchNormalization as Mul and Add by [C, 1, 1] constants, ReLU(6.) as Relu then Clip, the
 * residual as a two-input Sum.
 */
function kerasBlock(opset = 13): Model {
  const rand = rng(5);
  const initializer = [
    makeTensor('w1', [C, 3, 3, 3], randn(C * 27, 0.4, rand)),
    makeTensor('bn1.scale', [C, 1, 1], Float32Array.from({ length: C }, () => 0.5 + rand())),
    makeTensor('bn1.shift', [C, 1, 1], randn(C, 0.3, rand)),
    makeTensor('w2', [C, 1, 3, 3], randn(C * 9, 0.4, rand)),
    makeTensor('b2', [C], randn(C, 0.1, rand)),
    makeTensor('bn2.scale', [1, C, 1, 1], Float32Array.from({ length: C }, () => 0.5 + rand())),
    makeTensor('bn2.shift', [C, 1, 1], randn(C, 0.3, rand)),
    makeTensor('six', [], Float32Array.of(6)),
    makeTensor('pads', [8], BigInt64Array.of(0n, 0n, 1n, 1n, 0n, 0n, 1n, 1n)),
  ];
  const nodes = [
    makeNode('Pad', ['x', 'pads'], ['padded'], { name: 'pad' }),
    makeNode('Conv', ['padded', 'w1'], ['c1'], { name: 'conv1', attributes: [intsAttr('kernel_shape', [3, 3])] }),
    makeNode('Mul', ['c1', 'bn1.scale'], ['m1'], { name: 'bn1/Mul' }),
    makeNode('Add', ['m1', 'bn1.shift'], ['a1'], { name: 'bn1/Add' }),
    makeNode('Relu', ['a1'], ['r1'], { name: 'relu1' }),
    makeNode('Clip', ['r1', '', 'six'], ['h'], { name: 'relu6' }),
    makeNode('Conv', ['h', 'w2', 'b2'], ['c2'], { name: 'dw', attributes: [intAttr('group', C), intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])] }),
    makeNode('Mul', ['bn2.scale', 'c2'], ['m2'], { name: 'bn2/Mul' }),
    makeNode('Sub', ['m2', 'bn2.shift'], ['a2'], { name: 'bn2/Sub' }),
    makeNode('Sum', ['a2', 'h'], ['y'], { name: 'residual' }),
  ];
  return model({ name: 'keras-block', input: [tensorValueInfo('x', FLOAT, [1, 3, 16, 16])], output: [tensorValueInfo('y', FLOAT, [1, C, 16, 16])], initializer, node: nodes }, opset);
}

describe('cleanup fusions', () => {
  it('folds per-channel Mul/Add/Sub into the Conv, Pad into its pads, Relu into the Clip, a two-input Sum into Add: same outputs, smaller file', async () => {
    const m = kerasBlock();
    const log: string[] = [];
    const c = await cleanupPass.run(m, {}, testContext(() => [], log));
    checkModel(c);
    expect(opTypes(c)).toEqual(['Conv', 'Clip', 'Conv', 'Add']);
    const conv1 = c.graph!.node!.find((n) => n.name === 'conv1')!;
    expect(conv1.input![0]).toBe('x');
    expect(getIntsAttr(conv1, 'pads')).toEqual([1, 1, 1, 1]);
    expect(conv1.input).toHaveLength(3); // the Add became its bias
    expect(c.graph!.node!.find((n) => n.opType === 'Clip')!.input![1]).not.toBe('');
    expect(log[0]).toMatch(/4 per-channel Mul\/Div\/Add\/Sub folded into a Conv, 1 Pad folded into a Conv, 1 Relu merged into the Clip after it, 1 two-input Sum written as Add/);
    const feeds = randomFeeds('x', [1, 3, 16, 16], 6, 2).map((f) => {
      // Around zero, so that the Relu and the Clip's lower bound both matter.
      const t = f.x!;
      return { x: { ...t, data: Float32Array.from(t.data as Float32Array, (v) => v - 0.5) } };
    });
    expect(compareOutputs(await runAll(m, feeds), await runAll(c, feeds)).maxRelDiff).toBeLessThan(1e-5);
    const size = (x: Model) => onnx.ModelProto.encode(x).finish().length;
    expect(size(c)).toBeLessThan(size(m));
    // Turned off, the chains stay.
    const off = await cleanupPass.run(m, { fuse: false }, testContext(() => []));
    expect(opTypes(off)).toEqual(opTypes(m));
  });

  it('leaves a chain alone where folding would change the function or another node reads the weight', async () => {
    const rand = rng(9);
    const m = model({
      name: 'g',
      input: [tensorValueInfo('x', FLOAT, [1, 2, 8, 8])],
      output: [tensorValueInfo('y', FLOAT, [1, C, 8, 8]), tensorValueInfo('z', FLOAT, [1, C, 8, 8]), tensorValueInfo('c3', FLOAT, [1, C, 8, 8])],
      initializer: [
        makeTensor('w', [C, 2, 1, 1], randn(C * 2, 0.5, rand)),
        makeTensor('w3', [C, 2, 1, 1], randn(C * 2, 0.5, rand)),
        makeTensor('spatial', [1, 1, 8], randn(8, 0.5, rand)), // varies along the width: not per channel
        makeTensor('chan', [C, 1, 1], randn(C, 0.5, rand)),
        makeTensor('pads', [8], BigInt64Array.of(0n, 1n, 0n, 0n, 0n, 0n, 0n, 0n)), // pads the channel axis
      ],
      node: [
        makeNode('Conv', ['x', 'w'], ['c1'], { name: 'shared-a' }),
        makeNode('Mul', ['c1', 'chan'], ['m1']),
        makeNode('Conv', ['x', 'w'], ['c2'], { name: 'shared-b' }), // w read twice: not rewritten for one of them
        makeNode('Add', ['m1', 'c2'], ['s']),
        makeNode('Mul', ['s', 'spatial'], ['y']),
        makeNode('Conv', ['x', 'w3'], ['c3'], { name: 'read-twice' }), // c3 is a graph output: its Sub cannot take it over
        makeNode('Sub', ['chan', 'c3'], ['z0']), // c - x is not a bias
        makeNode('Pad', ['z0', 'pads'], ['zp'], { attributes: [stringAttr('mode', 'constant')] }),
        makeNode('Slice', ['zp', 'starts', 'ends', 'axes'], ['z']),
      ],
    });
    m.graph!.initializer!.push(
      makeTensor('starts', [1], BigInt64Array.of(0n)),
      makeTensor('ends', [1], BigInt64Array.of(BigInt(C))),
      makeTensor('axes', [1], BigInt64Array.of(1n)),
    );
    const c = await cleanupPass.run(m, { constant_folding: false }, testContext(() => []));
    expect(opTypes(c)).toEqual(opTypes(m));
    // The same graph with the weight not shared: that Mul does fold (and nothing else does).
    const own = onnx.ModelProto.decode(onnx.ModelProto.encode(m).finish());
    own.graph!.initializer!.push(makeTensor('w.copy', [C, 2, 1, 1], randn(C * 2, 0.5, rng(9))));
    own.graph!.node!.find((n) => n.name === 'shared-b')!.input![1] = 'w.copy';
    const c2 = await cleanupPass.run(own, { constant_folding: false }, testContext(() => []));
    expect(opTypes(c2)).toEqual(opTypes(m).filter((_, i) => i !== 1));
    const feeds = randomFeeds('x', [1, 2, 8, 8], 3, 7);
    expect(compareOutputs(await runAll(own, feeds), await runAll(c2, feeds)).maxRelDiff).toBeLessThan(1e-5);
  });

  it('reads per-channel constants by broadcasting: [C,1,1], [1,C,1,1], a scalar; not along other axes', () => {
    const t = (dims: number[]) => makeTensor('c', dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(2));
    expect(perChannel(t([C, 1, 1]), 4, C)).toHaveLength(C);
    expect(perChannel(t([1, C, 1, 1]), 4, C)).toHaveLength(C);
    expect(perChannel(t([]), 4, C)).toHaveLength(1);
    expect(perChannel(t([1]), 4, C)).toHaveLength(1);
    expect(perChannel(t([C]), 4, C)).toBeNull(); // broadcasts along the width
    expect(perChannel(t([2, C, 1, 1]), 4, C)).toBeNull(); // along the batch
    expect(perChannel(t([1, 1, C, 1, 1]), 4, C)).toBeNull();
  });

  it('opset 10: Pad and Clip bounds as attributes', async () => {
    const rand = rng(3);
    const m = model({
      name: 'g',
      input: [tensorValueInfo('x', FLOAT, [1, 2, 6, 6])],
      output: [tensorValueInfo('y', FLOAT, [1, C, 8, 8])],
      initializer: [makeTensor('w', [C, 2, 1, 1], randn(C * 2, 0.5, rand))],
      node: [
        makeNode('Pad', ['x'], ['p'], { attributes: [intsAttr('pads', [0, 0, 1, 1, 0, 0, 1, 1]), floatAttr('value', 0)] }),
        makeNode('Conv', ['p', 'w'], ['c']),
        makeNode('Relu', ['c'], ['r']),
        makeNode('Clip', ['r'], ['y'], { attributes: [floatAttr('min', -1), floatAttr('max', 6)] }),
      ],
    }, 10);
    const c = await cleanupPass.run(m, {}, testContext(() => []));
    expect(opTypes(c)).toEqual(['Conv', 'Clip']);
    const feeds = randomFeeds('x', [1, 2, 6, 6], 4, 1);
    expect(compareOutputs(await runAll(m, feeds), await runAll(c, feeds)).maxRelDiff).toBeLessThan(1e-5);
  });

  it('lets static int8 quantize the fused Conv as one node: no float Mul/Add left between the int8 Convs', async () => {
    const m = kerasBlock();
    const feeds = randomFeeds('x', [1, 3, 16, 16], 8, 4);
    const ctx = testContext((n) => feeds.slice(0, n));
    const q = await quantizePass.run(await cleanupPass.run(m, {}, ctx), { mode: 'static', op_types: ['Conv'] }, ctx);
    const ops = opTypes(q);
    expect(ops.filter((o) => o === 'Mul' || o === 'Sub')).toEqual([]);
    expect(ops.filter((o) => o === 'QuantizeLinear').length).toBeGreaterThan(0);
  });
});
