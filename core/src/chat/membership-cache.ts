/**
 * Remembers recent positive membership checks so that a busy conversation's sends skip the lookup.
 * Leaving forgets the entry at once on this instance and, through the Socket.IO adapter, on the
 * others. An entry lasts `ttlMs` after its last use (a hit extends it): what makes a removal final
 * for sends is the batch's re-read at the membership epoch (send-batcher.ts `admit`), not this
 * cache, so a lost invalidation costs at most one refused send (its seq burned), whatever the TTL.
 * A fixed TTL made every user who keeps sending re-read the membership every `ttlMs`: at 10,000
 * sockets each sending every 10 s, a third to a half of the sends (issue 23).
 */
import type { ConversationId } from '../domain/ids';

export function createMembershipCache(options: { ttlMs: number; maxEntries: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const entries = new Map<string, number>();
  const key = (conversationId: ConversationId, userId: string) => `${conversationId}:${userId}`;
  return {
    has(conversationId: ConversationId, userId: string): boolean {
      const k = key(conversationId, userId);
      const expires = entries.get(k);
      if (expires === undefined) return false;
      const at = now();
      entries.delete(k);
      if (expires < at) return false;
      // Re-inserted: Maps iterate in insertion order, so the size bound drops the least recently used.
      entries.set(k, at + options.ttlMs);
      return true;
    },
    remember(conversationId: ConversationId, userId: string): void {
      const k = key(conversationId, userId);
      entries.delete(k);
      entries.set(k, now() + options.ttlMs);
      // Maps iterate in insertion order: the first key is the oldest.
      if (entries.size > options.maxEntries) entries.delete(entries.keys().next().value!);
    },
    forget(conversationId: ConversationId, userId: string): void {
      entries.delete(key(conversationId, userId));
    },
  };
}

export type MembershipCache = ReturnType<typeof createMembershipCache>;
