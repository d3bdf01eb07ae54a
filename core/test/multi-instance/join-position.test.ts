import { startToxiproxy, type RunningToxiproxy } from '../../../ops/services/toxiproxy';
import { startCoreProcess, stopAllCoreProcesses, type CoreProcess } from '../core-process';
import { collect, sleep, testServicesEnv, uniqueDbName } from '../harness';

/**
 * The join ack's `lastSeq` is what a client catches up to (core/client sequencer `onJoined`): every
 * message the socket will not receive live must be at or below it. Two core processes on one
 * MongoDB and one Redis; instance A's MongoDB answers arrive 800 ms late (Toxiproxy, downstream), so
 * while bo's join on A waits for its membership read, amy's message sent through B is stored and
 * broadcast before bo's socket is in the room. The ack must then count that message (read after
 * joining the room), or bo never learns of it until the next one (the node matrix's rare
 * "timed out waiting for a1..a3" under CI load).
 */
let toxiproxy: RunningToxiproxy;
let a: CoreProcess;
let b: CoreProcess;
let slowA: Awaited<ReturnType<RunningToxiproxy['proxy']>>['proxy'];

beforeAll(async () => {
  toxiproxy = await startToxiproxy();
  const services = testServicesEnv();
  const { proxy, host, port } = await toxiproxy.proxy('mongodb-join-a', new URL(services.MONGODB_URI).host);
  slowA = proxy;
  const dbName = uniqueDbName();
  [a, b] = await Promise.all([
    startCoreProcess({ MONGODB_URI: `mongodb://${host}:${port}/?directConnection=true`, MONGODB_TIMEOUT_MS: '5000' }, { redis: true, db: dbName, name: 'join-a' }),
    startCoreProcess({}, { redis: true, db: dbName, name: 'join-b' }),
  ]);
}, 120_000);
afterAll(async () => {
  await stopAllCoreProcesses();
  await toxiproxy?.stop();
}, 30_000);

it('a join ack counts every message stored before the socket was in the room (one stored on another instance while the join read)', async () => {
  const conversationId: string = (await b.api('amy', 'POST', '/api/conversations', { type: 'group', name: 'join-position', memberIds: ['bo'] })).body.id;
  const bo = await a.socket('bo');
  const live = collect<{ seq: number }>(bo, 'message_received');
  // Open A's pooled connections first: a join that had to open one (a handshake under the toxic)
  // would send its reads after the message was stored, and the race would not be run.
  await Promise.all(Array.from({ length: 8 }, () => a.api('bo', 'GET', `/api/conversations/${conversationId}`)));
  const late = await slowA.addToxic({ name: 'late-answers', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 800, jitter: 0 } });
  try {
    const joined = (bo as any).timeout(15_000).emitWithAck('join_conversation', { conversationId });
    // A's membership read has reached the database (its answer is on its way back, 800 ms late).
    await sleep(150);
    const sent = await b.api('amy', 'POST', `/api/conversations/${conversationId}/messages`, { clientMsgId: 'during-join', text: 'while bo joins' });
    expect(sent.status).toBe(201);
    const ack = await joined;
    expect(ack.error).toBeUndefined();
    // Received live, or covered by the ack (the client fetches up to lastSeq): never neither.
    const receivedLive = live.some((m) => m.seq === sent.body.seq);
    expect({ receivedLive, ackCovers: ack.lastSeq >= sent.body.seq }).not.toEqual({ receivedLive: false, ackCovers: false });
  } finally {
    await late.remove();
    bo.close();
  }
}, 60_000);
