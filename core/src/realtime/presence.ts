import type Redis from 'ioredis';

/**
 * Who has a socket open, across instances when Redis is configured. One entry per socket (its id)
 * with its own expiry, refreshed by the transport's heartbeat (engine.io's ping/pong, which every
 * client answers; not an app event a client may never send). A user is online while any entry of
 * theirs is unexpired; offline only when the last one is gone, on every instance. An instance that
 * crashed cannot keep anyone online beyond one expiry (no counter to drift).
 */
export interface Presence {
  /** Records the socket; true when it is the user's only live socket (they just came online). */
  connected(userId: string, socketId: string): Promise<boolean>;
  /** Forgets the socket; true when the user has no live socket left anywhere. */
  disconnected(userId: string, socketId: string): Promise<boolean>;
  /** Pushes the socket's expiry forward (called on every transport heartbeat); re-adds it if it expired. */
  refresh(userId: string, socketId: string): Promise<void>;
  isOnline(userId: string): Promise<boolean>;
  /** The users among these with a live socket: one round trip however many (the notifier per message). */
  onlineAmong(userIds: readonly string[]): Promise<Set<string>>;
}

/** One instance: expiries on this process's clock (injectable for tests). */
export function memoryPresence(ttlMs = 120_000, now: () => number = Date.now): Presence {
  const sockets = new Map<string, Map<string, number>>();
  const live = (userId: string): Map<string, number> | undefined => {
    const entries = sockets.get(userId);
    if (!entries) return undefined;
    const t = now();
    for (const [id, expires] of entries) if (expires <= t) entries.delete(id);
    if (entries.size === 0) sockets.delete(userId);
    return entries.size ? entries : undefined;
  };
  const add = (userId: string, socketId: string) => {
    const entries = sockets.get(userId) ?? new Map<string, number>();
    entries.set(socketId, now() + ttlMs);
    sockets.set(userId, entries);
  };
  return {
    async connected(userId, socketId) {
      const others = [...(live(userId)?.keys() ?? [])].filter((id) => id !== socketId);
      add(userId, socketId);
      return others.length === 0;
    },
    async disconnected(userId, socketId) {
      sockets.get(userId)?.delete(socketId);
      return live(userId) === undefined;
    },
    async refresh(userId, socketId) {
      add(userId, socketId);
    },
    async isOnline(userId) {
      return live(userId) !== undefined;
    },
    async onlineAmong(userIds) {
      return new Set(userIds.filter((u) => live(u) !== undefined));
    },
  };
}

// Scripts run on Redis's clock (TIME), so instances with skewed clocks agree on what has expired.
// Each touches one key (one user's sorted set: member = socket id, score = expiry in ms), so they
// work on a cluster too. The key itself expires with its latest entry.
const NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";
const scripts = {
  presenceConnect: `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local others = redis.call('ZCARD', KEYS[1]) - (redis.call('ZSCORE', KEYS[1], ARGV[1]) and 1 or 0)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return others == 0 and 1 or 0`,
  presenceRefresh: `${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`,
  presenceDisconnect: `${NOW}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) return 1 end
return 0`,
  presenceLive: `${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`,
} as const;

type PresenceRedis = Redis & {
  presenceConnect(key: string, socketId: string, ttlMs: number): Promise<number>;
  presenceRefresh(key: string, socketId: string, ttlMs: number): Promise<number>;
  presenceDisconnect(key: string, socketId: string): Promise<number>;
  presenceLive(key: string): Promise<number>;
};

export function redisPresence(redis: Redis, ttlMs: number): Presence {
  const r = redis as PresenceRedis;
  for (const [name, lua] of Object.entries(scripts)) {
    if (!(name in r)) r.defineCommand(name, { numberOfKeys: 1, lua });
  }
  const key = (userId: string) => `switchboard:presence:sockets:${userId}`;
  return {
    async connected(userId, socketId) {
      return (await r.presenceConnect(key(userId), socketId, ttlMs)) === 1;
    },
    async disconnected(userId, socketId) {
      return (await r.presenceDisconnect(key(userId), socketId)) === 1;
    },
    async refresh(userId, socketId) {
      await r.presenceRefresh(key(userId), socketId, ttlMs);
    },
    async isOnline(userId) {
      return (await r.presenceLive(key(userId))) > 0;
    },
    async onlineAmong(userIds) {
      if (!userIds.length) return new Set();
      const pipeline = r.pipeline();
      for (const u of userIds) (pipeline as unknown as PresenceRedis).presenceLive(key(u));
      const results = (await pipeline.exec()) ?? [];
      const online = new Set<string>();
      results.forEach(([error, live], i) => {
        if (error) throw error;
        if (Number(live) > 0) online.add(userIds[i]!);
      });
      return online;
    },
  };
}

/** How long a socket's entry lives without a heartbeat: two full ping cycles (interval + timeout). */
export const presenceTtlMs = (pingIntervalMs: number, pingTimeoutMs: number): number => 2 * (pingIntervalMs + pingTimeoutMs);
