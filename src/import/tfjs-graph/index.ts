/** TF.js graph models: read, convert op by op, check against TF.js running the same model.json. */
import type * as tf from '@tensorflow/tfjs';
import { ModelGateError } from '../../errors.js';
import { DEFAULT_TOLERANCE, type NumericalCheck } from '../check.js';
import { readTfjsArtifacts } from '../../formats/tfjs/files.js';
import { checkGraphConversion, loadGraphModel } from './check.js';
import { convertTfjsGraph, type GraphConversion } from './convert.js';

export { convertTfjsGraph, type GraphConversion, type GraphInput, type GraphOutput } from './convert.js';
export { checkGraphConversion, loadGraphModel } from './check.js';
export { SUPPORTED_TF_OPS } from './registry.js';

export interface GraphImport {
  conversion: GraphConversion;
  check: NumericalCheck;
}

export async function importTfjsGraph(
  t: typeof tf,
  file: string,
  options: { inputShapes?: Record<string, number[]>; tolerance?: number; runtime?: string } = {},
): Promise<GraphImport> {
  const artifacts = readTfjsArtifacts(file);
  const conversion = convertTfjsGraph(artifacts, { inputShapes: options.inputShapes });
  const model = await loadGraphModel(t, artifacts);
  let check: NumericalCheck;
  try {
    check = await checkGraphConversion(t, model, conversion, { tolerance: options.tolerance ?? DEFAULT_TOLERANCE, runtime: options.runtime });
  } finally {
    model.dispose();
  }
  if (!check.passed) {
    throw new ModelGateError(
      `${artifacts.jsonFile}: the converted ONNX model differs from the TF.js graph model by ${check.max_abs_diff.toExponential(3)} at output '${check.worst_output ?? '?'}' ` +
        `(limit ${check.limit.toExponential(2)} = ${check.tolerance} × max(1, output scale ${check.output_scale.toPrecision(3)})); this is a converter bug, please report it`,
    );
  }
  return { conversion, check };
}
