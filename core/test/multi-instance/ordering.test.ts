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

/**
 * A member sending `count` messages, one every `intervalMs`, each retried with the same clientMsgId
 * until acknowledged. Connected to cores[0]; when that socket is gone (its instance was killed) it
 * reconnects to the next core, as a client behind a load balancer would.
 */
async function sender(cores: CoreProcess[], user: string, conversationId: string, count: number, intervalMs: number, tag: string) {
  let current = 0;
  let socket = await cores[0]!.socket(user);
  let switching: Promise<void> | undefined;
  const connected = async () => {
    if (socket.connected) return;
    switching ??= (async () => {
      current = Math.min(current + 1, cores.length - 1);
      socket = await cores[current]!.socket(user);
    })().finally(() => { switching = undefined; });
    await switching;
  };
  const acked: { clientMsgId: string; id: string; seq: number }[] = [];
  let internal = 0;
  const one = async (clientMsgId: string) => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const ready = await connected().then(() => true, () => false);
      const answer = ready
        ? await (socket as any).timeout(5_000).emitWithAck('send_message', { conversationId, clientMsgId, text: clientMsgId }).catch(() => ({ error: { code: 'unanswered' } }))
        : { error: { code: 'unanswered' } };
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
  return { user, acked, internal, sent: count };
}

type Sent = Awaited<ReturnType<typeof sender>>;

/** Judges by what the database holds and what the listener received; prints the [multi] line. */
async function judge(scenario: string, conversationId: string, senders: Sent[], listener: ReturnType<typeof repairingListener>) {
  const mongo = await MongoClient.connect(testServicesEnv().MONGODB_URI);
  try {
    const db = mongo.db(dbName);
    const stored = await db.collection('messages').find({ conversationId: new ObjectId(conversationId) }, { projection: { seq: 1, senderId: 1, clientMsgId: 1 } }).sort({ seq: 1 }).toArray();
    const storedSeqs = new Set(stored.map((d) => d.seq as number));
    const byKey = new Set(stored.map((d) => `${d.senderId}:${d.clientMsgId}`));
    const keys = stored.map((d) => `${d.senderId}:${d.clientMsgId}`);
    const counts = {
      scenario,
      sent: senders.reduce((n, s) => n + s.sent, 0),
      acked: senders.reduce((n, s) => n + s.acked.length, 0),
      stored: stored.length,
      lost: senders.reduce((n, s) => n + s.acked.filter((m) => !byKey.has(`${s.user}:${m.clientMsgId}`)).length, 0),
      dup: keys.length - new Set(keys).size,
      wronglySkipped: [...listener.skipped].filter((seq) => storedSeqs.has(seq)).length,
      burned: listener.skipped.size,
      tombstones: await db.collection('skipped_seqs').countDocuments({ conversationId: new ObjectId(conversationId) }),
      internal: senders.reduce((n, s) => n + s.internal, 0),
      listenerMissing: stored.length - listener.delivered.length,
      duplicateDeliveries: listener.duplicateDeliveries,
      impossiblePages: listener.impossible,
    };
    console.log(`[multi] ${JSON.stringify(counts)}`);
    const sent = counts.sent;
    expect(counts).toMatchObject({ acked: sent, stored: sent, lost: 0, dup: 0, wronglySkipped: 0, internal: 0, duplicateDeliveries: 0, listenerMissing: 0 });
    // Every stored message reached the listener exactly once, in seq order.
    expect(listener.delivered.map((m) => m.seq)).toEqual(stored.map((d) => d.seq));
    expect(listener.delivered.map((m) => m.id)).toEqual(stored.map((d) => d._id.toHexString()));
    return counts;
  } finally {
    await mongo.close();
  }
}

async function listenOnB(name: string) {
  const conversationId = (await b.api('ann', 'POST', '/api/conversations', { type: 'group', name, memberIds: ['bob', 'lis'] })).body.id as string;
  const lisSocket = await b.socket('lis');
  expect((await (lisSocket as any).timeout(5_000).emitWithAck('join_conversation', { conversationId })).error).toBeUndefined();
  return { conversationId, listener: repairingListener(b, lisSocket, conversationId) };
}

describe('two instances, jittered MongoDB path on one, concurrent senders', () => {
  it('the repairing listener never declares a stored seq skipped and ends with every stored message once, in order', async () => {
    const { conversationId, listener } = await listenOnB('ordering');
    const tag = `run${process.pid}`;
    // ~60 msg/s in all for ~5 s: ann through A (jittered), bob through B.
    const [viaA, viaB] = await Promise.all([sender([a], 'ann', conversationId, 150, 33, tag), sender([b], 'bob', conversationId, 150, 33, tag)]);
    await listener.drain(SETTLE_MS * 8);
    const counts = await judge('jitter 0-80ms on A', conversationId, [viaA, viaB], listener);
    expect(counts.sent).toBe(300);
  }, 120_000);

  // Last: it kills instance A.
  it('instance A SIGKILLed mid-run (its reserved seqs burned by the settler): the same, with ann failing over to B', async () => {
    const { conversationId, listener } = await listenOnB('ordering-kill');
    const tag = `kill${process.pid}`;
    const sending = Promise.all([sender([a, b], 'ann', conversationId, 150, 33, tag), sender([b], 'bob', conversationId, 150, 33, tag)]);
    await sleep(1_500);
    await a.kill();
    expect(a.exitStatus()).toMatch(/SIGKILL/);
    const [viaA, viaB] = await sending;
    await listener.drain(SETTLE_MS * 10);
    const counts = await judge('jitter on A, A SIGKILLed at 1.5 s', conversationId, [viaA, viaB], listener);
    expect(counts.sent).toBe(300);
  }, 120_000);
});
