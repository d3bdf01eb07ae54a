/**
 * The clock of the suites that reason about time. Code under test takes `now` as a parameter; the
 * tests pass this one. SWITCHBOARD_TEST_NOW_OFFSET_DAYS moves it (e.g. 365: a year ahead), which
 * proves a suite's expectations follow its injected clock and not today's date:
 *   SWITCHBOARD_TEST_NOW_OFFSET_DAYS=365 npx jest ops/backup core/test/jobs.test.ts …
 */
const DAY_MS = 86_400_000;

export const testClockOffsetDays = Number(process.env.SWITCHBOARD_TEST_NOW_OFFSET_DAYS ?? '0');
if (!Number.isFinite(testClockOffsetDays)) throw new Error(`SWITCHBOARD_TEST_NOW_OFFSET_DAYS must be a number of days (got "${process.env.SWITCHBOARD_TEST_NOW_OFFSET_DAYS}")`);

/** "Now" for a test: the real time moved by the offset. */
export const testNow = (): Date => new Date(Date.now() + testClockOffsetDays * DAY_MS);

/** `testNow()` plus (or minus) this many days: for fixtures "n days old". */
export const daysFromTestNow = (days: number): Date => new Date(testNow().getTime() + days * DAY_MS);

/**
 * The latest Sunday 12:00 UTC strictly before `now`: an anchor for fixtures whose meaning depends
 * on the weekday (ISO weeks start on Monday), so they keep their calendar layout on any date.
 */
export function lastSundayNoon(now: Date = testNow()): Date {
  const anchor = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 12));
  anchor.setUTCDate(anchor.getUTCDate() - anchor.getUTCDay()); // back to this week's Sunday
  if (anchor >= now) anchor.setUTCDate(anchor.getUTCDate() - 7);
  return anchor;
}
