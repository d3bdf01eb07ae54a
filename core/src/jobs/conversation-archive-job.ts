import type { Db } from 'mongodb';
import type { ConversationDoc } from '../store/documents';
import { dayMs, type JobDefinition } from './job';

export interface ConversationArchiveOptions {
  /** Conversations with no message for this many days get `archivedAt` (they then refuse new messages); 0 disables. */
  inactiveDays: number;
  schedule: string | null;
}

/** Sets `archivedAt` on conversations inactive for N days (never-used ones count from `createdAt`). */
export function conversationArchiveJob(db: Db, options: ConversationArchiveOptions): JobDefinition {
  const conversations = db.collection<ConversationDoc>('conversations');
  return {
    name: 'conversation-archive',
    description: `Archive conversations with no message for ${options.inactiveDays} days (0 = never).`,
    schedule: options.schedule,
    async run({ dryRun, now, signal }) {
      if (options.inactiveDays <= 0) return { itemsProcessed: 0, errors: [], details: { disabled: true } };
      const cutoff = new Date(now.getTime() - options.inactiveDays * dayMs);
      const candidates = await conversations
        .find({ archivedAt: null, $or: [{ lastMessageAt: { $lt: cutoff } }, { lastMessageAt: null, createdAt: { $lt: cutoff } }] }, { projection: { _id: 1 } })
        .toArray();
      const ids = candidates.map((c) => c._id.toHexString());
      if (dryRun) return { itemsProcessed: ids.length, errors: [], details: { cutoff: cutoff.toISOString(), wouldArchive: ids.slice(0, 100) } };
      let archived = 0;
      for (const c of candidates) {
        if (signal.aborted) break;
        // Re-checks activity in the same write: a message that arrived since the scan keeps it open.
        const result = await conversations.updateOne(
          { _id: c._id, archivedAt: null, $or: [{ lastMessageAt: { $lt: cutoff } }, { lastMessageAt: null }] },
          { $set: { archivedAt: now } },
        );
        archived += result.modifiedCount;
      }
      return { itemsProcessed: archived, errors: [], details: { cutoff: cutoff.toISOString(), archived: ids.slice(0, 100) } };
    },
  };
}
