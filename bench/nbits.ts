/**
 * int4/int8 weight-only MatMul (com.microsoft.MatMulNBits) against fp32 and against dynamic int8, on the bench
 * transformer block and on a tiny Llama-style decoder; and fp16 → fp32 on the decoder.
 *   npm run bench:nbits [-- --budget 40] [--no-doc]
 * Per model × recipe: file bytes and ratio; fidelity against fp32 (cosine and SNR of the outputs, for the
 * decoder of the next-token logits with top-1 agreement, src/evaluate/decoder-quality.ts); latency ratios
 * against fp32 with 95% bootstrap CIs, every recipe of a model measured in the same interleaved run
 * (batch 1, 1 intra-op thread). Transformer: batch 1 (64 tokens) and batch 2 (128 tokens). Decoder: time to
 * first token for a 128-token prompt and the decode step with a KV cache of 128 (src/benchmark/decoder.ts).
 * Writes the "MatMulNBits" section of docs/benchmarks.md between its markers.
 * Not a test: the numbers belong to this machine and its load, which the doc records.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { saveModel, type Model } from '../src/model/onnx.js';
import type { Feeds } from '../src/model/host-tensor.js';
import type { PassSpec } from '../src/config/types.js';
import { runRecipe } from '../src/passes/registry.js';
import type { PassContext } from '../src/passes/pass.js';
import { OrtSession, type RuntimeOptions } from '../src/runtime/session.js';
import { compareLatency, measureInterleaved, type LatencyComparison } from '../src/benchmark/runner.js';
import { compareDecoderLatency, measureDecoderLatency } from '../src/benchmark/decoder.js';
import { decoderSignature } from '../src/model/decoder.js';
import { decoderQuality, FidelityAccumulator, floatValues } from '../src/evaluate/decoder-quality.js';
import { hardwareFingerprint } from '../src/benchmark/hardware.js';
import { ORT_VERSION } from '../src/runtime/ort.js';
import { seededRandom } from '../src/data/random.js';
import { buildTransformer } from './models.js';
import { buildTinyDecoder } from '../test/support/tiny-decoder.js';

const { values: args } = parseArgs({
  options: {
    budget: { type: 'string', default: '40' },
    'no-doc': { type: 'boolean', default: false },
  },
});
const BUDGET_MS = Number(args.budget) * 1000;
const SEED = 20261204;
const DOC = path.resolve('docs/benchmarks.md');
const BEGIN = '<!-- nbits:begin (bench/nbits.ts writes this section) -->';
const END = '<!-- nbits:end -->';

const RECIPES: Array<{ id: string; label: string; passes: PassSpec[] }> = [
  { id: 'fp32', label: 'fp32 (reference)', passes: [] },
  { id: 'dynamic', label: 'dynamic int8 (quantize: dynamic)', passes: [{ quantize: { mode: 'dynamic' } }] },
  { id: 'int8', label: 'int8 MatMulNBits, block 32', passes: [{ matmul_nbits: { bits: 8 } }] },
  { id: 'int4', label: 'int4 MatMulNBits, block 32', passes: [{ matmul_nbits: { bits: 4 } }] },
  { id: 'int4-acc4', label: 'int4 MatMulNBits, block 32, accuracy_level 4', passes: [{ matmul_nbits: { bits: 4, accuracy_level: 4 } }] },
];

const ctx: PassContext = { calibration: async () => [], log: () => {} };
const runtime: RuntimeOptions = { intraOpThreads: 1 };
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mg-bench-nbits-'));
const lines: string[] = [];
const say = (s = '') => {
  console.log(s);
  lines.push(s);
};
const ratioCell = (c: LatencyComparison | undefined) => (c ? `${c.ratio.toFixed(3)}× (${c.ci95[0].toFixed(2)}–${c.ci95[1].toFixed(2)})` : '1');
const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
const db = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} dB` : '∞');

interface Built {
  id: string;
  label: string;
  file: string;
  bytes: number;
  model: Model;
}

async function build(ref: Model, name: string): Promise<Built[]> {
  const out: Built[] = [];
  for (const r of RECIPES) {
    const { model } = await runRecipe(ref, r.passes, ctx);
    const file = path.join(tmp, `${name}-${r.id}.onnx`);
    const bytes = saveModel(model, file);
    out.push({ id: r.id, label: r.label, file, bytes, model });
  }
  return out;
}

async function transformer(): Promise<void> {
  const bm = buildTransformer();
  const built = await build(bm.model, 'transformer');
  const [S, D] = bm.sampleDims as [number, number];
  const rand = seededRandom(SEED);
  const sample = (batch: number): Feeds => {
    const data = new Float32Array(batch * S * D);
    for (let i = 0; i < data.length; i++) data[i] = (rand() + rand() + rand() + rand() - 2) * Math.sqrt(3);
    return { [bm.inputName]: { type: 'float32', dims: [batch, S, D], data } };
  };
  // Fidelity on 64 seeded samples.
  const feeds = Array.from({ length: 64 }, () => sample(1));
  const outputs = new Map<string, Float32Array[]>();
  for (const b of built) {
    const s = await OrtSession.create(b.file, runtime, b.id);
    const rows: Float32Array[] = [];
    for (const f of feeds) rows.push(floatValues(Object.values(await s.run(f))[0]!));
    outputs.set(b.id, rows);
    await s.release();
  }
  const latency = new Map<number, Map<string, LatencyComparison>>();
  for (const batch of [1, 2]) {
    const stats = await measureInterleaved(built.map((b) => ({ id: b.id, path: b.file, runtime })), sample(batch), { batch, timeBudgetMs: BUDGET_MS });
    const ref = stats.get('fp32')!;
    const cmp = new Map<string, LatencyComparison>();
    for (const b of built) if (b.id !== 'fp32') cmp.set(b.id, compareLatency(ref, stats.get(b.id)!, 1.05, SEED));
    latency.set(batch, cmp);
    say(`- transformer batch ${batch}: fp32 p50 ${ref.p50_ms.toFixed(2)} ms, ${ref.samples} samples`);
  }
  say();
  say(`### ${bm.title}`);
  say();
  say('| recipe | bytes | size ratio | cosine | SNR | p50 ratio, batch 1 (64 tokens) | p50 ratio, batch 2 (128 tokens) |');
  say('|---|---|---|---|---|---|---|');
  const refBytes = built[0]!.bytes;
  for (const b of built) {
    const acc = new FidelityAccumulator();
    outputs.get('fp32')!.forEach((r, i) => acc.add(r, outputs.get(b.id)![i]!));
    const f = acc.result();
    say(`| ${b.label} | ${kib(b.bytes)} | ${(b.bytes / refBytes).toFixed(3)} | ${f.cosine.toFixed(5)} | ${db(f.snr_db)} | ${ratioCell(latency.get(1)!.get(b.id))} | ${ratioCell(latency.get(2)!.get(b.id))} |`);
  }
  say();
}

async function decoder(): Promise<void> {
  const shape = { vocab: 8192, hidden: 512, heads: 8, layers: 4, ffn: 1408, seed: 3 };
  const d = buildTinyDecoder({ ...shape, dtype: 'float32' });
  const built = await build(d.model, 'decoder');
  const sig = decoderSignature(d.model);
  const quality = new Map<string, Awaited<ReturnType<typeof decoderQuality>>>();
  const ref = await OrtSession.create(built[0]!.file, runtime, 'fp32');
  for (const b of built) {
    const s = await OrtSession.create(b.file, runtime, b.id);
    quality.set(b.id, await decoderQuality(ref, s, sig, { prompts: 8, promptLength: 32, decodeSteps: 4, seed: SEED }));
    await s.release();
  }
  await ref.release();
  const lat = await measureDecoderLatency(built.map((b) => ({ id: b.id, path: b.file, runtime })), { prefillTokens: 128, timeBudgetMs: BUDGET_MS, seed: SEED });
  const r = lat.get('fp32')!;
  say(`- decoder: fp32 TTFT (128 tokens) ${r.ttft_ms.toFixed(1)} ms, decode ${r.decode_ms_per_token.toFixed(2)} ms/token (${r.tokens_per_s.toFixed(0)} tokens/s); ${r.prefill.samples} and ${r.decode.samples} samples`);
  say();
  say(`### Tiny Llama-style decoder (hidden ${shape.hidden}, ${shape.layers} layers, ${shape.heads} heads, SwiGLU ${shape.ffn}, vocab ${shape.vocab}; fp32 weights)`);
  say();
  say('| recipe | bytes | size ratio | top-1 agreement | cosine | SNR | TTFT ratio (prefill 128) | decode ratio (KV 128, batch 1) | tokens/s |');
  say('|---|---|---|---|---|---|---|---|---|');
  const refBytes = built[0]!.bytes;
  for (const b of built) {
    const q = quality.get(b.id)!;
    const l = lat.get(b.id)!;
    const c = b.id === 'fp32' ? undefined : compareDecoderLatency(r, l, 1.05, SEED);
    say(`| ${b.label} | ${(b.bytes / 2 ** 20).toFixed(1)} MiB | ${(b.bytes / refBytes).toFixed(3)} | ${q.top1_agreement.toFixed(3)} | ${q.cosine.toFixed(5)} | ${db(q.snr_db)} | ${ratioCell(c?.ttft)} | ${ratioCell(c?.decode)} | ${l.tokens_per_s.toFixed(0)} |`);
  }
  say();

  // The same decoder shipped in fp16 (as GPU-oriented exports are), and the fp32 pass's candidate for CPUs.
  const half = buildTinyDecoder({ ...shape, dtype: 'float16' });
  const h = [
    { id: 'fp16', label: 'fp16 export (reference)', passes: [] as PassSpec[] },
    { id: 'fp32', label: 'fp32 pass (fp16 I/O kept)', passes: [{ fp32: {} }] as PassSpec[] },
    { id: 'fp32-int4', label: 'fp32 pass, then int4 MatMulNBits', passes: [{ fp32: {} }, { matmul_nbits: { bits: 4 } }] as PassSpec[] },
  ];
  const hb: Built[] = [];
  for (const x of h) {
    const { model } = await runRecipe(half.model, x.passes, ctx);
    const file = path.join(tmp, `half-${x.id}.onnx`);
    hb.push({ id: x.id, label: x.label, file, bytes: saveModel(model, file), model });
  }
  const hsig = decoderSignature(half.model);
  const href = await OrtSession.create(hb[0]!.file, runtime, 'fp16');
  const hq = new Map<string, Awaited<ReturnType<typeof decoderQuality>>>();
  for (const b of hb) {
    const s = await OrtSession.create(b.file, runtime, b.id);
    hq.set(b.id, await decoderQuality(href, s, hsig, { prompts: 8, promptLength: 32, decodeSteps: 4, seed: SEED }));
    await s.release();
  }
  await href.release();
  const hl = await measureDecoderLatency(hb.map((b) => ({ id: b.id, path: b.file, runtime })), { prefillTokens: 128, timeBudgetMs: BUDGET_MS, seed: SEED });
  const hr = hl.get('fp16')!;
  say(`- fp16 decoder: TTFT ${hr.ttft_ms.toFixed(1)} ms, decode ${hr.decode_ms_per_token.toFixed(2)} ms/token`);
  say();
  say('| fp16 decoder recipe | bytes | top-1 agreement | cosine | SNR | TTFT ratio (prefill 128) | decode ratio (KV 128) | tokens/s |');
  say('|---|---|---|---|---|---|---|---|');
  for (const b of hb) {
    const q = hq.get(b.id)!;
    const l = hl.get(b.id)!;
    const c = b.id === 'fp16' ? undefined : compareDecoderLatency(hr, l, 1.05, SEED);
    say(`| ${b.label} | ${(b.bytes / 2 ** 20).toFixed(1)} MiB | ${q.top1_agreement.toFixed(3)} | ${q.cosine.toFixed(5)} | ${db(q.snr_db)} | ${ratioCell(c?.ttft)} | ${ratioCell(c?.decode)} | ${l.tokens_per_s.toFixed(0)} |`);
  }
  say();
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const hw = hardwareFingerprint();
  const load0 = os.loadavg();
  lines.push(BEGIN, '## MatMulNBits (int4/int8 weight-only MatMul) and fp16 → fp32', '');
  const head = lines.length;
  await transformer();
  await decoder();
  const load1 = os.loadavg();
  const seconds = ((performance.now() - t0) / 1000).toFixed(0);
  const isa = Object.entries(hw.isa ?? {}).filter(([, v]) => v).map(([k]) => k).join(', ');
  lines.splice(head, 0,
    `Generated by \`npm run bench:nbits\` on ${new Date().toISOString().slice(0, 10)} in ${seconds} s.`,
    '',
    `- Machine: ${hw.cpu}, ${hw.cores} logical cores, ${hw.arch}; ISA: ${isa}.`,
    `- Runtime: onnxruntime-node ${ORT_VERSION}, Node ${process.version}; 1 intra-op thread; CPU execution provider.`,
    `- Load average (1, 5, 15 min) before: ${load0.map((v) => v.toFixed(2)).join(', ')}; after: ${load1.map((v) => v.toFixed(2)).join(', ')}. Other work shared the cores: ratios (measured interleaved, in one run per table) are more trustworthy than absolute milliseconds.`,
    '- Models: built in code with seeded random weights (bench/models.ts, test/support/tiny-decoder.ts). Fidelity is against the table\'s reference: cosine similarity and SNR (reference as signal) of the outputs on 64 seeded samples (transformer), or of the next-token logits on 8 seeded 32-token prompts, each with 4 teacher-forced decode steps (decoder, 40 positions), with top-1 agreement. Random-weight models have flatter logits than trained ones, so top-1 agreement here is a pessimistic figure.',
    '- Latency: p50 ratio against the reference with the 95% bootstrap CI over paired rounds. TTFT = one run over a 128-token prompt with an empty cache; decode = one token against the 128-token cache that model returned.',
    '',
  );
  lines.push(END);
  if (!args['no-doc']) {
    const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n';
    const section = lines.join('\n');
    const a = doc.indexOf(BEGIN), b = doc.indexOf(END);
    writeFileSync(DOC, a >= 0 && b > a ? doc.slice(0, a) + section + doc.slice(b + END.length) : `${doc.trimEnd()}\n\n${section}\n`);
  }
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(tmp, { recursive: true, force: true }));
