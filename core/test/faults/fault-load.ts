import { MongoClient, ObjectId } from 'mongodb';
import { signLocalToken, tokenSettingsFrom } from '../../src/auth/tokens';
import { loadConfig } from '../../src/config';
import { startToxiproxy } from '../../../ops/services/toxiproxy';
import { createClient, type SendAttempt, type SwitchboardClient } from '../../client/src';
import { sleep, startTestCore, testServicesEnv, uniqueDbName } from '../harness';

/**
 * Steady send load for the fault suite: several clients of the client library (one of them sending
 * over HTTP) each start a new message every `intervalMs`; the library's outbox retries every message
 * with the same clientMsgId until it is acknowledged, as a real client does. Afterwards `verify` compares what was acknowledged with what
 * the database really holds (read directly, not through the proxy or the core).
 */
export interface LoadOptions {
  url: string;
  /** Prefix of every clientMsgId (unique per scenario: a clientMsgId is unique per sender). */
  tag: string;
  conversationId: string;
  users: string[];
  /** Users[0] sends over HTTP (checks 503 + Retry-After), the others over Socket.IO. */
  httpUser?: boolean;
  intervalMs: number;
  /** An attempt not answered within this counts as unanswered (the server promised to answer). */
  answerDeadlineMs: number;
}

interface Attempt { at: number; answeredAt?: number; outcome: 'ack' | 'error' | 'unanswered'; code?: string; httpStatus?: number }
interface Sent { user: string; clientMsgId: string; firstAt: number; attempts: Attempt[]; ack?: { id: string; seq: number; duplicate: boolean }; ackAt?: number }

export interface FaultCounts {
  scenario: string;
  sent: number;
  acked: number;
  /** Acks that found their message already stored by an earlier attempt whose answer was lost or refused. */
  ackedAsRetry: number;
  stored: number;
  /** Stored messages no client in the room received (neither on first delivery nor re-broadcast). */
  notBroadcast: number;
  lost: number;
  duplicated: number;
  seqRepeated: number;
  ackMismatch: number;
  unanswered: number;
  attempts: number;
  errorCodes: Record<string, number>;
  httpWithoutRetryAfter: number;
  recoveryMs: number | null;
  maxAnswerMs: number;
}

// The default development key, as every test core uses (the URI is only there to satisfy validation).
const token = (userId: string) => signLocalToken(tokenSettingsFrom(loadConfig({ APP_ENV: 'test', MONGODB_URI: 'mongodb://127.0.0.1' })), userId, 3600);

export async function startLoad(options: LoadOptions) {
  const clients = new Map<string, SwitchboardClient>();
  /** Ids of every message_received any load socket got (each is in the conversation's room). */
  const received = new Set<string>();
  const sent: Sent[] = [];
  const byClientMsgId = new Map<string, Sent>();
  let httpWithoutRetryAfter = 0;
  const onAttempt = (a: SendAttempt) => {
    const item = byClientMsgId.get(a.clientMsgId);
    if (!item) return;
    // The library reports an attempt when it settles; `durationMs` dates its start on this clock.
    const now = performance.now();
    const attempt: Attempt = { at: now - a.durationMs, outcome: 'unanswered' };
    item.attempts.push(attempt);
    if (a.http) attempt.httpStatus = a.http.status;
    if (a.http?.status === 503 && !a.http.retryAfter) httpWithoutRetryAfter++;
    if (a.outcome === 'timeout' || a.outcome === 'failed') return;
    attempt.answeredAt = now;
    if (a.outcome === 'refused') {
      attempt.outcome = 'error';
      attempt.code = String(a.problem?.code);
      return;
    }
    attempt.outcome = 'ack';
    item.ack = { id: a.message!.id, seq: a.message!.seq, duplicate: a.duplicate === true };
    item.ackAt = now;
  };
  for (const [u, user] of options.users.entries()) {
    const overHttp = options.httpUser === true && u === 0;
    const client = createClient({
      url: options.url,
      getToken: () => token(user),
      sendTransport: overHttp ? 'http' : 'socket',
      // Every send at once, as many clients would: the drill measures the core's answers, not one client's order.
      sendOrder: 'none',
      ackTimeoutMs: options.answerDeadlineMs,
      backoff: { baseMs: 200, maxMs: 500 },
      // Retry soon whatever the Retry-After says (at most 500 ms): the scenario measures recovery.
      retryDelay: ({ problem }) => (problem ? Math.min(500, 1000 * (problem.retryAfter ?? 0.2)) : 200),
    });
    client.on('error', () => undefined);
    client.on('attempt', onAttempt);
    clients.set(user, client);
    if (overHttp) continue;
    // Joined again after every reconnect (a restarted core knows no rooms); raw: the core's own broadcasts.
    client.on('broadcast', (message) => received.add(message.id));
    client.subscribe(options.conversationId, { raw: true });
    const joined = new Promise<void>((resolve, reject) => {
      client.on('joined', () => resolve());
      client.on('stateChange', (state, _previous, info) => { if (state !== 'connected' && state !== 'connecting') reject(new Error(`load client ${user}: ${state} (${info.reason})`)); });
    });
    client.connect();
    await joined;
  }
  const pending = new Set<Promise<void>>();
  let running = true;

  const loops = options.users.map(async (user, u) => {
    const client = clients.get(user)!;
    for (let i = 0; running; i++) {
      const item: Sent = { user, clientMsgId: `${options.tag}-${user}-${i}`, firstAt: performance.now(), attempts: [] };
      sent.push(item);
      byClientMsgId.set(item.clientMsgId, item);
      // Retried with the same clientMsgId until acknowledged; given up (rejected) only when refused for good or closed.
      const p = client.send(options.conversationId, `fault load ${item.clientMsgId}`, { clientMsgId: item.clientMsgId }).then(() => undefined, () => undefined).finally(() => pending.delete(p));
      pending.add(p);
      await sleep(options.intervalMs + (u % 3));
    }
  });
  const closeAll = () => { for (const c of clients.values()) c.close(); };

  return {
    sent,
    received,
    /** Stops new messages; waits (at most graceMs) until every message sent so far is acknowledged. */
    async finish(graceMs: number): Promise<void> {
      running = false;
      await Promise.all(loops);
      const giveUpAt = performance.now() + graceMs;
      while (pending.size && performance.now() < giveUpAt + options.answerDeadlineMs) await Promise.race([...pending, sleep(200)]);
      await sleep(500); // the last broadcasts
      closeAll();
    },
    /** First acknowledgement of an attempt made after `healedAt`: how long the service took to come back. */
    recoveryMs(healedAt: number): number | null {
      const acks = sent.flatMap((s) => s.attempts).filter((a) => a.at >= healedAt && a.outcome === 'ack').map((a) => a.answeredAt! - healedAt);
      return acks.length ? Math.round(Math.min(...acks)) : null;
    },
    httpWithoutRetryAfter: () => httpWithoutRetryAfter,
    async close() {
      running = false;
      closeAll();
    },
  };
}

export type Load = Awaited<ReturnType<typeof startLoad>>;

/** Compares the acknowledgements with the database's messages of the conversation, and prints the counts. */
export async function verify(scenario: string, load: Load, db: { uri: string; name: string }, conversationId: string, healedAt: number | null): Promise<FaultCounts> {
  const client = new MongoClient(db.uri);
  try {
    const docs = await client.db(db.name).collection('messages')
      .find({ conversationId: new ObjectId(conversationId) }, { projection: { senderId: 1, clientMsgId: 1, seq: 1 } }).toArray();
    const byKey = new Map<string, { _id: ObjectId; seq: number }[]>();
    for (const d of docs) {
      const key = `${d.senderId}\u0000${d.clientMsgId}`;
      byKey.set(key, [...(byKey.get(key) ?? []), { _id: d._id, seq: d.seq as number }]);
    }
    const seqs = docs.map((d) => d.seq as number);
    const attempts = load.sent.flatMap((s) => s.attempts);
    const errorCodes: Record<string, number> = {};
    for (const a of attempts) if (a.outcome !== 'ack') errorCodes[a.code ?? a.outcome] = (errorCodes[a.code ?? a.outcome] ?? 0) + 1;
    const acked = load.sent.filter((s) => s.ack);
    const counts: FaultCounts = {
      scenario,
      sent: load.sent.length,
      acked: acked.length,
      ackedAsRetry: acked.filter((s) => s.ack!.duplicate).length,
      stored: docs.length,
      notBroadcast: docs.filter((d) => !load.received.has(d._id.toHexString())).length,
      lost: acked.filter((s) => !byKey.has(`${s.user}\u0000${s.clientMsgId}`)).length,
      duplicated: [...byKey.values()].filter((list) => list.length > 1).length,
      seqRepeated: seqs.length - new Set(seqs).size,
      ackMismatch: acked.filter((s) => {
        const stored = byKey.get(`${s.user}\u0000${s.clientMsgId}`)?.[0];
        return stored && (stored._id.toHexString() !== s.ack!.id || stored.seq !== s.ack!.seq);
      }).length,
      unanswered: attempts.filter((a) => a.outcome === 'unanswered').length,
      attempts: attempts.length,
      errorCodes,
      httpWithoutRetryAfter: load.httpWithoutRetryAfter(),
      recoveryMs: healedAt === null ? null : load.recoveryMs(healedAt),
      maxAnswerMs: Math.round(Math.max(0, ...attempts.filter((a) => a.answeredAt).map((a) => a.answeredAt! - a.at))),
    };
    console.log(`[fault] ${JSON.stringify(counts)}`);
    return counts;
  } finally {
    await client.close();
  }
}

/** What every scenario must show (the acceptance criteria). */
export function expectNoLoss(counts: FaultCounts, options: { allowUnanswered?: boolean; allowNotBroadcast?: boolean; recoveryWithinMs?: number } = {}): void {
  expect(counts.sent).toBeGreaterThan(50);
  expect({ lost: counts.lost, duplicated: counts.duplicated, seqRepeated: counts.seqRepeated, ackMismatch: counts.ackMismatch }).toEqual({ lost: 0, duplicated: 0, seqRepeated: 0, ackMismatch: 0 });
  // Retried until acknowledged: everything sent ends up stored exactly once, and acknowledged.
  expect(counts.acked).toBe(counts.sent);
  expect(counts.stored).toBe(counts.sent);
  if (!options.allowNotBroadcast) expect(counts.notBroadcast).toBe(0);
  expect(counts.errorCodes.internal ?? 0).toBe(0);
  expect(Object.keys(counts.errorCodes).filter((c) => !['unavailable', 'unanswered'].includes(c))).toEqual([]);
  expect(counts.httpWithoutRetryAfter).toBe(0);
  if (!options.allowUnanswered) expect(counts.unanswered).toBe(0);
  if (options.recoveryWithinMs !== undefined) {
    expect(counts.recoveryMs).not.toBeNull();
    expect(counts.recoveryMs!).toBeLessThanOrEqual(options.recoveryWithinMs);
  }
}

/** A toxic (or several) that `heal()` removes. */
export interface Fault { remove(): Promise<void> }

export interface ScenarioOptions {
  name: string;
  url: string;
  api: (userId: string, method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;
  users: string[];
  db: { uri: string; name: string };
  answerDeadlineMs: number;
  fault: () => Promise<Fault>;
  faultMs: number;
  /** Called every 250 ms while the fault is on (e.g. probe /ready). */
  duringFault?: () => Promise<void>;
  /** Runs beside the load once healed (e.g. wait for /ready to report the dependency up again). */
  afterHeal?: (healedAt: number) => Promise<void>;
}

/** Load for 1.5 s, fault for faultMs, heal, load 2.5 s more, finish retries, then compare with the database. */
export async function runScenario(options: ScenarioOptions): Promise<FaultCounts> {
  const conversationId = (await options.api(options.users[0]!, 'POST', '/api/conversations', { type: 'group', name: options.name, memberIds: options.users.slice(1) })).body.id as string;
  const load = await startLoad({ url: options.url, tag: options.name.replace(/[^A-Za-z0-9]+/g, '_'), conversationId, users: options.users, httpUser: true, intervalMs: 60, answerDeadlineMs: options.answerDeadlineMs });
  try {
    await sleep(1_500);
    const fault = await options.fault();
    const until = performance.now() + options.faultMs;
    while (performance.now() < until) await Promise.all([sleep(250), options.duringFault?.()]);
    await fault.remove();
    const healedAt = performance.now();
    const afterHeal = options.afterHeal?.(healedAt);
    await sleep(2_500);
    await load.finish(15_000);
    await afterHeal;
    return await verify(options.name, load, options.db, conversationId, healedAt);
  } finally {
    await load.close();
  }
}

/** A core (in this process) whose MongoDB or Redis is reached through a fresh Toxiproxy proxy; stop() ends both. */
export async function startProxiedCore(dependency: 'mongodb' | 'redis', env: Record<string, string>) {
  const toxiproxy = await startToxiproxy();
  try {
    const services = testServicesEnv();
    const upstream = new URL(dependency === 'mongodb' ? services.MONGODB_URI : services.REDIS_URL).host;
    const { proxy, host, port } = await toxiproxy.proxy(dependency, upstream);
    const dbName = uniqueDbName();
    const via: Record<string, string> = dependency === 'mongodb'
      ? { MONGODB_URI: `mongodb://${host}:${port}/?directConnection=true` }
      : { REDIS_URL: `redis://${host}:${port}` };
    const t = await startTestCore({ ...via, ...env }, { db: dbName });
    return {
      t,
      proxy,
      /** Where the test reads what was really stored: the server itself, not the proxy. */
      db: { uri: services.MONGODB_URI, name: dbName },
      async stop() {
        await t.stop();
        await toxiproxy.stop();
      },
    };
  } catch (error) {
    await toxiproxy.stop();
    throw error;
  }
}
