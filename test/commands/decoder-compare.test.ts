/**
 * `compare` of two decoders, judged as `run` judges one: next-token agreement and logit SNR of head against
 * base on seeded prompts, and time to first token and per-token decode time measured interleaved.
 *
 * origin: main: tiny Llama-style decoder (seed 7) + config
 *         same: └── README only                → exit 0: agreement 100%, identical logits, both latencies compared
 *         other: └── the decoder re-drawn (seed 8) → exit 1: the next-token agreement drop fails the budget
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveModel } from '../../src/model/onnx.js';
import { runCompare, type CompareReport } from '../../src/commands/compare.js';
import { buildTinyDecoder } from '../support/tiny-decoder.js';

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.com', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
};
const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const commit = (cwd: string, msg: string): void => {
  git(cwd, 'add', '-A');
  git(cwd, 'commit', '-q', '-m', msg);
};

describe('compare of two decoders', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mg-decoder-compare-'));
  const origin = path.join(root, 'origin');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  beforeAll(() => {
    const project = path.join(origin, 'project');
    mkdirSync(project, { recursive: true });
    const save = (seed: number) => saveModel(buildTinyDecoder({ dtype: 'float32', layers: 1, vocab: 256, seed }).model, path.join(project, 'decoder.onnx'));
    const d = buildTinyDecoder({ dtype: 'float32', layers: 1, vocab: 256 });
    const kv = (kind: string) => `  past_key_values.0.${kind}: { shape: [1, ${d.heads}, 1, ${d.headDim}] }`;
    save(7);
    writeFileSync(path.join(project, 'modelgate.yml'), [
      'model: decoder.onnx',
      'inputs:',
      '  input_ids: { shape: [1, 8] }',
      '  attention_mask: { shape: [1, 8] }',
      '  position_ids: { shape: [1, 8] }',
      kv('key'), kv('value'),
      'benchmark: { warmup: 2, runs: 6, measurements: 1, decoder: { prefill_tokens: 16 } }',
      'gate: { ttft_ratio_max: 50, decode_ratio_max: 50, accuracy_drop_max: 0.05 }',
    ].join('\n') + '\n');
    git(origin, 'init', '-q', '-b', 'main');
    commit(origin, 'decoder');
    git(origin, 'checkout', '-q', '-b', 'same');
    writeFileSync(path.join(origin, 'README.md'), 'docs only\n');
    commit(origin, 'readme');
    git(origin, 'checkout', '-q', '-b', 'other', 'main');
    save(8);
    commit(origin, 'another decoder');
    git(origin, 'checkout', '-q', 'main');
  });

  const compare = (branch: string) => {
    const dir = path.join(root, branch);
    execFileSync('git', ['clone', '-q', '--branch', branch, `file://${origin}`, dir], { env, stdio: 'ignore' });
    return runCompare({ configPath: path.join(dir, 'project', 'modelgate.yml'), baseRef: 'main', outDir: path.join(dir, 'out'), latencyMeasurements: 1 });
  };

  it('passes an unchanged decoder with next-token agreement, time to first token and decode time against base', async () => {
    const r = await compare('same');
    expect(r.error).toBeUndefined();
    const report = JSON.parse(readFileSync(r.reportPath, 'utf8')) as CompareReport;
    const ref = report.comparison.find((p) => p.id === 'reference')!;
    expect(ref.agreement).toBe(1);
    expect(ref.decoder_quality!.top1_agreement).toBe(1);
    expect(ref.decoder_quality!.snr_db).toBeNull();
    expect(ref.decoder_quality!.positions).toBe(8 * 5);
    expect(ref.latency!.ratio).toBeGreaterThan(0);
    expect(ref.decode_latency!.ratio).toBeGreaterThan(0);
    expect(ref.base.decode_ms_per_token).toBeGreaterThan(0);
    expect(ref.head.decode_ms_per_token).toBeGreaterThan(0);
    expect(report.checks.filter((c) => c.subject === 'reference').map((c) => c.name)).toEqual(['accuracy_drop_max', 'ttft_ratio_max', 'decode_ratio_max']);
    expect(report.checks.every((c) => c.passed)).toBe(true);
    for (const row of ['next-token agreement with base', 'logit SNR against base', 'time to first token (p50)', 'decode time per token (p50)']) expect(r.markdown).toContain(`| ${row} |`);
    expect(r.exitCode).toBe(0);
  }, 180_000);

  it('fails a head decoder whose next tokens differ from base', async () => {
    const r = await compare('other');
    expect(r.error).toBeUndefined();
    const report = JSON.parse(readFileSync(r.reportPath, 'utf8')) as CompareReport;
    const ref = report.comparison.find((p) => p.id === 'reference')!;
    expect(ref.decoder_quality!.top1_agreement).toBeLessThan(0.95);
    expect(ref.decoder_quality!.snr_db).toBeLessThan(20);
    const drop = report.checks.find((c) => c.subject === 'reference' && c.name === 'accuracy_drop_max')!;
    expect(drop.passed).toBe(false);
    expect(r.exitCode).toBe(1);
  }, 180_000);
});
