import { ObjectId, type Db, type Document } from 'mongodb';
import type { InstanceDoc, MembershipDoc, MembershipRemovalDoc, SessionRevocationDoc } from '../../core/src/store/documents';
import { membershipRemovalsRepository } from '../../core/src/store/membership-removals-repository';
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
 * Departures work the same way (`membership_removals`, one per ended membership, written by the core
 * before it deletes the membership): merged forward-only, and once every collection is restored,
 * each restored membership that a later departure ended is deleted again (`reapplyDepartures`), so
 * a removed member does not come back with the backup's memberships.
 *
 * Other collections: `instances` and `job_leases` are the running fleet's own state, kept as the
 * target has them (live-state.ts); `job_runs` is history and the rest chat data, restored as data. Signing keys are not in the database (JWT_HS256_KEYS,
 * the IdP's JWKS, ops state jwt-rotation.json), so no restore can roll them back.
 */
/** A forward-only collection: per key one date that only moves forward. */
interface ForwardOnlyState {
  label: string;
  /** The key and date of a backup document (undefined: it has no usable date). */
  read(doc: Document): { key: string; at: Date } | undefined;
  open(db: Db): { all(): Promise<Map<string, Date>>; raise(docs: Document[]): Promise<void> };
}

const validDate = (value: unknown): Date | undefined => (value instanceof Date && !Number.isNaN(value.getTime()) ? value : undefined);

const removals = (db: Db) => membershipRemovalsRepository({
  memberships: db.collection<MembershipDoc>(collectionNames.memberships),
  membershipRemovals: db.collection<MembershipRemovalDoc>(collectionNames.membershipRemovals),
});

export const forwardOnlyCollections: Record<string, ForwardOnlyState> = {
  [collectionNames.sessionRevocations]: {
    label: 'session revocations',
    read: (doc) => {
      const at = validDate(doc.sessionsEndedAt);
      return at ? { key: String(doc._id), at } : undefined;
    },
    open(db) {
      const repository = sessionsRepository({
        sessionRevocations: db.collection<SessionRevocationDoc>(collectionNames.sessionRevocations),
        instances: db.collection<InstanceDoc>(collectionNames.instances),
      });
      return {
        all: () => repository.allEndedAt(),
        raise: (docs) => repository.recordMany(docs.map((d) => ({ userId: String(d._id), at: d.sessionsEndedAt as Date })), RESTORE_WRITER),
      };
    },
  },
  [collectionNames.membershipRemovals]: {
    label: 'membership removals',
    read: (doc) => {
      const at = validDate(doc.removedAt);
      return at && doc.conversationId instanceof ObjectId && typeof doc.userId === 'string' ? { key: String(doc._id), at } : undefined;
    },
    open(db) {
      const repository = removals(db);
      return {
        all: () => repository.allRemovedAt(),
        raise: (docs) => repository.recordMany(docs.map((d) => ({ conversationId: d.conversationId as ObjectId, userId: d.userId as string, removedAt: d.removedAt as Date }))),
      };
    },
  },
};

/** True when `a` is at or after `b` (an absent one never is). */
const holds = (a: Date | undefined, b: Date): boolean => a !== undefined && a.getTime() >= b.getTime();

/** Written as the revocations' `confirmedBy` writer: says who put them back. */
export const RESTORE_WRITER = 'ops-restore';

export interface ForwardOnlyMerge {
  /** Merges a batch of the backup's documents; resolves once every one holds (a bulk write error rejects). */
  write(docs: Document[]): Promise<void>;
  /**
   * Re-reads the collection: entries of the backup or the target that do not hold (their stored
   * value is earlier or gone, or the backup's document has no date) are `missing`; `kept` counts the
   * target's that are newer than the backup's (or absent from it).
   */
  finish(): Promise<{ kept: number; missing: string[]; stored: number }>;
}

/** Starts a merge when `name` is forward-only state and the target holds some; undefined: restore it as usual. */
export async function startForwardOnlyMerge(db: Db, name: string): Promise<ForwardOnlyMerge | undefined> {
  const state = forwardOnlyCollections[name];
  if (!state) return undefined;
  const repository = state.open(db);
  const target = await repository.all();
  if (!target.size) return undefined;
  const backup = new Map<string, Date>();
  /** Backup documents without a date to merge: reported as missing, never written. */
  const unreadable: string[] = [];
  return {
    async write(docs) {
      const raise: Document[] = [];
      for (const doc of docs) {
        const entry = state.read(doc);
        if (!entry) {
          unreadable.push(String(doc._id));
          continue;
        }
        backup.set(entry.key, entry.at);
        // Already as late in the target: writing would only restart its confirmations.
        if (!holds(target.get(entry.key), entry.at)) raise.push(doc);
      }
      await repository.raise(raise);
    },
    async finish() {
      const stored = await repository.all();
      const missing: string[] = [...unreadable];
      for (const [key, at] of [...target, ...backup]) {
        if (!holds(stored.get(key), at)) missing.push(key);
      }
      const kept = [...target].filter(([key, at]) => !holds(backup.get(key), at)).length;
      return { kept, missing: [...new Set(missing)], stored: stored.size };
    },
  };
}

/**
 * After a restore into a database that keeps departures: deletes each restored membership that a
 * departure at or after its `joinedAt` ended (the member was removed or left after the backup).
 * Returns the membership ids deleted.
 */
export function reapplyDepartures(db: Db): Promise<string[]> {
  return removals(db).reapply();
}
