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

let redis: Redis;
beforeAll(() => {
  redis = new Redis(testServicesEnv().REDIS_URL);
});
afterAll(() => {
  redis.disconnect();
});
