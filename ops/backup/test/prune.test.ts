import type { BackupEntry } from '../catalog';
import { isoWeek, planPrune } from '../prune';

const entry = (id: string, startedAt: string, extra: Partial<BackupEntry> = {}): BackupEntry => ({
  id, status: 'complete', startedAt, bytes: 100, verification: 'unverified', lastModified: startedAt, keys: [`${id}/manifest.json`], ...extra,
});

const now = new Date('2026-11-22T12:00:00Z');
const entries = [
  entry('a', '2026-11-22T03:00:00Z'),
  entry('b', '2026-11-21T03:00:00Z', { verification: 'failed' }),
  entry('c', '2026-11-21T01:00:00Z'),
  entry('d', '2026-11-15T03:00:00Z', { verification: 'verified' }),
  entry('e', '2026-11-08T03:00:00Z'),
  entry('f', '2026-11-01T03:00:00Z', { verification: 'verified' }),
  entry('g', '2026-11-22T11:00:00Z', { status: 'incomplete', lastModified: '2026-11-22T11:30:00Z' }),
  entry('h', '2026-11-20T11:00:00Z', { status: 'incomplete', lastModified: '2026-11-20T11:30:00Z' }),
];

test('daily keeps the newest backup of each of the last N days that have one', () => {
  const plan = planPrune(entries, { keepDaily: 2, keepWeekly: 0 }, now);
  expect(plan.keep.map((k) => k.id).sort()).toEqual(['a', 'b', 'd', 'g']);
  expect(plan.delete.map((d) => d.id).sort()).toEqual(['c', 'e', 'f', 'h']);
  expect(plan.delete.find((d) => d.id === 'h')!.reason).toBe('incomplete (interrupted)');
});

test('weekly keeps the newest backup of each of the last N ISO weeks', () => {
  const plan = planPrune(entries, { keepDaily: 0, keepWeekly: 3 }, now);
  expect(plan.keep.map((k) => `${k.id}:${k.reasons.join(',')}`).sort()).toEqual([
    'a:weekly 2026-W47', 'd:weekly 2026-W46,newest verified', 'e:weekly 2026-W45', 'g:incomplete, may still be running',
  ]);
});

test('the newest verified backup survives even a keep-nothing policy; a failed verification does not count', () => {
  const plan = planPrune(entries, { keepDaily: 0, keepWeekly: 0 }, now);
  expect(plan.keep.map((k) => k.id).sort()).toEqual(['d', 'g']);
});

test('rejects negative or fractional counts', () => {
  expect(() => planPrune(entries, { keepDaily: -1, keepWeekly: 0 }, now)).toThrow(/--keep-daily must be a whole number/);
  expect(() => planPrune(entries, { keepDaily: 1, keepWeekly: Number.NaN }, now)).toThrow(/--keep-weekly/);
});

test('ISO weeks', () => {
  expect(isoWeek(new Date('2026-11-22T23:59:59Z'))).toBe('2026-W47');
  expect(isoWeek(new Date('2026-11-23T00:00:00Z'))).toBe('2026-W48');
  expect(isoWeek(new Date('2027-01-01T00:00:00Z'))).toBe('2026-W53');
  expect(isoWeek(new Date('2025-12-29T00:00:00Z'))).toBe('2026-W01');
});
