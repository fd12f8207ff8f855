/** The CLI adapter: parse flags, call a command, print its progress and table, exit with its code. */
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError } from 'commander';
import { runGate, type GateRunOptions } from '../commands/run.js';
import { runCompare, renderCompareTable, type CompareOptions } from '../commands/compare.js';
import { TOOL_VERSION } from '../version.js';
import { errorMessage } from '../errors.js';
import { prepareOutDir } from '../io/files.js';
import { workflowText } from '../report/escape.js';
import { findModelFiles, initProject } from '../commands/init.js';
import { createProgress, type ProgressCallback } from './progress.js';
import { renderTable } from './table.js';

/** Exit codes: 0 passed, 1 the gate failed, 2 ModelGate could not run (bad config, model or flags). */
const USAGE_ERROR = 2;

const program = new Command();
program
  .name('modelgate')
  .description('Optimize, measure and gate an ML model on this machine.')
  .version(TOOL_VERSION)
  .showSuggestionAfterError(true)
  .exitOverride()
  .addHelpText(
    'after',
    `
Exit codes: 0 a candidate passed, 1 none passed the gate, 2 ModelGate could not run.
Colour follows the terminal; NO_COLOR=1 turns it off.

Examples:
  $ modelgate init --model model.onnx        write modelgate.yml and .github/workflows/modelgate.yml
  $ modelgate run                            gate with ./modelgate.yml
  $ modelgate compare --base main            head against the merge base with main`,
  );

/** The run options with the progress callback; `progress` reaches the pipeline once GateRunOptions declares it. */
type WithProgress<T> = T & { progress?: ProgressCallback };

program
  .command('run')
  .description('Run the gate: build the candidates, measure them, apply the budgets, write report.json and report.md.')
  .option('-c, --config <file>', 'the config', 'modelgate.yml')
  .option('-o, --out <dir>', 'output folder (report.json, report.md, models/)', 'modelgate-out')
  .option('-q, --quiet', 'print only the result table')
  .addHelpText(
    'after',
    `
Examples:
  $ modelgate run                                   ./modelgate.yml, reports in ./modelgate-out
  $ modelgate run -c examples/mnist/modelgate.yml -o out
  $ NO_COLOR=1 modelgate run -q > table.txt`,
  )
  .action(async (opts: { config: string; out: string; quiet?: boolean }) => {
    // An unusable --out is named before any work (the error below exits 2; there is nowhere to write a report).
    prepareOutDir(opts.out);
    const progress = createProgress(process.stderr, !opts.quiet);
    const options: WithProgress<GateRunOptions> = { configPath: opts.config, outDir: opts.out, log: progress.step, progress: progress.count };
    const result = await runGate(options);
    progress.done(result.exitCode !== 2);
    if (result.error) process.stderr.write(`${progress.style.red('modelgate:')} ${workflowText(result.error)}\n`);
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
  .option('-c, --config <file>', 'the config (head side)', 'modelgate.yml')
  .option('-o, --out <dir>', 'output folder (report.json, report.md, head/, base/)', 'modelgate-out')
  .option('-q, --quiet', 'print only the result')
  .addHelpText(
    'after',
    `
Examples:
  $ modelgate compare --base main                   this branch against its merge base with main
  $ modelgate compare --base v1.2.0 -c models/modelgate.yml
  $ modelgate compare --base-report base/report.json`,
  )
  .action(async (opts: { base?: string; baseReport?: string; config: string; out: string; quiet?: boolean }) => {
    prepareOutDir(opts.out);
    const progress = createProgress(process.stderr, !opts.quiet);
    const options: WithProgress<CompareOptions> = {
      configPath: opts.config, outDir: opts.out, log: progress.step, progress: progress.count,
      ...(opts.base !== undefined ? { baseRef: opts.base } : {}), ...(opts.baseReport !== undefined ? { baseReportPath: opts.baseReport } : {}),
    };
    const result = await runCompare(options);
    progress.done(result.exitCode !== 2);
    if (result.error) process.stderr.write(`${progress.style.red('modelgate:')} ${workflowText(result.error)}\n`);
    process.stdout.write(renderCompareTable(result.report) + '\n');
    process.stdout.write(`report: ${result.reportPath}\n`);
    process.exitCode = result.exitCode;
  });

program
  .command('init')
  .description(
    'Write a modelgate.yml for a model (inputs it leaves open, an auto candidate, the default budgets) and ' +
      '.github/workflows/modelgate.yml that runs it on pull requests. Never replaces a file without --force.',
  )
  .option('-m, --model <file>', 'the model (.onnx, .tflite, .h5, .keras or TF.js model.json); asked for when omitted')
  .option('-c, --config <file>', 'where to write the config', 'modelgate.yml')
  .option('-f, --force', 'replace an existing config or workflow')
  .addHelpText(
    'after',
    `
Without --model, init looks for model files here (not in node_modules or .git) and asks which one to use;
without a terminal to ask on, it lists them and exits 2.

Examples:
  $ modelgate init --model models/classifier.onnx
  $ modelgate init --model model.h5 -c ci/modelgate.yml
  $ modelgate init --force`,
  )
  .action(async (opts: { model?: string; config: string; force?: boolean }) => {
    const model = opts.model ?? (await pickModel());
    if (model === undefined) return;
    const written = await initProject({ model, config: opts.config, force: opts.force === true });
    const rel = (f: string) => path.relative(process.cwd(), f) || f;
    process.stdout.write(`wrote ${rel(written.config)} and ${rel(written.workflow)}\nnext: modelgate run -c ${rel(written.config)}\n`);
  });

/** The model to init with: the only one found, or the one picked at a prompt; undefined (exit 2) when neither works. */
async function pickModel(): Promise<string | undefined> {
  const found = findModelFiles(process.cwd());
  if (found.length === 0) {
    process.stderr.write('modelgate init: no model file (.onnx, .tflite, .h5, .keras, model.json) here; pass --model <file>\n');
    process.exitCode = USAGE_ERROR;
    return undefined;
  }
  const listing = found.map((f, i) => `  ${i + 1}. ${f}`).join('\n');
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    process.stderr.write(`modelgate init: found these models; pass one with --model <file>:\n${listing}\n`);
    process.exitCode = USAGE_ERROR;
    return undefined;
  }
  if (found.length === 1) return found[0];
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`Which model should ModelGate gate?\n${listing}\nnumber [1]: `)).trim();
    const k = answer === '' ? 1 : Number(answer);
    if (!Number.isInteger(k) || k < 1 || k > found.length) {
      process.stderr.write(`modelgate init: '${answer}' is not one of 1-${found.length}\n`);
      process.exitCode = USAGE_ERROR;
      return undefined;
    }
    return found[k - 1];
  } finally {
    rl.close();
  }
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : USAGE_ERROR;
  } else {
    process.stderr.write(`modelgate: ${workflowText(errorMessage(err))}\n`);
    process.exitCode = USAGE_ERROR;
  }
}
