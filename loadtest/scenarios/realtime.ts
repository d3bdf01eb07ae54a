import { performance } from 'node:perf_hooks';
// The library's raw connection, not createClient: the gate compares the core with the bare relay as
// measured by this generator, so it must add as little per-message cost as possible and see the core's
// raw deliveries (duplicates, order); see openRawSocket for the measured cost of the full client.
import { openRawSocket, type RawSocket } from '../../core/client/src';
import { LatencyHistogram } from '../lib/histogram';
import { watchGenerator, type GeneratorHealth, type GeneratorLimits } from '../lib/health';
import type { ServerProcess, ServerStats } from '../lib/processes';
import { cpuMsBetween, cpuShare, eluBetween } from '../lib/processes';
import { gcBetween } from '../servers/gc-accounting';

export interface RealtimeParams {
  sockets: number;
  /** Sockets (distinct users) per conversation; every member, the sender included, receives each message. */
  members: number;
  /** Total messages per second across all senders (open model). */
  rate: number;
  durationS: number;
  warmupS: number;
  /** After the last send, how long to wait for outstanding deliveries before counting them lost. */
  drainMs: number;
  connectConcurrency: number;
}

export interface RealtimeTarget {
  kind: 'core' | 'relay';
  url: string;
  /** Conversation ids, created by the caller (core) or made up (relay); members[i] are user ids. */
  conversations: { id: string; members: string[] }[];
  auth(userId: string): Promise<Record<string, string>>;
  server?: ServerProcess;
}

export interface RealtimeResult {
  params: RealtimeParams;
  connected: number;
  connectErrors: number;
  connect: LatencyHistogram;
  ack: LatencyHistogram;
  delivery: LatencyHistogram;
  sent: number;
  sendErrors: number;
  sendErrorKinds: Record<string, number>;
  expectedDeliveries: number;
  delivered: number;
  lost: number;
  duplicated: number;
  unexpected: number;
  outOfOrder: number;
  measuredSent: number;
  /** Acks received inside the measured window: the messages the server finished handling in it. */
  measuredAcked: number;
  measuredDeliveries: number;
  achievedSendRate: number;
  /** Acks received inside the measured window per second: what the server actually sustained. */
  achievedAckRate: number;
  negotiatedExtensions: string;
  heapPerSocketBytes: number | null;
  rssPerSocketBytes: number | null;
  /** The server's whole RSS and heap (after GC) with every socket connected: the process's footprint. */
  rssConnectedBytes: number | null;
  heapUsedConnectedBytes: number | null;
  serverCpuShare: number | null;
  /** The server's CPU time (its process.cpuUsage) and event-loop utilisation over the measured send window. */
  serverCpuMs: number | null;
  serverElu: number | null;
  serverEventLoopDelayP99Ms: number | null;
  /** Garbage collection over the measured send window, per message the server finished (acked) in it. */
  serverGc: ReturnType<typeof gcBetween> | null;
  generator: GeneratorHealth;
}

type MessageEvent = { clientMsgId?: string; seq?: number };

/**
 * N sockets in conversations of M; senders emit at a fixed total rate (open model, timed from the
 * intended send time). Every delivery to every recipient is a sample of one merged histogram; the
 * expected deliveries are messages × members, so lost and duplicated deliveries are exact counts.
 */
export interface WindowHooks {
  /** Called when the measured window opens (after connect, join and warm-up) and when sending ends. */
  onMeasureStart?: () => Promise<void>;
  onMeasureEnd?: () => Promise<void>;
}

export async function runRealtime(target: RealtimeTarget, p: RealtimeParams, limits: GeneratorLimits, tag: string, hooks: WindowHooks = {}): Promise<RealtimeResult> {
  const convs = target.conversations;
  if (convs.length * p.members < p.sockets) throw new Error(`need ${Math.ceil(p.sockets / p.members)} conversations, got ${convs.length}`);
  const statsBefore = target.server ? await target.server.stats(true) : undefined;

  // 1. Connect every socket (bounded concurrency) and join its conversation.
  const sockets: RawSocket[] = new Array(p.sockets);
  const connectH = new LatencyHistogram();
  let connectErrors = 0;
  let negotiatedExtensions = '';
  const lastSeq = new Int32Array(p.sockets).fill(-1);
  const total = Math.round(p.rate * (p.durationS + p.warmupS));
  // received[msg * members + member] counts deliveries of one message to one member.
  const received = new Uint8Array(total * p.members);
  const intendedAt = new Float64Array(total);
  const acked = new Uint8Array(total);
  const deliveryH = new LatencyHistogram();
  const ackH = new LatencyHistogram();
  let delivered = 0;
  let duplicated = 0;
  let unexpected = 0;
  let outOfOrder = 0;
  let measuredDeliveries = 0;
  const prefix = `lt-${tag}-`;
  let measureFrom = Number.POSITIVE_INFINITY;

  const onMessage = (socketIndex: number, member: number) => (m: MessageEvent) => {
    const now = performance.now();
    const id = m?.clientMsgId;
    if (typeof id !== 'string' || !id.startsWith(prefix)) { unexpected++; return; }
    const n = Number(id.slice(prefix.length));
    if (!(n >= 0 && n < total)) { unexpected++; return; }
    const slot = n * p.members + member;
    const count = received[slot]!;
    received[slot] = count < 255 ? count + 1 : 255;
    if (count > 0) { duplicated++; return; }
    delivered++;
    if (typeof m.seq === 'number') {
      if (m.seq <= lastSeq[socketIndex]!) outOfOrder++;
      else lastSeq[socketIndex] = m.seq;
    }
    const intended = intendedAt[n]!;
    if (intended >= measureFrom) {
      deliveryH.recordMs(now - intended);
      measuredDeliveries++;
    }
  };

  let cursor = 0;
  const connectOne = async (i: number) => {
    const conv = convs[Math.floor(i / p.members)]!;
    const member = i % p.members;
    const userId = conv.members[member]!;
    const started = performance.now();
    const socket = openRawSocket(target.url, { auth: await target.auth(userId), timeoutMs: 30_000 });
    sockets[i] = socket;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', (e) => reject(e));
      });
      connectH.recordMs(performance.now() - started);
      if (!negotiatedExtensions) {
        const ws = (socket.io.engine.transport as unknown as { ws?: { extensions?: string } }).ws;
        negotiatedExtensions = ws?.extensions || '(none)';
      }
      socket.on('message_received', onMessage(i, member));
      const ack = await socket.timeout(30_000).emitWithAck('join_conversation', { conversationId: conv.id }) as { error?: unknown };
      if (ack?.error) throw new Error(`join failed: ${JSON.stringify(ack.error)}`);
    } catch {
      connectErrors++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(p.connectConcurrency, p.sockets) }, async () => {
    while (cursor < p.sockets) await connectOne(cursor++);
  }));
  const connected = sockets.filter((s) => s?.connected).length;
  const statsConnected = target.server ? await target.server.stats(true) : undefined;

  // 2. Send at a fixed rate: message n goes to conversation n mod C, from member (n div C) mod M.
  const usedConvs = Math.ceil(p.sockets / p.members);
  let sendErrors = 0;
  const sendErrorKinds: Record<string, number> = {};
  let sent = 0;
  let measuredSent = 0;
  let ackedInWindow = 0;
  let settled = 0;
  let notSent = 0;
  const intervalMs = 1000 / p.rate;
  const t0 = performance.now() + 50;
  measureFrom = t0 + p.warmupS * 1000;
  const measureTo = t0 + (p.warmupS + p.durationS) * 1000;
  let watch: ReturnType<typeof watchGenerator> | undefined;
  let statsStart: ServerStats | undefined;
  const serverStatsAtStart = async () => { if (target.server) statsStart = await target.server.stats(false); };
  const fire = (n: number) => {
    const c = n % usedConvs;
    const member = Math.floor(n / usedConvs) % p.members;
    const socket = sockets[c * p.members + member];
    const intended = t0 + n * intervalMs;
    intendedAt[n] = intended;
    sent++;
    if (intended >= measureFrom) measuredSent++;
    if (!socket?.connected) { notSent++; sendErrors++; sendErrorKinds['socket not connected'] = (sendErrorKinds['socket not connected'] ?? 0) + 1; return; }
    socket.timeout(30_000).emit('send_message', { conversationId: convs[c]!.id, clientMsgId: `${prefix}${n}`, text: `load ${n} at ${intended.toFixed(3)}` }, ((err: Error | null, res: { error?: { code?: string } } | undefined) => {
      const now = performance.now();
      settled++;
      if (err || res?.error) {
        sendErrors++;
        const kind = err ? err.message : String(res?.error?.code ?? 'error');
        sendErrorKinds[kind] = (sendErrorKinds[kind] ?? 0) + 1;
        return;
      }
      acked[n] = 1;
      if (now >= measureFrom && now <= measureTo) ackedInWindow++;
      if (intended >= measureFrom) ackH.recordMs(now - intended);
      // socket.io's typings do not add timeout()'s leading error argument to the contract's Ack type.
    }) as never);
  };
  await new Promise<void>((resolve) => {
    let n = 0;
    const tick = () => {
      const now = performance.now();
      if (!watch && now >= measureFrom) { watch = watchGenerator(limits); void serverStatsAtStart(); void hooks.onMeasureStart?.(); }
      while (n < total && t0 + n * intervalMs <= now) fire(n++);
      if (n >= total) return resolve();
      setTimeout(tick, Math.max(0, t0 + n * intervalMs - performance.now()));
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  const sendEnd = performance.now();
  // Server counters first: stopping a CPU profile (writing its file) must not count as the window's work.
  const statsEnd = target.server ? await target.server.stats(false) : undefined;
  await hooks.onMeasureEnd?.();
  const generator = (watch ?? watchGenerator(limits)).stop();

  // 3. Drain: wait for every expected delivery, up to drainMs.
  const expectedOf = () => {
    let e = 0;
    for (let n = 0; n < total; n++) if (acked[n]) e += p.members;
    return e;
  };
  const drainUntil = performance.now() + p.drainMs;
  while (performance.now() < drainUntil && (settled < sent - notSent || delivered < expectedOf())) await new Promise((r) => setTimeout(r, 50));
  // A delivery of a message whose ack failed still counts as delivered; it is expected only if acked.
  let expectedDeliveries = 0;
  let lost = 0;
  for (let n = 0; n < total; n++) {
    if (!acked[n]) continue;
    expectedDeliveries += p.members;
    for (let m = 0; m < p.members; m++) if (received[n * p.members + m] === 0) lost++;
  }

  for (const s of sockets) s?.disconnect();
  await new Promise((r) => setTimeout(r, 500));

  const measuredWindowS = (Math.min(sendEnd, measureTo) - measureFrom) / 1000;
  return {
    params: p,
    connected,
    connectErrors,
    connect: connectH,
    ack: ackH,
    delivery: deliveryH,
    sent,
    sendErrors,
    sendErrorKinds,
    expectedDeliveries,
    delivered,
    lost,
    duplicated,
    unexpected,
    outOfOrder,
    measuredSent,
    measuredAcked: ackedInWindow,
    measuredDeliveries,
    achievedSendRate: measuredSent / measuredWindowS,
    achievedAckRate: ackedInWindow / measuredWindowS,
    negotiatedExtensions,
    heapPerSocketBytes: statsBefore && statsConnected && connected ? (statsConnected.memory.heapUsed - statsBefore.memory.heapUsed) / connected : null,
    rssPerSocketBytes: statsBefore && statsConnected && connected ? (statsConnected.memory.rss - statsBefore.memory.rss) / connected : null,
    rssConnectedBytes: statsConnected ? statsConnected.memory.rss : null,
    heapUsedConnectedBytes: statsConnected ? statsConnected.memory.heapUsed : null,
    serverCpuShare: statsStart && statsEnd ? cpuShare(statsStart, statsEnd) : null,
    serverCpuMs: statsStart && statsEnd ? cpuMsBetween(statsStart, statsEnd) : null,
    serverElu: statsStart && statsEnd ? eluBetween(statsStart, statsEnd) : null,
    serverEventLoopDelayP99Ms: statsEnd ? statsEnd.eld.p99 : null,
    serverGc: statsStart?.gc && statsEnd?.gc ? gcBetween(statsStart.gc, statsEnd.gc, statsEnd.uptimeMs - statsStart.uptimeMs, ackedInWindow) : null,
    generator,
  };
}
