/**
 * Dynamic quantization of LSTM into onnxruntime's com.microsoft DynamicQuantizeLSTM, run in ORT against
 * the float LSTM on the same seeded inputs. Tolerance: every output (Y, Y_h, Y_c) within 0.03 absolute
 * of fp32 (hidden and cell values here are O(0.1..1); a wrong W/R layout gives errors of O(1) or fails
 * to load), and the mean absolute error below 0.005.
 */
import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx, DataType, dimsOf, encodeModel, type Model } from '../../src/model/onnx.js';
import { makeTensor, tensorData } from '../../src/model/tensor.js';
import { checkModel, initializerMap, intAttr, makeNode, stringAttr, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { quantizePass } from '../../src/passes/quantize.js';
import { quantizeLstmWeight } from '../../src/passes/quantize-dynamic.js';
import { dequantizeWeight } from '../../src/passes/quant-common.js';
import type { QuantizeOptions } from '../../src/passes/quant-common.js';
import { OrtSession } from '../../src/runtime/session.js';
import type { Feeds } from '../../src/model/host-tensor.js';
import { opTypes, randn, rng, sameBytes, testContext } from './fixtures.js';

const [SEQ, BATCH, INPUT, HIDDEN] = [7, 3, 12, 20];

interface LstmOptions {
  direction?: 'forward' | 'reverse' | 'bidirectional';
  /** B, sequence_lens, initial_h, initial_c and P as inputs too. */
  full?: boolean;
  seed?: number;
}

/** X [SEQ, BATCH, INPUT] → LSTM(hidden 20) → Y, Y_h, Y_c, with seeded weights. */
function buildLstm(o: LstmOptions = {}): Model {
  const rand = rng(o.seed ?? 31);
  const direction = o.direction ?? 'forward';
  const D = direction === 'bidirectional' ? 2 : 1;
  const inits = [
    makeTensor('W', [D, 4 * HIDDEN, INPUT], randn(D * 4 * HIDDEN * INPUT, 0.4, rand)),
    makeTensor('R', [D, 4 * HIDDEN, HIDDEN], randn(D * 4 * HIDDEN * HIDDEN, 0.3, rand)),
  ];
  const inputs = ['X', 'W', 'R'];
  if (o.full) {
    inits.push(
      makeTensor('B', [D, 8 * HIDDEN], randn(D * 8 * HIDDEN, 0.1, rand)),
      makeTensor('seq_lens', [BATCH], Int32Array.from({ length: BATCH }, (_, b) => SEQ - b)),
      makeTensor('h0', [D, BATCH, HIDDEN], randn(D * BATCH * HIDDEN, 0.2, rand)),
      makeTensor('c0', [D, BATCH, HIDDEN], randn(D * BATCH * HIDDEN, 0.2, rand)),
      makeTensor('P', [D, 3 * HIDDEN], randn(D * 3 * HIDDEN, 0.1, rand)),
    );
    inputs.push('B', 'seq_lens', 'h0', 'c0', 'P');
  }
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(14) }],
    graph: {
      name: 'lstm',
      input: [tensorValueInfo('X', FLOAT, [SEQ, 'N', INPUT])],
      output: [tensorValueInfo('Y', FLOAT), tensorValueInfo('Y_h', FLOAT), tensorValueInfo('Y_c', FLOAT)],
      initializer: inits,
      node: [makeNode('LSTM', inputs, ['Y', 'Y_h', 'Y_c'], { name: 'lstm', attributes: [intAttr('hidden_size', HIDDEN), stringAttr('direction', direction)] })],
    },
  });
}

async function runOutputs(m: Model, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const session = await OrtSession.create(encodeModel(m), {});
  try {
    const r = await session.run(feeds);
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

function feedsFor(seed: number): Feeds {
  const rand = rng(seed);
  return { X: { type: 'float32', dims: [SEQ, BATCH, INPUT], data: Float32Array.from({ length: SEQ * BATCH * INPUT }, () => rand() * 2 - 1) } };
}

async function expectCloseToFloat(m: Model, options: Omit<QuantizeOptions, 'mode'>): Promise<Model> {
  const log: string[] = [];
  const q = await quantizePass.run(m, { mode: 'dynamic', ...options }, testContext(() => [], log));
  checkModel(q);
  expect(opTypes(q)).toEqual(['DynamicQuantizeLSTM']);
  expect(log[0]).toMatch(/LSTM 1/);
  const feeds = feedsFor(8);
  const [ref, got] = [await runOutputs(m, feeds), await runOutputs(q, feeds)];
  for (const name of ['Y', 'Y_h', 'Y_c']) {
    const a = ref[name]!, b = got[name]!;
    expect(b.length).toBe(a.length);
    let max = 0, sum = 0;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      max = Math.max(max, d);
      sum += d;
    }
    expect(max, `${name} max |int8 − fp32|`).toBeLessThan(0.03);
    expect(sum / a.length, `${name} mean |int8 − fp32|`).toBeLessThan(0.005);
  }
  return q;
}

describe('quantize: dynamic, LSTM → com.microsoft DynamicQuantizeLSTM', () => {
  it('quantizeLstmWeight transposes each direction to [input, 4·hidden] and quantizes it on its own', () => {
    const rand = rng(3);
    const [D, N, K] = [2, 8, 5];
    const w = randn(D * N * K, 1, rand);
    for (let i = N * K; i < 2 * N * K; i++) w[i]! *= 10; // direction 1 has a 10x larger range
    const q = quantizeLstmWeight(w, [D, N, K], 'int8', true, false);
    expect(q.dims).toEqual([2, 5, 8]);
    expect(q.scaleDims).toEqual([2]);
    expect(q.scales[1]! / q.scales[0]!).toBeGreaterThan(5);
    for (let d = 0; d < D; d++) {
      const back = dequantizeWeight({ data: q.data.subarray(d * N * K, (d + 1) * N * K), scales: q.scales.subarray(d, d + 1), zeroPoints: q.zeroPoints.subarray(d, d + 1), axis: null }, [K, N]);
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) expect(Math.abs(back[k * N + n]! - w[d * N * K + n * K + k]!)).toBeLessThanOrEqual(q.scales[d]! / 2 + 1e-6);
    }
    const pc = quantizeLstmWeight(w, [D, N, K], 'int8', true, true);
    expect(pc.scaleDims).toEqual([2, 8]);
    expect(Array.from(pc.zeroPoints).every((z) => z === 0)).toBe(true);
  });

  it('forward LSTM: int8 W/R stored [D, input, 4H] / [D, H, 4H], outputs within tolerance of fp32', async () => {
    const m = buildLstm();
    const q = await expectCloseToFloat(m, {});
    const node = q.graph!.node![0]!;
    expect(node.domain).toBe('com.microsoft');
    expect(q.opsetImport!.some((o) => o.domain === 'com.microsoft')).toBe(true);
    expect(node.input).toHaveLength(12);
    const inits = initializerMap(q.graph!);
    expect(dimsOf(inits.get(node.input![1]!)!)).toEqual([1, INPUT, 4 * HIDDEN]);
    expect(dimsOf(inits.get(node.input![2]!)!)).toEqual([1, HIDDEN, 4 * HIDDEN]);
    expect(inits.get(node.input![1]!)!.dataType).toBe(DataType.INT8);
    expect(dimsOf(inits.get(node.input![8]!)!)).toEqual([1]); // W_scale, per tensor
    expect(encodeModel(q).length).toBeLessThan(0.3 * encodeModel(m).length);
    // Deterministic.
    const again = await quantizePass.run(m, { mode: 'dynamic' }, testContext(() => []));
    expect(sameBytes(encodeModel(q), encodeModel(again))).toBe(true);
  });

  it('bidirectional with B, sequence_lens, initial_h/c and peepholes, per channel', async () => {
    const q = await expectCloseToFloat(buildLstm({ direction: 'bidirectional', full: true, seed: 32 }), { per_channel: true });
    const node = q.graph!.node![0]!;
    expect(node.input!.slice(3, 8)).toEqual(['B', 'seq_lens', 'h0', 'c0', 'P']);
    const inits = initializerMap(q.graph!);
    expect(dimsOf(inits.get(node.input![8]!)!)).toEqual([2, 4 * HIDDEN]);
    expect(Array.from(tensorData(inits.get(node.input![9]!)!) as Int8Array)).toEqual(new Array(8 * HIDDEN).fill(0));
  });

  it('reverse direction, uint8 weights; asymmetric per-channel falls back to per tensor and says so', async () => {
    await expectCloseToFloat(buildLstm({ direction: 'reverse', full: true, seed: 33 }), { weight_type: 'uint8' });
    const log: string[] = [];
    const q = await quantizePass.run(buildLstm({ seed: 34 }), { mode: 'dynamic', per_channel: true, symmetric: false }, testContext(() => [], log));
    expect(log[0]).toMatch(/'lstm' \(LSTM\): per tensor \(per-channel LSTM weights need symmetric: true\)/);
    expect(dimsOf(initializerMap(q.graph!).get(q.graph!.node![0]!.input![8]!)!)).toEqual([1]);
    await expectCloseToFloat(buildLstm({ seed: 34 }), { per_channel: true, symmetric: false });
  });

  it('is in the default op types, and op_types without LSTM leaves it in float', async () => {
    const q = await quantizePass.run(buildLstm(), { mode: 'dynamic', op_types: ['MatMul', 'Gemm'] }, testContext(() => []));
    expect(opTypes(q)).toEqual(['LSTM']);
  });
});
