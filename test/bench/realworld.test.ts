import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, encodeModel, onnx } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { describeModel } from '../../bench/realworld/describe.js';
import { fidelityFigure, hasQuality, readResult, smallAndFast, type CorpusModel } from '../../bench/realworld/readout.js';

const corpus = (JSON.parse(readFileSync('bench/realworld/corpus.json', 'utf8')) as { models: CorpusModel[] }).models;

describe('real-world corpus', () => {
  it('has at least 15 pinned, checksummed models by others, 5+ of them stateful, old-opset, dense or fp16', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(15);
    expect(new Set(corpus.map((m) => m.id)).size).toBe(corpus.length);
    for (const m of corpus) {
      expect(m.version, m.id).toMatch(/^\d+\.\d+\.\d+$/);
      expect(m.license.length, m.id).toBeGreaterThan(0);
      expect(m.sha256[path.basename(m.path)], `${m.id}: sha256 of ${m.path}`).toMatch(/^[0-9a-f]{64}$/);
      // None of the models the tests use (libonnx-testdata's cases, the project's examples).
      expect(m.package, m.id).not.toMatch(/libonnx-testdata|modelgate/);
    }
    const hard = corpus.filter((m) => m.tags.some((t) => ['stateful', 'opset<11', 'dense', 'fp16'].includes(t)));
    expect(hard.length).toBeGreaterThanOrEqual(5);
    for (const tag of ['stateful', 'opset<11', 'dense', 'fp16']) expect(corpus.some((m) => m.tags.includes(tag)), tag).toBe(true);
    for (const format of ['onnx', 'tflite', 'tfjs-layers', 'tfjs-graph']) expect(corpus.some((m) => m.format === format), format).toBe(true);
  });

  it('describe counts float weights wherever they sit: initializers, fp16, Constant nodes inside If bodies', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'realworld-describe-'));
    const f32 = (name: string, n: number) => makeTensor(name, [n], new Float32Array(n).fill(0.5));
    const half = makeTensor('h', [8], new Uint16Array(8).fill(0x3c00), DataType.FLOAT16);
    const branch = (n: number) => onnx.GraphProto.create({
      name: `b${n}`,
      node: [onnx.NodeProto.create({ opType: 'Constant', output: [`k${n}`], attribute: [onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: f32(`k${n}`, n) })] })],
      output: [onnx.ValueInfoProto.create({ name: `k${n}` })],
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 9 })],
      graph: onnx.GraphProto.create({
        name: 'g',
        initializer: [f32('w', 100), half],
        input: [
          onnx.ValueInfoProto.create({ name: 'cond', type: { tensorType: { elemType: DataType.BOOL, shape: { dim: [] } } } }),
          onnx.ValueInfoProto.create({ name: 'state', type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 2 }, { dimParam: 'batch' }, { dimValue: 4 }] } } } }),
        ],
        node: [onnx.NodeProto.create({
          opType: 'If', input: ['cond'], output: ['y'],
          attribute: [
            onnx.AttributeProto.create({ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch(10) }),
            onnx.AttributeProto.create({ name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch(20) }),
          ],
        })],
        output: [onnx.ValueInfoProto.create({ name: 'y' })],
      }),
    });
    const file = path.join(dir, 'm.onnx');
    writeFileSync(file, encodeModel(model));
    const d = describeModel(file);
    expect(d.format).toBe('onnx');
    expect(d.opset).toBe(9);
    expect(d.fp32Bytes).toBe(4 * (100 + 10 + 20));
    expect(d.fp16Bytes).toBe(2 * 8);
    expect(d.constantFloatBytes).toBe(4 * 30);
    expect(d.subgraphs).toBe(1);
    expect(d.inputs).toEqual(['cond[]', 'state[2,batch,4]']);
  });
});

describe('realworld read-out', () => {
  const root = '/repo';
  function workFolder(report: unknown, stderr = ''): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'realworld-readout-'));
    mkdirSync(path.join(dir, 'out'));
    if (report) writeFileSync(path.join(dir, 'out', 'report.json'), JSON.stringify(report));
    writeFileSync(path.join(dir, 'stderr.txt'), stderr);
    return dir;
  }
  const run = { ran_at: '2026-12-04 21:00', seconds: 10, exit: 0, timed_out: false };
  const latency = (p50: number, ratio?: number, ci?: [number, number]) => ({ p50_ms: p50, ...(ratio !== undefined ? { ratio, ratio_ci95: ci } : {}) });

  it('reports a candidate without accuracy, agreement or fidelity as having no quality figure', () => {
    const dir = workFolder({
      reference: 'reference', selected: 'reference',
      candidates: [
        { id: 'reference', bytes: 1000, accuracy: null, agreement: null, latency: latency(1) },
        { id: 'auto', bytes: 1000, accuracy: null, agreement: null, latency: latency(1, 0.99, [0.95, 1.03]) },
      ],
    });
    const r = readResult('m', dir, run, null, root);
    expect(r.quality).toEqual([{ id: 'auto', figure: null }]);
    expect(hasQuality(r)).toBe(false);
    expect(r.size_ratio).toBe(1);
    expect(r.p50_ratio).toBe(1);
    expect(smallAndFast(r)).toBe(false);
  });

  it("counts auto's trials as its candidates when it kept the reference, and needs a figure for each built trial", () => {
    const kept = (tried: unknown[]) => workFolder({
      reference: 'reference', selected: 'reference',
      candidates: [
        { id: 'reference', bytes: 1000, accuracy: null, agreement: null, latency: latency(1) },
        { id: 'auto', bytes: 1000, accuracy: null, agreement: null, latency: null, unchanged: true, auto: { tried } },
      ],
    });
    const measured = readResult('m', kept([
      { id: 'static', bytes: 300, drop: 0.4, outcome: 'over the accuracy budget' },
      { id: 'weight_only', bytes: 260, drop: 0.001, outcome: 'slower than fp32' },
      { id: 'static-excl1', bytes: null, drop: null, outcome: 'skipped: time budget' },
    ]), run, null, root);
    expect(measured.quality).toEqual([{ id: 'auto', figure: 'kept reference; 2 trials with a quality figure' }]);
    expect(hasQuality(measured)).toBe(true);
    expect(smallAndFast(measured)).toBe(false);
    const unmeasured = readResult('m', kept([{ id: 'static', bytes: 300, drop: null, outcome: 'failed' }]), run, null, root);
    expect(hasQuality(unmeasured)).toBe(false);
    expect(hasQuality(readResult('m', kept([]), run, null, root))).toBe(false);
  });

  it('takes the worst SNR of a fidelity record, and counts ≤ 0.5× and not significantly slower', () => {
    expect(fidelityFigure({ worst_output: 'y', outputs: [{ name: 'y', snr_db: 31.21, cosine: 0.999 }, { name: 'z', snr_db: 48 }] })).toBe('snr 31.2 dB');
    expect(fidelityFigure({ cosine: 0.98765 })).toBe('cos 0.9877');
    // The judged figure (a probability output judged on its logits) before the per-output parts.
    expect(fidelityFigure({ snr_db: 29.7, outputs: [{ name: 'p', snr_db: 29.7, output_snr_db: 10.0, logit_snr_db: 29.7 }] })).toBe('snr 29.7 dB');
    const candidates = (ci: [number, number]) => [
      { id: 'reference', bytes: 1000, accuracy: null, agreement: null, latency: latency(2) },
      { id: 'auto', bytes: 260, accuracy: null, agreement: null, fidelity: { snr_db: 40 }, latency: latency(1.9, 0.97, ci) },
    ];
    const fast = readResult('m', workFolder({ reference: 'reference', selected: 'auto', candidates: candidates([0.93, 1.02]) }), run, null, root);
    expect(fast.quality).toEqual([{ id: 'auto', figure: 'snr 40.0 dB' }]);
    // Where the gate judged fidelity, agreement on the same candidate is not the figure shown.
    const judged = readResult('m', workFolder({ reference: 'reference', selected: 'auto', candidates: [
      { id: 'reference', bytes: 1000, accuracy: null, agreement: null, latency: latency(2) },
      { id: 'auto', bytes: 260, accuracy: null, agreement: 0, fidelity: { snr_db: 31.7 }, checks: [{ name: 'fidelity_min_snr_db', passed: true }], latency: latency(1, 0.5, [0.49, 0.51]) },
    ] }), run, null, root);
    expect(judged.quality).toEqual([{ id: 'auto', figure: 'snr 31.7 dB' }]);
    expect(fast.size_ratio).toBeCloseTo(0.26, 10);
    expect(smallAndFast(fast)).toBe(true);
    const slow = readResult('m', workFolder({ reference: 'reference', selected: 'auto', candidates: candidates([1.03, 1.2]) }), run, null, root);
    expect(smallAndFast(slow)).toBe(false);
  });

  it("keeps a multi-line ORT error on one line, without ORT's advice or the checkout's path", () => {
    const stderr = '  ✓ loading\nmodelgate: /repo/bench/work/m/model.onnx: inference failed: Got invalid dimensions for input: state for the following indices\n index: 0 Got: 1 Expected: 2\n Please fix either the inputs/outputs or the model.\nreport: out/report.json\n';
    const r = readResult('m', workFolder(null, stderr), { ...run, exit: 2 }, null, root);
    expect(r.error).toBe('bench/work/m/model.onnx: inference failed: Got invalid dimensions for input: state for the following indices index: 0 Got: 1 Expected: 2');
    expect(r.quality).toEqual([]);
    expect(hasQuality(r)).toBe(false);
    const timedOut = readResult('m', workFolder(null), { ...run, exit: null, timed_out: true }, 'timed out after 5 s', root);
    expect(timedOut.error).toBe('timed out after 5 s');
  });
});
