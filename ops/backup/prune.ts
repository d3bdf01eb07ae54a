import { writeAudit } from './audit';
import { listBackups, type BackupEntry } from './catalog';
import { BackupError } from './errors';
import { MANIFEST_NAME } from './manifest';
import type { BackupStore } from './storage';

export interface RetentionPolicy {
  keepDaily: number;
  keepWeekly: number;
  /** Incomplete backups younger than this may still be running and are kept (default 24 h). */
  incompleteGraceMs?: number;
}

export interface PrunePlan {
  keep: { id: string; reasons: string[] }[];
  delete: { id: string; reason: string; bytes: number }[];
}

/**
 * Keeps the newest complete backup of each of the last `keepDaily` days and `keepWeekly` ISO weeks
 * (UTC) that have backups, always the newest verified backup, and incomplete backups still within
 * their grace period. Everything else is deleted. Pure: the same input gives the same plan.
 */
export function planPrune(entries: BackupEntry[], policy: RetentionPolicy, now = new Date()): PrunePlan {
  for (const [k, v] of Object.entries({ keepDaily: policy.keepDaily, keepWeekly: policy.keepWeekly })) {
    if (!Number.isInteger(v) || v < 0) throw new BackupError('usage', `--${k === 'keepDaily' ? 'keep-daily' : 'keep-weekly'} must be a whole number >= 0 (got ${v})`);
  }
  const grace = policy.incompleteGraceMs ?? 24 * 3600_000;
  const reasons = new Map<string, string[]>();
  const keep = (id: string, why: string) => reasons.set(id, [...(reasons.get(id) ?? []), why]);
  const complete = entries.filter((e) => e.status === 'complete').sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));

  const byBucket = (bucket: (d: Date) => string, limit: number, label: string) => {
    const seen = new Set<string>();
    for (const e of complete) {
      const b = bucket(new Date(e.startedAt));
      if (seen.has(b)) continue;
      if (seen.size >= limit) break;
      seen.add(b);
      keep(e.id, `${label} ${b}`);
    }
  };
  byBucket((d) => d.toISOString().slice(0, 10), policy.keepDaily, 'daily');
  byBucket(isoWeek, policy.keepWeekly, 'weekly');
  const newestVerified = complete.find((e) => e.verification === 'verified');
  if (newestVerified) keep(newestVerified.id, 'newest verified');
  for (const e of entries) {
    if (e.status === 'incomplete' && now.getTime() - new Date(e.lastModified).getTime() < grace) keep(e.id, 'incomplete, may still be running');
  }
  const plan: PrunePlan = { keep: [], delete: [] };
  for (const e of entries) {
    const why = reasons.get(e.id);
    if (why) plan.keep.push({ id: e.id, reasons: why });
    else plan.delete.push({ id: e.id, reason: e.status === 'incomplete' ? 'incomplete (interrupted)' : 'outside retention', bytes: e.bytes });
  }
  return plan;
}

export async function runPrune(store: BackupStore, policy: RetentionPolicy, options: { dryRun: boolean; now?: Date }): Promise<PrunePlan> {
  const entries = await listBackups(store);
  const plan = planPrune(entries, policy, options.now);
  if (!options.dryRun) {
    const keys = entries.filter((e) => plan.delete.some((d) => d.id === e.id)).flatMap((e) => e.keys);
    // Manifests go first (their own request) so a half-deleted backup is never listed as complete.
    const isManifest = (k: string) => k.endsWith(`/${MANIFEST_NAME}`);
    await store.delete(keys.filter(isManifest));
    await store.delete(keys.filter((k) => !isManifest(k)));
  }
  await writeAudit({
    action: 'backup.prune', target: { location: store.description }, outcome: 'success',
    details: { dryRun: options.dryRun, policy, deleted: plan.delete.map((d) => d.id), kept: plan.keep.map((k) => k.id) },
  });
  return plan;
}

/** ISO-8601 week (UTC), e.g. `2026-W47`. */
export function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(d.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((d.getTime() - yearStart.getTime()) / 86400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}
