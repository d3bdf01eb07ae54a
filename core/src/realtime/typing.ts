import type Redis from 'ioredis';

/**
 * Who is typing in each conversation: ephemeral, each entry expiring on its own (a client that
 * vanishes mid-sentence stops "typing" after the TTL). Shared by all instances through Redis
 * when configured, so someone joining on another instance sees who is typing right away.
 */
export interface TypingState {
  start(conversationId: string, userId: string): Promise<void>;
  stop(conversationId: string, userId: string): Promise<void>;
  list(conversationId: string): Promise<string[]>;
}

export function memoryTyping(ttlMs: number, now: () => number = Date.now): TypingState & { trackedConversations(): number } {
  const byConversation = new Map<string, Map<string, number>>();
  let lastSweep = now();
  // Entries are pruned when their conversation is touched; at most once per TTL a start() also
  // sweeps every conversation, so the ones nobody touches again do not stay forever.
  const sweep = () => {
    if (now() - lastSweep < ttlMs) return;
    lastSweep = now();
    for (const conversationId of [...byConversation.keys()]) live(conversationId);
  };
  const live = (conversationId: string) => {
    const entries = byConversation.get(conversationId);
    if (!entries) return undefined;
    for (const [user, expires] of entries) if (expires <= now()) entries.delete(user);
    if (!entries.size) byConversation.delete(conversationId);
    return entries.size ? entries : undefined;
  };
  return {
    async start(conversationId, userId) {
      sweep();
      const entries = live(conversationId) ?? new Map<string, number>();
      entries.set(userId, now() + ttlMs);
      byConversation.set(conversationId, entries);
    },
    async stop(conversationId, userId) {
      live(conversationId)?.delete(userId);
    },
    async list(conversationId) {
      return [...(live(conversationId)?.keys() ?? [])];
    },
    trackedConversations: () => byConversation.size,
  };
}

/** A sorted set per conversation scored by expiry time; the key itself expires when idle. */
export function redisTyping(redis: Redis, ttlMs: number, now: () => number = Date.now): TypingState {
  const key = (conversationId: string) => `switchboard:typing:${conversationId}`;
  return {
    async start(conversationId, userId) {
      await redis.multi().zadd(key(conversationId), now() + ttlMs, userId).pexpire(key(conversationId), ttlMs).exec();
    },
    async stop(conversationId, userId) {
      await redis.zrem(key(conversationId), userId);
    },
    async list(conversationId) {
      return redis.zrangebyscore(key(conversationId), now(), '+inf');
    },
  };
}
