/**
 * A fuzz worker: runs cases in-process, one at a time, as the supervisor (run.ts) hands them out.
 * It announces each case before running it, so a hang or a crash of this process is pinned on it.
 */
import path from 'node:path';
import { makeCase, materialize, problems, removeCase, runCase, type CaseOutcome } from '../../test/fuzz/cases.js';

interface Setup { seed: number; workDir: string; canaryFile: string; canaryText: string; budgetMs: number }
type Msg = { type: 'setup'; setup: Setup } | { type: 'case'; index: number } | { type: 'exit' };

let setup: Setup | undefined;
let current: number | undefined;
const rejections: string[] = [];
// TF.js' wasm backend installs a handler that rethrows unhandled rejections (killing the process);
// the worker records them against the running case instead, after every module that adds one loaded.
const recordRejection = (reason: unknown) => rejections.push(`unhandled rejection during case ${current}: ${String((reason as Error)?.stack ?? reason).split('\n')[0]}`);
process.on('unhandledRejection', recordRejection);
const send = (m: unknown) => process.send!(m);

process.on('message', (msg: Msg) => {
  if (msg.type === 'setup') {
    setup = msg.setup;
    send({ type: 'ready' });
  } else if (msg.type === 'exit') {
    process.exit(0);
  } else if (msg.type === 'case') {
    void runOne(msg.index);
  }
});

async function runOne(index: number): Promise<void> {
  const s = setup!;
  const dir = path.join(s.workDir, 'cases', String(index));
  let format = '?';
  let mutation = '';
  let found: string[] = [];
  let outcome: CaseOutcome = { outcome: 'crash', ms: 0 };
  try {
    const spec = makeCase(s.seed, index);
    format = spec.format;
    mutation = spec.mutation;
    send({ type: 'start', index, format, mutation });
    current = index;
    materialize(spec, dir, s.canaryFile);
    outcome = await runCase(spec, dir);
    found = problems(outcome, s.canaryText, dir, s.budgetMs);
  } catch (err) {
    found = [`harness: ${String((err as Error)?.stack ?? err).split('\n').slice(0, 3).join(' | ')}`];
  }
  try {
    removeCase(dir);
  } catch (err) {
    found.push(`could not remove the case folder: ${String(err)}`);
  }
  for (const l of process.listeners('unhandledRejection')) if (l !== recordRejection) process.removeListener('unhandledRejection', l);
  for (const l of process.listeners('uncaughtException')) process.removeListener('uncaughtException', l);
  if (rejections.length > 0) found.push(...rejections.splice(0));
  send({ type: 'done', index, format, mutation, outcome: outcome.outcome, message: outcome.message?.slice(0, 500), ms: outcome.ms, problems: found, rss: process.memoryUsage().rss });
}
