/**
 * The pass interface. A pass is one file: a name, the JSON Schema of its options (validated with the
 * config), and a pure function from model to model. Passes never mutate their input, and the same
 * input and options give a byte-identical output.
 */
import type { Model } from '../model/onnx.js';
import type { Feeds } from '../model/host-tensor.js';

export interface PassContext {
  /** Calibration samples (one batch-1 feed per sample), for passes that need activations. */
  calibration(samples: number): Promise<Feeds[]>;
  log(message: string): void;
}

export interface Pass<Options = Record<string, unknown>> {
  name: string;
  /** JSON Schema of the options object. */
  schema: Record<string, unknown>;
  run(model: Model, options: Options, ctx: PassContext): Promise<Model>;
}
