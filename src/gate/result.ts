/**
 * A candidate with what each stage learned about it, and the gate stage that judges them: every
 * candidate against the reference under the budgets in force, then the select rule.
 */
import type { Config } from '../config/types.js';
import type { Candidate } from '../candidates/types.js';
import { REFERENCE_ID } from '../candidates/types.js';
import type { EvalResult } from '../evaluate/metrics.js';
import type { LatencyStats, RepeatedComparison } from '../benchmark/runner.js';
import { checkAgainst, resolveBudgets, selectCandidate, type AppliedBudget, type CheckResult, type GateSubject } from './rules.js';

export interface CandidateResult {
  candidate: Candidate;
  /** Why it could not be built, evaluated or measured. */
  error?: string;
  /** Set when the candidate is byte for byte the reference: reported, never measured or selected. */
  sameAsReference?: boolean;
  quality?: EvalResult;
  latency?: LatencyStats;
  /** Against the reference, the median of the interleaved measurements. */
  vsReference?: RepeatedComparison;
  checks?: CheckResult[];
}

export function gateSubject(r: CandidateResult, isBaseline: boolean): GateSubject {
  return {
    id: r.candidate.id, bytes: r.candidate.bytes, accuracy: r.quality?.accuracy ?? null,
    agreement: isBaseline ? null : r.quality?.agreement ?? null, loss: r.quality?.mse ?? r.quality?.mae ?? null, p50_ms: r.latency?.p50_ms ?? null,
    ...(r.error ? { error: r.error } : {}),
  };
}

export interface GateOutcome {
  budgets: AppliedBudget[];
  selected: string | null;
}

/** Fills in every result's checks and picks the selected candidate. */
export function gateCandidates(results: CandidateResult[], config: Pick<Config, 'gate' | 'metric' | 'select'>): GateOutcome {
  const budgets = resolveBudgets(config.gate);
  const ref = results.find((r) => r.candidate.id === REFERENCE_ID)!;
  const baseline = gateSubject(ref, true);
  const subjects: GateSubject[] = [];
  for (const r of results) {
    if (r.sameAsReference) {
      // An unchanged copy is not a second candidate: it is reported as such and can't be selected.
      const why = (r.candidate.passNotes ?? []).filter((n) => !n.changed).map((n) => `${n.pass}: ${n.why}`).join('; ');
      r.checks = [{ name: 'changed', passed: false, message: `no change${why ? ` (${why})` : ''}: byte for byte the reference, so it is not a separate candidate` }];
      continue;
    }
    const subject = r === ref ? baseline : gateSubject(r, false);
    r.checks = checkAgainst(subject, { baseline, name: 'the reference', ...(r.vsReference ? { latency: r.vsReference } : {}) }, budgets, config.metric);
    subjects.push(subject);
  }
  const checks = new Map(results.map((r) => [r.candidate.id, r.checks!]));
  return { budgets, selected: selectCandidate(subjects, checks, config.select) };
}
