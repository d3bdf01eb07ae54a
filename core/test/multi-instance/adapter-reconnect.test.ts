import type { Proxy } from 'toxiproxy-node-client';
import { startProxiedCore } from '../faults/fault-load';
import { collect, sleep, startTestCore, type TestCore } from '../harness';

/**
 * Issue 21 item 6: after instance B's Redis adapter reconnects, B tells its sockets which
 * conversations may have missed broadcasts (`conversation_resync` with lastSeq), and a removal
 * whose cross-instance notice was lost during the blip still takes the removed socket out of the
 * room (checked against the database, not only announced over pub/sub).
 */
let a: TestCore;
let stack: Awaited<ReturnType<typeof startProxiedCore>>;
let b: TestCore;
let proxy: Proxy;

beforeAll(async () => {
  a = await startTestCore({}, { redis: true });
  stack = await startProxiedCore('redis', { MONGODB_DB: a.config.MONGODB_DB, REDIS_COMMAND_TIMEOUT_MS: '300' });
  ({ t: b, proxy } = stack);
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await a?.stop();
});

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
    await a.api('olga', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'after-blip', text: 'members only' });
    await sleep(500);
    expect(tomGot.map((m) => m.clientMsgId)).not.toContain('after-blip');
  }, 60_000);
});
