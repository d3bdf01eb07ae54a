import { createMembershipCache } from '../src/chat/membership-cache';
import { parseConversationId, type ConversationId } from '../src/domain/ids';

const id = (hexDigit: string) => parseConversationId(hexDigit.repeat(24)) as ConversationId;
const [c1, a, b, c] = [id('1'), id('a'), id('b'), id('c')];

describe('membership cache', () => {
  it('remembers until the TTL passes, forgets on demand, and stays bounded', () => {
    let now = 0;
    const cache = createMembershipCache({ ttlMs: 1_000, maxEntries: 2, now: () => now });
    cache.remember(c1, 'u1');
    expect(cache.has(c1, 'u1')).toBe(true);
    expect(cache.has(c1, 'u2')).toBe(false);
    now = 1_001;
    expect(cache.has(c1, 'u1')).toBe(false);
    cache.remember(c1, 'u1');
    cache.forget(c1, 'u1');
    expect(cache.has(c1, 'u1')).toBe(false);
    cache.remember(a, 'x');
    cache.remember(b, 'x');
    cache.remember(c, 'x');
    expect([cache.has(a, 'x'), cache.has(b, 'x'), cache.has(c, 'x')]).toEqual([false, true, true]);
  });

  it('an entry lasts the TTL after its last use, and the bound drops the least recently used', () => {
    let now = 0;
    const cache = createMembershipCache({ ttlMs: 1_000, maxEntries: 2, now: () => now });
    cache.remember(a, 'x');
    now = 900;
    expect(cache.has(a, 'x')).toBe(true); // used: lasts until 1,900
    now = 1_800;
    expect(cache.has(a, 'x')).toBe(true); // until 2,800
    now = 2_801;
    expect(cache.has(a, 'x')).toBe(false);
    expect(cache.has(a, 'x')).toBe(false); // an expired entry is gone, not revived by asking
    cache.remember(a, 'x');
    cache.remember(b, 'x');
    expect(cache.has(a, 'x')).toBe(true); // a is now the most recently used
    cache.remember(c, 'x');
    expect([cache.has(a, 'x'), cache.has(b, 'x'), cache.has(c, 'x')]).toEqual([true, false, true]);
  });

  it('the upper-case spelling of an id is the same entry (one canonical form)', () => {
    const cache = createMembershipCache({ ttlMs: 1_000, maxEntries: 10 });
    cache.remember(parseConversationId('ABCDEF0123456789ABCDEF01')!, 'u1');
    expect(cache.has(parseConversationId('abcdef0123456789abcdef01')!, 'u1')).toBe(true);
    cache.forget(parseConversationId('abcdef0123456789ABCDEF01')!, 'u1');
    expect(cache.has(parseConversationId('ABCDEF0123456789ABCDEF01')!, 'u1')).toBe(false);
  });
});
