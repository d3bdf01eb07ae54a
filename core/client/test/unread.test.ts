import { UnreadCounts } from '../web/unread';

/**
 * The web client's unread bookkeeping (core/client/web/unread.ts): the core's count as of a list
 * load, plus live messages counted once per seq, reconciled by the next load. The page itself is
 * driven in Chromium by browser.e2e.test.ts.
 */
describe('conversation list unread counts', () => {
  it('counts each live seq once (redelivered, out of order), never one the core counted, never one of my own', () => {
    const unread = new UnreadCounts();
    unread.reconcile({ id: 'c', lastSeq: 4, unreadCount: 2, lastReadSeq: 2 });
    expect(unread.count('c')).toBe(2);
    expect(unread.onMessage('c', 6, false)).toBe(true);
    expect(unread.onMessage('c', 6, false)).toBe(false); // redelivered
    expect(unread.onMessage('c', 5, false)).toBe(true); // came late
    expect(unread.onMessage('c', 4, false)).toBe(false); // already in the core's count
    expect(unread.onMessage('c', 7, true)).toBe(false); // mine
    expect(unread.count('c')).toBe(4);
    expect(unread.onMessage('unlisted', 1, false)).toBe(false);
    expect(unread.count('unlisted')).toBe(0);
  });

  it('a list load replaces the core part and keeps only the live seqs it could not have counted', () => {
    const unread = new UnreadCounts();
    unread.reconcile({ id: 'c', lastSeq: 4, unreadCount: 2, lastReadSeq: 2 });
    unread.onMessage('c', 5, false);
    unread.onMessage('c', 6, false);
    // The core answered at lastSeq 5: seq 5 is in its count (3), seq 6 raced the answer.
    unread.reconcile({ id: 'c', lastSeq: 5, unreadCount: 3, lastReadSeq: 2 });
    expect(unread.count('c')).toBe(4);
    // A redelivery of either after the load changes nothing.
    unread.onMessage('c', 5, false);
    unread.onMessage('c', 6, false);
    expect(unread.count('c')).toBe(4);
    unread.retain(new Set());
    expect(unread.count('c')).toBe(0);
  });

  it('reading clears it; a load that answers before the read was stored does not bring the count back', () => {
    const unread = new UnreadCounts();
    unread.reconcile({ id: 'c', lastSeq: 4, unreadCount: 2, lastReadSeq: 2 });
    unread.onMessage('c', 5, false);
    unread.read('c', 5);
    expect(unread.count('c')).toBe(0);
    unread.onMessage('c', 5, false);
    expect(unread.count('c')).toBe(0);
    unread.reconcile({ id: 'c', lastSeq: 5, unreadCount: 3, lastReadSeq: 2 }); // mark_read still on its way
    expect(unread.count('c')).toBe(0);
    unread.onMessage('c', 6, false);
    expect(unread.count('c')).toBe(1);
    unread.reconcile({ id: 'c', lastSeq: 6, unreadCount: 1, lastReadSeq: 5 }); // stored
    expect(unread.count('c')).toBe(1);
    // Read part-way (another device): at most the seqs above it remain.
    unread.reconcile({ id: 'd', lastSeq: 10, unreadCount: 6, lastReadSeq: 4 });
    unread.read('d', 8);
    expect(unread.count('d')).toBe(2);
  });
});
