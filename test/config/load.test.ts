import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseConfig, loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';

const bad = `model: model.onnx
benchmark: { batch: 1, threads: 1 }
gate:
  accuracy_drop_max: 0.005
  latency_ratio_max: fast
`;

describe('config', () => {
  it('names the key, line and column of a wrong type', () => {
    expect(() => parseConfig(bad, 'examples/mnist/modelgate.yml')).toThrow(
      "gate.latency_ratio_max: expected a number, got 'fast' (modelgate.yml:5:22)",
    );
  });

  it('names unknown keys at the key, and bad enum values', () => {
    const text = 'model: m.onnx\nmetric: top3\ngate:\n  size_max: 1\n';
    let message = '';
    try { parseConfig(text, 'cfg.yml'); } catch (e) { message = (e as Error).message; }
    expect(message).toContain("metric: expected one of top1, top5, mse, mae, binary, f1_macro, got 'top3' (cfg.yml:2:9)");
    expect(message).toContain('gate.size_max: is not a known key (cfg.yml:4:3)');
  });

  it('reports a missing required key at its parent', () => {
    expect(() => parseConfig('optimize:\n  - name: a\n', 'c.yml')).toThrow(/optimize\[0\]\.passes: is required \(c\.yml:2:5\)/);
    expect(() => parseConfig('metric: top1\n', 'c.yml')).toThrow(/model: is required/);
  });

  it('reports YAML syntax errors with a position', () => {
    expect(() => parseConfig('model: [a\n', 'c.yml')).toThrow(/c\.yml: invalid YAML: .*\(c\.yml:\d+:\d+\)/);
  });

  it('fills defaults and resolves paths against the config folder', () => {
    const loaded = parseConfig('model: sub/m.onnx\n', '/repo/cfg/modelgate.yml');
    expect(loaded.config.benchmark).toEqual({ batch: 1, threads: 1, warmup: 10, runs: 100, measurements: 3, decoder: { prefill_tokens: 128 } });
    expect(loaded.config.select).toBe('smallest-passing');
    expect(loaded.config.metric).toBe('top1');
    expect(loaded.resolve(loaded.config.model)).toBe('/repo/cfg/sub/m.onnx');
    expect(loaded.locate(['model'])).toEqual({ line: 1, col: 8 });
  });

  it('loads the example config as written in the issue', () => {
    const loaded = loadConfig('examples/mnist/modelgate.yml');
    expect(loaded.config.optimize.map((c) => c.name)).toEqual(['int8-dynamic', 'int8-static', 'fp16']);
    expect(loaded.config.gate).toEqual({ accuracy_drop_max: 0.005, latency_ratio_max: 1.1, size_bytes_max: 300000 });
    expect(loaded.locate(['gate', 'latency_ratio_max'])?.line).toBeGreaterThan(1);
  });

  it('ships the JSON Schema file generated from the schema module', () => {
    const file = JSON.parse(readFileSync('schema/modelgate.schema.json', 'utf8'));
    expect(file).toEqual(JSON.parse(JSON.stringify(configSchema)));
  });
});

describe('report.json schema', () => {
  it('ships schema/report.schema.json and src/report/schema.generated.ts generated from src/report/types.ts', async () => {
    const { reportSchemaFromTypes } = await import('../../scripts/report-schema.js');
    const { REPORT_JSON_SCHEMA } = await import('../../src/report/schema.generated.js');
    const generated = reportSchemaFromTypes();
    expect(JSON.parse(readFileSync('schema/report.schema.json', 'utf8'))).toEqual(generated);
    expect(REPORT_JSON_SCHEMA).toEqual(generated);
  }, 60_000);
});
