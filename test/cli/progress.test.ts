/** The CLI's step lines: ✓ only on steps that finished, ✗ on the one that failed, k/N counts, colour rules. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../src/cli/progress.js';
import { colorEnabled } from '../../src/cli/style.js';

function capture(isTTY = false): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & { isTTY?: boolean };
  stream.isTTY = isTTY;
  let out = '';
  (stream as unknown as PassThrough).on('data', (chunk: Buffer) => (out += chunk.toString()));
  return { stream, text: () => out };
}

describe('CLI progress', () => {
  it('marks finished steps ✓ and the step the run stopped in ✗', () => {
    const { stream, text } = capture();
    const p = createProgress(stream, true, {});
    p.step('model: m.onnx');
    p.step('dataset: 64 samples');
    p.step('evaluate reference');
    p.done(false);
    expect(text().split('\n')).toEqual(['  ✓ model: m.onnx', '  ✓ dataset: 64 samples', '  ✗ evaluate reference', '']);
  });

  it('a run that ended (passed or gate failed) closes its last step with ✓', () => {
    const { stream, text } = capture();
    const p = createProgress(stream, true, {});
    p.step('benchmark');
    p.done(true);
    expect(text()).toBe('  ✓ benchmark\n');
  });

  it('shows the last detail of a counted step (finetune: the epoch and its loss) on its closing line', () => {
    const { stream, text } = capture();
    const p = createProgress(stream, true, {});
    p.step('finetune prune: 1 epoch on 8000 labelled samples');
    p.count('finetune prune', 30, 63, 'epoch 1/1 · loss 0.3012');
    p.count('finetune prune', 63, 63, 'epoch 1/1 · loss 0.2104');
    p.done(true);
    expect(text()).toBe('  ✓ finetune prune: 1 epoch on 8000 labelled samples 63/63 · epoch 1/1 · loss 0.2104\n');
  });

  it('counts k/N on the open step; a count for another step opens it', () => {
    const { stream, text } = capture();
    const p = createProgress(stream, true, {});
    p.step('evaluate reference on 300 samples');
    for (let k = 0; k <= 300; k += 100) p.count('evaluate reference', k, 300);
    p.count('benchmark rounds', 0, 20); // a bare callback call, as the pipeline makes it
    const count = p.count;
    count('benchmark rounds', 7, 20);
    p.done(false);
    expect(text().split('\n')).toEqual(['  ✓ evaluate reference on 300 samples 300/300', '  ✗ benchmark rounds 7/20', '']);
  });

  it("keeps one line per step when a counted step's sub-steps log their own lines (build, benchmark)", () => {
    const { stream, text } = capture();
    const p = createProgress(stream, true, {});
    p.count('build', 0, 2);
    p.step('build int8 (recipe)');
    p.step('quantize: Gemm 1');
    p.count('build', 1, 2);
    p.step('build fp16 (recipe)');
    p.count('build', 2, 2);
    p.step('benchmark: loading reference');
    p.count('benchmark', 0, 30);
    p.step('benchmark: 20 rounds');
    p.count('benchmark', 3, 30);
    p.done(true);
    expect(text().split('\n')).toEqual([
      '  ✓ build int8 (recipe)', '  ✓ quantize: Gemm 1', '  ✓ build fp16 (recipe) 2/2', '  ✓ benchmark: loading reference', '  ✓ benchmark: 20 rounds 3/30', '',
    ]);
  });

  it('prints nothing when quiet', () => {
    const { stream, text } = capture();
    const p = createProgress(stream, false, {});
    p.step('x');
    p.count('x', 1, 2);
    p.done(false);
    expect(text()).toBe('');
  });

  it('colours a terminal, never a pipe, and never under NO_COLOR', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false);
    const piped = capture();
    const p = createProgress(piped.stream, true, { FORCE_COLOR: '1' });
    p.step('a');
    p.done(true);
    expect(piped.text()).toContain('\x1b[32m✓\x1b[39m a');
    const plain = capture();
    const q = createProgress(plain.stream, true, { FORCE_COLOR: '1', NO_COLOR: 'yes' });
    q.step('a');
    q.done(false);
    expect(plain.text()).toBe('  ✗ a\n');
  });
});
