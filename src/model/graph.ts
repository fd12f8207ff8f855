/**
 * Graph helpers shared by the passes: ordering, producer/consumer maps, attributes, naming,
 * initializers, and the structural check every pass runs on its output.
 *
 * Everything works on the protobufjs interfaces (onnx.I*), so plain objects built in tests work too.
 */
import Long from 'long';
import { onnx, DataType, toNumber } from './onnx.js';
import { ModelGateError } from '../errors.js';

type IGraph = onnx.IGraphProto;
type INode = onnx.INodeProto;
type ITensor = onnx.ITensorProto;
type IAttribute = onnx.IAttributeProto;
const AttrType = onnx.AttributeProto.AttributeType;

/** "'conv1' (Conv)" or, for an unnamed node, "Conv → y" so that messages always point somewhere. */
export function describeNode(node: INode): string {
  if (node.name) return `'${node.name}' (${node.opType})`;
  const out = (node.output ?? []).find((o) => o) ?? '?';
  return `${node.opType} → '${out}'`;
}

/** Names a subgraph (If/Loop/Scan body) reads from the scope around it. */
export function outerScopeInputs(graph: IGraph): string[] {
  const defined = new Set<string>();
  for (const v of graph.input ?? []) if (v.name) defined.add(v.name);
  for (const t of graph.initializer ?? []) if (t.name) defined.add(t.name);
  const used: string[] = [];
  const seen = new Set<string>();
  for (const node of graph.node ?? []) {
    for (const name of nodeInputs(node)) {
      if (!defined.has(name) && !seen.has(name)) {
        seen.add(name);
        used.push(name);
      }
    }
    for (const o of node.output ?? []) if (o) defined.add(o);
  }
  for (const o of graph.output ?? []) {
    if (o.name && !defined.has(o.name) && !seen.has(o.name)) {
      seen.add(o.name);
      used.push(o.name);
    }
  }
  return used;
}

/** The If/Loop/Scan bodies a node holds in its graph attributes (none for other nodes). */
export function nodeBodies(node: INode): IGraph[] {
  return (node.attribute ?? []).flatMap((a) => (a.g ? [a.g] : a.graphs ?? []));
}

/** A node's non-empty inputs, plus the outer-scope names its subgraph attributes read. */
export function nodeInputs(node: INode): string[] {
  const names = (node.input ?? []).filter((n) => n !== '');
  for (const attr of node.attribute ?? []) {
    const graphs = attr.g ? [attr.g] : attr.graphs ?? [];
    for (const g of graphs) for (const n of outerScopeInputs(g)) if (!names.includes(n)) names.push(n);
  }
  return names;
}

export function producerMap(graph: IGraph): Map<string, INode> {
  const map = new Map<string, INode>();
  for (const node of graph.node ?? []) for (const o of node.output ?? []) if (o) map.set(o, node);
  return map;
}

/** Tensor name → the nodes that read it (in graph order; a node reading a name twice appears once). */
export function consumerMap(graph: IGraph): Map<string, INode[]> {
  const map = new Map<string, INode[]>();
  for (const node of graph.node ?? []) {
    for (const name of new Set(nodeInputs(node))) {
      const list = map.get(name);
      if (list) list.push(node);
      else map.set(name, [node]);
    }
  }
  return map;
}

/**
 * Kahn's algorithm, stable: among ready nodes the earliest in the current order goes first, so an
 * already sorted graph keeps its order. Names nobody produces count as available (checkModel reports them).
 */
export function topologicalSort(graph: IGraph): INode[] {
  const nodes = graph.node ?? [];
  const producerIndex = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => o && producerIndex.set(o, i)));
  const waiting = nodes.map(() => 0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const name of new Set(nodeInputs(n))) {
      const p = producerIndex.get(name);
      if (p === undefined) continue;
      waiting[i]!++;
      dependents[p]!.push(i);
    }
  });
  // A min-heap of ready indices keeps the order stable in O(n log n).
  const heap: number[] = [];
  const push = (v: number): void => {
    heap.push(v);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (heap[p]! <= heap[i]!) break;
      [heap[p], heap[i]] = [heap[i]!, heap[p]!];
      i = p;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && heap[l]! < heap[m]!) m = l;
        if (r < heap.length && heap[r]! < heap[m]!) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    return top;
  };
  waiting.forEach((w, i) => w === 0 && push(i));
  const order: INode[] = [];
  while (heap.length > 0) {
    const i = pop();
    order.push(nodes[i]!);
    for (const d of dependents[i]!) if (--waiting[d]! === 0) push(d);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.findIndex((_, i) => waiting[i]! > 0);
    const node = nodes[stuck]!;
    const blocking = nodeInputs(node).find((name) => {
      const p = producerIndex.get(name);
      return p !== undefined && waiting[p]! > 0;
    });
    throw new ModelGateError(
      `graph '${graph.name ?? ''}' has a cycle: node ${describeNode(node)} waits on '${blocking ?? '?'}', which depends on the node's own output`,
    );
  }
  return order;
}

/** Replaces graph.node by a topological order (in place). */
export function sortGraph(graph: IGraph): void {
  graph.node = topologicalSort(graph);
}

// ---------------------------------------------------------------- attributes

export function getAttribute(node: INode, name: string): IAttribute | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function getIntAttr(node: INode, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a ? toNumber(a.i) : fallback;
}

export function getFloatAttr(node: INode, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a ? a.f ?? 0 : fallback;
}

export function getIntsAttr(node: INode, name: string): number[] | undefined {
  const a = getAttribute(node, name);
  return a ? (a.ints ?? []).map(toNumber) : undefined;
}

export function getFloatsAttr(node: INode, name: string): number[] | undefined {
  const a = getAttribute(node, name);
  return a ? [...(a.floats ?? [])] : undefined;
}

export function getStringAttr(node: INode, name: string, fallback: string): string {
  const a = getAttribute(node, name);
  return a?.s ? Buffer.from(a.s).toString('utf8') : fallback;
}

export function intAttr(name: string, value: number): onnx.AttributeProto {
  return onnx.AttributeProto.create({ name, type: AttrType.INT, i: Long.fromNumber(value) });
}
export function floatAttr(name: string, value: number): onnx.AttributeProto {
  return onnx.AttributeProto.create({ name, type: AttrType.FLOAT, f: value });
}
export function intsAttr(name: string, values: readonly number[]): onnx.AttributeProto {
  return onnx.AttributeProto.create({ name, type: AttrType.INTS, ints: values.map((v) => Long.fromNumber(v)) });
}
export function floatsAttr(name: string, values: readonly number[]): onnx.AttributeProto {
  return onnx.AttributeProto.create({ name, type: AttrType.FLOATS, floats: [...values] });
}
export function stringAttr(name: string, value: string): onnx.AttributeProto {
  return onnx.AttributeProto.create({ name, type: AttrType.STRING, s: new Uint8Array(Buffer.from(value, 'utf8')) });
}
export function tensorAttr(name: string, value: ITensor): onnx.AttributeProto {
  return onnx.AttributeProto.create({ name, type: AttrType.TENSOR, t: value });
}

/** Adds or replaces an attribute, keeping the position of a replaced one. */
export function setAttribute(node: INode, attr: IAttribute): void {
  const list = (node.attribute ??= []);
  const i = list.findIndex((a) => a.name === attr.name);
  if (i >= 0) list[i] = attr;
  else list.push(attr);
}

export function removeAttribute(node: INode, name: string): void {
  node.attribute = (node.attribute ?? []).filter((a) => a.name !== name);
}

export function setIntAttr(node: INode, name: string, value: number): void {
  setAttribute(node, intAttr(name, value));
}
export function setFloatAttr(node: INode, name: string, value: number): void {
  setAttribute(node, floatAttr(name, value));
}
export function setIntsAttr(node: INode, name: string, values: readonly number[]): void {
  setAttribute(node, intsAttr(name, values));
}

export interface MakeNodeOptions {
  name?: string;
  domain?: string;
  attributes?: IAttribute[];
}

export function makeNode(opType: string, inputs: readonly string[], outputs: readonly string[], options: MakeNodeOptions = {}): onnx.NodeProto {
  const node = onnx.NodeProto.create({ opType, input: [...inputs], output: [...outputs], attribute: options.attributes ?? [] });
  if (options.name) node.name = options.name;
  if (options.domain) node.domain = options.domain;
  return node;
}

// ---------------------------------------------------------------- names

function collectNames(graph: IGraph, into: Set<string>): void {
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) if (v.name) into.add(v.name);
  for (const t of graph.initializer ?? []) if (t.name) into.add(t.name);
  for (const node of graph.node ?? []) {
    if (node.name) into.add(node.name);
    for (const n of [...(node.input ?? []), ...(node.output ?? [])]) if (n) into.add(n);
    for (const a of node.attribute ?? []) for (const g of a.g ? [a.g] : a.graphs ?? []) collectNames(g, into);
  }
}

/**
 * Hands out names no tensor, node or initializer of the graph uses (subgraphs included), one per call.
 * Node names and tensor names share one space: simpler to read in Netron, and never ambiguous.
 */
export class NameAllocator {
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();

  constructor(graph?: IGraph) {
    if (graph) collectNames(graph, this.used);
  }

  has(name: string): boolean {
    return this.used.has(name);
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  /** `base` if free, else `base_1`, `base_2`, ... */
  next(base: string): string {
    let name = base;
    let k = this.counters.get(base) ?? 0;
    while (this.used.has(name)) name = `${base}_${++k}`;
    this.counters.set(base, k);
    this.used.add(name);
    return name;
  }
}

// ---------------------------------------------------------------- initializers

export function initializerMap(graph: IGraph): Map<string, ITensor> {
  const map = new Map<string, ITensor>();
  for (const t of graph.initializer ?? []) if (t.name) map.set(t.name, t);
  return map;
}

export function getInitializer(graph: IGraph, name: string): ITensor | undefined {
  return (graph.initializer ?? []).find((t) => t.name === name);
}

/** Adds the tensor, or replaces the initializer of the same name in place (order kept: byte-stable output). */
export function setInitializer(graph: IGraph, tensor: ITensor): void {
  const list = (graph.initializer ??= []);
  const i = list.findIndex((t) => t.name === tensor.name);
  if (i >= 0) list[i] = tensor;
  else list.push(tensor);
}

/** Removes an initializer and, for IR < 4 models that also list it as an input, that input. */
export function removeInitializer(graph: IGraph, name: string): boolean {
  const before = graph.initializer?.length ?? 0;
  graph.initializer = (graph.initializer ?? []).filter((t) => t.name !== name);
  graph.input = (graph.input ?? []).filter((v) => v.name !== name);
  return graph.initializer.length !== before;
}

/** Drops initializers that no node (subgraphs included) and no graph output reads. Returns how many went. */
export function removeUnusedInitializers(graph: IGraph): number {
  const used = new Set<string>();
  for (const node of graph.node ?? []) for (const n of nodeInputs(node)) used.add(n);
  for (const o of graph.output ?? []) if (o.name) used.add(o.name);
  const before = graph.initializer?.length ?? 0;
  const gone = new Set((graph.initializer ?? []).filter((t) => !used.has(t.name ?? '')).map((t) => t.name));
  if (gone.size === 0) return 0;
  // One filter for all of them (removeInitializer per name is linear each).
  graph.initializer = (graph.initializer ?? []).filter((t) => !gone.has(t.name));
  graph.input = (graph.input ?? []).filter((v) => !gone.has(v.name));
  return before - graph.initializer.length;
}

/**
 * Initializers are constants only if no graph input of the same name can override them. IR ≥ 4 lets
 * us drop such inputs (older exporters listed every weight as an input by convention); passes call this
 * first so that every weight is a foldable constant. Bumps IR 3 models to 4, which only relaxes that rule.
 */
export function dropInitializerInputs(model: onnx.IModelProto): void {
  const graph = model.graph!;
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  const before = graph.input?.length ?? 0;
  graph.input = (graph.input ?? []).filter((v) => !inits.has(v.name));
  if (graph.input.length !== before && toNumber(model.irVersion) < 4) model.irVersion = Long.fromNumber(4);
}

// ---------------------------------------------------------------- opsets, types

export function opsetVersion(model: onnx.IModelProto, domain = ''): number {
  const entry = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
  return entry ? toNumber(entry.version) : 0;
}

/** Imports `domain` at `version` unless an import of it is already there. */
export function ensureOpsetImport(model: onnx.IModelProto, domain: string, version: number): void {
  if (opsetVersion(model, domain) > 0) return;
  (model.opsetImport ??= []).push(onnx.OperatorSetIdProto.create({ domain, version: Long.fromNumber(version) }));
}

/** Element types the graph declares (inputs, outputs, value_info, initializers). */
export function declaredElemTypes(graph: IGraph): Map<string, number> {
  const map = new Map<string, number>();
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const t = v.type?.tensorType?.elemType;
    if (v.name && t) map.set(v.name, t);
  }
  for (const t of graph.initializer ?? []) if (t.name) map.set(t.name, t.dataType ?? 0);
  return map;
}

export function tensorValueInfo(name: string, elemType: number, shape?: ReadonlyArray<number | string | null>): onnx.ValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType };
  if (shape) {
    tensorType.shape = {
      dim: shape.map((d) => (typeof d === 'number' ? { dimValue: Long.fromNumber(d) } : typeof d === 'string' ? { dimParam: d } : {})),
    };
  }
  return onnx.ValueInfoProto.create({ name, type: { tensorType } });
}

export const FLOAT = DataType.FLOAT;

// ---------------------------------------------------------------- structural check

function checkGraph(graph: IGraph, outer: ReadonlySet<string>, where: string, domains: ReadonlySet<string>): void {
  const label = where || `graph '${graph.name ?? ''}'`;
  const defined = new Set<string>();
  const define = (name: string, what: string): void => {
    if (defined.has(name)) throw new ModelGateError(`${label}: '${name}' is defined twice (${what}); tensor names must be unique`);
    defined.add(name);
  };
  for (const v of graph.input ?? []) {
    if (!v.name) throw new ModelGateError(`${label}: a graph input has no name`);
    define(v.name, 'graph input');
  }
  for (const t of graph.initializer ?? []) {
    if (!t.name) throw new ModelGateError(`${label}: an initializer has no name`);
    // IR < 4 lists initializers as inputs too: that is the same tensor, not a redefinition.
    if (defined.has(t.name) && (graph.input ?? []).some((v) => v.name === t.name)) continue;
    define(t.name, 'initializer');
  }
  const nodeNames = new Set<string>();
  for (const node of graph.node ?? []) {
    if (!node.opType) throw new ModelGateError(`${label}: a node has no op_type`);
    if (node.name) {
      if (nodeNames.has(node.name)) throw new ModelGateError(`${label}: two nodes are named '${node.name}'; node names must be unique`);
      nodeNames.add(node.name);
    }
    const domain = node.domain ?? '';
    if (!domains.has(domain) && !(domain === 'ai.onnx' && domains.has(''))) {
      throw new ModelGateError(`${label}: node ${describeNode(node)} uses domain '${domain}', which the model does not import`);
    }
    for (const name of node.input ?? []) {
      if (name === '' || defined.has(name) || outer.has(name)) continue;
      throw new ModelGateError(
        `${label}: node ${describeNode(node)} reads '${name}', which no graph input, initializer or earlier node produces`,
      );
    }
    for (const attr of node.attribute ?? []) {
      for (const g of attr.g ? [attr.g] : attr.graphs ?? []) {
        checkGraph(g, new Set([...outer, ...defined]), `${label} > ${describeNode(node)}.${attr.name}`, domains);
      }
    }
    for (const o of node.output ?? []) if (o) define(o, `output of node ${describeNode(node)}`);
  }
  for (const o of graph.output ?? []) {
    if (!o.name) throw new ModelGateError(`${label}: a graph output has no name`);
    if (!defined.has(o.name) && !outer.has(o.name)) throw new ModelGateError(`${label}: graph output '${o.name}' is not produced by any node, input or initializer`);
  }
}

/**
 * Structural validation: names unique (tensors are SSA, non-empty node names distinct), every node input
 * comes from a graph input, an initializer or an earlier node (so the order is topological), every graph
 * output is produced, every node's domain is imported. Subgraphs see their outer scope.
 */
export function checkModel(model: onnx.IModelProto, label = 'model'): void {
  if (!model.graph) throw new ModelGateError(`${label}: no graph`);
  const domains = new Set((model.opsetImport ?? []).map((o) => (o.domain === 'ai.onnx' ? '' : o.domain ?? '')));
  if (!domains.has('')) throw new ModelGateError(`${label}: the model imports no default (ai.onnx) opset`);
  try {
    checkGraph(model.graph, new Set(), '', domains);
  } catch (err) {
    if (err instanceof ModelGateError) throw new ModelGateError(`${label}: ${err.message}`, { cause: err });
    throw err;
  }
}
