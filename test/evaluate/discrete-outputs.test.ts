/**
 * Discrete outputs (an index, a peak mask, an integer): found from the graph, reported with their
 * exact-match rate, and not the output fidelity judges while a continuous one exists.
 */
import Long from 'long';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onnx, saveModel, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { intAttr, intsAttr, makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { discreteOutputs } from '../../src/model/discrete.js';
import { ReferenceOutputs, measureFidelity, outputFacts } from '../../src/evaluate/fidelity.js';
import { randn, rng } from '../passes/fixtures.js';
import { arrayDataset as dataset, onnxCandidate as candidate } from './fixtures.js';

const INT64 = onnx.TensorProto.DataType.INT64;

/**
 * x [N, 64] → MatMul (w, 64×64) → Sigmoid `heat` [N, 1, 8, 8]; `peaks` = heat · (heat == MaxPool3x3(heat)) (the
 * peak mask of a line or keypoint detector); `cls` = ArgMax of the flat heat map (int64); `gated` = the
 * MatMul output masked by x > 0.5, a decision on the input only (the same for any candidate).
 */
function detector(scale = 1): Model {
  const w = randn(64 * 64, 0.3, rng(7)).map((v) => v * scale);
  const nodes = [
    makeNode('MatMul', ['x', 'w'], ['h'], { name: 'fc' }),
    makeNode('Reshape', ['h', 'shape'], ['h4'], { name: 'reshape' }),
    makeNode('Sigmoid', ['h4'], ['heat'], { name: 'sigmoid' }),
    makeNode('MaxPool', ['heat'], ['pooled'], { name: 'pool', attributes: [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])] }),
    makeNode('Equal', ['heat', 'pooled'], ['is_peak'], { name: 'equal' }),
    makeNode('Cast', ['is_peak'], ['mask'], { name: 'cast', attributes: [intAttr('to', FLOAT)] }),
    makeNode('Mul', ['heat', 'mask'], ['peaks'], { name: 'mul' }),
    makeNode('Flatten', ['heat'], ['flat'], { name: 'flatten', attributes: [intAttr('axis', 1)] }),
    makeNode('ArgMax', ['flat'], ['cls'], { name: 'argmax', attributes: [intAttr('axis', 1), intAttr('keepdims', 0)] }),
    makeNode('Greater', ['x', 'half'], ['on'], { name: 'greater' }),
    makeNode('Cast', ['on'], ['onf'], { name: 'cast_on', attributes: [intAttr('to', FLOAT)] }),
    makeNode('Mul', ['h', 'onf'], ['gated'], { name: 'gate' }),
  ];
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8), producerName: 'modelgate-test', opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'g', node: nodes,
      initializer: [makeTensor('w', [64, 64], w), makeTensor('shape', [4], new BigInt64Array([-1n, 1n, 8n, 8n]), INT64), makeTensor('half', [], new Float32Array([0.5]))],
      input: [tensorValueInfo('x', FLOAT, ['N', 64])],
      output: [tensorValueInfo('peaks', FLOAT, ['N', 1, 8, 8]), tensorValueInfo('heat', FLOAT, ['N', 1, 8, 8]), tensorValueInfo('cls', INT64, ['N']), tensorValueInfo('gated', FLOAT, ['N', 64])],
    },
  });
}


describe('discrete outputs', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-discrete-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the outputs computed through a decision on computed values, not on inputs or shapes', () => {
    expect([...discreteOutputs(detector())].sort()).toEqual(['cls', 'peaks']);
    // A decision inside an If body reaches the If's outputs; an If on an input (sr == 16000) does not make them discrete.
    const body = (decide: boolean): onnx.IGraphProto => ({
      name: decide ? 'then' : 'else',
      node: decide
        ? [makeNode('Greater', ['h', 'zero'], ['pos'], { name: 'pos' }), makeNode('Cast', ['pos'], ['posf'], { name: 'posf', attributes: [intAttr('to', FLOAT)] }), makeNode('Mul', ['h', 'posf'], ['y'], { name: 'relu_by_mask' })]
        : [makeNode('Relu', ['h'], ['y'], { name: 'relu' })],
      output: [tensorValueInfo('y', FLOAT, ['N', 64])],
    });
    const withIf = (decide: boolean): Model => onnx.ModelProto.create({
      irVersion: Long.fromNumber(8), opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
      graph: {
        name: 'g',
        node: [
          makeNode('MatMul', ['x', 'w'], ['h'], { name: 'fc' }),
          makeNode('Equal', ['sr', 'rate'], ['is16k'], { name: 'is16k' }),
          makeNode('If', ['is16k'], ['out'], { name: 'branch', attributes: [{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: body(decide) }, { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: body(false) }] }),
        ],
        initializer: [makeTensor('w', [64, 64], randn(64 * 64, 0.3, rng(1))), makeTensor('rate', [], new BigInt64Array([16000n]), INT64), makeTensor('zero', [], new Float32Array([0]))],
        input: [tensorValueInfo('x', FLOAT, ['N', 64]), tensorValueInfo('sr', INT64, [])],
        output: [tensorValueInfo('out', FLOAT, ['N', 64])],
      },
    });
    expect([...discreteOutputs(withIf(false))]).toEqual([]);
    expect([...discreteOutputs(withIf(true))]).toEqual(['out']);
  });

  it('judges the continuous outputs on SNR and reports an exact-match rate for the discrete ones', async () => {
    const ref = path.join(dir, 'ref.onnx');
    const cand = path.join(dir, 'cand.onnx');
    saveModel(detector(), ref);
    // 2% larger weights: every continuous output moves a little (about 30 dB), and some peaks of the mask move to a neighbour.
    saveModel(detector(1.02), cand);
    const f = await measureFidelity(candidate('reference', ref), candidate('scaled', cand), dataset(64, 48), { samples: 48, threads: 1 });
    const by = Object.fromEntries(f.outputs.map((o) => [o.name, o]));
    expect(by.peaks!.discrete).toBe(true);
    expect(by.cls!.discrete).toBe(true);
    expect(by.heat!.discrete).toBeUndefined();
    expect(by.gated!.discrete).toBeUndefined();
    // Every discrete output has its exact-match rate; a broken tie costs the peaks map more SNR than the scale does.
    expect(by.peaks!.exact_match).toBeGreaterThan(0);
    expect(by.peaks!.exact_match).toBeLessThan(1);
    expect(by.cls!.exact_match).toBeGreaterThanOrEqual(0);
    expect(by.cls!.exact_match).toBeLessThanOrEqual(1);
    expect(by.gated!.snr_db).toBeCloseTo(-20 * Math.log10(0.02), 1);
    // The worst output the gate reads is a continuous one, whatever the discrete ones read.
    expect(['heat', 'gated']).toContain(f.worst_output);
    expect(f.snr_db).toBe(Math.min(by.heat!.snr_db, by.gated!.snr_db));
    // When every output is discrete, the worst of them is judged (nothing is left unjudged).
    const onlyDiscrete = detector();
    onlyDiscrete.graph!.output = onlyDiscrete.graph!.output!.filter((o) => o.name === 'peaks' || o.name === 'cls');
    const onlyDiscrete2 = detector(1.02);
    onlyDiscrete2.graph!.output = onlyDiscrete2.graph!.output!.filter((o) => o.name === 'peaks' || o.name === 'cls');
    saveModel(onlyDiscrete, path.join(dir, 'ref2.onnx'));
    saveModel(onlyDiscrete2, path.join(dir, 'cand2.onnx'));
    const g = await measureFidelity(candidate('reference', path.join(dir, 'ref2.onnx')), candidate('scaled', path.join(dir, 'cand2.onnx')), dataset(64, 48), { samples: 48, threads: 1 });
    expect(g.outputs.every((o) => o.discrete)).toBe(true);
    // On real inputs a flipped decision is a changed answer: the discrete outputs stay judged, and so are their decision inputs.
    const inputs = g.decision_inputs!.map((d) => d.snr_db!);
    expect(g.decision_inputs!.map((d) => d.tensor)).toEqual(['heat', 'pooled', 'flat']);
    expect(g.snr_db).toBe(Math.min(...g.outputs.map((o) => o.snr_db), ...inputs));
    // On synthetic inputs the decision inputs stand for the discrete outputs, whose SNR counts broken near-ties.
    const s = await measureFidelity(candidate('reference', path.join(dir, 'ref2.onnx')), candidate('scaled', path.join(dir, 'cand2.onnx')), dataset(64, 48, true), { samples: 48, threads: 1 });
    expect(s.worst_kind).toBe('decision_input');
    expect(s.snr_db).toBe(Math.min(...inputs));
  });

  it('keeps the reference outputs between measurements against the same reference (the search runs it once)', async () => {
    const ref = path.join(dir, 'cached-ref.onnx');
    const cand = path.join(dir, 'cached-cand.onnx');
    saveModel(detector(), ref);
    saveModel(detector(1.02), cand);
    const cache = new ReferenceOutputs();
    const first = await measureFidelity(candidate('reference', ref), candidate('scaled', cand), dataset(64, 48), { samples: 48, threads: 1, referenceOutputs: cache });
    // The reference file is gone: the second measurement can only have read the kept outputs.
    renameSync(ref, `${ref}.moved`);
    const second = await measureFidelity(candidate('reference', ref), candidate('scaled', cand), dataset(64, 48), { samples: 48, threads: 1, referenceOutputs: cache, outputs: outputFacts(detector()) });
    expect(second).toEqual(first);
    // A cache too small to keep anything runs the reference each time.
    await expect(measureFidelity(candidate('reference', ref), candidate('scaled', cand), dataset(64, 48), { samples: 48, threads: 1, referenceOutputs: new ReferenceOutputs(16) })).rejects.toThrow(/cached-ref\.onnx/);
  });
});
