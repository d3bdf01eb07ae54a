import { MongoBulkWriteError, type ObjectId } from 'mongodb';
import type { MessageDoc } from './documents';
import { DUPLICATE_KEY, isTransientCode, writeErrorsOf } from './mongo-errors';
import type { Store } from './mongo-store';

/**
 * What the server said about one document of a batch:
 * - `stored`: acknowledged (insertedCount and writeErrors agree, no write-concern error);
 * - `duplicate`: a unique index refused it (a retried clientMsgId, or a seq clash): the caller reads to tell which;
 * - `rejected`: the server refused this document for good (its write error code, never its message);
 * - `unknown`: no per-document answer (network, timeout, top-level or write-concern error) or a
 *   transient write error: it may or may not be stored, so the sender must retry with the same clientMsgId.
 */
export type InsertOutcome = { status: 'stored' } | { status: 'duplicate' } | { status: 'rejected'; code: number } | { status: 'unknown'; cause: unknown };

/** Per-document outcomes of an unordered insertMany that threw; exported for the unit test of each driver shape. */
export function outcomesOfFailedInsert(error: unknown, count: number): InsertOutcome[] {
  const unknown: InsertOutcome = { status: 'unknown', cause: error };
  const writeErrors = error instanceof MongoBulkWriteError ? writeErrorsOf(error) : [];
  // The driver also raises MongoBulkWriteError with no writeErrors for network, timeout, top-level
  // and write-concern errors: then the server said nothing per document and nothing is known stored.
  if (!writeErrors.length) return Array.from({ length: count }, () => unknown);
  const bulk = error as MongoBulkWriteError;
  // insertedIds alone proves nothing (the driver fills it before sending): the server's count must
  // cover every document without a write error (MongoDB reports exactly that many; mongo-java-server
  // also counts the refused ones, hence >=), and a write-concern error means "maybe not durable".
  const writeConcernFailed = Boolean(bulk.result?.getWriteConcernError());
  const answered = !writeConcernFailed && bulk.insertedCount >= count - writeErrors.length;
  const outcomes: InsertOutcome[] = Array.from({ length: count }, () => (answered ? { status: 'stored' } : unknown));
  for (const writeError of writeErrors) {
    if (writeError.index < 0 || writeError.index >= count) return Array.from({ length: count }, () => unknown);
    // A duplicate key met together with a write-concern error proves nothing durable: the document
    // it clashed with may itself be one a failover rolls back. Unknown: the sender retries.
    outcomes[writeError.index] = writeError.code === DUPLICATE_KEY ? (writeConcernFailed ? unknown : { status: 'duplicate' })
      : isTransientCode(writeError.code) ? unknown
        : { status: 'rejected', code: writeError.code };
  }
  return outcomes;
}

const majority = { level: 'majority' } as const;

export function messagesRepository(store: Store) {
  const m = store.messages;
  return {
    findByClientMsgId: (senderId: string, clientMsgId: string) => m.findOne({ senderId, clientMsgId }),
    /** The stored messages for several (sender, clientMsgId) pairs in one query. */
    /**
     * The stored messages for several (sender, clientMsgId) pairs in one query, read at majority
     * read concern: an original acknowledged to a retry must be one no failover can roll back.
     * (mongo-java-server, the local and test server, accepts and ignores readConcern; Atlas honours it.)
     */
    findByClientMsgIds: (keys: { senderId: string; clientMsgId: string }[]) =>
      (keys.length ? m.find({ $or: keys.map(({ senderId, clientMsgId }) => ({ senderId, clientMsgId })) }, { readConcern: majority }).toArray() : Promise.resolve([])),
    /**
     * One unordered insertMany for a batch of sends: a single durable write acknowledges them all.
     * Never throws: each document gets the outcome the server reported for it (see InsertOutcome).
     */
    async insertMany(docs: MessageDoc[]): Promise<InsertOutcome[]> {
      if (!docs.length) return [];
      try {
        const result = await m.insertMany(docs, { ordered: false });
        if (result.insertedCount === docs.length) return docs.map(() => ({ status: 'stored' }));
        return docs.map(() => ({ status: 'unknown', cause: new Error(`insertMany acknowledged ${result.insertedCount} of ${docs.length} documents`) }));
      } catch (error) {
        return outcomesOfFailedInsert(error, docs.length);
      }
    },
    /** Removes this instance's own copy of a message whose seq was burned meanwhile (it is then stored again under a new seq). */
    deleteOwn: async (id: ObjectId): Promise<void> => {
      await m.deleteOne({ _id: id });
    },
    /**
     * Keyset page in seq order, ids only: after a seq (ascending) or before a seq (the newest first,
     * returned ascending). A stored message never changes, so its id says everything a view cache
     * needs to know; the server decides which messages exist (retention, a restore, a copy removed
     * after its seq was burned), and `byIds` reads the content of those not cached.
     */
    async pageKeys(conversationId: ObjectId, range: { afterSeq?: number; beforeSeq?: number }, limit: number): Promise<{ _id: ObjectId; seq: number }[]> {
      // Majority read concern: history never shows a message a failover could take back (ignored by mongo-java-server).
      const options = { readConcern: majority, projection: { _id: 1, seq: 1 } } as const;
      if (range.afterSeq !== undefined) {
        return m.find<{ _id: ObjectId; seq: number }>({ conversationId, seq: { $gt: range.afterSeq } }, options).sort({ seq: 1 }).limit(limit).toArray();
      }
      const filter = range.beforeSeq !== undefined ? { conversationId, seq: { $lt: range.beforeSeq } } : { conversationId };
      const newestFirst = await m.find<{ _id: ObjectId; seq: number }>(filter, options).sort({ seq: -1 }).limit(limit).toArray();
      return newestFirst.reverse();
    },
    /** These messages (any order), without their search terms: no view shows them. An _id equality lookup on every server. */
    byIds: (ids: ObjectId[]): Promise<Omit<MessageDoc, 'terms'>[]> =>
      (ids.length ? m.find({ _id: { $in: ids } }, { readConcern: majority, projection: { terms: 0 } }).toArray() : Promise.resolve([])),
    search: (conversationId: ObjectId, terms: string[], limit: number) =>
      m.find({ conversationId, terms: { $all: terms }, deletedAt: null }).sort({ seq: -1 }).limit(limit).toArray(),
  };
}

export type MessagesRepository = ReturnType<typeof messagesRepository>;
