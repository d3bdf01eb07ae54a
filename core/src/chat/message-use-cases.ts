import { AppError } from '../errors';
import type { AttachmentRef } from '../store/documents';
import type { MessageDoc } from '../store/documents';
import { conversationIdOf, newObjectId, toObjectId, type ConversationId } from '../domain/ids';
import { requireMembership, requireMembershipWithConversation } from './access';
import type { ChatDeps } from './deps';
import type { MembershipCache } from './membership-cache';
import { createSendBatcher } from './send-batcher';
import { highlight, searchTerms, type Fragment } from './search-terms';
import { historyQuerySchema, markReadSchema, parseInput, searchQuerySchema, sendMessageSchema } from './validation';
import { messageViewCache } from './message-view-cache';
import { messageView, type MessageView } from './views';

export function messageUseCases(deps: ChatDeps, membershipCache: MembershipCache) {
  const sendSchema = sendMessageSchema(deps.maxMessageChars);
  const views = messageViewCache();
  const batcher = createSendBatcher({
    conversations: deps.conversations,
    messages: deps.messages,
    now: deps.now,
    maxQueue: deps.maxSendQueue,
    deadlineMs: deps.sendDeadlineMs,
    seqs: deps.seqs,
    settleMs: deps.seqSettleMs,
    onReserved: (conversationId) => deps.settler?.track(conversationIdOf(conversationId)),
    onStored: (conversationId, from, to, settledSeq) => deps.settler?.stored(conversationIdOf(conversationId), from, to, settledSeq),
    members: { present: (pairs) => deps.memberships.present(pairs) },
    // Runs inside the batch, in seq order, before any sender of the batch is answered.
    publish: (doc, acceptedAt) => {
      deps.observePersist((performance.now() - acceptedAt) / 1000);
      const view = messageView(doc);
      // Stored: the next history page that shows it needs no decoding (a copy later removed is never asked for).
      views.put(view);
      deps.events.messageCreated(view, acceptedAt);
    },
  });

  async function resolveAttachments(userId: string, conversationId: string, ids: string[] | undefined): Promise<AttachmentRef[]> {
    if (!ids?.length) return [];
    if (!deps.attachments) throw new AppError('unavailable', 'Attachments are not configured on this server.');
    return deps.attachments.resolveAttachments(userId, conversationId, ids);
  }

  /** Once the message is durable its uploads are no longer orphans; repeating this is harmless. */
  async function markAttached(doc: MessageDoc): Promise<void> {
    if (doc.attachments?.length && deps.attachments) await deps.attachments.markAttached(doc.attachments.map((a) => a.id), doc._id.toHexString());
  }

  return {
    /**
     * Stores a message and returns it once the write is durable (batched with concurrent sends).
     * The same clientMsgId from the same sender returns the original (created: false) at any time
     * and broadcasts it again (its first ack may have been lost); the unique index decides, so
     * concurrent retries cannot create a second copy. Not confirmed stored: a retryable `unavailable`.
     */
    async send(userId: string, id: ConversationId, input: unknown): Promise<{ message: MessageView; created: boolean }> {
      const acceptedAt = performance.now();
      const conversationId = toObjectId(id);
      const body = parseInput(sendSchema, input);
      const cacheKey = id;
      if (!membershipCache.has(cacheKey, userId)) {
        await requireMembership(deps, conversationId, userId);
        membershipCache.remember(cacheKey, userId);
      }
      await deps.limitMessages(userId);
      const attachments = await resolveAttachments(userId, cacheKey, body.attachmentIds);
      const draft = { _id: newObjectId(), conversationId, senderId: userId, clientMsgId: body.clientMsgId, text: body.text, createdAt: deps.now(), terms: searchTerms(body.text) };
      const outcome = await batcher.submit(attachments.length ? { ...draft, attachments } : draft, acceptedAt);
      if ('closed' in outcome) {
        const conversation = await deps.conversations.findById(conversationId);
        if (conversation?.archivedAt) throw new AppError('conflict', 'This conversation is archived; it accepts no new messages.', { reason: 'archived' });
        throw new AppError('not_found', 'No such conversation.');
      }
      if ('notMember' in outcome) {
        // Removed (on any instance) before this send reached the database: the right 403/404, and
        // this instance's cache forgets the membership whatever notice it did or did not get.
        membershipCache.forget(cacheKey, userId);
        await requireMembership(deps, conversationId, userId);
        throw new AppError('forbidden', 'You are not a member of this conversation.');
      }
      if ('reusedIn' in outcome) {
        throw new AppError('conflict', 'This clientMsgId was already used for another conversation.', { reason: 'client_msg_id_reused' });
      }
      // Already broadcast (in seq order, by the batch); the ack waits for the uploads to be claimed
      // so that a failure here is retried (the retry finds the original and claims them again).
      await markAttached(outcome.stored);
      return { message: messageView(outcome.stored), created: outcome.created };
    },

    /**
     * A page of history plus what tells "not yet" from "never" (README "Delivery contract"):
     * `skipped` = burned seqs in the range the page covers, `settledSeq` = every seq ≤ it is stored
     * or burned (capped at the end of the covered range, so a full page never vouches for seqs it
     * does not show), `lastSeq` = highest seq reserved so far.
     *
     * Order matters: the watermark is read first, then the messages, then the tombstones. Stored
     * and burned are both final, so everything ≤ the watermark read first is in one of the later
     * reads (a seq ≤ settledSeq in neither list cannot happen; a client retries the page if it does).
     */
    async history(userId: string, id: ConversationId, query: unknown): Promise<{ items: MessageView[]; nextCursor: number | null; skipped: number[]; settledSeq: number; lastSeq: number }> {
      const conversationId = toObjectId(id);
      const q = parseInput(historyQuerySchema, query);
      const { conversation } = await requireMembershipWithConversation(deps, conversationId, userId);
      const lastSeq = conversation?.lastSeq ?? 0;
      const base = conversation?.settledSeq ?? 0;
      const scan = await deps.seqs.scan(conversationId, base, lastSeq);
      // A gap (or a watermark worth storing) is the settler's business, on whichever instance is asked.
      if (scan.gaps.length || scan.settled > base) deps.settler?.track(id);
      const keys = await deps.messages.pageKeys(conversationId, { afterSeq: q.afterSeq, beforeSeq: q.beforeSeq }, q.limit);
      const items = await views.viewsOf(keys, deps.messages.byIds);
      // Fullness, cursor and range by what the database listed (a message removed between the two
      // reads is left out of the items, and the page still covers its seq).
      const full = keys.length === q.limit;
      const oldest = keys.length ? keys[0]!.seq : 0;
      const newest = keys.length ? keys[keys.length - 1]!.seq : 0;
      // Going forward (afterSeq) the cursor is the last seq; going back it is the first.
      const nextCursor = !full ? null : q.afterSeq !== undefined ? newest : oldest;
      // The range this page covers: (from, to].
      const from = q.afterSeq !== undefined ? q.afterSeq : full ? oldest - 1 : 0;
      const to = q.afterSeq !== undefined ? (full ? newest : Math.max(lastSeq, newest)) : q.beforeSeq !== undefined ? q.beforeSeq - 1 : Math.max(lastSeq, newest);
      const skipped = await deps.seqs.burnedIn(conversationId, from, to, base, conversation?.restoreGeneration);
      return { items, nextCursor, skipped, settledSeq: Math.min(scan.settled, to), lastSeq: Math.max(lastSeq, newest) };
    },

    async search(userId: string, id: ConversationId, query: unknown): Promise<{ items: (MessageView & { fragments: Fragment[] })[] }> {
      const conversationId = toObjectId(id);
      const q = parseInput(searchQuerySchema, query);
      await requireMembership(deps, conversationId, userId);
      const terms = searchTerms(q.q);
      if (!terms.length) return { items: [] };
      const docs = await deps.messages.search(conversationId, terms, q.limit);
      return { items: docs.map((doc) => ({ ...messageView(doc), fragments: [highlight(doc.text, terms)] })) };
    },

    /** Moves the reader's position forward (never back) and tells the other members. */
    async markRead(userId: string, id: ConversationId, input: unknown): Promise<{ conversationId: ConversationId; lastReadSeq: number }> {
      const conversationId = toObjectId(id);
      const { seq } = parseInput(markReadSchema, input);
      const { membership, conversation } = await requireMembershipWithConversation(deps, conversationId, userId);
      const bounded = Math.min(seq, conversation?.lastSeq ?? 0);
      // A read that moves nothing writes and broadcasts nothing (a replayed or stale mark_read is free).
      if (bounded <= membership.lastReadSeq) return { conversationId: id, lastReadSeq: membership.lastReadSeq };
      const moved = await deps.memberships.markRead(conversationId, userId, bounded);
      if (moved === undefined) return { conversationId: id, lastReadSeq: Math.max(membership.lastReadSeq, bounded) };
      deps.events.readMoved({ conversationId: id, userId, seq: moved });
      return { conversationId: id, lastReadSeq: moved };
    },
  };
}
