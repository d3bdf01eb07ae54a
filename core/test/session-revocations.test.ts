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
