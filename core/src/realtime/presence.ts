import type Redis from 'ioredis';

/**
 * How many sockets each user has open, across instances when Redis is configured. Counts expire
 * (TTL refreshed by heartbeats) so an instance that crashed cannot keep a user online forever.
 */
export interface Presence {
  /** True when this is the user's first open socket. */
  connected(userId: string): Promise<boolean>;
  /** True when the user has no open socket left. */
  disconnected(userId: string): Promise<boolean>;
  refresh(userId: string): Promise<void>;
  /** Whether the user has a socket open anywhere (offline members get notifications). */
  isOnline(userId: string): Promise<boolean>;
}

export function memoryPresence(): Presence {
  const counts = new Map<string, number>();
  return {
    async connected(userId) {
      const n = (counts.get(userId) ?? 0) + 1;
      counts.set(userId, n);
      return n === 1;
    },
    async disconnected(userId) {
      const n = (counts.get(userId) ?? 1) - 1;
      if (n <= 0) counts.delete(userId);
      else counts.set(userId, n);
      return n <= 0;
    },
    async refresh() {},
    async isOnline(userId) {
      return counts.has(userId);
    },
  };
}

export function redisPresence(redis: Redis, ttlSeconds: number): Presence {
  const key = (userId: string) => `switchboard:presence:${userId}`;
  return {
    async connected(userId) {
      const [[, n]] = (await redis.multi().incr(key(userId)).expire(key(userId), ttlSeconds).exec()) as [[null, number]];
      return n === 1;
    },
    async disconnected(userId) {
      const n = await redis.decr(key(userId));
      if (n <= 0) await redis.del(key(userId));
      return n <= 0;
    },
    async refresh(userId) {
      await redis.expire(key(userId), ttlSeconds);
    },
    async isOnline(userId) {
      return (await redis.exists(key(userId))) === 1;
    },
  };
}
