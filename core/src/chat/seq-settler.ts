import type { ConversationsRepository } from '../store/conversations-repository';
import { toObjectId, type ConversationId } from '../domain/ids';
import type { SeqsRepository } from '../store/seqs-repository';

export interface SeqSettlerDeps {
  conversations: Pick<ConversationsRepository, 'findById'>;
  seqs: SeqsRepository;
  /** A reserved seq still neither stored nor burned this long after this instance first saw it missing is burned. */
  settleMs: number;
  now(): Date;
  /** Monotonic ms (performance.now by default): ages are durations, never wall-clock dates. */
  monotonic?: () => number;
  onError?(error: unknown): void;
}

/** Most watermark raises in one bulk write. */
const RAISE_CHUNK = 1_000;

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
  /** Per conversation: seq → when this instance first saw it missing (only seqs still missing are kept). */
  const firstSeen = new Map<ConversationId, Map<number, number>>();
  const tickMs = Math.max(50, Math.floor(deps.settleMs / 4));
  /**
   * Per conversation: the highest seq this instance knows is settled (everything at or below it is
   * stored or burned), from its own scans and from its own ranges stored in full right above it.
   * Bounded: the oldest entry goes (it is learned again by a scan).
   */
  const known = new Map<ConversationId, number>();
  /** Watermarks learned without a scan, written by the next tick (one `$max` update each). */
  const raise = new Map<ConversationId, number>();
  const MAX_KNOWN = 100_000;
  const learn = (id: ConversationId, seq: number) => {
    const before = known.get(id);
    if (before !== undefined && before >= seq) return;
    known.delete(id);
    known.set(id, seq);
    if (known.size > MAX_KNOWN) known.delete(known.keys().next().value!);
  };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function settle(id: ConversationId): Promise<void> {
    const objectId = toObjectId(id);
    const conversation = await deps.conversations.findById(objectId);
    const base = conversation?.settledSeq ?? 0;
    if (conversation) learn(id, base);
    if (!conversation || base >= conversation.lastSeq) {
      candidates.delete(id);
      firstSeen.delete(id);
      return;
    }
    const { settled, gaps, scannedTo } = await deps.seqs.scan(objectId, base, conversation.lastSeq);
    const at = monotonic();
    const due: number[] = [];
    const before = firstSeen.get(id);
    const now = new Map<number, number>();
    for (const seq of gaps) {
      const seen = before?.get(seq) ?? at;
      if (at - seen >= deps.settleMs) due.push(seq);
      else now.set(seq, seen);
    }
    // Burning checks the messages first: a seq stored meanwhile is settled too. (If it throws, the
    // ages seen before stay and the next tick tries again.)
    if (due.length) await deps.seqs.burn(objectId, due, deps.now());
    firstSeen.set(id, now);
    const open = new Set(gaps.filter((seq) => !due.includes(seq)));
    let watermark = settled;
    while (watermark < scannedTo && !open.has(watermark + 1)) watermark++;
    if (watermark > base) await deps.seqs.raiseSettled(objectId, watermark);
    learn(id, watermark);
    if (watermark >= conversation.lastSeq && !open.size) candidates.delete(id);
  }

  async function tick(): Promise<void> {
    // A candidate's scan raises it; the others go in one bulk write per chunk.
    const raises = [...raise].filter(([id]) => !candidates.has(id));
    raise.clear();
    for (let i = 0; i < raises.length; i += RAISE_CHUNK) {
      if (stopped) return;
      const chunk = raises.slice(i, i + RAISE_CHUNK);
      try {
        await deps.seqs.raiseSettledMany(chunk.map(([id, seq]) => ({ conversationId: toObjectId(id), seq })));
      } catch (error) {
        for (const [id] of chunk) candidates.add(id); // the scan finds the same watermark
        deps.onError?.(error);
      }
    }
    for (const id of [...candidates]) {
      if (stopped) return;
      try {
        await settle(id);
      } catch (error) {
        deps.onError?.(error); // the next tick tries again
      }
    }
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
    },
    /**
     * This instance stored every seq `from..to` it reserved in one allocation. When everything below
     * `from` is known settled, so is everything up to `to`: the watermark moves without reading the
     * messages (a range scan: the whole collection on the local server, issue 23). Otherwise (another
     * instance allocated in between, or nothing is known yet) the conversation is scanned as usual.
     * `settledSeq`: the conversation's watermark as the allocation read it — a lower bound (it only
     * rises), so a conversation this instance has not seen yet needs no scan when the watermark was
     * right below the allocation (rt.10k: 1,000 first-contact scans of 9-15 ms each, one after another,
     * held the database for most of the measured window).
     */
    stored(id: ConversationId, from: number, to: number, settledSeq?: number): void {
      if (settledSeq !== undefined) learn(id, settledSeq);
      const below = known.get(id);
      if (!candidates.has(id) && below !== undefined && below >= from - 1) {
        learn(id, to);
        raise.set(id, Math.max(to, raise.get(id) ?? 0));
      } else candidates.add(id);
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
