/** "Did you mean ...?" for typos in kinds, groups, flags and commands. A leaf module. */

/** Levenshtein distance (short strings only). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The closest of `known` to `value` when it is close enough to be a typo (a few edits, case
 * ignored) or one is the start of the other (`--namespace` for `--namespaces`).
 */
export function didYouMean(value: string, known: readonly string[]): string | undefined {
  const v = value.toLowerCase();
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(v, k.toLowerCase());
    if (!best || d < best.d) best = { k, d };
  }
  if (!best) return undefined;
  const k = best.k.toLowerCase();
  return best.d <= Math.max(2, Math.floor(best.k.length / 4)) ||
    (v.length >= 3 && (k.startsWith(v) || v.startsWith(k)))
    ? best.k
    : undefined;
}
