import type Redis from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../errors';
import { RedisPathError } from '../store/redis-errors';

export type RateLimitScope = 'api' | 'message' | 'socket';

/**
 * Scopes counted in this instance's memory even when Redis is configured: every socket event takes
 * one, and a Redis round trip per typing or heartbeat event would cost more than the event itself.
 * The limit then holds per user per instance (a user's sockets usually share one instance).
 */
const localScopes: ReadonlySet<RateLimitScope> = new Set(['socket']);
const rejected: Record<RateLimitScope, string> = { api: 'requests', message: 'messages', socket: 'socket events' };

export interface RateLimits {
  consume(scope: RateLimitScope, userId: string): Promise<void>;
}

/**
 * Per-user limits shared by every instance through Redis when it is configured, in memory
 * otherwise. If Redis stops answering (or is reconnecting), the in-memory limiter takes over rather
 * than failing requests: limits are then per instance until Redis is back.
 */
export function createRateLimits(options: { perMinute: Record<RateLimitScope, number>; redis?: Redis; onReject(scope: RateLimitScope): void }): RateLimits {
  const limiters = {} as Record<RateLimitScope, RateLimiterAbstract>;
  for (const scope of ['api', 'message', 'socket'] as const) {
    const base = { points: options.perMinute[scope], duration: 60, keyPrefix: `switchboard:rl:${scope}` };
    limiters[scope] = options.redis && !localScopes.has(scope)
      ? new RateLimiterRedis({ ...base, storeClient: options.redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(base) })
      : new RateLimiterMemory(base);
  }
  return {
    async consume(scope, userId) {
      try {
        await limiters[scope].consume(userId);
      } catch (error) {
        // The insurance limiter normally answers when Redis fails; whatever still escapes a
        // Redis-backed limiter happened on the Redis path (503 + Retry-After, never 500).
        if (!(error instanceof RateLimiterRes)) throw options.redis && !localScopes.has(scope) ? new RedisPathError(error) : error;
        options.onReject(scope);
        const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
        throw new AppError('rate_limited', `Too many ${rejected[scope]}; retry in ${retryAfter} s.`, { retryAfter });
      }
    },
  };
}
