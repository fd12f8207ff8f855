import { measureInterleaved, compareLatency } from './src/benchmark/runner.js';
import * as ort from 'onnxruntime-node';
import { copyFileSync, mkdirSync } from 'node:fs';
const [src, cand] = [process.argv[2]!, process.argv[3]!];
const reps = Number(process.argv[4] ?? 6);
const s = await ort.InferenceSession.create(src);
const feeds: any = {};
for (const name of s.inputNames) {
  const meta: any = (s as any).inputMetadata?.find?.((m: any) => m.name === name) ?? null;
  let i = 0;
  const dims = (meta?.shape ?? []).map((d: any) => typeof d === 'number' ? d : (name === 'input' && i++ === 1 ? 512 : (name === 'input' ? 1 : 1)));
  if (name === 'input' && dims.length === 2) dims[1] = 512;
  const size = dims.reduce((a: number, b: number) => a * b, 1);
  if (meta?.type === 'int64') feeds[name] = { type: 'int64', dims, data: BigInt64Array.from({ length: size }, () => 16000n) };
  else feeds[name] = { type: 'float32', dims, data: Float32Array.from({ length: size }, (_, i) => Math.sin(i) * 0.1) };
}
mkdirSync('/tmp/aa2', { recursive: true });
copyFileSync(src, '/tmp/aa2/ref.onnx'); copyFileSync(src, '/tmp/aa2/copy.onnx'); copyFileSync(cand, '/tmp/aa2/cand.onnx'); copyFileSync(process.argv[5]!, '/tmp/aa2/cand2.onnx');
const rt = { intraOpThreads: 1 } as any;
const models = [
  { id: 'ref', path: '/tmp/aa2/ref.onnx', runtime: rt },
  { id: 'copy', path: '/tmp/aa2/copy.onnx', runtime: rt },
  { id: 'cand', path: '/tmp/aa2/cand.onnx', runtime: { ...rt, configEntries: { 'session.disable_quant_qdq': '1' } } },
  { id: 'cand-qdq', path: '/tmp/aa2/cand2.onnx', runtime: rt },
];
const acc: Record<string, number[]> = {};
for (let rep = 0; rep < reps; rep++) {
  const order = rep % 2 === 0 ? models : [...models].reverse();
  const stats = await measureInterleaved(order, feeds, { batch: 1 });
  const ref = stats.get('ref')!;
  const line = ['copy', 'cand', 'cand-qdq'].map((k) => { const c = compareLatency(ref, stats.get(k)!, 1.05, 1); (acc[k] ??= []).push(c.ratio); return `${k} ${c.ratio.toFixed(3)}`; }).join('  ');
  console.log(rep, line, `p50 ${ref.p50_ms.toFixed(3)}`);
}
for (const [k, v] of Object.entries(acc)) console.log(k, 'median', [...v].sort()[v.length >> 1].toFixed(3), 'mean', (v.reduce((a, b) => a + b, 0) / v.length).toFixed(4));
