import type { Proxy } from 'toxiproxy-node-client';
import { sleep, type TestCore } from '../harness';
import { expectNoLoss, runScenario, startProxiedCore, type Fault } from './fault-load';

/**
 * Redis faults injected by Toxiproxy between one core (Streams adapter: CONNECTION_STATE_RECOVERY on,
 * the path whose XREAD loop and awaited XADDs are most exposed) and the real Redis, under steady
 * send load: Redis is optional at run time, so sends keep being stored and broadcast, /ready stays 200.
 */
const users = ['nora', 'otto', 'pia', 'quin', 'rosa', 'sami'];
let stack: Awaited<ReturnType<typeof startProxiedCore>>;
let t: TestCore;
let proxy: Proxy;

beforeAll(async () => {
  stack = await startProxiedCore('redis', { CONNECTION_STATE_RECOVERY: 'true', REDIS_COMMAND_TIMEOUT_MS: '500' });
  ({ t, proxy } = stack);
});
afterAll(async () => {
  await stack?.stop();
});

const scenario = async (name: string, fault: () => Promise<Fault>) => {
  const readiness: number[] = [];
  let redisBackMs: number | undefined;
  const elu = performance.eventLoopUtilization();
  const counts = await runScenario({
    name, url: t.url, api: t.api, users, db: stack.db, answerDeadlineMs: 5_000, fault, faultMs: 4_000,
    duringFault: async () => { readiness.push((await fetch(`${t.url}/ready`)).status); },
    afterHeal: async (healedAt) => {
      for (;;) {
        // The per-dependency checks are on the internal listener (the public /ready only says ready and what is down).
        const body = (await (await fetch(`${t.core.metricsUrl}/ready`)).json()) as { checks: { redis: string } };
        if (body.checks.redis === 'up') { redisBackMs = Math.round(performance.now() - healedAt); return; }
        if (performance.now() - healedAt > 15_000) return;
        await sleep(100);
      }
    },
  });
  const notReady = readiness.filter((s) => s !== 200).length;
  console.log(`[fault] ${name}: /ready probes during the fault ${readiness.length}, not 200: ${notReady}; Redis reported up again ${redisBackMs} ms after healing; event-loop utilisation over the scenario ${performance.eventLoopUtilization(elu).utilization.toFixed(2)}`);
  expectNoLoss(counts, { recoveryWithinMs: 10_000 });
  expect(readiness.length).toBeGreaterThan(3);
  expect(notReady).toBe(0);
  expect(redisBackMs).toBeDefined();
  expect(redisBackMs!).toBeLessThanOrEqual(10_000);
};

describe('Redis faults under send load (Toxiproxy, Streams adapter)', () => {
  it('connection reset (reset_peer, 4 s): sends are stored, acked and broadcast locally; /ready stays 200; back within 10 s', async () => {
    await scenario('redis reset_peer 4s', async () => {
      const down = await proxy.addToxic({ name: 'reset-down', type: 'reset_peer', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } });
      const up = await proxy.addToxic({ name: 'reset-up', type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } });
      return { remove: async () => { await down.remove(); await up.remove(); } };
    });
  });

  it('restart (proxy down 4 s: connections closed, new ones refused): the stream readers wait for the reconnect instead of spinning the event loop', async () => {
    await scenario('redis down 4s', async () => {
      const { listen, upstream } = proxy;
      await proxy.update({ enabled: false, listen, upstream });
      return { remove: async () => { await proxy.update({ enabled: true, listen, upstream }); } };
    });
  });

  it('partition (timeout toxic, 4 s): commands time out instead of stalling sends; /ready stays 200', async () => {
    await scenario('redis partition 4s', () => proxy.addToxic({ name: 'partition', type: 'timeout', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } }));
  });
});
