/**
 * The load stage: the config, the export command, the source model imported to the ONNX IR, the
 * resolved inputs and the dataset. `run`, `compare` (once per side) and everything after them start
 * from a Project; nothing downstream reloads the config or a model file to learn what is known here.
 */
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config, LoadedConfig } from '../config/types.js';
import type { ConfigProblem } from '../config/load.js';
import type { Model } from '../model/onnx.js';
import { resolveInputs, type IoSpec } from '../model/io.js';
import { loadCalibration, loadDataset, syntheticDataset, type Dataset } from '../data/dataset.js';
import { runtimeKindOf, type RuntimeKind } from '../runtime/kind.js';
import { importTfliteFile } from '../import/tflite.js';
import { runExportCommand, type ExportResult } from '../import/export-command.js';
import { importModel, inputShapesFromConfig, type ImportedModel, type ModelSource } from '../import/index.js';
import { ModelGateError } from '../errors.js';

/** The repository's model as the pipeline sees it: an ONNX IR for the passes, and the file the reference runs from. */
export interface SourceModel {
  /** The config's `model`, resolved. */
  file: string;
  /** The ONNX IR every recipe starts from (imported when the file is not ONNX). */
  model: Model;
  /** How the reference runs: a .tflite stays a .tflite (TFLite runs it); every other format runs as its ONNX import. */
  referenceKind: RuntimeKind;
  /** The .tflite bytes when the reference is a .tflite. */
  tfliteBytes?: Uint8Array;
  /** Set for converted formats (Keras, TF.js): what report.json records, and the TF.js model for TF.js exports. */
  imported?: ImportedModel;
}

export interface Project {
  loaded: LoadedConfig;
  config: Config;
  source: SourceModel;
  inputs: IoSpec[];
  dataset: Dataset;
  /** What calibrating passes learn from: the `calibration:` data, or the dataset (then `overlapsEvaluation`). */
  calibration: Dataset;
  /** The export command's result when the config has one. */
  exported?: ExportResult;
}

export interface LoadOptions {
  log: (message: string) => void;
  /** Called as soon as the config is loaded, so that an error later on can still name its positions. */
  onConfig?: (loaded: LoadedConfig) => void;
  /** Checks on the parsed config beyond its schema (pass options); reported with the schema's errors, all at once. */
  configChecks?: (data: unknown) => ConfigProblem[];
  /** Checks that need the loaded config (candidate names); run before any work. */
  validate?: (loaded: LoadedConfig) => void;
  /** Called after the export step, before import (the report records it even when import fails). */
  onExport?: (exported: ExportResult) => void;
}

/** Reads the model a config names, importing Keras, TF.js and TFLite files to the ONNX IR. */
export async function loadSourceModel(loaded: LoadedConfig, log: (message: string) => void): Promise<SourceModel> {
  const { config } = loaded;
  const file = loaded.resolve(config.model);
  if (runtimeKindOf(file) === 'tflite') {
    const t = importTfliteFile(file, config.model);
    return { file, model: t.model, referenceKind: 'tflite', tfliteBytes: t.bytes };
  }
  const imported = await importModel(file, { log, inputShapes: inputShapesFromConfig(config.inputs) });
  return { file, model: imported.model, referenceKind: 'onnxruntime', ...(imported.source.format !== 'onnx' ? { imported } : {}) };
}

/** What report.json says about a converted source (nothing for ONNX and TFLite files). */
export function sourceReport(project: Pick<Project, 'source' | 'config'>): ModelSource | undefined {
  const imported = project.source.imported;
  return imported ? { ...imported.source, file: project.config.model } : undefined;
}

export async function loadProject(configPath: string, options: LoadOptions): Promise<Project> {
  const { log } = options;
  const loaded = loadConfig(configPath, options.configChecks ? { validate: options.configChecks } : {});
  options.onConfig?.(loaded);
  options.validate?.(loaded);
  const { config } = loaded;
  let exported: ExportResult | undefined;
  if (config.export) {
    exported = await runExportCommand({ ...config.export, output: config.export.output ?? config.model }, loaded.dir, log);
    options.onExport?.(exported);
    if (exported.error) throw new ModelGateError(exported.error);
  }
  log(`model: ${config.model}`);
  const source = await loadSourceModel(loaded, log);
  if ((source.model.graph?.node ?? []).length === 0) throw new ModelGateError(`${config.model}: the graph has no nodes`);
  const inputs = resolveInputs(source.model, config.inputs, config.benchmark.batch, config.model);
  const dataset = config.dataset ? loadDataset(config.dataset, loaded.resolve, inputs) : syntheticDataset(inputs);
  log(`dataset: ${dataset.count} ${dataset.synthetic ? 'synthetic ' : ''}samples${dataset.hasLabels ? ' with labels' : ''}`);
  const calibration = loadCalibration(config.calibration, dataset, loaded.resolve, inputs);
  return { loaded, config, source, inputs, dataset, calibration, ...(exported ? { exported } : {}) };
}

/** The config path relative to the working directory, as report.json records it. */
export function configLabel(loaded: LoadedConfig): string {
  return path.relative(process.cwd(), path.resolve(loaded.file)) || loaded.file;
}
