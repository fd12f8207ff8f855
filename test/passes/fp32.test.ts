/** fp32: a float16 decoder computed in float32 keeps its float16 interface and matches the fp16 reference. */
import { describe, expect, it } from 'vitest';
import Long from 'long';
import { DataType, encodeModel, onnx } from '../../src/model/onnx.js';
import { floatToHalf, halfToFloat, makeTensor } from '../../src/model/tensor.js';
import { checkModel, getIntAttr, makeNode, tensorAttr, tensorValueInfo } from '../../src/model/graph.js';
import { fp32Pass } from '../../src/passes/fp32.js';
import { OrtSession } from '../../src/runtime/session.js';
import { decoderQuality } from '../../src/evaluate/decoder-quality.js';
import { decoderSignature } from '../../src/model/decoder.js';
import { validateRecipe } from '../../src/passes/registry.js';
import { buildTinyDecoder } from '../support/tiny-decoder.js';
import { sameBytes, testContext } from './fixtures.js';

describe('fp32', () => {
  it('float16 weights, Casts and value types become float32; fp16 inputs and outputs stay, behind Casts', async () => {
    const d = buildTinyDecoder({ dtype: 'float16' });
    const log: string[] = [];
    const m = await fp32Pass.run(d.model, {}, testContext(() => [], log));
    checkModel(m);
    const g = m.graph!;
    expect(g.initializer!.filter((t) => t.dataType === DataType.FLOAT16)).toHaveLength(0);
    expect(g.initializer!.filter((t) => t.dataType === DataType.FLOAT).length).toBe(d.model.graph!.initializer!.filter((t) => t.dataType === DataType.FLOAT16).length);
    // The interface is the reference's: same names, same element types.
    const io = (x: typeof d.model) => [...x.graph!.input!, ...x.graph!.output!].map((v) => `${v.name}:${v.type!.tensorType!.elemType}`);
    expect(io(m)).toEqual(io(d.model));
    const casts = g.node!.filter((n) => n.opType === 'Cast');
    // 4 cache inputs in, logits + 4 presents out, and the model's own attention-mask Cast (now to float32).
    expect(casts.filter((n) => getIntAttr(n, 'to', 0) === DataType.FLOAT16).map((n) => n.output![0]).sort()).toEqual(
      ['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value'],
    );
    expect(casts.filter((n) => getIntAttr(n, 'to', 0) === DataType.FLOAT)).toHaveLength(5);
    expect(log[0]).toContain('4 input and 5 output Cast(s)');
    expect(sameBytes(encodeModel(m), encodeModel(await fp32Pass.run(d.model, {}, testContext(() => []))))).toBe(true);
  });

  it('ORT: the fp32 candidate takes the fp16 feeds and its logits match the fp16 reference within fp16 rounding', async () => {
    const d = buildTinyDecoder({ dtype: 'float16', hidden: 64, vocab: 512 });
    const m = await fp32Pass.run(d.model, {}, testContext(() => []));
    const [ref, cand] = await Promise.all([OrtSession.create(encodeModel(d.model), {}, 'fp16'), OrtSession.create(encodeModel(m), {}, 'fp32')]);
    // Cache feeds flow from each model's own float16 presents, so this also checks the output Casts.
    const q = await decoderQuality(ref, cand, decoderSignature(d.model), { prompts: 3, promptLength: 12, decodeSteps: 3 });
    // fp16 has 11 significant bits (≈ 66 dB for one rounding); accumulated over the layers the fp16 reference drifts to ≈ 50 dB.
    expect(q.snr_db).toBeGreaterThan(40);
    expect(q.cosine).toBeGreaterThan(0.9999);
    expect(q.top1_agreement).toBe(1);
    await ref.release();
    await cand.release();
  });

  it('Constant and ConstantOfShape values, and a passed-through fp16 input', async () => {
    const half = (v: number[]) => makeTensor('', [v.length], Uint16Array.from(v, floatToHalf), DataType.FLOAT16);
    const model = onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      opsetImport: [{ domain: '', version: Long.fromNumber(17) }],
      graph: {
        name: 'g',
        node: [
          makeNode('Constant', [], ['c'], { name: 'c', attributes: [tensorAttr('value', half([0.5, 2, -1]))] }),
          makeNode('ConstantOfShape', ['shape'], ['ones'], { name: 'ones', attributes: [tensorAttr('value', half([1]))] }),
          makeNode('Mul', ['x', 'c'], ['xc'], { name: 'mul' }),
          makeNode('Add', ['xc', 'ones'], ['y'], { name: 'add' }),
        ],
        initializer: [makeTensor('shape', [1], BigInt64Array.of(3n))],
        input: [tensorValueInfo('x', DataType.FLOAT16, [3])],
        output: [tensorValueInfo('y', DataType.FLOAT16, [3]), tensorValueInfo('x', DataType.FLOAT16, [3])],
      },
    });
    const m = await fp32Pass.run(model, {}, testContext(() => []));
    checkModel(m);
    const s = await OrtSession.create(encodeModel(m));
    const out = await s.run({ x: { type: 'float16', dims: [3], data: Uint16Array.from([4, 4, 4], floatToHalf) } });
    expect(out.y!.type).toBe('float16');
    expect(Array.from(out.y!.data as Uint16Array, halfToFloat)).toEqual([3, 9, -3]);
    expect(Array.from(out.x!.data as Uint16Array, halfToFloat)).toEqual([4, 4, 4]);
    expect(m.graph!.node!.find((n) => n.opType === 'Constant')!.attribute![0]!.t!.dataType).toBe(DataType.FLOAT);
    await s.release();
  });

  it('takes no options, and says so by name', () => {
    expect(() => validateRecipe([{ fp32: { keep_io_types: false } }])).toThrow(/passes\[0\] 'fp32': unknown option 'keep_io_types'/);
  });
});
