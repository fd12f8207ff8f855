/**
 * The `export` step: the user's own command (typically `python export.py`, running
 * torch.onnx.export) runs before the pipeline and must produce the model file.
 *
 * The command runs through the platform shell (/bin/sh -c, or cmd.exe /d /s /c on Windows) in
 * the config's folder, in its own process group so that the timeout kills the whole tree (a
 * Python child included), first politely, then with SIGKILL. The tail of its stderr goes into
 * the report whatever happens; a non-zero exit, a timeout, or an output file that is missing or
 * was not rewritten by the command is a ModelGateError.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ExportSpec {
  /** The shell command. */
  run: string;
  /** The file it must write, relative to the config folder. */
  output: string;
  /** Seconds before the command is killed; default 600. */
  timeout?: number;
}

export interface ExportResult {
  command: string;
  output: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  seconds: number;
  /** The last STDERR_TAIL_BYTES of stderr. */
  stderr: string;
  output_bytes: number | null;
  /** Set when the step failed: the message the run stops with. */
  error?: string;
}

export const DEFAULT_EXPORT_TIMEOUT_S = 600;
const STDERR_TAIL_BYTES = 16 * 1024;
/** Between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 3000;
/** stdout lines passed to the log as they come; after that only a count, and the last few at the end. */
const STDOUT_LOG_LINES = 200;
const STDOUT_TAIL_LINES = 20;
/** A line longer than this is cut: a script that prints megabytes without a newline must not fill memory. */
const LINE_BYTES = 4096;
/** After the shell exits, how long its pipes may stay open (a background child holding them) before we stop waiting. */
const PIPE_GRACE_MS = 2000;
/** Every process the command starts inherits this variable, also those that leave its process group (setsid, daemons). */
const MARKER_VAR = 'MODELGATE_EXPORT_RUN';

/** Keeps the last `limit` bytes of a stream. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0]!.length >= this.limit) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

function shellCommand(run: string): { file: string; args: string[]; verbatim: boolean } {
  if (process.platform === 'win32') return { file: process.env.ComSpec ?? 'cmd.exe', args: ['/d', '/s', '/c', `"${run}"`], verbatim: true };
  return { file: '/bin/sh', args: ['-c', run], verbatim: false };
}

function killTree(pid: number, signal: NodeJS.Signals): void {
  try {
    if (process.platform === 'win32') spawnSync('taskkill', ['/pid', String(pid), '/T', '/F']);
    else process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Processes that carry our marker in their environment (Linux /proc): the command's descendants,
 * including those that started a new session and so escape the process-group kill.
 */
function markedProcesses(marker: string): number[] {
  if (process.platform !== 'linux') return [];
  const needle = Buffer.from(`${MARKER_VAR}=${marker}\0`);
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      // Our own children's environments, not data from the config: read directly, unreadable ones skipped.
      if (readFileSync(`/proc/${entry}/environ`).includes(needle)) found.push(Number(entry));
    } catch {
      // gone, or another user's process
    }
  }
  return found;
}

function killMarked(marker: string): void {
  for (const pid of markedProcesses(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const mtime = (file: string): number | undefined => statSync(file, { throwIfNoEntry: false })?.mtimeMs;

/** Runs the export command; never throws for the command's own failures (see `error`). */
export async function runExportCommand(spec: ExportSpec, cwd: string, log: (line: string) => void = () => {}): Promise<ExportResult> {
  const timeoutS = spec.timeout ?? DEFAULT_EXPORT_TIMEOUT_S;
  const outputFile = path.resolve(cwd, spec.output);
  const before = mtime(outputFile);
  const { file, args, verbatim } = shellCommand(spec.run);
  const stderr = new Tail(STDERR_TAIL_BYTES);
  const started = performance.now();
  log(`export: ${spec.run}`);

  const marker = randomBytes(12).toString('hex');
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; spawnError?: Error }>((resolve) => {
    let timedOut = false;
    let settled = false;
    const child = spawn(file, args, {
      cwd, env: { ...process.env, [MARKER_VAR]: marker }, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32', windowsVerbatimArguments: verbatim,
    });
    let pending = '';
    let lines = 0;
    const tail: string[] = [];
    const emit = (line: string) => {
      if (!line.trim()) return;
      lines++;
      const shown = line.trimEnd();
      if (lines <= STDOUT_LOG_LINES) log(`export | ${shown}`);
      else {
        tail.push(shown);
        if (tail.length > STDOUT_TAIL_LINES) tail.shift();
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      // Progress lines from the user's script, shown as they come.
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      if (pending.length > LINE_BYTES) pending = `${pending.slice(0, LINE_BYTES)}…`;
      for (const line of parts) emit(line.length > LINE_BYTES ? `${line.slice(0, LINE_BYTES)}…` : line);
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    let hardKill: NodeJS.Timeout | undefined;
    let pipeWait: NodeJS.Timeout | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (hardKill) clearTimeout(hardKill);
      if (pipeWait) clearTimeout(pipeWait);
      // Whatever the shell left behind goes too: its process group, and anything carrying the marker.
      if (child.pid !== undefined && process.platform !== 'win32') killTree(child.pid, 'SIGKILL');
      killMarked(marker);
      // Stop reading pipes a leftover process may still hold open.
      child.stdout.destroy();
      child.stderr.destroy();
      if (pending.trim()) emit(pending);
      if (lines > STDOUT_LOG_LINES) {
        log(`export | … ${lines - STDOUT_LOG_LINES - tail.length} lines not shown`);
        for (const line of tail) log(`export | ${line}`);
      }
      resolve({ code, signal, timedOut });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        killTree(child.pid, 'SIGTERM');
        hardKill = setTimeout(() => {
          killTree(child.pid!, 'SIGKILL');
          killMarked(marker);
          // The shell may be gone while a detached child still holds stdout: do not wait for that pipe.
          finish(child.exitCode, child.signalCode);
        }, KILL_GRACE_MS);
      } else {
        finish(null, null);
      }
    }, timeoutS * 1000);
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code: null, signal: null, timedOut, spawnError: err });
    });
    // 'close' waits for the pipes; a background process holding them would keep us waiting, so
    // after the shell's own exit the pipes get a short grace and are then closed from our side.
    child.on('exit', (code, signal) => {
      if (!timedOut) pipeWait = setTimeout(() => finish(code, signal), PIPE_GRACE_MS);
    });
    child.on('close', (code, signal) => finish(code, signal));
  });

  const seconds = (performance.now() - started) / 1000;
  const after = mtime(outputFile);
  const result: ExportResult = {
    command: spec.run,
    output: spec.output,
    exit_code: outcome.code,
    signal: outcome.signal,
    timed_out: outcome.timedOut,
    seconds,
    stderr: stderr.text(),
    output_bytes: after === undefined ? null : statSync(outputFile).size,
  };
  const lastLines = result.stderr.trimEnd().split('\n').slice(-5).join('\n  ');
  const withStderr = lastLines ? `; stderr ends with:\n  ${lastLines}` : '';
  if (outcome.spawnError) result.error = `export: could not start '${spec.run}' (${outcome.spawnError.message})`;
  else if (outcome.timedOut) result.error = `export: '${spec.run}' did not finish within export.timeout = ${timeoutS} s and was killed${withStderr}`;
  else if (outcome.code !== 0) result.error = `export: '${spec.run}' failed with ${outcome.code === null ? `signal ${outcome.signal}` : `exit code ${outcome.code}`}${withStderr}`;
  else if (after === undefined) result.error = `export: '${spec.run}' succeeded but did not write export.output '${spec.output}'${withStderr}`;
  else if (before !== undefined && after === before) result.error = `export: '${spec.run}' succeeded but left export.output '${spec.output}' unchanged (it is older than the run)`;
  return result;
}
