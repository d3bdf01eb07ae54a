import type { Document, ObjectId } from 'mongodb';
import { membershipId } from './documents';
import type { Store } from './mongo-store';

/** The one write that records a departure: `removedAt` only moves forward. */
const removalUpdate = (conversationId: ObjectId, userId: string, at: Date) =>
  ({ $max: { removedAt: at }, $setOnInsert: { conversationId, userId } });

/**
 * Departures (leave or removal) that outlive a restore (documents.ts MembershipRemovalDoc): the core
 * records each one before it deletes the membership; `ops restore` merges a backup's in (`recordMany`)
 * and then deletes every restored membership that a later departure ended (`reapply`).
 */
export function membershipRemovalsRepository(store: Pick<Store, 'memberships' | 'membershipRemovals'>) {
  const removals = store.membershipRemovals;
  const allRemovedAt = async (): Promise<Map<string, Date>> => {
    const docs = await removals.find({}, { projection: { removedAt: 1 }, readConcern: { level: 'majority' } }).toArray();
    return new Map(docs.map((d) => [d._id, d.removedAt]));
  };
  return {
    async record(conversationId: ObjectId, userId: string, at: Date): Promise<void> {
      await removals.updateOne({ _id: membershipId(conversationId, userId) }, removalUpdate(conversationId, userId, at), { upsert: true });
    },
    /** `record` for documents as a backup holds them, in one unordered bulk write (the same `$max`). */
    async recordMany(docs: { conversationId: ObjectId; userId: string; removedAt: Date }[]): Promise<void> {
      if (!docs.length) return;
      await removals.bulkWrite(
        docs.map((d) => ({ updateOne: { filter: { _id: membershipId(d.conversationId, d.userId) }, update: removalUpdate(d.conversationId, d.userId, d.removedAt), upsert: true } })),
        { ordered: false },
      );
    },
    /** Every departure's `removedAt`, by membership id. */
    allRemovedAt,
    /**
     * Deletes each membership joined at or before a recorded departure of it (a restore put it back);
     * a membership joined later (re-added) stands. One `_id` lookup per departure. Returns the ids deleted.
     */
    async reapply(): Promise<string[]> {
      const deleted: string[] = [];
      for (const [id, removedAt] of await allRemovedAt()) {
        const filter: Document = { _id: id, joinedAt: { $lte: removedAt } };
        if ((await store.memberships.deleteOne(filter)).deletedCount === 1) deleted.push(id);
      }
      return deleted;
    },
  };
}
