import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExportCommand } from '../../src/import/export-command.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'export-step-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the export step', () => {
  it('runs the command in the config folder through the shell and checks the output it wrote', async () => {
    const lines: string[] = [];
    const r = await runExportCommand({ run: 'mkdir -p build && printf onnx > build/model.onnx && echo exported && echo "a warning" >&2', output: 'build/model.onnx' }, dir, (l) => lines.push(l));
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ exit_code: 0, timed_out: false, output_bytes: 4, stderr: 'a warning\n' });
    expect(lines).toContain('export | exported');
  });

  it('a failing command: its exit code and the end of its stderr', async () => {
    const r = await runExportCommand({ run: 'echo "Traceback: torch not found" >&2; exit 3', output: 'never.onnx' }, dir);
    expect(r.exit_code).toBe(3);
    expect(r.stderr).toContain('torch not found');
    expect(r.error).toMatch(/export: '.*' failed with exit code 3; stderr ends with:\n {2}Traceback: torch not found/);
  });

  it('a command that succeeds without writing the output, or leaves an old one in place', async () => {
    const missing = await runExportCommand({ run: 'true', output: 'missing.onnx' }, dir);
    expect(missing.error).toMatch(/succeeded but did not write export.output 'missing.onnx'/);
    const stale = path.join(dir, 'stale.onnx');
    writeFileSync(stale, 'old');
    utimesSync(stale, new Date(2020, 0, 1), new Date(2020, 0, 1));
    const unchanged = await runExportCommand({ run: 'true', output: 'stale.onnx' }, dir);
    expect(unchanged.error).toMatch(/left export.output 'stale.onnx' unchanged/);
  });

  it('kills the whole process tree at the timeout', async () => {
    const pidFile = path.join(dir, 'child.pid');
    // The shell starts a background child and waits: both must die.
    const r = await runExportCommand({ run: `sleep 30 & echo $! > ${pidFile}; wait`, output: 'x.onnx', timeout: 0.5 }, dir);
    expect(r.timed_out).toBe(true);
    expect(r.error).toMatch(/did not finish within export.timeout = 0.5 s and was killed/);
    const child = Number(readFileSync(pidFile, 'utf8').trim());
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Dead means gone, or a zombie waiting for a PID 1 that does not reap (as in some containers).
    const alive = (() => {
      try {
        process.kill(child, 0);
      } catch {
        return false;
      }
      const status = existsSync(`/proc/${child}/status`) ? readFileSync(`/proc/${child}/status`, 'utf8') : '';
      return !/^State:\s+Z/m.test(status);
    })();
    expect(alive).toBe(false);
  });
});
