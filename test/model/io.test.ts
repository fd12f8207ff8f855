import { describe, expect, it } from 'vitest';
import { onnx } from '../../src/model/onnx.js';
import { resolveInputs } from '../../src/model/io.js';

function model(dims: Array<number | string>): onnx.ModelProto {
  return onnx.ModelProto.create({
    irVersion: 8,
    graph: {
      name: 'g',
      node: [{ opType: 'Identity', input: ['ids'], output: ['y'] }],
      input: [{ name: 'ids', type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64 } } }],
    },
  });
}

describe('resolveInputs', () => {
  it('gives a symbolic leading dim the benchmark batch', () => {
    expect(resolveInputs(model(['N', 16]), {}, 4, 'm.onnx')).toEqual([{ name: 'ids', dtype: 'int64', shape: [4, 16], dynamicBatch: true, batchAxis: 0, range: undefined }]);
  });

  // The load stage probes such dims before this message is ever shown (test/load/assume.test.ts); it
  // remains the exit-2 message when no probe value runs, and resolveInputs takes the values it chose.
  it('stops on another dynamic dim that the config does not fix, naming input and dim', () => {
    expect(() => resolveInputs(model(['N', 'seq']), {}, 1, 'm.onnx')).toThrow(
      "m.onnx: 1 input dimension is not fixed by the model or the config: 'ids' axis 1 ('seq'). Add to the config (a dim may be 0, e.g. an empty KV cache):\ninputs:\n  ids: { shape: [1, 1] }   # set seq (axis 1)",
    );
    const fixed = resolveInputs(model(['N', 'seq']), { ids: { shape: [1, 32], range: [16000, 16000] } }, 8, 'm.onnx');
    expect(fixed[0]!.shape).toEqual([8, 32]);
    expect(fixed[0]!.range).toEqual([16000, 16000]);
    expect(resolveInputs(model(['N', 'seq']), {}, 2, 'm.onnx', new Map([['seq', 512]]))[0]!.shape).toEqual([2, 512]);
    expect(resolveInputs(model(['N', '']), {}, 2, 'm.onnx', new Map([['ids[1]', 7]]))[0]!.shape).toEqual([2, 7]);
  });

  it('rejects shapes and dtypes that contradict the model', () => {
    expect(() => resolveInputs(model([1, 16]), { ids: { shape: [1, 8] } }, 1, 'm.onnx')).toThrow(/inputs\.ids\.shape\[1\]: 8 does not match the model's fixed dimension 16/);
    expect(() => resolveInputs(model([1, 16]), { ids: { dtype: 'float32' } }, 1, 'm.onnx')).toThrow(/inputs\.ids\.dtype: 'float32' does not match the model's int64/);
  });
});
