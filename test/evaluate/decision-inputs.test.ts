/**
 * A discrete output's decision inputs: the continuous tensor an ArgMax decides on (and the one a GatherElements
 * picks at the argmax) is exposed in copies of the reference and the candidate and judged in the discrete
 * output's place on synthetic inputs, where every near-tie the candidate breaks the other way would otherwise
 * sink the output's SNR.
 */
import Long from 'long';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onnx, saveModel, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { intAttr, intsAttr, makeNode, tensorValueInfo, FLOAT } from '../../src/model/graph.js';
import { decisionInputs } from '../../src/model/discrete.js';
import { measureFidelity, outputFacts, type Fidelity } from '../../src/evaluate/fidelity.js';
import { gateSubject } from '../../src/gate/result.js';
import { checkAgainst, resolveBudgets } from '../../src/gate/rules.js';
import { runGate } from '../../src/commands/run.js';
import { checkReport } from '../../src/report/validate.js';
import { searchAuto } from '../../src/search/env.js';
import { randn, rng, testContext } from '../passes/fixtures.js';
import { runRecipe } from '../../src/passes/registry.js';
import { arrayDataset as dataset, onnxCandidate as candidate } from './fixtures.js';

const WIDTH = 64;
const K = 256;

/**
 * x [N, 64] → MatMul (w, 64×256) `heat` [N, 256] → ArgMax `idx` [N, 1]; the heat at the argmax (GatherElements)
 * is the score; the one output `keypoint` [N, 2] = [float(idx), score], a keypoint head in miniature.
 * The weight columns share most of their values, so the heat map is nearly flat (a picture with nothing to
 * find): its top values are near-ties. `noise` adds seeded noise of that standard deviation to the weights
 * (a candidate whose heat map moves a little).
 */
function keypointModel(noise = 0, seed = 9): Model {
  const shared = randn(WIDTH, 0.3, rng(5));
  const own = randn(WIDTH * K, 0.03, rng(6));
  const w = Float32Array.from(own, (v, i) => shared[Math.floor(i / K)]! + v);
  if (noise > 0) {
    const n = randn(WIDTH * K, noise, rng(seed));
    for (let i = 0; i < w.length; i++) w[i]! += n[i]!;
  }
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8), producerName: 'modelgate-test', opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'g',
      node: [
        makeNode('MatMul', ['x', 'w'], ['heat'], { name: 'head' }),
        makeNode('ArgMax', ['heat'], ['idx'], { name: 'peak', attributes: [intAttr('axis', 1), intAttr('keepdims', 1)] }),
        makeNode('Cast', ['idx'], ['idx_f'], { name: 'to_float', attributes: [intAttr('to', FLOAT)] }),
        makeNode('GatherElements', ['heat', 'idx'], ['score'], { name: 'score_at_peak', attributes: [intAttr('axis', 1)] }),
        makeNode('Concat', ['idx_f', 'score'], ['keypoint'], { name: 'keypoint', attributes: [intAttr('axis', 1)] }),
      ],
      initializer: [makeTensor('w', [WIDTH, K], w)],
      input: [tensorValueInfo('x', FLOAT, ['N', WIDTH])],
      output: [tensorValueInfo('keypoint', FLOAT, ['N', 2])],
    },
  });
}

/**
 * A segmenter in miniature: x [N, 3, 16, 16] → Conv 3x3 → Relu → Conv 1x1 to 16 classes → Mul by a per-class
 * scale (an exported BatchNormalization, which cleanup folds into the Conv) `logits` → ArgMax over the classes
 * → Cast: the one output `mask` [N, 1, 16, 16] is the class of each pixel.
 */
function segmenterModel(): Model {
  const rand = rng(21);
  const C = 16;
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8), producerName: 'modelgate-test', opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'g',
      node: [
        makeNode('Conv', ['x', 'w1', 'b1'], ['c1'], { name: 'conv1', attributes: [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])] }),
        makeNode('Relu', ['c1'], ['r1'], { name: 'relu1' }),
        makeNode('Conv', ['r1', 'w2', 'b2'], ['c2'], { name: 'classifier', attributes: [intsAttr('kernel_shape', [1, 1])] }),
        makeNode('Mul', ['c2', 'scale'], ['logits'], { name: 'bn_scale' }),
        makeNode('ArgMax', ['logits'], ['classes'], { name: 'per_pixel_class', attributes: [intAttr('axis', 1), intAttr('keepdims', 1)] }),
        makeNode('Cast', ['classes'], ['mask'], { name: 'to_float', attributes: [intAttr('to', FLOAT)] }),
      ],
      initializer: [
        makeTensor('w1', [32, 3, 3, 3], randn(32 * 27, 0.3, rand)), makeTensor('b1', [32], randn(32, 0.1, rand)),
        makeTensor('w2', [C, 32, 1, 1], randn(C * 32, 0.3, rand)), makeTensor('b2', [C], randn(C, 0.1, rand)),
        makeTensor('scale', [1, C, 1, 1], Float32Array.from({ length: C }, (_, i) => 0.8 + 0.025 * i)),
      ],
      input: [tensorValueInfo('x', FLOAT, ['N', 3, 16, 16])],
      output: [tensorValueInfo('mask', FLOAT, ['N', 1, 16, 16])],
    },
  });
}

/** The gate's quality check (accuracy_drop_max, read as fidelity without labels) of a candidate with this fidelity. */
function qualityCheck(f: Fidelity) {
  const subject = gateSubject({ candidate: { id: 'cand', file: '', bytes: 1, runtimeKind: 'onnxruntime', runtimeOptions: {}, batch: { kind: 'dynamic' }, provenance: { kind: 'reference' } }, fidelity: f }, false, true);
  const baseline = { id: 'reference', bytes: 1, accuracy: null, agreement: null, loss: null, p50_ms: 1 };
  return checkAgainst(subject, { baseline, name: 'the reference', latency: { ratio: 1, ci95: [1, 1], verdict: 'within noise' } }, resolveBudgets({}), 'top1').find((c) => c.name === 'fidelity_min_snr_db')!;
}

describe('decision inputs', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-decision-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the continuous tensors where a discrete output turns discrete, with the nodes that read them', () => {
    expect(decisionInputs(keypointModel())).toEqual([{
      tensor: 'heat',
      readers: [
        { node: 'peak', op_type: 'ArgMax', input_index: 0, role: 'decision' },
        { node: 'score_at_peak', op_type: 'GatherElements', input_index: 0, role: 'combined' },
      ],
      outputs: ['keypoint'],
    }]);
    // A continuous output has none; a weight or a model input is no decision input (only computed activations are).
    const m = keypointModel();
    m.graph!.node!.push(makeNode('ArgMax', ['x'], ['on_input'], { name: 'input_peak', attributes: [intAttr('axis', 1)] }));
    m.graph!.output!.push(tensorValueInfo('heat', FLOAT, ['N', K]), tensorValueInfo('on_input', onnx.TensorProto.DataType.INT64, ['N', 1]));
    expect(decisionInputs(m).map((d) => d.tensor)).toEqual(['heat']);
  });

  it('on synthetic inputs, judges the ArgMax input instead of an output whose near-ties flip; a damaged heat map still fails', async () => {
    const ref = path.join(dir, 'ref.onnx');
    saveModel(keypointModel(), ref);
    const near = path.join(dir, 'near.onnx');
    saveModel(keypointModel(0.004), near); // int8-sized weight noise
    const damaged = path.join(dir, 'damaged.onnx');
    saveModel(keypointModel(0.3, 17), damaged); // noise as large as the weights
    const data = dataset(WIDTH, 64, true);
    const f = await measureFidelity(candidate('reference', ref), candidate('near', near), data, { samples: 64, threads: 1 });
    const out = f.outputs[0]!;
    // The output flips on near-ties: its own SNR is what the gate read before, far below the 20 dB budget.
    expect(out.discrete).toBe(true);
    expect(out.exact_match!).toBeLessThan(0.99);
    expect(out.snr_db).toBeLessThan(20);
    expect(out.decision_inputs).toEqual(['heat']);
    const heat = f.decision_inputs![0]!;
    expect(heat).toMatchObject({ tensor: 'heat', candidate_tensor: 'heat', outputs: ['keypoint'] });
    expect(heat.missing).toBeUndefined();
    expect(heat.snr_db!).toBeGreaterThan(30);
    expect(f).toMatchObject({ worst_output: 'heat', worst_kind: 'decision_input', snr_db: heat.snr_db });
    const pass = qualityCheck(f);
    expect(pass.passed).toBe(true);
    expect(pass.message).toContain("the decision input 'heat' (read by ArgMax 'peak', GatherElements 'score_at_peak', for discrete output 'keypoint')");

    const bad = await measureFidelity(candidate('reference', ref), candidate('damaged', damaged), data, { samples: 64, threads: 1 });
    expect(bad.worst_kind).toBe('decision_input');
    expect(bad.snr_db).toBeLessThan(10);
    expect(qualityCheck(bad).passed).toBe(false);

    // On real (not synthetic) inputs a flipped decision is a changed answer: the output stays judged as well.
    const real = await measureFidelity(candidate('reference', ref), candidate('near', near), dataset(WIDTH, 64, false), { samples: 64, threads: 1 });
    expect(real.worst_kind).toBe('output');
    expect(real.snr_db).toBe(real.outputs[0]!.snr_db);
    expect(real.decision_inputs![0]!.snr_db).toBe(heat.snr_db);
  });

  it('falls back to the output itself when the candidate has no such tensor, and says why', async () => {
    const ref = path.join(dir, 'ref-fb.onnx');
    saveModel(keypointModel(), ref);
    const renamed = keypointModel(0.004);
    for (const n of renamed.graph!.node!) {
      n.name = `${n.name}_v2`;
      n.input = n.input!.map((i) => (i === 'heat' ? 'heat_v2' : i));
      n.output = n.output!.map((o) => (o === 'heat' ? 'heat_v2' : o));
    }
    const cand = path.join(dir, 'renamed.onnx');
    saveModel(renamed, cand);
    const f = await measureFidelity(candidate('reference', ref), candidate('renamed', cand), dataset(WIDTH, 64, true), { samples: 64, threads: 1 });
    expect(f.decision_inputs![0]!.missing).toBe("the candidate has neither ArgMax 'peak' nor GatherElements 'score_at_peak' nor a tensor 'heat' (a pass removed or renamed it)");
    expect(f.outputs[0]!.decision_inputs).toBeUndefined();
    expect(f.outputs[0]!.decision_inputs_missing).toMatch(/^heat: the candidate has neither/);
    expect(f).toMatchObject({ worst_output: 'keypoint', worst_kind: 'output', snr_db: f.outputs[0]!.snr_db });
    // The facts can come from the reference's IR (a caller holding it); the same figures result.
    const g = await measureFidelity(candidate('reference', ref), candidate('renamed', cand), dataset(WIDTH, 64, true), { samples: 64, threads: 1, outputs: outputFacts(keypointModel()) });
    expect(g).toEqual(f);
  });

  it('finds the decision input in every candidate the passes build, and the gate passes the near ones and fails a broken one', async () => {
    const sub = path.join(dir, 'gate');
    saveModel(segmenterModel(), path.join(sub, 'model.onnx'));
    writeFileSync(path.join(sub, 'modelgate.yml'), [
      'model: model.onnx',
      'optimize:',
      '  - { name: static, passes: [{ cleanup: {} }, { quantize: { mode: static } }] }',
      '  - { name: static_only, passes: [{ quantize: { mode: static } }] }',
      '  - { name: weight_only, passes: [{ weight_only: { min_elements: 256 } }] }',
      '  - { name: fp16, passes: [{ fp16: {} }] }',
      '  - { name: cleanup, passes: [{ cleanup: {} }] }',
      '  - { name: broken, passes: [{ prune: { sparsity: 0.9, min_elements: 256 } }] }',
      'benchmark: { warmup: 2, runs: 10, measurements: 1 }',
      'gate: { latency_ratio_max: 100 }',
      '',
    ].join('\n'));
    const r = await runGate({ configPath: path.join(sub, 'modelgate.yml'), outDir: path.join(sub, 'out') });
    expect(r.error).toBeUndefined();
    expect(checkReport(JSON.parse(JSON.stringify(r.report)))).not.toHaveProperty('errors');
    const by = Object.fromEntries(r.report.candidates.map((c) => [c.id, c]));
    const ids = ['static', 'static_only', 'weight_only', 'fp16', 'cleanup'];
    for (const id of [...ids, 'broken']) {
      const f = by[id]!.fidelity!;
      const logits = f.decision_inputs![0]!;
      expect(logits, id).toMatchObject({ tensor: 'logits', readers: [{ node: 'per_pixel_class', op_type: 'ArgMax', input_index: 0, role: 'decision' }], outputs: ['mask'] });
      expect(logits.missing, id).toBeUndefined();
      expect(f.worst_kind, id).toBe('decision_input');
      expect(f.outputs[0]!.decision_inputs, id).toEqual(['logits']);
    }
    // cleanup folds the Mul into the Conv; static QDQ after it makes the ArgMax read a dequantized copy, the value the candidate decides on.
    expect(by.static!.fidelity!.decision_inputs![0]!.candidate_tensor).toBe('logits_dequantized');
    expect(by.cleanup!.fidelity!.decision_inputs![0]!.candidate_tensor).toBe('logits');
    for (const id of ['static', 'weight_only', 'fp16']) expect(by[id]!.fidelity!.snr_db, id).not.toBeNull(); // each changed the logits
    for (const id of ids) {
      expect(by[id]!.fidelity!.snr_db ?? Infinity, id).toBeGreaterThan(25); // null: identical (cleanup's fold is exact here)
      expect(by[id]!.checks.find((k) => k.name === 'fidelity_min_snr_db')!.passed, id).toBe(true);
    }
    // int8 moves some pixels across a class boundary: the mask's own SNR, which the gate read before, counts them.
    expect(by.static!.fidelity!.outputs[0]!.exact_match!).toBeLessThan(1);
    expect(by.broken!.fidelity!.snr_db!).toBeLessThan(12);
    expect(by.broken!.checks.find((k) => k.name === 'fidelity_min_snr_db')!.passed).toBe(false);
    expect(r.report.selected).not.toBe('broken');
    expect(r.markdown).toContain('Discrete outputs and their decision inputs');
    expect(r.markdown).toMatch(/\| (\*\*static\*\* ⭐|static) \| [^|]+ \| \d+\.\d dB SNR \(ArgMax input\) \|/);
    expect(r.markdown).toContain("the candidate's `logits_dequantized`");
  }, 120_000);

  it('auto accepts a weight_only model whose ArgMax flips near-ties on synthetic inputs', async () => {
    // What the gate read before: weight_only's keypoint output, whose near-ties flip, is far under 20 dB.
    const ref = path.join(dir, 'auto-ref.onnx');
    const wo = path.join(dir, 'auto-weight-only.onnx');
    saveModel(keypointModel(), ref);
    saveModel((await runRecipe(keypointModel(), [{ weight_only: {} }], testContext(() => []))).model, wo);
    const f = await measureFidelity(candidate('reference', ref), candidate('weight_only', wo), dataset(WIDTH, 64, true), { samples: 64, threads: 1 });
    expect(f.outputs[0]!.snr_db).toBeLessThan(20);
    expect(f.decision_inputs![0]!.snr_db!).toBeGreaterThan(30);
    const result = await searchAuto('auto', { time_budget_s: 30, recipes: ['weight_only'], latency_ratio_max: 100 }, undefined, {
      model: keypointModel(), dataset: dataset(WIDTH, 64, true), inputs: [{ name: 'x', dtype: 'float32', shape: [1, WIDTH], dynamicBatch: true }],
      metric: 'top1', benchmark: { batch: 1, threads: 1, warmup: 2, runs: 10, measurements: 1 }, log: () => {},
    });
    const r = result.report;
    expect(r.quality_basis).toBe('fidelity');
    const base = r.tried.find((t) => t.stage === 'base' && t.id === 'weight_only')!;
    expect(base.drop).not.toBeNull();
    expect(base.drop!).toBeLessThan(0.01); // the heat map's noise, under the 20 dB budget
    expect(result.winner).not.toBe('reference');
  }, 60_000);
});
