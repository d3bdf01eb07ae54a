import { SwitchboardClient, type MessageView } from '../src';
import { FakeClock, FakeServer, jwt } from './fakes';

function setup(options: { afterSeq?: number; pageSize?: number } = {}) {
  const clock = new FakeClock();
  const server = new FakeServer();
  const client = new SwitchboardClient({
    url: 'http://core.test',
    getToken: () => jwt('amy', clock.now() + 3_600_000),
    socketFactory: server.factory,
    fetch: ((url: string) => server.fetch(url)) as typeof fetch,
    clock,
    random: () => 0.5,
    pageSize: options.pageSize ?? 100,
    pingTimeoutMs: 1e9,
  });
  const delivered: MessageView[] = [];
  const skipped: number[] = [];
  client.on('message', (m) => delivered.push(m));
  client.on('skipped', (_c, seqs) => skipped.push(...seqs));
  client.subscribe('c1', { afterSeq: options.afterSeq });
  const socket = () => [...server.sockets].find((s) => s.connected)!;
  const seqs = () => delivered.map((m) => m.seq);
  return { clock, server, client, delivered, skipped, socket, seqs };
}

describe('gap-safe catch-up (CONTRACT.md)', () => {
  it('catches up from afterSeq after joining, across pages, then follows broadcasts in order', async () => {
    const s = setup({ afterSeq: 0, pageSize: 2 });
    for (let i = 1; i <= 5; i++) s.server.store('c1', i);
    s.server.settledSeq = 5;
    s.client.connect();
    await s.clock.advance(0);
    expect(s.seqs()).toEqual([1, 2, 3, 4, 5]);
    s.server.broadcast(s.server.store('c1', 6));
    expect(s.seqs()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('subscribe first: a message broadcast while the page is in flight is delivered once (overlap removed)', async () => {
    const s = setup({ afterSeq: 0 });
    s.server.store('c1', 1);
    const realFetch = s.server.fetch;
    let once = true;
    s.server.fetch = async (url) => {
      // stored and broadcast between join and the page: it is in both
      if (once) s.server.broadcast(s.server.store('c1', 2));
      once = false;
      return realFetch(url);
    };
    s.client.connect();
    await s.clock.advance(0);
    expect(s.seqs()).toEqual([1, 2]);
  });

  it('holds a message behind a gap and delivers in order once the gap is filled by the page', async () => {
    const s = setup();
    s.client.connect();
    await s.clock.advance(0);
    s.server.store('c1', 1);
    s.server.settledSeq = 2;
    s.server.broadcast(s.server.store('c1', 2)); // seq 1's broadcast was lost
    await s.clock.advance(0);
    expect(s.seqs()).toEqual([1, 2]);
  });

  it('steps over burned seqs (skipped) but never over a seq above settledSeq: that one is waited for', async () => {
    const s = setup();
    s.client.connect();
    await s.clock.advance(0);
    const waiting = jest.fn();
    s.client.on('waiting', waiting);
    s.server.burned.add(1);
    s.server.store('c1', 2);
    s.server.settledSeq = 2; // seq 3 allocated on another instance, not stored yet
    s.server.broadcast(s.server.store('c1', 4));
    await s.clock.advance(0);
    expect(s.skipped).toEqual([1]);
    expect(s.seqs()).toEqual([2]);
    await s.clock.advance(3_000);
    expect(s.seqs()).toEqual([2]); // 4 is held: 3 may still arrive
    expect(waiting).toHaveBeenCalled();
    expect(s.skipped).toEqual([1]);
    // the slow instance stores 3 (its broadcast is lost too); the next re-fetch finds it
    s.server.store('c1', 3);
    s.server.settledSeq = 4;
    await s.clock.advance(10_000);
    expect(s.seqs()).toEqual([2, 3, 4]);
  });

  it('a core without the contract fields (no settledSeq/skipped) never gets a seq declared missing', async () => {
    const s = setup();
    s.server.withContract = false;
    s.client.connect();
    await s.clock.advance(0);
    s.server.broadcast(s.server.store('c1', 2));
    await s.clock.advance(60_000);
    expect(s.seqs()).toEqual([]);
    expect(s.skipped).toEqual([]);
    s.server.broadcast(s.server.store('c1', 1));
    expect(s.seqs()).toEqual([1, 2]);
  });

  it('de-duplicates by id and seq (a broadcast replayed after a reconnect is delivered once)', async () => {
    const s = setup();
    s.client.connect();
    await s.clock.advance(0);
    const m1 = s.server.store('c1', 1);
    s.server.settledSeq = 1;
    s.server.broadcast(m1);
    s.server.broadcast(m1);
    s.socket().drop();
    await s.clock.advance(2_000);
    s.server.broadcast(m1);
    expect(s.seqs()).toEqual([1]);
  });

  it('conversation_resync runs catch-up; messages stored while disconnected arrive after reconnecting', async () => {
    const s = setup();
    s.client.connect();
    await s.clock.advance(0);
    s.socket().drop();
    s.server.store('c1', 1);
    s.server.store('c1', 2);
    s.server.settledSeq = 2;
    await s.clock.advance(2_000);
    expect(s.client.state).toBe('connected');
    expect(s.seqs()).toEqual([1, 2]);
    s.server.dropBroadcasts = true;
    s.server.store('c1', 3);
    s.server.settledSeq = 3;
    s.socket().deliver('conversation_resync', { conversationId: 'c1', lastSeq: 3 });
    await s.clock.advance(0);
    expect(s.seqs()).toEqual([1, 2, 3]);
  });
});
