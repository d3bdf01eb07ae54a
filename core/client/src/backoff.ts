/**
 * Exponential backoff with full jitter (AWS architecture blog, as Centrifugo's SDK spec): the n-th
 * delay is uniform in [0, min(max, base·2^n)], so a fleet of clients reconnecting after an outage
 * spreads out instead of arriving in waves.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export function fullJitter(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
