import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { closest, editDistance } from '../../src/config/suggest.js';
import { configRecipeErrors, recipeErrors } from '../../src/passes/registry.js';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('did you mean', () => {
  it('measures edits and only suggests close words', () => {
    expect(editDistance('latency_ratio_mx', 'latency_ratio_max')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('mdoe', 'mode')).toBe(1); // a swap is one typo
    expect(closest('quantise', ['cleanup', 'quantize', 'fp16'])).toBe('quantize');
    expect(closest('fp6', ['fp16', 'prune'])).toBe('fp16');
    expect(closest('top3', ['top1', 'top5'])).toBeUndefined(); // two equally close: no guess
    expect(closest('bogus', ['quantize', 'fp16', 'prune'])).toBeUndefined();
  });

  it('suggests the key for a misspelt config key and enum value', () => {
    const message = errorOf(() => parseConfig('model: m.onnx\nmetric: top_1\ngate:\n  latency_ratio_mx: 1.1\n', 'cfg.yml'));
    expect(message).toContain('gate.latency_ratio_mx: is not a known key (did you mean `latency_ratio_max`?) (cfg.yml:4:3)');
    expect(message).toContain("metric: expected one of top1, top5, mse, mae, binary, f1_macro, got 'top_1' (did you mean `top1`?) (cfg.yml:2:9)");
  });

  it('suggests the pass for a misspelt pass name and option', () => {
    const problems = recipeErrors([{ name: 'q', passes: [{ quantise: { mode: 'dynamic' } }, { prune: { sparsity: 0.5, mdoe: 'structured' } }] }]);
    expect(problems).toEqual([
      { path: ['optimize', 0, 'passes', 0, 'quantise'], message: expect.stringContaining("unknown pass 'quantise' (did you mean `quantize`?)") },
      { path: ['optimize', 0, 'passes', 1, 'prune', 'mdoe'], message: "'prune': unknown option 'mdoe' (did you mean `mode`?)" },
    ]);
  });
});

describe('every config error in one round', () => {
  const text = [
    'model: model.onnx',
    'benchmark:',
    '  runs: many',
    'optimize:',
    '  - name: small',
    '    passes:',
    '      - cleanup: {}',
    '      - quantise: { mode: dynamic }',
    'gate:',
    '  latency_ratio_mx: 1.1',
    '',
  ].join('\n');

  it('reports a schema error and an unknown pass together, in file order, with did-you-mean', () => {
    const message = errorOf(() => parseConfig(text, 'modelgate.yml', { validate: configRecipeErrors }));
    const lines = message.split('\n').slice(1).map((l) => l.trim());
    expect(lines).toEqual([
      "benchmark.runs: expected an integer, got 'many' (modelgate.yml:3:9)",
      expect.stringMatching(/^optimize\[0\]\.passes\[1\]\.quantise: unknown pass 'quantise' \(did you mean `quantize`\?\) \(known: .*\) \(modelgate\.yml:8:9\)$/),
      'gate.latency_ratio_mx: is not a known key (did you mean `latency_ratio_max`?) (modelgate.yml:10:3)',
    ]);
  });

  it('without the validator, only the schema speaks; a valid config passes both', () => {
    expect(errorOf(() => parseConfig(text, 'modelgate.yml'))).not.toContain('quantise');
    const good = 'model: m.onnx\noptimize:\n  - name: a\n    passes: [{ cleanup: {} }, { quantize: { mode: dynamic } }, { tflite: { quantize: float16 } }]\n';
    expect(parseConfig(good, 'modelgate.yml', { validate: configRecipeErrors }).config.optimize).toHaveLength(1);
  });
});

describe('the JSON Schema', () => {
  it('describes every property, and its $id is the raw file', async () => {
    const { configSchema } = await import('../../src/config/schema.js');
    const missing: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      for (const [key, child] of Object.entries((n.properties as Record<string, unknown>) ?? {})) {
        if (!(child as { description?: string }).description) missing.push(`${at}.${key}`);
        walk(child, `${at}.${key}`);
      }
      for (const key of ['items', 'additionalProperties', 'then', 'else']) walk(n[key], `${at}${key === 'items' ? '[]' : key === 'additionalProperties' ? '.*' : ''}`);
    };
    walk(configSchema, '');
    expect(missing).toEqual([]);
    expect(configSchema.$id).toBe('https://raw.githubusercontent.com/modelgate/modelgate/main/schema/modelgate.schema.json');
  });
});
