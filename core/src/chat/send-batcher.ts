import { AppError } from '../errors';
import type { MessageDoc } from '../store/documents';
import type { ConversationsRepository } from '../store/conversations-repository';
import type { MessagesRepository } from '../store/messages-repository';

export type Draft = Omit<MessageDoc, 'seq'>;
export type BatchOutcome = { stored: MessageDoc } | { duplicateOf: 'clientMsgId' } | { closed: true };

interface Pending {
  draft: Draft;
  attempts: number;
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

/** A seq clash only happens when the local server hands two allocations the same value; a few retries settle it. */
const MAX_SEQ_ATTEMPTS = 8;

/**
 * Groups the sends that arrive in the same event-loop turn into one write. Per conversation in a
 * batch, one `$inc` reserves as many seqs as it has messages; then one unordered insertMany stores
 * the whole batch, and its acknowledgement makes every message in it durable. Under load batches
 * grow by themselves (what arrives during one write forms the next batch); when idle a batch holds
 * one message and adds no delay.
 */
export function createSendBatcher(deps: { conversations: ConversationsRepository; messages: MessagesRepository; now(): Date; maxBatch?: number }) {
  const maxBatch = deps.maxBatch ?? 500;
  const queue: Pending[] = [];
  let scheduled = false;
  let flushing = false;

  // One batch in flight at a time: what arrives meanwhile forms the next batch, and seqs are
  // stored and acknowledged (and so broadcast) in the order they were allocated.
  function schedule(): void {
    if (scheduled || flushing) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (!queue.length) return;
      flushing = true;
      void flush(queue.splice(0, maxBatch)).finally(() => {
        flushing = false;
        if (queue.length) schedule();
      });
    });
  }

  async function allocate(batch: Pending[]): Promise<Pending[]> {
    const byConversation = new Map<string, Pending[]>();
    for (const item of batch) {
      const key = item.draft.conversationId.toHexString();
      const list = byConversation.get(key);
      if (list) list.push(item);
      else byConversation.set(key, [item]);
    }
    const now = deps.now();
    const ready: Pending[] = [];
    await Promise.all([...byConversation.values()].map(async (items) => {
      const last = await deps.conversations.allocateSeqs(items[0]!.draft.conversationId, items.length, now);
      if (last === undefined) {
        for (const item of items) item.resolve({ closed: true });
        return;
      }
      items.forEach((item, i) => {
        (item.draft as MessageDoc).seq = last - items.length + 1 + i;
        ready.push(item);
      });
    }));
    return ready;
  }

  async function flush(batch: Pending[]): Promise<void> {
    try {
      const ready = await allocate(batch);
      const outcomes = await deps.messages.insertMany(ready.map((item) => item.draft as MessageDoc));
      outcomes.forEach((outcome, i) => {
        const item = ready[i]!;
        if (outcome.ok) item.resolve({ stored: item.draft as MessageDoc });
        else if (outcome.conflict === 'clientMsgId') item.resolve({ duplicateOf: 'clientMsgId' });
        else if (++item.attempts < MAX_SEQ_ATTEMPTS) queue.push(item);
        else item.reject(new AppError('unavailable', 'Could not allocate a message sequence number; retry with the same clientMsgId.', { retryAfter: 1 }));
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
  }

  return {
    /** Resolves once the message is durably stored (or is known to be a retry, or the conversation is closed). */
    submit(draft: Draft): Promise<BatchOutcome> {
      return new Promise((resolve, reject) => {
        queue.push({ draft, attempts: 0, resolve, reject });
        schedule();
      });
    },
  };
}

export type SendBatcher = ReturnType<typeof createSendBatcher>;
