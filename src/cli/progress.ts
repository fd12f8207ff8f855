/**
 * CLI progress. Each pipeline step (a `log` line) is a line that gets ✓ when the next step starts or the run ends
 * well, and ✗ when the run stops with an error while it is open. A step that reports counts (`count(k, n)`, from
 * the pipeline's `progress(step, k, n)` callback) shows a live k/N bar with an ETA on a TTY, and "k/N" with its
 * duration on the closing line elsewhere, so CI logs stay one line per step. A count attaches to the open step
 * its name prefixes; a count of 0 for another step opens it.
 */
import cliProgress from 'cli-progress';
import { colorEnabled, createStyle, type Style } from './style.js';

/** The pipeline's optional progress callback: step names the work, k of n items are done (k = 0 starts it); detail is a short status (an epoch and its loss). */
export type ProgressCallback = (step: string, k: number, n: number, detail?: string) => void;

export interface Progress {
  /** A new step begins; the open one, if any, succeeded. */
  step(message: string): void;
  /** k of n items of the open step are done (a step named differently from the open line opens a sub-line). */
  count: ProgressCallback;
  /** The run ended: ok closes the open step with ✓, otherwise with ✗. */
  done(ok: boolean): void;
  readonly style: Style;
}

interface Open {
  message: string;
  start: number;
  k?: number;
  n?: number;
  countStart?: number;
  detail?: string;
}

export function createProgress(stream: NodeJS.WriteStream, enabled: boolean, env: NodeJS.ProcessEnv = process.env): Progress {
  const style = createStyle(colorEnabled(stream, env));
  if (!enabled) return { step() {}, count() {}, done() {}, style };
  const live = stream.isTTY === true;
  let open: Open | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let timer: NodeJS.Timeout | undefined;

  const stopBar = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    bar?.stop();
    bar = undefined;
  };
  const close = (ok: boolean) => {
    stopBar();
    if (!open) return;
    const seconds = (Date.now() - open.start) / 1000;
    // "0/N" on a closing line says nothing: counts show once something was counted.
    const counted = open.n !== undefined && (open.k ?? 0) > 0 ? ` ${open.k}/${open.n}${open.detail ? ` · ${open.detail}` : ''}` : '';
    const time = seconds >= 1 ? ` (${seconds.toFixed(1)} s)` : '';
    const mark = ok ? style.green('✓') : style.red('✗');
    stream.write(`  ${mark} ${open.message}${style.dim(counted + time)}\n`);
    open = undefined;
  };
  const startBar = (withCounts: boolean) => {
    if (!live || !open || bar) return;
    const format = withCounts
      ? `  … ${open.message} [{bar}] {value}/{total} · ETA {eta_formatted}{detail}`
      : `  … ${open.message} {duration_formatted}`;
    bar = new cliProgress.SingleBar({ stream, format, hideCursor: true, clearOnComplete: true, fps: 5, etaBuffer: 20 }, cliProgress.Presets.shades_classic);
    bar.start(withCounts ? open.n ?? 1 : 1, withCounts ? open.k ?? 0 : 0, { detail: open.detail ? ` · ${open.detail}` : '' });
  };

  // Plain functions, not methods: the CLI hands them to the pipeline as bare callbacks.
  const step = (message: string) => {
    // A counted step that has not counted anything yet and whose first sub-step begins ("build" →
    // "build int8 (recipe)") hands its line over: one line per step, not an empty parent line.
    if (open && open.n !== undefined && (open.k ?? 0) === 0 && message.startsWith(open.message)) {
      stopBar();
      open = undefined;
    }
    close(true);
    open = { message, start: Date.now() };
    if (!live) return;
    // A step that ends within a second gets no bar: it would only flicker.
    timer = setTimeout(() => startBar(false), 1000);
    timer.unref();
  };
  return {
    style,
    step,
    count(name: string, k: number, n: number, detail?: string) {
      if (!open || (name !== open.message && !open.message.startsWith(name))) {
        // Only a start (k = 0) opens a line for another step; a late count of a step whose sub-steps
        // have taken over the log ("build 2/3" after "quantize ...") would be a line of its own otherwise.
        if (k > 0) return;
        step(name);
      }
      const o = open!;
      const fresh = o.n === undefined;
      o.k = Math.min(k, n);
      o.n = n;
      if (detail !== undefined) o.detail = detail;
      if (!live) return;
      if (fresh) {
        // Switch the elapsed-time bar for a k/N bar.
        stopBar();
        startBar(true);
      } else {
        bar?.setTotal(n);
        bar?.update(o.k, { detail: o.detail ? ` · ${o.detail}` : '' });
      }
    },
    done: close,
  };
}
