/** The fp16 pass against the float model in onnxruntime; tolerance: max |fp16 − fp32| ≤ 1% of the output range. */
import { beforeAll, describe, expect, it } from 'vitest';
import Long from 'long';
import { encodeModel, onnx, DataType, type Model } from '../../src/model/onnx.js';
import { makeTensor, tensorData, tensorToFloat32 } from '../../src/model/tensor.js';
import { checkModel, floatAttr, getIntAttr, initializerMap, intAttr, makeNode, producerMap, tensorAttr, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { convertToFp16, fp16Pass } from '../../src/passes/fp16.js';
import { OrtSession } from '../../src/runtime/session.js';
import type { Feeds } from '../../src/model/host-tensor.js';
import { buildCnn, buildMlp, compareOutputs, opTypes, randomFeeds, runAll, testContext, sameBytes } from './fixtures.js';

const TOLERANCE = 1e-2;
const ctx = testContext(() => []);

let cnn: Model, mlp: Model, cnnFeeds: Feeds[], mlpFeeds: Feeds[], cnnRef: Float32Array[], mlpRef: Float32Array[];
beforeAll(async () => {
  cnn = buildCnn();
  mlp = buildMlp();
  cnnFeeds = randomFeeds('Input3', [1, 1, 28, 28], 64, 7);
  mlpFeeds = randomFeeds('x', [1, 784], 64, 7);
  cnnRef = await runAll(cnn, cnnFeeds);
  mlpRef = await runAll(mlp, mlpFeeds);
});

async function ioTypes(m: Model): Promise<string[]> {
  const s = await OrtSession.create(encodeModel(m));
  const types = [...s.session.inputMetadata, ...s.session.outputMetadata].map((v) => (v.isTensor ? v.type : '?'));
  await s.release();
  return types;
}

describe('fp16', () => {
  it('CNN: float16 weights, float32 inputs/outputs through edge Casts, half the size, output within 1%', async () => {
    const before = encodeModel(cnn);
    const q = await convertToFp16(cnn, {}, ctx);
    checkModel(q);
    for (const t of q.graph!.initializer!) expect(t.dataType).toBe(DataType.FLOAT16);
    const ops = opTypes(q);
    expect(ops[0]).toBe('Cast');
    expect(ops[ops.length - 1]).toBe('Cast');
    expect(ops.filter((o) => o === 'Cast').length).toBe(2);
    expect(await ioTypes(q)).toEqual(['float32', 'float32']);
    expect(encodeModel(q).length).toBeLessThan(0.55 * before.length);
    const got = await runAll(q, cnnFeeds);
    expect(compareOutputs(cnnRef, got).maxRelDiff).toBeLessThan(TOLERANCE);
    expect(compareOutputs(cnnRef, got).top1).toBe(1);
    expect(sameBytes(encodeModel(cnn), before)).toBe(true);
  });

  it('MLP (MatMul+Add, Gemm transB=1): within 1%, deterministic', async () => {
    const a = await convertToFp16(mlp, {}, ctx);
    const b = await convertToFp16(mlp, {}, ctx);
    expect(sameBytes(encodeModel(a), encodeModel(b))).toBe(true);
    expect(compareOutputs(mlpRef, await runAll(a, mlpFeeds)).maxRelDiff).toBeLessThan(TOLERANCE);
  });

  it('keep_io_types: false makes the inputs and outputs float16 with no Casts', async () => {
    const q = await convertToFp16(cnn, { keep_io_types: false }, ctx);
    expect(opTypes(q)).not.toContain('Cast');
    expect(await ioTypes(q)).toEqual(['float16', 'float16']);
  });

  it('op_block_list keeps those ops in float32, with their weights and Casts around them', async () => {
    const log: string[] = [];
    const q = await convertToFp16(cnn, { op_block_list: ['Gemm', 'Softmax'] }, testContext(() => [], log));
    checkModel(q);
    const inits = initializerMap(q.graph!);
    const producers = producerMap(q.graph!);
    const gemm = q.graph!.node!.find((n) => n.opType === 'Gemm')!;
    expect(inits.get(gemm.input![1]!)!.dataType).toBe(DataType.FLOAT);
    const cast = producers.get(gemm.input![0]!)!;
    expect(cast.opType).toBe('Cast');
    expect(getIntAttr(cast, 'to', 0)).toBe(DataType.FLOAT);
    // Gemm → Softmax are both float32: no Cast between them, and none needed at the output.
    expect(producers.get(q.graph!.node!.find((n) => n.opType === 'Softmax')!.input![0]!)!.opType).toBe('Gemm');
    expect(producers.get('probs')!.opType).toBe('Softmax');
    expect(log.join()).toContain('2 nodes kept in float32');
    expect(compareOutputs(cnnRef, await runAll(q, cnnFeeds)).maxRelDiff).toBeLessThan(TOLERANCE);
  });

  it('retypes Cast(to=float), Constant and ConstantOfShape, and shares an initializer read by a blocked and a converted node', async () => {
    const m = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'g',
        input: [tensorValueInfo('x', FLOAT, [2, 3]), tensorValueInfo('i', DataType.INT64, [2, 3])],
        output: [tensorValueInfo('y', FLOAT, [2, 3]), tensorValueInfo('z', FLOAT, [2, 3])],
        initializer: [makeTensor('w', [3], Float32Array.of(0.5, -1, 2)), makeTensor('shape', [2], BigInt64Array.of(2n, 3n))],
        valueInfo: [tensorValueInfo('xi', FLOAT, [2, 3])],
        node: [
          makeNode('Cast', ['i'], ['xi'], { attributes: [intAttr('to', DataType.FLOAT)] }),
          makeNode('Constant', [], ['c'], { attributes: [tensorAttr('value', makeTensor('', [3], Float32Array.of(1, 2, 3)))] }),
          makeNode('Constant', [], ['k'], { attributes: [floatAttr('value_float', 0.25)] }),
          makeNode('ConstantOfShape', ['shape'], ['zeros']),
          makeNode('Add', ['x', 'xi'], ['a']),
          makeNode('Mul', ['a', 'c'], ['b']),
          makeNode('Mul', ['b', 'k'], ['b2']),
          makeNode('Add', ['b2', 'zeros'], ['b3']),
          makeNode('Mul', ['b3', 'w'], ['y']),
          makeNode('Sub', ['b3', 'w'], ['z'], { name: 'blocked_sub' }),
        ],
      },
    });
    const feeds: Feeds[] = [{
      x: { type: 'float32', dims: [2, 3], data: Float32Array.of(0.1, 0.2, 0.3, -0.4, 0.5, 0.6) },
      i: { type: 'int64', dims: [2, 3], data: BigInt64Array.of(1n, 2n, 3n, 4n, 5n, 6n) },
    }];
    const q = await fp16Pass.run(m, { op_block_list: ['Sub'] }, ctx);
    checkModel(q);
    const castNode = q.graph!.node!.find((n) => n.output![0] === 'xi')!;
    expect(getIntAttr(castNode, 'to', 0)).toBe(DataType.FLOAT16);
    expect(q.graph!.valueInfo!.find((v) => v.name === 'xi')!.type!.tensorType!.elemType).toBe(DataType.FLOAT16);
    const inits = initializerMap(q.graph!);
    expect(inits.get('w')!.dataType).toBe(DataType.FLOAT16);
    const sub = q.graph!.node!.find((n) => n.name === 'blocked_sub')!;
    expect(inits.get(sub.input![1]!)!.dataType).toBe(DataType.FLOAT);
    expect(Array.from(tensorToFloat32(inits.get(sub.input![1]!)!))).toEqual([0.5, -1, 2]);
    const s = await OrtSession.create(encodeModel(q));
    const out = await s.run(feeds[0]!);
    await s.release();
    const x = feeds[0]!.x!.data as Float32Array;
    const expectY = Array.from(x, (v, j) => (v + (j + 1)) * [1, 2, 3][j % 3]! * 0.25 * [0.5, -1, 2][j % 3]!);
    const expectZ = Array.from(x, (v, j) => (v + (j + 1)) * [1, 2, 3][j % 3]! * 0.25 - [0.5, -1, 2][j % 3]!);
    Array.from(out.y!.data as Float32Array).forEach((v, j) => expect(v).toBeCloseTo(expectY[j]!, 1));
    Array.from(out.z!.data as Float32Array).forEach((v, j) => expect(v).toBeCloseTo(expectZ[j]!, 1));
    expect(out.y!.type).toBe('float32');
  });

  it('saturates weights beyond the float16 range instead of making them infinite', async () => {
    const m = buildMlp();
    const w = m.graph!.initializer!.find((t) => t.name === 'fc3.b')!;
    const big = makeTensor('fc3.b', [10], Float32Array.from({ length: 10 }, (_, i) => (i === 0 ? 1e6 : -1e6)));
    Object.assign(w, big);
    const log: string[] = [];
    const q = await convertToFp16(m, {}, testContext(() => [], log));
    const b = tensorData(initializerMap(q.graph!).get('fc3.b')!) as Float32Array;
    expect(b[0]).toBe(65504);
    expect(b[1]).toBe(-65504);
    expect(log.join()).toContain('10 weights beyond ±65504 saturated');
  });
});
