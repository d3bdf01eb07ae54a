import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { memoryPresence, redisPresence } from '../src/realtime/presence';
import { collect, sleep, startTestCore, testServicesEnv, uniqueDbName, type ClientSocket, type TestCore } from './harness';

/**
 * Presence that is true, across two core instances sharing MongoDB and Redis: a socket stays online
 * on the transport's own heartbeat (the client never sends the app `heartbeat` event), a user is
 * offline only when their last socket on any instance is gone, and no offline webhook names a user
 * who is online.
 */
const emit = <T = any>(socket: ClientSocket, event: string, payload?: unknown): Promise<T> =>
  (socket as any).timeout(5_000).emitWithAck(event, payload);

describe('presence across two instances', () => {
  let a: TestCore;
  let b: TestCore;
  let server: http.Server;
  const hooks: { recipients: string[] }[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        hooks.push(JSON.parse(raw) as { recipients: string[] });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const env = {
      // Entries live 2 × (interval + timeout) = 4 s without a heartbeat; the transport pings every second.
      SOCKET_PING_INTERVAL_MS: '1000', SOCKET_PING_TIMEOUT_MS: '1000',
      NOTIFICATION_WEBHOOK_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, NOTIFICATION_WEBHOOK_SECRET: 'presence-test-secret-0123',
    };
    const db = uniqueDbName();
    a = await startTestCore({ ...env, INSTANCE_ID: 'presence-a' }, { redis: true, db });
    b = await startTestCore({ ...env, INSTANCE_ID: 'presence-b' }, { redis: true, db });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Sends through instance A and returns the recipients of the webhook that message caused. */
  async function offlineRecipientsOf(convId: string, clientMsgId: string): Promise<string[]> {
    const before = hooks.length;
    expect((await a.api('ann', 'POST', `/api/conversations/${convId}/messages`, { clientMsgId, text: 'hi' })).status).toBe(201);
    for (let i = 0; i < 100 && hooks.length === before; i++) await sleep(50);
    return hooks.length === before ? [] : [...hooks[hooks.length - 1]!.recipients].sort();
  }

  it('stays online on transport heartbeats alone, and goes offline only when the last socket anywhere is gone', async () => {
    const convId = (await a.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'presence', memberIds: ['ben', 'cat', 'dov'] })).body.id as string;
    const cat = await b.socket('cat');
    await emit(cat, 'join_conversation', { conversationId: convId });
    const offline = collect<{ userId: string }>(cat, 'user_offline');
    const benOnA = await a.socket('ben');
    const benOnB = await b.socket('ben');
    await emit(benOnA, 'join_conversation', { conversationId: convId });
    await emit(benOnB, 'join_conversation', { conversationId: convId });

    // Longer than an entry lives without a heartbeat (and than the old TTL refreshed only by the app event).
    await sleep(7_000);
    expect(await offlineRecipientsOf(convId, 'p1')).toEqual(['dov']);

    benOnA.disconnect();
    await sleep(500);
    expect(offline.filter((e) => e.userId === 'ben')).toHaveLength(0);
    expect(await offlineRecipientsOf(convId, 'p2')).toEqual(['dov']);

    benOnB.disconnect();
    for (let i = 0; i < 40 && !offline.some((e) => e.userId === 'ben'); i++) await sleep(50);
    expect(offline.filter((e) => e.userId === 'ben')).toHaveLength(1);
    expect(await offlineRecipientsOf(convId, 'p3')).toEqual(['ben', 'dov']);
  }, 30_000);
});

describe('presence entries (Redis and memory)', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(testServicesEnv().REDIS_URL, { keyPrefix: `presence-test-${process.pid}-` });
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('a socket that vanished without disconnecting (its instance crashed) stops counting after its expiry; live ones do not', async () => {
    const p = redisPresence(redis, 400);
    expect(await p.connected('eve', 's1')).toBe(true);
    expect(await p.connected('eve', 's2')).toBe(false);
    expect(await p.connected('fay', 's3')).toBe(true);
    for (let i = 0; i < 4; i++) {
      await sleep(200);
      await p.refresh('eve', 's2'); // s1's instance is gone: nobody refreshes it
    }
    expect(await p.onlineAmong(['eve', 'fay', 'gus'])).toEqual(new Set(['eve']));
    expect(await p.disconnected('eve', 's2')).toBe(true); // s1 expired: s2 was the last one
    expect(await p.isOnline('eve')).toBe(false);
  });

  it('memory presence follows the same rules on an injected clock', async () => {
    let now = 0;
    const p = memoryPresence(1_000, () => now);
    expect(await p.connected('eve', 's1')).toBe(true);
    expect(await p.connected('eve', 's1')).toBe(true); // the same socket again (a recovered session) is still the only one
    expect(await p.connected('eve', 's2')).toBe(false);
    now = 900;
    await p.refresh('eve', 's2');
    now = 1_500;
    expect(await p.onlineAmong(['eve'])).toEqual(new Set(['eve']));
    expect(await p.disconnected('eve', 's2')).toBe(true);
  });
});
