/** Resource bounds: live benchmark workers, the export command's timeout with escaped children, and its output volume. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { measureInterleaved } from '../../src/benchmark/runner.js';
import { liveWorkerCount } from '../../src/benchmark/worker-client.js';
import { runExportCommand } from '../../src/import/export-command.js';
import { matMulFeeds, tempDir, writeMatMul } from '../benchmark/fixtures.js';

const tmp = tempDir('modelgate-sec-res-');
afterAll(() => tmp.cleanup());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers kill 0; its state in /proc says whether it runs.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('benchmark workers', () => {
  it('more models than maxWorkers are measured in groups with the first model in each; never more workers alive', async () => {
    const models = ['ref', 'a', 'b'].map((id) => ({ id, path: writeMatMul(tmp.dir, `${id}.onnx`), runtime: {} }));
    let peak = 0;
    const stats = await measureInterleaved(models, matMulFeeds(2, 16), { batch: 2, maxWorkers: 2, timeBudgetMs: 300, minSamples: 5, rounds: { min: 3, burst: 2 } }, () => {
      peak = Math.max(peak, liveWorkerCount());
    });
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(2);
    expect([...stats.keys()].sort()).toEqual(['a', 'b', 'ref']);
    for (const id of ['a', 'b']) {
      expect(stats.get(id)!.anchor).toBeDefined();
      expect(stats.get(id)!.anchor!.samples).toBeGreaterThan(0);
    }
    expect(stats.get('ref')!.anchor).toBeUndefined();
    // Two groups: each measured its own reference run; they are different measurements.
    expect(new Set(['a', 'b'].map((id) => stats.get(id)!.anchor!.raw_ms.join(','))).size).toBe(2);
    expect(liveWorkerCount()).toBe(0);
  }, 60_000);
});

describe('export command', () => {
  it('export.timeout holds when a detached child keeps stdout open: the tree is killed and the pipe is not waited for', async () => {
    const pidFile = path.join(tmp.dir, 'daemon.pid');
    // setsid leaves the shell's process group (a group kill misses it) and inherits stdout.
    const run = `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 60' & sleep 60`;
    const started = performance.now();
    const result = await runExportCommand({ run, output: 'never.onnx', timeout: 1 }, tmp.dir);
    const seconds = (performance.now() - started) / 1000;
    expect(result.timed_out).toBe(true);
    expect(result.error).toMatch(/did not finish within export\.timeout = 1 s and was killed/);
    expect(seconds).toBeLessThan(15);
    expect(existsSync(pidFile)).toBe(true);
    const daemon = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(daemon)).toBe(false);
  }, 30_000);

  it('a background child holding stdout after the command succeeded is not waited for either', async () => {
    const pidFile = path.join(tmp.dir, 'bg.pid');
    const run = `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 60' & echo model > out.onnx`;
    const started = performance.now();
    const result = await runExportCommand({ run, output: 'out.onnx', timeout: 60 }, tmp.dir);
    expect((performance.now() - started) / 1000).toBeLessThan(15);
    expect(result.error).toBeUndefined();
    expect(result.exit_code).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  }, 30_000);

  it('a flood of stdout reaches the log as a bounded head and tail; an endless line is cut', async () => {
    const lines: string[] = [];
    const result = await runExportCommand({ run: `seq 1 200000; head -c 3000000 /dev/zero | tr '\\0' x; echo; echo model > flood.onnx`, output: 'flood.onnx', timeout: 60 }, tmp.dir, (l) => lines.push(l));
    expect(result.error).toBeUndefined();
    expect(lines.length).toBeLessThan(250);
    expect(lines).toContain('export | 1');
    expect(lines.some((l) => /lines not shown/.test(l))).toBe(true);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(5000);
  }, 60_000);
});
