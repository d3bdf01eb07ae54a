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
export function seqsRepository(store: Pick<Store, 'messages' | 'skippedSeqs' | 'conversations'>, options: { cachedConversations?: number } = {}) {
  const messages = store.messages;
  const skipped = store.skippedSeqs;

  /**
   * Per conversation (hex id): every burned seq ≤ `upTo`, ascending, where `upTo` was at most the
   * conversation's settledSeq when read. Below a watermark the set is final (every seq there is
   * stored or burned, and neither changes: a burn checks the messages first, nothing deletes a
   * tombstone), so it holds on every instance and never needs invalidating; above it the database
   * is asked. Saves the tombstone read of most history pages and listing pages (issue 23). Bounded:
   * the least recently learned conversations are dropped, and so is one with too many tombstones.
   * Only a restore rewinds seqs (`ops restore --into <live database>`): it gives each restored
   * conversation a new `restoreGeneration`, and what was learned under another one is forgotten.
   */
  const settledBurned = new Map<string, { upTo: number; seqs: number[]; generation: string }>();
  /** Conversations with more tombstones than are worth holding: always asked exactly. */
  const tooMany = new Set<string>();
  const maxConversations = options.cachedConversations ?? 20_000;
  const MAX_SEQS_PER_CONVERSATION = 2_000;
  /** What is known of a conversation at this restore generation (read with its watermark); another generation's is dropped. */
  function knownAt(key: string, generation: string): { upTo: number; seqs: number[] } | undefined {
    const known = settledBurned.get(key);
    if (!known || known.generation === generation) return known;
    settledBurned.delete(key);
    tooMany.delete(key);
    return undefined;
  }
  /** `seqs`: every tombstone in (from, ...] read from the database, ascending; what is ≤ settledTo extends the cache. */
  function learn(key: string, from: number, settledTo: number, seqs: number[], generation: string): void {
    const known = knownAt(key, generation);
    const knownTo = known?.upTo ?? 0;
    // Only a contiguous extension from what is known (or from 0) keeps the set complete.
    if (from > knownTo || settledTo <= knownTo) return;
    const all = [...(known?.seqs ?? []), ...seqs.filter((seq) => seq > knownTo && seq <= settledTo)];
    settledBurned.delete(key);
    if (all.length > MAX_SEQS_PER_CONVERSATION) {
      tooMany.add(key);
      if (tooMany.size > maxConversations) tooMany.delete(tooMany.values().next().value!);
      return;
    }
    settledBurned.set(key, { upTo: settledTo, seqs: all, generation });
    if (settledBurned.size > maxConversations) settledBurned.delete(settledBurned.keys().next().value!);
  }
  /**
   * Where a query for tombstones above `after` starts: from what is already known, so that its
   * answer extends the cache (the few tombstones between are read once more), unless the
   * conversation has too many to hold.
   */
  const queryFrom = (key: string, after: number, knownTo: number) => (tooMany.has(key) ? after : Math.min(after, knownTo));
  /** How many of the ascending `seqs` lie in (after, upTo]. */
  const countIn = (seqs: number[], after: number, upTo: number) => {
    let n = 0;
    for (const seq of seqs) if (seq > after && seq <= upTo) n++;
    return n;
  };

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
     * (a burned seq was never a message). `settledSeq` is the conversation's watermark as just read:
     * the part of a range at or below what this instance already holds as final (see `settledBurned`)
     * is answered from memory, and one query for the whole listing page covers the rest (served by
     * the unique {conversationId, seq} index); conversations with none are absent from the map.
     * `generation`: the conversation's `restoreGeneration` read with it (see `settledBurned`).
     */
    async burnedCounts(ranges: { conversationId: ObjectId; after: number; upTo: number; settledSeq?: number; generation?: string }[]): Promise<Map<string, number>> {
      const counts = new Map<string, number>();
      const add = (key: string, n: number) => { if (n > 0) counts.set(key, (counts.get(key) ?? 0) + n); };
      const rest: { conversationId: ObjectId; key: string; after: number; from: number; upTo: number; settledSeq: number; generation: string }[] = [];
      for (const r of ranges) {
        if (r.upTo <= r.after) continue;
        const key = r.conversationId.toHexString();
        const generation = r.generation ?? '';
        const known = knownAt(key, generation);
        const knownTo = known?.upTo ?? 0;
        if (known) add(key, countIn(known.seqs, r.after, Math.min(r.upTo, knownTo)));
        if (r.upTo > knownTo) rest.push({ conversationId: r.conversationId, key, after: Math.max(r.after, knownTo), from: queryFrom(key, Math.max(r.after, knownTo), knownTo), upTo: r.upTo, settledSeq: r.settledSeq ?? 0, generation });
      }
      if (!rest.length) return counts;
      const docs = await skipped.find(
        { $or: rest.map((r) => ({ conversationId: r.conversationId, seq: { $gt: r.from, $lte: r.upTo } })) },
        { projection: { _id: 0, conversationId: 1, seq: 1 }, readConcern: majority },
      ).toArray();
      const byKey = new Map<string, number[]>();
      for (const d of docs) {
        const key = d.conversationId.toHexString();
        const list = byKey.get(key);
        if (list) list.push(d.seq);
        else byKey.set(key, [d.seq]);
      }
      for (const r of rest) {
        const seqs = (byKey.get(r.key) ?? []).sort((a, b) => a - b);
        add(r.key, countIn(seqs, r.after, r.upTo));
        learn(r.key, r.from, Math.min(r.upTo, r.settledSeq), seqs, r.generation);
      }
      return counts;
    },
    /**
     * Burned seqs in (after, upTo], ascending. `settledSeq`: the conversation's watermark, read before
     * this call (history reads it first); the range at or below what this instance already holds as
     * final is answered from memory, only the rest is queried. `generation`: the conversation's
     * `restoreGeneration` read with the watermark.
     */
    async burnedIn(conversationId: ObjectId, after: number, upTo: number, settledSeq = 0, generation = ''): Promise<number[]> {
      if (upTo <= after) return [];
      const key = conversationId.toHexString();
      const known = knownAt(key, generation);
      const knownTo = known?.upTo ?? 0;
      const fromMemory = known ? known.seqs.filter((seq) => seq > after && seq <= Math.min(upTo, knownTo)) : [];
      if (upTo <= knownTo) return fromMemory;
      const above = Math.max(after, knownTo);
      const from = queryFrom(key, above, knownTo);
      const docs = await skipped.find({ conversationId, seq: { $gt: from, $lte: upTo } }, { projection: { _id: 0, seq: 1 }, readConcern: majority }).sort({ seq: 1 }).toArray();
      const queried = docs.map((d) => d.seq);
      learn(key, from, Math.min(upTo, settledSeq), queried, generation);
      return [...fromMemory, ...queried.filter((seq) => seq > above)];
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
    /**
     * `raiseSettled` for many conversations in one unordered bulk write: the settler's raises of a
     * tick (at 1,000 conversations each sending about once a second, one update per conversation
     * per tick was half an operation per message).
     */
    async raiseSettledMany(raises: { conversationId: ObjectId; seq: number }[]): Promise<void> {
      if (!raises.length) return;
      await store.conversations.bulkWrite(
        raises.map(({ conversationId, seq }) => ({ updateOne: { filter: { _id: conversationId }, update: { $max: { settledSeq: seq } } } })),
        { ordered: false },
      );
    },
  };
}

export type SeqsRepository = ReturnType<typeof seqsRepository>;
