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
  /** The same for several users in one read (users without a record absent). */
  endedAtMany?(userIds: string[]): Promise<Map<string, number>>;
}

/** Most users one refresh reads (the miss plus users read lately whose entries are about to expire). */
const MAX_REFRESH_BATCH = 256;

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
  // In refresh order, so in `until` order (every put sets until = now + ttl and moves the entry to the end).
  const entries = new Map<string, { endedAt: number | undefined; until: number; askedAt: number }>();
  const pending = new Map<string, Promise<number | undefined>>();
  /** Revocations only move forward: a read that started before a notice never undoes it. */
  const put = (userId: string, endedAt: number | undefined, asked: boolean) => {
    const previous = entries.get(userId);
    const known = previous?.endedAt;
    const merged = known === undefined ? endedAt : endedAt === undefined ? known : Math.max(known, endedAt);
    entries.delete(userId);
    entries.set(userId, { endedAt: merged, until: clock() + ttl, askedAt: asked ? clock() : previous?.askedAt ?? Number.NEGATIVE_INFINITY });
    if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    return merged;
  };
  /**
   * One read for the missed user and, where the lookup can read many, for the users asked about within
   * the last two TTLs whose entries expire within half the TTL: under load every active user's entry
   * expires once per TTL, and one `_id $in` read per half-TTL replaces one read per user (load profile:
   * 0.49 revocation reads per message at 1,000 msg/s, 1.0 at 300 msg/s where each user sends every
   * 3.3 s). A user nobody asks about stops being refreshed after two TTLs. Each entry is still at most
   * the TTL old.
   */
  const refresh = (userId: string): Promise<number | undefined> => {
    const lookupMany = lookup.endedAtMany?.bind(lookup);
    if (!lookupMany) {
      const read = lookup.endedAt(userId).then((value) => put(userId, value, true)).finally(() => pending.delete(userId));
      pending.set(userId, read);
      return read;
    }
    const at = clock();
    const soon = at + ttl / 2;
    const users = [userId];
    for (const [other, entry] of entries) {
      if (entry.until > soon || users.length >= MAX_REFRESH_BATCH) break;
      if (other === userId || pending.has(other)) continue;
      if (entry.askedAt >= at - 2 * ttl) users.push(other);
      // Expired and nobody asked lately: dropped (read again on demand), so the next miss does not walk
      // past it again — otherwise every miss would scan all the users who were once active.
      else if (entry.until <= at) entries.delete(other);
    }
    const read = lookupMany(users);
    for (const user of users) {
      const one = read.then((found) => put(user, found.get(user), user === userId)).finally(() => pending.delete(user));
      // A failed read rejects whoever awaits it; a rider nobody awaits must not be an unhandled rejection.
      one.catch(() => undefined);
      pending.set(user, one);
    }
    return pending.get(userId)!;
  };
  const endedAt = (userId: string): Promise<number | undefined> => {
    const at = clock();
    const hit = entries.get(userId);
    if (hit) hit.askedAt = at;
    if (hit && at < hit.until) return Promise.resolve(hit.endedAt);
    // Concurrent misses of one user share one lookup.
    return pending.get(userId) ?? refresh(userId);
  };
  return {
    endedAt,
    isEnded: async (userId, issuedAt) => endedFor(await endedAt(userId), issuedAt),
    learn: (userId, value) => void put(userId, value, false),
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
