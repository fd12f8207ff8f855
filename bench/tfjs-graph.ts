/**
 * TF.js graph import on the public graph models scripts/fixtures.sh fetches (@vladmandic/human 3.3.6):
 * ops converted, ONNX nodes and Transposes, the numerical check, conversion time, and batch-1 latency
 * of the ONNX model in onnxruntime against the same model.json in TF.js (interleaved, p50 of RUNS).
 *
 *   npx tsx bench/tfjs-graph.ts [RUNS]
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { importModel } from '../src/import/index.js';
import { readTfjsArtifacts } from '../src/formats/tfjs/files.js';
import { loadGraphModel } from '../src/import/tfjs-graph/index.js';
import { loadTfjs } from '../src/runtime/tfjs.js';
import { OrtSession } from '../src/runtime/session.js';
import { encodeModel } from '../src/model/onnx.js';
import { seededRandom } from '../src/data/random.js';
import type * as tf from '@tensorflow/tfjs';

const RUNS = Number(process.argv[2] ?? 30);
const DIR = 'test/.cache/vladmandic-human-3.3.6/models';
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rt = await loadTfjs();
const rows: string[] = [];
for (const name of ['liveness', 'antispoof', 'blazeface']) {
  const file = path.join(DIR, `${name}.json`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run fixtures`);
  const imported = await importModel(file);
  const graph = imported.model.graph!;
  const input = imported.source.inputs![0]!;
  const batch = Number(graph.input![0]!.type!.tensorType!.shape!.dim![0]!.dimValue ?? 1) || 1;
  const random = seededRandom(7);
  const data = Float32Array.from({ length: batch * input.shape.reduce((a, b) => a * b, 1) }, () => random());
  const ort = await OrtSession.create(encodeModel(imported.model), { intraOpThreads: 1 });
  const gm = await loadGraphModel(rt.tf, readTfjsArtifacts(file));
  const outputs = graph.output!.map((o) => o.name!);
  const ortMs: number[] = [];
  const tfjsMs: number[] = [];
  for (let k = 0; k < RUNS + 3; k++) {
    let t0 = performance.now();
    await ort.run({ [input.name]: { type: 'float32', dims: [batch, ...input.shape], data } });
    const a = performance.now() - t0;
    t0 = performance.now();
    rt.tf.tidy(() => {
      const out = gm.execute({ [input.name]: rt.tf.tensor(data, [batch, ...input.shape]) }, outputs);
      (Array.isArray(out) ? out : [out]).forEach((o: tf.Tensor) => o.dataSync());
    });
    const b = performance.now() - t0;
    if (k >= 3) {
      ortMs.push(a);
      tfjsMs.push(b);
    }
  }
  await ort.release();
  gm.dispose();
  const c = imported.source.check!;
  rows.push(
    `| ${name} | ${imported.source.ops} | ${graph.node!.length} | ${graph.node!.filter((n) => n.opType === 'Transpose').length} | ${c.max_abs_diff.toExponential(1)} (limit ${c.limit.toExponential(1)}) | ${imported.source.convert_seconds!.toFixed(1)} s | ${median(ortMs).toFixed(2)} ms | ${median(tfjsMs).toFixed(2)} ms | ${(median(ortMs) / median(tfjsMs)).toFixed(2)}x |`,
  );
}
console.log(`TF.js graph import, ${rt.label} vs onnxruntime-node (1 thread), batch as the model declares, p50 of ${RUNS} interleaved runs\n`);
console.log('| model | TF ops | ONNX nodes | Transposes | max abs diff vs TF.js | import + check | ORT p50 | TF.js p50 | ORT / TF.js |');
console.log('|---|---:|---:|---:|---|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
