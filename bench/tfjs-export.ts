/**
 * TF.js export of the seed's MNIST CNN (examples/keras-mnist/model.h5) with each weight storage:
 * size on disk, top-1 on the 2,000 test digits after reloading, largest probability change, and
 * predict() latency (batch 1) on the TF.js runtime in use (wasm here; tfjs-node when installed).
 *
 *   npx tsx bench/tfjs-export.ts [runs=200]
 *
 * TF.js dequantizes weights to float32 when it loads them, so quantization buys download size,
 * not speed: latency should not move with it. Not a test: figures depend on the machine.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTfjs } from '../src/runtime/tfjs.js';
import { readKerasH5 } from '../src/import/keras-h5.js';
import { exportTfjsModel } from '../src/import/tfjs-export.js';
import { readTfjsLayersModel } from '../src/formats/tfjs/files.js';
import { readNpy } from '../src/data/npy.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const runs = Number(process.argv[2] ?? 200);

async function main(): Promise<void> {
  const rt = await loadTfjs();
  const t = rt.tf;
  const { model } = await readKerasH5(t, path.join(HERE, '../examples/keras-mnist/model.h5'));
  const images = readNpy(readFileSync(path.join(HERE, '../examples/mnist/test-images.npy')), 'test-images.npy');
  const labels = readNpy(readFileSync(path.join(HERE, '../examples/mnist/test-labels.npy')), 'test-labels.npy').data as Uint8Array;
  const count = images.shape[0]!;
  const x = t.tensor4d(Float32Array.from(images.data as Uint8Array, (v) => v / 255), [count, 28, 28, 1]);
  const top1 = (m: typeof model) => {
    const predicted = t.tidy(() => (m.predict(x, { batchSize: 250 }) as import('@tensorflow/tfjs').Tensor).argMax(-1).dataSync());
    return Array.from(predicted as ArrayLike<number>).reduce((n: number, p: number, i: number) => n + (p === labels[i] ? 1 : 0), 0) / count;
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-tfjs-export-'));
  const rows: string[][] = [];
  try {
    for (const quantize of ['none', 'float16', 'uint16', 'uint8'] as const) {
      const r = await exportTfjsModel(t, model, path.join(dir, quantize), { quantize, runs, warmup: 20, runtime: rt.label });
      const reloaded = await readTfjsLayersModel(t, path.join(dir, quantize));
      rows.push([quantize, `${(r.bytes / 1024).toFixed(1)} KB`, `${((100 * top1(reloaded)) as number).toFixed(2)}%`, r.max_abs_diff.toExponential(1), `${r.latency.p50_ms.toFixed(3)} ms`, `${r.latency.p90_ms.toFixed(3)} ms`]);
      reloaded.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const header = ['weights', 'size', 'top-1', 'max |Δp|', 'p50', 'p90'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`${rt.label}, batch 1, ${runs} timed runs, ${count} test digits\n`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
