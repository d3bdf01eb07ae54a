/** Small helpers for writing PromQL in TypeScript without string soup. */

/** `{a="b",c=~"d"}` from matchers written as `a="b"` strings (order kept). */
export const selector = (...matchers: (string | undefined)[]) => `{${matchers.filter(Boolean).join(',')}}`;

/** Regex alternation of literal values, escaped for a PromQL `=~`/`!~` matcher. */
export const anyOf = (values: readonly string[]) => values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|');

/** A float without exponent noise, as PromQL reads it. */
export const num = (value: number) => String(Number(value.toPrecision(12)));

/**
 * `(x unless x offset <window>)`: the current value of the counter series that did not exist
 * `window` ago. A labelled counter appears only at its first increment, already at 1, and
 * increase() cannot see that first step (it has no earlier sample), so an alert on rare events
 * (one failed job run a day) adds this guard with `or`. The metric cross-check allows exactly
 * this raw counter read.
 */
export const bornWithin = (series: string, window: string) => `(${series} unless ${series} offset ${window})`;

/** The core labels job metrics with `job_name` (the job's own name); `job` stays the scrape job. */
export const jobNameLabel = 'job_name';
