/**
 * Checks the opset upgrade against the ONNX backend test cases shipped by Debian's libonnx-testdata
 * (/usr/share/libonnx-testdata/data): every model at opset 6–12 is run in onnxruntime before and after
 * upgradeOpset on its reference inputs, and both runs are compared with the reference outputs.
 *
 *   npx tsx bench/opset-upgrade.ts [corpus-dir]
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { decodeModel, encodeModel, onnx, dimsOf } from '../src/model/onnx.js';
import { opsetVersion } from '../src/model/graph.js';
import { tensorData } from '../src/model/tensor.js';
import { OrtSession } from '../src/runtime/session.js';
import { upgradeOpset } from '../src/passes/upgrade-opset.js';
import { errorMessage } from '../src/errors.js';
import type { Feeds, HostDType } from '../src/model/host-tensor.js';

const root = process.argv[2] ?? '/usr/share/libonnx-testdata/data';
const HOST: Record<number, HostDType> = {
  [onnx.TensorProto.DataType.FLOAT]: 'float32', [onnx.TensorProto.DataType.DOUBLE]: 'float64', [onnx.TensorProto.DataType.INT8]: 'int8',
  [onnx.TensorProto.DataType.UINT8]: 'uint8', [onnx.TensorProto.DataType.INT16]: 'int16', [onnx.TensorProto.DataType.UINT16]: 'uint16',
  [onnx.TensorProto.DataType.INT32]: 'int32', [onnx.TensorProto.DataType.INT64]: 'int64', [onnx.TensorProto.DataType.BOOL]: 'bool',
  [onnx.TensorProto.DataType.UINT32]: 'uint32', [onnx.TensorProto.DataType.UINT64]: 'uint64',
};

function maxDiff(a: ArrayLike<unknown>, b: ArrayLike<unknown>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i]), y = Number(b[i]);
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    m = Math.max(m, Math.abs(x - y) / Math.max(1, Math.abs(x)));
  }
  return m;
}

async function runCase(dir: string, model: onnx.ModelProto, feeds: Feeds): Promise<Record<string, ArrayLike<unknown>>> {
  const s = await OrtSession.create(encodeModel(model), { graphOptimizationLevel: 'disabled' }, dir);
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(s.outputNames.map((n) => [n, out[n]!.data as ArrayLike<unknown>]));
  } finally {
    await s.release();
  }
}

const rows: string[][] = [];
let verified = 0, verifiedRef = 0, skipped = 0, failed = 0, refused = 0;
for (const cat of readdirSync(root).sort()) {
  for (const name of readdirSync(path.join(root, cat)).sort()) {
    const dir = path.join(root, cat, name);
    const file = path.join(dir, 'model.onnx');
    if (!existsSync(file)) continue;
    const model = decodeModel(readFileSync(file), file);
    const from = opsetVersion(model);
    if (from < 6 || from > 12) continue;
    const ops = [...new Set((model.graph!.node ?? []).map((n) => n.opType))].join(',');
    const data = path.join(dir, 'test_data_set_0');
    const feeds: Feeds = {};
    const refs: ArrayLike<unknown>[] = [];
    let numeric = existsSync(data);
    if (numeric) {
      const initNames = new Set((model.graph!.initializer ?? []).map((t) => t.name));
      const inputs = (model.graph!.input ?? []).filter((v) => !initNames.has(v.name));
      for (const f of readdirSync(data).sort()) {
        const t = onnx.TensorProto.decode(readFileSync(path.join(data, f)));
        const type = HOST[t.dataType ?? 0];
        if (!type || !t.dataType) { numeric = false; break; }
        if (f.startsWith('input_')) {
          const i = Number(f.slice(6, -3));
          feeds[t.name || inputs[i]!.name!] = { type, dims: dimsOf(t), data: tensorData(t) };
        } else if (f.startsWith('output_')) refs[Number(f.slice(7, -3))] = tensorData(t);
      }
    }
    if (!numeric) { skipped++; rows.push([`${cat}/${name}`, String(from), ops, 'skipped: non-tensor data']); continue; }
    let up;
    try {
      up = await upgradeOpset(model);
    } catch (err) {
      refused++;
      rows.push([`${cat}/${name}`, String(from), ops, `refused: ${errorMessage(err)}`]);
      continue;
    }
    // ORT has no kernels for some opset-6 versions; those are checked against the reference outputs alone.
    let before: Record<string, ArrayLike<unknown>> | undefined;
    try {
      before = await runCase(dir, model, feeds);
    } catch {
      before = undefined;
    }
    try {
      const after = await runCase(dir, up.model, feeds);
      const names = Object.keys(after);
      const dUp = before ? Math.max(...names.map((n) => maxDiff(before[n]!, after[n]!))) : NaN;
      const dRef = Math.max(...names.map((n, i) => (refs[i] ? maxDiff(refs[i]!, after[n]!) : 0)));
      const ok = before ? dUp <= 1e-5 : dRef <= 1e-4;
      if (ok) (before ? verified++ : verifiedRef++); else failed++;
      const vs = before ? `after vs before ${dUp.toExponential(1)}, ` : 'original does not run in ORT; ';
      rows.push([`${cat}/${name}`, String(from), ops, `${ok ? 'ok' : 'DIFFERS'} (${vs}vs reference ${dRef.toExponential(1)}; rewritten ${JSON.stringify(up.rewritten)})`]);
    } catch (err) {
      if (!before) {
        skipped++;
        rows.push([`${cat}/${name}`, String(from), ops, `skipped: ORT runs it neither before nor after (${errorMessage(err).slice(-90)})`]);
        continue;
      }
      failed++;
      rows.push([`${cat}/${name}`, String(from), ops, `FAILED after upgrade: ${errorMessage(err).slice(0, 160)}`]);
    }
  }
}
console.log('| case | opset | ops | result |\n|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(`\nverified ${verified} against the original in ORT, ${verifiedRef} against the reference outputs only (ORT cannot run the original), differing or failing ${failed}, refused by the upgrader ${refused}, skipped ${skipped} (of ${rows.length} opset 6–12 cases)`);
