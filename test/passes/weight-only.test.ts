/** weight_only against the float model; tolerance as for int8: ≤ 5% of the output range, top-1 ≥ 95%. */
import { describe, expect, it } from 'vitest';
import { encodeModel, DataType } from '../../src/model/onnx.js';
import { checkModel, getIntAttr, initializerMap } from '../../src/model/graph.js';
import { blockLength, weightOnlyPass, WEIGHT_ONLY_RUNTIME } from '../../src/passes/weight-only.js';
import { runRecipe } from '../../src/passes/registry.js';
import { tensorToFloat32 } from '../../src/model/tensor.js';
import { buildCnn, buildMlp, compareOutputs, opTypes, optimizedOpTypes, randomFeeds, runAll, testContext } from './fixtures.js';

describe('weight_only', () => {
  it('MLP: int8 weights behind DequantizeLinear under the original names, a quarter of the size, same outputs', async () => {
    const m = buildMlp();
    const log: string[] = [];
    const q = await weightOnlyPass.run(m, {}, testContext(() => [], log));
    checkModel(q);
    const dq = q.graph!.node!.filter((n) => n.opType === 'DequantizeLinear');
    // fc1.w (784x128) and fc2.w (128x64) are ≥ 1024 elements; fc3.w (10x64) and the biases are not.
    expect(dq.map((n) => n.output![0])).toEqual(['fc1.w', 'fc2.w']);
    expect(dq.map((n) => getIntAttr(n, 'axis', -1))).toEqual([1, 1]); // MatMul [K, N]: per output column
    const inits = initializerMap(q.graph!);
    expect(inits.get(dq[0]!.input![0]!)!.dataType).toBe(DataType.INT8);
    expect(inits.has('fc3.w')).toBe(true);
    expect(encodeModel(q).length).toBeLessThan(0.3 * encodeModel(m).length);
    expect(log[0]).toContain('session.disable_quant_qdq=1');
    const feeds = randomFeeds('x', [1, 784], 64, 7);
    const ref = await runAll(m, feeds);
    for (const runtime of [{}, WEIGHT_ONLY_RUNTIME]) {
      const d = compareOutputs(ref, await runAll(q, feeds, runtime));
      expect(d.maxRelDiff).toBeLessThan(0.05);
      expect(d.top1).toBeGreaterThanOrEqual(0.95);
    }
  });

  it('declares the session option that lets ORT fold the DequantizeLinear nodes at load', async () => {
    const q = await weightOnlyPass.run(buildMlp(), {}, testContext(() => []));
    expect(weightOnlyPass.runtimeOptions!({})).toEqual({ configEntries: { 'session.disable_quant_qdq': '1' } });
    expect(await optimizedOpTypes(q)).toContain('DequantizeLinear');
    expect(await optimizedOpTypes(q, WEIGHT_ONLY_RUNTIME)).not.toContain('DequantizeLinear');
    const result = await runRecipe(buildMlp(), [{ weight_only: {} }], testContext(() => []));
    expect(result.runtime).toEqual(WEIGHT_ONLY_RUNTIME);
  });

  it('CNN: Conv weights per output channel (axis 0), Gemm transB=1 per row; min_elements and op_types filter', async () => {
    const q = await weightOnlyPass.run(buildCnn(), { min_elements: 100 }, testContext(() => []));
    const axisOf = (name: string) => getIntAttr(q.graph!.node!.find((n) => n.output![0] === name)!, 'axis', -1);
    expect(axisOf('conv.w')).toBe(0);
    expect(axisOf('dense.w')).toBe(0);
    const onlyGemm = await weightOnlyPass.run(buildCnn(), { min_elements: 100, op_types: ['Gemm'] }, testContext(() => []));
    expect(onlyGemm.graph!.node!.filter((n) => n.opType === 'DequantizeLinear').map((n) => n.output![0])).toEqual(['dense.w']);
    expect(opTypes(q).filter((o) => o === 'DequantizeLinear')).toHaveLength(2);
  });

  it('nodes_exclude keeps the weights those nodes read in float32, exactly; an unknown node name fails naming it', async () => {
    const m = buildMlp();
    const log: string[] = [];
    const q = await weightOnlyPass.run(m, { nodes_exclude: ['fc1'] }, testContext(() => [], log));
    checkModel(q);
    const dq = q.graph!.node!.filter((n) => n.opType === 'DequantizeLinear');
    expect(dq.map((n) => n.output![0])).toEqual(['fc2.w']);
    const inits = initializerMap(q.graph!);
    expect(inits.get('fc1.w')!.dataType).toBe(DataType.FLOAT);
    expect(tensorToFloat32(inits.get('fc1.w')!)).toEqual(tensorToFloat32(initializerMap(m.graph!).get('fc1.w')!));
    expect(log[0]).toContain('1 left in float (nodes_exclude)');
    // fc1's rounding no longer reaches the output: closer to the float model than with every weight in int8.
    const feeds = randomFeeds('x', [1, 784], 32, 5);
    const ref = await runAll(m, feeds);
    const all = compareOutputs(ref, await runAll(await weightOnlyPass.run(m, {}, testContext(() => [])), feeds, WEIGHT_ONLY_RUNTIME));
    const kept = compareOutputs(ref, await runAll(q, feeds, WEIGHT_ONLY_RUNTIME));
    expect(kept.maxRelDiff).toBeLessThan(all.maxRelDiff);
    expect(kept.maxRelDiff).toBeGreaterThan(0); // fc2 is still int8
    await expect(weightOnlyPass.run(m, { nodes_exclude: ['fc9'] }, testContext(() => []))).rejects.toThrow(
      "pass 'weight_only': option 'nodes_exclude' names 'fc9', which is not a node of the model",
    );
  });

  it('block_size: a scale per block of an output channel, behind DequantizeLinear + Reshape that ORT folds at load; finer than per channel', async () => {
    // Each output row of the Gemm weight has one large entry: per channel it sets the row's scale and the
    // rest rounds to a 1/127 grid of it; blocks of 32 confine it to one block.
    const m = buildCnn({ softmax: false });
    const dense = initializerMap(m.graph!).get('dense.w')!;
    const values = tensorToFloat32(dense);
    for (let r = 0; r < 10; r++) values[r * 5408 + 7 * r] = 3;
    const { makeTensor } = await import('../../src/model/tensor.js');
    m.graph!.initializer = m.graph!.initializer!.map((t) => (t.name === 'dense.w' ? makeTensor('dense.w', [10, 5408], values) : t));
    const log: string[] = [];
    const q = await weightOnlyPass.run(m, { block_size: 32, min_elements: 100 }, testContext(() => [], log));
    checkModel(q);
    expect(log.join('\n')).toContain('1 with a scale per block of 32');
    const inits = initializerMap(q.graph!);
    const dq = q.graph!.node!.filter((n) => n.opType === 'DequantizeLinear');
    // conv.w's channels hold 9 weights: as fine as blocks get, per channel.
    expect(dq.map((n) => inits.get(n.input![1]!)!.dims!.map(Number))).toEqual([[32], [5408 * 10 / 32]]);
    expect(inits.get(dq[1]!.input![0]!)!.dims!.map(Number)).toEqual([5408 * 10 / 32, 32]);
    const reshape = q.graph!.node!.find((n) => n.opType === 'Reshape')!;
    expect(reshape.output).toEqual(['dense.w']);
    expect(await optimizedOpTypes(q, WEIGHT_ONLY_RUNTIME)).not.toContain('DequantizeLinear');
    expect(await optimizedOpTypes(q, WEIGHT_ONLY_RUNTIME)).not.toContain('Reshape');
    const perChannel = await weightOnlyPass.run(m, { min_elements: 100 }, testContext(() => []));
    const feeds = randomFeeds('Input3', [1, 1, 28, 28], 16, 3);
    const ref = await runAll(m, feeds);
    const coarse = compareOutputs(ref, await runAll(perChannel, feeds, WEIGHT_ONLY_RUNTIME));
    const fine = compareOutputs(ref, await runAll(q, feeds, WEIGHT_ONLY_RUNTIME));
    expect(fine.maxRelDiff).toBeLessThan(coarse.maxRelDiff / 2);
    expect(encodeModel(q).length).toBeLessThan(0.35 * encodeModel(m).length);
    expect(blockLength(88, 32)).toBe(22);
    expect(blockLength(9, 32)).toBeNull();
    expect(blockLength(1031, 32)).toBeNull();
  });
});
