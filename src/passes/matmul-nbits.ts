/**
 * The 'matmul_nbits' pass: MatMul nodes whose B is a constant 2-D float weight [K, N] become onnxruntime's
 * contrib op com.microsoft.MatMulNBits, with B stored block-quantized to 4 or 8 bits along K. This is the
 * weight-only form LLM exports ship (onnxruntime-genai's builder, ORT's matmul_nbits_quantizer): an int4
 * weight at block 32 takes 5/32 of its fp32 bytes, and ORT's CPU kernels read the packed weights directly.
 *
 * Layout and arithmetic follow ORT's own definitions (docs/ContribOperators.md, "com.microsoft.MatMulNBits",
 * and onnxruntime/core/mlas/lib/q4_dq.cpp):
 *   - B is uint8 [N, k_blocks, blob_size], k_blocks = ceil(K / block_size), blob_size = block_size·bits/8;
 *     column n of the weight is cut into blocks along K, codes packed low bits first (two 4-bit codes a
 *     byte: element 2j in the low nibble, 2j+1 in the high one). A K that is not a multiple of the block
 *     is padded with zeros in the last block.
 *   - scales [N, k_blocks] in A's float type; dequantized weight = (code − zero_point) · scale.
 *   - zero_points (only when asymmetric) uint8 [N, ceil(k_blocks·bits/8)], packed like B; without
 *     them ORT uses 2^(bits−1).
 *   - symmetric blocks (MLAS's scheme): the value of largest magnitude, sign kept, maps to code 0, so
 *     scale = v_maxabs / −2^(bits−1); this uses all 2^bits codes instead of wasting one.
 *   - asymmetric blocks: range [min(v_min, 0), max(v_max, 0)] over 2^bits − 1 steps, zero point rounded.
 */
import { DataType, cloneModel, dimsOf, type Model, type onnx } from '../model/onnx.js';
import { floatToHalf, halfToFloat, makeTensor, tensorToFloat32 } from '../model/tensor.js';
import {
  NameAllocator, checkModel, consumerMap, describeNode, dropInitializerInputs, ensureOpsetImport, initializerMap, intAttr, makeNode,
  removeUnusedInitializers, setInitializer, sortGraph,
} from '../model/graph.js';
import { ModelGateError } from '../errors.js';
import type { Pass, PassContext } from './pass.js';

export interface MatMulNBitsOptions {
  bits?: 4 | 8;
  block_size?: 16 | 32 | 64 | 128;
  symmetric?: boolean;
  accuracy_level?: 0 | 1 | 2 | 3 | 4;
  /** Weights with fewer elements stay float: small MatMuls gain nothing and lose accuracy. */
  min_elements?: number;
  /** MatMul node names to leave alone. */
  nodes_exclude?: string[];
}

export const matmulNBitsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    bits: { enum: [4, 8] },
    block_size: { enum: [16, 32, 64, 128] },
    symmetric: { type: 'boolean' },
    accuracy_level: { enum: [0, 1, 2, 3, 4] },
    min_elements: { type: 'integer', minimum: 1 },
    nodes_exclude: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
  },
} as const;

export const MATMUL_NBITS_DEFAULTS = { bits: 4, block_size: 32, symmetric: true, min_elements: 4096 } as const;

export interface BlockQuantized {
  /** [N, kBlocks, blobSize] packed codes. */
  packed: Uint8Array;
  /** [N, kBlocks] (float values; stored as the activation type). */
  scales: Float32Array;
  /** [N, ceil(kBlocks·bits/8)] packed, or null when symmetric. */
  zeroPoints: Uint8Array | null;
  kBlocks: number;
  blobSize: number;
}

/**
 * Block-quantizes a row-major [K, N] weight column by column. `roundScale` maps a scale to the value the
 * runtime will see (fp16 rounding for fp16 models), so that codes are computed against the stored scale.
 */
export function quantizeBlocks(
  w: Float32Array, K: number, N: number, bits: 4 | 8, blockSize: number, symmetric: boolean, roundScale: (s: number) => number = (s) => Math.fround(s),
): BlockQuantized {
  const kBlocks = Math.ceil(K / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const maxCode = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const packed = new Uint8Array(N * kBlocks * blobSize);
  const scales = new Float32Array(N * kBlocks);
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const zeroPoints = symmetric ? null : new Uint8Array(N * zpRow);
  const codes = new Uint8Array(blockSize);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const k0 = b * blockSize;
      const len = Math.min(blockSize, K - k0);
      let scale: number;
      let zp: number;
      if (symmetric) {
        let amax = 0, vmax = 0;
        for (let i = 0; i < len; i++) {
          const v = w[(k0 + i) * N + n]!;
          if (Math.abs(v) > amax) { amax = Math.abs(v); vmax = v; }
        }
        scale = roundScale(vmax / -mid);
        zp = mid;
      } else {
        let lo = 0, hi = 0;
        for (let i = 0; i < len; i++) {
          const v = w[(k0 + i) * N + n]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        scale = roundScale((hi - lo) / maxCode);
        zp = scale !== 0 ? Math.min(maxCode, Math.max(0, Math.round(-lo / scale))) : mid;
      }
      const inv = scale !== 0 ? 1 / scale : 0;
      codes.fill(zp);
      for (let i = 0; i < len; i++) codes[i] = Math.min(maxCode, Math.max(0, Math.round(w[(k0 + i) * N + n]! * inv) + zp));
      const at = (n * kBlocks + b) * blobSize;
      if (bits === 8) packed.set(codes, at);
      else for (let j = 0; j < blobSize; j++) packed[at + j] = codes[2 * j]! | (codes[2 * j + 1]! << 4);
      scales[n * kBlocks + b] = scale;
      if (zeroPoints) {
        if (bits === 8) zeroPoints[n * zpRow + b] = zp;
        else zeroPoints[n * zpRow + (b >> 1)]! |= zp << ((b & 1) * 4);
      }
    }
  }
  return { packed, scales, zeroPoints, kBlocks, blobSize };
}

export async function quantizeMatMulNBits(input: Model, options: MatMulNBitsOptions, ctx: PassContext): Promise<Model> {
  const model = cloneModel(input);
  dropInitializerInputs(model);
  const graph = model.graph!;
  sortGraph(graph);
  const bits = options.bits ?? MATMUL_NBITS_DEFAULTS.bits;
  const blockSize = options.block_size ?? MATMUL_NBITS_DEFAULTS.block_size;
  const symmetric = options.symmetric ?? MATMUL_NBITS_DEFAULTS.symmetric;
  const minElements = options.min_elements ?? MATMUL_NBITS_DEFAULTS.min_elements;
  const exclude = new Set(options.nodes_exclude ?? []);
  for (const name of exclude) {
    if (!(graph.node ?? []).some((n) => n.name === name)) throw new ModelGateError(`pass 'matmul_nbits': option 'nodes_exclude' names '${name}', which is not a node of the model`);
  }
  const inits = initializerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name));
  const names = new NameAllocator(graph);
  // One quantized copy per weight, however many MatMuls read it.
  const done = new Map<string, { b: string; scales: string; zp: string | null; K: number; N: number }>();
  const skipped: string[] = [];
  let converted = 0, before = 0, after = 0;
  graph.node = (graph.node ?? []).map((node) => {
    if (node.opType !== 'MatMul' || (node.domain ?? '') !== '' || exclude.has(node.name ?? '')) return node;
    const wName = node.input?.[1] ?? '';
    const w = inits.get(wName);
    if (!w || (w.dataType !== DataType.FLOAT && w.dataType !== DataType.FLOAT16) || graphOutputs.has(wName)) return node;
    const dims = dimsOf(w);
    if (dims.length !== 2) {
      skipped.push(`${describeNode(node)}: weight '${wName}' is ${dims.length}-D, MatMulNBits takes a 2-D [K, N] weight`);
      return node;
    }
    const [K, N] = dims as [number, number];
    if (K * N < minElements) return node;
    let q = done.get(wName);
    if (!q) {
      const half = w.dataType === DataType.FLOAT16;
      const round = half ? (s: number) => halfToFloat(floatToHalf(s)) : (s: number) => Math.fround(s);
      const r = quantizeBlocks(tensorToFloat32(w), K, N, bits, blockSize, symmetric, round);
      const base = wName;
      const bT = makeTensor(names.next(`${base}_Q${bits}`), [N, r.kBlocks, r.blobSize], r.packed);
      const sT = half
        ? makeTensor(names.next(`${base}_scales`), [N, r.kBlocks], Uint16Array.from(r.scales, floatToHalf), DataType.FLOAT16)
        : makeTensor(names.next(`${base}_scales`), [N, r.kBlocks], r.scales);
      for (const t of [bT, sT]) setInitializer(graph, t);
      let zp: string | null = null;
      if (r.zeroPoints) {
        const zT = makeTensor(names.next(`${base}_zero_points`), [N, r.zeroPoints.length / N], r.zeroPoints);
        setInitializer(graph, zT);
        zp = zT.name;
      }
      q = { b: bT.name, scales: sT.name, zp, K, N };
      done.set(wName, q);
      before += K * N * (half ? 2 : 4);
      after += r.packed.length + r.scales.length * (half ? 2 : 4) + (r.zeroPoints?.length ?? 0);
    }
    converted++;
    const attributes: onnx.AttributeProto[] = [intAttr('K', K), intAttr('N', N), intAttr('bits', bits), intAttr('block_size', blockSize)];
    if (options.accuracy_level !== undefined) attributes.push(intAttr('accuracy_level', options.accuracy_level));
    return makeNode('MatMulNBits', [node.input![0]!, q.b, q.scales, ...(q.zp ? [q.zp] : [])], [...(node.output ?? [])], {
      name: node.name ? node.name : names.next(`${node.output?.[0] ?? 'matmul'}_MatMulNBits`),
      domain: 'com.microsoft',
      attributes,
    }) as onnx.NodeProto;
  });
  if (converted > 0) ensureOpsetImport(model, 'com.microsoft', 1);
  removeUnusedInitializers(graph);
  for (const s of skipped) ctx.log(`matmul_nbits: skipped ${s}`);
  ctx.log(
    `matmul_nbits: ${converted} MatMul node(s) to ${bits}-bit blocks of ${blockSize}${symmetric ? '' : ' with zero points'} ` +
      `(${(before / 1024).toFixed(0)} KiB → ${(after / 1024).toFixed(0)} KiB)`,
  );
  checkModel(model, 'matmul_nbits output');
  return model;
}

export const matmulNBitsPass: Pass<MatMulNBitsOptions> = {
  name: 'matmul_nbits',
  schema: matmulNBitsSchema,
  run: quantizeMatMulNBits,
};
