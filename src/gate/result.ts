/**
 * A candidate with what each stage learned about it, and the gate stage that judges them: every
 * candidate against the reference under the budgets in force, then the select rule.
 */
import type { Config } from '../config/types.js';
import type { Candidate } from '../candidates/types.js';
import { REFERENCE_ID } from '../candidates/types.js';
import type { EvalResult } from '../evaluate/metrics.js';
import { describeJudged, type Fidelity } from '../evaluate/fidelity.js';
import type { DecoderQuality } from '../evaluate/decoder-quality.js';
import type { DecoderPairMeasurement, DecoderLatency } from '../benchmark/decoder.js';
import type { LatencyStats, RepeatedComparison } from '../benchmark/runner.js';
import { checkAgainst, resolveBudgets, selectCandidate, type AppliedBudget, type CheckResult, type GateSubject } from './rules.js';

export interface CandidateResult {
  candidate: Candidate;
  /** Why it could not be built, evaluated or measured. */
  error?: string;
  /** Set when the candidate is byte for byte the reference: reported, never measured or selected. */
  sameAsReference?: boolean;
  quality?: EvalResult;
  /** Against the reference on every output (not for the reference itself). */
  fidelity?: Fidelity;
  fidelityError?: string;
  /** Decoders: next-token agreement and logit fidelity against the reference on seeded prompts. */
  decoderQuality?: DecoderQuality;
  /** Decoders: prefill and decode latency, and against the reference (candidates only). */
  decoder?: { latency: DecoderLatency; vsReference?: Omit<DecoderPairMeasurement, 'latency'> };
  latency?: LatencyStats;
  /** Against the reference, the median of the interleaved measurements. */
  vsReference?: RepeatedComparison;
  checks?: CheckResult[];
}

/** The gate subject's name for what the fidelity figure is of, when it is a decision input (see describeJudged). */
export function judgedOf(f: Fidelity): Pick<GateSubject, 'fidelity_judged'> {
  const judged = describeJudged(f);
  return judged ? { fidelity_judged: judged } : {};
}

/**
 * `syntheticInputs`: the data is seeded random inputs. Top-1 agreement on them is not a quality figure: on 64
 * samples one flipped class is 1.6 points, three times the default budget, and which class wins on noise says
 * little about real inputs. Fidelity of the outputs is the figure then.
 */
export function gateSubject(r: CandidateResult, isBaseline: boolean, syntheticInputs = false): GateSubject {
  const dq = isBaseline ? undefined : r.decoderQuality;
  const f = isBaseline ? undefined : r.fidelity;
  const top1Fits = dq ? true : f && syntheticInputs ? false : f?.top1_fits;
  return {
    id: r.candidate.id, bytes: r.candidate.bytes, accuracy: r.quality?.accuracy ?? null,
    agreement: isBaseline ? null : dq ? dq.top1_agreement : top1Fits === false ? null : r.quality?.agreement ?? null,
    loss: r.quality?.mse ?? r.quality?.mae ?? null, p50_ms: r.latency?.p50_ms ?? null,
    ...(top1Fits !== undefined ? { top1_fits: top1Fits } : {}),
    ...(dq ? { fidelity_snr_db: dq.snr_db, fidelity_output: 'logits' } : f ? { fidelity_snr_db: f.snr_db, fidelity_output: f.worst_output, ...judgedOf(f) } : {}),
    ...(r.fidelityError ? { fidelity_error: r.fidelityError } : {}),
    ...(r.error ? { error: r.error } : {}),
  };
}

export interface GateOutcome {
  budgets: AppliedBudget[];
  selected: string | null;
}

/** Fills in every result's checks and picks the selected candidate. */
export function gateCandidates(results: CandidateResult[], config: Pick<Config, 'gate' | 'metric' | 'select'>, scope: { decoder?: boolean; syntheticInputs?: boolean } = {}): GateOutcome {
  const budgets = resolveBudgets(config.gate, scope);
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
    const subject = r === ref ? baseline : gateSubject(r, false, scope.syntheticInputs === true);
    const vsDecoder = r.decoder?.vsReference;
    r.checks = checkAgainst(subject, {
      baseline, name: 'the reference', ...(r.vsReference ? { latency: r.vsReference } : {}), ...(vsDecoder ? { ttft: vsDecoder.ttft, decode: vsDecoder.decode } : {}),
    }, budgets, config.metric);
    subjects.push(subject);
  }
  const checks = new Map(results.map((r) => [r.candidate.id, r.checks!]));
  return { budgets, selected: selectCandidate(subjects, checks, config.select) };
}
