import { createMembershipCache } from '../src/chat/membership-cache';

describe('membership cache', () => {
  it('remembers until the TTL passes, forgets on demand, and stays bounded', () => {
    let now = 0;
    const cache = createMembershipCache({ ttlMs: 1_000, maxEntries: 2, now: () => now });
    cache.remember('c1', 'u1');
    expect(cache.has('c1', 'u1')).toBe(true);
    expect(cache.has('c1', 'u2')).toBe(false);
    now = 1_001;
    expect(cache.has('c1', 'u1')).toBe(false);
    cache.remember('c1', 'u1');
    cache.forget('c1', 'u1');
    expect(cache.has('c1', 'u1')).toBe(false);
    cache.remember('a', 'x');
    cache.remember('b', 'x');
    cache.remember('c', 'x');
    expect([cache.has('a', 'x'), cache.has('b', 'x'), cache.has('c', 'x')]).toEqual([false, true, true]);
  });
});
