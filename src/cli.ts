#!/usr/bin/env node
/** The CLI adapter: parse flags, run the pipeline, print the table, exit with its code. */
import { Command, CommanderError } from 'commander';
import { runGate } from './commands/run.js';
import { runCompare, renderCompareTable } from './commands/compare.js';
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
    if (result.report.candidates.length > 0) process.stdout.write(renderTable(result.report) + '\n');
    process.stdout.write(`report: ${result.reportPath}\n`);
    process.exitCode = result.exitCode;
  });

program
  .command('compare')
  .description(
    'Compare head (this checkout) against a base revision: run the pipeline for both, measure base vs head interleaved, ' +
      "apply the config's budgets to head against base. Exit 1 on a regression, 0 when there is none, 2 on an error.",
  )
  .option('-b, --base <ref>', 'base branch, tag or commit; its merge base with HEAD is compared (fetched in a shallow clone)')
  .option('--base-report <file>', 'compare against a report.json produced elsewhere instead of a git revision')
  .requiredOption('-c, --config <file>', 'the modelgate.yml config (head side)')
  .option('-o, --out <dir>', 'output folder (report.json, report.md, head/, base/)', 'modelgate-out')
  .option('-q, --quiet', 'print only the result')
  .action(async (opts: { base?: string; baseReport?: string; config: string; out: string; quiet?: boolean }) => {
    const progress = createProgress(process.stderr, !opts.quiet);
    const result = await runCompare({
      configPath: opts.config, outDir: opts.out, log: progress.step,
      ...(opts.base !== undefined ? { baseRef: opts.base } : {}), ...(opts.baseReport !== undefined ? { baseReportPath: opts.baseReport } : {}),
    });
    progress.done();
    if (result.error) process.stderr.write(`modelgate: ${result.error}\n`);
    process.stdout.write(renderCompareTable(result.report) + '\n');
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
