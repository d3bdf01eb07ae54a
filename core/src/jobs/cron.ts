import { z } from 'zod';

/**
 * A minimal 5-field cron parser evaluated in UTC: `minute hour day-of-month month day-of-week`.
 * Each field accepts `*`, numbers, ranges `a-b`, lists `a,b` and steps `*\/n` or `a-b/n`.
 * Day-of-week is 0-6 (Sunday 0; 7 is accepted as Sunday). As in classic cron, when both
 * day-of-month and day-of-week are restricted a day matches if either matches.
 */
export interface CronSchedule {
  expression: string;
  /** The first slot strictly after `after` (minute resolution, UTC). */
  next(after: Date): Date;
}

interface Field {
  values: Set<number>;
  restricted: boolean;
}

const bounds: [number, number][] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
const names = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];

function parseField(text: string, index: number): Field {
  const [min, max] = bounds[index]!;
  const values = new Set<number>();
  const fail = (why: string) => new Error(`cron ${names[index]} field "${text}": ${why}`);
  for (const part of text.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match) throw fail('expected *, n, a-b, a,b or a step /n');
    const step = match[4] === undefined ? 1 : Number(match[4]);
    let from = min;
    let to = max;
    if (match[1] !== '*') {
      from = Number(match[2]);
      to = match[3] === undefined ? (match[4] === undefined ? from : max) : Number(match[3]);
    }
    if (step < 1) throw fail('step must be at least 1');
    if (from < min || to > max || from > to) throw fail(`values must be within ${min}-${max}`);
    for (let v = from; v <= to; v += step) values.add(index === 4 && v === 7 ? 0 : v);
  }
  return { values, restricted: text !== '*' };
}

export function parseCron(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`cron expression "${expression}" must have 5 fields (minute hour day-of-month month day-of-week)`);
  const [minute, hour, dom, month, dow] = parts.map(parseField) as [Field, Field, Field, Field, Field];
  const dayMatches = (d: Date) => {
    const domOk = dom.values.has(d.getUTCDate());
    const dowOk = dow.values.has(d.getUTCDay());
    if (dom.restricted && dow.restricted) return domOk || dowOk;
    return domOk && dowOk;
  };
  return {
    expression,
    next(after) {
      const t = new Date(after.getTime());
      t.setUTCSeconds(0, 0);
      t.setUTCMinutes(t.getUTCMinutes() + 1);
      // Jump by month / day / hour / minute; bounded so impossible dates (e.g. 31 2 *) fail instead of looping.
      for (let guard = 0; guard < 100_000; guard++) {
        if (!month.values.has(t.getUTCMonth() + 1)) {
          t.setUTCMonth(t.getUTCMonth() + 1, 1);
          t.setUTCHours(0, 0, 0, 0);
        } else if (!dayMatches(t)) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0, 0);
        } else if (!hour.values.has(t.getUTCHours())) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
        } else if (!minute.values.has(t.getUTCMinutes())) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
        } else {
          return t;
        }
      }
      throw new Error(`cron expression "${expression}" never matches`);
    },
  };
}

/** For config.ts: a 5-field UTC cron expression, refused with the parser's message. */
export const cronExpressionSchema = z.string().trim().superRefine((value, ctx) => {
  try {
    parseCron(value).next(new Date());
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});
