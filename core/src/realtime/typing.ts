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

export function memoryTyping(ttlMs: number, now: () => number = Date.now): TypingState {
  const byConversation = new Map<string, Map<string, number>>();
  const live = (conversationId: string) => {
    const entries = byConversation.get(conversationId);
    if (!entries) return undefined;
    for (const [user, expires] of entries) if (expires <= now()) entries.delete(user);
    if (!entries.size) byConversation.delete(conversationId);
    return entries.size ? entries : undefined;
  };
  return {
    async start(conversationId, userId) {
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
