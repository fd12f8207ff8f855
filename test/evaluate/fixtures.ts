/** What the evaluate tests share: a seeded unlabelled dataset over one float input, and a candidate record for an ONNX file. */
import type { Dataset } from '../../src/data/dataset.js';
import type { Candidate } from '../../src/candidates/types.js';
import { rng } from '../passes/fixtures.js';

/** `count` samples of input `x`, `width` values each, uniform in [0, 1) from seed 11; no labels. */
export function arrayDataset(width: number, count: number, synthetic = false): Dataset {
  const data = Float32Array.from({ length: width * count }, rng(11));
  const feeds = (start: number, n: number) => ({ x: { type: 'float32' as const, dims: [n, width], data: data.slice(start * width, (start + n) * width) } });
  return {
    count, hasLabels: false, synthetic,
    *batches(size: number) {
      for (let s = 0; s < count; s += size) yield { feeds: feeds(s, Math.min(size, count - s)), labels: null, labelWidth: 1, count: Math.min(size, count - s) };
    },
    feedsForBatch: (b: number) => feeds(0, b),
  };
}

export const onnxCandidate = (id: string, file: string): Candidate => ({ id, file, bytes: 0, runtimeKind: 'onnxruntime', runtimeOptions: {}, batch: { kind: 'dynamic' }, provenance: { kind: 'reference' } });
