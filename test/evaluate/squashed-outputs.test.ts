/**
 * Probability outputs (a Sigmoid's, a Softmax's): found from the graph and measured in the logit domain as
 * well, so a candidate that moves saturated probabilities by millionths is not failed on their SNR, while a
 * candidate that moves a probability that matters still fails.
 */
import Long from 'long';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onnx, saveModel, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { intAttr, intsAttr, makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { squashedOutputs } from '../../src/model/squashed.js';
import { measureFidelity, squashFloor, toLogits } from '../../src/evaluate/fidelity.js';
import { fidelityReport } from '../../src/report/build.js';
import { candidateRow } from '../../src/report/markdown.js';
import { candidate as reportCandidate } from '../report/fixtures.js';
import { randn, rng } from '../passes/fixtures.js';
import { arrayDataset, onnxCandidate as candidate } from './fixtures.js';

const INT64 = onnx.TensorProto.DataType.INT64;
const WIDTH = 64;

/** x [N, 64] → MatMul (w) → Add (b) → Sigmoid `prob` [N, 64]: a probability head with per-column biases. */
function sigmoidHead(w: Float32Array, b: Float32Array): Model {
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8), producerName: 'modelgate-test', opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'g',
      node: [makeNode('MatMul', ['x', 'w'], ['h'], { name: 'fc' }), makeNode('Add', ['h', 'b'], ['z'], { name: 'bias' }), makeNode('Sigmoid', ['z'], ['prob'], { name: 'sigmoid' })],
      initializer: [makeTensor('w', [WIDTH, WIDTH], w), makeTensor('b', [WIDTH], b)],
      input: [tensorValueInfo('x', FLOAT, ['N', WIDTH])],
      output: [tensorValueInfo('prob', FLOAT, ['N', WIDTH])],
    },
  });
}

const dataset = (count: number) => arrayDataset(WIDTH, count, true);


describe('squashed outputs', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-squashed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const w = randn(WIDTH * WIDTH, 0.3, rng(7));

  it('finds Sigmoid and Softmax outputs, through Squeeze/ReduceMean and If branches, and nothing that rescales them', () => {
    expect([...squashedOutputs(sigmoidHead(w, new Float32Array(WIDTH)))]).toEqual([['prob', { op: 'sigmoid' }]]);
    // A VAD's head: Sigmoid → Squeeze → ReduceMean over time → Unsqueeze, inside both branches of an If on the sample rate.
    const branch = (name: string): onnx.IGraphProto => ({
      name,
      node: [
        makeNode('Sigmoid', ['h'], [`${name}_s`], { name: `${name}_sig` }),
        makeNode('ReduceMean', [`${name}_s`], [`${name}_m`], { name: `${name}_mean`, attributes: [intsAttr('axes', [1]), intAttr('keepdims', 0)] }),
        makeNode('Unsqueeze', [`${name}_m`, 'one'], [`${name}_y`], { name: `${name}_unsq` }),
      ],
      output: [tensorValueInfo(`${name}_y`, FLOAT, ['N', 1])],
    });
    const vad = (elseBody: onnx.IGraphProto): Model => onnx.ModelProto.create({
      irVersion: Long.fromNumber(8), opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'g',
        node: [
          makeNode('MatMul', ['x', 'w'], ['h'], { name: 'fc' }),
          makeNode('Equal', ['sr', 'rate'], ['is16k'], { name: 'is16k' }),
          makeNode('If', ['is16k'], ['out'], { name: 'branch', attributes: [{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('then') }, { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: elseBody }] }),
          makeNode('Softmax', ['h'], ['classes'], { name: 'softmax' }),
          makeNode('Sigmoid', ['h'], ['s2'], { name: 'sig2' }),
          makeNode('Mul', ['s2', 'rate_f'], ['scaled'], { name: 'rescale' }),
        ],
        initializer: [makeTensor('w', [WIDTH, WIDTH], w), makeTensor('rate', [], new BigInt64Array([16000n]), INT64), makeTensor('one', [1], new BigInt64Array([1n]), INT64), makeTensor('rate_f', [], new Float32Array([2]))],
        input: [tensorValueInfo('x', FLOAT, ['N', WIDTH]), tensorValueInfo('sr', INT64, [])],
        output: [tensorValueInfo('out', FLOAT, ['N', 1]), tensorValueInfo('classes', FLOAT, ['N', WIDTH]), tensorValueInfo('scaled', FLOAT, ['N', WIDTH])],
      },
    });
    const found = squashedOutputs(vad(branch('else')));
    expect(Object.fromEntries(found)).toEqual({ out: { op: 'sigmoid' }, classes: { op: 'softmax', axis: -1, coerce2d: false } });
    // One branch without a sigmoid: the If's output is not a probability.
    const plain: onnx.IGraphProto = { name: 'else', node: [makeNode('ReduceMean', ['h'], ['e_y'], { name: 'e_mean', attributes: [intsAttr('axes', [1])] })], output: [tensorValueInfo('e_y', FLOAT, ['N', 1])] };
    expect([...squashedOutputs(vad(plain)).keys()]).toEqual(['classes']);
  });

  it('inverts a sigmoid with a clamp at the type\'s resolution next to 1, and centres a softmax\'s log-probabilities per row', () => {
    const eps = squashFloor('float32');
    expect(eps).toBe(2 ** -24);
    expect(squashFloor('float32', 'float16')).toBe(2 ** -11);
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    const l = toLogits(Float32Array.from([sig(-3), sig(0.5), sig(-40), 1, 0]), [5], { op: 'sigmoid' }, eps);
    expect(l[0]).toBeCloseTo(-3, 4);
    expect(l[1]).toBeCloseTo(0.5, 4);
    // Saturated on either side: clamped to ±log((1 − ε)/ε), the same magnitude.
    expect(l[2]).toBeCloseTo(-Math.log((1 - eps) / eps), 3);
    expect(l[3]).toBeCloseTo(Math.log((1 - eps) / eps), 3);
    expect(l[4]).toBeCloseTo(l[2]!, 5);
    // Softmax over axis 1 of [2, 3, 2]: the result is the logits minus their mean along that axis.
    const z = [1, -2, 0.5, 3, -1, 0, 2, 2, -3, 1, 0, 0];
    const dims = [2, 3, 2];
    const p = new Float32Array(12);
    for (let o = 0; o < 2; o++) for (let j = 0; j < 2; j++) {
      const idx = [0, 1, 2].map((c) => o * 6 + c * 2 + j);
      const s = idx.reduce((a, i) => a + Math.exp(z[i]!), 0);
      for (const i of idx) p[i] = Math.exp(z[i]!) / s;
    }
    const centred = toLogits(p, dims, { op: 'softmax', axis: 1, coerce2d: false }, eps);
    for (let o = 0; o < 2; o++) for (let j = 0; j < 2; j++) {
      const idx = [0, 1, 2].map((c) => o * 6 + c * 2 + j);
      const mean = idx.reduce((a, i) => a + z[i]!, 0) / 3;
      for (const i of idx) expect(centred[i]).toBeCloseTo(z[i]! - mean, 4);
    }
    // Opset < 13: the softmax runs over every axis from `axis` on (6 values per row here).
    const q = Float32Array.from(z.map(Math.exp));
    for (let o = 0; o < 2; o++) { const s = q.slice(o * 6, o * 6 + 6).reduce((a, b) => a + b, 0); for (let i = o * 6; i < o * 6 + 6; i++) q[i]! /= s; }
    const flat = toLogits(q, dims, { op: 'softmax', axis: 1, coerce2d: true }, eps);
    for (let o = 0; o < 2; o++) {
      const mean = z.slice(o * 6, o * 6 + 6).reduce((a, b) => a + b, 0) / 6;
      for (let i = o * 6; i < o * 6 + 6; i++) expect(flat[i]).toBeCloseTo(z[i]! - mean, 4);
    }
  });

  it('passes a logit shift that is harmless on saturated probabilities, whose probability SNR is terrible', async () => {
    // Logits around −10 (probabilities of 1e-6..1e-3, a detector's map on noise); the candidate's are 0.5 higher
    // everywhere (a bias or zero-point moved by quantization): each probability is 1.65× the reference's.
    const b = new Float32Array(WIDTH).fill(-10);
    const ref = path.join(dir, 'ref.onnx'), cand = path.join(dir, 'shifted.onnx');
    saveModel(sigmoidHead(w, b), ref);
    saveModel(sigmoidHead(w, b.map((v) => v + 0.5)), cand);
    const f = await measureFidelity(candidate('reference', ref), candidate('shifted', cand), dataset(48), { samples: 48, threads: 1 });
    const o = f.outputs[0]!;
    expect(o.squash).toBe('sigmoid');
    expect(o.output_snr_db!).toBeLessThan(10);
    expect(o.logit_snr_db!).toBeGreaterThan(20);
    expect(o.max_abs_error).toBeLessThan(0.01);
    expect(o.domain).toBe('logit');
    expect(o.snr_db).toBe(o.logit_snr_db);
    // The gate reads the judged figure, and report.json says which domain it was measured in.
    expect(f.snr_db).toBe(o.snr_db);
    expect(f.snr_db).toBeGreaterThan(20);
    const r = fidelityReport(f).outputs[0]!;
    expect(r).toMatchObject({ name: 'prob', domain: 'logit', squash: 'sigmoid' });
    expect(r.output_snr_db).toBeCloseTo(o.output_snr_db!, 6);
    // report.md's quality cell says the figure is on the logits.
    const row = candidateRow(reportCandidate('shifted', 1000, NaN, 1, [], { accuracy: null, agreement: null, fidelity: fidelityReport(f) }), undefined, null);
    expect(row[2]).toMatch(/^\d+\.\d dB SNR \(logits\)/);
  });

  it('still fails a candidate that moves the probabilities that matter, even when its saturated logits agree', async () => {
    // 56 columns saturated near a logit of −14, 8 columns in the decision region around 0; the candidate triples
    // the weights of those 8 columns, moving their probabilities by up to ~0.4. The saturated columns dominate
    // the logit signal, so the logit SNR alone would pass: the probabilities' peak error caps it.
    const b = Float32Array.from({ length: WIDTH }, (_, i) => (i < 8 ? 0 : -14));
    const bad = Float32Array.from(w, (v, i) => (i % WIDTH < 8 ? v * 3 : v));
    const ref = path.join(dir, 'ref2.onnx'), cand = path.join(dir, 'bad.onnx');
    saveModel(sigmoidHead(w, b), ref);
    saveModel(sigmoidHead(bad, b), cand);
    const f = await measureFidelity(candidate('reference', ref), candidate('bad', cand), dataset(48), { samples: 48, threads: 1 });
    const o = f.outputs[0]!;
    expect(o.logit_snr_db!).toBeGreaterThan(20);
    expect(o.max_abs_error).toBeGreaterThan(0.1);
    expect(o.snr_db).toBeLessThan(20);
    expect(o.snr_db).toBeCloseTo(Math.max(o.output_snr_db!, -20 * Math.log10(o.max_abs_error)), 6);
    // A candidate wrong everywhere fails in both domains.
    const wrong = path.join(dir, 'wrong.onnx');
    saveModel(sigmoidHead(randn(WIDTH * WIDTH, 0.3, rng(99)), b), wrong);
    const g = await measureFidelity(candidate('reference', ref), candidate('wrong', wrong), dataset(48), { samples: 48, threads: 1 });
    expect(g.outputs[0]!.logit_snr_db!).toBeLessThan(20);
    expect(g.snr_db).toBeLessThan(20);
  });
});
