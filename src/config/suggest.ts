/** "Did you mean …?" for a misspelt key or name: the closest known word within a small edit distance. */

/** Edit distance counting an insert, a delete, a substitution or a swap of two neighbours as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known word closest to `word`, if it is close enough to be a typo: at most a third of the word's length
 * (at least 1, at most 3 edits), compared case-insensitively. Two words equally close is no suggestion: 'top3' could
 * be top1 or top5, and a guess would mislead.
 */
export function closest(word: string, known: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  let best: { word: string; d: number; tied: boolean } | undefined;
  for (const k of known) {
    const d = editDistance(w, k.toLowerCase());
    if (d > limit) continue;
    if (!best || d < best.d) best = { word: k, d, tied: false };
    else if (d === best.d && k !== best.word) best.tied = true;
  }
  return best && !best.tied ? best.word : undefined;
}

/** " (did you mean `x`?)" or nothing. */
export function didYouMean(word: string, known: Iterable<string>): string {
  const match = closest(word, known);
  return match !== undefined && match !== word ? ` (did you mean \`${match}\`?)` : '';
}
