/**
 * Reading a corpus run back: the row of one model from its work folder (out/report.json, stderr.txt), and
 * the criteria the summary counts. Kept apart from bench/realworld.ts so that they can be tested.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface CorpusModel {
  id: string;
  package: string;
  version: string;
  path: string;
  format: string;
  opset?: number;
  license: string;
  tags: string[];
  float_weight_mb: number;
  inputs_config?: Record<string, { shape: number[]; dtype?: string; range?: [number, number] }>;
  sha256: Record<string, string>;
  note?: string;
}

export interface Candidate {
  id: string;
  bytes: number;
  accuracy: number | null;
  agreement: number | null;
  fidelity?: unknown;
  latency: { p50_ms: number; ratio?: number; ratio_ci95?: [number, number] } | null;
  [k: string]: unknown;
}

export interface Result {
  id: string;
  /** ISO date of the run that produced this row. */
  ran_at: string;
  seconds: number;
  /** Process exit code, or null when the timeout killed it. */
  exit: number | null;
  timed_out: boolean;
  /** Per non-reference candidate: its quality figure, or null when it has none. */
  quality: Array<{ id: string; figure: string | null }>;
  selected: string | null;
  size_ratio: number | null;
  p50_ratio: number | null;
  p50_ci95: [number, number] | null;
  error: string | null;
}

/** A fidelity figure in whatever shape the report gives it: the worst SNR in dB, else the worst cosine. */
export function fidelityFigure(f: unknown): string | null {
  if (f === null || f === undefined || typeof f !== 'object') return null;
  // The judged figure first: the worst continuous output's SNR (for a probability output, the better of its
  // probability and logit figures); the per-output fields below it are the parts.
  const top = (f as { snr_db?: unknown } | null)?.snr_db;
  if (typeof top === 'number' && Number.isFinite(top)) return `snr ${top.toFixed(1)} dB`;
  const nums: Array<[string, number]> = [];
  const visit = (o: unknown, key: string): void => {
    if (typeof o === 'number' && Number.isFinite(o)) nums.push([key, o]);
    else if (o && typeof o === 'object') for (const [k, v] of Object.entries(o)) visit(v, k);
  };
  visit(f, '');
  const snr = nums.filter(([k]) => /snr/i.test(k)).map(([, v]) => v);
  if (snr.length > 0) return `snr ${Math.min(...snr).toFixed(1)} dB`;
  const cos = nums.filter(([k]) => /cos/i.test(k)).map(([, v]) => v);
  if (cos.length > 0) return `cos ${Math.min(...cos).toFixed(4)}`;
  return null;
}

interface AutoTrial { id: string; bytes: number | null; drop: number | null; outcome?: string }

/**
 * When auto keeps the reference, its candidate is an unchanged copy (`unchanged: true`) with no figures of
 * its own; the candidates it judged are its trials. The quality criterion then asks that every trial it
 * built has a quality figure (its drop), and says how many it built.
 */
function keptReferenceFigure(c: Candidate): string | null {
  const auto = c.auto as { tried?: AutoTrial[] } | undefined;
  if (c.unchanged !== true || !Array.isArray(auto?.tried)) return null;
  const built = auto.tried.filter((t) => t.bytes !== null);
  if (built.length === 0 || built.some((t) => t.drop === null)) return null;
  return `kept reference; ${built.length} trial${built.length === 1 ? '' : 's'} with a quality figure`;
}

export function qualityFigure(c: Candidate): string | null {
  const kept = keptReferenceFigure(c);
  if (kept) return kept;
  if (typeof c.accuracy === 'number') return `acc ${(100 * c.accuracy).toFixed(1)}%`;
  // Where the gate judged fidelity (no labels, and top-1 does not fit or the inputs are synthetic), that is the figure.
  const checks = Array.isArray(c.checks) ? (c.checks as Array<{ name?: string }>) : [];
  if (checks.some((k) => k.name === 'fidelity_min_snr_db')) {
    const judged = fidelityFigure(c.fidelity);
    if (judged) return judged;
  }
  if (typeof c.agreement === 'number') return `agr ${(100 * c.agreement).toFixed(1)}%`;
  return fidelityFigure(c.fidelity);
}

export function oneLine(s: string, root: string, max = 240): string {
  const flat = s.split(`${root}/`).join('').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function firstErrorLine(report: Record<string, unknown> | null, stderr: string, candidates: Candidate[], root: string): string | null {
  const fromReport = typeof report?.error === 'string' ? report.error : null;
  const at = stderr.indexOf('modelgate: ');
  const fromStderr = at >= 0 ? stderr.slice(at + 'modelgate: '.length).split(/\n(?=\S)/)[0]! : null;
  const fromCandidate = candidates.map((c) => c.error).find((e): e is string => typeof e === 'string') ?? null;
  const message = fromReport ?? fromStderr ?? fromCandidate;
  // ORT's messages run over several lines ("... for the following indices / index: 0 Got: 1 Expected: 2"):
  // keep the message whole on one line, cut before ORT's boilerplate advice.
  if (message) return oneLine(message.replace(/\s*Please fix either the inputs\/outputs or the model\.?/, ''), root);
  const crash = stderr.split('\n').map((l) => l.trim()).filter((l) => /error/i.test(l));
  return crash[0] ? oneLine(crash[0], root) : null;
}

/** A model's row from what its run left in its work folder (out/report.json, stderr.txt). */
export function readResult(id: string, dir: string, run: Pick<Result, 'ran_at' | 'seconds' | 'exit' | 'timed_out'>, timeoutError: string | null, root: string): Result {
  const reportPath = path.join(dir, 'out', 'report.json');
  const report = existsSync(reportPath) ? (JSON.parse(readFileSync(reportPath, 'utf8')) as Record<string, unknown>) : null;
  const stderrPath = path.join(dir, 'stderr.txt');
  const stderr = existsSync(stderrPath) ? readFileSync(stderrPath, 'utf8') : '';
  const candidates = (report?.candidates ?? []) as Candidate[];
  const reference = candidates.find((c) => c.id === (report?.reference ?? 'reference'));
  const others = candidates.filter((c) => c !== reference);
  const selectedId = typeof report?.selected === 'string' ? report.selected : null;
  const selected = candidates.find((c) => c.id === selectedId) ?? null;
  const p50Ratio = selected && reference?.latency && selected.latency
    ? selected === reference ? 1 : (selected.latency.ratio ?? selected.latency.p50_ms / reference.latency.p50_ms)
    : null;
  return {
    id,
    ...run,
    quality: others.map((c) => ({ id: c.id, figure: qualityFigure(c) })),
    selected: selectedId,
    size_ratio: selected && reference ? selected.bytes / reference.bytes : null,
    p50_ratio: p50Ratio,
    p50_ci95: selected && selected !== reference ? (selected.latency?.ratio_ci95 ?? null) : null,
    error: timeoutError ?? firstErrorLine(report, stderr, candidates, root),
  };
}

/** Every non-reference candidate has a quality figure (and there is at least one). */
export const hasQuality = (r: Result): boolean => r.quality.length > 0 && r.quality.every((q) => q.figure !== null);
/** Not significantly slower than the reference: the p50 ratio's 95% CI reaches 1.00, or the ratio is ≤ 1. */
export const notSlower = (r: Result): boolean => r.p50_ratio !== null && (r.p50_ci95 ? r.p50_ci95[0] <= 1 : r.p50_ratio <= 1);
export const smallAndFast = (r: Result): boolean => r.size_ratio !== null && r.size_ratio <= 0.5 && notSlower(r);
