/**
 * Mermaid charts for the PR comment (GitHub renders ```mermaid blocks): the latency distribution of two
 * models as percentiles, and size against accuracy for every candidate. Mermaid has no escaping, so
 * labels go through mermaidLabel and every number is formatted here.
 */
import { mermaidLabel } from './escape.js';

/** The percentiles report.json keeps per candidate (latency.percentiles_ms): enough to draw the distribution. */
export const LATENCY_PERCENTILES = [5, 10, 25, 50, 75, 90, 95, 99] as const;

function quantileSorted(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** { p5, p10, ..., p99 } of raw latency samples, in ms, rounded to 0.1 µs: a compact stand-in for the histogram. */
export function latencyPercentiles(rawMs: readonly number[]): Record<string, number> {
  const sorted = rawMs.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return {};
  return Object.fromEntries(LATENCY_PERCENTILES.map((p) => [`p${p}`, Math.round(quantileSorted(sorted, p / 100) * 1e4) / 1e4]));
}

/** The latency fields a chart reads: a candidate's latency, or one side of a base/head pair. */
export interface LatencyLike {
  p50_ms: number | null;
  p90_ms: number | null;
  p99_ms: number | null;
  percentiles_ms?: unknown;
}

function percentilePoints(l: LatencyLike): Map<string, number> {
  const points = new Map<string, number>();
  const extra = l.percentiles_ms;
  if (extra && typeof extra === 'object') {
    for (const p of LATENCY_PERCENTILES) {
      const v = (extra as Record<string, unknown>)[`p${p}`];
      if (typeof v === 'number' && Number.isFinite(v) && v >= 0) points.set(`p${p}`, v);
    }
  }
  // The three percentiles every report has win over the interpolated ones, so the chart agrees with the tables.
  if (l.p50_ms !== null) points.set('p50', l.p50_ms);
  if (l.p90_ms !== null) points.set('p90', l.p90_ms);
  if (l.p99_ms !== null) points.set('p99', l.p99_ms);
  return points;
}

/** A y-axis unit that keeps the numbers readable: µs under a millisecond, s from a second. */
function timeUnit(maxMs: number): { unit: string; scale: number } {
  if (maxMs < 1) return { unit: 'µs', scale: 1000 };
  if (maxMs >= 2000) return { unit: 's', scale: 0.001 };
  return { unit: 'ms', scale: 1 };
}

function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  const m = v / exp;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * exp;
}

const BASELINE_COLOR = '#afb8c1';
const CANDIDATE_COLOR = '#0969da';

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(3) : v.toPrecision(3));

/**
 * Percentiles of `bars` (base, or the reference) as bars and of `line` (head, or the selected candidate) as
 * a line, on the percentiles both have. xychart-beta has no legend, so the title names the two.
 */
export function latencyChart(bars: { label: string; latency: LatencyLike }, line: { label: string; latency: LatencyLike }): string | null {
  const a = percentilePoints(bars.latency);
  const b = percentilePoints(line.latency);
  const keys = LATENCY_PERCENTILES.map((p) => `p${p}`).filter((k) => a.has(k) && b.has(k));
  if (keys.length < 2) return null;
  const max = Math.max(...keys.map((k) => Math.max(a.get(k)!, b.get(k)!)));
  const { unit, scale } = timeUnit(max);
  const top = niceCeil(max * scale * 1.05);
  return [
    '```mermaid',
    // Grey bars for the baseline, a blue line for the model under review; a short chart, it is a glance.
    `%%{init: {"xyChart": {"width": 640, "height": 300}, "themeVariables": {"xyChart": {"plotColorPalette": "${BASELINE_COLOR}, ${CANDIDATE_COLOR}"}}}}%%`,
    'xychart-beta',
    `  title "Latency percentiles (${unit}): ${mermaidLabel(bars.label)} = bars, ${mermaidLabel(line.label)} = line"`,
    `  x-axis [${keys.map((k) => `"${k}"`).join(', ')}]`,
    `  y-axis "${unit}" 0 --> ${fmt(top)}`,
    `  bar [${keys.map((k) => fmt(a.get(k)! * scale)).join(', ')}]`,
    `  line [${keys.map((k) => fmt(b.get(k)! * scale)).join(', ')}]`,
    '```',
  ].join('\n');
}

export interface SizeAccuracyPoint {
  label: string;
  bytes: number;
  /** Higher is better: accuracy, agreement, or −mse. */
  quality: number;
}

function groupName(labels: string[]): string {
  return labels.length > 2 ? `${mermaidLabel(labels[0], 24)} +${labels.length - 1}` : labels.map((l) => mermaidLabel(l, 24)).join(' + ');
}

/**
 * Size against quality as a quadrant chart centred on the reference: a point's quadrant says at a glance
 * whether it is smaller and/or better than the model the PR started from. x is log2 of the size ratio and y
 * the quality difference, each scaled to the largest distance from the reference. Points closer than a label
 * are merged into one, named after all of them.
 */
export function sizeAccuracyChart(reference: SizeAccuracyPoint, candidates: SizeAccuracyPoint[], qualityName = 'accuracy'): string | null {
  const usable = candidates.filter((c) => c.bytes > 0 && Number.isFinite(c.quality));
  if (!(reference.bytes > 0) || !Number.isFinite(reference.quality) || usable.length === 0) return null;
  const dx = (c: SizeAccuracyPoint) => Math.log2(c.bytes / reference.bytes);
  const dy = (c: SizeAccuracyPoint) => c.quality - reference.quality;
  const spanX = Math.max(Math.log2(1.25), ...usable.map((c) => Math.abs(dx(c))));
  // A quality difference under 0.2 points (0.002) is drawn no further out than 0.2 points would be.
  const spanY = Math.max(0.002, ...usable.map((c) => Math.abs(dy(c))));
  // Labels are centred under their point: keep points far enough from the edges for a label to fit.
  const clamp = (v: number, lo: number) => Math.min(1 - lo, Math.max(lo, v));
  const placed = [{ ...reference, x: 0.5, y: 0.5 }, ...usable.map((c) => ({ ...c, x: clamp(0.5 + (0.36 * dx(c)) / spanX, 0.18), y: clamp(0.5 + (0.4 * dy(c)) / spanY, 0.06) }))];
  // Labels are drawn centred under their point, ~7 px a character on a 520 px chart: points whose labels would
  // touch are drawn as one, named after all of them.
  const width = (labels: string[]) => (groupName(labels).length * 7) / 520;
  const groups: Array<{ labels: string[]; x: number; y: number }> = [];
  for (const p of placed) {
    const near = groups.find((g) => Math.abs(g.y - p.y) < 0.07 && Math.abs(g.x - p.x) < (width(g.labels) + width([p.label])) / 2 + 0.02);
    if (near) near.labels.push(p.label);
    else groups.push({ labels: [p.label], x: p.x, y: p.y });
  }
  const seen = new Set<string>();
  const points = groups.map((g) => {
    let name = groupName(g.labels);
    // Mermaid keys points by name: a repeated one would be dropped.
    for (let i = 2; seen.has(name); i++) name = `${groupName(g.labels)} ${i}`;
    seen.add(name);
    return `  ${name}: [${g.x.toFixed(3)}, ${g.y.toFixed(3)}]`;
  });
  const q = mermaidLabel(qualityName, 16);
  return [
    '```mermaid',
    // No quadrant labels: Mermaid draws them at the top of a quadrant, right where points level with the reference sit.
    `%%{init: {"quadrantChart": {"chartWidth": 520, "chartHeight": 340, "pointLabelFontSize": 13}, "themeVariables": {"quadrantPointFill": "${CANDIDATE_COLOR}", "quadrant1Fill": "#f6f8fa", "quadrant2Fill": "#dafbe1", "quadrant3Fill": "#f6f8fa", "quadrant4Fill": "#ffebe9"}}}%%`,
    'quadrantChart',
    `  title Size vs ${q} (centre: ${mermaidLabel(reference.label)})`,
    `  x-axis Smaller --> Larger`,
    `  y-axis Less ${q} --> More ${q}`,
    ...points,
    '```',
  ].join('\n');
}
