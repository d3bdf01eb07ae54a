import type { Proxy } from 'toxiproxy-node-client';
import { startToxiproxy, type RunningToxiproxy } from '../../../ops/services/toxiproxy';
import { startCoreProcess, stopAllCoreProcesses, type CoreProcess } from '../core-process';
import { collect, sleep, testServicesEnv, uniqueDbName, type ClientSocket } from '../harness';
import { blip, connected, open as openSaved, type Session } from './saved-session';

/**
 * Ending a user's sessions (`POST /admin/users/:userId/end-sessions` on the internal listener) across
 * two core processes on one MongoDB and one Redis (Streams adapter, connection state recovery on:
 * the production setup). B reaches Redis through Toxiproxy, so its Redis path can be cut. The call
 * is made on A; it answers only once every live instance confirmed (200), or at the deadline with
 * the instances that did not (202 `unconfirmedInstances`); the revocation is durable either way.
 */
let a: CoreProcess;
let b: CoreProcess;
let toxiproxy: RunningToxiproxy;
let proxy: Proxy;
const env = { CONNECTION_STATE_RECOVERY: 'true' };
const owner = 'olga';

beforeAll(async () => {
  toxiproxy = await startToxiproxy();
  const redis = await toxiproxy.proxy('redis-end-sessions-b', new URL(testServicesEnv().REDIS_URL).host);
  proxy = redis.proxy;
  const db = uniqueDbName();
  [a, b] = await Promise.all([
    startCoreProcess(env, { redis: true, db, name: 'sessions-a' }),
    startCoreProcess({ ...env, REDIS_URL: `redis://${redis.host}:${redis.port}`, REDIS_COMMAND_TIMEOUT_MS: '300' }, { db, name: 'sessions-b' }),
    // Another deployment on the same Redis (its own database): it hears the adapter's requests and
    // answers them, but it is not one of this fleet's instances and must never count as confirming.
    startCoreProcess(env, { redis: true, name: 'other-deployment' }),
  ]);
  await sleep(1_500); // both instances have swept once: each is in the other's list of live instances
}, 120_000);
afterAll(async () => {
  await stopAllCoreProcesses();
  await toxiproxy?.stop();
}, 30_000);

const emit = (s: ClientSocket, event: string, payload: unknown): Promise<any> =>
  (s as any).timeout(3_000).emitWithAck(event, payload).catch(() => ({ error: { code: 'unanswered' } }));
const group = async (name: string, members: string[]) => (await a.api(owner, 'POST', '/api/conversations', { type: 'group', name, memberIds: members })).body.id as string;
const endSessions = async (core: CoreProcess, userId: string) => {
  const res = await fetch(`${core.metricsUrl}/admin/users/${userId}/end-sessions`, { method: 'POST' });
  return { status: res.status, body: await res.json() as any, at: performance.now() };
};
/** What the client saw of its session's end: session_ended (acknowledged, as a client does) and the disconnect, with times. */
function watchEnd(s: ClientSocket) {
  const seen: { ended?: { reason: string; at: number }; disconnect?: { reason: string; at: number } } = {};
  (s as any).on('session_ended', (event: { reason: string }, done?: () => void) => {
    seen.ended = { reason: event.reason, at: performance.now() };
    done?.();
  });
  s.on('disconnect', (reason) => { seen.disconnect = { reason, at: performance.now() }; });
  return seen;
}
const restRead = (core: CoreProcess, token: string, id: string) =>
  fetch(`${core.url}/api/conversations/${id}/messages`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
/** iat has a one-second grain: a token issued in the revocation's second counts as issued at it. */
const nextSecond = () => sleep(1_050 - (Date.now() % 1_000));

describe('end-sessions across two instances', () => {
  it('a user connected to B, end-sessions on A: B ends the socket (session_ended revoked, disconnected) before the call answers 200 with both instances confirmed', async () => {
    const id = await group('e1', ['sam']);
    const oldToken = await b.token('sam');
    const s = await b.socket('sam', { token: oldToken });
    expect((await emit(s, 'join_conversation', { conversationId: id })).error).toBeUndefined();
    const seen = watchEnd(s);
    const res = await endSessions(a, 'sam');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userId: 'sam', complete: true, unconfirmedInstances: [] });
    expect(res.body.confirmedInstances).toEqual(['sessions-a', 'sessions-b']);
    // The client was told why before the call answered.
    expect(seen.ended?.reason).toBe('revoked');
    expect(seen.ended!.at).toBeLessThan(res.at);
    for (let i = 0; i < 30 && !seen.disconnect; i++) await sleep(100);
    expect(seen.disconnect?.reason).toBe('io server disconnect');
    // The old token is refused on both instances, on REST and at the handshake.
    expect(await restRead(a, oldToken, id)).toBe(401);
    expect(await restRead(b, oldToken, id)).toBe(401);
    await expect(b.socket('sam', { token: oldToken })).rejects.toMatchObject({ data: { code: 'unauthorized' } });
    // A token issued after the call works.
    await nextSecond();
    const fresh = await b.token('sam');
    expect(await restRead(a, fresh, id)).toBe(200);
    const again = await b.socket('sam', { token: fresh });
    expect((await emit(again, 'join_conversation', { conversationId: id })).error).toBeUndefined();
    // renew_token with the old token is refused too (the fresh session goes on).
    expect((await emit(again, 'renew_token', { token: oldToken })).error).toMatchObject({ code: 'unauthorized' });
    again.close();
  });

  it('B\'s Redis path cut while end-sessions runs on A: B still ends the socket and confirms (through the database) before the call answers; afterwards the socket can neither read nor send', async () => {
    const id = await group('e2', ['sue', 'pat']);
    const oldToken = await b.token('sue');
    const s = await b.socket('sue', { token: oldToken });
    const peer = await b.socket('pat');
    for (const c of [s, peer]) expect((await emit(c, 'join_conversation', { conversationId: id })).error).toBeUndefined();
    const seen = watchEnd(s);
    const got = collect<{ clientMsgId: string }>(s, 'message_received');
    const { listen, upstream } = proxy;
    await proxy.update({ enabled: false, listen, upstream });
    try {
      await sleep(800); // B's Redis connections notice (socket timeout 300 ms)
      const res = await endSessions(a, 'sue');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ complete: true, unconfirmedInstances: [] });
      expect(res.body.confirmedInstances).toContain('sessions-b');
      // Afterwards, with B still cut off: nothing sent through B (a local broadcast there) reaches her, she cannot send.
      expect((await emit(peer, 'send_message', { conversationId: id, clientMsgId: 'after-cut', text: 'not for sue' })).error).toBeUndefined();
      const sent = s.connected ? await emit(s, 'send_message', { conversationId: id, clientMsgId: 'sue-after', text: 'x' }) : { error: { code: 'disconnected' } };
      expect(sent.error).toBeDefined();
      expect(await restRead(b, oldToken, id)).toBe(401);
      await sleep(300);
      expect(got.map((m) => m.clientMsgId)).not.toContain('after-cut');
    } finally {
      await proxy.update({ enabled: true, listen, upstream });
    }
    for (let i = 0; i < 30 && !seen.disconnect; i++) await sleep(100);
    expect(seen.disconnect?.reason).toBe('io server disconnect');
    const history = await a.api(owner, 'GET', `/api/conversations/${id}/messages`);
    expect(history.body.items.map((m: { clientMsgId: string }) => m.clientMsgId)).not.toContain('sue-after');
    peer.close();
  });

  it('B cannot confirm at all (frozen, and its Redis path cut so no notice ever reaches it) during the call: 202 with unconfirmedInstances [B]; the durable record alone ends the socket when B runs again', async () => {
    const id = await group('e3', ['tim']);
    const oldToken = await b.token('tim');
    const s = await b.socket('tim', { token: oldToken });
    expect((await emit(s, 'join_conversation', { conversationId: id })).error).toBeUndefined();
    const seen = watchEnd(s);
    const { listen, upstream } = proxy;
    await proxy.update({ enabled: false, listen, upstream });
    let res: Awaited<ReturnType<typeof endSessions>>;
    try {
      await sleep(800);
      process.kill(b.pid, 'SIGSTOP');
      try {
        res = await endSessions(a, 'tim');
      } finally {
        process.kill(b.pid, 'SIGCONT');
      }
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ complete: false, unconfirmedInstances: ['sessions-b'], confirmedInstances: ['sessions-a'] });
      // Redis still cut: B's next check of the record (its sweep, or the event below) ends the socket; the send is refused.
      const sent = await emit(s, 'send_message', { conversationId: id, clientMsgId: 'tim-after', text: 'x' });
      expect(sent.error).toBeDefined();
      for (let i = 0; i < 40 && !seen.disconnect; i++) await sleep(100);
      expect(seen.disconnect?.reason).toBe('io server disconnect');
      expect(await restRead(b, oldToken, id)).toBe(401);
    } finally {
      await proxy.update({ enabled: true, listen, upstream });
    }
    const history = await a.api(owner, 'GET', `/api/conversations/${id}/messages`);
    expect(history.body.items.map((m: { clientMsgId: string }) => m.clientMsgId)).not.toContain('tim-after');
  });

  it('a session saved by a transport drop is not recovered after end-sessions: the old token is refused, a fresh token gets a fresh session with nothing replayed', async () => {
    const id = await group('e4', ['ulla']);
    const oldToken = await b.token('ulla');
    const open = (token: string, session?: Session) => openSaved(b.url, { token }, session);
    const s = open(oldToken);
    await connected(s);
    expect((await emit(s, 'join_conversation', { conversationId: id })).error).toBeUndefined();
    const first = new Promise<void>((resolve) => s.once('message_received', () => resolve()));
    await a.api(owner, 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'seen', text: 'seen' });
    await first;
    const session = await blip(s); // a network blip: B saves the session for recovery

    expect((await endSessions(a, 'ulla')).status).toBe(200);
    await a.api(owner, 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'while-away', text: 'after the end' });

    // A token issued after the call, presenting the saved session: a fresh session (no replay) —
    // the session was opened with a token issued before the end. (First: restoring consumes the saved session.)
    await nextSecond();
    const fresh = open(await b.token('ulla'), session);
    const freshGot = collect<{ clientMsgId: string }>(fresh, 'message_received');
    await connected(fresh);
    await sleep(300);
    expect(fresh.recovered).toBe(false);
    expect(freshGot).toEqual([]);
    // The old token with the saved session: refused at the handshake, nothing replayed.
    const stale = open(oldToken, session);
    const staleGot = collect(stale, 'message_received');
    const error = await connected(stale).then(() => undefined, (e: { data?: { code?: string } }) => e);
    expect(error?.data?.code).toBe('unauthorized');
    expect(staleGot).toEqual([]);
    stale.close();
    fresh.close();
  });
});
