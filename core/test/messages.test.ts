import { MongoClient } from 'mongodb';
import { toObjectId, type MessageId } from '../src/domain/ids';
import { startTestCore, type TestCore } from './harness';

let t: TestCore;
let convId: string;
beforeAll(async () => {
  t = await startTestCore();
  convId = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'msgs', memberIds: ['ben'] })).body.id;
});
afterAll(async () => {
  await t.stop();
});

const send = (user: string, id: string, clientMsgId: string, text: string) => t.api(user, 'POST', `/api/conversations/${id}/messages`, { clientMsgId, text });

describe('POST /api/conversations/:id/messages', () => {
  it('stores a message (201) with an increasing seq; the same clientMsgId returns the original (200)', async () => {
    const first = await send('ann', convId, 'c-1', 'hello ben');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ seq: expect.any(Number), senderId: 'ann', clientMsgId: 'c-1', text: 'hello ben' });
    const retry = await send('ann', convId, 'c-1', 'hello ben');
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    const second = await send('ben', convId, 'c-1', 'same clientMsgId, other sender');
    expect(second.status).toBe(201);
    expect(second.body.seq).toBeGreaterThan(first.body.seq);
    const history = await t.api('ann', 'GET', `/api/conversations/${convId}/messages`);
    expect(history.body.items.filter((m: { clientMsgId: string; senderId: string }) => m.clientMsgId === 'c-1' && m.senderId === 'ann')).toHaveLength(1);
  });

  it('refuses non-members (403) and unknown conversations (404) and stores nothing', async () => {
    const outsider = await send('mallory', convId, 'x-1', 'let me in');
    expect(outsider.status).toBe(403);
    expect(outsider.body.code).toBe('forbidden');
    expect((await send('ann', '0123456789abcdef01234567', 'x-2', 'nowhere')).status).toBe(404);
    expect((await send('ann', 'zzz', 'x-3', 'nowhere')).status).toBe(404);
    const history = await t.api('ann', 'GET', `/api/conversations/${convId}/messages?limit=100`);
    expect(history.body.items.some((m: { text: string }) => m.text === 'let me in')).toBe(false);
  });

  it('validates clientMsgId and text; a clientMsgId reused in another conversation is 409', async () => {
    expect((await send('ann', convId, '', 'x')).status).toBe(400);
    expect((await send('ann', convId, 'ok-id', '')).status).toBe(400);
    const tooLong = await send('ann', convId, 'long', 'x'.repeat(t.config.MESSAGE_MAX_CHARS + 1));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.errors[0].path).toBe('text');
    const other = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'other' })).body.id;
    await send('ann', convId, 'shared-id', 'first use');
    const reused = await send('ann', other, 'shared-id', 'second use');
    expect(reused.status).toBe(409);
    expect(reused.body.reason).toBe('client_msg_id_reused');
  });

  it('stores text as plain text, unchanged', async () => {
    const text = '<script>alert(1)</script> & "quotes" — ünïcödé 🎉';
    const res = await send('ann', convId, 'plain', text);
    expect(res.body.text).toBe(text);
    const history = await t.api('ben', 'GET', `/api/conversations/${convId}/messages?afterSeq=${res.body.seq - 1}&limit=1`);
    expect(history.body.items[0].text).toBe(text);
  });
});

describe('GET /api/conversations/:id/messages (keyset history)', () => {
  let pageConv: string;
  beforeAll(async () => {
    pageConv = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'pages', memberIds: ['ben'] })).body.id;
    for (let i = 1; i <= 7; i++) await send(i % 2 ? 'ann' : 'ben', pageConv, `p-${i}`, `message ${i}`);
  });

  it('returns the newest page in seq order and pages back with nextCursor as beforeSeq', async () => {
    const newest = await t.api('ann', 'GET', `/api/conversations/${pageConv}/messages?limit=3`);
    expect(newest.body.items.map((m: { text: string }) => m.text)).toEqual(['message 5', 'message 6', 'message 7']);
    const older = await t.api('ann', 'GET', `/api/conversations/${pageConv}/messages?limit=3&beforeSeq=${newest.body.nextCursor}`);
    expect(older.body.items.map((m: { text: string }) => m.text)).toEqual(['message 2', 'message 3', 'message 4']);
    const oldest = await t.api('ann', 'GET', `/api/conversations/${pageConv}/messages?limit=3&beforeSeq=${older.body.nextCursor}`);
    expect(oldest.body.items.map((m: { text: string }) => m.text)).toEqual(['message 1']);
    expect(oldest.body.nextCursor).toBeNull();
  });

  it('repairs a gap with afterSeq, in order, paging forward', async () => {
    const all = (await t.api('ann', 'GET', `/api/conversations/${pageConv}/messages?limit=100`)).body.items as { seq: number; text: string }[];
    const afterSecond = await t.api('ben', 'GET', `/api/conversations/${pageConv}/messages?afterSeq=${all[1]!.seq}&limit=2`);
    expect(afterSecond.body.items.map((m: { text: string }) => m.text)).toEqual(['message 3', 'message 4']);
    const next = await t.api('ben', 'GET', `/api/conversations/${pageConv}/messages?afterSeq=${afterSecond.body.nextCursor}&limit=10`);
    expect(next.body.items.map((m: { text: string }) => m.text)).toEqual(['message 5', 'message 6', 'message 7']);
    const seqs = all.map((m) => m.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('rejects limit over 100, both cursors at once, and non-numeric cursors', async () => {
    expect((await t.api('ann', 'GET', `/api/conversations/${pageConv}/messages?limit=101`)).status).toBe(400);
    expect((await t.api('ann', 'GET', `/api/conversations/${pageConv}/messages?beforeSeq=5&afterSeq=1`)).status).toBe(400);
    expect((await t.api('ann', 'GET', `/api/conversations/${pageConv}/messages?afterSeq=abc`)).status).toBe(400);
  });

  it('is for members only', async () => {
    expect((await t.api('mallory', 'GET', `/api/conversations/${pageConv}/messages`)).status).toBe(403);
  });
});

describe('search and read state', () => {
  it('finds messages containing every word, newest first, with highlight offsets', async () => {
    const id = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'search', memberIds: ['ben'] })).body.id;
    await send('ann', id, 's1', 'The deploy finished on Friday');
    await send('ben', id, 's2', 'Nothing to see here');
    await send('ann', id, 's3', 'Another DEPLOY, this time on Monday');
    const res = await t.api('ben', 'GET', `/api/conversations/${id}/search?q=deploy`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((m: { clientMsgId: string }) => m.clientMsgId)).toEqual(['s3', 's1']);
    const fragment = res.body.items[0].fragments[0];
    const { start, end } = fragment.highlights[0];
    expect(fragment.text.slice(start, end)).toBe('DEPLOY');
    const both = await t.api('ben', 'GET', `/api/conversations/${id}/search?q=deploy%20friday`);
    expect(both.body.items.map((m: { clientMsgId: string }) => m.clientMsgId)).toEqual(['s1']);
    expect((await t.api('ben', 'GET', `/api/conversations/${id}/search`)).status).toBe(400);
    expect((await t.api('mallory', 'GET', `/api/conversations/${id}/search?q=deploy`)).status).toBe(403);
  });

  it('moves read state forward only and derives unreadCount from it', async () => {
    const id = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'reads', memberIds: ['ben'] })).body.id;
    const m1 = await send('ann', id, 'r1', 'one');
    const m2 = await send('ann', id, 'r2', 'two');
    await send('ann', id, 'r3', 'three');
    const read = await t.api('ben', 'POST', `/api/conversations/${id}/read`, { seq: m2.body.seq });
    expect(read.body.lastReadSeq).toBe(m2.body.seq);
    const back = await t.api('ben', 'POST', `/api/conversations/${id}/read`, { seq: m1.body.seq });
    expect(back.body.lastReadSeq).toBe(m2.body.seq);
    const conv = await t.api('ben', 'GET', `/api/conversations/${id}`);
    expect(conv.body.unreadCount).toBe(1);
    expect((await t.api('ben', 'POST', `/api/conversations/${id}/read`, { seq: -1 })).status).toBe(400);
    expect((await t.api('mallory', 'POST', `/api/conversations/${id}/read`, { seq: 1 })).status).toBe(403);
  });

  it('a history page shows what the database holds, also for messages this instance has cached (removed by retention: gone)', async () => {
    const conv = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'cached', memberIds: ['ben'] })).body.id;
    const sent = [];
    for (const n of [1, 2, 3]) sent.push((await send('ann', conv, `cached-${n}`, `cached ${n}`)).body);
    const page = () => t.api('ben', 'GET', `/api/conversations/${conv}/messages?limit=10`);
    expect((await page()).body.items.map((m: { text: string }) => m.text)).toEqual(['cached 1', 'cached 2', 'cached 3']);
    // What the retention job does: delete by _id, behind the core's back.
    const client = await MongoClient.connect(t.config.MONGODB_URI!);
    try {
      await client.db(t.config.MONGODB_DB).collection('messages').deleteOne({ _id: toObjectId(sent[1].id as MessageId) });
    } finally {
      await client.close();
    }
    const after = (await page()).body;
    expect(after.items.map((m: { text: string }) => m.text)).toEqual(['cached 1', 'cached 3']);
    expect(after.items[1]).toEqual(sent[2]);
  });
});

