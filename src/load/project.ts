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
import {
  InputDimsError, assumedSnippet, assumedWarning, declaredInputs, dimKey, resolveInputs, resolveInputsPartial,
  type AssumedInput, type DimAssignment, type IoSpec, type MissingDim,
} from '../model/io.js';
import { assumeScalars, chooseDims, dimsFromData, ReferenceProbe } from './assume.js';
import { imageLayoutOf } from '../data/synthetic-image.js';
import { impliedInputRange } from '../model/input-range.js';
import { datasetSampleShapes, loadCalibration, loadDataset, syntheticDataset, type Dataset } from '../data/dataset.js';
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
  /** Dims and rank-0 values that neither the model nor the config fixed, as ModelGate chose them (./assume.ts). */
  assumed: AssumedInput[];
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
export async function loadSourceModel(loaded: LoadedConfig, log: (message: string) => void, inputShapes?: Record<string, number[]>): Promise<SourceModel> {
  const { config } = loaded;
  const file = loaded.resolve(config.model);
  if (runtimeKindOf(file) === 'tflite') {
    const t = importTfliteFile(file, config.model);
    return { file, model: t.model, referenceKind: 'tflite', tfliteBytes: t.bytes };
  }
  const imported = await importModel(file, { log, inputShapes: inputShapes ?? inputShapesFromConfig(config.inputs) });
  return { file, model: imported.model, referenceKind: 'onnxruntime', ...(imported.source.format !== 'onnx' ? { imported } : {}) };
}

/** The inputs once every dim is fixed, with the rank-0 values the graph compares (ranges set). */
function finalInputs(model: Model, loaded: LoadedConfig, assign?: DimAssignment): { inputs: IoSpec[]; assumed: AssumedInput[] } {
  const { config } = loaded;
  const { specs, assumed } = assumeScalars(model, resolveInputs(model, config.inputs, config.benchmark.batch, config.model, assign), config.inputs);
  // A float image input without a configured range: the range its in-graph preprocessing is written for.
  const inputs = specs.map((s) => {
    if (s.range || !s.dtype.startsWith('float') || !imageLayoutOf(s)) return s;
    const implied = impliedInputRange(model, s.name);
    return implied ? { ...s, impliedRange: implied } : s;
  });
  return { inputs, assumed };
}

/** Runs the reference once on synthetic inputs of these shapes (a probe of ./assume.ts). */
async function probeOnce(model: Model, loaded: LoadedConfig, assign: DimAssignment | undefined, label: string): Promise<void> {
  const { inputs } = finalInputs(model, loaded, assign);
  const probe = await ReferenceProbe.open(model, label);
  try {
    await probe.check(inputs, loaded.config.benchmark.batch);
  } finally {
    await probe.release();
  }
}

/**
 * The source model and its inputs. Dims that neither the model nor the config fixes are chosen and
 * checked by running the reference (./assume.ts): on the ONNX graph as it is, or, for importers that
 * need every dim (TF.js), by importing with the chosen shapes.
 */
async function loadModelAndInputs(loaded: LoadedConfig, log: (message: string) => void): Promise<{ source: SourceModel; inputs: IoSpec[]; assumed: AssumedInput[] }> {
  const { config } = loaded;
  const batch = config.benchmark.batch;
  let source: SourceModel;
  let importAssumed: AssumedInput[] = [];
  try {
    source = await loadSourceModel(loaded, log);
  } catch (err) {
    if (!(err instanceof InputDimsError)) throw err;
    const declared = err.declared;
    const open: MissingDim[] = declared.flatMap((d) => d.dims.flatMap((x, i) => (i > 0 && x.value === null ? [{ input: d.name, axis: i, param: x.param }] : [])));
    // A rank-0 input (a scalar setting) has no batch axis and nothing to choose.
    const known = declared.map((d) => ({ name: d.name, shape: d.dims.map((x, i) => x.value ?? (i === 0 ? batch : -1)), batchAxis: d.dims.length === 0 ? null : 0 }));
    const fromData = dimsFromData(known, open, datasetSampleShapes(config.dataset, loaded.resolve, declared.map((d) => d.name)));
    const missing = open.filter((m) => !fromData.has(dimKey(m.input, m.axis, m.param)));
    const importWith = async (assign: DimAssignment): Promise<SourceModel> => {
      const inputShapes = { ...inputShapesFromConfig(config.inputs) };
      for (const d of declared) {
        if (d.dims.length === 0) continue;
        inputShapes[d.name] = d.dims.slice(1).map((x, i) => {
          const key = dimKey(d.name, i + 1, x.param);
          const v = x.value ?? fromData.get(key) ?? assign.get(key);
          return v === 'batch' || v === undefined ? batch : v;
        });
      }
      const s = await loadSourceModel(loaded, log, inputShapes);
      await probeOnce(s.model, loaded, undefined, `${config.model} (probe)`);
      return s;
    };
    if (missing.length === 0) {
      source = await importWith(new Map());
    } else {
      const chosen = await chooseDims({ file: config.model, declared, known, missing, batch, attempt: importWith });
      source = chosen.result;
      importAssumed = chosen.assumed;
    }
  }
  const model = source.model;
  if ((model.graph?.node ?? []).length === 0) throw new ModelGateError(`${config.model}: the graph has no nodes`);
  let dimAssumed: AssumedInput[] = [];
  const open = resolveInputsPartial(model, config.inputs, batch, config.model);
  // Dims an array dataset's samples fix are the data's, not assumptions.
  const batched = open.specs.filter((s) => s.batchAxis !== null).map((s) => s.name);
  const fromData = dimsFromData(open.specs, open.missing, datasetSampleShapes(config.dataset, loaded.resolve, batched));
  let assign: DimAssignment = fromData;
  const partial = resolveInputsPartial(model, config.inputs, batch, config.model, fromData);
  if (partial.missing.length > 0) {
    const probe = await ReferenceProbe.open(model, `${config.model} (probe)`);
    try {
      const chosen = await chooseDims({
        file: config.model, declared: declaredInputs(model), known: partial.specs, missing: partial.missing, batch,
        attempt: async (a) => probe.check(finalInputs(model, loaded, new Map([...fromData, ...a])).inputs, batch),
      });
      assign = new Map([...fromData, ...chosen.assign]);
      dimAssumed = chosen.assumed;
    } finally {
      await probe.release();
    }
  }
  const { inputs, assumed: valueAssumed } = finalInputs(model, loaded, assign);
  // One entry per input, in input order: its dims by axis, then its value.
  const order = new Map(inputs.map((s, k) => [s.name, k]));
  const assumed = [...importAssumed, ...dimAssumed, ...valueAssumed].sort((a, b) => (order.get(a.input) ?? 0) - (order.get(b.input) ?? 0) || (a.axis ?? 1e9) - (b.axis ?? 1e9));
  if (assumed.length > 0) log(`warning: ${assumedWarning(assumed)}\n${assumedSnippet(inputs, assumed)}`);
  return { source, inputs, assumed };
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
  const { source, inputs, assumed } = await loadModelAndInputs(loaded, log);
  const dataset = config.dataset ? loadDataset(config.dataset, loaded.resolve, inputs) : syntheticDataset(inputs);
  log(`dataset: ${dataset.count} ${dataset.synthetic ? 'synthetic ' : ''}samples${dataset.hasLabels ? ' with labels' : ''}`);
  const calibration = loadCalibration(config.calibration, dataset, loaded.resolve, inputs);
  return { loaded, config, source, inputs, assumed, dataset, calibration, ...(exported ? { exported } : {}) };
}

/** The config path relative to the working directory, as report.json records it. */
export function configLabel(loaded: LoadedConfig): string {
  return path.relative(process.cwd(), path.resolve(loaded.file)) || loaded.file;
}
