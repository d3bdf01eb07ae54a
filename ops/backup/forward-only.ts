import type { Db, Document } from 'mongodb';
import type { InstanceDoc, SessionRevocationDoc } from '../../core/src/store/documents';
import { collectionNames } from '../../core/src/store/mongo-store';
import { sessionsRepository } from '../../core/src/store/sessions-repository';

/**
 * Security state that only moves forward (issue 21): a restore puts data back to the backup's point,
 * but it must never give back access that was ended after it. `session_revocations` holds, per user,
 * the moment their sessions were ended (`POST /admin/users/:id/end-sessions`); replacing it with the
 * backup's copy would make every token of a user ended since then (a stolen laptop, a leaver) work
 * again until it expires.
 *
 * So when the target already holds revocations, that collection is not dropped: each of the backup's
 * revocations is merged in with the core's own `$max` write (store/sessions-repository.ts), so for
 * each user the later of the backup's and the target's `sessionsEndedAt` holds, revocations only the
 * target has are kept, and an end-sessions call running during the restore is never undone (there is
 * no moment without them: nothing is read, dropped and written back). An empty or absent target
 * collection (a scratch database, `ops backup verify`) is restored as usual, document for document,
 * so its content still hashes to the manifest's.
 *
 * Other collections were considered and left as data: `instances` is the live fleet (each instance
 * re-registers within a second; the backup's entries are stale and ignored), `job_leases`/`job_runs`
 * schedule and history, the rest chat data. Signing keys are not in the database (JWT_HS256_KEYS,
 * the IdP's JWKS, ops state jwt-rotation.json), so no restore can roll them back.
 */
export const forwardOnlyCollections: Record<string, { label: string }> = {
  [collectionNames.sessionRevocations]: { label: 'session revocations' },
};

/** True when `a` is a revocation at or after `b` (an absent one never is). */
const holds = (a: Date | undefined, b: Date): boolean => a !== undefined && a.getTime() >= b.getTime();

/** Written as the revocations' `confirmedBy` writer: says who put them back. */
export const RESTORE_WRITER = 'ops-restore';

export interface ForwardOnlyMerge {
  /** Merges a batch of the backup's documents; resolves once every one holds (a bulk write error rejects). */
  write(docs: Document[]): Promise<void>;
  /**
   * Re-reads the collection: revocations of the backup or the target that do not hold (their user's
   * stored value is earlier or gone, or the backup's document has no date) are `missing`; `kept` counts the target's that are newer than the
   * backup's (or absent from it).
   */
  finish(): Promise<{ kept: number; missing: string[]; stored: number }>;
}

/** Starts a merge when `name` is forward-only state and the target holds some; undefined: restore it as usual. */
export async function startForwardOnlyMerge(db: Db, name: string): Promise<ForwardOnlyMerge | undefined> {
  if (!forwardOnlyCollections[name]) return undefined;
  const repository = sessionsRepository({
    sessionRevocations: db.collection<SessionRevocationDoc>(collectionNames.sessionRevocations),
    instances: db.collection<InstanceDoc>(collectionNames.instances),
  });
  const target = await repository.allEndedAt();
  if (!target.size) return undefined;
  const backup = new Map<string, Date>();
  /** Backup documents without a date to merge: reported as missing, never written. */
  const unreadable: string[] = [];
  return {
    async write(docs) {
      const raise: { userId: string; at: Date }[] = [];
      for (const doc of docs) {
        const userId = String(doc._id);
        const at: unknown = doc.sessionsEndedAt;
        if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
          unreadable.push(userId);
          continue;
        }
        backup.set(userId, at);
        // Already as late in the target: writing would only restart its confirmations.
        if (!holds(target.get(userId), at)) raise.push({ userId, at });
      }
      await repository.recordMany(raise, RESTORE_WRITER);
    },
    async finish() {
      const stored = await repository.allEndedAt();
      const missing: string[] = [...unreadable];
      for (const [userId, at] of [...target, ...backup]) {
        if (!holds(stored.get(userId), at)) missing.push(userId);
      }
      const kept = [...target].filter(([userId, at]) => !holds(backup.get(userId), at)).length;
      return { kept, missing: [...new Set(missing)], stored: stored.size };
    },
  };
}
