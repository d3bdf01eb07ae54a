/**
 * Remembers recent positive membership checks so that a busy conversation's sends skip the lookup.
 * Leaving forgets the entry at once on this instance and, through the Socket.IO adapter, on the
 * others; the TTL bounds how long a lost invalidation could matter.
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
      if (expires < now()) {
        entries.delete(k);
        return false;
      }
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
