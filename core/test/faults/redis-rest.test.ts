import type { Proxy } from 'toxiproxy-node-client';
import { startToxiproxy, type RunningToxiproxy } from '../../../ops/services/toxiproxy';
import { startCoreProcess, stopAllCoreProcesses, type CoreProcess } from '../core-process';
import { sleep, testServicesEnv } from '../harness';

/**
 * Issue 21 "faults answer 503, never 500" on the Redis paths of REST calls (API and message rate
 * limits, presence of members, the maintenance flag): one core process whose Redis is reached
 * through Toxiproxy, a steady mix of REST calls while the Redis path is reset, partitioned and cut.
 * Every answer is 2xx/4xx or 503 with Retry-After; the count of `internal` (500) answers must be 0.
 */
let toxiproxy: RunningToxiproxy;
let proxy: Proxy;
let core: CoreProcess;

beforeAll(async () => {
  toxiproxy = await startToxiproxy();
  const redis = await toxiproxy.proxy('redis-rest', new URL(testServicesEnv().REDIS_URL).host);
  proxy = redis.proxy;
  core = await startCoreProcess({ REDIS_URL: `redis://${redis.host}:${redis.port}`, REDIS_COMMAND_TIMEOUT_MS: '300', CONNECTION_STATE_RECOVERY: 'true' }, { name: 'redis-rest' });
}, 120_000);
afterAll(async () => {
  await stopAllCoreProcesses();
  await toxiproxy?.stop();
}, 30_000);

interface Tally { calls: number; byStatus: Record<string, number>; internal: number; unavailableWithoutRetryAfter: number }

/** Runs the REST mix until stopped; every answer is tallied by status (and 500/internal counted). */
function restLoad(conversationId: string) {
  const tally: Tally = { calls: 0, byStatus: {}, internal: 0, unavailableWithoutRetryAfter: 0 };
  let running = true;
  let n = 0;
  const calls: (() => Promise<{ status: number; body: any; headers: Headers }>)[] = [
    () => core.api('ros', 'GET', '/api/conversations'),
    () => core.api('ros', 'GET', `/api/conversations/${conversationId}`),
    () => core.api('ros', 'GET', `/api/conversations/${conversationId}/messages?afterSeq=0&limit=20`),
    () => core.api('ros', 'POST', `/api/conversations/${conversationId}/messages`, { clientMsgId: `rest-${n++}`, text: 'hi' }),
    () => core.api('sid', 'POST', `/api/conversations/${conversationId}/read`, { seq: 1 }),
    () => core.api('ros', 'POST', `/api/conversations/${conversationId}/members`, { userIds: ['tim'] }),
    () => core.api('ros', 'DELETE', `/api/conversations/${conversationId}/members/tim`),
    () => core.api('ros', 'POST', '/api/conversations', { type: 'group', name: `g${n++}`, memberIds: ['sid'] }),
  ];
  const loops = [0, 1, 2, 3].map(async (w) => {
    for (let i = w; running; i++) {
      try {
        const res = await calls[i % calls.length]!();
        tally.calls++;
        tally.byStatus[res.status] = (tally.byStatus[res.status] ?? 0) + 1;
        if (res.status >= 500 && (res.status === 500 || res.body?.code === 'internal')) tally.internal++;
        if (res.status === 503 && !res.headers.get('retry-after')) tally.unavailableWithoutRetryAfter++;
      } catch {
        tally.byStatus.noAnswer = (tally.byStatus.noAnswer ?? 0) + 1;
      }
      await sleep(15);
    }
  });
  return { tally, async stop() { running = false; await Promise.all(loops); } };
}

const faults: [string, () => Promise<() => Promise<void>>][] = [
  ['reset_peer', async () => {
    const down = await proxy.addToxic({ name: 'reset-down', type: 'reset_peer', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } });
    const up = await proxy.addToxic({ name: 'reset-up', type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } });
    return async () => { await down.remove(); await up.remove(); };
  }],
  ['partition (timeout toxic)', async () => {
    const t = await proxy.addToxic({ name: 'partition', type: 'timeout', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } });
    return () => t.remove();
  }],
  ['down (proxy disabled)', async () => {
    const { listen, upstream } = proxy;
    await proxy.update({ enabled: false, listen, upstream });
    return async () => { await proxy.update({ enabled: true, listen, upstream }); };
  }],
];

describe('REST calls while the Redis path fails', () => {
  it.each(faults)('%s for 3 s: no answer is 500/internal, every 503 carries Retry-After', async (name, inject) => {
    const conversationId = (await core.api('ros', 'POST', '/api/conversations', { type: 'group', name: `redis ${name}`, memberIds: ['sid'] })).body.id as string;
    const load = restLoad(conversationId);
    await sleep(500);
    const heal = await inject();
    await sleep(3_000);
    await heal();
    await sleep(1_500);
    await load.stop();
    console.log(`[redis-rest] ${JSON.stringify({ scenario: name, ...load.tally })}`);
    expect(load.tally.calls).toBeGreaterThan(50);
    expect(load.tally.internal).toBe(0);
    expect(load.tally.unavailableWithoutRetryAfter).toBe(0);
    expect(load.tally.byStatus.noAnswer ?? 0).toBe(0);
    // The service works again after healing.
    expect((await core.api('ros', 'GET', `/api/conversations/${conversationId}`)).status).toBe(200);
  }, 60_000);
});
