/**
 * The conversation list's unread counts, kept true between list loads (no DOM: unit-tested in Node,
 * core/client/test/unread.test.ts).
 *
 * The core's count (`unreadCount` of GET /conversations) is the truth as of the `lastSeq` it was
 * computed at. Messages that arrive live afterwards (raw broadcasts: possibly redelivered, possibly
 * out of order) are counted by seq on top of it, so one seq is counted once whatever the wire does. A
 * list load (after a reconnect, a `conversation_resync`, or the ↻ button) replaces the core's part and
 * keeps only the live seqs above the new `lastSeq`: a message that the core has already counted is
 * never counted twice, one the answer raced is not lost.
 */
export interface ListedConversation {
  id: string;
  lastSeq: number;
  unreadCount?: number;
  lastReadSeq?: number;
}

interface Entry {
  /** The core's count, of the seqs up to `baseSeq`. */
  base: number;
  baseSeq: number;
  /** Read up to here (this tab or another device): nothing at or below it counts. */
  readSeq: number;
  /** Seqs above `baseSeq` that arrived live from someone else. */
  live: Set<number>;
}

export class UnreadCounts {
  private readonly entries = new Map<string, Entry>();

  /**
   * The core's view of one conversation (a list load). A read made here that the core had not stored
   * when it answered (mark_read still on its way) is applied on top, so an opened conversation does
   * not show its old count again.
   */
  reconcile(view: ListedConversation): void {
    const previous = this.entries.get(view.id);
    const live = new Set([...(previous?.live ?? [])].filter((seq) => seq > view.lastSeq));
    this.entries.set(view.id, { base: view.unreadCount ?? 0, baseSeq: view.lastSeq, readSeq: view.lastReadSeq ?? 0, live });
    if (previous && previous.readSeq > (view.lastReadSeq ?? 0)) this.read(view.id, previous.readSeq);
  }

  /** Conversations no longer listed. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of [...this.entries.keys()]) if (!ids.has(id)) this.entries.delete(id);
  }

  /**
   * A message seen live. Returns whether the count changed. One's own messages never count (sent
   * from this tab or another device, they were read while written).
   */
  onMessage(conversationId: string, seq: number, fromMe: boolean): boolean {
    const entry = this.entries.get(conversationId);
    if (!entry || fromMe || seq <= entry.baseSeq || seq <= entry.readSeq || entry.live.has(seq)) return false;
    entry.live.add(seq);
    return true;
  }

  /**
   * Read up to `seq` (opened here, or a `message_read` of one's own from another device). Up to the
   * core's `lastSeq` that is all of its count; below it, at most the seqs above `seq` remain (fewer
   * when some were burned: the next list load says exactly).
   */
  read(conversationId: string, seq: number): void {
    const entry = this.entries.get(conversationId);
    if (!entry) return;
    entry.readSeq = Math.max(entry.readSeq, seq);
    entry.base = seq >= entry.baseSeq ? 0 : Math.min(entry.base, entry.baseSeq - seq);
    for (const s of [...entry.live]) if (s <= seq) entry.live.delete(s);
  }

  count(conversationId: string): number {
    const entry = this.entries.get(conversationId);
    return entry ? entry.base + entry.live.size : 0;
  }
}
