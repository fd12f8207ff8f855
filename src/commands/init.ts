/**
 * `modelgate init`: a first modelgate.yml and a workflow that runs it, written from what the model itself declares.
 * The config lists an input only where the model leaves a non-batch dimension open (the run cannot pick a size for
 * it), has one `auto` candidate, and spells out the gate's default budgets so that they can be seen and changed.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { ModelGateError } from '../errors.js';
import { loadModel, toNumber, type Model } from '../model/onnx.js';
import { runtimeInputs } from '../model/io.js';
import { detectFormat } from '../import/index.js';
import { importTfliteFile } from '../import/tflite.js';
import { readKerasH5 } from '../import/keras-h5.js';
import { readKerasZip } from '../import/keras-zip.js';
import { readTfjsLayersModel } from '../formats/tfjs/files.js';
import { loadTfjs } from '../runtime/tfjs.js';
import { SCHEMA_URL } from '../config/schema.js';
import { TOOL_VERSION } from '../version.js';

/** The budgets `init` writes: today's defaults, spelled out. */
export const INIT_BUDGETS = {
  /** The latency verdict's threshold when no budget is set (UNGATED_LATENCY_THRESHOLD in src/run.ts). */
  latency_ratio_max: 1.05,
  /** auto's accuracy budget when the gate sets none. */
  accuracy_drop_max: 0.005,
} as const;

const MODEL_FILE = /\.(onnx|tflite|h5|keras)$/i;
const SKIP_DIRS = new Set(['node_modules', '.git', 'modelgate-out', 'dist', '.cache']);

/** Model files under root, relative to it and sorted: .onnx, .tflite, .h5, .keras and TF.js model.json. */
export function findModelFiles(root: string, maxDepth = 8): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.') && depth < maxDepth) walk(path.join(dir, e.name), depth + 1);
      } else if (e.isFile() && (MODEL_FILE.test(e.name) || e.name === 'model.json')) {
        found.push(path.relative(root, path.join(dir, e.name)).split(path.sep).join('/'));
      }
    }
  };
  walk(root, 0);
  return found.sort();
}

/** An input of the model with the dimensions it leaves open; the leading one is the batch. */
export interface OpenInput {
  name: string;
  /** The declared dims: a number, or the symbolic name (or '?') of an open one. */
  dims: Array<number | string>;
}

/**
 * Reads the model (any supported format) and lists its inputs with their declared dimensions. Keras and TF.js models
 * are read as declared, not converted: converting needs every non-batch dimension, which is what init asks for.
 */
export async function readModelInputs(file: string): Promise<OpenInput[]> {
  if (file.toLowerCase().endsWith('.tflite')) return onnxInputs(importTfliteFile(file).model);
  const format = detectFormat(file);
  if (format === 'onnx') return onnxInputs(loadModel(file));
  const { tf } = await loadTfjs();
  const model = format === 'tfjs-layers' ? await readTfjsLayersModel(tf, file) : (format === 'keras-h5' ? await readKerasH5(tf, file) : await readKerasZip(tf, file)).model;
  return model.inputs.map((t) => ({ name: t.sourceLayer.name, dims: t.shape.map((d) => (typeof d === 'number' && d > 0 ? d : '?')) }));
}

function onnxInputs(model: Model): OpenInput[] {
  return runtimeInputs(model).map((vi) => ({
    name: vi.name ?? '',
    dims: (vi.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : d.dimParam || '?')),
  }));
}

/** A string as a YAML scalar: plain where YAML reads it back as the same string, quoted otherwise. */
function yamlString(text: string): string {
  return stringify(text).trimEnd();
}

export interface InitFiles {
  config: string;
  workflow: string;
}

/** The text of modelgate.yml for a model at modelPath (relative to the config's folder). */
export function renderConfig(modelPath: string, inputs: OpenInput[]): string {
  const lines = [
    `# yaml-language-server: $schema=${SCHEMA_URL}`,
    `# Written by \`modelgate init\` (ModelGate ${TOOL_VERSION}). Every key is described in the schema above and in the README.`,
    `model: ${yamlString(modelPath)}`,
  ];
  const open = inputs.filter((i) => i.dims.slice(1).some((d) => typeof d === 'string'));
  if (open.length > 0) {
    lines.push('', '# The model leaves these dimensions open: replace each placeholder 1 with the size you deploy with.', 'inputs:');
    for (const input of open) {
      const openDims = input.dims.map((d, i) => ({ d, i })).filter(({ d, i }) => i > 0 && typeof d === 'string');
      lines.push(`  ${yamlString(input.name)}:`);
      lines.push(`    # fill in: ${openDims.map(({ d, i }) => `dimension ${i} (${d === '?' ? 'unnamed' : d})`).join(', ')}; the first is the batch, set by benchmark.batch`);
      lines.push(`    shape: [${input.dims.map((d) => (typeof d === 'number' ? String(d) : '1')).join(', ')}]`);
    }
  }
  lines.push(
    '',
    '# Without a dataset, inputs are synthetic and candidates are judged by agreement with the reference.',
    '# Point these at real samples (and labels) to gate accuracy:',
    '# dataset:',
    '#   inputs: data/samples.npy',
    '#   labels: data/labels.npy',
    '',
    '# One candidate: the recipe searched on the runner (quantization, fp16, pruning, ... whatever fits the model and CPU).',
    'optimize:',
    '  - name: auto',
    '    auto:',
    `      accuracy_drop_max: ${INIT_BUDGETS.accuracy_drop_max}`,
    '',
    '# The budgets a candidate must meet against the reference (the model as it is); these are the defaults.',
    'gate:',
    `  accuracy_drop_max: ${INIT_BUDGETS.accuracy_drop_max}`,
    `  latency_ratio_max: ${INIT_BUDGETS.latency_ratio_max}`,
    '',
  );
  return lines.join('\n');
}

/** The workflow that runs the config on every pull request, with the permissions the action needs for its comment. */
export function renderWorkflow(configPath: string): string {
  const major = `v${TOOL_VERSION.split('.')[0]}`;
  return [
    '# Written by `modelgate init`: gates the model on every pull request and comments the report on it.',
    'name: ModelGate',
    '',
    'on:',
    '  pull_request:',
    '',
    'permissions:',
    '  contents: read',
    '  pull-requests: write # the sticky report comment (a fork\'s PR gets a read-only token: the report goes to the job summary)',
    '',
    'jobs:',
    '  modelgate:',
    '    runs-on: ubuntu-latest',
    '    timeout-minutes: 30',
    '    steps:',
    '      - uses: actions/checkout@v6',
    `      - uses: modelgate/modelgate@${major}`,
    '        with:',
    `          config: ${yamlString(configPath)}`,
    '',
  ].join('\n');
}

export interface InitOptions {
  /** The model file, relative to cwd or absolute. */
  model: string;
  /** Where modelgate.yml goes; modelgate.yml in cwd by default. */
  config?: string;
  /** The repository root: the workflow goes to <root>/.github/workflows/modelgate.yml. cwd by default. */
  root?: string;
  force?: boolean;
}

/** Writes modelgate.yml and the workflow; refuses to replace either without force. Returns the paths written. */
export async function initProject(options: InitOptions): Promise<InitFiles> {
  const root = path.resolve(options.root ?? '.');
  const configFile = path.resolve(root, options.config ?? 'modelgate.yml');
  const workflowFile = path.join(root, '.github', 'workflows', 'modelgate.yml');
  const modelFile = path.resolve(root, options.model);
  if (!existsSync(modelFile)) throw new ModelGateError(`--model ${options.model}: no such file`);
  if (!options.force) {
    const existing = [configFile, workflowFile].filter((f) => existsSync(f));
    if (existing.length > 0) {
      throw new ModelGateError(`${existing.map((f) => path.relative(process.cwd(), f) || f).join(' and ')} already exist${existing.length === 1 ? 's' : ''}; pass --force to replace ${existing.length === 1 ? 'it' : 'them'}`);
    }
  }
  const inputs = await readModelInputs(modelFile);
  const modelPath = path.relative(path.dirname(configFile), modelFile).split(path.sep).join('/');
  const configPath = path.relative(root, configFile).split(path.sep).join('/');
  mkdirSync(path.dirname(configFile), { recursive: true });
  writeFileSync(configFile, renderConfig(modelPath, inputs));
  mkdirSync(path.dirname(workflowFile), { recursive: true });
  writeFileSync(workflowFile, renderWorkflow(configPath));
  return { config: configFile, workflow: workflowFile };
}
