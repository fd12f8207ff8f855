/** TF.js graph models: read, convert op by op, check against TF.js running the same model.json. */
import type * as tf from '@tensorflow/tfjs';
import { ModelGateError } from '../../errors.js';
import { DEFAULT_TOLERANCE, type NumericalCheck } from '../check.js';
import { readTfjsArtifacts } from '../../formats/tfjs/files.js';
import { checkGraphConversion, loadGraphModel } from './check.js';
import { convertTfjsGraph, type GraphConversion } from './convert.js';
import { Attrs, type GraphDef } from './graph-def.js';

export { convertTfjsGraph, type GraphConversion, type GraphInput, type GraphOutput } from './convert.js';
export { checkGraphConversion, loadGraphModel } from './check.js';
export { SUPPORTED_TF_OPS } from './registry.js';

/** A _FusedMatMul with transpose_b and a fused BiasAdd: what TF.js' wasm backend gets wrong. */
export function hasWasmFusedMatMulIssue(graph: GraphDef): boolean {
  return (graph.node ?? []).some((n) => {
    if (n.op !== '_FusedMatMul') return false;
    const attrs = new Attrs(n, n.name);
    return attrs.bool('transpose_b') && attrs.strings('fused_ops')[0] === 'BiasAdd';
  });
}

/** A Cast from float to bool: TF.js 4.22's wasm kernel truncates to an integer first (0.5 → false, 2 → 2). */
export function hasWasmCastToBoolIssue(graph: GraphDef): boolean {
  return (graph.node ?? []).some((n) => {
    if (n.op !== 'Cast') return false;
    const attrs = new Attrs(n, n.name);
    return attrs.type('DstT') === 'DT_BOOL' && ['DT_FLOAT', 'DT_HALF', 'DT_DOUBLE'].includes(attrs.type('SrcT') ?? '');
  });
}

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
  // TF.js 4.22's wasm kernels for a fused MatMul with transpose_b and a bias, and for a float → bool
  // Cast, return wrong values (the cpu kernels, and the unfused ops on wasm, agree with TF): such graphs
  // are checked on cpu.
  const backend = t.getBackend();
  const graph = artifacts.json.modelTopology as GraphDef;
  const onCpu = backend === 'wasm' && (hasWasmFusedMatMulIssue(graph) || hasWasmCastToBoolIssue(graph));
  if (onCpu) {
    await t.setBackend('cpu');
    (t.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
  let check: NumericalCheck;
  try {
    const model = await loadGraphModel(t, artifacts);
    try {
      const runtime = onCpu ? `tfjs ${t.version.tfjs ?? ''} (cpu)` : options.runtime;
      check = await checkGraphConversion(t, model, conversion, { tolerance: options.tolerance ?? DEFAULT_TOLERANCE, runtime });
    } finally {
      model.dispose();
    }
  } finally {
    if (onCpu) await t.setBackend(backend);
  }
  if (!check.passed) {
    throw new ModelGateError(
      `${artifacts.jsonFile}: the converted ONNX model differs from the TF.js graph model by ${check.max_abs_diff.toExponential(3)} at output '${check.worst_output ?? '?'}' ` +
        `(limit ${check.limit.toExponential(2)} = ${check.tolerance} × max(1, output scale ${check.output_scale.toPrecision(3)})); this is a converter bug, please report it`,
    );
  }
  return { conversion, check };
}
