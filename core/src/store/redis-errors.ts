import { ReplyError } from 'ioredis';

/**
 * Redis failures, told by class and code, never by message (issue 21 "faults answer 503"):
 * - every error class of ioredis' error family (redis-errors' `RedisError`: ReplyError — LOADING,
 *   READONLY, OOM, MASTERDOWN… —, AbortError — "aborted due to connection close" —, ioredis'
 *   MaxRetriesPerRequestError and ClusterAllFailedError). ioredis exports only ReplyError; the
 *   family's base class is its prototype, so no transitive package is imported for it;
 * - (Node system errors on the socket — ECONNRESET, EPIPE, ECONNREFUSED… — are told by code for
 *   every dependency: store/mongo-errors.ts `isSystemError`);
 * - a {@link RedisPathError}: ioredis rejects some commands with a plain `Error` ("Connection is
 *   closed.", "Command timed out", "Stream isn't writeable…"), which no class tells apart, so a
 *   caller on a Redis path wraps what escapes its Redis call in a RedisPathError (limits/rate-limits.ts):
 *   an unknown error on a Redis path is "unavailable", never "internal".
 */
const RedisErrorBase = Object.getPrototypeOf(ReplyError) as abstract new (...args: never[]) => Error;

/** Whatever a Redis call threw, marked as having happened on the Redis path (the original is `cause`). */
export class RedisPathError extends Error {
  override readonly name = 'RedisPathError';
  constructor(cause: unknown) {
    super('a Redis command failed', { cause });
  }
}

export function isRedisUnavailable(error: unknown): boolean {
  return error instanceof RedisPathError || error instanceof RedisErrorBase;
}

