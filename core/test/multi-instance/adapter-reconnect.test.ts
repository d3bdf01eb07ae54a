import { MongoClient, ObjectId } from 'mongodb';
import type { Proxy } from 'toxiproxy-node-client';
import { startToxiproxy, type RunningToxiproxy } from '../../../ops/services/toxiproxy';
import { startCoreProcess, stopAllCoreProcesses, type CoreProcess } from '../core-process';
import { collect, sleep, testServicesEnv, uniqueDbName } from '../harness';

/**
 * Issue 21 item 6: after instance B's Redis adapter reconnects, B tells its sockets which
 * conversations may have missed broadcasts (`conversation_resync` with lastSeq), and a removal
 * whose cross-instance notice was lost during the blip still takes the removed socket out of the
 * room (checked against the database, not only announced over pub/sub). A and B are separate core
 * processes (core/test/core-process.ts); B reaches Redis through Toxiproxy, whose proxy is disabled
 * for the blip.
 */
let a: CoreProcess;
let b: CoreProcess;
let toxiproxy: RunningToxiproxy;
let proxy: Proxy;

beforeAll(async () => {
  toxiproxy = await startToxiproxy();
  const redis = await toxiproxy.proxy('redis-b', new URL(testServicesEnv().REDIS_URL).host);
  proxy = redis.proxy;
  const db = uniqueDbName();
  [a, b] = await Promise.all([
    startCoreProcess({}, { redis: true, db, name: 'adapter-a' }),
    startCoreProcess({ REDIS_URL: `redis://${redis.host}:${redis.port}`, REDIS_COMMAND_TIMEOUT_MS: '300' }, { db, name: 'adapter-b' }),
  ]);
}, 120_000);
afterAll(async () => {
  await stopAllCoreProcesses();
  await toxiproxy?.stop();
}, 30_000);

describe('the Redis adapter reconnects', () => {
  it('sends conversation_resync {conversationId, lastSeq} to the sockets of each conversation, and drops a member removed meanwhile', async () => {
    const id = (await a.api('olga', 'POST', '/api/conversations', { type: 'group', name: 'blip', memberIds: ['sam', 'tom'] })).body.id as string;
    const [sam, tom] = await Promise.all([b.socket('sam'), b.socket('tom')]);
    for (const s of [sam, tom]) expect((await (s as any).timeout(5_000).emitWithAck('join_conversation', { conversationId: id })).error).toBeUndefined();
    const samResync = collect<{ conversationId: string; lastSeq: number }>(sam, 'conversation_resync');
    const tomGot = collect<{ clientMsgId: string }>(tom, 'message_received');

    const { listen, upstream } = proxy;
    await proxy.update({ enabled: false, listen, upstream });
    await sleep(1_500); // B's connections notice (socket timeout) and start reconnecting
    // Meanwhile on A: tom is removed (the room-leave notice to B is lost) and a message is sent (its broadcast to B is lost).
    expect((await a.api('olga', 'DELETE', `/api/conversations/${id}/members/tom`)).status).toBe(204);
    const sent = await a.api('olga', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'during-blip', text: 'lost broadcast' });
    expect(sent.status).toBe(201);
    await proxy.update({ enabled: true, listen, upstream });

    for (let i = 0; i < 100 && !samResync.length; i++) await sleep(100);
    expect(samResync).toEqual([{ conversationId: id, lastSeq: sent.body.seq }]);
    // tom is out of the room on B: a later message does not reach him.
    expect((await a.api('olga', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'after-blip', text: 'members only' })).status).toBe(201);
    await sleep(500);
    expect(tomGot.map((m) => m.clientMsgId)).not.toContain('after-blip');
    const mongo = await MongoClient.connect(testServicesEnv().MONGODB_URI);
    try {
      const stored = await mongo.db(a.config.MONGODB_DB).collection('messages').find({ conversationId: new ObjectId(id) }, { projection: { clientMsgId: 1 } }).toArray();
      const keys = stored.map((d) => d.clientMsgId as string);
      console.log(`[multi] ${JSON.stringify({
        scenario: "adapter reconnect (B's Redis cut 1.5 s)", sent: 2, acked: 2, stored: stored.length,
        lost: ['during-blip', 'after-blip'].filter((k) => !keys.includes(k)).length, dup: keys.length - new Set(keys).size, wronglySkipped: null, internal: 0,
        resyncs: samResync.length, removedReceivedLater: tomGot.filter((m) => m.clientMsgId === 'after-blip').length,
      })}`);
      expect(keys.sort()).toEqual(['after-blip', 'during-blip']);
    } finally {
      await mongo.close();
    }
  }, 60_000);
});
