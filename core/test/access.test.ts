import { MongoClient, ObjectId } from 'mongodb';
import { signLocalToken, tokenSettingsFrom } from '../src/auth/tokens';
import { collect, nextEvent, sleep, startTestCore, type ClientSocket, type TestCore } from './harness';

/**
 * Access ends when it should: expired tokens, departed members, one canonical id, cheap refusals,
 * private groups. Each test is a row of issue 15's table or a rule of its "What to deliver".
 */
let t: TestCore;
beforeAll(async () => {
  // No clock tolerance, so a token's exp is the session's end.
  t = await startTestCore({ JWT_CLOCK_TOLERANCE_S: '0' });
});
afterAll(async () => {
  await t?.stop();
});

const emit = <T = any>(socket: ClientSocket, event: string, payload?: unknown): Promise<T> =>
  (socket as any).timeout(5_000).emitWithAck(event, payload);
const shortToken = (core: TestCore, userId: string, ttlSeconds: number) => signLocalToken(tokenSettingsFrom(core.config), userId, ttlSeconds);
const disconnected = (socket: ClientSocket) => new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
const group = async (owner: string, memberIds: string[], extra: object = {}) =>
  (await t.api(owner, 'POST', '/api/conversations', { type: 'group', name: 'g', memberIds, ...extra })).body.id as string;

describe('socket sessions end with their token', () => {
  it('a token that expires ends the session: session_ended(token_expired), disconnected, and the same token cannot reconnect', async () => {
    const id = await group('exp-a', ['exp-b']);
    const socket = await t.socket('exp-a', { token: await shortToken(t, 'exp-a', 2) });
    expect((await emit(socket, 'join_conversation', { conversationId: id })).error).toBeUndefined();
    const ended = nextEvent<{ reason: string; message: string }>(socket, 'session_ended', 10_000);
    const gone = disconnected(socket);
    expect(await ended).toMatchObject({ reason: 'token_expired', message: expect.stringMatching(/renew_token/) });
    expect(await gone).toBe('io server disconnect');
    expect(socket.connected).toBe(false);

    // Nothing sent on the expired token was stored.
    socket.connect();
    const refused = await new Promise<Error & { data?: { code: string } }>((resolve) => socket.once('connect_error', resolve));
    expect(refused.data).toMatchObject({ code: 'unauthorized', detail: 'The token has expired.' });
    expect((await t.api('exp-b', 'GET', `/api/conversations/${id}/messages`)).body.items).toEqual([]);
  });

  it('renew_token with a fresh token for the same user moves the deadline; another user\'s or a forged token is refused', async () => {
    const id = await group('ren-a', []);
    const socket = await t.socket('ren-a', { token: await shortToken(t, 'ren-a', 2) });
    const ended = collect(socket, 'session_ended');
    expect((await emit(socket, 'renew_token', { token: await shortToken(t, 'ren-b', 3600) })).error).toMatchObject({ code: 'forbidden' });
    expect((await emit(socket, 'renew_token', { token: 'not.a.jwt' })).error).toMatchObject({ code: 'unauthorized' });
    expect((await emit(socket, 'renew_token', {})).error).toMatchObject({ code: 'validation_failed' });
    const renewed = await emit(socket, 'renew_token', { token: await shortToken(t, 'ren-a', 3600) });
    expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.now() + 3_500_000);
    // Past the first token's exp (at most 2 s away), the session goes on.
    await sleep(3_000);
    expect(ended).toEqual([]);
    expect(socket.connected).toBe(true);
    const sent = await emit(socket, 'send_message', { conversationId: id, clientMsgId: 'after-renew', text: 'still here' });
    expect(sent.error).toBeUndefined();
  });

  it('the operator hook (internal listener) ends every socket of a user at once; the public port has no such path', async () => {
    const [first, second, other] = [await t.socket('rev-a'), await t.socket('rev-a'), await t.socket('rev-b')];
    const otherEnded = collect(other, 'session_ended');
    const ends = [first, second].map((s) => nextEvent<{ reason: string }>(s, 'session_ended'));
    const gone = [first, second].map(disconnected);
    expect((await fetch(`${t.url}/admin/users/rev-a/end-sessions`, { method: 'POST' })).status).toBe(404);
    const oldToken = await t.token('rev-a');
    const res = await fetch(`${t.core.metricsUrl}/admin/users/rev-a/end-sessions`, { method: 'POST' });
    // One instance: it ended its own sockets before answering, so the revocation is complete.
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ userId: 'rev-a', complete: true, unconfirmedInstances: [] });
    expect((await Promise.all(ends)).map((e) => e.reason)).toEqual(['revoked', 'revoked']);
    expect(await Promise.all(gone)).toEqual(['io server disconnect', 'io server disconnect']);
    expect([first.connected, second.connected, other.connected]).toEqual([false, false, true]);
    expect(otherEnded).toEqual([]);
    // Durable: a token issued before the call is refused on REST and at the handshake; one issued after works.
    const refused = await fetch(`${t.url}/api/conversations`, { headers: { authorization: `Bearer ${oldToken}` } });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'unauthorized' });
    await expect(t.socket('rev-a', { token: oldToken })).rejects.toMatchObject({ data: { code: 'unauthorized' } });
    await sleep(1_000); // iat has a one-second grain: a token issued in the revocation's second is refused too
    const fresh = await t.token('rev-a');
    expect((await fetch(`${t.url}/api/conversations`, { headers: { authorization: `Bearer ${fresh}` } })).status).toBe(200);
    expect((await t.socket('rev-a', { token: fresh })).connected).toBe(true);
  });
});

describe('one canonical id', () => {
  it('join_conversation with the id in upper case joins the same room: messages arrive and acks carry the canonical id', async () => {
    const id = await group('up-a', ['up-b']);
    const upper = id.toUpperCase();
    const b = await t.socket('up-b');
    const joined = await emit(b, 'join_conversation', { conversationId: upper });
    expect(joined).toMatchObject({ conversationId: id, lastSeq: 0 });
    const received = nextEvent<{ conversationId: string; text: string }>(b, 'message_received');
    expect((await t.api('up-a', 'POST', `/api/conversations/${upper}/messages`, { clientMsgId: 'u-1', text: 'hello' })).status).toBe(201);
    expect(await received).toMatchObject({ conversationId: id, text: 'hello' });
    const typing = nextEvent<{ conversationId: string }>(b, 'user_typing');
    const a = await t.socket('up-a');
    await emit(a, 'join_conversation', { conversationId: id });
    expect(await emit(a, 'typing_start', { conversationId: upper })).toEqual({ ok: true });
    expect(await typing).toMatchObject({ conversationId: id });
  });

  it('leaving over HTTP with the id in upper case stops delivery to the leaver\'s open socket', async () => {
    const id = await group('lv-a', ['lv-b', 'lv-c']);
    await group('lv-elsewhere', ['lv-b']); // so this is not lv-b's last conversation (that would end the session)
    const [b, c] = [await t.socket('lv-b'), await t.socket('lv-c')];
    for (const s of [b, c]) expect((await emit(s, 'join_conversation', { conversationId: id })).error).toBeUndefined();
    const toLeaver = collect<{ text: string }>(b, 'message_received');
    expect((await t.api('lv-b', 'POST', `/api/conversations/${id.toUpperCase()}/leave`)).status).toBe(204);
    const control = nextEvent<{ text: string }>(c, 'message_received');
    expect((await t.api('lv-a', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'after-leave', text: 'not for lv-b' })).status).toBe(201);
    expect((await control).text).toBe('not for lv-b');
    await sleep(100);
    expect(toLeaver).toEqual([]);
    // And the leaver's cached membership is gone: a send is refused.
    expect((await emit(b, 'send_message', { conversationId: id, clientMsgId: 'x', text: 'x' })).error).toMatchObject({ code: 'forbidden' });
  });

  it('a user who leaves their last conversation has every socket ended (session_ended no_conversations)', async () => {
    const id = await group('last-a', ['last-b']);
    const socket = await t.socket('last-b');
    const ended = nextEvent<{ reason: string }>(socket, 'session_ended');
    expect((await t.api('last-b', 'POST', `/api/conversations/${id}/leave`)).status).toBe(204);
    expect((await ended).reason).toBe('no_conversations');
  });
});

describe('every socket event is rate limited; refusals are cheap', () => {
  let limited: TestCore;
  beforeAll(async () => {
    limited = await startTestCore({ RATE_LIMIT_SOCKET_EVENTS_PER_MIN: '20' });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  /** Database reads so far, from the driver's command monitor (chat_mongodb_operation_duration_seconds). */
  const reads = async () => {
    const text = await (await fetch(`${limited.core.metricsUrl}/metrics`)).text();
    return [...text.matchAll(/^chat_mongodb_operation_duration_seconds_count\{[^}]*command="find"[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  };

  it('a flood of join_conversation from a non-member costs a bounded number of database reads', async () => {
    const id = (await limited.api('fl-owner', 'POST', '/api/conversations', { type: 'group', name: 'f' })).body.id as string;
    const intruder = await limited.socket('fl-intruder');
    const before = await reads();
    const acks = await Promise.all(Array.from({ length: 200 }, () => emit(intruder, 'join_conversation', { conversationId: id })));
    const codes = acks.map((a) => a.error?.code);
    expect(codes.filter((c) => c === 'forbidden')).toHaveLength(20);
    expect(codes.filter((c) => c === 'rate_limited')).toHaveLength(180);
    // Each refused check is two _id lookups (membership, then the conversation for 403 vs 404).
    expect((await reads()) - before).toBeLessThanOrEqual(2 * 20);
    expect(acks.find((a) => a.error?.code === 'rate_limited').error.retryAfter).toBeGreaterThan(0);
  });

  it('typing, heartbeat, mark_read and leave count against the same limit', async () => {
    const socket = await limited.socket('fl-mixed');
    const events = ['heartbeat', 'typing_start', 'typing_stop', 'mark_read', 'leave_conversation'];
    const acks = [];
    for (let i = 0; i < 25; i++) acks.push(await emit(socket, events[i % events.length]!, { conversationId: '0123456789abcdef01234567', ...(events[i % events.length] === 'mark_read' ? { seq: 1 } : {}) }));
    expect(acks.slice(20).map((a) => a.error?.code)).toEqual(Array(5).fill('rate_limited'));
    expect(acks.slice(0, 20).some((a) => a.error?.code === 'rate_limited')).toBe(false);
  });
});

describe('read state', () => {
  it('mark_read that moves nothing broadcasts nothing', async () => {
    const id = await group('rd-a', ['rd-b']);
    for (let i = 0; i < 3; i++) await t.api('rd-a', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: `rd-${i}`, text: `m${i}` });
    const [a, b] = [await t.socket('rd-a'), await t.socket('rd-b')];
    for (const s of [a, b]) await emit(s, 'join_conversation', { conversationId: id });
    const seen = collect<{ seq: number }>(a, 'message_read');
    expect(await emit(b, 'mark_read', { conversationId: id, seq: 2 })).toEqual({ conversationId: id, lastReadSeq: 2 });
    expect(await emit(b, 'mark_read', { conversationId: id, seq: 2 })).toEqual({ conversationId: id, lastReadSeq: 2 });
    expect(await emit(b, 'mark_read', { conversationId: id, seq: 1 })).toEqual({ conversationId: id, lastReadSeq: 2 });
    expect(await emit(b, 'mark_read', { conversationId: id, seq: 99 })).toEqual({ conversationId: id, lastReadSeq: 3 });
    expect(await emit(b, 'mark_read', { conversationId: id, seq: 99 })).toEqual({ conversationId: id, lastReadSeq: 3 });
    await sleep(200);
    expect(seen.map((e) => e.seq)).toEqual([2, 3]);
  });
});

describe('group privacy and ownership', () => {
  it('groups are private by default: joining by id is 403; an owner adds members; a member cannot', async () => {
    const created = await t.api('pv-owner', 'POST', '/api/conversations', { type: 'group', name: 'secret', memberIds: ['pv-member'] });
    expect(created.body.visibility).toBe('private');
    const id = created.body.id as string;
    const join = await t.api('pv-stranger', 'POST', `/api/conversations/${id}/join`);
    expect(join.status).toBe(403);
    expect(join.body).toMatchObject({ code: 'forbidden', reason: 'private_group' });
    expect((await t.api('pv-stranger', 'GET', `/api/conversations/${id}/messages`)).status).toBe(403);
    expect((await t.api('pv-member', 'POST', `/api/conversations/${id}/join`)).status).toBe(409);

    expect((await t.api('pv-member', 'POST', `/api/conversations/${id}/members`, { userIds: ['pv-friend'] })).status).toBe(403);
    expect((await t.api('pv-stranger', 'POST', `/api/conversations/${id}/members`, { userIds: ['pv-stranger'] })).status).toBe(403);
    expect((await t.api('pv-owner', 'POST', `/api/conversations/${id}/members`, { userIds: [] })).status).toBe(400);
    const added = await t.api('pv-owner', 'POST', `/api/conversations/${id}/members`, { userIds: ['pv-friend', 'pv-member'] });
    expect(added.status).toBe(200);
    expect(added.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual(['pv-friend', 'pv-member', 'pv-owner']);
    expect((await t.api('pv-friend', 'GET', `/api/conversations/${id}/messages`)).status).toBe(200);
  });

  it('an owner removes a member: their open socket stops receiving and they lose access; others cannot remove', async () => {
    const id = await group('rm-owner', ['rm-gone', 'rm-stay']);
    await group('rm-other', ['rm-gone']); // keep rm-gone's session (not their last conversation)
    const [gone, stay] = [await t.socket('rm-gone'), await t.socket('rm-stay')];
    for (const s of [gone, stay]) await emit(s, 'join_conversation', { conversationId: id });
    expect((await t.api('rm-stay', 'DELETE', `/api/conversations/${id}/members/rm-gone`)).status).toBe(403);
    expect((await t.api('rm-owner', 'DELETE', `/api/conversations/${id}/members/rm-nobody`)).status).toBe(404);
    expect((await t.api('rm-owner', 'DELETE', `/api/conversations/${id}/members/${encodeURIComponent('bad id')}`)).status).toBe(400);
    const toGone = collect(gone, 'message_received');
    expect((await t.api('rm-owner', 'DELETE', `/api/conversations/${id.toUpperCase()}/members/rm-gone`)).status).toBe(204);
    const control = nextEvent<{ text: string }>(stay, 'message_received');
    expect((await t.api('rm-owner', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'rm-1', text: 'after removal' })).status).toBe(201);
    expect((await control).text).toBe('after removal');
    await sleep(100);
    expect(toGone).toEqual([]);
    expect((await t.api('rm-gone', 'GET', `/api/conversations/${id}/messages`)).status).toBe(403);
    expect((await emit(gone, 'send_message', { conversationId: id, clientMsgId: 'rm-x', text: 'x' })).error).toMatchObject({ code: 'forbidden' });
  });

  it('open groups keep join by id (a second join is 409); visibility is for groups only', async () => {
    const id = await group('op-owner', [], { visibility: 'open' });
    expect((await t.api('op-guest', 'POST', `/api/conversations/${id}/join`)).status).toBe(200);
    expect((await t.api('op-guest', 'POST', `/api/conversations/${id}/join`)).status).toBe(409);
    expect((await t.api('op-x', 'POST', '/api/conversations', { type: 'direct', memberIds: ['op-y'], visibility: 'open' })).status).toBe(400);
  });

  it('the last owner leaving hands ownership to the longest-standing member; the last member leaving archives the group', async () => {
    const id = await group('own-1', ['own-2']);
    expect((await t.api('own-1', 'POST', `/api/conversations/${id}/members`, { userIds: ['own-3'] })).status).toBe(200);
    expect((await t.api('own-1', 'POST', `/api/conversations/${id}/leave`)).status).toBe(204);
    const after = await t.api('own-2', 'GET', `/api/conversations/${id}`);
    expect(after.body.members).toEqual(expect.arrayContaining([expect.objectContaining({ userId: 'own-2', role: 'owner' }), expect.objectContaining({ userId: 'own-3', role: 'member' })]));
    expect((await t.api('own-2', 'POST', `/api/conversations/${id}/members`, { userIds: ['own-4'] })).status).toBe(200);
    for (const u of ['own-2', 'own-3', 'own-4']) expect((await t.api(u, 'POST', `/api/conversations/${id}/leave`)).status).toBe(204);
    // Nobody is left to read it; the stored document says archived.
    const client = new MongoClient(t.config.MONGODB_URI);
    try {
      const doc = await client.db(t.config.MONGODB_DB).collection('conversations').findOne({ _id: new ObjectId(id) });
      expect(doc?.archivedAt).toBeInstanceOf(Date);
    } finally {
      await client.close();
    }
  });
});

describe('direct conversations after archive', () => {
  it('asking for an archived direct conversation again reopens it, with its history, and it accepts messages', async () => {
    const first = await t.api('dr-a', 'POST', '/api/conversations', { type: 'direct', memberIds: ['dr-b'] });
    const id = first.body.id as string;
    expect((await t.api('dr-a', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'd-1', text: 'before' })).status).toBe(201);
    expect((await t.api('dr-b', 'POST', `/api/conversations/${id}/archive`)).body.archivedAt).toEqual(expect.any(String));
    expect((await t.api('dr-a', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'd-2', text: 'refused' })).status).toBe(409);
    const again = await t.api('dr-a', 'POST', '/api/conversations', { type: 'direct', memberIds: ['dr-b'] });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id, archivedAt: null });
    expect((await t.api('dr-a', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'd-3', text: 'after' })).status).toBe(201);
    expect((await t.api('dr-b', 'GET', `/api/conversations/${id}/messages`)).body.items.map((m: { text: string }) => m.text)).toEqual(['before', 'after']);
  });
});
