import type { GraphBuilder, Value } from './builder.js';

/** One TF op → ONNX: takes the node's data inputs (control inputs dropped) and returns its outputs. */
export type OpConverter = (g: GraphBuilder, inputs: Value[]) => Value | Value[];
