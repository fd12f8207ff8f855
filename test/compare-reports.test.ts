/** compareReports (two report.json files from elsewhere), the compare markdown, and the CLI's compare command. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareReports, renderCompareMarkdown, type CompareReport } from '../src/commands/compare.js';
import { buildPair } from '../src/compare/pair.js';
import type { CandidateReport, Report } from '../src/report/types.js';

const ROOT = path.resolve(__dirname, '..');

const hardware = (cpu: string, cores = 2) => ({ cpu, cores, arch: 'x64', os: 'linux 6.8' });

function candidate(id: string, bytes: number, accuracy: number | null, p50: number, ci: [number, number]): CandidateReport {
  return {
    id, recipe: [], file: `models/${id}.onnx`, bytes, accuracy, agreement: null, checks: [],
    latency: { batch: 1, threads: 1, p50_ms: p50, p90_ms: p50 * 1.2, p99_ms: p50 * 1.5, samples: 1000, ci95_ms: ci, throughput_items_per_s: 1000 / p50 },
  };
}

function report(cpu: string, candidates: CandidateReport[], selected: string | null, gate: Record<string, unknown> = {}): Report {
  return {
    schemaVersion: 2, passed: selected !== null, tool: { name: 'modelgate', version: 'test' }, hardware: hardware(cpu), runtime: { onnxruntime: 'test' },
    reference: 'reference', selected, candidates, gate: { accuracy_drop_max: 0.01, latency_ratio_max: 1.1, size_bytes_max: 300_000, metric: 'top1', select: 'smallest-passing', ...gate },
  };
}

describe('compareReports', () => {
  const base = report('CPU A', [candidate('reference', 200_000, 0.9, 1.0, [0.99, 1.01])], 'reference');

  it('gates a clear latency regression from two reports on the same hardware, with a conservative CI', () => {
    const head = report('CPU A', [candidate('reference', 200_000, 0.9, 1.5, [1.48, 1.52])], 'reference');
    const r = compareReports(base, head);
    expect(r.sameHardware).toBe(true);
    const pair = r.comparison[0]!;
    expect(pair.latency!.method).toBe('separate reports');
    expect(pair.latency!.ratio).toBeCloseTo(1.5, 12);
    // [1.48 / 1.01, 1.52 / 0.99]
    expect(pair.latency!.ci95[0]).toBeCloseTo(1.48 / 1.01, 12);
    expect(pair.latency!.ci95[1]).toBeCloseTo(1.52 / 0.99, 12);
    expect(pair.latency!.verdict).toBe('significant regression');
    const latency = r.checks.find((c) => c.name === 'latency_ratio_max')!;
    expect(latency.passed).toBe(false);
    expect(r.warnings.join(' ')).toMatch(/separate runs, not interleaved/);
  });

  it('warns and does not gate latency across different hardware, but still gates size and accuracy exactly', () => {
    const head = report('CPU B', [candidate('reference', 300_001, 0.885, 1.5, [1.48, 1.52])], 'reference');
    const r = compareReports(base, head);
    expect(r.sameHardware).toBe(false);
    expect(r.warnings[0]).toMatch(/different hardware.*CPU A.*CPU B.*not gated/);
    const byName = Object.fromEntries(r.checks.map((c) => [c.name, c]));
    expect(byName.latency_ratio_max!.passed).toBe(true);
    expect(byName.latency_ratio_max!.message).toMatch(/^not gated \(different hardware\): .*significant regression/);
    expect(byName.size_bytes_max!.passed).toBe(false);
    expect(byName.size_bytes_max!.message).toBe('300001 bytes > 300000 (base 200000, +100001)');
    expect(byName.accuracy_drop_max!.passed).toBe(false);
    expect(byName.accuracy_drop_max!.message).toMatch(/drop 0\.0150 > 0\.01/);
  });

  it('compares the selected candidates too, and passes when the CI straddles the budget', () => {
    const b = report('CPU A', [candidate('reference', 200_000, 0.9, 1.0, [0.99, 1.01]), candidate('int8', 60_000, 0.9, 0.8, [0.79, 0.81])], 'int8');
    const h = report('CPU A', [candidate('reference', 200_000, 0.9, 1.0, [0.99, 1.01]), candidate('int8', 60_000, 0.9, 0.88, [0.85, 0.91])], 'int8');
    const r = compareReports(b, h);
    expect(r.comparison.map((p) => p.id)).toEqual(['reference', 'selected']);
    const sel = r.comparison[1]!;
    expect(sel.latency!.ratio).toBeCloseTo(1.1, 12);
    expect(sel.latency!.verdict).toBe('within noise');
    expect(r.checks.every((c) => c.passed)).toBe(true);
  });
});

describe('buildPair and the compare markdown', () => {
  it('shows base → head for every metric and escapes what came from outside', () => {
    const side = (candidate: string, bytes: number, accuracy: number, p50: number) => ({
      candidate, bytes, gzip_bytes: bytes / 2, accuracy, mse: null, p50_ms: p50, p90_ms: p50 * 1.1, p99_ms: p50 * 1.3, throughput_items_per_s: 1000 / p50,
      cold_start_ms: 30, peak_rss_bytes: 100e6, samples: 2000,
    });
    const pair = buildPair({
      id: 'reference', base: side('reference', 1000, 0.9, 0.1), head: side('reference', 1500, 0.91, 0.2), agreement: 0.97, sameData: true,
      latency: { ratio: 2, ci95: [1.9, 2.1], verdict: 'significant regression', threshold: 1.05, method: 'paired rounds', gated: true },
    }, { latency_ratio_max: 1.05, size_bytes_max: 1200 }, 'top1');
    expect(pair.delta.bytes).toBe(500);
    expect(pair.delta.accuracy).toBeCloseTo(0.01, 12);
    expect(pair.checks.map((c) => [c.name, c.passed])).toEqual([['accuracy_drop_max', true], ['latency_ratio_max', false], ['size_bytes_max', false]]);
    const r = {
      schemaVersion: 2, passed: false, tool: { name: 'modelgate', version: 't' }, hardware: hardware('CPU <A>'), runtime: { onnxruntime: 't' },
      reference: 'reference', selected: 'reference', candidates: [], mode: 'compare',
      base: { ref: 'main|evil', sha: 'a'.repeat(40), missing: undefined }, head: { sha: 'b'.repeat(40), passed: true, selected: 'reference' },
      comparison: [pair], checks: pair.checks.map((c) => ({ ...c, subject: 'reference' as const })), warnings: ['<script>'],
    } as unknown as CompareReport;
    delete (r.base as { missing?: string }).missing;
    const md = renderCompareMarkdown(r);
    expect(md).toContain('ModelGate compare failed');
    expect(md).toContain('| size | 1000 B | 1.5 KB | +500 B (1.50×) |');
    expect(md).toContain('| gzip size | 500 B | 750 B | +250 B (1.50×) |');
    expect(md).toContain('| accuracy | 90.00% | 91.00% | +1.00 pt |');
    expect(md).toContain('| top-1 agreement with base |  | 97.00% |  |');
    expect(md).toContain('| p50 latency | 0.100 ms | 0.200 ms | 2.000× (95% CI 1.900–2.100): significant regression |');
    for (const metric of ['p90 latency', 'p99 latency', 'throughput', 'cold start', 'peak RSS']) expect(md).toContain(`| ${metric} |`);
    expect(md).not.toContain('<script>');
    expect(md).not.toContain('CPU <A>');
  });
});

describe('modelgate compare (CLI)', () => {
  const cli = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/index.ts'), ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });

  it('prints help with --base, --config and --out', async () => {
    const r = await cli(['compare', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--base <ref>', '--config <file>', '--out <dir>', '--base-report <file>']) expect(r.stdout).toContain(flag);
  });

  it('exits 2 without a base', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mg-compare-cli-'));
    try {
      const r = await cli(['compare', '--config', 'examples/mnist/modelgate.yml', '--out', out, '--quiet']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('compare needs a base: --base <ref> or --base-report <report.json>');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
