import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { checkModel, floatAttr, intAttr, makeNode, tensorAttr, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { cleanupPass } from '../../src/passes/cleanup.js';
import { compareOutputs, opTypes, randn, randomFeeds, rng, runAll, testContext } from './fixtures.js';

/** What exporters leave behind: a Constant weight, Conv+BN, Identity, Dropout, a Transpose of a constant, dead code. */
function messyCnn(): Model {
  const rand = rng(11);
  const C = 6;
  const gemmT = randn(C * 36 * 4, 0.2, rand);
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'messy',
      input: [tensorValueInfo('x', FLOAT, ['N', 1, 8, 8])],
      output: [tensorValueInfo('y', FLOAT, ['N', 4])],
      initializer: [
        makeTensor('bn.scale', [C], Float32Array.from({ length: C }, () => 0.5 + rand())),
        makeTensor('bn.bias', [C], randn(C, 0.3, rand)),
        makeTensor('bn.mean', [C], randn(C, 0.3, rand)),
        makeTensor('bn.var', [C], Float32Array.from({ length: C }, () => 0.2 + rand())),
        makeTensor('dense.wT', [C * 36, 4], gemmT),
        makeTensor('dense.b', [4], randn(4, 0.1, rand)),
        makeTensor('unused', [3], Float32Array.of(1, 2, 3)),
      ],
      valueInfo: [tensorValueInfo('conv', FLOAT, ['N', C, 6, 6])],
      node: [
        makeNode('Constant', [], ['conv.w'], { attributes: [tensorAttr('value', makeTensor('', [C, 1, 3, 3], randn(C * 9, 0.5, rand)))] }),
        makeNode('Constant', [], ['half'], { attributes: [floatAttr('value_float', 0.5)] }),
        makeNode('Conv', ['x', 'conv.w'], ['conv'], { name: 'conv' }),
        makeNode('BatchNormalization', ['conv', 'bn.scale', 'bn.bias', 'bn.mean', 'bn.var'], ['bn'], { name: 'bn', attributes: [floatAttr('epsilon', 1e-3)] }),
        makeNode('Identity', ['bn'], ['bn.id']),
        makeNode('Relu', ['bn.id'], ['relu']),
        makeNode('Dropout', ['relu'], ['drop']),
        makeNode('Flatten', ['drop'], ['flat']),
        makeNode('Transpose', ['dense.wT'], ['dense.w'], { attributes: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0] }] }),
        makeNode('Mul', ['dense.b', 'half'], ['dense.b.half']),
        makeNode('Gemm', ['flat', 'dense.w', 'dense.b.half'], ['logits'], { name: 'dense', attributes: [intAttr('transB', 1)] }),
        makeNode('Neg', ['x'], ['dead']),
        makeNode('Identity', ['logits'], ['y']),
      ],
    },
  });
}

describe('cleanup', () => {
  it('promotes Constants, folds BN and constant chains, removes Identity/Dropout/dead code, same outputs', async () => {
    const m = messyCnn();
    const log: string[] = [];
    const c = await cleanupPass.run(m, {}, testContext(() => [], log));
    checkModel(c);
    expect(opTypes(c)).toEqual(['Conv', 'Relu', 'Flatten', 'Gemm']);
    // The graph output keeps its name: the Gemm writes 'y' directly.
    expect(c.graph!.node!.at(-1)!.output).toEqual(['y']);
    const inits = c.graph!.initializer!.map((t) => t.name).sort();
    expect(inits).toHaveLength(4); // conv weight + bias (from BN), dense weight (folded Transpose), dense bias (folded Mul)
    expect(inits).not.toContain('unused');
    expect(c.graph!.valueInfo!.map((v) => v.name)).toEqual([]); // 'conv' no longer exists
    expect(log[0]).toMatch(/2 Constant nodes promoted.*3 Identity\/Dropout removed.*1 BatchNormalization folded.*2 constant tensors folded.*1 dead nodes removed/);
    const feeds = randomFeeds('x', [1, 1, 8, 8], 16, 3);
    const diff = compareOutputs(await runAll(m, feeds), await runAll(c, feeds));
    expect(diff.maxRelDiff).toBeLessThan(1e-5);
  });

  it('folds BatchNormalization into a Gemm (transB=0), and each step can be turned off', async () => {
    const rand = rng(4);
    const m = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'g',
        input: [tensorValueInfo('x', FLOAT, ['N', 16])],
        output: [tensorValueInfo('y', FLOAT, ['N', 8])],
        initializer: [
          makeTensor('w', [16, 8], randn(128, 0.3, rand)),
          makeTensor('b', [8], randn(8, 0.3, rand)),
          makeTensor('s', [8], Float32Array.from({ length: 8 }, () => 0.5 + rand())),
          makeTensor('o', [8], randn(8, 0.3, rand)),
          makeTensor('mu', [8], randn(8, 0.3, rand)),
          makeTensor('var', [8], Float32Array.from({ length: 8 }, () => 0.5 + rand())),
        ],
        node: [
          makeNode('Gemm', ['x', 'w', 'b'], ['g']),
          makeNode('BatchNormalization', ['g', 's', 'o', 'mu', 'var'], ['y']),
        ],
      },
    });
    const off = await cleanupPass.run(m, { fold_batch_norm: false }, testContext(() => []));
    expect(opTypes(off)).toEqual(['Gemm', 'BatchNormalization']);
    const c = await cleanupPass.run(m, {}, testContext(() => []));
    expect(opTypes(c)).toEqual(['Gemm']);
    const feeds = randomFeeds('x', [1, 16], 8, 5);
    expect(compareOutputs(await runAll(m, feeds), await runAll(c, feeds)).maxRelDiff).toBeLessThan(1e-5);
  });

  it('does not fold what would grow the file, nor DequantizeLinear on weights', async () => {
    const m = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'g',
        input: [tensorValueInfo('x', FLOAT, [1, 256])],
        output: [tensorValueInfo('y', FLOAT, [256, 256])],
        initializer: [
          makeTensor('row', [1, 256], new Float32Array(256).fill(1)),
          makeTensor('reps', [2], BigInt64Array.of(256n, 1n)),
          makeTensor('wq', [256], new Int8Array(256).fill(3)),
          makeTensor('ws', [], Float32Array.of(0.5)),
        ],
        node: [
          makeNode('Tile', ['row', 'reps'], ['big']), // 256 KiB from 1 KiB
          makeNode('Neg', ['big'], ['bigneg']),
          makeNode('DequantizeLinear', ['wq', 'ws'], ['w']),
          makeNode('Add', ['bigneg', 'w'], ['s']),
          makeNode('Add', ['s', 'x'], ['y']),
        ],
      },
    });
    const c = await cleanupPass.run(m, {}, testContext(() => []));
    expect(opTypes(c)).toEqual(['Tile', 'Neg', 'DequantizeLinear', 'Add', 'Add']);
  });
});

describe('cleanup on long chains', () => {
  it('removes a 100,000-node Identity chain: the producer writes the graph output directly (timing: bench/cleanup-chain.ts)', async () => {
    const n = 100_000;
    const node = Array.from({ length: n }, (_, i) => makeNode('Identity', [i === 0 ? 'r' : `t${i - 1}`], [i === n - 1 ? 'y' : `t${i}`]));
    node.unshift(makeNode('Relu', ['x'], ['r'], { name: 'relu' }));
    const side = makeNode('Neg', ['t50000'], ['z'], { name: 'neg' });
    node.push(side);
    const m = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: { name: 'chain', node, input: [tensorValueInfo('x', FLOAT, [4])], output: [tensorValueInfo('y', FLOAT, [4]), tensorValueInfo('z', FLOAT, [4])] },
    });
    const c = await cleanupPass.run(m, {}, testContext(() => []));
    expect(c.graph!.node!.map((x) => [x.opType, x.input, x.output])).toEqual([
      ['Relu', ['x'], ['y']],
      ['Neg', ['y'], ['z']],
    ]);
  });
});

describe('cleanup and tensors of unknown rank', () => {
  /**
   * A Squeeze without axes over a symbolic batch: ORT's shape inference cannot tell which dimensions go, so
   * the result has no known rank, and ORT reports its shape as [] (as for a scalar). Its Shape feeds a
   * Reshape target, then a Transpose of rank 3: the pattern of PaddleOCR's exported attention blocks.
   */
  function squeezeReshape(): Model {
    const int64s = (name: string, values: number[]) => makeTensor(name, [values.length], BigInt64Array.from(values, BigInt));
    return onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'g',
        input: [tensorValueInfo('x', FLOAT, ['N', 1, 6])],
        output: [tensorValueInfo('y', FLOAT)],
        initializer: [int64s('two', [2]), int64s('minus1', [-1]), int64s('one', [1]), int64s('zero', [0])],
        node: [
          makeNode('Squeeze', ['x'], ['sq']),
          makeNode('Shape', ['sq'], ['sq.shape']),
          makeNode('Slice', ['sq.shape', 'one', 'two', 'zero'], ['width']),
          makeNode('Concat', ['two', 'minus1', 'width'], ['target'], { attributes: [intAttr('axis', 0)] }),
          makeNode('Reshape', ['sq', 'target'], ['r']),
          makeNode('Transpose', ['r'], ['y'], { attributes: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0, 2] }] }),
        ],
      },
    });
  }

  it('does not fold the Shape of a tensor whose rank ORT does not know as a scalar\'s: the model still loads and runs the same', async () => {
    const m = squeezeReshape();
    const c = await cleanupPass.run(m, {}, testContext(() => []));
    // Before the fix: the Shape became an empty initializer, the target lost a dimension, and ORT refused the
    // model ("Invalid attribute perm {1, 0, 2}").
    const feeds = randomFeeds('x', [4, 1, 6], 2, 5);
    const [ref, got] = [await runAll(m, feeds), await runAll(c, feeds)];
    expect(got.map((a) => a.length)).toEqual([24, 24]);
    expect(compareOutputs(ref, got).maxRelDiff).toBe(0);
    expect(opTypes(c)).toContain('Shape');
  });
});
