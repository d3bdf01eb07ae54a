import { MongoBulkWriteError, type ObjectId } from 'mongodb';
import { DUPLICATE_KEY, writeErrorsOf } from './mongo-errors';
import type { Store } from './mongo-store';

/** Longest run of seqs one scan looks at; a watermark further behind catches up over several scans. */
const MAX_SCAN = 5_000;
const majority = { level: 'majority' } as const;

/**
 * Settling seqs (README "Delivery contract"): a seq is settled once it is stored (a message holds
 * it) or burned (a tombstone in `skipped_seqs`, unique {conversationId, seq}). Messages and
 * tombstones live in two collections, so neither index can see the other: the two writers
 * arbitrate by "write, then check the other side" —
 * - burning checks the messages first and inserts tombstones only for seqs none holds;
 * - a message writer whose write could have overlapped a burn (it took longer than half the
 *   settle delay, see chat/send-batcher.ts) checks the tombstones after its insert and, on a hit,
 *   deletes its copy and takes a new seq.
 * Whichever writes second sees the first, so a seq is never both stored and burned for good.
 */
export function seqsRepository(store: Pick<Store, 'messages' | 'skippedSeqs' | 'conversations'>) {
  const messages = store.messages;
  const skipped = store.skippedSeqs;

  async function storedAmong(conversationId: ObjectId, seqs: number[]): Promise<Set<number>> {
    const docs = await messages.find({ conversationId, seq: { $in: seqs } }, { projection: { _id: 0, seq: 1 }, readConcern: majority }).toArray();
    return new Set(docs.map((d) => d.seq));
  }

  return {
    /**
     * Burns the given seqs that no message holds (a tombstone meeting a message is dropped; one
     * meeting a tombstone is already there). Returns the seqs now burned.
     */
    async burn(conversationId: ObjectId, seqs: number[], at: Date): Promise<number[]> {
      if (!seqs.length) return [];
      const stored = await storedAmong(conversationId, seqs);
      const toBurn = seqs.filter((seq) => !stored.has(seq));
      if (!toBurn.length) return [];
      try {
        await skipped.insertMany(toBurn.map((seq) => ({ conversationId, seq, burnedAt: at })), { ordered: false });
      } catch (error) {
        const dupOnly = error instanceof MongoBulkWriteError && writeErrorsOf(error).length > 0 && writeErrorsOf(error).every((e) => e.code === DUPLICATE_KEY);
        if (!dupOnly) throw error;
      }
      return toBurn;
    },
    /** Which of these seqs are burned (the message writer's check after a slow insert). */
    async burnedAmong(conversationId: ObjectId, seqs: number[]): Promise<Set<number>> {
      if (!seqs.length) return new Set();
      const docs = await skipped.find({ conversationId, seq: { $in: seqs } }, { projection: { _id: 0, seq: 1 } }).toArray();
      return new Set(docs.map((d) => d.seq));
    },
    /**
     * Per conversation, how many seqs in (after, upTo] are burned: what an unread count subtracts
     * (a burned seq was never a message). One query for a listing page, served by the unique
     * {conversationId, seq} index; conversations with none are absent from the map.
     */
    async burnedCounts(ranges: { conversationId: ObjectId; after: number; upTo: number }[]): Promise<Map<string, number>> {
      const wanted = ranges.filter((r) => r.upTo > r.after);
      if (!wanted.length) return new Map();
      const docs = await skipped.aggregate<{ _id: ObjectId; n: number }>([
        { $match: { $or: wanted.map((r) => ({ conversationId: r.conversationId, seq: { $gt: r.after, $lte: r.upTo } })) } },
        { $group: { _id: '$conversationId', n: { $sum: 1 } } },
      ], { readConcern: majority }).toArray();
      return new Map(docs.map((d) => [d._id.toHexString(), d.n]));
    },
    /** Burned seqs in (after, upTo], ascending. */
    async burnedIn(conversationId: ObjectId, after: number, upTo: number): Promise<number[]> {
      if (upTo <= after) return [];
      const docs = await skipped.find({ conversationId, seq: { $gt: after, $lte: upTo } }, { projection: { _id: 0, seq: 1 }, readConcern: majority }).sort({ seq: 1 }).toArray();
      return docs.map((d) => d.seq);
    },
    /**
     * Looks at (from, to] (at most MAX_SCAN seqs): `settled` is the highest S ≥ from with every seq
     * in (from, S] stored or burned; `gaps` are the seqs in the scanned range that are neither.
     * `from` must itself be a watermark (everything ≤ from settled).
     */
    async scan(conversationId: ObjectId, from: number, to: number): Promise<{ settled: number; gaps: number[]; scannedTo: number }> {
      const end = Math.min(to, from + MAX_SCAN);
      if (end <= from) return { settled: from, gaps: [], scannedTo: from };
      const range = { conversationId, seq: { $gt: from, $lte: end } };
      const [stored, burned] = await Promise.all([
        messages.find(range, { projection: { _id: 0, seq: 1 }, readConcern: majority }).toArray(),
        skipped.find(range, { projection: { _id: 0, seq: 1 }, readConcern: majority }).toArray(),
      ]);
      const settledSet = new Set([...stored, ...burned].map((d) => d.seq));
      const gaps: number[] = [];
      let settled = from;
      for (let seq = from + 1; seq <= end; seq++) {
        if (settledSet.has(seq)) {
          if (settled === seq - 1) settled = seq;
        } else gaps.push(seq);
      }
      return { settled, gaps, scannedTo: end };
    },
    /** Raises the stored watermark (never lowers it). */
    async raiseSettled(conversationId: ObjectId, seq: number): Promise<void> {
      await store.conversations.updateOne({ _id: conversationId }, { $max: { settledSeq: seq } });
    },
  };
}

export type SeqsRepository = ReturnType<typeof seqsRepository>;
