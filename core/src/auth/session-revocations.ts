import { AppError } from '../errors';
import type { Principal, TokenVerifier } from './tokens';

/**
 * How long one instance trusts what it read about a user's revocation. The bound chosen: an
 * instance that missed the cross-instance notice (Redis blip) and whose sweep is late still reads
 * the record again at most this long after it was written — and the admin call never answers
 * "unconfirmed" before this has passed since the write (its deadline is longer), so when it
 * answers, every instance's next check sees the revocation. A notice that does arrive (adapter
 * event or the instance's sweep) updates the entry at once. Cost: one `_id` lookup per user per
 * instance per this interval, however many requests the user makes.
 */
export const REVOCATION_CACHE_TTL_MS = 2_000;
const MAX_ENTRIES = 50_000;

export interface RevocationLookup {
  /** When the user's sessions were last ended (epoch ms), if ever. */
  endedAt(userId: string): Promise<number | undefined>;
}

export interface RevocationCache {
  /** When the user's sessions were last ended (epoch ms), if ever: cached, at most REVOCATION_CACHE_TTL_MS old. */
  endedAt(userId: string): Promise<number | undefined>;
  /** Whether a session whose token was issued at `issuedAt` (epoch ms; undefined: no `iat`) is ended. */
  isEnded(userId: string, issuedAt: number | undefined): Promise<boolean>;
  /** A revocation learnt from elsewhere (the admin call, another instance's notice, the sweep). */
  learn(userId: string, endedAt: number): void;
  /** Forgets everything (after the adapter reconnects: notices may have been lost). */
  clear(): void;
}

/** A token issued at or before the revocation (or one without `iat`, once there is a revocation) is ended. */
export const endedFor = (endedAt: number | undefined, issuedAt: number | undefined) => endedAt !== undefined && (issuedAt === undefined || issuedAt <= endedAt);

export function createRevocationCache(lookup: RevocationLookup, options: { ttlMs?: number; clock?: () => number } = {}): RevocationCache {
  const ttl = options.ttlMs ?? REVOCATION_CACHE_TTL_MS;
  const clock = options.clock ?? (() => performance.now());
  const entries = new Map<string, { endedAt: number | undefined; until: number }>();
  const pending = new Map<string, Promise<number | undefined>>();
  /** Revocations only move forward: a read that started before a notice never undoes it. */
  const put = (userId: string, endedAt: number | undefined) => {
    const known = entries.get(userId)?.endedAt;
    const merged = known === undefined ? endedAt : endedAt === undefined ? known : Math.max(known, endedAt);
    entries.delete(userId);
    entries.set(userId, { endedAt: merged, until: clock() + ttl });
    if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    return merged;
  };
  const endedAt = (userId: string): Promise<number | undefined> => {
    const hit = entries.get(userId);
    if (hit && clock() < hit.until) return Promise.resolve(hit.endedAt);
    let read = pending.get(userId);
    if (!read) {
      // Concurrent misses of one user share one lookup.
      read = lookup.endedAt(userId).then((value) => put(userId, value)).finally(() => pending.delete(userId));
      pending.set(userId, read);
    }
    return read;
  };
  return {
    endedAt,
    isEnded: async (userId, issuedAt) => endedFor(await endedAt(userId), issuedAt),
    learn: (userId, value) => void put(userId, value),
    clear: () => entries.clear(),
  };
}

export const revokedError = () => new AppError('unauthorized', 'This session was ended by an operator; sign in again for a new token.', { reason: 'revoked' });

/**
 * The token verifier every path uses (REST, handshake, recovery, renew_token), with the durable
 * revocation check after the signature check: a token of a user whose sessions were ended, issued
 * at or before that, answers 401 `unauthorized` (reason `revoked`).
 */
export function withRevocationCheck(verify: TokenVerifier, revocations: Pick<RevocationCache, 'isEnded'>): TokenVerifier {
  return async (token: string | undefined): Promise<Principal> => {
    const principal = await verify(token);
    if (await revocations.isEnded(principal.userId, principal.issuedAt)) throw revokedError();
    return principal;
  };
}
