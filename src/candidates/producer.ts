/**
 * The producer interface: one producer per kind of candidate (a pass recipe, a TFLite export, the auto
 * search, a TF.js export), looked up by the request it accepts, the way passes are looked up by name.
 */
import type { Config } from '../config/types.js';
import type { IoSpec } from '../model/io.js';
import type { Dataset } from '../data/dataset.js';
import type { PassContext } from '../passes/pass.js';
import type { SourceModel } from '../load/project.js';
import type { Candidate, CandidateRequest, ProvenanceKind } from './types.js';

export interface BuildContext {
  config: Config;
  source: SourceModel;
  inputs: IoSpec[];
  dataset: Dataset;
  /** What calibrating passes and exports learn from (see Project.calibration). */
  calibration: Dataset;
  /** Where model files go (out/models). */
  modelsDir: string;
  /** The out dir: candidate files are reported relative to it. */
  outDir: string;
  /** Scratch space inside the out dir for trial files (the auto search), removed afterwards. */
  scratchDir: string;
  passContext: PassContext;
  log: (message: string) => void;
}

export interface CandidateProducer {
  readonly kind: ProvenanceKind;
  accepts(request: CandidateRequest): boolean;
  /** The candidate id the request asks for (known before building, for messages and duplicate checks). */
  id(request: CandidateRequest): string;
  build(request: CandidateRequest, ctx: BuildContext): Promise<Candidate>;
}
