#!/usr/bin/env node
/** The CLI adapter: parse flags, run the pipeline, print the table, exit with its code. */
import { Command, CommanderError } from 'commander';
import { runGate } from './run.js';
import { TOOL_VERSION } from './version.js';
import { createProgress } from './publish/progress.js';
import { renderTable } from './publish/table.js';

const program = new Command();
program
  .name('modelgate')
  .description('Optimize, measure and gate an ML model on this machine.')
  .version(TOOL_VERSION)
  .exitOverride();

program
  .command('run')
  .description('Run the gate: build the candidates, measure them, apply the budgets, write report.json and report.md.')
  .requiredOption('-c, --config <file>', 'the modelgate.yml config')
  .option('-o, --out <dir>', 'output folder (report.json, report.md, models/)', 'modelgate-out')
  .option('-q, --quiet', 'print only the result table')
  .action(async (opts: { config: string; out: string; quiet?: boolean }) => {
    const progress = createProgress(process.stderr, !opts.quiet);
    const result = await runGate({ configPath: opts.config, outDir: opts.out, log: progress.step });
    progress.done();
    if (result.error) process.stderr.write(`modelgate: ${result.error}\n`);
    process.stdout.write(renderTable(result.report) + '\n');
    process.stdout.write(`report: ${result.reportPath}\n`);
    process.exitCode = result.exitCode;
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`modelgate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}
