import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { zipSync } from 'fflate';
import { fixedBatchOf, resolveInputs, MAX_INPUT_ELEMENTS } from '../../src/model/io.js';
import { loadDataset, syntheticDataset } from '../../src/data/dataset.js';
import { writeNpy } from '../../src/data/npy.js';
import { makeTensor } from '../../src/model/tensor.js';
import { BOOL, F, F16, I64, buildModel, int, ints, openModel, tmp } from '../data/models.js';

/** A voice-activity-like model: audio [batch, 64], recurrent state [2, batch, 128], a rank-0 sample rate. */
function vad() {
  return buildModel(
    [
      { opType: 'MatMul', input: ['input', 'w'], output: ['logit'] },
      { opType: 'Sigmoid', input: ['logit'], output: ['prob'] },
      { opType: 'Cast', input: ['sr'], output: ['srf'], attribute: [int('to', F)] },
      { opType: 'Mul', input: ['srf', 'zero'], output: ['srz'] },
      { opType: 'Add', input: ['state', 'srz'], output: ['stateN'] },
    ],
    [['input', F, ['batch', 64]], ['state', F, [2, 'batch', 128]], ['sr', I64, []]],
    [['prob', F, ['batch', 1]], ['stateN', F, [2, 'batch', 128]]],
    [makeTensor('w', [64, 1], new Float32Array(64).fill(0.01)), makeTensor('zero', [], Float32Array.of(0))],
  );
}

/** A decoder-like model: ids [batch, seq] → keys appended to past_key_values [batch, 4, past_seq, 8]. */
function decoder() {
  return buildModel(
    [
      { opType: 'Gather', input: ['emb', 'input_ids'], output: ['e'] },
      { opType: 'Reshape', input: ['e', 'shape4'], output: ['e4'] },
      { opType: 'Transpose', input: ['e4'], output: ['k'], attribute: [ints('perm', [0, 2, 1, 3])] },
      { opType: 'Concat', input: ['past_key_values', 'k'], output: ['present'], attribute: [int('axis', 2)] },
      { opType: 'Cast', input: ['attention_mask'], output: ['m'], attribute: [int('to', F)] },
      { opType: 'ReduceSum', input: ['m'], output: ['mask_sum'], attribute: [int('keepdims', 0)] },
    ],
    [['input_ids', I64, ['batch', 'seq']], ['past_key_values', F, ['batch', 4, 'past_seq', 8]], ['attention_mask', I64, ['batch', 'total_seq']]],
    [['present', F, ['batch', 4, 'total_seq', 8]], ['mask_sum', F, []]],
    [makeTensor('emb', [10, 32], Float32Array.from({ length: 320 }, (_, i) => i / 320)), makeTensor('shape4', [4], BigInt64Array.from([0n, -1n, 4n, 8n]))],
  );
}

/**
 * silero-vad-v5's declarations: audio [?, ?] and state [2, ?, 128] with unnamed dims, a rank-0 sr. The state's
 * axis 1 is the batch (a Concat ties it to the audio's rows), but nothing in the model says so.
 */
function anonymousVad() {
  return buildModel(
    [
      { opType: 'MatMul', input: ['input', 'w'], output: ['h'] },
      { opType: 'Unsqueeze', input: ['h', 'axis0'], output: ['h3'] },
      { opType: 'Concat', input: ['state', 'h3'], output: ['stacked'], attribute: [int('axis', 0)] },
      { opType: 'ReduceSum', input: ['stacked', 'axes02'], output: ['logit'], attribute: [int('keepdims', 0)] },
      { opType: 'Sigmoid', input: ['logit'], output: ['output'] },
      { opType: 'Cast', input: ['sr'], output: ['srf'], attribute: [int('to', F)] },
      { opType: 'Mul', input: ['srf', 'zero'], output: ['srz'] },
      { opType: 'Add', input: ['state', 'srz'], output: ['stateN'] },
    ],
    [['input', F, ['', '']], ['state', F, [2, '', 128]], ['sr', I64, []]],
    [['output', F, ['']], ['stateN', F, [2, '', 128]]],
    [
      makeTensor('w', [64, 128], new Float32Array(64 * 128).fill(0.01)), makeTensor('zero', [], Float32Array.of(0)),
      makeTensor('axis0', [1], BigInt64Array.of(0n)), makeTensor('axes02', [2], BigInt64Array.of(0n, 2n)),
    ],
  );
}

describe('input shapes from the model', () => {
  it('runs one sample at a time when an input without a batch axis keeps an unnamed dim that may be the batch', async () => {
    const config = { input: { shape: [1, 64] }, state: { shape: [2, 1, 128] } };
    const inputs = resolveInputs(anonymousVad(), config, 1, 'vad.onnx');
    expect(inputs.map((i) => [i.name, i.shape, i.batchAxis, i.dynamicBatch])).toEqual([
      ['input', [1, 64], 0, false],
      ['state', [2, 1, 128], null, false],
      ['sr', [], null, false],
    ]);
    // The batch is then fixed: every run feeds the configured shapes, never 64 samples stacked on input's axis 0.
    expect(fixedBatchOf(inputs)).toBe(1);
    const ds = syntheticDataset(inputs);
    const batches = [...ds.batches(64)];
    expect(batches).toHaveLength(64);
    const session = await openModel(anonymousVad(), tmp());
    try {
      for (const b of batches.slice(0, 3)) expect((await session.run(b.feeds)).output!.dims).toEqual([1]);
      // What stacking did: the model refuses it, and the message names the failing node and every feed's shape.
      const stacked = { ...batches[0]!.feeds, input: { type: 'float32' as const, dims: [4, 64], data: new Float32Array(256) } };
      await expect(session.run(stacked)).rejects.toThrow(/Concat node.*\[fed input float32\[4, 64\], state float32\[2, 1, 128\], sr int64\[\]\]/);
    } finally {
      await session.release();
    }
    // Named dims are not in doubt: the symbolic-batch model keeps its dynamic batch.
    expect(resolveInputs(vad(), {}, 1, 'vad.onnx').every((i) => i.dynamicBatch)).toBe(true);
  });


  it('keeps a recurrent state [2, batch, 128] and a rank-0 sr as the model declares them, and runs in ORT', async () => {
    const inputs = resolveInputs(vad(), {}, 3, 'vad.onnx');
    expect(inputs.map((i) => [i.name, i.shape, i.batchAxis, i.dynamicBatch])).toEqual([
      ['input', [3, 64], 0, true],
      ['state', [2, 3, 128], 1, true],
      ['sr', [], null, true],
    ]);
    const feeds = syntheticDataset(inputs).feedsForBatch(5);
    expect(feeds.state!.dims).toEqual([2, 5, 128]);
    expect(feeds.sr!.dims).toEqual([]);
    // Name-based defaults: a state starts at zero, a sample rate is 16000.
    expect((feeds.state!.data as Float32Array).every((v) => v === 0)).toBe(true);
    expect(Array.from(feeds.sr!.data as BigInt64Array)).toEqual([16000n]);
    const dir = tmp();
    const session = await openModel(vad(), dir);
    try {
      const out = await session.run(feeds);
      expect(out.prob!.dims).toEqual([5, 1]);
      expect(out.stateN!.dims).toEqual([2, 5, 128]);
      // Batches from a dataset put each sample on the state's batch axis (axis 1), not axis 0.
      const audio = Float32Array.from({ length: 3 * 64 }, (_, i) => (i % 64) / 64);
      const state = Float32Array.from({ length: 3 * 2 * 128 }, (_, i) => i);
      writeFileSync(path.join(dir, 'vad.npz'), zipSync({ 'input.npy': writeNpy('float32', [3, 64], audio), 'state.npy': writeNpy('float32', [3, 2, 128], state) }));
      const ds = loadDataset({ inputs: 'vad.npz' }, (p) => path.join(dir, p), inputs);
      const [batch] = [...ds.batches(3)];
      expect(batch!.feeds.state!.dims).toEqual([2, 3, 128]);
      const s = batch!.feeds.state!.data as Float32Array;
      // state[l, k, j] of the batch is sample k's [l, j].
      for (const [l, k, j] of [[0, 0, 0], [1, 0, 5], [0, 2, 127], [1, 1, 64]] as const) expect(s[(l * 3 + k) * 128 + j]).toBe(k * 256 + l * 128 + j);
      const run = await session.run(batch!.feeds);
      expect(Array.from(run.stateN!.data as Float32Array)).toEqual(Array.from(s));
    } finally {
      await session.release();
    }
  });

  it('runs a decoder with an empty KV cache (past_seq = 0), the dims given once for every input that names them', async () => {
    const overrides = { input_ids: { shape: [1, 3] }, past_key_values: { shape: [1, 4, 0, 8] }, attention_mask: { shape: [1, 3] } };
    const inputs = resolveInputs(decoder(), overrides, 2, 'dec.onnx');
    expect(inputs.map((i) => i.shape)).toEqual([[2, 3], [2, 4, 0, 8], [2, 3]]);
    const feeds = syntheticDataset(inputs).feedsForBatch(2);
    expect(feeds.past_key_values!.dims).toEqual([2, 4, 0, 8]);
    // A mask is all ones; ids are small integers.
    expect(Array.from(feeds.attention_mask!.data as BigInt64Array)).toEqual(Array(6).fill(1n));
    expect(Array.from(feeds.input_ids!.data as BigInt64Array).every((v) => v >= 0n && v <= 9n)).toBe(true);
    const session = await openModel(decoder(), tmp());
    try {
      const out = await session.run(feeds);
      expect(out.present!.dims).toEqual([2, 4, 3, 8]);
      expect(Array.from(out.mask_sum!.data as Float32Array)).toEqual([6]);
    } finally {
      await session.release();
    }
  });

  it('lists every missing dimension at once with a config snippet to paste', () => {
    let message = '';
    try {
      resolveInputs(decoder(), {}, 1, 'dec.onnx');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("dec.onnx: 3 input dimensions are not fixed by the model or the config: 'input_ids' axis 1 ('seq'), 'past_key_values' axis 2 ('past_seq'), 'attention_mask' axis 1 ('total_seq')");
    expect(message).toContain('inputs:\n  input_ids: { shape: [1, 1] }   # set seq (axis 1)\n  past_key_values: { shape: [1, 4, 1, 8] }   # set past_seq (axis 2)\n');
  });

  it('gives a symbolic name one value everywhere, and every batch symbol the batch', () => {
    const model = buildModel(
      [{ opType: 'Concat', input: ['a', 'b'], output: ['y'], attribute: [int('axis', 2)] }],
      [['a', F, ['batch', 'seq', 3]], ['b', F, ['N', 'seq', 5]]],
      [['y', F, ['batch', 'seq', 8]]],
    );
    const inputs = resolveInputs(model, { a: { shape: [1, 7, 3] } }, 4, 'two.onnx');
    expect(inputs.map((i) => [i.shape, i.batchAxis])).toEqual([[[4, 7, 3], 0], [[4, 7, 5], 0]]);
    expect(() => resolveInputs(model, { a: { shape: [1, 7, 3] }, b: { shape: [1, 6, 5] } }, 1, 'two.onnx')).toThrow(
      "inputs.b.shape[1]: 'seq' is 6 here but 7 in inputs.a.shape; one name is one size",
    );
  });

  it('needs no inputs: section when the model names every dimension but the batch', () => {
    const model = buildModel([{ opType: 'Identity', input: ['x'], output: ['y'] }], [['x', F, ['batch_size', 3, 224, 224]]], [['y', F, null]]);
    expect(resolveInputs(model, {}, 2, 'm.onnx')[0]!.shape).toEqual([2, 3, 224, 224]);
  });

  it('refuses a dimension of 1e9 and feeds over the documented cap', () => {
    const huge = buildModel([{ opType: 'Identity', input: ['x'], output: ['y'] }], [['x', F, ['batch', 1e9]]], [['y', F, null]]);
    expect(() => resolveInputs(huge, {}, 1, 'huge.onnx')).toThrow(`huge.onnx: input 'x' dimension 1 is 1000000000; a dimension may be 0 to ${MAX_INPUT_ELEMENTS}`);
    const wide = buildModel([{ opType: 'Identity', input: ['x'], output: ['y'] }], [['x', F, ['batch', 65536, 8192]]], [['y', F, null]]);
    expect(() => resolveInputs(wide, {}, 1, 'wide.onnx')).toThrow(/wide\.onnx: input 'x' \[1, 65536, 8192\] has 536870912 elements per feed; ModelGate refuses inputs over 268435456 elements/);
  });

  it('synthesizes float16 and bool inputs that ORT accepts', async () => {
    const model = buildModel(
      [
        { opType: 'Cast', input: ['x16'], output: ['hf'], attribute: [int('to', F)] },
        { opType: 'Cast', input: ['flag'], output: ['ff'], attribute: [int('to', F)] },
        { opType: 'Mul', input: ['hf', 'ff'], output: ['y'] },
      ],
      [['x16', F16, ['batch', 4]], ['flag', BOOL, ['batch', 4]]],
      [['y', F, ['batch', 4]]],
    );
    const inputs = resolveInputs(model, {}, 2, 'h.onnx');
    const feeds = syntheticDataset(inputs).feedsForBatch(2);
    expect(feeds.x16!.data).toBeInstanceOf(Uint16Array);
    const session = await openModel(model, tmp());
    try {
      const y = (await session.run(feeds)).y!.data as Float32Array;
      // Half-precision values in [0, 1], masked by the bools: finite and in range, so decoded rather than raw bits.
      expect(Array.from(y).every((v) => v >= 0 && v <= 1)).toBe(true);
      expect(Array.from(y).some((v) => v > 0)).toBe(true);
    } finally {
      await session.release();
    }
  });

  it('says why a bfloat16 input cannot be fed (onnxruntime-node has no bfloat16 tensors)', () => {
    const model = buildModel([{ opType: 'Identity', input: ['x'], output: ['y'] }], [['x', 16, ['batch', 2]]], [['y', 16, null]]);
    expect(() => resolveInputs(model, {}, 1, 'b.onnx')).toThrow("b.onnx: input 'x': element type BFLOAT16 cannot be fed through onnxruntime-node (it has no bfloat16 tensors); export the input as float16 or float32");
  });
});
