/**
 * CLI progress: each step is a line; a step still running after a second gets a live elapsed-time
 * bar (cli-progress) on a TTY, and its duration on the line that closes it elsewhere.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  step(message: string): void;
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream, enabled: boolean): Progress {
  if (!enabled) return { step() {}, done() {} };
  let current: { message: string; start: number } | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let timer: NodeJS.Timeout | undefined;
  const close = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!current) return;
    const seconds = (Date.now() - current.start) / 1000;
    if (bar) {
      bar.stop();
      bar = undefined;
    }
    if (seconds >= 1) stream.write(`  ✓ ${current.message} (${seconds.toFixed(1)} s)\n`);
    else stream.write(`  ✓ ${current.message}\n`);
    current = undefined;
  };
  return {
    step(message: string) {
      close();
      current = { message, start: Date.now() };
      if (!stream.isTTY) return;
      timer = setTimeout(() => {
        if (!current) return;
        bar = new cliProgress.SingleBar(
          { stream, format: `  … ${current.message} {duration_formatted}`, hideCursor: true, clearOnComplete: true, fps: 5 },
          cliProgress.Presets.shades_classic,
        );
        bar.start(1, 0);
      }, 1000);
      timer.unref();
    },
    done: close,
  };
}
