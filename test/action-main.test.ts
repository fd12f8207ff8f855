/**
 * The action's body imports without running (src/index.ts is the only file that calls run()), and run() turns an
 * error into a failed step with a one-line message instead of a rejection.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

describe('src/main.ts', () => {
  const saved = { mode: process.env.INPUT_MODE, exitCode: process.exitCode };
  afterEach(() => {
    if (saved.mode === undefined) delete process.env.INPUT_MODE;
    else process.env.INPUT_MODE = saved.mode;
    process.exitCode = saved.exitCode;
    vi.restoreAllMocks();
  });

  it('importing it runs nothing; run() fails the step on a bad input', async () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const { run } = await import('../src/main.js');
    expect(written.join('')).toBe('');
    process.env.INPUT_MODE = 'sideways';
    await expect(run()).resolves.toBeUndefined();
    const out = written.join('');
    expect(out).toMatch(/::error::.*sideways/);
    expect(out).toContain('::set-output name=passed::false'); // no GITHUB_OUTPUT file outside a runner
    expect(process.exitCode).toBe(1);
  });
});
