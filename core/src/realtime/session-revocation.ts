import { endedFor, type RevocationCache } from '../auth/session-revocations';
import { userIdSchema } from '../chat/validation';
import type { SessionsRepository } from '../store/sessions-repository';
import type { Logger } from '../telemetry/logger';
import { userRoom, type ChatServer } from './events';
import { endSession } from './session-lifetime';

/** How long the admin call waits for every live instance to confirm (longer than the revocation cache's TTL: see below). */
export const REVOCATION_ACK_DEADLINE_MS = 3_000;
/** How often each instance sweeps the durable record (and marks itself alive in `instances`). */
export const REVOCATION_SWEEP_MS = 1_000;
/** An instance not seen for this long is no longer waited for. */
const LIVE_WINDOW_MS = 10_000;
/** The sweep re-reads this far behind its last pass: a revocation whose write began before the pass but committed after it is still seen. */
const SWEEP_OVERLAP_MS = 10_000;
/** An instance's first sweep looks back this far (a revocation written while it started is confirmed too). */
const FIRST_LOOKBACK_MS = 60_000;
const SWEEP_PAGE = 500;
const RECHECK_BATCH = 1_000;
/** How often the admin call re-reads `confirmedBy` while it waits. */
const CONFIRM_POLL_MS = 200;
const LOG_INTERVAL_MS = 10_000;

export interface RevocationOutcome {
  userId: string;
  /** Every token of the user issued at or before this is refused (ISO 8601). */
  sessionsEndedAt: string;
  /** True when every live instance confirmed it ended the user's sockets before the answer. */
  complete: boolean;
  /** Instances that confirmed (this one included). */
  confirmedInstances: string[];
  /** Live instances that did not confirm in time: their sockets of the user end at their next check (sweep, event, or the adapter's reconnect). */
  unconfirmedInstances: string[];
  /** True when the list of live instances could not be read (then `complete` is false). */
  instancesUnknown?: boolean;
}

export interface SessionRevocationDeps {
  repository: SessionsRepository;
  cache: RevocationCache;
  instanceId: string;
  /** True when instances share an adapter (Redis): the fast confirmation path. */
  clustered: boolean;
  logger: Logger;
  now: () => number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Ending a user's sessions everywhere (README "Ending a user's sessions"), durable and confirmed:
 * 1. the revocation is written to the database first (`session_revocations`): from then on every
 *    handshake, recovery, `renew_token`, REST call and socket event with a token issued at or
 *    before it is refused, on every instance, within the revocation cache's TTL at most;
 * 2. this instance ends its own sockets of the user; the others are told through the adapter and
 *    ack once theirs are ended (`sessions_revoked`);
 * 3. independently of Redis, every instance sweeps the record about once a second, ends the
 *    sockets it finds revoked and adds itself to the record's `confirmedBy` — so an instance whose
 *    Redis path is down still ends them and confirms, through the database;
 * 4. the call answers once every live instance (the `instances` registry) confirmed through either
 *    path, or at the deadline with the ones that did not.
 * After the adapter reconnects, every local socket is re-checked against the record.
 */
export function createSessionRevocation(io: ChatServer, deps: SessionRevocationDeps) {
  const { repository, cache, instanceId } = deps;
  let lastLog = 0;
  const warn = (obj: object, msg: string) => {
    const t = Date.now();
    if (t - lastLog < LOG_INTERVAL_MS) return;
    lastLog = t;
    deps.logger.warn(obj, msg);
  };

  /** Ends this instance's sockets of the user whose tokens were issued at or before `endedAt`; how many. */
  const endLocal = (userId: string, endedAt: number): number => {
    const nsp = io.of('/');
    let ended = 0;
    for (const id of [...(nsp.adapter.rooms.get(userRoom(userId)) ?? [])]) {
      const socket = nsp.sockets.get(id);
      if (socket && !socket.data.endedBy && endedFor(endedAt, socket.data.issuedAt)) {
        endSession(socket, 'revoked');
        ended += 1;
      }
    }
    return ended;
  };

  io.on('sessions_revoked', (event, ack) => {
    if (userIdSchema.safeParse(event?.userId).success && typeof event.sessionsEndedAt === 'number') {
      cache.learn(event.userId, event.sessionsEndedAt);
      endLocal(event.userId, event.sessionsEndedAt);
    }
    if (typeof ack === 'function') ack({ instance: instanceId });
  });

  /** The adapter path: resolves with the instances that acked (none when it fails or times out). */
  const askOthers = (userId: string, sessionsEndedAt: number): Promise<string[]> => new Promise((resolve) => {
    const packet = ['sessions_revoked', { userId, sessionsEndedAt }, (error: Error | null, responses: unknown[]) => {
      resolve((responses ?? []).map((r) => (r as { instance?: unknown })?.instance).filter((i): i is string => typeof i === 'string'));
      void error;
    }];
    try {
      Promise.resolve(io.of('/').adapter.serverSideEmit(packet) as unknown).catch(() => resolve([]));
    } catch {
      resolve([]);
    }
  });

  async function revoke(userId: string): Promise<RevocationOutcome> {
    const started = performance.now();
    // Durable first: a failure here answers 503 and nothing is claimed.
    const at = (await repository.record(userId, new Date(deps.now()), instanceId)).getTime();
    cache.learn(userId, at);
    endLocal(userId, at);
    let expected: string[] | undefined;
    try {
      // The database server's clock judges "live" (this instance's heartbeat answers it).
      const serverNow = (await repository.heartbeat(instanceId)).getTime();
      expected = (await repository.liveInstances(new Date(serverNow - LIVE_WINDOW_MS))).filter((i) => i !== instanceId);
    } catch (error) {
      warn({ err: error }, 'could not read the live instances; the revocation is recorded, its confirmation unknown');
    }
    const confirmed = new Set<string>();
    if (deps.clustered) void askOthers(userId, at).then((instances) => instances.forEach((i) => confirmed.add(i)));
    const deadline = started + REVOCATION_ACK_DEADLINE_MS;
    const allConfirmed = () => expected !== undefined && expected.every((i) => confirmed.has(i));
    while (!allConfirmed()) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      await sleep(Math.min(CONFIRM_POLL_MS, remaining));
      try {
        for (const i of await repository.confirmedBy(userId, new Date(at))) confirmed.add(i);
      } catch { /* the adapter path may still confirm; the deadline bounds the wait */ }
    }
    // The deadline is longer than the revocation cache's TTL: an instance that has not confirmed
    // reads the record again at its next check (a cached "not revoked" has expired by now).
    const unconfirmed = (expected ?? []).filter((i) => !confirmed.has(i));
    // Adapter answers come from every core on the same Redis channel, also another deployment's
    // (seen between test suites sharing one Redis): only this database's live instances count.
    const counted = [...confirmed].filter((i) => i !== instanceId && (expected === undefined || expected.includes(i)));
    return {
      userId,
      sessionsEndedAt: new Date(at).toISOString(),
      complete: expected !== undefined && unconfirmed.length === 0,
      confirmedInstances: [instanceId, ...counted.sort()],
      unconfirmedInstances: unconfirmed.sort(),
      ...(expected === undefined ? { instancesUnknown: true } : {}),
    };
  }

  let since: number | undefined;
  let sweeping: Promise<void> | undefined;
  /** One pass: mark this instance alive, end and confirm what was revoked since the last pass. */
  async function sweepOnce(): Promise<void> {
    // Taken before the heartbeat: what the pass reads covers every revocation written before this moment.
    const covered = cache.sweepStarted();
    const serverNow = (await repository.heartbeat(instanceId)).getTime();
    const from = new Date(since === undefined ? serverNow - FIRST_LOOKBACK_MS : since - SWEEP_OVERLAP_MS);
    let drained = false;
    for (let pages = 0; pages < 20 && !drained; pages++) {
      const page = await repository.unconfirmedSince(from, instanceId, SWEEP_PAGE);
      for (const r of page) {
        cache.learn(r.userId, r.sessionsEndedAt.getTime());
        endLocal(r.userId, r.sessionsEndedAt.getTime());
      }
      await Promise.all(page.map((r) => repository.confirm(r.userId, r.sessionsEndedAt, instanceId)));
      drained = page.length < SWEEP_PAGE;
    }
    // A pass that left pages unread neither moves on (the next one reads them from the same start) nor
    // vouches for anything: cached entries then expire by their own TTL.
    if (!drained) {
      since ??= serverNow - FIRST_LOOKBACK_MS + SWEEP_OVERLAP_MS;
      return;
    }
    since = serverNow;
    covered();
  }
  const sweep = (): Promise<void> => {
    sweeping ??= sweepOnce()
      .catch((error: unknown) => warn({ err: error }, 'revocation sweep failed; retrying on the next tick'))
      .finally(() => { sweeping = undefined; });
    return sweeping;
  };

  /** After the adapter reconnects: notices may have been lost; read the record for every user connected here. */
  async function recheckLocal(): Promise<void> {
    cache.clear();
    const users = [...new Set([...io.of('/').sockets.values()].map((s) => s.data.userId).filter((u): u is string => typeof u === 'string'))];
    for (let i = 0; i < users.length; i += RECHECK_BATCH) {
      const ended = await repository.endedAtMany(users.slice(i, i + RECHECK_BATCH));
      for (const [userId, at] of ended) {
        cache.learn(userId, at.getTime());
        endLocal(userId, at.getTime());
      }
    }
  }

  let timer: NodeJS.Timeout | undefined;
  return {
    revoke,
    sweep,
    recheckLocal,
    endLocal,
    start() {
      void sweep();
      timer = setInterval(() => void sweep(), REVOCATION_SWEEP_MS);
      timer.unref();
    },
    /** Stops sweeping and leaves the registry (nothing waits for this instance's confirmation afterwards). */
    async stop(): Promise<void> {
      clearInterval(timer);
      await sweeping;
      await repository.retire(instanceId);
    },
  };
}

export type SessionRevocation = ReturnType<typeof createSessionRevocation>;
