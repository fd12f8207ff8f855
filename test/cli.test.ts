import { describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { Report } from '../src/report/types.js';

const ROOT = path.resolve(__dirname, '..');

function cli(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'src/cli/index.ts'), ...args], { cwd, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function exampleCopy(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-cli-'));
  cpSync(path.join(ROOT, 'examples/mnist'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}tfjs`) });
  return dir;
}

describe('modelgate CLI', () => {
  it('prints help and exits 0', async () => {
    const r = await cli(['run', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--config <file>');
  });

  it('exits 2 on a truncated model, names the file, and still writes report.json', async () => {
    const dir = exampleCopy();
    const bytes = readFileSync(path.join(dir, 'model.onnx'));
    writeFileSync(path.join(dir, 'model.onnx'), bytes.subarray(0, 1000));
    const out = path.join(dir, 'out');
    const r = await cli(['run', '--config', path.join(dir, 'modelgate.yml'), '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/model\.onnx: not a valid ONNX model \(truncated or corrupt protobuf/);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
    expect(report.schemaVersion).toBe(2);
    expect(report.passed).toBe(false);
    expect(report.error).toMatch(/not a valid ONNX model/);
    expect(existsSync(path.join(out, 'report.md'))).toBe(true);
  });

  it('reads ./modelgate.yml without --config, and marks only the step it stopped in with ✗ (no colour in a pipe)', async () => {
    const dir = exampleCopy();
    writeFileSync(path.join(dir, 'model.onnx'), readFileSync(path.join(dir, 'model.onnx')).subarray(0, 1000));
    const r = await cli(['run', '--out', path.join(dir, 'out')], dir);
    expect(r.code).toBe(2);
    const marks = r.stderr.split('\n').filter((l) => /^  [✓✗] /.test(l));
    expect(marks.length).toBeGreaterThan(0);
    expect(marks.filter((l) => l.startsWith('  ✗ '))).toEqual([marks[marks.length - 1]]);
    expect(r.stderr).not.toContain('\x1b[');
    expect(readFileSync(path.join(dir, 'out', 'report.md'), 'utf8')).toMatch(/^### 💥 \*\*ModelGate could not run\*\*: .*not a valid ONNX model/);
  });

  it('exits 2 on a config error with file, key and line:col', async () => {
    const dir = exampleCopy();
    const cfg = path.join(dir, 'modelgate.yml');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('latency_ratio_max: 1.10 ', "latency_ratio_max: fast "));
    const r = await cli(['run', '--config', cfg, '--out', path.join(dir, 'out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/gate\.latency_ratio_max: expected a number, got 'fast' \(modelgate\.yml:\d+:22\)/);
  });

  it('exits 2 when the config names an input the model lacks', async () => {
    const dir = exampleCopy();
    const cfg = path.join(dir, 'modelgate.yml');
    writeFileSync(cfg, 'model: model.onnx\ninputs:\n  Nope: { shape: [1] }\n');
    const r = await cli(['run', '--config', cfg, '--out', path.join(dir, 'out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("inputs.Nope: the model model.onnx has no input 'Nope' (it has 'Input3')");
  });

  it('runs the whole gate on the MNIST example and follows the report contract', async () => {
    const dir = exampleCopy();
    const out = path.join(dir, 'out');
    const r = await cli(['run', '--config', path.join(dir, 'modelgate.yml'), '--out', out, '--quiet']);
    expect(r.stderr).toBe('');
    expect([0, 1]).toContain(r.code);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
    expect(r.code).toBe(report.passed ? 0 : 1);
    expect(report).toMatchObject({ schemaVersion: 2, tool: { name: 'modelgate' }, reference: 'reference' });
    expect(report.hardware.cores).toBeGreaterThan(0);
    expect(report.runtime.onnxruntime).toMatch(/^1\.\d+\.\d+$/);
    expect(report.candidates.length).toBeGreaterThanOrEqual(4);
    const ref = report.candidates.find((c) => c.id === 'reference')!;
    expect(ref.accuracy).toBeGreaterThanOrEqual(0.9);
    for (const c of report.candidates) {
      expect(existsSync(path.join(out, c.file))).toBe(true);
      expect(readFileSync(path.join(out, c.file)).length).toBe(c.bytes);
      expect(c.latency!.samples).toBeGreaterThan(0);
      expect(c.latency!.p50_ms).toBeGreaterThan(0);
      expect(c.latency!.p90_ms).toBeGreaterThanOrEqual(c.latency!.p50_ms);
      expect(c.checks.map((k) => k.name)).toEqual(['accuracy_drop_max', 'latency_ratio_max', 'size_bytes_max']);
    }
    const int8 = report.candidates.find((c) => c.id === 'int8-dynamic')!;
    expect(int8.bytes / ref.bytes).toBeLessThanOrEqual(0.3);
    expect(ref.accuracy! - int8.accuracy!).toBeLessThanOrEqual(0.01);
    expect(int8.agreement).toBeGreaterThan(0.95);
    if (report.selected) expect(report.candidates.find((c) => c.id === report.selected)!.checks.every((k) => k.passed)).toBe(true);
    expect(r.stdout).toContain('int8-dynamic');
    // Determinism: a second run writes byte-identical candidate models.
    const out2 = path.join(dir, 'out2');
    await cli(['run', '--config', path.join(dir, 'modelgate.yml'), '--out', out2, '--quiet']);
    for (const c of report.candidates) expect(readFileSync(path.join(out2, c.file)).equals(readFileSync(path.join(out, c.file)))).toBe(true);
  });
});
