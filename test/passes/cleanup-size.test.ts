/**
 * Cleanup is lossless and never makes the file bigger; an expression that cannot be evaluated stays; the output
 * is byte-identical across runs. Small models shaped like the public ones where these went wrong (a BlazeFace
 * export's channel padding by a ConstantOfShape of zeros, fp16 weights behind a Cast, a 16 kHz-only silero-vad
 * export whose unused If branch gathers out of range).
 */
import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx, DataType, encodeModel, type Model } from '../../src/model/onnx.js';
import { floatToHalf, makeTensor } from '../../src/model/tensor.js';
import { checkModel, intAttr, intsAttr, makeNode, tensorAttr, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { cleanupModel, cleanupPass } from '../../src/passes/cleanup.js';
import { compareOutputs, opTypes, randn, randomFeeds, rng, runAll, testContext } from './fixtures.js';

const GRAPH = onnx.AttributeProto.AttributeType.GRAPH;

/**
 * x[1,16,8,8] → Conv (fp16 weight Cast to float) → Concat with zeros[1,48,8,8] made by ConstantOfShape (the
 * channel padding tf2onnx writes for a residual that widens) → Relu. Folding would store 12 KiB of zeros and a
 * float copy of the weight twice the size of the fp16 one.
 */
function paddedFp16Model(): Model {
  const rand = rng(5);
  const w = randn(16 * 16 * 9, 0.2, rand);
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'padded',
      input: [tensorValueInfo('x', FLOAT, [1, 16, 8, 8])],
      output: [tensorValueInfo('y', FLOAT, [1, 64, 8, 8])],
      initializer: [
        makeTensor('w16', [16, 16, 3, 3], Uint16Array.from(w, floatToHalf), DataType.FLOAT16),
        makeTensor('pad_shape', [4], BigInt64Array.of(1n, 48n, 8n, 8n)),
      ],
      node: [
        makeNode('Cast', ['w16'], ['w'], { attributes: [intAttr('to', DataType.FLOAT)] }),
        makeNode('Conv', ['x', 'w'], ['c'], { name: 'conv', attributes: [intsAttr('pads', [1, 1, 1, 1])] }),
        makeNode('ConstantOfShape', ['pad_shape'], ['zeros'], { attributes: [tensorAttr('value', makeTensor('', [1], Float32Array.of(0)))] }),
        makeNode('Concat', ['c', 'zeros'], ['cat'], { attributes: [intAttr('axis', 1)] }),
        makeNode('Relu', ['cat'], ['y']),
      ],
    },
  });
}

/** sr == 16000 ? x · 2 : x[:, [table[5], table[5]]] · (2 + 2): the else branch's indices are out of range, and it is never taken. */
function deadBranchModel(): Model {
  const branch = (name: string, nodes: onnx.INodeProto[], out: string) => onnx.GraphProto.create({ name, output: [tensorValueInfo(out, FLOAT)], node: nodes });
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(15) }],
    graph: {
      name: 'dead_branch',
      input: [tensorValueInfo('x', FLOAT, [1, 4]), tensorValueInfo('sr', DataType.INT64, [])],
      output: [tensorValueInfo('y', FLOAT)],
      initializer: [
        makeTensor('sr16k', [], BigInt64Array.of(16000n)),
        makeTensor('table', [2], BigInt64Array.of(0n, 1n)),
        makeTensor('five', [], BigInt64Array.of(5n)),
        makeTensor('axis0', [1], BigInt64Array.of(0n)),
        makeTensor('two', [], Float32Array.of(2)),
      ],
      node: [
        makeNode('Equal', ['sr', 'sr16k'], ['is16k']),
        makeNode('If', ['is16k'], ['y'], {
          name: 'rate',
          attributes: [
            { name: 'then_branch', type: GRAPH, g: branch('then', [makeNode('Mul', ['x', 'two'], ['then_y'])], 'then_y') },
            {
              name: 'else_branch', type: GRAPH, g: branch('else', [
                makeNode('Gather', ['table', 'five'], ['col']), // out of range: fails only if this branch runs
                makeNode('Unsqueeze', ['col', 'axis0'], ['cols']),
                makeNode('Gather', ['table', 'five'], ['col2']), // a second one
                makeNode('Add', ['two', 'two'], ['four']), // foldable
                makeNode('Unsqueeze', ['col2', 'axis0'], ['cols2']),
                makeNode('Concat', ['cols', 'cols2'], ['both'], { attributes: [intAttr('axis', 0)] }),
                makeNode('Gather', ['x', 'both'], ['picked'], { attributes: [intAttr('axis', 1)] }),
                makeNode('Mul', ['picked', 'four'], ['else_y']),
              ], 'else_y'),
            },
          ],
        }),
      ],
    },
  });
}

describe('cleanup never makes the file bigger', () => {
  it('leaves a ConstantOfShape of zeros and a Cast of an fp16 weight unfolded: not bigger, same outputs', async () => {
    const m = paddedFp16Model();
    const c = await cleanupPass.run(m, {}, testContext(() => []));
    checkModel(c);
    expect(opTypes(c)).toEqual(['Cast', 'Conv', 'ConstantOfShape', 'Concat', 'Relu']);
    expect(encodeModel(c).length).toBeLessThanOrEqual(encodeModel(m).length);
    expect(c.graph!.initializer!.find((t) => t.name === 'w16')!.dataType).toBe(DataType.FLOAT16);
    const feeds = randomFeeds('x', [1, 16, 8, 8], 3, 7);
    expect(compareOutputs(await runAll(m, feeds), await runAll(c, feeds)).maxRelDiff).toBe(0);
  });

  it('the quantizers\' mode still exposes the widened weight (they replace it right after)', async () => {
    const { model } = await cleanupModel(paddedFp16Model(), {}, true, 'weights');
    expect(opTypes(model)).toEqual(['Conv', 'Concat', 'Relu']);
    expect(encodeModel(model).length).toBeGreaterThan(encodeModel(paddedFp16Model()).length);
  });

  it('still folds what is no larger than what it replaces (a Transpose of a weight, a Mul of a bias)', async () => {
    const rand = rng(9);
    const m = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'g',
        input: [tensorValueInfo('x', FLOAT, [2, 32])],
        output: [tensorValueInfo('y', FLOAT, [2, 16])],
        initializer: [makeTensor('wT', [16, 32], randn(512, 0.3, rand)), makeTensor('b', [16], randn(16, 0.1, rand)), makeTensor('half', [], Float32Array.of(0.5))],
        node: [
          makeNode('Transpose', ['wT'], ['w'], { attributes: [intsAttr('perm', [1, 0])] }),
          makeNode('Mul', ['b', 'half'], ['bh']),
          makeNode('MatMul', ['x', 'w'], ['xw']),
          makeNode('Add', ['xw', 'bh'], ['y']),
        ],
      },
    });
    const c = await cleanupPass.run(m, {}, testContext(() => []));
    expect(opTypes(c)).toEqual(['MatMul', 'Add']);
    expect(encodeModel(c).length).toBeLessThanOrEqual(encodeModel(m).length);
    const feeds = randomFeeds('x', [2, 32], 2, 3);
    expect(compareOutputs(await runAll(m, feeds), await runAll(c, feeds)).maxRelDiff).toBeLessThan(1e-6);
  });
  it('does not store one constant twice: two folds of the same weight, each no larger than it, are left out together', async () => {
    const rand = rng(13);
    const m = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'g',
        input: [tensorValueInfo('x', FLOAT, [2, 32])],
        output: [tensorValueInfo('y', FLOAT, [2, 32])],
        initializer: [makeTensor('w', [32, 32], randn(1024, 0.3, rand))],
        node: [
          makeNode('Transpose', ['w'], ['wt'], { attributes: [intsAttr('perm', [1, 0])] }),
          makeNode('Neg', ['w'], ['wn']),
          makeNode('MatMul', ['x', 'wt'], ['a']),
          makeNode('MatMul', ['x', 'wn'], ['b']),
          makeNode('Add', ['a', 'b'], ['y']),
        ],
      },
    });
    const log: string[] = [];
    const c = await cleanupPass.run(m, {}, testContext(() => [], log));
    expect(opTypes(c)).toHaveLength(5);
    expect(opTypes(c).filter((o) => o === 'Transpose' || o === 'Neg').sort()).toEqual(['Neg', 'Transpose']);
    expect(encodeModel(c).length).toBeLessThanOrEqual(encodeModel(m).length);
    expect(log.join('\n')).toMatch(/2 constant folds left out \(together they made the file bigger\)/);
    // The 'weights' mode the quantizers use folds both.
    expect(opTypes((await cleanupModel(m, {}, true, 'weights')).model)).toEqual(['MatMul', 'MatMul', 'Add']);
  });
});

describe('cleanup and constant expressions that cannot be evaluated', () => {
  it('keeps an out-of-range Gather of a branch never taken instead of failing, and folds the rest', async () => {
    const m = deadBranchModel();
    const log: string[] = [];
    const c = await cleanupPass.run(m, {}, testContext(() => [], log));
    checkModel(c);
    const iff = c.graph!.node!.find((n) => n.opType === 'If')!;
    const otherwise = iff.attribute!.find((a) => a.name === 'else_branch')!.g!;
    // The two failing Gathers and what reads them stay; the Add beside them is folded.
    expect((otherwise.node ?? []).map((n) => n.opType)).toEqual(['Gather', 'Unsqueeze', 'Gather', 'Unsqueeze', 'Concat', 'Gather', 'Mul']);
    expect(log.join('\n')).toMatch(/1 constant tensors folded/);
    const feeds = [{ x: { type: 'float32' as const, dims: [1, 4], data: Float32Array.of(1, 2, 3, 4) }, sr: { type: 'int64' as const, dims: [], data: BigInt64Array.of(16000n) } }];
    expect(await runAll(c, feeds)).toEqual(await runAll(m, feeds));
  });
});

describe('cleanup is deterministic', () => {
  it('gives byte-identical files for the same model, run twice', async () => {
    for (const make of [paddedFp16Model, deadBranchModel]) {
      const a = encodeModel((await cleanupModel(make())).model);
      const b = encodeModel((await cleanupModel(make())).model);
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    }
  });
});
