/**
 * The claim "low-rank at rank r cuts bytes and FLOPs as predicted": for an explicit rank r, a
 * weight [m, n] becomes r·(m + n) parameters, the file shrinks by 4·(m·n − r·(m + n)) bytes up to protobuf
 * framing, and the multiply-adds per input row go from m·n to r·(m + n) (the hidden tensor ORT infers is [N, r]).
 */
import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx, DataType, dimsOf, encodeModel, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { checkModel, initializerMap, intAttr, makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { lowRankPass } from '../../src/passes/lowrank.js';
import { inferTensorTypes } from '../../src/passes/infer-types.js';
import { compareOutputs, randn, randomFeeds, rng, runAll, testContext } from './fixtures.js';

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const floatParams = (m: Model) => (m.graph!.initializer ?? []).filter((t) => t.dataType === DataType.FLOAT).reduce((s, t) => s + product(dimsOf(t)), 0);

/** Multiply-adds per input row: Σ K·N over MatMul/Gemm nodes with a 2-D initializer weight. */
function macsPerRow(m: Model): number {
  const inits = initializerMap(m.graph!);
  return (m.graph!.node ?? [])
    .filter((n) => n.opType === 'MatMul' || n.opType === 'Gemm')
    .map((n) => inits.get(n.input![1]!))
    .reduce((s, w) => s + (w && dimsOf(w).length === 2 ? product(dimsOf(w)) : 0), 0);
}

/** x [N, m] → op with weight [m, n] (Gemm: stored [n, m], transB=1, + bias [n]), weight of rank `trueRank`. */
function oneLayer(op: 'MatMul' | 'Gemm', m: number, n: number, trueRank: number): Model {
  const rand = rng(m + n);
  const a = randn(m * trueRank, 0.3, rand), b = randn(trueRank * n, 0.3, rand);
  const w = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let t = 0; t < trueRank; t++) for (let j = 0; j < n; j++) w[op === 'Gemm' ? j * m + i : i * n + j]! += a[i * trueRank + t]! * b[t * n + j]!;
  const gemm = op === 'Gemm';
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'one_layer',
      input: [tensorValueInfo('x', FLOAT, ['N', m])],
      output: [tensorValueInfo('y', FLOAT, ['N', n])],
      initializer: [makeTensor('w', gemm ? [n, m] : [m, n], w), ...(gemm ? [makeTensor('b', [n], randn(n, 0.1, rand))] : [])],
      node: [makeNode(op, gemm ? ['x', 'w', 'b'] : ['x', 'w'], ['y'], { name: 'fc', attributes: gemm ? [intAttr('transB', 1)] : [] })],
    },
  });
}

describe('lowrank: parameters, bytes and multiply-adds at an explicit rank', () => {
  const cases = [
    { op: 'MatMul', m: 512, n: 256, r: 16, bias: 0 },
    { op: 'Gemm', m: 384, n: 200, r: 24, bias: 200 },
  ] as const;
  for (const { op, m, n, r, bias } of cases) {
    it(`${op} [${m}, ${n}] at rank ${r}: r·(m + n)${bias ? ' + bias' : ''} parameters, bytes and MACs as predicted`, async () => {
      const before = oneLayer(op, m, n, r);
      const after = await lowRankPass.run(before, { rank: r }, testContext(() => []));
      checkModel(after);
      expect(floatParams(before)).toBe(m * n + bias);
      expect(floatParams(after)).toBe(r * (m + n) + bias);

      // The file shrinks by the float32 data removed, up to a few dozen bytes of names and framing.
      const saved = encodeModel(before).length - encodeModel(after).length;
      const predicted = 4 * (m * n - r * (m + n));
      expect(Math.abs(saved - predicted)).toBeLessThan(200);

      expect(macsPerRow(before)).toBe(m * n);
      expect(macsPerRow(after)).toBe(r * (m + n));
      // And ORT agrees the factorized path goes through an r-wide tensor.
      const hidden = after.graph!.node!.find((x) => x.opType === 'MatMul' && x.input![0] === 'x')!.output![0]!;
      expect((await inferTensorTypes(after)).get(hidden)?.shape.slice(1)).toEqual([r]);

      // The weight has rank r, so nothing is lost (float32 rounding aside).
      const feeds = randomFeeds('x', [2, m], 4, 3);
      expect(compareOutputs(await runAll(before, feeds), await runAll(after, feeds)).maxRelDiff).toBeLessThan(1e-4);
    });
  }
});
