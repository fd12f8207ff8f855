import { describe, expect, it } from 'vitest';
import Long from 'long';
import { onnx, DataType, type Model } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import {
  NameAllocator, checkModel, consumerMap, describeNode, dropInitializerInputs, ensureOpsetImport, getFloatAttr, getInitializer, getIntAttr,
  getIntsAttr, getStringAttr, intAttr, makeNode, nodeInputs, opsetVersion, producerMap, removeInitializer, removeUnusedInitializers,
  setFloatAttr, setInitializer, setIntAttr, setIntsAttr, sortGraph, stringAttr, tensorValueInfo, topologicalSort, FLOAT,
} from '../../src/model/graph.js';
import { ModelGateError } from '../../src/errors.js';

/** x → A → a → B → b ; a, w → C → c (graph outputs b, c) */
function chain(): Model {
  return onnx.ModelProto.create({
    irVersion: Long.fromNumber(8),
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }],
    graph: {
      name: 'g',
      input: [tensorValueInfo('x', FLOAT, [1, 4])],
      output: [tensorValueInfo('b', FLOAT), tensorValueInfo('c', FLOAT)],
      initializer: [makeTensor('w', [4], new Float32Array(4)), makeTensor('unused', [1], new Float32Array(1))],
      node: [
        makeNode('Relu', ['x'], ['a'], { name: 'A' }),
        makeNode('Neg', ['a'], ['b'], { name: 'B' }),
        makeNode('Add', ['a', 'w'], ['c'], { name: 'C' }),
      ],
    },
  });
}

const names = (nodes: onnx.INodeProto[]): string[] => nodes.map((n) => n.name ?? '');

describe('topologicalSort', () => {
  it('keeps an already sorted graph in its order', () => {
    expect(names(topologicalSort(chain().graph!))).toEqual(['A', 'B', 'C']);
  });

  it('orders a shuffled graph so producers come first, stable otherwise', () => {
    const m = chain();
    m.graph!.node = [m.graph!.node![2]!, m.graph!.node![1]!, m.graph!.node![0]!];
    sortGraph(m.graph!);
    expect(names(m.graph!.node!)).toEqual(['A', 'C', 'B']);
    expect(() => checkModel(m)).not.toThrow();
  });

  it('names a node of the cycle', () => {
    const m = chain();
    m.graph!.node![0]!.input = ['b'];
    expect(() => topologicalSort(m.graph!)).toThrow(ModelGateError);
    expect(() => topologicalSort(m.graph!)).toThrow(/cycle: node '(A|B)'/);
  });

  it('orders a node after the producers its subgraph reads from the outer scope', () => {
    const m = chain();
    const body: onnx.IGraphProto = { name: 'then', node: [makeNode('Identity', ['a'], ['t'])], output: [tensorValueInfo('t', FLOAT)] };
    const ifNode = makeNode('If', ['cond'], ['r'], { name: 'I', attributes: [{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: body }, { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: body }] });
    m.graph!.input!.push(tensorValueInfo('cond', DataType.BOOL, []));
    m.graph!.node!.unshift(ifNode);
    expect(nodeInputs(ifNode)).toEqual(['cond', 'a']);
    expect(names(topologicalSort(m.graph!))).toEqual(['A', 'I', 'B', 'C']);
  });
});

describe('producer and consumer maps', () => {
  it('maps tensors to the nodes that write and read them', () => {
    const g = chain().graph!;
    expect(producerMap(g).get('a')?.name).toBe('A');
    expect(producerMap(g).has('x')).toBe(false);
    expect(consumerMap(g).get('a')?.map((n) => n.name)).toEqual(['B', 'C']);
    expect(consumerMap(g).get('w')?.map((n) => n.name)).toEqual(['C']);
  });
});

describe('attributes', () => {
  it('reads defaults, and sets ints, floats and int lists in place', () => {
    const n = makeNode('Gemm', ['a', 'b'], ['y'], { attributes: [intAttr('transB', 1), stringAttr('auto_pad', 'VALID')] });
    expect(getIntAttr(n, 'transB', 0)).toBe(1);
    expect(getIntAttr(n, 'transA', 0)).toBe(0);
    expect(getFloatAttr(n, 'alpha', 1)).toBe(1);
    expect(getStringAttr(n, 'auto_pad', 'NOTSET')).toBe('VALID');
    setFloatAttr(n, 'alpha', 0.5);
    setIntAttr(n, 'transB', 0);
    setIntsAttr(n, 'perm', [1, 0]);
    expect(getFloatAttr(n, 'alpha', 1)).toBe(0.5);
    expect(getIntAttr(n, 'transB', 1)).toBe(0);
    expect(getIntsAttr(n, 'perm')).toEqual([1, 0]);
    expect(n.attribute!.map((a) => a.name)).toEqual(['transB', 'auto_pad', 'alpha', 'perm']);
    // Survives the wire format.
    const back = onnx.NodeProto.decode(onnx.NodeProto.encode(n).finish());
    expect(getIntsAttr(back, 'perm')).toEqual([1, 0]);
    expect(getFloatAttr(back, 'alpha', 1)).toBe(0.5);
  });

  it('describes named and unnamed nodes', () => {
    expect(describeNode(makeNode('Conv', ['x'], ['y'], { name: 'c1' }))).toBe("'c1' (Conv)");
    expect(describeNode(makeNode('Conv', ['x'], ['y']))).toBe("Conv → 'y'");
  });
});

describe('NameAllocator', () => {
  it('never returns a name the graph uses or it already gave out', () => {
    const alloc = new NameAllocator(chain().graph!);
    expect(alloc.next('a')).toBe('a_1');
    expect(alloc.next('a')).toBe('a_2');
    expect(alloc.next('fresh')).toBe('fresh');
    expect(alloc.next('fresh')).toBe('fresh_1');
    expect(alloc.next('A')).toBe('A_1');
  });
});

describe('initializers', () => {
  it('replaces in place, removes, and drops the unused ones', () => {
    const g = chain().graph!;
    setInitializer(g, makeTensor('w', [4], Float32Array.of(1, 2, 3, 4)));
    expect(g.initializer!.map((t) => t.name)).toEqual(['w', 'unused']);
    expect(getInitializer(g, 'w')!.dims).toEqual([4]);
    setInitializer(g, makeTensor('new', [1], Float32Array.of(1)));
    expect(removeUnusedInitializers(g)).toBe(2);
    expect(g.initializer!.map((t) => t.name)).toEqual(['w']);
    expect(removeInitializer(g, 'w')).toBe(true);
    expect(removeInitializer(g, 'w')).toBe(false);
  });

  it('drops graph inputs that shadow initializers (IR < 4 style) and bumps IR 3 to 4', () => {
    const m = chain();
    m.irVersion = Long.fromNumber(3);
    m.graph!.input!.push(tensorValueInfo('w', FLOAT, [4]));
    expect(() => checkModel(m)).not.toThrow();
    dropInitializerInputs(m);
    expect(m.graph!.input!.map((v) => v.name)).toEqual(['x']);
    expect(Number(m.irVersion)).toBe(4);
  });
});

describe('opsets', () => {
  it('reads and adds imports', () => {
    const m = chain();
    expect(opsetVersion(m)).toBe(13);
    expect(opsetVersion(m, 'com.microsoft')).toBe(0);
    ensureOpsetImport(m, 'com.microsoft', 1);
    ensureOpsetImport(m, '', 7);
    expect(opsetVersion(m, 'com.microsoft')).toBe(1);
    expect(opsetVersion(m)).toBe(13);
  });
});

describe('checkModel', () => {
  it('accepts a valid model', () => {
    expect(() => checkModel(chain())).not.toThrow();
  });

  const cases: Array<[string, (m: Model) => void, RegExp]> = [
    ['an input nobody produces', (m) => (m.graph!.node![1]!.input = ['ghost']), /node 'B' \(Neg\) reads 'ghost', which no graph input/],
    ['a node before its producer', (m) => m.graph!.node!.reverse(), /node 'C' \(Add\) reads 'a'/],
    ['a tensor defined twice', (m) => (m.graph!.node![1]!.output = ['a']), /'a' is defined twice/],
    ['duplicate node names', (m) => (m.graph!.node![1]!.name = 'A'), /two nodes are named 'A'/],
    ['an output nobody produces', (m) => m.graph!.output!.push(tensorValueInfo('nope', FLOAT)), /graph output 'nope' is not produced/],
    ['a domain the model does not import', (m) => (m.graph!.node![0]!.domain = 'com.microsoft'), /uses domain 'com.microsoft'/],
  ];
  for (const [what, breakIt, message] of cases) {
    it(`rejects ${what}, naming it`, () => {
      const m = chain();
      breakIt(m);
      expect(() => checkModel(m, 'test.onnx')).toThrow(ModelGateError);
      expect(() => checkModel(m, 'test.onnx')).toThrow(message);
      expect(() => checkModel(m, 'test.onnx')).toThrow(/^test\.onnx: /);
    });
  }

  it('lets a subgraph read the outer scope, but not a later tensor', () => {
    const m = chain();
    const body = (reads: string): onnx.IGraphProto => ({ name: 'b', node: [makeNode('Identity', [reads], ['t'])], output: [tensorValueInfo('t', FLOAT)] });
    const ifNode = (reads: string) => makeNode('If', ['cond'], ['r'], { name: 'I', attributes: [
      { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: body(reads) },
      { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: body(reads) },
    ] });
    m.graph!.input!.push(tensorValueInfo('cond', DataType.BOOL, []));
    m.graph!.node!.splice(1, 0, ifNode('a'));
    expect(() => checkModel(m)).not.toThrow();
    m.graph!.node![1] = ifNode('c');
    expect(() => checkModel(m)).toThrow(/then_branch: node Identity → 't' reads 'c'/);
  });
});
