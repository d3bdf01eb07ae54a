import Redis from 'ioredis';
import { memoryTyping, redisTyping, type TypingState } from '../src/realtime/typing';
import { testServicesEnv } from './harness';

describe.each([
  ['memory', (now: () => number) => memoryTyping(1_000, now)],
  ['Redis', (now: () => number) => redisTyping(redis, 1_000, now)],
])('typing state (%s)', (_name, make: (now: () => number) => TypingState) => {
  it('lists who is typing until they stop or their entry expires', async () => {
    let clock = Date.now();
    const typing = make(() => clock);
    const conversation = `c-${Math.random()}`;
    await typing.start(conversation, 'ann');
    await typing.start(conversation, 'ben');
    expect((await typing.list(conversation)).sort()).toEqual(['ann', 'ben']);
    await typing.stop(conversation, 'ben');
    expect(await typing.list(conversation)).toEqual(['ann']);
    clock += 1_001;
    expect(await typing.list(conversation)).toEqual([]);
    expect(await typing.list('another')).toEqual([]);
  });
});

describe('memory typing state', () => {
  it('forgets conversations nobody touches again once their entries expired', async () => {
    let clock = 1_000_000;
    const typing = memoryTyping(1_000, () => clock);
    for (let i = 0; i < 50; i++) await typing.start(`idle-${i}`, 'ann');
    expect(typing.trackedConversations()).toBe(50);
    clock += 1_001;
    await typing.start('busy', 'ben');
    expect(typing.trackedConversations()).toBe(1);
    expect(await typing.list('busy')).toEqual(['ben']);
  });
});

let redis: Redis;
beforeAll(() => {
  redis = new Redis(testServicesEnv().REDIS_URL);
});
afterAll(() => {
  redis.disconnect();
});
