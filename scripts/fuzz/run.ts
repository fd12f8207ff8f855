/**
 * The fuzz job (npm run fuzz): seeded, bounded mutations of every input format ModelGate reads,
 * run in-process by worker processes that a supervisor watches.
 *
 *   tsx scripts/fuzz/run.ts [--seed N] [--cases N] [--workers N] [--case-timeout S] [--max-rss-mb N] [--save]
 *
 * Every case must end in a result or a clean ModelGateError (no other exception, no stack trace,
 * no canary content in any message or output file), within its time budget and memory; a worker
 * that hangs past the timeout or grows past the memory cap is killed, its case recorded, and a
 * fresh worker carries on. Afterwards nothing outside the work dir may have changed: the canary
 * folder (which symlinks in the cases point into) and the repository checkout are compared with
 * their state before the run. Failing cases are written to test/fuzz/regressions/ with --save
 * (the regression tests replay them). Exit 1 if any case failed.
 */
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeCase, makeCase } from '../../test/fuzz/cases.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seed = opt('seed', 20261204);
const cases = opt('cases', 10_000);
const workers = opt('workers', Math.max(1, Math.min(2, os.cpus().length)));
const caseTimeoutMs = opt('case-timeout', 30) * 1000;
const maxRssBytes = opt('max-rss-mb', 1536) * 2 ** 20;
/** A case slower than this fails even if it ends: bounded time is part of the contract. */
const budgetMs = opt('case-budget', 20) * 1000;
const save = args.includes('--save');
const repo = path.resolve(import.meta.dirname, '../..');
// Workers run in the work dir, where a bare 'tsx' would not resolve.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** Workers that died before taking a case, in a row: the harness itself is broken. */
let emptyDeaths = 0;

const workDir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-fuzz-'));
const outside = mkdtempSync(path.join(os.tmpdir(), 'modelgate-fuzz-outside-'));
const canaryText = `MODELGATE-CANARY-${randomBytes(8).toString('hex')}`;
const canaryFile = path.join(outside, 'secret.txt');
writeFileSync(canaryFile, `${canaryText}\n`.repeat(8));
mkdirSync(path.join(workDir, 'tmp'));

function snapshot(dir: string): string {
  const h = createHash('sha256');
  for (const name of readdirSync(dir, { recursive: true }).map(String).sort()) {
    h.update(name);
    try {
      h.update(readFileSync(path.join(dir, name)));
    } catch {
      h.update('(unreadable)');
    }
  }
  return h.digest('hex');
}
const gitStatus = (): string => {
  try {
    return execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: repo, encoding: 'utf8' });
  } catch {
    return '(no git)';
  }
};
const outsideBefore = snapshot(outside);
const repoBefore = gitStatus();

interface Failure { index: number; format: string; mutation: string; problems: string[] }
const failures: Failure[] = [];
const byFormat = new Map<string, { cases: number; ok: number; refused: number; ms: number; maxMs: number }>();
let next = 0;
let done = 0;
let peakRss = 0;
const started = performance.now();

interface Slot { child: ChildProcess; current?: { index: number; format: string; mutation: string; since: number }; id: number }

function record(index: number, format: string, mutation: string, problems: string[]): void {
  failures.push({ index, format, mutation, problems });
  process.stderr.write(`FAIL case ${index} (${format} ${mutation}): ${problems.join('; ')}\n`);
}

function startWorker(id: number, onIdle: () => void): Slot {
  const child = fork(path.join(import.meta.dirname, 'worker.ts'), [], {
    cwd: workDir,
    execArgv: ['--import', tsxLoader, `--max-old-space-size=${Math.round(maxRssBytes / 2 ** 20)}`],
    // Temp files of the code under test stay inside the work dir; no runner workspace is in play.
    env: { ...process.env, TMPDIR: path.join(workDir, 'tmp'), GITHUB_WORKSPACE: '', GITHUB_ACTIONS: '' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  child.stderr?.resume();
  const slot: Slot = { child, id };
  child.on('message', (m: { type: string; index: number; format: string; mutation: string; outcome: string; ms: number; problems: string[]; rss: number }) => {
    if (m.type === 'ready') onIdle();
    else if (m.type === 'start') slot.current = { index: m.index, format: m.format, mutation: m.mutation, since: performance.now() };
    else if (m.type === 'done') {
      slot.current = undefined;
      done++;
      peakRss = Math.max(peakRss, m.rss);
      const f = byFormat.get(m.format) ?? { cases: 0, ok: 0, refused: 0, ms: 0, maxMs: 0 };
      f.cases++;
      if (m.outcome === 'ok') f.ok++;
      else if (m.outcome === 'error') f.refused++;
      f.ms += m.ms;
      f.maxMs = Math.max(f.maxMs, m.ms);
      byFormat.set(m.format, f);
      if (m.problems.length > 0) record(m.index, m.format, m.mutation, m.problems);
      if (done % 100 === 0) process.stderr.write(`fuzz: ${done}/${cases} cases, ${failures.length} failed, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
      onIdle();
    }
  });
  child.send({ type: 'setup', setup: { seed, workDir, canaryFile, canaryText, budgetMs } });
  return slot;
}

await new Promise<void>((resolve) => {
  const slots: Slot[] = [];
  let finished = false;
  const finishIfDone = () => {
    if (!finished && done >= cases && slots.every((s) => !s.current)) {
      finished = true;
      clearInterval(watchdog);
      for (const s of slots) s.child.kill('SIGKILL');
      resolve();
    }
  };
  const feed = (slot: Slot) => () => {
    if (next < cases) {
      // Counted from the hand-out, so a case that never even starts is caught by the watchdog too.
      slot.current = { index: next, format: '?', mutation: '', since: performance.now() };
      slot.child.send({ type: 'case', index: next++ });
    }
    else finishIfDone();
  };
  const replace = (k: number, why: string) => {
    const old = slots[k]!;
    const cur = old.current;
    old.child.removeAllListeners('exit');
    old.child.kill('SIGKILL');
    if (cur) {
      done++;
      emptyDeaths = 0;
      record(cur.index, cur.format, cur.mutation, [why]);
    } else if (++emptyDeaths > 5) {
      process.stderr.write(`fuzz: workers keep dying before running a case (${why}); giving up\n`);
      for (const s of slots) s.child.kill('SIGKILL');
      process.exit(2);
    }
    const slot = startWorker(k, () => feed(slots[k]!)());
    slots[k] = slot;
    slot.child.on('exit', (code, signal) => replace(k, `worker died (${signal ?? `exit ${code}`})`));
  };
  for (let k = 0; k < workers; k++) {
    const slot = startWorker(k, () => feed(slots[k]!)());
    slots.push(slot);
    slot.child.on('exit', (code, signal) => replace(k, `worker died (${signal ?? `exit ${code}`})`));
  }
  const watchdog = setInterval(() => {
    slots.forEach((s, k) => {
      if (!s.current) return;
      if (performance.now() - s.current.since > caseTimeoutMs) return replace(k, `hung: no result after ${caseTimeoutMs / 1000} s`);
      try {
        const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
        peakRss = Math.max(peakRss, rss);
        if (rss > maxRssBytes) replace(k, `memory: worker RSS ${Math.round(rss / 2 ** 20)} MB over ${maxRssBytes / 2 ** 20} MB`);
      } catch {
        // the worker is between lives
      }
    });
  }, 250);
});

const seconds = (performance.now() - started) / 1000;
const leftovers: string[] = [];
if (snapshot(outside) !== outsideBefore) leftovers.push(`the folder outside the work dir (${outside}) changed`);
if (gitStatus() !== repoBefore) leftovers.push('the repository checkout changed during the run');
for (const l of leftovers) record(-1, 'run', '', [l]);

const rows = [...byFormat.entries()].sort(([a], [b]) => a.localeCompare(b));
console.log(`\nfuzz: seed ${seed}, ${done} cases, ${workers} workers, ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)} cases/s), peak worker RSS ${Math.round(peakRss / 2 ** 20)} MB\n`);
console.log('| format | cases | loaded | refused cleanly | mean ms | max ms |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [f, r] of rows) console.log(`| ${f} | ${r.cases} | ${r.ok} | ${r.refused} | ${(r.ms / r.cases).toFixed(1)} | ${r.maxMs.toFixed(0)} |`);
console.log(`\n${failures.length} failed${failures.length ? ':' : ''}`);
for (const f of failures.slice(0, 50)) console.log(`- case ${f.index} (${f.format} ${f.mutation}): ${f.problems.join('; ')}`);

if (save && failures.length > 0) {
  const dir = path.join(repo, 'test/fuzz/regressions');
  mkdirSync(dir, { recursive: true });
  for (const f of failures.filter((x) => x.index >= 0)) {
    const spec = makeCase(seed, f.index);
    writeFileSync(path.join(dir, `${spec.format}-${seed}-${f.index}.json`), encodeCase(spec, f.problems.join('; ')));
  }
  console.log(`saved ${failures.length} cases to ${path.relative(repo, dir)}/`);
}
rmSync(workDir, { recursive: true, force: true });
rmSync(outside, { recursive: true, force: true });
process.exit(failures.length > 0 ? 1 : 0);
