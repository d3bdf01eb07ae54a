import { createRevocationCache, endedFor, takeRiders, withRevocationCheck, type CacheEntry } from '../src/auth/session-revocations';

/** The per-instance cache of the durable revocation record (auth/session-revocations.ts). */
describe('revocation cache', () => {
  const setup = (ttlMs = 2_000) => {
    let clock = 0;
    const reads: string[] = [];
    let stored: number | undefined;
    let gate: Promise<void> = Promise.resolve();
    const cache = createRevocationCache({ endedAt: async (userId) => { reads.push(userId); const value = stored; await gate; return value; } }, { ttlMs, clock: () => clock });
    return {
      cache,
      reads,
      set: (v: number | undefined) => { stored = v; },
      tick: (ms: number) => { clock += ms; },
      hold: () => { let release!: () => void; gate = new Promise((r) => { release = r; }); return () => release(); },
    };
  };

  it('reads once per TTL per user, and concurrent misses share one read', async () => {
    const t = setup();
    await Promise.all([t.cache.endedAt('u'), t.cache.endedAt('u'), t.cache.endedAt('u')]);
    expect(t.reads).toEqual(['u']);
    t.tick(1_999);
    await t.cache.endedAt('u');
    expect(t.reads).toEqual(['u']);
    t.set(5_000);
    t.tick(1);
    expect(await t.cache.endedAt('u')).toBe(5_000);
    expect(t.reads).toEqual(['u', 'u']);
  });

  it('a notice applies at once, and a read that started before it never undoes it', async () => {
    const t = setup();
    const release = t.hold();
    const slow = t.cache.endedAt('u'); // reads "never revoked"
    t.cache.learn('u', 7_000);
    release();
    expect(await slow).toBe(7_000);
    expect(await t.cache.isEnded('u', 6_000)).toBe(true);
    t.cache.learn('u', 3_000); // an older revocation never moves it back
    expect(await t.cache.endedAt('u')).toBe(7_000);
  });

  it('an entry counts its TTL from when its read began, not from when the read landed', async () => {
    const t = setup();
    const release = t.hold();
    const slow = t.cache.endedAt('u');
    t.tick(1_500);
    release();
    await slow;
    t.tick(600); // 2,100 after the read began
    await t.cache.endedAt('u');
    expect(t.reads).toEqual(['u', 'u']);
  });

  it('a completed sweep keeps every entry good until a TTL after the sweep began; one that has not completed vouches for nothing', async () => {
    const t = setup();
    await t.cache.endedAt('u');
    t.tick(1_500);
    t.cache.sweepStarted()(); // began and learnt everything at 1,500
    t.tick(1_000); // 2,500: past the entry's own TTL, within the sweep's
    expect(await t.cache.endedAt('u')).toBeUndefined();
    expect(t.reads).toEqual(['u']);
    const unfinished = t.cache.sweepStarted(); // began at 2,500, never completes
    t.set(5_000); // a revocation no completed sweep has seen
    t.tick(1_000); // 3,500: a TTL after the completed sweep began
    expect(await t.cache.endedAt('u')).toBe(5_000);
    expect(t.reads).toEqual(['u', 'u']);
    t.tick(2_000);
    await t.cache.endedAt('u');
    expect(t.reads).toEqual(['u', 'u', 'u']);
    void unfinished;
  });

  describe('with a lookup that reads many users at once', () => {
    const setupMany = (ttlMs = 2_000) => {
      let clock = 0;
      const reads: string[][] = [];
      const stored = new Map<string, number>();
      let fail = false;
      const lookup = {
        endedAt: async (userId: string) => { reads.push([userId]); return stored.get(userId); },
        endedAtMany: async (userIds: string[]) => {
          reads.push([...userIds]);
          if (fail) throw new Error('database unreachable');
          return new Map(userIds.filter((u) => stored.has(u)).map((u) => [u, stored.get(u)!]));
        },
      };
      const cache = createRevocationCache(lookup, { ttlMs, clock: () => clock });
      return { cache, reads, stored, tick: (ms: number) => { clock += ms; }, failReads: (v: boolean) => { fail = v; } };
    };

    /** a read once, b read and asked again, then both expired: the next miss of a takes b along. */
    const bothExpired = async (t: ReturnType<typeof setupMany>) => {
      await t.cache.endedAt('a');
      await t.cache.endedAt('b');
      await t.cache.endedAt('b');
      t.tick(2_000);
    };

    it('a miss also refreshes, in one read, the users asked about within two TTLs whose entries expire within half the TTL', async () => {
      const t = setupMany();
      await t.cache.endedAt('idle'); // asked once, 6.8 s (over two TTLs) before the miss below: not refreshed ahead
      t.tick(4_500);
      await t.cache.endedAt('a');
      t.tick(300);
      await t.cache.endedAt('b');
      t.tick(1_500); // 6,300
      await t.cache.endedAt('a');
      await t.cache.endedAt('b');
      t.stored.set('b', 9_000);
      t.tick(500); // 6,800: a expired, b expires within 1,000 ms
      await t.cache.endedAt('a');
      expect(t.reads).toEqual([['idle'], ['a'], ['b'], ['a', 'b']]);
      // b was re-read with a: the new revocation is known without a read of its own, and the entry is fresh.
      t.tick(1_000);
      expect(await t.cache.endedAt('b')).toBe(9_000);
      expect(t.reads).toHaveLength(4);
    });

    it('a user who asks less often than the TTL (a sender every 1.6 TTLs) rides along instead of reading alone', async () => {
      const t = setupMany();
      // u0..u9 each ask every 3,200 ms, staggered by 320 ms: without riders every ask is a read of its own.
      let clock = 0;
      for (let round = 0; round < 6; round++) {
        for (let i = 0; i < 10; i++) {
          t.tick(320);
          clock += 320;
          await t.cache.endedAt(`u${i}`);
        }
      }
      expect(clock).toBe(19_200);
      const lateReads = t.reads.slice(10); // after every user's first read
      expect(lateReads.length).toBeLessThan(50 / 3);
      expect(lateReads.some((r) => r.length > 1)).toBe(true);
    });

    it('while sweeps keep entries current, a miss reads the new user alone, and the others are not read again', async () => {
      const t = setupMany();
      await t.cache.endedAt('a');
      await t.cache.endedAt('b');
      t.tick(1_000);
      t.cache.sweepStarted()();
      t.tick(500); // a and b expire within half the TTL, but the sweep keeps them good until 3,000
      await t.cache.endedAt('c');
      t.tick(1_000); // 2,500
      await t.cache.endedAt('a');
      await t.cache.endedAt('b');
      expect(t.reads).toEqual([['a'], ['b'], ['c']]);
    });

    it('never serves an entry older than the TTL: a rider read counts from its own read', async () => {
      const t = setupMany();
      await bothExpired(t);
      await t.cache.endedAt('a'); // b rides along
      t.stored.set('b', 4_000);
      t.tick(2_000);
      expect(await t.cache.endedAt('b')).toBe(4_000);
      expect(t.reads.at(-1)).toContain('b');
    });

    it('a failed read rejects the caller and leaves no unhandled rejection for the riders; the next miss reads again', async () => {
      const t = setupMany();
      await bothExpired(t);
      t.failReads(true);
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        await expect(t.cache.endedAt('a')).rejects.toThrow('database unreachable');
        await new Promise((r) => setImmediate(r));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      t.failReads(false);
      t.stored.set('b', 1_234);
      expect(await t.cache.endedAt('b')).toBe(1_234);
    });
  });

  describe('the riders of a miss (takeRiders)', () => {
    /** Counts the entries every walk of the map looks at. */
    class CountingMap extends Map<string, CacheEntry> {
      steps = 0;
      override *entries(): MapIterator<[string, CacheEntry]> {
        for (const pair of super.entries()) {
          this.steps++;
          yield pair;
        }
      }
      override [Symbol.iterator]() {
        return this.entries();
      }
    }

    it('a miss walks a bounded number of entries, and not again those whose reads are pending or that nobody asked about lately', () => {
      const ttl = 2_000;
      const at = 10_000;
      const entries = new CountingMap();
      // 3,000 users whose reads are in flight (slow database), then 3,000 idle ones not yet expired, all expiring soon.
      for (let i = 0; i < 3_000; i++) entries.set(`p${i}`, { endedAt: undefined, until: at + 100, askedAt: at - 100 });
      for (let i = 0; i < 3_000; i++) entries.set(`i${i}`, { endedAt: undefined, until: at + 200, askedAt: at - 3 * ttl });
      const pending = (u: string) => u.startsWith('p');
      for (let miss = 0; miss < 1_000; miss++) expect(takeRiders(entries, `m${miss}`, at, ttl, pending)).toEqual([]);
      // Each entry is walked about once, not once per miss (6,000,000 steps before; 1,025,000 with only the walk bound).
      expect(entries.steps).toBeLessThan(2 * 6_000 + 1_000 * 2);
      // A quarter TTL later the walk looks at them again (pending reads may have landed, idle entries expired).
      const before = entries.steps;
      takeRiders(entries, 'later', at + ttl / 4 + 1, ttl, pending);
      expect(entries.steps - before).toBeGreaterThan(100);
      expect(entries.size).toBe(6_000); // nothing valid was dropped
    });

    it('takes recently asked users expiring soon, drops expired idle ones, and keeps every value it moves', () => {
      const ttl = 2_000;
      const at = 10_000;
      const entries = new Map<string, CacheEntry>([
        ['expiredIdle', { endedAt: 1, until: at - 1, askedAt: at - 3 * ttl }],
        ['rider', { endedAt: 2, until: at + 500, askedAt: at - 1_000 }],
        ['validIdle', { endedAt: 3, until: at + 600, askedAt: at - 3 * ttl }],
        ['fresh', { endedAt: 4, until: at + 1_500, askedAt: at }],
      ]);
      expect(takeRiders(entries, 'missed', at, ttl, () => false)).toEqual(['rider']);
      expect([...entries.keys()]).toEqual(['fresh', 'rider', 'validIdle']);
      expect(entries.get('validIdle')).toMatchObject({ endedAt: 3, until: at + 600, askedAt: at - 3 * ttl });
    });

    it('keeps an idle entry past its own TTL while a sweep still vouches for it', () => {
      const ttl = 2_000;
      const at = 10_000;
      const entries = new Map<string, CacheEntry>([['expiredIdle', { endedAt: 1, until: at - 1, askedAt: at - 3 * ttl }]]);
      takeRiders(entries, 'missed', at, ttl, () => false, at - ttl + 1);
      expect(entries.get('expiredIdle')).toMatchObject({ endedAt: 1 });
      takeRiders(entries, 'missed', at + ttl, ttl, () => false, at - ttl + 1);
      expect(entries.has('expiredIdle')).toBe(false);
    });
  });

  it('ends tokens issued at or before the revocation, and tokens without iat once there is one', () => {
    expect(endedFor(undefined, undefined)).toBe(false);
    expect(endedFor(10_500, 10_000)).toBe(true);
    expect(endedFor(10_000, 10_000)).toBe(true);
    expect(endedFor(10_500, 11_000)).toBe(false);
    expect(endedFor(10_500, undefined)).toBe(true);
  });

  it('the wrapped verifier answers 401 revoked for an ended session and passes a later token', async () => {
    const t = setup();
    t.set(10_500);
    const verify = withRevocationCheck(async (token) => ({ userId: 'u', expiresAt: 99_999_999, issuedAt: Number(token) }), t.cache);
    await expect(verify('10000')).rejects.toMatchObject({ code: 'unauthorized', extra: { reason: 'revoked' } });
    await expect(verify('11000')).resolves.toMatchObject({ userId: 'u' });
  });
});
