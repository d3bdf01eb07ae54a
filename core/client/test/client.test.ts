import { AuthError, MemoryOutboxStore, SwitchboardClient, type ConnectionState, type ClientOptions, type MessageView, type SendAttempt } from '../src';
import { FakeClock, FakeServer, jwt, problem, type FakeSocket } from './fakes';

function setup(options: { store?: MemoryOutboxStore; getToken?: (reason: string) => Promise<string> | string; random?: () => number; more?: Partial<ClientOptions> } = {}) {
  const clock = new FakeClock();
  const server = new FakeServer();
  let n = 0;
  const tokens: string[] = [];
  const client = new SwitchboardClient({
    url: 'http://core.test',
    getToken: options.getToken ?? (() => {
      const t = jwt('amy', clock.now() + 3_600_000, n++);
      tokens.push(t);
      return t;
    }),
    socketFactory: server.factory,
    fetch: server.fetch as typeof fetch,
    clock,
    random: options.random ?? (() => 0.5),
    backoff: { baseMs: 1_000, maxMs: 8_000 },
    ackTimeoutMs: 2_000,
    pingTimeoutMs: 30_000,
    store: options.store,
    newClientMsgId: (() => { let i = 0; return () => `c${++i}`; })(),
    ...options.more,
  });
  const attempts: SendAttempt[] = [];
  client.on('attempt', (a) => attempts.push(a));
  const states: { state: ConnectionState; reason?: string; delayMs?: number }[] = [];
  client.on('stateChange', (state, _prev, info) => states.push({ state, reason: info.reason, delayMs: info.delayMs }));
  const current = () => [...server.sockets].find((s) => s.connected) as FakeSocket | undefined;
  return { clock, server, client, states, tokens, current, attempts };
}

describe('connection state machine', () => {
  it('connecting → connected → reconnecting (full-jitter delay) → connected → closed', async () => {
    const { clock, client, states, current } = setup();
    client.connect();
    await clock.advance(0);
    expect(client.state).toBe('connected');
    current()!.drop();
    expect(client.state).toBe('reconnecting');
    // attempt 0: uniform in [0, base]; random() = 0.5 → 500 ms
    expect(states.at(-1)).toMatchObject({ state: 'reconnecting', reason: 'transport close', delayMs: 500 });
    await clock.advance(499);
    expect(client.state).toBe('reconnecting');
    await clock.advance(1);
    expect(client.state).toBe('connected');
    client.close();
    expect(states.map((s) => s.state)).toEqual(['connecting', 'connected', 'reconnecting', 'connected', 'closed']);
  });

  it('backs off exponentially up to the cap while the core refuses (503), and never signs out', async () => {
    const { clock, client, server, states } = setup({ random: () => 0.999 });
    server.handshake = () => problem(503, 'unavailable');
    const ended = jest.fn();
    client.on('sessionEnded', ended);
    client.connect();
    await clock.advance(60_000);
    const delays = states.filter((s) => s.state === 'reconnecting' && s.delayMs !== undefined).map((s) => s.delayMs);
    expect(delays.slice(0, 5)).toEqual([999, 1998, 3996, 7992, 7992]);
    expect(client.state).toBe('reconnecting');
    expect(ended).not.toHaveBeenCalled();
    server.handshake = () => undefined;
    await clock.advance(10_000);
    expect(client.state).toBe('connected');
  });

  it('a token source that fails (IdP down) is retried; AuthError signs out', async () => {
    let mode: 'down' | 'ok' | 'signedOut' = 'down';
    const s = setup({ getToken: () => {
      if (mode === 'down') return Promise.reject(new Error('idp 503'));
      if (mode === 'signedOut') return Promise.reject(new AuthError());
      return jwt('amy', s.clock.now() + 3_600_000);
    } });
    s.client.on('error', () => undefined);
    const ended = jest.fn();
    s.client.on('sessionEnded', ended);
    s.client.connect();
    await s.clock.advance(5_000);
    expect(s.client.state).toBe('reconnecting');
    mode = 'ok';
    await s.clock.advance(10_000);
    expect(s.client.state).toBe('connected');
    mode = 'signedOut';
    s.current()!.drop();
    await s.clock.advance(10_000);
    expect(s.client.state).toBe('closed');
    expect(ended).toHaveBeenCalledWith('unauthorized');
  });

  it('a rejected handshake (401) gets fresh tokens, and signs out only when they are rejected too', async () => {
    const s = setup();
    s.server.handshake = () => problem(401, 'unauthorized');
    const ended = jest.fn();
    s.client.on('sessionEnded', ended);
    s.client.connect();
    await s.clock.advance(1_000);
    expect(s.tokens.length).toBe(3);
    expect(s.client.state).toBe('closed');
    expect(ended).toHaveBeenCalledWith('unauthorized');
  });

  it('detects a dead connection by silence (ping timeout) and reconnects; pings keep it alive', async () => {
    const s = setup();
    s.client.connect();
    await s.clock.advance(0);
    for (let i = 0; i < 5; i++) {
      await s.clock.advance(20_000);
      s.current()!.ping();
    }
    expect(s.client.state).toBe('connected');
    await s.clock.advance(30_000);
    expect(s.states.some((x) => x.reason === 'ping_timeout')).toBe(true);
    await s.clock.advance(1_000);
    expect(s.client.state).toBe('connected');
  });
});

describe('tokens', () => {
  it('renews before exp over renew_token, and reconnects with a fresh token on session_ended{token_expired}', async () => {
    const clock = new FakeClock();
    const tokens: string[] = [];
    const s = setup({ getToken: () => {
      const t = jwt('amy', clock.now() + 120_000, tokens.length);
      tokens.push(t);
      return t;
    } });
    // the setup's own clock is what the client uses: rebind the token clock to it
    Object.assign(clock, { now: s.clock.now });
    s.client.connect();
    await s.clock.advance(0);
    const live = async (ms: number) => {
      for (let t = 0; t < ms; t += 1_000) {
        s.current()?.ping();
        await s.clock.advance(1_000);
      }
    };
    await live(59_000);
    expect(s.server.received.filter((r) => r.event === 'renew_token')).toHaveLength(0);
    await live(2_000);
    const renewals = s.server.received.filter((r) => r.event === 'renew_token');
    expect(renewals).toHaveLength(1);
    expect(renewals[0]!.payload.token).toBe(tokens[1]);
    const socket = s.current()!;
    socket.deliver('session_ended', { reason: 'token_expired', message: 'expired' }, () => undefined);
    await s.clock.advance(0);
    expect(s.client.state).toBe('connected');
    expect(s.current()).not.toBe(socket);
    expect(s.current()!.token).toBe(tokens.at(-1));
  });

  it('session_ended{revoked} closes and tells the app', async () => {
    const s = setup();
    const ended = jest.fn();
    s.client.on('sessionEnded', ended);
    s.client.connect();
    await s.clock.advance(0);
    const ack = jest.fn();
    s.current()!.deliver('session_ended', { reason: 'revoked', message: 'revoked' }, ack);
    await s.clock.advance(60_000);
    expect(ack).toHaveBeenCalled();
    expect(s.client.state).toBe('closed');
    expect(ended).toHaveBeenCalledWith('revoked');
  });
});

describe('outbox', () => {
  it('queues sends while offline and delivers each once, in order, after connecting', async () => {
    const s = setup();
    const sends = [s.client.send('c1', 'one'), s.client.send('c1', 'two'), s.client.send('c1', 'three')];
    await s.clock.advance(0);
    expect(s.client.pending().map((e) => e.text)).toEqual(['one', 'two', 'three']);
    s.client.connect();
    await s.clock.advance(0);
    const acked = await Promise.all(sends);
    expect(acked.map((m) => [m.text, m.seq])).toEqual([['one', 1], ['two', 2], ['three', 3]]);
    expect(s.client.pending()).toEqual([]);
  });

  it('sends one entry per conversation at a time, oldest first: a held or refused head keeps or lets through the rest, in order (sendOrder none: all at once)', async () => {
    const s = setup();
    const sent = (): string[] => s.server.received.filter((r) => r.event === 'send_message').map((r) => r.payload.text);
    const sends = ['one', 'two', 'three'].map((t) => s.client.send('c1', t));
    const other = s.client.send('c2', 'x');
    await s.clock.advance(0);
    let hold = true;
    s.server.intercept = (event, payload) => (event !== 'send_message' ? undefined : hold ? 'drop' : payload.text === 'one' ? problem(409, 'conflict') : undefined);
    s.client.connect();
    await s.clock.advance(0);
    // Only each conversation's oldest entry is out; its lost ack (2 s) is retried before anything after it.
    expect(sent()).toEqual(['one', 'x']);
    await s.clock.advance(6_000);
    const c1 = sent().filter((t) => t !== 'x');
    expect(c1.length).toBeGreaterThanOrEqual(2);
    expect(new Set(c1)).toEqual(new Set(['one']));
    hold = false;
    const refused = sends[0]!.catch((e: unknown) => e);
    await s.clock.advance(10_000);
    expect(await refused).toMatchObject({ kind: 'refused' });
    expect((await Promise.all([sends[1]!, sends[2]!, other])).map((m) => `${m.conversationId}:${m.seq}:${m.text}`)).toEqual(['c1:1:two', 'c1:2:three', 'c2:1:x']);
    expect(sent().filter((t) => t === 'two' || t === 'three')).toEqual(['two', 'three']);

    const tool = setup({ more: { sendOrder: 'none' } });
    for (const t of ['one', 'two', 'three']) tool.client.send('c1', t).catch(() => undefined); // close() rejects what is still queued
    await tool.clock.advance(0);
    tool.server.intercept = (event) => (event === 'send_message' ? 'drop' : undefined);
    tool.client.connect();
    await tool.clock.advance(0);
    expect(tool.server.received.filter((r) => r.event === 'send_message').map((r) => r.payload.text)).toEqual(['one', 'two', 'three']);
    tool.client.close();
  });

  it('retries a lost ack with the same clientMsgId; the core dedupes it to one message', async () => {
    const s = setup();
    s.client.connect();
    await s.clock.advance(0);
    let lose = 2;
    s.server.intercept = (event, payload) => {
      if (event !== 'send_message') return undefined;
      // the first two attempts are stored but their acks are lost
      if (lose-- > 0) {
        s.server.handle({ rooms: new Set(), deliver() {} } as never, 'send_message', payload, () => undefined);
        return 'drop';
      }
      return undefined;
    };
    const sent = s.client.send('c1', 'hello');
    await s.clock.advance(30_000);
    const message = await sent;
    const attempts = s.server.received.filter((r) => r.event === 'send_message');
    expect(new Set(attempts.map((a) => a.payload.clientMsgId))).toEqual(new Set(['c1']));
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(s.server.messages.get('c1')).toHaveLength(1);
    expect(message.seq).toBe(1);
  });

  it('retries 429 and 503, rejects a 4xx for good and drops it from the queue', async () => {
    const s = setup();
    s.client.connect();
    await s.clock.advance(0);
    const answers = [problem(429, 'rate_limited', { retryAfter: 1 }), problem(503, 'unavailable'), undefined];
    s.server.intercept = (event) => (event === 'send_message' ? answers.shift() : undefined);
    const ok = s.client.send('c1', 'eventually');
    await s.clock.advance(20_000);
    expect((await ok).text).toBe('eventually');

    s.server.intercept = (event) => (event === 'send_message' ? problem(409, 'conflict') : undefined);
    const failed = jest.fn();
    s.client.on('failed', failed);
    const refused = s.client.send('c1', 'archived');
    const outcome = refused.catch((e) => e);
    await s.clock.advance(20_000);
    expect(await outcome).toMatchObject({ kind: 'refused', problem: { status: 409 } });
    expect(failed).toHaveBeenCalledTimes(1);
    expect(s.client.pending()).toEqual([]);
  });

  it('a persistent store replays sends queued before a reload (new client instance)', async () => {
    const store = new MemoryOutboxStore();
    const first = setup({ store });
    void first.client.send('c1', 'queued offline').catch(() => undefined);
    await first.clock.advance(0);
    first.client.close();
    expect(await store.load()).toHaveLength(1);

    const second = setup({ store });
    const sent: MessageView[] = [];
    second.client.on('sent', (_e, m) => sent.push(m));
    second.client.connect();
    await second.clock.advance(0);
    expect(sent.map((m) => m.text)).toEqual(['queued offline']);
    expect(await store.load()).toEqual([]);
  });
});

describe('hooks for load and fault tools', () => {
  const tool = (more: Partial<ClientOptions> = {}) => setup({ more });

  it('reports every attempt with its outcome and timing: a lost ack (timeout), a refusal, then the ack of a duplicate', async () => {
    const s = tool({ retryDelay: ({ problem }) => (problem ? 300 : 100) });
    s.client.connect();
    await s.clock.advance(0);
    const answers: ('drop' | 'store-drop' | ReturnType<typeof problem>)[] = ['store-drop', problem(503, 'unavailable', { retryAfter: 5 })];
    let inner = false;
    s.server.intercept = (event, payload) => {
      if (event !== 'send_message' || inner) return undefined;
      const next = answers.shift();
      if (next === 'store-drop') {
        inner = true;
        s.server.handle({ rooms: new Set(), deliver() {} } as never, 'send_message', payload, () => undefined);
        inner = false;
        return 'drop';
      }
      return next as ReturnType<typeof problem> | undefined;
    };
    const sent = s.client.send('c1', 'hello');
    await s.clock.advance(10_000);
    expect((await sent).text).toBe('hello');
    expect(s.attempts.map((a) => [a.attempt, a.outcome, a.transport, a.durationMs, a.duplicate, a.problem?.code])).toEqual([
      [1, 'timeout', 'socket', 2_000, undefined, undefined],
      [2, 'refused', 'socket', 0, undefined, 'unavailable'],
      [3, 'acked', 'socket', 0, true, undefined],
    ]);
    // retryDelay replaced the Retry-After (5 s) and the backoff: 100 ms after the timeout, 300 ms after the refusal
    expect(s.attempts[1]!.startedAt - s.attempts[0]!.startedAt).toBe(2_100);
    expect(s.attempts[2]!.startedAt - s.attempts[1]!.startedAt).toBe(300);
    expect(s.attempts[2]!.message).toMatchObject({ seq: 1, clientMsgId: 'c1' });
    expect(s.attempts[2]!.message).not.toHaveProperty('duplicate');
  });

  it('maxAttempts gives up: send() rejects with the last error and the entry leaves the queue', async () => {
    const s = tool({ maxAttempts: 2, retryDelay: () => 10 });
    s.client.connect();
    await s.clock.advance(0);
    s.server.intercept = (event) => (event === 'send_message' ? problem(503, 'unavailable') : undefined);
    const failed = jest.fn();
    s.client.on('failed', failed);
    const outcome = s.client.send('c1', 'never').catch((e) => e);
    await s.clock.advance(1_000);
    expect(await outcome).toMatchObject({ kind: 'transient', problem: { status: 503 } });
    expect(s.attempts.map((a) => a.outcome)).toEqual(['refused', 'refused']);
    expect(failed).toHaveBeenCalledTimes(1);
    expect(s.client.pending()).toEqual([]);
  });

  it('raw subscription: joins again after every reconnect and shows the broadcasts as they come (duplicates and gaps included)', async () => {
    const s = tool();
    const broadcasts: number[] = [];
    const ordered: number[] = [];
    s.client.on('broadcast', (m) => broadcasts.push(m.seq));
    s.client.on('message', (m) => ordered.push(m.seq));
    s.client.subscribe('c1', { raw: true });
    s.client.connect();
    await s.clock.advance(0);
    const socket = [...s.server.sockets].find((x) => x.connected)!;
    expect(socket.rooms.has('c1')).toBe(true);
    const m3 = s.server.store('c1', 3);
    s.server.broadcast(m3);
    s.server.broadcast(m3);
    s.server.broadcast(s.server.store('c1', 1));
    expect(broadcasts).toEqual([3, 3, 1]);
    expect(ordered).toEqual([]); // no sequencer, no catch-up
    expect(s.server.historyCalls).toBe(0);
    socket.drop();
    await s.clock.advance(1_000);
    const again = [...s.server.sockets].find((x) => x.connected)!;
    expect(again).not.toBe(socket);
    expect(again.rooms.has('c1')).toBe(true);
    expect(s.server.received.filter((r) => r.event === 'join_conversation')).toHaveLength(2);
  });

  it('an ordered and a raw subscription share the room: the socket leaves it only when neither follows it; every resync is reported', async () => {
    const s = setup();
    const resyncs: string[] = [];
    s.client.on('resync', (e) => resyncs.push(`${e.conversationId}@${e.lastSeq}`));
    s.client.connect();
    await s.clock.advance(0);
    const socket = s.current()!;
    const leaves = () => s.server.received.filter((r) => r.event === 'leave_conversation').length;
    // A list view follows c1 raw; the app opens it (ordered) and closes it again: still followed raw.
    const raw = s.client.subscribe('c1', { raw: true });
    const open = s.client.subscribe('c1', { afterSeq: 0 });
    await s.clock.advance(0);
    open.unsubscribe();
    await s.clock.advance(0);
    expect(leaves()).toBe(0);
    expect(socket.rooms.has('c1')).toBe(true);
    // The other way round: opened, then no longer listed: still open.
    const again = s.client.subscribe('c1', { afterSeq: 0 });
    raw.unsubscribe();
    await s.clock.advance(0);
    expect(leaves()).toBe(0);
    expect(socket.rooms.has('c1')).toBe(true);
    // A stale handle (already unsubscribed) does not end the subscription that replaced it.
    open.unsubscribe();
    await s.clock.advance(0);
    expect(socket.rooms.has('c1')).toBe(true);
    // A resync for a raw-only conversation has no sequencer to repair it: the app hears of it.
    s.client.subscribe('c2', { raw: true });
    await s.clock.advance(0);
    socket.deliver('conversation_resync', { conversationId: 'c2', lastSeq: 7 });
    expect(resyncs).toEqual(['c2@7']);
    // Nothing follows c1 any more: now it leaves.
    again.unsubscribe();
    await s.clock.advance(0);
    expect(leaves()).toBe(1);
    expect(socket.rooms.has('c1')).toBe(false);
  });

  it('sendTransport http: sends without a connection, reports status, Retry-After and duplicates, stops at close()', async () => {
    const calls: { url: string; body: any }[] = [];
    const replies: (() => Response)[] = [
      () => new Response(JSON.stringify(problem(503, 'unavailable', { retryAfter: 1 })), { status: 503, headers: { 'retry-after': '1' } }),
      () => new Response(JSON.stringify(problem(503, 'unavailable')), { status: 503 }),
      () => new Response(JSON.stringify({ id: 'm1', conversationId: 'c1', seq: 1, senderId: 'amy', clientMsgId: 'c1', text: 'over http', createdAt: new Date(0).toISOString() }), { status: 200 }),
    ];
    const fetchFn = (async (url: string, init: RequestInit) => {
      calls.push({ url, body: JSON.parse(String(init.body)) });
      return replies.shift()!();
    }) as unknown as typeof fetch;
    const s = tool({ sendTransport: 'http', fetch: fetchFn, retryDelay: () => 50 });
    const sent = s.client.send('c1', 'over http');
    await s.clock.advance(1_000);
    expect((await sent).seq).toBe(1);
    expect(s.client.state).toBe('closed'); // never connected
    expect(s.server.sockets.size).toBe(0);
    expect(calls.map((c) => [c.url, c.body.clientMsgId])).toEqual(Array(3).fill(['http://core.test/api/conversations/c1/messages', 'c1']));
    expect(s.attempts.map((a) => [a.transport, a.outcome, a.http, a.duplicate])).toEqual([
      ['http', 'refused', { status: 503, retryAfter: '1' }, undefined],
      ['http', 'refused', { status: 503, retryAfter: null }, undefined],
      ['http', 'acked', { status: 200, retryAfter: null }, true],
    ]);

    // an HTTP send that is never answered times out after ackTimeoutMs; close() stops the retries
    const hanging = (async (_url: string, init: RequestInit) => new Promise((_resolve, reject) => init.signal!.addEventListener('abort', () => reject(new Error('aborted'))))) as unknown as typeof fetch;
    const h = tool({ sendTransport: 'http', fetch: hanging, retryDelay: () => 50 });
    const pending = h.client.send('c1', 'no answer').catch((e) => e);
    await h.clock.advance(2_000);
    expect(h.attempts.map((a) => [a.outcome, a.durationMs])).toEqual([['timeout', 2_000]]);
    h.client.close();
    expect(await pending).toMatchObject({ kind: 'closed' });
    await h.clock.advance(10_000);
    expect(h.attempts).toHaveLength(1);
  });
});
