/** A failed run says which node failed, in which control-flow bodies, and what was fed. */
import { describe, expect, it } from 'vitest';
import { onnx } from '../../src/model/onnx.js';
import { makeTensor } from '../../src/model/tensor.js';
import { BOOL, F, buildModel, info, int, openModel, tmp } from '../data/models.js';
import { runFailure } from '../../src/runtime/session.js';

/** y = If(cond, then: Concat(a, b) along axis 0, else: a): b must match a beyond axis 0, inside the branch. */
function concatInIf() {
  const then = onnx.GraphProto.create({
    name: 'then_body',
    node: [{ opType: 'Concat', name: 'inner_concat', input: ['a', 'b'], output: ['t'], attribute: [int('axis', 0)] }],
    output: [info(['t', F, null])],
  });
  const otherwise = onnx.GraphProto.create({
    name: 'else_body',
    node: [{ opType: 'Identity', input: ['a'], output: ['e'] }],
    output: [info(['e', F, null])],
  });
  return buildModel(
    [{ opType: 'If', name: 'branch', input: ['cond'], output: ['y'], attribute: [
      { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: then },
      { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: otherwise },
    ] }],
    [['a', F, ['n', 4]], ['b', F, ['m', 'k']], ['cond', BOOL, []]],
    [['y', F, null]],
    [makeTensor('unused', [1], Float32Array.of(0))],
  );
}

describe('inference failures', () => {
  it('puts the cause first, names the node and the If it sits in, and lists every feed', async () => {
    const session = await openModel(concatInIf(), tmp());
    try {
      const feeds = {
        a: { type: 'float32' as const, dims: [1, 4], data: new Float32Array(4) },
        b: { type: 'float32' as const, dims: [1, 3], data: new Float32Array(3) },
        cond: { type: 'bool' as const, dims: [], data: Uint8Array.of(1) },
      };
      const err = await session.run(feeds).then(() => undefined, (e: Error) => e);
      expect(err?.message).toMatch(/^model\.onnx: inference failed: Concat node 'inner_concat' \(inside If 'branch'\): .*mismatched dimensions of 3 and 4/);
      expect(err?.message).not.toMatch(/Non-zero status code/);
      expect(err?.message).toMatch(/\[fed a float32\[1, 4\], b float32\[1, 3\], cond bool\[\]\]$/);
      // The same feeds with the other branch run.
      expect((await session.run({ ...feeds, cond: { type: 'bool', dims: [], data: Uint8Array.of(0) } })).y!.dims).toEqual([1, 4]);
    } finally {
      await session.release();
    }
  });

  it('lists at most eight feeds (a decoder has dozens of KV-cache inputs) and leaves a plain message as it is', () => {
    const feeds = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`past_${i}`, { type: 'float32', dims: [1, 4, 0, 8] }]));
    const msg = runFailure('Got invalid dimensions for input: past_0', feeds);
    expect(msg).toMatch(/^Got invalid dimensions for input: past_0 \[fed past_0 float32\[1, 4, 0, 8\], .*past_7 float32\[1, 4, 0, 8\], 2 more\]$/);
    expect(msg).not.toMatch(/past_8/);
  });
});
