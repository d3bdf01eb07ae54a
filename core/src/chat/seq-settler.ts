import type { ConversationsRepository } from '../store/conversations-repository';
import { toObjectId, type ConversationId } from '../domain/ids';
import type { SeqsRepository } from '../store/seqs-repository';

export interface SeqSettlerDeps {
  conversations: Pick<ConversationsRepository, 'findMany'>;
  seqs: Pick<SeqsRepository, 'scanMany' | 'burn' | 'raiseSettledMany'>;
  /** A reserved seq still neither stored nor burned this long after this instance first saw it missing is burned. */
  settleMs: number;
  now(): Date;
  /** Monotonic ms (performance.now by default): ages are durations, never wall-clock dates. */
  monotonic?: () => number;
  onError?(error: unknown): void;
}

/**
 * Burns reserved-but-unused seqs and raises each conversation's `settledSeq` watermark.
 *
 * A seq is reserved by one `$inc` and then stored by its writer within the send deadline — or
 * never: the writer crashed (SIGKILL), the database refused the document, or the local server
 * handed two allocations overlapping ranges. This instance looks at the conversations it
 * allocated in or was asked about (history pages with a gap); a gap it has seen for `settleMs`
 * (by the monotonic clock, and necessarily after the seq was reserved) is burned. The age rule is
 * what makes this safe without a transaction: a writer whose insert was acknowledged sooner than
 * settleMs after it reserved the seq has stored it before any settler could decide to burn it, and
 * a slower writer checks the tombstones itself (chat/send-batcher.ts).
 */
export function createSeqSettler(deps: SeqSettlerDeps) {
  const monotonic = deps.monotonic ?? (() => performance.now());
  const candidates = new Set<ConversationId>();
  /** Tracked since the current pass started. */
  const retracked = new Set<ConversationId>();
  /** Per conversation: seq → when this instance first saw it missing (only seqs still missing are kept). */
  const firstSeen = new Map<ConversationId, Map<number, number>>();
  const tickMs = Math.max(50, Math.floor(deps.settleMs / 4));
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  /**
   * One pass over every candidate: one read of their conversations, one scan of all their unsettled
   * ranges (two queries), burns where due (per conversation, rare), one bulk write of the raised
   * watermarks — a fixed handful of database calls per tick instead of four per conversation
   * (issue 23: under send load the per-conversation passes cost ~0.5 database calls per message).
   */
  async function tick(): Promise<void> {
    const ids = [...candidates];
    if (!ids.length || stopped) return;
    // A conversation tracked again while this pass runs (a new allocation) is not dropped by it.
    retracked.clear();
    const drop = (id: ConversationId) => {
      if (retracked.has(id)) return;
      candidates.delete(id);
      firstSeen.delete(id);
    };
    let docs: Awaited<ReturnType<SeqSettlerDeps['conversations']['findMany']>>;
    let scans: Awaited<ReturnType<SeqSettlerDeps['seqs']['scanMany']>>;
    const open: { id: ConversationId; objectId: ReturnType<typeof toObjectId>; base: number; lastSeq: number }[] = [];
    try {
      docs = await deps.conversations.findMany(ids.map(toObjectId));
      const byId = new Map(docs.map((d) => [d._id.toHexString(), d]));
      for (const id of ids) {
        const conversation = byId.get(toObjectId(id).toHexString());
        const base = conversation?.settledSeq ?? 0;
        if (!conversation || base >= conversation.lastSeq) {
          drop(id);
          continue;
        }
        open.push({ id, objectId: conversation._id, base, lastSeq: conversation.lastSeq });
      }
      if (!open.length) return;
      scans = await deps.seqs.scanMany(open.map((c) => ({ conversationId: c.objectId, from: c.base, to: c.lastSeq })));
    } catch (error) {
      deps.onError?.(error); // the next tick tries again
      return;
    }
    const at = monotonic();
    const raises: { conversationId: ReturnType<typeof toObjectId>; seq: number }[] = [];
    const done: ConversationId[] = [];
    for (const [i, c] of open.entries()) {
      if (stopped) return;
      const { settled, gaps, scannedTo } = scans[i]!;
      const due: number[] = [];
      const before = firstSeen.get(c.id);
      const now = new Map<number, number>();
      for (const seq of gaps) {
        const seen = before?.get(seq) ?? at;
        if (at - seen >= deps.settleMs) due.push(seq);
        else now.set(seq, seen);
      }
      // Burning checks the messages first: a seq stored meanwhile is settled too. (If it throws, the
      // ages seen before stay and the next tick tries again.)
      try {
        if (due.length) await deps.seqs.burn(c.objectId, due, deps.now());
      } catch (error) {
        deps.onError?.(error);
        continue;
      }
      firstSeen.set(c.id, now);
      const gapsOpen = new Set(gaps.filter((seq) => !due.includes(seq)));
      let watermark = settled;
      while (watermark < scannedTo && !gapsOpen.has(watermark + 1)) watermark++;
      if (watermark > c.base) raises.push({ conversationId: c.objectId, seq: watermark });
      if (watermark >= c.lastSeq && !gapsOpen.size) done.push(c.id);
    }
    try {
      await deps.seqs.raiseSettledMany(raises);
    } catch (error) {
      deps.onError?.(error); // the watermarks are raised on the next tick
      return;
    }
    for (const id of done) if (!retracked.has(id)) candidates.delete(id);
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = undefined;
        schedule();
      });
    }, tickMs);
    timer.unref();
  }

  return {
    /** A conversation that may have unsettled seqs (this instance allocated in it, or a reader found a gap). */
    track(id: ConversationId): void {
      candidates.add(id);
      retracked.add(id);
    },
    start(): void {
      stopped = false;
      schedule();
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    /** One pass now (tests). */
    settleNow: tick,
  };
}

export type SeqSettler = ReturnType<typeof createSeqSettler>;
