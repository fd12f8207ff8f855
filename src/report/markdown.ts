/** report.md: the human view of report.json. Everything that comes from the model or config is escaped. */
import type { CandidateReport, FidelityReport, Report } from './types.js';
import type { AutoReport } from '../candidates/search-report.js';
import { escapeMarkdown } from './escape.js';
import { assumedInputsLines } from './assumed.js';

export { escapeMarkdown };

/** Inline code: backticks cannot close it early, and nothing inside is interpreted. */
export function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\r?\n/g, ' ')}\``;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}

/** The part of report.json's candidate.tflite (src/export/tflite/candidate.ts) the markdown shows. */
interface TfliteSummary {
  quantize?: string;
  io_type?: string;
  batch?: number;
  runtime: { threads: number; xnnpack: string };
  verification?: { samples: number; max_abs_diff: number; top1_agreement: number | null };
}

/** How report.md says where a synthetic image's range comes from. */
const RANGE_FROM: Record<string, string> = { config: ', from the config', dtype: ', as an integer image', model: ', inferred from the model (report.json says how)', default: ', the default for a float image' };
const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(2)}%`);

function signed(v: number, digits: number, suffix = ''): string {
  const s = v.toFixed(digits);
  return `${v > 0 ? '+' : ''}${s === `-${(0).toFixed(digits)}` ? (0).toFixed(digits) : s}${suffix}`;
}

/**
 * ' (logits)' when the judged output's SNR was measured on its logits (a probability output, see docs/report.md);
 * ' (ArgMax input)' when the judged tensor is a discrete output's decision input, named by the op that reads it.
 */
function logitNote(f: FidelityReport): string {
  if (f.worst_kind === 'decision_input') {
    const d = f.decision_inputs?.find((x) => x.tensor === f.worst_output);
    const reader = d?.readers.find((r) => r.role === 'decision') ?? d?.readers[0];
    return ` (${reader ? `${escapeMarkdown(reader.op_type)} input` : 'decision input'}${d?.domain === 'logit' ? ', logits' : ''})`;
  }
  return f.outputs.find((o) => o.name === f.worst_output)?.domain === 'logit' ? ' (logits)' : '';
}

/** Up to three names in code, then how many more. */
function names(list: readonly string[]): string {
  const shown = list.slice(0, 3).map(code).join(', ');
  return list.length > 3 ? `${shown} and ${list.length - 3} more` : shown;
}

/**
 * How each candidate's discrete outputs were judged: through their decision inputs (how many, and the worst
 * with the node that reads it), or on their own values and why. Every figure is in report.json.
 */
function decisionInputLines(report: Report): string[] {
  const lines: string[] = [];
  for (const c of report.candidates) {
    const f = c.fidelity;
    if (!f?.decision_inputs) continue;
    const discrete = f.outputs.filter((o) => o.discrete);
    const exact = (o: (typeof discrete)[number]) => (o.exact_match !== undefined ? ` (exact match ${pct(o.exact_match)})` : '');
    const through = discrete.filter((o) => o.decision_inputs);
    if (through.length > 0) {
      const used = f.decision_inputs.filter((d) => d.missing === undefined && through.some((o) => o.decision_inputs!.includes(d.tensor)));
      const worst = [...used].sort((a, b) => (a.snr_db ?? Infinity) - (b.snr_db ?? Infinity))[0]!;
      const reader = worst.readers.find((r) => r.role === 'decision') ?? worst.readers[0]!;
      const renamed = worst.candidate_tensor && worst.candidate_tensor !== worst.tensor ? `, the candidate's ${code(worst.candidate_tensor)}` : '';
      const what = through.length === 1 ? `discrete output ${code(through[0]!.name)}${exact(through[0]!)}` : `discrete outputs ${names(through.map((o) => o.name))}`;
      lines.push(
        `- ${code(c.id)}: ${what} judged through ${used.length} decision input${used.length === 1 ? '' : 's'}; the worst, ${code(worst.tensor)} (read by ${escapeMarkdown(reader.op_type)} ${code(reader.node || '(unnamed)')}${renamed}): ` +
          `${snr(worst.snr_db ?? null)}${worst.domain === 'logit' ? ' on logits' : ''}`,
      );
    }
    for (const o of discrete.filter((x) => !x.decision_inputs && x.decision_inputs_missing)) {
      lines.push(`- ${code(c.id)}: discrete output ${code(o.name)}${exact(o)} judged on its own values: ${escapeMarkdown(o.decision_inputs_missing!)}`);
    }
  }
  return lines.length === 0
    ? []
    : ['<details><summary>Discrete outputs and their decision inputs</summary>', '', 'A discrete output (an index, a peak) jumps when a near-tie breaks the other way; the continuous tensors it is computed from where it turns discrete are compared instead (report.json `fidelity.decision_inputs`, docs/report.md).', '', ...lines, '', '</details>', ''];
}

/** An SNR as report.json holds it (null: identical outputs). */
const snr = (v: number | null) => (v === null ? '∞ dB' : `${v.toFixed(1)} dB`);

/** Decoders: what a user of the language model feels, and how close its next-token choices stay. */
function decoderLines(report: Report): string[] {
  const rows = report.candidates.filter((c) => c.decoder);
  if (rows.length === 0) return [];
  const ratio = (r: number | undefined, ci: [number, number] | undefined) => (r === undefined ? '' : ` (${r.toFixed(2)}×${ci ? `, ${ci[0].toFixed(2)}–${ci[1].toFixed(2)}` : ''})`);
  const lines = [`Decoder: prefill of ${rows[0]!.decoder!.prefill_tokens} tokens, then one token against that cache.`, '', '| candidate | time to first token | per token | tokens/s | next-token agreement | logit SNR |', '|---|---:|---:|---:|---:|---:|'];
  for (const c of rows) {
    const d = c.decoder!, q = c.decoder_quality;
    lines.push(`| ${escapeMarkdown(c.id)} | ${d.ttft_ms.toFixed(2)} ms${ratio(d.ttft_ratio, d.ttft_ratio_ci95)} | ${d.decode_ms_per_token.toFixed(2)} ms${ratio(d.decode_ratio, d.decode_ratio_ci95)} | ${d.tokens_per_s.toFixed(0)} | ${q ? pct(q.top1_agreement) : '–'} | ${q ? snr(q.snr_db) : '–'} |`);
  }
  return [...lines, ''];
}

export function candidateRow(c: CandidateReport, ref: CandidateReport | undefined, selected: string | null): string[] {
  const isRef = ref !== undefined && c.id === ref.id;
  const sizeDelta = ref && !isRef && ref.bytes > 0 ? ` (${(c.bytes / ref.bytes).toFixed(2)}×)` : '';
  const acc = c.accuracy ?? c.agreement;
  const refAcc = ref ? (c.accuracy !== null ? ref.accuracy : null) : null;
  const accDelta = !isRef && acc !== null && refAcc !== null ? ` (${signed((acc - refAcc) * 100, 2, ' pt')})` : '';
  const lat = c.latency;
  const ratio = typeof lat?.ratio === 'number' ? ` (${(lat.ratio as number).toFixed(2)}×)` : '';
  const failed = c.checks.filter((k) => !k.passed);
  const verdict = failed.length === 0 ? '✅ pass' : `❌ ${failed.map((k) => escapeMarkdown(k.name)).join(', ')}`;
  const label = (isRef && c.id !== 'reference' ? `${escapeMarkdown(c.id)} (reference)` : escapeMarkdown(c.id)) + (c.runtime_kind === 'tflite' ? ' · TFLite' : c.runtime_kind === 'tfjs' ? ' · TF.js' : ''); // which runtime measured the row
  const name = c.id === selected ? `**${label}** ⭐` : label;
  return [
    name,
    `${formatBytes(c.bytes)}${sizeDelta}`,
    `${c.accuracy !== null ? pct(c.accuracy) : c.agreement !== null ? `${pct(c.agreement)} agree` : c.fidelity ? `${snr(c.fidelity.snr_db)} SNR${logitNote(c.fidelity)}` : '–'}${accDelta}`,
    lat ? `${lat.p50_ms.toFixed(3)} ms${ratio}` : '–',
    verdict,
  ];
}

export function renderMarkdown(report: Report): string {
  const ref = report.candidates.find((c) => c.id === report.reference);
  const lines: string[] = [];
  // An error means the run stopped (exit 2): saying that no candidate passed would blame the model for a broken config.
  const error = typeof report.error === 'string' ? report.error : undefined;
  const head = report.passed
    ? `✅ **ModelGate passed**: selected ${code(report.selected ?? '')}`
    : error !== undefined
      ? `💥 **ModelGate could not run**: ${escapeMarkdown(error.split('\n')[0]!)}`
      : `❌ **ModelGate failed**: no candidate passed every check`;
  lines.push(`### ${head}`, '');
  if (error !== undefined && error.includes('\n')) lines.push('```', error.replace(/```/g, "'''"), '```', '');
  lines.push(...assumedInputsLines(report));
  if (report.candidates.length > 0) {
    lines.push('| candidate | size | accuracy | p50 latency | checks |', '|---|---:|---:|---:|---|');
    for (const c of report.candidates) lines.push(`| ${candidateRow(c, ref, report.selected).join(' | ')} |`);
    lines.push('');
    // how each .tflite was run, and how it compares with the ONNX model it was exported from.
    for (const c of report.candidates) {
      const t = c.tflite as TfliteSummary | undefined;
      if (!t) continue;
      const xnnpack = t.runtime.xnnpack === 'applied' ? 'XNNPACK' : t.runtime.xnnpack === 'off' ? 'XNNPACK off' : 'XNNPACK unavailable, builtin kernels';
      const how = `${t.runtime.threads} thread${t.runtime.threads === 1 ? '' : 's'}, ${xnnpack}`;
      const v = t.verification;
      lines.push(
        t.quantize && v
          ? `- ${code(c.id)}: TFLite ${escapeMarkdown(t.quantize)}, ${escapeMarkdown(t.io_type ?? 'float32')} I/O, batch ${t.batch}, ${how}; ` +
            `vs its ONNX source on ${v.samples} samples: max |Δ| ${v.max_abs_diff.toExponential(1)}${v.top1_agreement !== null ? `, top-1 agreement ${pct(v.top1_agreement)}` : ''}`
          : `- ${code(c.id)}: run by TFLite, ${how}`,
      );
    }
    if (report.candidates.some((c) => c.tflite)) lines.push('');
    const control = report.candidates.find((c) => c.latency?.control)?.latency;
    if (control?.control) {
      const aa = control.control.ratios.map((r) => `${r.toFixed(3)}×`).join(', ');
      lines.push(`> Latency: ${control.measurements ?? 1} measurements, fresh worker processes each. An A/A control timed the reference in a second worker too: ${aa} against the first (σ ≈ ${(control.control.worker_sigma * 100).toFixed(1)}% between two workers running the same model). The latency CIs include that spread.`, '');
    }
    lines.push(...decisionInputLines(report));
    lines.push(...decoderLines(report));
    const failing = report.candidates.flatMap((c) => c.checks.filter((k) => !k.passed).map((k) => `- ${code(c.id)} ${code(k.name)}: ${escapeMarkdown(k.message)}`));
    if (failing.length > 0) lines.push('<details><summary>Failed checks</summary>', '', ...failing, '', '</details>', '');
    // A pass that changed nothing is said in words: a 1.00× row alone reads like a pass that worked.
    const idle = report.candidates.flatMap((c) => (c.pass_notes ?? []).filter((n) => !n.changed).map((n) => `- ${code(c.id)}: ${code(n.pass)} changed nothing: ${escapeMarkdown(n.why)}`));
    if (idle.length > 0) lines.push('**No change:**', '', ...idle, '');
    const recovered = report.candidates.flatMap((c) => (c.recovery ?? []).flatMap((r) => r.layers.map((l) =>
      `| ${code(c.id)} | ${code(l.node)} | ${escapeMarkdown(l.method)} | ${l.error_before.toFixed(4)} | ${l.error_after.toFixed(4)} | ${r.samples} |`)));
    if (recovered.length > 0) lines.push('**Recovered layers** (relative output error on the calibration samples):', '', '| candidate | layer | method | before | after | samples |', '|---|---|---|---:|---:|---:|', ...recovered, '');
    const tuned = report.candidates.flatMap((c) => (c.finetune ?? []).map((f) =>
      `| ${code(c.id)} | ${escapeMarkdown(f.loss)} | ${f.epochs} | ${f.samples} | ${f.initial_loss.toFixed(4)} → ${f.epoch_loss.map((l) => l.toFixed(4)).join(' → ')} | ${escapeMarkdown(f.runtime)} | ${f.seconds.toFixed(1)} s |`));
    if (tuned.length > 0) lines.push('**Fine-tuned** (TF.js):', '', '| candidate | loss | epochs | samples | loss before → per epoch | runtime | time |', '|---|---|---:|---:|---|---|---:|', ...tuned, '');
    for (const c of report.candidates) if (c.auto) lines.push(...autoDetails(c.id, c.auto as AutoReport));
  }
  const images = report.dataset?.synthetic_images ?? [];
  if (images.length > 0) {
    const list = images.map((i) => `${code(i.input)} (${i.layout}, values in [${i.range.join(', ')}]${RANGE_FROM[i.range_from] ?? ''})`).join(', ');
    lines.push(`> No dataset: ${list} ${images.length > 1 ? 'were' : 'was'} fed seeded synthetic pictures (shapes, gradients and 1/f texture), not photos; figures on real data may differ. Give a \`dataset:\` to measure on yours.`, '');
  }
  if (report.dataset?.calibration?.overlaps_evaluation) lines.push('> Calibration and evaluation data overlap: the calibrating passes learned from the evaluation dataset (add a `calibration:` section to keep them apart).', '');
  const hw = report.hardware;
  lines.push(`<sub>${escapeMarkdown(hw.cpu)} · ${hw.cores} cores · ${escapeMarkdown(hw.os)} ${escapeMarkdown(hw.arch)} · onnxruntime ${escapeMarkdown(report.runtime.onnxruntime)}${typeof report.runtime.tflite === 'string' ? ` · TFLite ${escapeMarkdown(report.runtime.tflite)}` : ''}${typeof report.runtime.tfjs === 'string' ? ` · ${escapeMarkdown(report.runtime.tfjs)}` : ''} · ${escapeMarkdown(report.tool.name)} ${escapeMarkdown(report.tool.version)}</sub>`);
  return lines.join('\n') + '\n';
}

// ---- auto: what the search tried, the Pareto front, and why the winner won ----
const AUTO_MAX_ROWS = 40;

function autoDetails(id: string, a: AutoReport): string[] {
  // Three decimals: whether a ratio is above or below 1.00 is what decided many of these rows.
  const ratio = (r: number | null, ci?: [number, number] | null) => (r === null ? '–' : `${r.toFixed(3)}×${ci ? ` (${ci[0].toFixed(3)}–${ci[1].toFixed(3)})` : ''}`);
  const drop = (d: number | null) => (d === null ? '–' : a.quality_basis === 'mse' ? signed(d, 6) : a.quality_basis === 'agreement' ? `${pct(1 - d)} agree` : a.quality_basis === 'fidelity' ? `${d === 0 ? '∞' : (-10 * Math.log10(d)).toFixed(1)} dB` : signed(-d * 100, 2, ' pt'));
  const tried = a.tried.slice(0, AUTO_MAX_ROWS).map((t) => {
    const size = t.bytes === null ? '–' : `${formatBytes(t.bytes)}${t.size_ratio !== null ? ` (${t.size_ratio.toFixed(2)}×)` : ''}`;
    const latency = t.confirm_ratio !== undefined ? `${ratio(t.latency_ratio, t.latency_ci95)}, then ${ratio(t.confirm_ratio, t.confirm_ci95)}` : ratio(t.latency_ratio, t.latency_ci95);
    const name = t.id === a.winner ? `**${escapeMarkdown(t.id)}**` : escapeMarkdown(t.id);
    const quality = a.quality_basis === 'agreement' && t.agreement !== null ? `${pct(t.agreement)} agree` : drop(t.drop);
    return `| ${name} | ${t.stage} | ${size} | ${quality} | ${latency} | ${escapeMarkdown(t.outcome)} |`;
  });
  const lines = [
    `<details><summary>auto ${code(id)}: ${a.winner === 'reference' ? 'kept the reference' : `selected ${code(a.winner)}`} (${a.tried.length} tried in ${a.elapsed_s} s)</summary>`,
    '',
    escapeMarkdown(a.reason),
    '',
  ];
  if (tried.length > 0) {
    lines.push('| tried | stage | size | accuracy | p50 vs fp32 (95% CI) | outcome |', '|---|---|---:|---:|---:|---|', ...tried);
    if (a.tried.length > AUTO_MAX_ROWS) lines.push('', `${a.tried.length - AUTO_MAX_ROWS} more in report.json.`);
    lines.push('');
  }
  if (a.pareto.length > 0) {
    lines.push('Pareto front (no other candidate is smaller, faster and more accurate at once):', '', '| candidate | size | p50 vs fp32 | accuracy |', '|---|---:|---:|---:|');
    for (const p of a.pareto) lines.push(`| ${escapeMarkdown(p.id)} | ${formatBytes(p.bytes)} | ${ratio(p.latency_ratio)} | ${drop(p.drop)}${p.within_accuracy_budget ? '' : ' ✗'} |`);
    lines.push('');
  }
  if (a.skipped.length > 0) lines.push(`Not tried: ${a.skipped.map((s) => `${code(s.family)} (${escapeMarkdown(s.why)})`).join('; ')}.`, '');
  lines.push('</details>', '');
  return lines;
}
// ---- end auto ----
