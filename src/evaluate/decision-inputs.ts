/**
 * The fidelity pass's view of a discrete output's decision inputs (src/model/discrete.ts decisionInputs):
 * the continuous tensors a discrete output is computed from where its computation turns discrete (the heat
 * map an ArgMax reads, the offsets a GatherND picks at the argmax). They are no graph outputs, so the
 * reference and the candidate are run from copies that expose them as extra graph outputs; the model files
 * that ship are never changed.
 *
 * A candidate may read a decision input under another name (static QDQ makes every consumer read
 * `<tensor>_dequantized`, the value the decision actually sees in the candidate): the candidate's tensor is
 * the input its reader node reads, found by the node's name and op type, else the tensor of the same name.
 * When neither is in the candidate, the decision input is missing there, and the outputs it feeds are
 * judged as before, on their own values.
 */
import path from 'node:path';
import { ModelGateError, errorMessage } from '../errors.js';
import { loadModel, onnx, saveModel, type Model } from '../model/onnx.js';
import type { DecisionInput } from '../model/discrete.js';
import type { Squash } from '../model/squashed.js';

/** A decision input as the fidelity pass measures it: with how it is squashed, when it is a probability map. */
export interface DecisionTensor extends DecisionInput {
  squash?: Squash;
}

/** One decision input of the reference paired with the candidate's tensor, or why it has none. */
export type DecisionPair = { input: DecisionTensor; candidate: string } | { input: DecisionTensor; missing: string };

/** A reader named for messages: "ArgMax 'argmax'", or "an unnamed ArgMax". */
export function describeReader(r: DecisionInput['readers'][number]): string {
  return r.node ? `${r.op_type} '${r.node}'` : `an unnamed ${r.op_type}`;
}

/**
 * The candidate's tensor for each decision input of the reference: the input its reader reads in the
 * candidate (a node of the same name and op type), else a tensor of the same name produced in the candidate.
 */
export function resolveDecisionInputs(candidate: Model, inputs: readonly DecisionTensor[]): DecisionPair[] {
  const graph = candidate.graph ?? {};
  const byName = new Map<string, onnx.INodeProto>();
  const produced = new Set<string>();
  for (const node of graph.node ?? []) {
    if (node.name && !byName.has(node.name)) byName.set(node.name, node);
    for (const o of node.output ?? []) if (o) produced.add(o);
  }
  return inputs.map((input) => {
    for (const r of input.readers) {
      const node = r.node && r.input_index >= 0 ? byName.get(r.node) : undefined;
      const name = node && node.opType === r.op_type ? node.input?.[r.input_index] : undefined;
      if (name && produced.has(name)) return { input, candidate: name };
    }
    if (produced.has(input.tensor)) return { input, candidate: input.tensor };
    return { input, missing: `the candidate has neither ${input.readers.map(describeReader).join(' nor ')} nor a tensor '${input.tensor}' (a pass removed or renamed it)` };
  });
}

/**
 * Writes a copy of `model` into `dir` as `name` with `tensors` appended to its graph outputs (those not
 * outputs already); returns the file and the names appended. The copy carries its weights inline.
 */
export function exposeTensors(model: Model, tensors: readonly string[], dir: string, name: string): { file: string; appended: string[] } {
  const graph = model.graph;
  if (!graph) throw new ModelGateError(`${name}: the model has no graph`);
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const appended = [...new Set(tensors)].filter((t) => !outputs.has(t));
  const copy = onnx.ModelProto.create({ ...model, graph: { ...graph, output: [...(graph.output ?? []), ...appended.map((t) => onnx.ValueInfoProto.create({ name: t }))] } });
  const file = path.join(dir, name);
  saveModel(copy, file);
  return { file, appended };
}

/** `file` loaded with its weights inline, or an error message naming it. */
export function loadForExposure(file: string): Model | string {
  try {
    return loadModel(file);
  } catch (err) {
    return `${file} could not be read to expose its decision inputs (${errorMessage(err)})`;
  }
}
