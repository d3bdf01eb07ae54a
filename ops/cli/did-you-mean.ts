import leven from 'leven';

/**
 * The closest names (edit distance ≤ 2, or a prefix either way), best first: for "did you mean".
 * Its own module so the CLI's entry point needs nothing of the stack tooling (the image ships the
 * CLI for its jobs without yaml or Pulumi).
 */
export function closest(word: string, candidates: string[]): string[] {
  const scored = candidates
    .map((c) => ({ c, d: c.startsWith(word) || word.startsWith(c) ? Math.min(1, leven(word, c)) : leven(word, c) }))
    .filter((s) => s.d <= Math.max(2, Math.floor(word.length / 3)));
  return scored.sort((a, b) => a.d - b.d || a.c.localeCompare(b.c)).map((s) => s.c);
}
