import { MongoBulkWriteError, MongoClient } from 'mongodb';
import { serializeError } from '../src/telemetry/logger';
import { collect, nextEvent, sleep, startTestCore, testServicesEnv, uniqueDbName, type ClientSocket, type TestCore } from './harness';

/** Per-document outcomes of the batched send path, against the real local MongoDB-compatible server. */
let t: TestCore;
let convId: string;
let ann: ClientSocket;
let ben: ClientSocket;
const ack = (socket: ClientSocket, event: string, payload: unknown) => (socket as any).timeout(10_000).emitWithAck(event, payload);

beforeAll(async () => {
  t = await startTestCore({ SEND_QUEUE_MAX: '40' });
  convId = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'outcomes', memberIds: ['ben'] })).body.id;
  [ann, ben] = await Promise.all([t.socket('ann'), t.socket('ben')]);
  for (const s of [ann, ben]) expect((await ack(s, 'join_conversation', { conversationId: convId })).error).toBeUndefined();
});
afterAll(async () => {
  await t?.stop();
});

describe('a batch with a retried clientMsgId among new messages', () => {
  it('stores and broadcasts the neighbours in seq order and answers the retry with its original (not broadcast twice here)', async () => {
    const delivered = nextEvent(ben, 'message_received');
    const first = await ack(ann, 'send_message', { conversationId: convId, clientMsgId: 'orig', text: 'the original' });
    expect(first.error).toBeUndefined();
    await delivered;
    const seen = collect<{ id: string; seq: number; clientMsgId: string }>(ben, 'message_received');
    // Same event-loop turn on the server: one batch, one insertMany with a duplicate key inside.
    const answers = await Promise.all([
      ack(ann, 'send_message', { conversationId: convId, clientMsgId: 'n1', text: 'one' }),
      ack(ann, 'send_message', { conversationId: convId, clientMsgId: 'orig', text: 'the original' }),
      ack(ann, 'send_message', { conversationId: convId, clientMsgId: 'n2', text: 'two' }),
    ]);
    expect(answers.map((a) => a.error)).toEqual([undefined, undefined, undefined]);
    expect(answers[1]).toMatchObject({ id: first.id, seq: first.seq, duplicate: true });
    expect([answers[0].duplicate, answers[2].duplicate]).toEqual([false, false]);
    for (let i = 0; i < 50 && seen.length < 2; i++) await sleep(20);
    await sleep(100);
    expect(seen.map((m) => m.clientMsgId)).toEqual(['n1', 'n2']);
    expect(seen[0]!.seq).toBeLessThan(seen[1]!.seq);
    const history = (await t.api('ann', 'GET', `/api/conversations/${convId}/messages?limit=100`)).body.items as { clientMsgId: string }[];
    expect(history.filter((m) => m.clientMsgId === 'orig')).toHaveLength(1);
  });

  it('a retry reaching an instance that never broadcast the original (its ack was lost) broadcasts it', async () => {
    const other = await startTestCore({}, { db: t.config.MONGODB_DB });
    try {
      const first = await ack(ann, 'send_message', { conversationId: convId, clientMsgId: 'lost-ack', text: 'stored, ack lost' });
      const [annThere, benThere] = await Promise.all([other.socket('ann'), other.socket('ben')]);
      expect((await ack(benThere, 'join_conversation', { conversationId: convId })).error).toBeUndefined();
      const seen = collect<{ id: string }>(benThere, 'message_received');
      const retry = await ack(annThere, 'send_message', { conversationId: convId, clientMsgId: 'lost-ack', text: 'stored, ack lost' });
      expect(retry).toMatchObject({ id: first.id, duplicate: true });
      for (let i = 0; i < 50 && !seen.length; i++) await sleep(20);
      expect(seen.map((m) => m.id)).toEqual([first.id]);
    } finally {
      await other.stop();
    }
  });
});

describe('backpressure', () => {
  it('answers unavailable with retryAfter at once when the per-instance queue is full, and stores exactly what it acked', async () => {
    const sends = Array.from({ length: 120 }, (_, i) => ack(ann, 'send_message', { conversationId: convId, clientMsgId: `bp-${i}`, text: `bp ${i}` }));
    const answers = await Promise.all(sends);
    const refused = answers.filter((a) => a.error);
    const acked = answers.filter((a) => !a.error);
    expect(refused.length).toBeGreaterThan(0);
    expect(acked.length).toBeGreaterThan(0);
    for (const r of refused) expect(r.error).toMatchObject({ code: 'unavailable', status: 503, retryAfter: expect.any(Number) });
    const history = (await t.api('ann', 'GET', `/api/conversations/${convId}/messages?limit=100`)).body.items as { clientMsgId: string }[];
    const stored = new Set(history.map((m) => m.clientMsgId).filter((c) => c.startsWith('bp-')));
    expect(stored).toEqual(new Set(acked.map((a) => a.clientMsgId)));
  });
});

describe('logging a refused batch', () => {
  it('keeps only index and code of each write error (a document, and so its text, never reaches the log)', async () => {
    const client = new MongoClient(testServicesEnv().MONGODB_URI);
    try {
      const col = client.db(uniqueDbName()).collection('x');
      await col.createIndex({ k: 1 }, { unique: true });
      await col.insertOne({ k: 1, text: 'secret words' });
      const error = await col.insertMany([{ k: 2, text: 'secret words' }, { k: 1, text: 'secret words' }], { ordered: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MongoBulkWriteError);
      const logged = JSON.stringify(serializeError(error));
      expect(logged).not.toContain('secret words');
      expect(JSON.parse(logged).writeErrors).toEqual([{ index: 1, code: 11000 }]);
    } finally {
      await client.close();
    }
  });
});

describe('skipped seqs', () => {
  it('a seq used up by a retry is never filled: gap repair returns what exists and ends (nextCursor null), so the client treats the hole as skipped', async () => {
    const id = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'holes', memberIds: ['ben'] })).body.id as string;
    const first = await ack(ann, 'send_message', { conversationId: id, clientMsgId: 'h-1', text: 'one' });
    // The retry reserves a seq before the unique index tells it apart: that seq stays empty.
    expect((await ack(ann, 'send_message', { conversationId: id, clientMsgId: 'h-1', text: 'one' })).duplicate).toBe(true);
    const third = await ack(ann, 'send_message', { conversationId: id, clientMsgId: 'h-2', text: 'two' });
    expect(third.seq).toBeGreaterThan(first.seq + 1);
    const repair = (await t.api('ben', 'GET', `/api/conversations/${id}/messages?afterSeq=${first.seq}&limit=10`)).body;
    expect(repair.items.map((m: { seq: number }) => m.seq)).toEqual([third.seq]);
    expect(repair.nextCursor).toBeNull();
    const conversation = (await t.api('ben', 'GET', `/api/conversations/${id}`)).body;
    expect(conversation.lastSeq).toBe(third.seq);
  });
});
