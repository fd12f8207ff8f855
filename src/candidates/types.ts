/**
 * A candidate: one model file the gate weighs against the reference, with everything needed to run it
 * the way it was meant to run (runtime, session options, batch policy) and where it came from. Producers
 * make candidates; each later stage adds its typed result to a CandidateResult.
 */
import type { OptimizeSpec, PassSpec, TfjsExportStepSpec } from '../config/types.js';
import type { RuntimeKind } from '../runtime/kind.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { TfliteRuntimeInfo } from '../runtime/tflite.js';
import type { TfjsExportReport } from '../import/index.js';
import type { AutoReport } from './search-report.js';
import type { PassNote } from '../passes/pass.js';
import type { RecoveryNote } from '../passes/recover.js';
import type { FinetuneNote } from '../passes/pass.js';
import type { TfliteCandidateInfo } from './tflite-export.js';

export const REFERENCE_ID = 'reference';

/** How many samples one run of the model takes: any (a symbolic batch dimension) or exactly `batch`. */
export type BatchPolicy = { kind: 'dynamic' } | { kind: 'fixed'; batch: number };

/** Where a candidate came from. */
export type Provenance =
  | { kind: 'reference' }
  | { kind: 'recipe'; recipe: PassSpec[] }
  /** `export`: the winner is a .tflite (a tflite_* family), exported and verified as a `tflite` step is. */
  | { kind: 'auto'; recipe: PassSpec[]; search: AutoReport; export?: TfliteCandidateInfo }
  | { kind: 'tflite'; recipe: unknown[]; export: TfliteCandidateInfo }
  | { kind: 'tfjs-export'; export: TfjsExportReport; files: string[]; runtime: string };

export type ProvenanceKind = Provenance['kind'];

export interface Candidate {
  id: string;
  /** Absolute path of the model file ('' when the build failed). */
  file: string;
  /** Bytes of the model as shipped (a TF.js export: model.json plus its weight shards). */
  bytes: number;
  runtimeKind: RuntimeKind;
  /** Session options it must run with: measured with it, reported, and shipped with it. */
  runtimeOptions: RuntimeOptions;
  batch: BatchPolicy;
  provenance: Provenance;
  /** How TFLite runs it (XNNPACK or not), for TFLite candidates. */
  tfliteRuntime?: TfliteRuntimeInfo;
  /** What each pass of its recipe did, and why a pass changed nothing. */
  passNotes?: PassNote[];
  /** prune/lowrank with `recover`: each re-fitted layer's output error before and after. */
  recovery?: RecoveryNote[];
  /** prune/lowrank with `finetune`: how the changed model was trained. */
  finetune?: FinetuneNote[];
}

/** What a producer is asked to make: an `optimize` entry, or one variant of `tfjs_export`. */
export type CandidateRequest =
  | { kind: 'optimize'; index: number; spec: OptimizeSpec }
  | { kind: 'tfjs_export'; quantize: TfjsExportStepSpec['quantize'][number]; runs: number };

/** The recipe a candidate ran, as report.json lists it. */
export function recipeOf(p: Provenance): unknown[] {
  switch (p.kind) {
    case 'reference': return [];
    case 'recipe': case 'auto': case 'tflite': return p.recipe;
    case 'tfjs-export': return [{ tfjs_export: { quantize: p.export.quantize } }];
  }
}
