/**
 * The pass interface. A pass is one file: a name, the JSON Schema of its options (validated with the
 * config), and a pure function from model to model. Passes never mutate their input, and the same
 * input and options give a byte-identical output.
 */
import type { Model } from '../model/onnx.js';
import type { Feeds } from '../model/host-tensor.js';
import type { RuntimeOptions } from '../runtime/session.js';

/* prune/lowrank `recover` (./recover.ts) reports these. */
/** One recovered layer, as the pass reports it (PassNote.recovery.layers). */
export interface RecoveredLayer {
  /** The node whose output was matched (prune: the consumer whose weights were re-fitted). */
  node: string;
  /** prune: the node whose channels were removed. */
  pruned?: string;
  method: 'channel selection + least squares' | 'whitened SVD + least squares';
  /** Relative output error ‖Ŷ − Y‖/‖Y‖ on the calibration samples without recovery. */
  error_before: number;
  /** The same after recovery. */
  error_after: number;
  /** Rows of X seen (samples × positions). */
  rows: number;
}

export interface RecoveryNote {
  samples: number;
  /** Wall time of the recovery. */
  seconds: number;
  /** CPU time of this process meanwhile (user + system): on a shared machine, the less load-dependent figure. */
  cpu_seconds: number;
  layers: RecoveredLayer[];
  /** Layers the pass changed but could not recover, with the reason. */
  skipped: string[];
}

/* prune/lowrank `finetune` (./finetune.ts) reports this. */
export interface FinetuneNote {
  /** 'cross-entropy' or 'mse' against the labels, or distillation from the pass's input model. */
  loss: 'cross-entropy' | 'mse' | 'distillation (KL divergence)' | 'distillation (mse)';
  epochs: number;
  samples: number;
  batch_size: number;
  learning_rate: number;
  seed: number;
  /** Mean training loss of each epoch. */
  epoch_loss: number[];
  /** The mean loss over the samples before the first step, for comparison with epoch_loss. */
  initial_loss: number;
  /** Trained weight tensors and their values. */
  weights: number;
  parameters: number;
  /** The TF.js runtime that trained, e.g. 'tfjs 4.22.0 (cpu)'. */
  runtime: string;
  seconds: number;
  cpu_seconds: number;
}

/** What a pass reports beyond its model, for the report (runRecipe collects them per step). */
export interface PassDetails {
  /** prune/lowrank with `recover`: the relative output error of each recovered layer, before and after. */
  recovery?: RecoveryNote;
  /** prune/lowrank with `finetune`: how the model was trained. */
  finetune?: FinetuneNote;
}

/** Samples to train on: batch-1 feeds, and their label rows when the data has labels. */
export interface TrainingSamples {
  feeds: Feeds[];
  /** One row of `labelWidth` values per sample (class ids or one-hot rows, or regression targets); null without labels. */
  labels: Float64Array | null;
  labelWidth: number;
  /** How labels are read: class ids (top1, top5, f1_macro, binary) or regression targets (mse, mae). */
  task: 'classification' | 'regression';
  /** The output the labels belong to (metric_options.output); default the first. */
  output?: string;
  /** The samples are the evaluation data (no `calibration:` section). */
  overlapsEvaluation?: boolean;
}

export interface PassContext {
  /** Calibration samples (one batch-1 feed per sample), for passes that need activations. */
  calibration(samples: number): Promise<Feeds[]>;
  log(message: string): void;
  /**
   * A pass says whether it changed the model and, in one line, what it did or why it did nothing ("no
   * MatMul/Gemm with a constant float32 weight"). The recipe runner records it per step (RecipeResult.notes).
   */
  note?(changed: boolean, why: string): void;
  /** Receives the pass's details (optional: a caller that has no use for them leaves it out). */
  detail?(details: PassDetails): void;
  /** A folder for files a pass must write (ORT writes optimized models only to disk); inside the out dir in a run. */
  scratchDir?: string;
  /** Training samples with their labels when the calibration data has them (prune/lowrank `finetune`). */
  trainingSamples?(samples: number): Promise<TrainingSamples>;
  /** The source model's format ('onnx', 'keras-h5', 'keras-zip', 'tfjs-layers', 'tfjs-graph', 'tflite'); `finetune` needs Keras or TF.js. */
  sourceFormat?: string;
  /** Progress of a long step: k of n done, with a short detail ("epoch 1/2 · loss 0.1234"). The CLI shows a bar. */
  progress?(step: string, k: number, n: number, detail?: string): void;
  /**
   * Results a pass may reuse when the same context runs it again on the same input (the auto search builds
   * dozens of static QDQ trials of one model: the calibration ranges are the same for each). Keys start
   * with the pass name and include a digest of the input model and every option the result depends on.
   */
  memo?: Map<string, unknown>;
}

/** One step's outcome, as the report shows it: "quantize: no change: no MatMul/Gemm ...". */
export interface PassNote {
  pass: string;
  changed: boolean;
  why: string;
}

export interface Pass<Options = Record<string, unknown>> {
  name: string;
  /** JSON Schema of the options object. */
  schema: Record<string, unknown>;
  run(model: Model, options: Options, ctx: PassContext): Promise<Model>;
  /**
   * Session options the pass's output needs to run as intended (e.g. weight_only needs
   * 'session.disable_quant_qdq' = '1' to run at fp32 speed). They are part of the candidate: measured
   * with it and shipped with it.
   */
  runtimeOptions?(options: Options): RuntimeOptions;
}
