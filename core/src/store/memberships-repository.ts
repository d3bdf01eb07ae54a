import type { ObjectId } from 'mongodb';
import { membershipId, type ConversationDoc, type MembershipDoc } from './documents';
import { membershipRemovalsRepository } from './membership-removals-repository';
import { collectionNames, type Store } from './mongo-store';

export function membershipsRepository(store: Pick<Store, 'memberships' | 'membershipRemovals'>) {
  const m = store.memberships;
  const removals = membershipRemovalsRepository(store);
  return {
    find: (conversationId: ObjectId, userId: string) => m.findOne({ _id: membershipId(conversationId, userId) }),
    /** One user's memberships in these conversations: _id lookups. */
    findManyForUser: (conversationIds: ObjectId[], userId: string) =>
      (conversationIds.length ? m.find({ _id: { $in: conversationIds.map((c) => membershipId(c, userId)) } }).toArray() : Promise.resolve([])),
    listForUser: (userId: string) => m.find({ userId }).toArray(),
    /** Which of these (conversation, user) pairs are memberships now, as membership ids: one _id lookup for a whole send batch. */
    async present(pairs: { conversationId: ObjectId; userId: string }[]): Promise<Set<string>> {
      if (!pairs.length) return new Set();
      const ids = [...new Set(pairs.map((p) => membershipId(p.conversationId, p.userId)))];
      return new Set((await m.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id));
    },
    /**
     * One page of a user's conversations, most recent activity first, strictly after the cursor, each
     * with the user's read marker: at most `max` memberships (MEMBERSHIPS_PER_USER_MAX caps them
     * anyway), found by the `user_conversations` index {userId, conversationId}, joined to their
     * conversations by `_id` ($lookup), sorted and limited by the server (top-k: the core holds
     * `limit + 1` documents, never the whole set). One aggregation instead of two finds (the
     * memberships, then the conversations among them): the second round trip (driver, BSON, a socket
     * write) was a fifth of the core's CPU per listing (loadtest/README, issue 23).
     */
    async pageForUser(userId: string, options: { max: number; after?: { t: Date; id: ObjectId }; limit: number }): Promise<{ conversation: ConversationDoc; lastReadSeq: number }[]> {
      const { max, after, limit } = options;
      return m.aggregate<{ conversation: ConversationDoc; lastReadSeq: number }>([
        { $match: { userId } },
        { $limit: max },
        { $project: { _id: 0, conversationId: 1, lastReadSeq: 1 } },
        { $lookup: { from: collectionNames.conversations, localField: 'conversationId', foreignField: '_id', as: 'conversation' } },
        { $unwind: '$conversation' },
        ...(after ? [{ $match: { $or: [{ 'conversation.activityAt': { $lt: after.t } }, { 'conversation.activityAt': after.t, 'conversation._id': { $lt: after.id } }] } }] : []),
        { $sort: { 'conversation.activityAt': -1, 'conversation._id': -1 } },
        { $limit: limit + 1 },
        { $project: { conversation: 1, lastReadSeq: 1 } },
      ]).toArray();
    },
    /** Members of a conversation right now. */
    countForConversation: (conversationId: ObjectId): Promise<number> => m.countDocuments({ conversationId }),
    /** How many conversations each of these users belongs to (users with none are absent): one aggregation. */
    async countForUsers(userIds: string[]): Promise<Map<string, number>> {
      if (!userIds.length) return new Map();
      const rows = await m.aggregate<{ _id: string; n: number }>([{ $match: { userId: { $in: userIds } } }, { $group: { _id: '$userId', n: { $sum: 1 } } }]).toArray();
      return new Map(rows.map((r) => [r._id, r.n]));
    },
    /** Whether the user is a member of anything (one index probe, not a count). */
    hasAny: async (userId: string): Promise<boolean> => (await m.findOne({ userId }, { projection: { _id: 1 } })) !== null,
    setRole: async (conversationId: ObjectId, userId: string, role: MembershipDoc['role']): Promise<void> => {
      await m.updateOne({ _id: membershipId(conversationId, userId) }, { $set: { role } });
    },
    listForConversation: (conversationId: ObjectId) => m.find({ conversationId }).sort({ joinedAt: 1 }).toArray(),
    /** Adds members that are missing; existing ones are left as they are (safe to retry). */
    async addMany(docs: MembershipDoc[]): Promise<void> {
      if (!docs.length) return;
      await m.bulkWrite(
        docs.map((doc) => ({ updateOne: { filter: { _id: doc._id }, update: { $setOnInsert: doc }, upsert: true } })),
        { ordered: false },
      );
    },
    /** Inserts one membership; false when it already exists. */
    async insert(doc: MembershipDoc): Promise<boolean> {
      try {
        await m.insertOne(doc);
        return true;
      } catch (error) {
        if ((error as { code?: number }).code === 11000) return false;
        throw error;
      }
    },
    /**
     * Ends a membership. The departure is recorded first (membership_removals), so a restore of an
     * older backup cannot bring the member back (ops/backup/forward-only.ts); a failure between the
     * two leaves the record and the membership, and the caller's retry removes it.
     */
    async remove(conversationId: ObjectId, userId: string, at: Date): Promise<boolean> {
      await removals.record(conversationId, userId, at);
      const result = await m.deleteOne({ _id: membershipId(conversationId, userId) });
      return result.deletedCount === 1;
    },
    /** Read state only moves forward. Returns the new value, or undefined when it did not move (already there or beyond). */
    async markRead(conversationId: ObjectId, userId: string, seq: number): Promise<number | undefined> {
      const updated = await m.findOneAndUpdate(
        { _id: membershipId(conversationId, userId), lastReadSeq: { $lt: seq } },
        { $set: { lastReadSeq: seq } },
        { returnDocument: 'after', projection: { lastReadSeq: 1 } },
      );
      return updated?.lastReadSeq;
    },
  };
}

export type MembershipsRepository = ReturnType<typeof membershipsRepository>;
