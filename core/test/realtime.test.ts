import { collect, nextEvent, sleep, startTestCore, type ClientSocket, type TestCore } from './harness';

let t: TestCore;
let convId: string;
beforeAll(async () => {
  t = await startTestCore();
  convId = (await t.api('amy', 'POST', '/api/conversations', { type: 'group', name: 'live', memberIds: ['bo', 'cy'] })).body.id;
});
afterAll(async () => {
  await t.stop();
});

const emit = <T = any>(socket: ClientSocket, event: string, payload?: unknown): Promise<T> =>
  (socket as any).timeout(5_000).emitWithAck(event, payload);

async function joined(userId: string, id = convId): Promise<ClientSocket> {
  const socket = await t.socket(userId);
  const ack = await emit(socket, 'join_conversation', { conversationId: id });
  expect(ack.error).toBeUndefined();
  return socket;
}

describe('Socket.IO gateway', () => {
  it('join_conversation acks members with the conversation position, and refuses others (403/404)', async () => {
    const amy = await t.socket('amy');
    expect(await emit(amy, 'join_conversation', { conversationId: convId })).toEqual({ conversationId: convId, lastSeq: expect.any(Number), lastReadSeq: 0, typing: [] });
    const eve = await t.socket('eve');
    expect((await emit(eve, 'join_conversation', { conversationId: convId })).error.code).toBe('forbidden');
    expect((await emit(eve, 'join_conversation', { conversationId: '0123456789abcdef01234567' })).error.code).toBe('not_found');
    expect((await emit(eve, 'join_conversation', { conversationId: { $gt: '' } })).error.code).toBe('validation_failed');
    expect((await emit(eve, 'join_conversation', 'not an object')).error.code).toBe('validation_failed');
  });

  it('send_message acks after storing and broadcasts message_received to the room', async () => {
    const [amy, bo] = [await joined('amy'), await joined('bo')];
    const received = nextEvent<any>(bo, 'message_received');
    const ack = await emit(amy, 'send_message', { conversationId: convId, clientMsgId: 'sock-1', text: 'over the socket' });
    expect(ack).toMatchObject({ id: expect.any(String), seq: expect.any(Number), createdAt: expect.any(String), duplicate: false });
    const message = await received;
    expect(message).toMatchObject({ id: ack.id, seq: ack.seq, text: 'over the socket', senderId: 'amy' });
    const stored = await t.api('bo', 'GET', `/api/conversations/${convId}/messages?afterSeq=${ack.seq - 1}&limit=1`);
    expect(stored.body.items[0].id).toBe(ack.id);
  });

  it('a retried send acks the original (duplicate: true) and is not broadcast again', async () => {
    const [amy, cy] = [await joined('amy'), await joined('cy')];
    const seen = collect<any>(cy, 'message_received');
    const first = await emit(amy, 'send_message', { conversationId: convId, clientMsgId: 'sock-retry', text: 'once' });
    const again = await emit(amy, 'send_message', { conversationId: convId, clientMsgId: 'sock-retry', text: 'once' });
    expect(again).toMatchObject({ id: first.id, seq: first.seq, duplicate: true });
    await sleep(200);
    expect(seen.filter((m) => m.clientMsgId === 'sock-retry')).toHaveLength(1);
  });

  it('answers invalid sends with an error ack and broadcasts nothing', async () => {
    const [amy, bo] = [await joined('amy'), await joined('bo')];
    const seen = collect<any>(bo, 'message_received');
    expect((await emit(amy, 'send_message', { conversationId: convId, clientMsgId: 'bad' })).error.code).toBe('validation_failed');
    expect((await emit(amy, 'send_message', { conversationId: convId, clientMsgId: 'bad2', text: { $ne: 1 } })).error.code).toBe('validation_failed');
    expect((await emit(amy, 'send_message', { clientMsgId: 'bad3', text: 'x' })).error.code).toBe('validation_failed');
    const eve = await t.socket('eve');
    expect((await emit(eve, 'send_message', { conversationId: convId, clientMsgId: 'eve-1', text: 'hi' })).error.code).toBe('forbidden');
    await sleep(200);
    expect(seen).toHaveLength(0);
  });

  it('messages sent over HTTP reach socket clients too', async () => {
    const bo = await joined('bo');
    const received = nextEvent<any>(bo, 'message_received');
    const sent = await t.api('amy', 'POST', `/api/conversations/${convId}/messages`, { clientMsgId: 'http-to-socket', text: 'via REST' });
    expect((await received).id).toBe(sent.body.id);
  });

  it('mark_read acks the stored position and broadcasts message_read', async () => {
    const [amy, bo] = [await joined('amy'), await joined('bo')];
    const sent = await emit(amy, 'send_message', { conversationId: convId, clientMsgId: 'to-read', text: 'read me' });
    const readEvent = nextEvent<any>(amy, 'message_read');
    expect(await emit(bo, 'mark_read', { conversationId: convId, seq: sent.seq })).toEqual({ conversationId: convId, lastReadSeq: sent.seq });
    expect(await readEvent).toEqual({ conversationId: convId, userId: 'bo', seq: sent.seq });
    expect((await emit(bo, 'mark_read', { conversationId: convId, seq: 'x' })).error.code).toBe('validation_failed');
  });

  it('typing events reach the others in the room, never the sender, and need a joined room', async () => {
    const [amy, bo] = [await joined('amy'), await joined('bo')];
    const ownEvents = collect<any>(amy, 'user_typing');
    const typing = nextEvent<any>(bo, 'user_typing');
    expect(await emit(amy, 'typing_start', { conversationId: convId })).toEqual({ ok: true });
    expect(await typing).toEqual({ conversationId: convId, userId: 'amy', typing: true });
    const late = await t.socket('cy');
    expect((await emit(late, 'join_conversation', { conversationId: convId })).typing).toEqual(['amy']);
    const stopped = nextEvent<any>(bo, 'user_typing');
    await emit(amy, 'typing_stop', { conversationId: convId });
    expect((await stopped).typing).toBe(false);
    const notJoined = await t.socket('cy');
    expect((await emit(notJoined, 'typing_start', { conversationId: convId })).error.code).toBe('forbidden');
    await sleep(100);
    expect(ownEvents).toHaveLength(0);
  });

  it('announces presence: user_online on join, user_offline only when the last socket goes', async () => {
    const id = (await t.api('amy', 'POST', '/api/conversations', { type: 'group', name: 'presence', memberIds: ['dee'] })).body.id;
    const amy = await joined('amy', id);
    const online = nextEvent<any>(amy, 'user_online');
    const dee1 = await joined('dee', id);
    expect(await online).toEqual({ conversationId: id, userId: 'dee' });
    const dee2 = await joined('dee', id);
    const offlines = collect<any>(amy, 'user_offline');
    dee1.disconnect();
    await sleep(300);
    expect(offlines).toHaveLength(0);
    const offline = nextEvent<any>(amy, 'user_offline');
    dee2.disconnect();
    expect(await offline).toEqual({ conversationId: id, userId: 'dee' });
  });

  it('drops a socket that sends a packet over maxHttpBufferSize, stores nothing, and keeps serving others', async () => {
    const amy = await t.socket('amy');
    const dropped = new Promise<string>((resolve) => amy.once('disconnect', resolve));
    amy.emit('send_message', { conversationId: convId, clientMsgId: 'huge-socket', text: 'x'.repeat(t.config.SOCKET_MAX_BUFFER_BYTES + 1) });
    expect(await dropped).toBe('transport close');
    const bo = await t.socket('bo');
    expect(await emit(bo, 'heartbeat')).toHaveProperty('serverTime');
    const history = await t.api('bo', 'GET', `/api/conversations/${convId}/messages?limit=100`);
    expect(history.body.items.some((m: { clientMsgId: string }) => m.clientMsgId === 'huge-socket')).toBe(false);
  });

  it('heartbeat acks with the server time', async () => {
    const amy = await t.socket('amy');
    const ack = await emit(amy, 'heartbeat');
    expect(Date.parse(ack.serverTime)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a user who leaves stops receiving the room', async () => {
    const id = (await t.api('amy', 'POST', '/api/conversations', { type: 'group', name: 'leave-live', memberIds: ['bo'] })).body.id;
    const bo = await joined('bo', id);
    const seen = collect<any>(bo, 'message_received');
    await t.api('bo', 'POST', `/api/conversations/${id}/leave`);
    await sleep(100);
    await t.api('amy', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'after-leave', text: 'gone?' });
    await sleep(200);
    expect(seen).toHaveLength(0);
  });
});

describe('concurrency', () => {
  it('200 concurrent sends from 20 clients with retries mixed in: one message per clientMsgId, no seq repeated, acks match storage', async () => {
    const users = Array.from({ length: 20 }, (_, i) => `load-${i}`);
    const id = (await t.api(users[0]!, 'POST', '/api/conversations', { type: 'group', name: 'stampede', memberIds: users.slice(1) })).body.id;
    const sockets = await Promise.all(users.map((u) => t.socket(u)));
    const sends: Promise<{ user: string; clientMsgId: string; ack: any }>[] = [];
    sockets.forEach((socket, u) => {
      for (let i = 0; i < 10; i++) {
        const clientMsgId = `u${u}-m${i}`;
        const payload = { conversationId: id, clientMsgId, text: `message ${i} from ${users[u]}` };
        sends.push(emit(socket, 'send_message', payload).then((ack) => ({ user: users[u]!, clientMsgId, ack })));
        // Every third message is retried at once, racing its original.
        if (i % 3 === 0) sends.push(emit(socket, 'send_message', payload).then((ack) => ({ user: users[u]!, clientMsgId, ack })));
      }
    });
    const results = await Promise.all(sends);
    expect(results.filter((r) => r.ack.error)).toEqual([]);
    const stored: any[] = [];
    let afterSeq = 0;
    for (;;) {
      const page = await t.api(users[0]!, 'GET', `/api/conversations/${id}/messages?afterSeq=${afterSeq}&limit=100`);
      stored.push(...page.body.items);
      if (page.body.nextCursor === null) break;
      afterSeq = page.body.nextCursor;
    }
    expect(stored).toHaveLength(200);
    expect(new Set(stored.map((m) => `${m.senderId}/${m.clientMsgId}`)).size).toBe(200);
    expect(new Set(stored.map((m) => m.seq)).size).toBe(200);
    const byKey = new Map(stored.map((m) => [`${m.senderId}/${m.clientMsgId}`, m]));
    for (const r of results) {
      const m = byKey.get(`${r.user}/${r.clientMsgId}`);
      expect({ id: r.ack.id, seq: r.ack.seq }).toEqual({ id: m.id, seq: m.seq });
    }
  });
});
