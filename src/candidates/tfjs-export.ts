/** The TF.js export producer: the Keras/TF.js source written as a TF.js layers model with quantized weights, run by TF.js. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ModelGateError } from '../errors.js';
import { exportTfjsVariants } from '../import/index.js';
import { loadTfjs } from '../runtime/tfjs.js';
import type { CandidateProducer } from './producer.js';

export const tfjsExportProducer: CandidateProducer = {
  kind: 'tfjs-export',
  accepts: (r) => r.kind === 'tfjs_export',
  id: (r) => (r.kind === 'tfjs_export' ? `tfjs-${r.quantize}` : ''),
  async build(r, ctx) {
    if (r.kind !== 'tfjs_export') throw new Error('tfjsExportProducer: not a tfjs_export request');
    const imported = ctx.source.imported;
    if (!imported) throw new ModelGateError('tfjs_export: needs a Keras (.h5, .keras) or TF.js source model');
    const [exported] = await exportTfjsVariants(imported, ctx.outDir, { quantize: [r.quantize], runs: r.runs }, ctx.log);
    const dir = path.join(ctx.outDir, exported!.dir);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as { weightsManifest?: Array<{ paths: string[] }> };
    const files = ['model.json', ...(manifest.weightsManifest ?? []).flatMap((g) => g.paths)];
    return {
      id: `tfjs-${r.quantize}`, file: path.join(dir, 'model.json'), bytes: exported!.bytes, runtimeKind: 'tfjs', runtimeOptions: {},
      batch: { kind: 'dynamic' }, provenance: { kind: 'tfjs-export', export: exported!, files, runtime: (await loadTfjs()).label },
    };
  },
};
