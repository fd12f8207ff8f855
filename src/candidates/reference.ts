/** The reference candidate: the repository's model as it is, run the way the repository runs it. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { saveModel } from '../model/onnx.js';
import { decodeTflite, encodeTflite } from '../formats/tflite/flatbuffer.js';
import { withInputShapes } from '../formats/tflite/input-shapes.js';
import { fixedBatchOf, type IoSpec } from '../model/io.js';
import type { BuildContext } from './producer.js';
import { tfliteRuntimeInfo } from './tflite-export.js';
import { REFERENCE_ID, type BatchPolicy, type Candidate } from './types.js';

/** The batch an ONNX model runs at: fixed when any input fixes its first dimension. */
export function batchPolicyOf(inputs: IoSpec[], batch: number): BatchPolicy {
  const fixed = fixedBatchOf(inputs);
  return fixed !== null ? { kind: 'fixed', batch: fixed } : inputs.length === 0 ? { kind: 'fixed', batch } : { kind: 'dynamic' };
}

/** The batch a benchmark feeds: the model's fixed batch, or the configured one. */
export function benchmarkBatch(policy: BatchPolicy, configured: number): number {
  return policy.kind === 'fixed' ? policy.batch : configured;
}

export async function buildReference(ctx: BuildContext): Promise<Candidate> {
  const { source, inputs, config, modelsDir } = ctx;
  const onnxPolicy = batchPolicyOf(inputs, config.benchmark.batch);
  if (source.referenceKind === 'tflite' && source.tfliteBytes) {
    const file = path.join(modelsDir, `${REFERENCE_ID}.tflite`);
    mkdirSync(modelsDir, { recursive: true });
    // A .tflite with open dims (shape signature -1) runs at the shapes the inputs resolved to; others as they are.
    const parsed = decodeTflite(source.tfliteBytes, config.model);
    const sized = withInputShapes(parsed, Object.fromEntries(inputs.map((i) => [i.name, i.shape])), config.model);
    writeFileSync(file, sized === parsed ? source.tfliteBytes : encodeTflite(sized));
    return {
      id: REFERENCE_ID, file, bytes: source.tfliteBytes.length, runtimeKind: 'tflite', runtimeOptions: {},
      batch: { kind: 'fixed', batch: benchmarkBatch(onnxPolicy, config.benchmark.batch) }, provenance: { kind: 'reference' },
      tfliteRuntime: await tfliteRuntimeInfo(file, { intraOpThreads: config.benchmark.threads }),
    };
  }
  const file = path.join(modelsDir, `${REFERENCE_ID}.onnx`);
  const bytes = saveModel(source.model, file);
  return { id: REFERENCE_ID, file, bytes, runtimeKind: 'onnxruntime', runtimeOptions: {}, batch: onnxPolicy, provenance: { kind: 'reference' } };
}
