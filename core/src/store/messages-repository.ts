import { MongoBulkWriteError, type ObjectId } from 'mongodb';
import type { MessageDoc } from './documents';
import { indexNames, type Store } from './mongo-store';

export type InsertOutcome = { ok: true } | { ok: false; conflict: 'seq' | 'clientMsgId' };

/** Which unique rule a duplicate-key write error broke; undefined for any other error. */
function conflictOf(message: string, code: number | undefined): 'seq' | 'clientMsgId' | undefined {
  if (code !== 11000) return undefined;
  if (message.includes(indexNames.messageClientId) || message.includes('clientMsgId')) return 'clientMsgId';
  if (message.includes(indexNames.messageSeq) || message.includes('seq')) return 'seq';
  return undefined;
}

export function messagesRepository(store: Store) {
  const m = store.messages;
  return {
    findByClientMsgId: (senderId: string, clientMsgId: string) => m.findOne({ senderId, clientMsgId }),
    /**
     * One unordered insertMany for a batch of sends: a single durable write acknowledges them all.
     * Returns each document's outcome; a failure other than a duplicate key fails the whole batch.
     */
    async insertMany(docs: MessageDoc[]): Promise<InsertOutcome[]> {
      const outcomes: InsertOutcome[] = docs.map(() => ({ ok: true }));
      if (!docs.length) return outcomes;
      try {
        await m.insertMany(docs, { ordered: false });
      } catch (error) {
        if (!(error instanceof MongoBulkWriteError)) throw error;
        const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
        for (const writeError of writeErrors) {
          const conflict = conflictOf(writeError.errmsg ?? '', writeError.code);
          if (!conflict) throw error;
          outcomes[writeError.index] = { ok: false, conflict };
        }
      }
      return outcomes;
    },
    /** Keyset page in seq order: after a seq (ascending) or before a seq (the newest first, returned ascending). */
    async page(conversationId: ObjectId, range: { afterSeq?: number; beforeSeq?: number }, limit: number): Promise<MessageDoc[]> {
      if (range.afterSeq !== undefined) {
        return m.find({ conversationId, seq: { $gt: range.afterSeq } }).sort({ seq: 1 }).limit(limit).toArray();
      }
      const filter = range.beforeSeq !== undefined ? { conversationId, seq: { $lt: range.beforeSeq } } : { conversationId };
      const newestFirst = await m.find(filter).sort({ seq: -1 }).limit(limit).toArray();
      return newestFirst.reverse();
    },
    search: (conversationId: ObjectId, terms: string[], limit: number) =>
      m.find({ conversationId, terms: { $all: terms }, deletedAt: null }).sort({ seq: -1 }).limit(limit).toArray(),
  };
}

export type MessagesRepository = ReturnType<typeof messagesRepository>;
