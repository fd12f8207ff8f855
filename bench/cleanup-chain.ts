/**
 * Cleanup on long Identity chains must be linear in the node count: prints the time for chains of 10k and
 * 100k Identity nodes (and the ratio, which stays near 10 when linear; it was ~100 when each removal rewrote
 * the whole graph).
 *
 *   npx tsx bench/cleanup-chain.ts
 */
import Long from 'long';
import { onnx, type Model } from '../src/model/onnx.js';
import { makeNode, tensorValueInfo, FLOAT } from '../src/model/graph.js';
import { cleanup } from '../src/passes/cleanup.js';

export function identityChain(n: number): Model {
  const node = Array.from({ length: n }, (_, i) => makeNode('Identity', [i === 0 ? 'x' : `t${i - 1}`], [i === n - 1 ? 'y' : `t${i}`]));
  // A Relu first, so the chain has a producer that can take over the output name.
  node.unshift(makeNode('Relu', ['in'], ['x']));
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: { name: 'chain', node, input: [tensorValueInfo('in', FLOAT, [4])], output: [tensorValueInfo('y', FLOAT, [4])] },
  });
}

const ctx = { log: () => {}, calibration: async () => [] };
const rows: Array<[number, number, number]> = [];
for (const n of [10_000, 100_000]) {
  const model = identityChain(n);
  const t0 = performance.now();
  const out = await cleanup(model, {}, ctx);
  const ms = performance.now() - t0;
  rows.push([n, ms, out.graph!.node!.length]);
}
console.log('| Identity nodes | cleanup ms | nodes left |\n|---|---|---|');
for (const [n, ms, left] of rows) console.log(`| ${n} | ${ms.toFixed(0)} | ${left} |`);
console.log(`\n100k / 10k time ratio: ${(rows[1]![1] / rows[0]![1]).toFixed(1)} (10 = linear)`);
