import { createRevocationCache, endedFor, withRevocationCheck } from '../src/auth/session-revocations';

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
