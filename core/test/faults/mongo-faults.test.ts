import type { Proxy } from 'toxiproxy-node-client';
import type { TestCore } from '../harness';
import { expectNoLoss, runScenario, startProxiedCore, type Fault } from './fault-load';

/**
 * MongoDB faults injected by Toxiproxy between one core and the real MongoDB-compatible server,
 * under steady send load with client retries; afterwards the database is read directly.
 */
const TIMEOUT_MS = 1_500;
const users = ['hugo', 'ines', 'jack', 'kim', 'lena', 'milo'];
let stack: Awaited<ReturnType<typeof startProxiedCore>>;
let t: TestCore;
let proxy: Proxy;

beforeAll(async () => {
  stack = await startProxiedCore('mongodb', { MONGODB_TIMEOUT_MS: String(TIMEOUT_MS) });
  ({ t, proxy } = stack);
});
afterAll(async () => {
  await stack?.stop();
});

const scenario = async (name: string, fault: () => Promise<Fault>, faultMs: number) => {
  const counts = await runScenario({ name, url: t.url, api: t.api, users, db: stack.db, answerDeadlineMs: 3 * TIMEOUT_MS + 1_000, fault, faultMs });
  expectNoLoss(counts, { recoveryWithinMs: 10_000 });
};

describe('MongoDB faults under send load (Toxiproxy)', () => {
  it('connection reset (reset_peer, both directions, 3 s): nothing acked is lost, every send answered, back within 10 s', async () => {
    await scenario('mongodb reset_peer 3s', async () => {
      const down = await proxy.addToxic({ name: 'reset-down', type: 'reset_peer', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } });
      const up = await proxy.addToxic({ name: 'reset-up', type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } });
      return { remove: async () => { await down.remove(); await up.remove(); } };
    }, 3_000);
  });

  it('partition (timeout toxic: requests reach the server, no answer comes back, 4 s): unknown outcomes are retried, none lost or doubled', async () => {
    await scenario('mongodb partition 4s', () => proxy.addToxic({ name: 'partition', type: 'timeout', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } }), 4_000);
  });

  it('slow (latency toxic 400 ms ± 100 ms, 4 s): sends slow down but are answered and stored exactly once', async () => {
    await scenario('mongodb latency 400ms 4s', () => proxy.addToxic({ name: 'slow', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 400, jitter: 100 } }), 4_000);
  });
});
