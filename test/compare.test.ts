/**
 * `runCompare` end to end in a temporary git repository: real git, real onnxruntime workers.
 *
 * origin: main:    c1 (model v1 + config)
 *         same:     └── README only                         → no regression, exit 0 (full and shallow clone)
 *         slow:     └── model with 64 extra input-dependent MatMuls (≫ 2× p50) → significant regression, exit 1
 *         big:      └── model with 600 KB of extra weights    → size_bytes_max, exit 1
 *         empty:   r1 (README only, unrelated root)
 *         adds:     └── adds model + config                   → base has no config: compare against nothing
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, onnx, saveModel } from '../src/model/onnx.js';
import { makeTensor } from '../src/model/tensor.js';
import { seededRandom } from '../src/data/random.js';
import { runCompare, type CompareReport } from '../src/commands/compare.js';

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.com', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
};
const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const commit = (cwd: string, msg: string): string => {
  git(cwd, 'add', '-A');
  git(cwd, 'commit', '-q', '-m', msg);
  return git(cwd, 'rev-parse', 'HEAD');
};

const FEATURES = 64;
const CLASSES = 10;
const floatInfo = (name: string, dims: Array<number | string>): onnx.IValueInfoProto => ({
  name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});
const ints = (name: string, v: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });

/**
 * logits = x · W ([N, 64] → [N, 10]). `heavyDepth` adds real work that depends on the input, so
 * onnxruntime can neither fold nor prune it: x' = x + 0 · ReduceSum(x · I · I ⋯ I), a chain of
 * `heavyDepth` MatMuls by a 64×64 identity (values stay finite, weights stay small).
 * `unusedBytes` adds an initializer nothing reads (only the file grows).
 */
function tinyModel(opts: { heavyDepth?: number; unusedBytes?: number } = {}): onnx.ModelProto {
  const random = seededRandom(7);
  const weights = (name: string, dims: number[]) => makeTensor(name, dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => random() - 0.5));
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.TensorProto[] = [weights('w', [FEATURES, CLASSES])];
  let source = 'x';
  if (opts.heavyDepth) {
    const identity = new Float32Array(FEATURES * FEATURES);
    for (let i = 0; i < FEATURES; i++) identity[i * FEATURES + i] = 1;
    inits.push(makeTensor('eye', [FEATURES, FEATURES], identity), makeTensor('zero', [], new Float32Array([0])));
    let h = 'x';
    for (let k = 0; k < opts.heavyDepth; k++) {
      nodes.push({ opType: 'MatMul', input: [h, 'eye'], output: [`heavy${k}`] });
      h = `heavy${k}`;
    }
    nodes.push(
      { opType: 'ReduceSum', input: [h], output: ['heavy_sum'], attribute: [ints('keepdims', 0)] },
      { opType: 'Mul', input: ['heavy_sum', 'zero'], output: ['heavy_zero'] },
      { opType: 'Add', input: ['x', 'heavy_zero'], output: ['x2'] },
    );
    source = 'x2';
  }
  if (opts.unusedBytes) inits.push(makeTensor('unused', [opts.unusedBytes / 4], new Float32Array(opts.unusedBytes / 4).fill(0.5)));
  nodes.push({ opType: 'MatMul', input: [source, 'w'], output: ['logits'] });
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'tiny', node: nodes, initializer: inits, input: [floatInfo('x', ['N', FEATURES])], output: [floatInfo('logits', ['N', CLASSES])] },
  });
}

// No dataset: seeded synthetic inputs, so accuracy is null and agreement with base is gated instead.
const CONFIG = `model: model.onnx
inputs:
  x: { range: [0, 1] }
metric: top1
benchmark: { batch: 1, threads: 1, warmup: 5, runs: 30 }
gate:
  accuracy_drop_max: 0.01
  latency_ratio_max: 1.5
  size_bytes_max: 400000
`;

describe('runCompare in a git repository', () => {
  let root: string;
  let origin: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'mg-compare-'));
    origin = path.join(root, 'origin');
    const project = path.join(origin, 'project');
    mkdirSync(project, { recursive: true });
    git(origin, 'init', '-q', '-b', 'main');
    writeFileSync(path.join(project, 'modelgate.yml'), CONFIG);
    saveModel(tinyModel(), path.join(project, 'model.onnx'));
    const c1 = commit(origin, 'c1: model v1');

    git(origin, 'checkout', '-q', '-b', 'same', c1);
    writeFileSync(path.join(origin, 'README.md'), 'docs only\n');
    commit(origin, 'same: docs');

    git(origin, 'checkout', '-q', '-b', 'slow', c1);
    saveModel(tinyModel({ heavyDepth: 64 }), path.join(project, 'model.onnx'));
    commit(origin, 'slow: heavy branch');

    git(origin, 'checkout', '-q', '-b', 'big', c1);
    saveModel(tinyModel({ unusedBytes: 600_000 }), path.join(project, 'model.onnx'));
    commit(origin, 'big: extra weights');

    git(origin, 'checkout', '-q', '--orphan', 'empty');
    git(origin, 'rm', '-rq', '--cached', '.');
    rmSync(project, { recursive: true, force: true });
    rmSync(path.join(origin, 'README.md'), { force: true });
    writeFileSync(path.join(origin, 'README.md'), 'nothing yet\n');
    commit(origin, 'r1: empty');
    git(origin, 'checkout', '-q', '-b', 'adds');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'modelgate.yml'), CONFIG);
    saveModel(tinyModel(), path.join(project, 'model.onnx'));
    commit(origin, 'adds: first model');
    git(origin, 'checkout', '-q', 'main');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const clone = (name: string, branch: string, ...flags: string[]): string => {
    const dir = path.join(root, name);
    execFileSync('git', ['clone', '-q', ...flags, '--branch', branch, `file://${origin}`, dir], { env, stdio: 'ignore' });
    return dir;
  };
  const compare = (dir: string, base = 'main') => runCompare({ configPath: path.join(dir, 'project', 'modelgate.yml'), baseRef: base, outDir: path.join(dir, 'out') });
  const check = (r: CompareReport, subject: string, name: string) => r.checks.find((c) => c.subject === subject && c.name === name);

  it('passes when head has the base model (full clone), with deltas for every metric, and leaves the work tree alone', async () => {
    const dir = clone('same-full', 'same');
    const r = await compare(dir);
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(readFileSync(r.reportPath, 'utf8')) as CompareReport;
    expect(report.schemaVersion).toBe(2);
    expect(report.mode).toBe('compare');
    expect(report.passed).toBe(true);
    expect(report.base.sha).toBe(git(dir, 'rev-parse', 'origin/main'));
    expect(report.head.sha).toBe(git(dir, 'rev-parse', 'HEAD'));
    expect(report.base.fetched_depth).toBeNull();
    const ref = report.comparison.find((p) => p.id === 'reference')!;
    expect(ref.delta.bytes).toBe(0);
    expect(ref.agreement).toBe(1);
    expect(ref.same_data).toBe(true);
    expect(ref.latency!.method).toBe('paired rounds');
    // Three independent measurements; the reported ratio is their median, and the CI spans the medians of
    // their bounds, widened by the worker spread the A/A control (base timed in a second worker) showed.
    expect(ref.latency!.measurements).toBe(3);
    const runs = ref.latency!.runs!;
    const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    expect(ref.latency!.ratio).toBe(mid(runs.map((x) => x.ratio)));
    expect(ref.latency!.ci95[0]).toBeLessThanOrEqual(mid(runs.map((x) => x.ci95[0])));
    expect(ref.latency!.ci95[1]).toBeGreaterThanOrEqual(mid(runs.map((x) => x.ci95[1])));
    expect(ref.latency!.control!.ratios).toHaveLength(3);
    expect(ref.latency!.control!.worker_sigma).toBeGreaterThanOrEqual(0);
    expect(ref.latency!.verdict).not.toBe('significant regression');
    expect(ref.base.p50_ms).toBeGreaterThan(0);
    expect(ref.head.p50_ms).toBeGreaterThan(0);
    expect(report.checks.map((c) => `${c.subject}:${c.name}`)).toEqual(['head:gate', 'reference:accuracy_drop_max', 'reference:latency_ratio_max', 'reference:size_bytes_max']);
    expect(report.checks.every((c) => c.passed)).toBe(true);
    expect(report.hardware.cpu).toBeTruthy();
    expect(ref.delta.gzip_bytes).toBe(0);
    for (const metric of ['size', 'gzip size', 'top-1 agreement with base', 'p50 latency', 'p90 latency', 'p99 latency', 'throughput', 'cold start', 'peak RSS']) {
      expect(r.markdown).toContain(`| ${metric} |`);
    }
    // The base side was extracted inside the out dir; git sees nothing changed but the out dir.
    expect(existsSync(path.join(dir, 'out', 'base', 'checkout', 'project', 'model.onnx'))).toBe(true);
    expect(git(dir, 'status', '--porcelain')).toBe('?? out/');
  });

  it('fetches the base in a depth-1 clone and passes', async () => {
    const dir = clone('same-shallow', 'same', '--depth', '1');
    expect(git(dir, 'rev-parse', '--is-shallow-repository')).toBe('true');
    const r = await compare(dir);
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(0);
    expect(r.report.base.sha).toBe(git(origin, 'rev-parse', 'main'));
    expect(r.report.base.fetched_depth).not.toBeNull();
    expect(r.report.comparison[0]!.delta.bytes).toBe(0);
  });

  it('fails with a significant regression when head is much slower', async () => {
    const dir = clone('slow-full', 'slow');
    const r = await compare(dir);
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(1);
    const ref = r.report.comparison.find((p) => p.id === 'reference')!;
    expect(ref.latency!.ratio).toBeGreaterThan(2);
    expect(ref.latency!.verdict).toBe('significant regression');
    const latency = check(r.report, 'reference', 'latency_ratio_max')!;
    expect(latency.passed).toBe(false);
    expect(latency.message).toContain('significant regression');
    // The extra work does not change the outputs: accuracy/agreement and the head's own gate still pass.
    expect(ref.agreement).toBe(1);
    expect(check(r.report, 'reference', 'accuracy_drop_max')!.passed).toBe(true);
    expect(check(r.report, 'head', 'gate')!.passed).toBe(true);
    expect(r.markdown).toContain('ModelGate compare failed');

    // The same base, as a report.json from elsewhere: separate runs, a conservative CI, still a ≫ 2× regression.
    const fromReport = await runCompare({ configPath: path.join(dir, 'project', 'modelgate.yml'), baseReportPath: r.base!.reportPath, outDir: path.join(dir, 'out-report') });
    expect(fromReport.error).toBeUndefined();
    expect(fromReport.exitCode).toBe(1);
    expect(fromReport.report.base.hardware).toEqual(r.report.hardware);
    const viaReport = fromReport.report.comparison[0]!;
    expect(viaReport.latency!.method).toBe('separate reports');
    expect(viaReport.latency!.verdict).toBe('significant regression');
  });

  it('fails on size_bytes_max when the head model grows past it', async () => {
    const dir = clone('big-full', 'big');
    const r = await compare(dir);
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(1);
    const size = check(r.report, 'reference', 'size_bytes_max')!;
    expect(size.passed).toBe(false);
    expect(size.message).toMatch(/^\d+ bytes > 400000/);
    expect(r.report.comparison[0]!.delta.bytes).toBeGreaterThan(600_000);
  });

  it('compares against nothing when the base has no model yet', async () => {
    const dir = clone('adds-full', 'adds');
    const r = await compare(dir, 'empty');
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(0);
    expect(r.report.base.missing).toMatch(/no config at base [0-9a-f]{8}: project\/modelgate\.yml does not exist there/);
    expect(r.report.comparison).toEqual([]);
    expect(r.report.checks.map((c) => c.name)).toEqual(['gate']);
    expect(r.report.candidates.map((c) => c.id)).toEqual(['reference']);
    expect(r.markdown).toContain('nothing to compare against');
  });

  it('gates the head on its own when the base ref cannot be had, and says so', async () => {
    const dir = clone('bad-ref', 'same');
    const r = await compare(dir, 'no-such-branch');
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(readFileSync(r.reportPath, 'utf8')) as CompareReport;
    expect(report.passed).toBe(true);
    expect(report.base.missing).toMatch(/^the base was not available: .*no-such-branch/);
    expect(report.checks.map((c) => c.name)).toEqual(['gate']);
    expect(r.markdown).toContain('no-such-branch');
  });
});
