import type { HistoryPage, MessageView } from './protocol';

export interface SequencerHost {
  fetchPage(conversationId: string, afterSeq: number, limit: number): Promise<HistoryPage>;
  deliver(message: MessageView): void;
  skipped(conversationId: string, seqs: number[]): void;
  /** Still waiting for seqs that may arrive (above the settled watermark) after `attempt` re-fetches. */
  waiting(conversationId: string, info: { high: number; attempt: number }): void;
  schedule(fn: () => void, ms: number): () => void;
  random(): number;
}

const SEEN_IDS = 2_000;

/**
 * One conversation's delivery to the application (CONTRACT.md "client repair rule"): messages in
 * seq order, each once. `high` is the highest contiguous seq delivered (or burned). A gap or a
 * `conversation_resync` fetches `afterSeq=high`; burned seqs (`skipped`) are stepped over; seqs above
 * `settledSeq` that are missing may still be stored, so they are waited for — never declared missing.
 */
export class ConversationSequencer {
  /** undefined until the join ack says where "latest" is (when the app gave no starting point). */
  high: number | undefined;
  private knownLast = 0;
  private readonly pending = new Map<number, MessageView>();
  private readonly burned = new Set<number>();
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  private repairing = false;
  private repairAgain = false;
  private waitAttempt = 0;
  private cancelWait?: () => void;
  private closed = false;

  constructor(
    readonly conversationId: string,
    private readonly host: SequencerHost,
    afterSeq: number | undefined,
    private readonly pageSize = 100,
  ) {
    this.high = afterSeq;
  }

  /** The join ack (after every (re)connect: subscribe first, then catch up). */
  onJoined(lastSeq: number): void {
    if (this.high === undefined) {
      this.high = lastSeq;
      for (const seq of [...this.pending.keys()]) if (seq <= lastSeq) this.pending.delete(seq);
    }
    this.knownLast = Math.max(this.knownLast, lastSeq);
    this.advance();
    if (this.needsRepair()) void this.repair();
  }

  onBroadcast(message: MessageView): void {
    this.knownLast = Math.max(this.knownLast, message.seq);
    this.accept(message);
    if (this.high !== undefined && this.needsRepair()) void this.repair();
  }

  onResync(lastSeq: number): void {
    this.knownLast = Math.max(this.knownLast, lastSeq);
    if (this.high !== undefined) void this.repair(true);
  }

  close(): void {
    this.closed = true;
    this.cancelWait?.();
  }

  /** Seqs not delivered yet that the client knows exist (for tests and UIs). */
  get behind(): number {
    return this.high === undefined ? 0 : Math.max(0, this.knownLast - this.high);
  }

  private needsRepair(): boolean {
    return this.high !== undefined && (this.pending.size > 0 || this.knownLast > this.high);
  }

  private accept(message: MessageView): void {
    if (this.seen.has(message.id)) return;
    if (this.high !== undefined && message.seq <= this.high) return;
    this.pending.set(message.seq, message);
    this.advance();
  }

  private advance(): void {
    if (this.high === undefined) return;
    const skipped: number[] = [];
    for (;;) {
      const next: number = this.high + 1;
      const message = this.pending.get(next);
      if (message) {
        this.pending.delete(next);
        this.high = next;
        if (this.seen.has(message.id)) continue;
        this.remember(message.id);
        this.host.deliver(message);
      } else if (this.burned.has(next)) {
        this.burned.delete(next);
        this.high = next;
        skipped.push(next);
      } else break;
    }
    if (skipped.length) this.host.skipped(this.conversationId, skipped);
    if (!this.needsRepair()) {
      this.waitAttempt = 0;
      this.cancelWait?.();
      this.cancelWait = undefined;
    }
  }

  private remember(id: string): void {
    this.seen.add(id);
    this.seenOrder.push(id);
    if (this.seenOrder.length > SEEN_IDS) this.seen.delete(this.seenOrder.shift()!);
  }

  /** Fetch-and-fill until caught up; missing seqs that may still arrive are waited for with backoff. */
  async repair(force = false): Promise<void> {
    if (this.repairing) {
      this.repairAgain = true;
      return;
    }
    if (!force && !this.needsRepair()) return;
    this.repairing = true;
    this.cancelWait?.();
    this.cancelWait = undefined;
    let retryMs: number | undefined;
    try {
      for (;;) {
        this.repairAgain = false;
        if (this.closed || this.high === undefined) return;
        const page = await this.host.fetchPage(this.conversationId, this.high, this.pageSize);
        if (this.closed) return;
        for (const item of [...page.items].sort((a, b) => a.seq - b.seq)) {
          this.knownLast = Math.max(this.knownLast, item.seq);
          this.accept(item);
        }
        for (const seq of page.skipped ?? []) if (seq > this.high) this.burned.add(seq);
        if (typeof page.lastSeq === 'number') this.knownLast = Math.max(this.knownLast, page.lastSeq);
        this.advance();
        const full = page.items.length >= this.pageSize;
        if (full && this.needsRepair()) continue;
        if (this.repairAgain && this.needsRepair()) continue;
        if (!this.needsRepair()) return;
        // Below the watermark everything is stored or burned, so a hole there means this page raced
        // a write: fetch again shortly. Above it (or with no watermark): not yet, wait for it.
        this.waitAttempt++;
        this.host.waiting(this.conversationId, { high: this.high, attempt: this.waitAttempt });
        retryMs = this.waitDelay();
        return;
      }
    } catch {
      this.waitAttempt++;
      retryMs = this.waitDelay();
    } finally {
      this.repairing = false;
      if (retryMs !== undefined && !this.closed) {
        this.cancelWait = this.host.schedule(() => {
          this.cancelWait = undefined;
          void this.repair();
        }, retryMs);
      }
    }
  }

  /** 250 ms doubling to 5 s, with "equal jitter" (never zero: a tight re-fetch loop helps nobody). */
  private waitDelay(): number {
    const ceiling = Math.min(5_000, 250 * 2 ** Math.min(this.waitAttempt - 1, 10));
    return Math.round(ceiling / 2 + (this.host.random() * ceiling) / 2);
  }
}
