/** report.json v1 fixtures for the comment and publish tests, with numbers from a real MNIST run on this machine. */
import type { CandidateReport, CheckResult, Report } from '../../src/report/types.js';
import type { LatencyVerdict } from '../../src/benchmark/stats.js';

const gate = { accuracy_drop_max: 0.005, latency_ratio_max: 1.1, size_bytes_max: 300_000, select: 'smallest-passing' as const, metric: 'top1' as const };

function latency(p50: number, ratio?: number, verdict?: LatencyVerdict, ci?: [number, number]) {
  return {
    batch: 1, threads: 1, p50_ms: p50, p90_ms: p50 * 1.05, p99_ms: p50 * 3.8, samples: 4000,
    percentiles_ms: { p5: p50 * 0.93, p10: p50 * 0.95, p25: p50 * 0.98, p50, p75: p50 * 1.02, p90: p50 * 1.05, p95: p50 * 1.3, p99: p50 * 3.8 },
    ...(ratio !== undefined ? { ratio, ratio_ci95: ci ?? [ratio * 0.99, ratio * 1.01], verdict } : {}),
  };
}

const ok = (name: string, message: string): CheckResult => ({ name, passed: true, message });
const bad = (name: string, message: string): CheckResult => ({ name, passed: false, message });

export function candidate(id: string, bytes: number, accuracy: number, p50: number, checks: CheckResult[], extra: Partial<CandidateReport> = {}): CandidateReport {
  const ratio = id === 'reference' ? undefined : p50 / 0.0233;
  const verdict: LatencyVerdict | undefined = ratio === undefined ? undefined : ratio > 1.1 ? 'significant regression' : ratio < 1 / 1.1 ? 'significant improvement' : 'within noise';
  return {
    id, recipe: [], file: `models/${id}.onnx`, bytes, accuracy, agreement: id === 'reference' ? null : 0.9995,
    latency: latency(p50, ratio, verdict), checks, runtime_kind: 'onnxruntime', ...extra,
  };
}

/** A passing run: int8-dynamic selected, int8-static too slow. */
export function passingReport(): Report {
  return {
    schemaVersion: 2,
    passed: true,
    tool: { name: 'modelgate', version: '0.1.0' },
    hardware: { cpu: 'AMD EPYC 7763 64-Core Processor', cores: 4, arch: 'x64', os: 'linux 6.8.0-1017-azure', memory_bytes: 16 * 2 ** 30, isa: { avx2: true, avx512_vnni: true, neon: false }, node: 'v20.20.2', onnxruntime: '1.30.0' },
    runtime: { onnxruntime: '1.30.0' },
    reference: 'reference',
    selected: 'int8-dynamic',
    config: 'examples/mnist/modelgate.yml',
    dataset: { samples: 2000, labelled: true, synthetic: false },
    gate,
    candidates: [
      candidate('reference', 218_628, 0.962, 0.0233, [ok('accuracy_drop_max', 'reference'), ok('latency_ratio_max', 'reference (ratio 1.00)'), ok('size_bytes_max', '218628 bytes ≤ 300000')]),
      candidate('int8-dynamic', 57_255, 0.9625, 0.0206, [ok('accuracy_drop_max', 'accuracy 0.9625 vs 0.9620: drop -0.0005 ≤ 0.005'), ok('latency_ratio_max', 'p50 0.88× the reference (95% CI 0.88–0.89): significant improvement against 1.1×'), ok('size_bytes_max', '57255 bytes ≤ 300000')]),
      candidate('int8-static', 58_495, 0.9625, 0.038, [ok('accuracy_drop_max', 'accuracy 0.9625 vs 0.9620: drop -0.0005 ≤ 0.005'), bad('latency_ratio_max', 'p50 1.63× the reference (95% CI 1.62–1.64): significant regression against 1.1×'), ok('size_bytes_max', '58495 bytes ≤ 300000')]),
      candidate('fp16', 109_953, 0.962, 0.0259, [ok('accuracy_drop_max', 'accuracy 0.9620 vs 0.9620: drop 0 ≤ 0.005'), bad('latency_ratio_max', 'p50 1.11× the reference (95% CI 1.11–1.12): significant regression against 1.1×'), ok('size_bytes_max', '109953 bytes ≤ 300000')]),
    ],
  };
}

/** A failing run: nothing passes the size budget. */
export function failingReport(): Report {
  const r = passingReport();
  r.passed = false;
  r.selected = null;
  r.gate = { ...gate, size_bytes_max: 1000 };
  for (const c of r.candidates) c.checks = c.checks.map((k) => (k.name === 'size_bytes_max' ? bad(k.name, `${c.bytes} bytes > 1000`) : k));
  return r;
}

/** A `modelgate compare` report where the PR's model lost 3 accuracy points against base. */
export function regressedCompareReport(): Report {
  const r = passingReport();
  const side = (candidate: string, bytes: number, accuracy: number, p50: number) => ({
    candidate, bytes, gzip_bytes: null, accuracy, mse: null, p50_ms: p50, p90_ms: p50 * 1.05, p99_ms: p50 * 3.8, throughput_items_per_s: 1000 / p50, cold_start_ms: 40, peak_rss_bytes: 120e6, samples: 4000,
  });
  const pair = (id: 'reference' | 'selected', name: string, base: ReturnType<typeof side>, head: ReturnType<typeof side>, checks: CheckResult[]) => ({
    id, base, head,
    delta: { bytes: head.bytes - base.bytes, gzip_bytes: null, accuracy: head.accuracy - base.accuracy, mse: null, p50_ms: head.p50_ms - base.p50_ms, p90_ms: null, p99_ms: null, throughput_items_per_s: null, cold_start_ms: null, peak_rss_bytes: null },
    agreement: 0.955, same_data: true,
    latency: { ratio: head.p50_ms / base.p50_ms, ci95: [head.p50_ms / base.p50_ms - 0.01, head.p50_ms / base.p50_ms + 0.01] as [number, number], verdict: 'within noise' as const, threshold: 1.1, method: 'paired rounds' as const, gated: true },
    checks: checks.map((c) => ({ ...c })),
    name,
  });
  r.passed = false;
  r.mode = 'compare';
  r.base = { ref: 'main', sha: '01d02ad0c1a8cb1261602e57ebeb0decbccd27e3', passed: true, selected: 'int8-dynamic' };
  r.head = { sha: 'b608e73f92189de30fa7f296976495723c53f94c', passed: true, selected: 'int8-dynamic' };
  const accuracyFail = bad('accuracy_drop_max', 'accuracy 0.9625 → 0.9310: drop 0.0315 > 0.005');
  r.comparison = [
    pair('reference', 'reference', side('reference', 218_628, 0.962, 0.0233), side('reference', 218_628, 0.9305, 0.0231), [bad('accuracy_drop_max', 'accuracy 0.9620 → 0.9305: drop 0.0315 > 0.005'), ok('latency_ratio_max', 'p50 0.99× base: within noise against 1.1×'), ok('size_bytes_max', '218628 bytes ≤ 300000 (base 218628, 0)')]),
    pair('selected', 'int8-dynamic', side('int8-dynamic', 57_255, 0.9625, 0.0206), side('int8-dynamic', 57_301, 0.931, 0.0208), [accuracyFail, ok('latency_ratio_max', 'p50 1.01× base: within noise against 1.1×'), ok('size_bytes_max', '57301 bytes ≤ 300000 (base 57255, +46)')]),
  ];
  r.checks = [
    { subject: 'head' as const, name: 'gate', passed: true, message: "head's own gate passed: selected int8-dynamic" },
    ...r.comparison.flatMap((p) => p.checks.map((c) => ({ ...c, subject: p.id }))),
  ];
  r.warnings = [];
  return r;
}
