/** Small helpers for writing PromQL in TypeScript without string soup. */

/** `{a="b",c=~"d"}` from matchers written as `a="b"` strings (order kept). */
export const selector = (...matchers: (string | undefined)[]) => `{${matchers.filter(Boolean).join(',')}}`;

/** Regex alternation of literal values, escaped for a PromQL `=~`/`!~` matcher. */
export const anyOf = (values: readonly string[]) => values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|');

/** A float without exponent noise, as PromQL reads it. */
export const num = (value: number) => String(Number(value.toPrecision(12)));
