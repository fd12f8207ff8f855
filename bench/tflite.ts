/**
 * The issue-7 demonstration: the seed's MNIST CNN (examples/mnist) → .tflite float32 and full int8 from one
 * config, run in the TFLite runtime beside the ORT candidates, latency measured in the same interleaved run.
 * Prints the table and checks the acceptance figures: float32 matches the source within 1e-4, int8 is at
 * most 0.30× the float32 bytes and loses at most 0.01 accuracy on the 2,000 test digits.
 *
 *   npx tsx bench/tflite.ts [--out DIR] [--all] [--no-xnnpack]
 *     --all adds uint8 I/O, float16 and dynamic-int8; --no-xnnpack runs TFLite's builtin kernels only.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGate } from '../src/commands/run.js';
import type { CandidateReport } from '../src/report/types.js';
import type { TfliteCandidateInfo } from '../src/candidates/tflite-export.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const example = path.join(root, 'examples', 'mnist');
const args = process.argv.slice(2);
const outDir = args.includes('--out') ? path.resolve(args[args.indexOf('--out') + 1]!) : path.join(os.tmpdir(), 'modelgate-bench-tflite');
const all = args.includes('--all');
const x = args.includes('--no-xnnpack') ? ', xnnpack: false' : '';

for (const f of ['model.onnx', 'test-images.npy', 'test-labels.npy']) {
  if (!existsSync(path.join(example, f))) {
    console.error(`examples/mnist/${f} is missing: run npm run train:mnist first`);
    process.exit(2);
  }
}

mkdirSync(outDir, { recursive: true });
const configPath = path.join(outDir, 'modelgate.yml');
writeFileSync(configPath, [
  `model: ${path.join(example, 'model.onnx')}`,
  'inputs:',
  '  Input3: { shape: [1, 1, 28, 28], dtype: float32, range: [0, 1] }',
  'dataset:',
  `  inputs: ${path.join(example, 'test-images.npy')}`,
  `  labels: ${path.join(example, 'test-labels.npy')}`,
  '  limit: 2000',
  '  preprocess: { scale: 0.00392156862745098 }',
  'metric: top1',
  'optimize:',
  '  - { name: ort-int8-static, passes: [{ quantize: { mode: static, calibration: minmax, samples: 256 } }] }',
  `  - { name: tflite-float32, passes: [{ tflite: { quantize: float32${x} } }] }`,
  `  - { name: tflite-int8, passes: [{ tflite: { quantize: int8, samples: 256${x} } }] }`,
  ...(all
    ? [
        `  - { name: tflite-int8-uint8io, passes: [{ tflite: { quantize: int8, io_type: uint8, samples: 256${x} } }] }`,
        `  - { name: tflite-float16, passes: [{ tflite: { quantize: float16${x} } }] }`,
        `  - { name: tflite-dynamic-int8, passes: [{ tflite: { quantize: dynamic-int8${x} } }] }`,
      ]
    : []),
  'benchmark: { batch: 1, threads: 1 }',
  'gate: { accuracy_drop_max: 0.01 }',
  'select: smallest-passing',
  '',
].join('\n'));

const result = await runGate({ configPath, outDir, log: (m) => process.stderr.write(`  ${m}\n`) });
if (result.error) {
  console.error(result.error);
  process.exit(2);
}
const cands = result.report.candidates;
const ref = cands[0]!;
const tfl = (c: CandidateReport) => c.tflite as TfliteCandidateInfo | undefined;
const f32 = cands.find((c) => tfl(c)?.quantize === 'float32');

const rows = cands.map((c) => {
  const t = tfl(c);
  return [
    c.id,
    String(c.runtime_kind),
    String(c.bytes),
    f32 ? (c.bytes / f32.bytes).toFixed(3) : '',
    c.accuracy !== null ? (c.accuracy * 100).toFixed(2) : '–',
    c.accuracy !== null && ref.accuracy !== null ? ((c.accuracy - ref.accuracy) * 100).toFixed(2) : '',
    c.latency ? c.latency.p50_ms.toFixed(4) : '–',
    typeof c.latency?.ratio === 'number' ? (c.latency.ratio as number).toFixed(2) : '',
    t ? t.verification.max_abs_diff.toExponential(2) : '',
    t?.verification.top1_agreement != null ? (t.verification.top1_agreement * 100).toFixed(2) : '',
  ];
});
const head = ['candidate', 'runtime', 'bytes', '×tfl-f32', 'acc %', 'Δacc pt', 'p50 ms', '×ref', 'max|Δ| vs src', 'agree %'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
const xnn = cands.map((c) => (c.tflite as TfliteCandidateInfo | undefined)?.runtime.xnnpack).find((v) => v);
console.log(`\n${result.report.hardware.cpu}, ${result.report.runtime.tflite}, XNNPACK ${xnn}; report: ${result.reportPath}`);

const i8 = cands.find((c) => c.id === 'tflite-int8');
const checks: Array<[string, boolean]> = [
  ['float32 .tflite matches the ONNX source within 1e-4', !!f32 && tfl(f32)!.verification.max_abs_diff <= 1e-4],
  ['int8 .tflite is at most 0.30x the float32 .tflite bytes', !!f32 && !!i8 && i8.bytes <= 0.3 * f32.bytes],
  ['int8 .tflite loses at most 0.01 accuracy', !!i8 && i8.accuracy !== null && ref.accuracy !== null && ref.accuracy - i8.accuracy <= 0.01],
  ['both ran in TFLite with latency from the same interleaved run', !!f32 && !!i8 && f32.runtime_kind === 'tflite' && i8.runtime_kind === 'tflite' && !!f32.latency && !!i8.latency],
];
for (const [what, ok] of checks) console.log(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
