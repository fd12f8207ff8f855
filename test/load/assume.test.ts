/**
 * Dims that neither the model nor the config fixes: chosen by running the reference model
 * (src/load/assume.ts), recorded in report.json and shown in report.md and the comment; exit 2 only
 * when no value of the documented lists runs.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadProject } from '../../src/load/project.js';
import { runGate } from '../../src/commands/run.js';
import { renderComment } from '../../src/report/comment.js';
import { saveModel, onnx } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { writeTfjsLayersModel } from '../../src/formats/tfjs/files.js';
import { writeNpy } from '../../src/data/npy.js';
import { F, I64, buildModel, int, tmp } from '../data/models.js';
import { T, node, placeholder, writeGraphModel } from '../support/tfjs-graph-fixtures.js';
import { buildTinyDecoder } from '../support/tiny-decoder.js';

const quiet = { log: () => {} };

function write(dir: string, model: onnx.ModelProto, extra = ''): string {
  saveModel(model, path.join(dir, 'm.onnx'));
  writeFileSync(path.join(dir, 'modelgate.yml'), `model: m.onnx\n${extra}`);
  return path.join(dir, 'modelgate.yml');
}

/** y = x reshaped to [-1, n]: runs only when a row of x is a multiple of n long. */
function needs(n: number): onnx.ModelProto {
  return buildModel(
    [{ opType: 'Reshape', input: ['x', 'shape'], output: ['y'] }],
    [['x', F, ['batch', 'seq']]],
    [['y', F, ['rows', n]]],
    [makeTensor('shape', [2], BigInt64Array.of(-1n, BigInt(n)))],
  );
}

describe('dims the model and the config leave open', () => {
  it('gives the height and width of an image-like input 224, and records why', async () => {
    const model = buildModel(
      [{ opType: 'ReduceMean', input: ['img'], output: ['y'], attribute: [{ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [2, 3] }, int('keepdims', 0)] }],
      [['img', F, ['N', 3, 'height', '']]],
      [['y', F, ['N', 3]]],
    );
    model.opsetImport = [{ domain: '', version: 13 }];
    const p = await loadProject(write(tmp('mg-assume-'), model), quiet);
    expect(p.inputs[0]!.shape).toEqual([1, 3, 224, 224]);
    expect(p.assumed.map(({ why: _why, ...a }) => a)).toEqual([
      { input: 'img', axis: 2, name: 'height', value: 224 },
      { input: 'img', axis: 3, name: null, value: 224 },
    ]);
    expect(p.assumed[0]!.why).toBe('height/width of an image-like input (3 channels on axis 1): 224 is the first of 224, 256, 320, 512, 640 with which the reference model ran with finite outputs');
  });

  it('tries the next value when the reference does not run, and chooses the same on every run', async () => {
    const dir = tmp('mg-assume-');
    const config = write(dir, needs(1024));
    const logs: string[] = [];
    const p = await loadProject(config, { log: (m) => logs.push(m) });
    expect(p.inputs[0]!.shape).toEqual([1, 1024]);
    expect(p.assumed).toEqual([{ input: 'x', axis: 1, name: 'seq', value: 1024, why: 'a sequence or sample length: 1024 is the first of 512, 1024, 128, 16, 16000 with which the reference model ran with finite outputs' }]);
    expect(logs.join('\n')).toContain("warning: ModelGate assumed 1 input value that neither the model nor the config fixes: 'x' axis 1 ('seq') = 1024. Pin them in the config:\ninputs:\n  x: { shape: [1, 1024] }   # set seq (axis 1)");
    const again = await loadProject(config, quiet);
    expect(again.assumed).toEqual(p.assumed);
    // A config shape is never second-guessed: nothing is assumed.
    const pinned = await loadProject(write(dir, needs(1024), 'inputs: { x: { shape: [1, 1024] } }\n'), quiet);
    expect(pinned.assumed).toEqual([]);
  });

  it('still stops with exit 2 when no value of the lists runs, listing the dims, the snippet and what was tried', async () => {
    const dir = tmp('mg-assume-');
    const result = await runGate({ configPath: write(dir, needs(999)), outDir: path.join(dir, 'out') });
    expect(result.exitCode).toBe(2);
    expect(result.error).toContain("m.onnx: 1 input dimension is not fixed by the model or the config: 'x' axis 1 ('seq'). Add to the config (a dim may be 0, e.g. an empty KV cache):\ninputs:\n  x: { shape: [1, 1] }   # set seq (axis 1)\n");
    expect(result.error).toContain('ModelGate tried these values and the reference model did not run with finite outputs:\n  - seq = 512: ');
    expect(result.error).toMatch(/\n {2}- seq = 16000: .*inference failed/);
    expect(result.report.inputs_assumed).toBeUndefined();
  }, 60_000);

  it('feeds a rank-0 int input the constant the graph compares it with, and a state dim the batch', async () => {
    // y = x * (sr == 8000), state passed through: a model that only does something at 8 kHz.
    const model = buildModel(
      [
        { opType: 'Reshape', input: ['sr', 'one'], output: ['sr1'] },
        { opType: 'Constant', output: ['rate'], attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: makeTensor('rate', [], BigInt64Array.of(8000n)) }] },
        { opType: 'Equal', input: ['sr1', 'rate'], output: ['is8k'] },
        { opType: 'Cast', input: ['is8k'], output: ['gate'], attribute: [int('to', F)] },
        { opType: 'Mul', input: ['x', 'gate'], output: ['y'] },
        { opType: 'Identity', input: ['state'], output: ['stateN'] },
      ],
      [['x', F, ['', '']], ['state', F, [2, '', 4]], ['sr', I64, []]],
      [['y', F, null], ['stateN', F, null]],
      [makeTensor('one', [1], BigInt64Array.of(1n))],
    );
    const p = await loadProject(write(tmp('mg-assume-'), model, 'benchmark: { batch: 2 }\n'), quiet);
    expect(p.inputs.map((i) => [i.name, i.shape, i.batchAxis ?? null, i.range ?? null])).toEqual([
      ['x', [2, 512], 0, null],
      ['state', [2, 2, 4], 1, null],
      ['sr', [], null, [8000, 8000]],
    ]);
    expect(p.assumed.map((a) => [a.input, a.axis, a.value])).toEqual([['x', 1, 512], ['state', 1, 2], ['sr', null, 8000]]);
    expect(p.assumed[2]!.why).toBe("the graph compares it with 8000 (Equal node 'Equal → is8k')");
    const feeds = p.dataset.feedsForBatch(3);
    expect(Array.from(feeds.sr!.data as BigInt64Array)).toEqual([8000n]);
    expect(feeds.state!.dims).toEqual([2, 3, 4]);
  });

  it('feeds a rank-0 float input the constant the graph compares it with (a ratio a tf.cond tests against 1)', async () => {
    const model = buildModel(
      [
        { opType: 'Constant', output: ['one'], attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: makeTensor('one', [], Float32Array.of(1)) }] },
        { opType: 'Equal', input: ['ratio', 'one'], output: ['full'] },
        { opType: 'Cast', input: ['full'], output: ['gate'], attribute: [int('to', F)] },
        { opType: 'Mul', input: ['x', 'gate'], output: ['y'] },
      ],
      [['x', F, ['N', 3]], ['ratio', F, []]],
      [['y', F, null]],
    );
    const p = await loadProject(write(tmp('mg-assume-'), model), quiet);
    expect(p.inputs.map((i) => [i.name, i.shape, i.range ?? null])).toEqual([['x', [1, 3], null], ['ratio', [], [1, 1]]]);
    expect(p.assumed.map((a) => [a.input, a.axis, a.value, a.why])).toEqual([['ratio', null, 1, "the graph compares it with 1 (Equal node 'Equal → full')"]]);
    // A configured range is the user's value: nothing assumed.
    const q = await loadProject(write(tmp('mg-assume-'), model, 'inputs: { ratio: { range: [0.5, 0.5] } }\n'), quiet);
    expect(q.inputs.find((i) => i.name === 'ratio')!.range).toEqual([0.5, 0.5]);
    expect(q.assumed).toEqual([]);
  });

  it('records the assumption in report.json, report.md and the comment', async () => {
    const dir = tmp('mg-assume-');
    const result = await runGate({ configPath: write(dir, needs(512), 'benchmark: { warmup: 1, runs: 10, measurements: 1 }\n'), outDir: path.join(dir, 'out') });
    expect(result.error).toBeUndefined();
    const report = JSON.parse(readFileSync(result.reportPath, 'utf8'));
    expect(report.inputs_assumed).toEqual([expect.objectContaining({ input: 'x', axis: 1, name: 'seq', value: 512 })]);
    expect(report.inputs_snippet).toBe('inputs:\n  x: { shape: [1, 512] }   # set seq (axis 1)');
    // The compare comment (head against base) shows the head's assumption too.
    const compared = { ...result.report, mode: 'compare' as const, base: { ref: 'main', sha: null }, comparison: [], checks: [], warnings: [] };
    for (const md of [result.markdown, renderComment(result.report), renderComment(compared)]) {
      expect(md).toContain('> ⚠️ **ModelGate assumed 1 input value** that neither the model nor the config fixes');
      expect(md).toContain('> - x axis 1 (seq) = **512**: a sequence or sample length');
      expect(md).toContain('> ```yaml\n> inputs:\n>   x: { shape: [1, 512] }   # set seq (axis 1)\n> ```');
    }
  }, 120_000);

  it('chooses the open dims of a TF.js layers model at import time, by the same probe', async () => {
    const dir = tmp('mg-assume-tfjs-');
    const m = tf.sequential({ name: 'any_size' });
    m.add(tf.layers.conv2d({ inputShape: [null, null, 3] as unknown as number[], filters: 2, kernelSize: 3, padding: 'same', name: 'conv', kernelInitializer: tf.initializers.constant({ value: 0.1 }) }));
    await writeTfjsLayersModel(m, path.join(dir, 'tfjs'));
    writeFileSync(path.join(dir, 'modelgate.yml'), 'model: tfjs/model.json\n');
    const p = await loadProject(path.join(dir, 'modelgate.yml'), quiet);
    const name = m.inputs[0]!.sourceLayer.name;
    expect(p.inputs.map((i) => [i.name, i.shape])).toEqual([[name, [1, 224, 224, 3]]]);
    expect(p.assumed.map((a) => [a.input, a.axis, a.value])).toEqual([[name, 1, 224], [name, 2, 224]]);
    expect(p.source.imported?.source.format).toBe('tfjs-layers');
  }, 120_000);

  it('chooses the open dims of a TF.js graph model the same way (a sequence input [?, ?, 3])', async () => {
    const dir = tmp('mg-assume-graph-');
    writeGraphModel(path.join(dir, 'g'), [placeholder('x', [-1, -1, 3]), node('Identity', 'Sigmoid', ['x'], T)], []);
    writeFileSync(path.join(dir, 'modelgate.yml'), 'model: g/model.json\n');
    const p = await loadProject(path.join(dir, 'modelgate.yml'), quiet);
    expect(p.inputs.map((i) => [i.name, i.shape])).toEqual([['x', [1, 512, 3]]]);
    expect(p.assumed.map((a) => [a.input, a.axis, a.name, a.value])).toEqual([['x', 1, null, 512]]);
    expect(p.source.imported?.source.format).toBe('tfjs-graph');
  }, 120_000);

  it('gives a decoder an empty cache (past 0) and its sequence 512, with no inputs: section', async () => {
    const d = buildTinyDecoder({ layers: 1, vocab: 64 });
    const p = await loadProject(write(tmp('mg-assume-dec-'), d.model), quiet);
    const byName = Object.fromEntries(p.assumed.filter((a) => a.axis !== null).map((a) => [`${a.input}[${a.axis}]`, a.value]));
    expect(Object.values(byName).every((v) => v === 0 || v === 512)).toBe(true);
    expect(byName['past_key_values.0.key[2]']).toBe(0);
    expect(byName['input_ids[1]']).toBe(512);
  }, 60_000);

  it('takes the dims an array dataset fixes from its samples, and assumes nothing', async () => {
    const dir = tmp('mg-assume-data-');
    const model = buildModel(
      [{ opType: 'ReduceMean', input: ['img'], output: ['y'], attribute: [{ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [2, 3] }, int('keepdims', 0)] }],
      [['img', F, ['N', 3, 'h', 'w']]],
      [['y', F, ['N', 3]]],
    );
    model.opsetImport = [{ domain: '', version: 13 }];
    writeFileSync(path.join(dir, 'x.npy'), writeNpy('float32', [4, 3, 32, 48], new Float32Array(4 * 3 * 32 * 48).fill(0.5)));
    const p = await loadProject(write(dir, model, 'dataset: { inputs: x.npy }\n'), quiet);
    expect(p.inputs[0]!.shape).toEqual([1, 3, 32, 48]);
    expect(p.assumed).toEqual([]);
    expect(p.dataset.count).toBe(4);
  });
});
