import { AppError } from '../errors';
import type { Principal, TokenVerifier } from './tokens';

/**
 * How long one instance trusts what it read about a user's revocation. The bound chosen: an
 * instance that missed the cross-instance notice (Redis blip) and whose sweep is late still reads
 * the record again at most this long after it was written — and the admin call never answers
 * "unconfirmed" before this has passed since the write (its deadline is longer), so when it
 * answers, every instance's next check sees the revocation. A notice that does arrive (adapter
 * event or the instance's sweep) updates the entry at once. Cost: while the instance's sweeps keep
 * up (each learns every revocation written before it began, about once a second), an entry stays
 * good until a TTL after the latest sweep's start, so a user is read once per instance; otherwise
 * one `_id` lookup per user per instance per this interval, however many requests the user makes.
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
/** Most entries one miss looks at for riders: a miss costs a bounded walk however many users are cached. */
const MAX_RIDER_WALK = 4 * MAX_REFRESH_BATCH;

export interface CacheEntry {
  endedAt: number | undefined;
  until: number;
  askedAt: number;
  /** When a miss last walked past it (takeRiders): not walked again within a quarter TTL. */
  walkedAt?: number;
}

/**
 * The riders of one miss: from the head of `entries` (kept in refresh order, so oldest `until`
 * first), the users asked about within the last two TTLs whose entries expire within half the TTL.
 * Every entry it looks at leaves the head: an expired one nobody asked about lately is dropped (read
 * again on demand), every other one moves to the end with its value and `until` unchanged (a hit
 * still checks `until`; a rider is put back in order when its read lands), marked so that a walk
 * reaching it again within a quarter TTL stops there. So each entry is walked a few times per TTL
 * at most, however many misses there are, also while reads are slow and many are pending —
 * before, each miss re-walked every pending and every not-yet-expired idle entry, which at 10,000
 * users made the walk the core's top function under load (19 % of its CPU in rt.10k).
 */
export function takeRiders(entries: Map<string, CacheEntry>, missed: string, at: number, ttl: number, isPending: (userId: string) => boolean, sweptFrom = Number.NEGATIVE_INFINITY): string[] {
  const soon = at + ttl / 2;
  const riders: string[] = [];
  const walked: [string, CacheEntry][] = [];
  for (const [other, entry] of entries) {
    if (entry.until > soon || riders.length >= MAX_REFRESH_BATCH - 1 || walked.length >= MAX_RIDER_WALK) break;
    // Walked lately, so moved to the end: the walk has come round to what it has just seen.
    if (entry.walkedAt !== undefined && entry.walkedAt > at - ttl / 4) break;
    walked.push([other, entry]);
    if (other !== missed && !isPending(other) && entry.askedAt >= at - 2 * ttl) riders.push(other);
  }
  // Moved after the walk: a Map iterator visits entries re-inserted while it runs.
  for (const [other, entry] of walked) {
    entries.delete(other);
    // Still good through a sweep (createRevocationCache): kept, since dropping it costs a read on the user's next event.
    const expired = entry.until <= at && sweptFrom + ttl <= at;
    const idleAndExpired = expired && entry.askedAt < at - 2 * ttl && other !== missed && !isPending(other);
    if (idleAndExpired) continue;
    entry.walkedAt = at;
    entries.set(other, entry);
  }
  return riders;
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
  /**
   * A sweep of the durable record (realtime/session-revocation.ts) begins; the function it returns is
   * called once the sweep has learnt every revocation written before it began. Until a TTL after
   * that moment every cached entry is as good as one read then, so no entry needs reading again:
   * one sweep read per instance per second replaces one read per active user per TTL.
   */
  sweepStarted(): () => void;
}

/** A token issued at or before the revocation (or one without `iat`, once there is a revocation) is ended. */
export const endedFor = (endedAt: number | undefined, issuedAt: number | undefined) => endedAt !== undefined && (issuedAt === undefined || issuedAt <= endedAt);

export function createRevocationCache(lookup: RevocationLookup, options: { ttlMs?: number; clock?: () => number } = {}): RevocationCache {
  const ttl = options.ttlMs ?? REVOCATION_CACHE_TTL_MS;
  const clock = options.clock ?? (() => performance.now());
  // In refresh order, so about in `until` order (every put sets until = its read's start + ttl and moves the entry to the end),
  // except entries a miss walked past, moved to the end with their `until` (takeRiders).
  const entries = new Map<string, CacheEntry>();
  const pending = new Map<string, Promise<number | undefined>>();
  /** Start of the latest sweep that learnt every revocation written before it: every entry is good until a TTL after it. */
  let sweptFrom = Number.NEGATIVE_INFINITY;
  const current = (entry: CacheEntry, at: number) => at < entry.until || at < sweptFrom + ttl;
  /**
   * Revocations only move forward: a read that started before a notice never undoes it. `readFrom`:
   * when the read began — what it says holds from then, not from when it landed.
   */
  const put = (userId: string, endedAt: number | undefined, asked: boolean, readFrom = clock()) => {
    const previous = entries.get(userId);
    const known = previous?.endedAt;
    const merged = known === undefined ? endedAt : endedAt === undefined ? known : Math.max(known, endedAt);
    entries.delete(userId);
    entries.set(userId, { endedAt: merged, until: readFrom + ttl, askedAt: asked ? clock() : previous?.askedAt ?? Number.NEGATIVE_INFINITY });
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
    const readFrom = clock();
    if (!lookupMany) {
      const read = lookup.endedAt(userId).then((value) => put(userId, value, true, readFrom)).finally(() => pending.delete(userId));
      pending.set(userId, read);
      return read;
    }
    // While sweeps keep entries current (one began within the last 3/4 TTL; they run every 1/2 TTL), a
    // miss is a user seen for the first time: nothing rides along.
    const sweepsCover = readFrom < sweptFrom + (3 * ttl) / 4;
    const users = [userId, ...(sweepsCover ? [] : takeRiders(entries, userId, readFrom, ttl, (other) => pending.has(other), sweptFrom))];
    const read = lookupMany(users);
    for (const user of users) {
      const one = read.then((found) => put(user, found.get(user), user === userId, readFrom)).finally(() => pending.delete(user));
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
    if (hit && current(hit, at)) return Promise.resolve(hit.endedAt);
    // Concurrent misses of one user share one lookup.
    return pending.get(userId) ?? refresh(userId);
  };
  return {
    endedAt,
    isEnded: async (userId, issuedAt) => endedFor(await endedAt(userId), issuedAt),
    learn: (userId, value) => void put(userId, value, false),
    clear: () => entries.clear(),
    sweepStarted: () => {
      const from = clock();
      return () => { sweptFrom = Math.max(sweptFrom, from); };
    },
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
