import { MongoClient, ObjectId } from 'mongodb';
import { startToxiproxy, type RunningToxiproxy } from '../../../ops/services/toxiproxy';
import { startCoreProcess, stopAllCoreProcesses, type CoreProcess } from '../core-process';
import { sleep, testServicesEnv, uniqueDbName, type ClientSocket } from '../harness';

/**
 * Issue 21 item 7a (property test): two core processes (core/test/core-process.ts: the real entry,
 * each its own OS process) on one MongoDB database and one Redis, instance
 * A's MongoDB path through Toxiproxy with 40 ms ± 40 ms latency (0–80 ms), members sending through
 * both at once. A listener on B follows the documented repair rule (README "Skipped seqs"): it
 * never declares skipped a seq that is stored, and after repair it has every stored message exactly
 * once and in seq order — judged by what the database holds.
 */
const SETTLE_MS = 1_000;
let toxiproxy: RunningToxiproxy;
let a: CoreProcess;
let b: CoreProcess;
let dbName: string;

beforeAll(async () => {
  toxiproxy = await startToxiproxy();
  const services = testServicesEnv();
  const { proxy, host, port } = await toxiproxy.proxy('mongodb-a', new URL(services.MONGODB_URI).host);
  await proxy.addToxic({ name: 'jitter', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 40, jitter: 40 } });
  dbName = uniqueDbName();
  const env = { SEQ_SETTLE_MS: String(SETTLE_MS), MONGODB_TIMEOUT_MS: '3000' };
  [a, b] = await Promise.all([
    startCoreProcess({ ...env, MONGODB_URI: `mongodb://${host}:${port}/?directConnection=true` }, { redis: true, db: dbName, name: 'ordering-a' }),
    startCoreProcess(env, { redis: true, db: dbName, name: 'ordering-b' }),
  ]);
}, 120_000);
afterAll(async () => {
  await stopAllCoreProcesses();
  await toxiproxy?.stop();
}, 30_000);

interface Msg { id: string; seq: number }

/** A client following the repair rule: high-water mark, fetch afterSeq=high on a gap, wait for "not yet". */
function repairingListener(core: CoreProcess, socket: ClientSocket, conversationId: string) {
  let high = 0;
  const buffer = new Map<number, Msg>();
  const skipped = new Set<number>();
  const delivered: Msg[] = [];
  const ids = new Set<string>();
  let duplicateDeliveries = 0;
  let impossible = 0;
  let repairing: Promise<void> | undefined;
  let again = false;

  const advance = () => {
    for (;;) {
      const next = buffer.get(high + 1);
      if (next) {
        buffer.delete(high + 1);
        if (ids.has(next.id)) duplicateDeliveries++;
        else {
          ids.add(next.id);
          delivered.push(next);
        }
        high++;
      } else if (skipped.has(high + 1)) high++;
      else return;
    }
  };
  const offer = (m: Msg) => {
    if (m.seq <= high || ids.has(m.id)) return;
    buffer.set(m.seq, m);
  };
  async function fetchOnce(): Promise<{ settledSeq: number; lastSeq: number }> {
    for (;;) {
      const res = await core.api('lis', 'GET', `/api/conversations/${conversationId}/messages?afterSeq=${high}&limit=100`);
      if (res.status !== 200) throw new Error(`history answered ${res.status}`);
      const page = res.body as { items: Msg[]; skipped: number[]; settledSeq: number; lastSeq: number; nextCursor: number | null };
      for (const m of page.items) offer(m);
      for (const s of page.skipped) if (s > high) skipped.add(s);
      advance();
      if (high < page.settledSeq) impossible++; // "cannot happen": the rule says re-fetch
      if (page.nextCursor === null) return page;
    }
  }
  const repair = (): Promise<void> => {
    if (repairing) {
      again = true;
      return repairing;
    }
    repairing = (async () => {
      do {
        again = false;
        await fetchOnce();
      } while (again);
    })().finally(() => { repairing = undefined; });
    return repairing;
  };
  socket.on('message_received', (m: Msg) => {
    offer(m);
    advance();
    if (buffer.size) void repair().catch(() => undefined);
  });
  socket.on('conversation_resync', () => void repair().catch(() => undefined));
  return {
    get high() { return high; },
    delivered,
    skipped,
    get duplicateDeliveries() { return duplicateDeliveries; },
    get impossible() { return impossible; },
    /** Repairs until everything reserved is settled and delivered (or the budget runs out). */
    async drain(budgetMs: number) {
      const until = performance.now() + budgetMs;
      while (performance.now() < until) {
        const page = await fetchOnce();
        if (high >= page.lastSeq && page.settledSeq >= page.lastSeq) return;
        await sleep(200);
      }
    },
  };
}

async function sender(core: CoreProcess, user: string, conversationId: string, count: number, intervalMs: number, tag: string) {
  const socket = await core.socket(user);
  const acked: { clientMsgId: string; id: string; seq: number }[] = [];
  let internal = 0;
  const one = async (clientMsgId: string) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const answer = await (socket as any).timeout(10_000).emitWithAck('send_message', { conversationId, clientMsgId, text: clientMsgId }).catch(() => ({ error: { code: 'unanswered' } }));
      if (!answer.error) {
        acked.push({ clientMsgId, id: answer.id, seq: answer.seq });
        return;
      }
      if (answer.error.code === 'internal') internal++;
      await sleep(100);
    }
  };
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    pending.push(one(`${tag}-${user}-${i}`));
    await sleep(intervalMs);
  }
  await Promise.all(pending);
  return { acked, internal, sent: count };
}

describe('two instances, jittered MongoDB path on one, concurrent senders', () => {
  it('the repairing listener never declares a stored seq skipped and ends with every stored message once, in order', async () => {
    const conversationId = (await b.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'ordering', memberIds: ['bob', 'lis'] })).body.id as string;
    const lisSocket = await b.socket('lis');
    expect((await (lisSocket as any).timeout(5_000).emitWithAck('join_conversation', { conversationId })).error).toBeUndefined();
    const listener = repairingListener(b, lisSocket, conversationId);
    const tag = `run${Date.now() % 100_000}`;
    // ~60 msg/s in all for ~5 s: ann through A (jittered), bob through B.
    const [viaA, viaB] = await Promise.all([sender(a, 'ann', conversationId, 150, 33, tag), sender(b, 'bob', conversationId, 150, 33, tag)]);
    await listener.drain(SETTLE_MS * 8);

    const mongo = await MongoClient.connect(testServicesEnv().MONGODB_URI);
    try {
      const stored = await mongo.db(dbName).collection('messages').find({ conversationId: new ObjectId(conversationId) }, { projection: { seq: 1, senderId: 1, clientMsgId: 1 } }).sort({ seq: 1 }).toArray();
      const storedSeqs = new Set(stored.map((d) => d.seq as number));
      const ackedAll = [...viaA.acked, ...viaB.acked];
      const byKey = new Set(stored.map((d) => `${d.senderId}:${d.clientMsgId}`));
      const keys = stored.map((d) => `${d.senderId}:${d.clientMsgId}`);
      const counts = {
        scenario: 'multi-instance jitter 0-80ms',
        sent: viaA.sent + viaB.sent,
        acked: ackedAll.length,
        stored: stored.length,
        lost: ackedAll.filter((m) => !byKey.has(m.clientMsgId.startsWith(`${tag}-ann`) ? `ann:${m.clientMsgId}` : `bob:${m.clientMsgId}`)).length,
        dup: keys.length - new Set(keys).size,
        wronglySkipped: [...listener.skipped].filter((s) => storedSeqs.has(s)).length,
        burned: listener.skipped.size,
        internal: viaA.internal + viaB.internal,
        listenerMissing: stored.length - listener.delivered.length,
        duplicateDeliveries: listener.duplicateDeliveries,
        impossiblePages: listener.impossible,
      };
      console.log(`[multi] ${JSON.stringify(counts)}`);
      expect(counts).toMatchObject({ sent: 300, acked: 300, stored: 300, lost: 0, dup: 0, wronglySkipped: 0, internal: 0, duplicateDeliveries: 0 });
      // Every stored message reached the listener exactly once, in seq order.
      expect(listener.delivered.map((m) => m.seq)).toEqual(stored.map((d) => d.seq));
      expect(listener.delivered.map((m) => m.id)).toEqual(stored.map((d) => d._id.toHexString()));
    } finally {
      await mongo.close();
    }
  }, 120_000);
});
