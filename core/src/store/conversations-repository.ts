import type { ObjectId } from 'mongodb';
import type { ConversationDoc } from './documents';
import type { Store } from './mongo-store';

export function conversationsRepository(store: Pick<Store, 'conversations'>) {
  const c = store.conversations;
  return {
    findById: (id: ObjectId) => c.findOne({ _id: id }),
    findMany: (ids: ObjectId[]) => (ids.length ? c.find({ _id: { $in: ids } }).toArray() : Promise.resolve([])),
    /** Inserts; false when a conversation with that _id already exists. */
    async insert(doc: ConversationDoc): Promise<boolean> {
      try {
        await c.insertOne(doc);
        return true;
      } catch (error) {
        if ((error as { code?: number }).code === 11000) return false;
        throw error;
      }
    },
    /**
     * Reserves `count` consecutive seqs atomically and returns the last one (with the membership
     * epoch, the settled watermark and the restore generation, read in the same atomic step). The local server may
     * return a newer document under concurrency, so callers treat the value as a hint and let the
     * unique {conversationId, seq} index decide. Undefined when the conversation is missing or archived.
     */
    async allocateSeqs(id: ObjectId, count: number, at: Date): Promise<{ lastSeq: number; membershipEpoch: number; settledSeq: number; restoreGeneration: string } | undefined> {
      const updated = await c.findOneAndUpdate(
        { _id: id, archivedAt: null },
        { $inc: { lastSeq: count }, $set: { lastMessageAt: at, activityAt: at } },
        { returnDocument: 'after', projection: { lastSeq: 1, membershipEpoch: 1, settledSeq: 1, restoreGeneration: 1 } },
      );
      return updated ? { lastSeq: updated.lastSeq, membershipEpoch: updated.membershipEpoch ?? 0, settledSeq: updated.settledSeq ?? 0, restoreGeneration: updated.restoreGeneration ?? '' } : undefined;
    },
    /** A member left or was removed: see ConversationDoc.membershipEpoch. */
    async bumpMembershipEpoch(id: ObjectId): Promise<void> {
      await c.updateOne({ _id: id }, { $inc: { membershipEpoch: 1 } });
    },
    /** Clears archivedAt (a direct conversation asked for again). */
    async reopen(id: ObjectId): Promise<ConversationDoc | null> {
      return c.findOneAndUpdate({ _id: id }, { $set: { archivedAt: null } }, { returnDocument: 'after' });
    },
    async archive(id: ObjectId, at: Date): Promise<ConversationDoc | null> {
      return c.findOneAndUpdate({ _id: id }, { $set: { archivedAt: at } }, { returnDocument: 'after' });
    },
  };
}

export type ConversationsRepository = ReturnType<typeof conversationsRepository>;
