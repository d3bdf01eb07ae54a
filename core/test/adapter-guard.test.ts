import Redis from 'ioredis';
import { startRedis } from '../../ops/services/redis';
import type { RunningService } from '../../ops/services/service-process';
import { nextEvent, startTestCore, type TestCore } from './harness';

/**
 * A frame on the pub/sub adapter's channels that is not the adapter's own (another publisher on the
 * same prefix, a frame cut by a reconnect) used to throw out of ioredis' data handler and end the
 * process ("args is not iterable"). Now it costs that frame only: the core keeps serving and
 * delivering. Own Redis, so the garbage reaches no other suite's core.
 */
let redis: RunningService;
let t: TestCore;
let publisher: Redis;

beforeAll(async () => {
  redis = await startRedis();
  t = await startTestCore({ REDIS_URL: redis.address });
  publisher = new Redis(redis.address);
});

afterAll(async () => {
  publisher?.disconnect();
  await t?.stop();
  await redis?.stop();
});

test('undecodable and malformed frames on the adapter channels are dropped; the core keeps delivering', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  try {
    // A number (msgpack-decodes to a non-iterable), raw text, and a request frame that is not JSON.
    await publisher.publish('socket.io#/#', Buffer.from([0x2a])); // msgpack for 42
    await publisher.publish('socket.io#/#', 'not msgpack at all');
    await publisher.publish('socket.io-request#/#', '{truncated');
    await new Promise((r) => setTimeout(r, 300));
    expect(uncaught).toEqual([]);

    const created = await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'g', memberIds: ['bo'] });
    expect(created.status).toBe(201);
    const bo = await t.socket('bo');
    const ann = await t.socket('ann');
    for (const s of [ann, bo]) expect(await s.emitWithAck('join_conversation', { conversationId: created.body.id })).not.toHaveProperty('error');
    const received = nextEvent<{ text: string }>(bo, 'message_received');
    expect(await ann.emitWithAck('send_message', { conversationId: created.body.id, clientMsgId: 'after-garbage', text: 'still here' })).not.toHaveProperty('error');
    expect((await received).text).toBe('still here');
    expect(uncaught).toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
});
