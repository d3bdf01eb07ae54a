import { randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io';
import { endedFor, revokedError, type RevocationCache } from '../auth/session-revocations';
import type { TokenVerifier } from '../auth/tokens';
import type { ChatService } from '../chat/chat-service';
import { parseConversationIdOrNotFound } from '../chat/access';
import type { ChatEvents } from '../chat/deps';
import { conversationRefSchema, parseInput, renewTokenSchema, socketMarkReadSchema, userIdSchema } from '../chat/validation';
import { AppError } from '../errors';
import { toAppError } from '../error-classifier';
import type { RateLimits } from '../limits/rate-limits';
import type { Maintenance } from '../maintenance';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';
import type { ErrorReporter } from '../telemetry/sentry';
import { parseConversationId, type ConversationId } from '../domain/ids';
import { conversationRoom, userRoom, type ChatServer, type ClientToServerEvents, type InterServerEvents, type ServerToClientEvents, type SessionEndReason, type SocketData } from './events';
import type { Presence } from './presence';
import { guardRecovery, takePendingResync } from './recovery-guard';
import { endSession, isSessionEndReason, sessionEndMessages, watchSessionDeadline } from './session-lifetime';
import type { TypingState } from './typing';

export type { ChatServer } from './events';
type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface GatewayDeps {
  chat: ChatService;
  /** Verifies the token and refuses one whose sessions were ended (auth/session-revocations.ts withRevocationCheck). */
  verify: TokenVerifier;
  /** The durable revocation record, cached: every socket event re-checks its session against it. */
  revocations: Pick<RevocationCache, 'endedAt'>;
  /** JWT_CLOCK_TOLERANCE_S: a session lasts until its token's exp plus this. */
  clockToleranceS: number;
  /** Per-user limit on every socket event (the `socket` scope). */
  limits: Pick<RateLimits, 'consume'>;
  maintenance: Maintenance;
  presence: Presence;
  typing: TypingState;
  metrics: Metrics;
  logger: Logger;
  reporter: ErrorReporter;
  /** Counts handlers still running, so shutdown can wait for their acks. */
  inFlight: { begin(): void; end(): void };
  /** True once shutdown has started moving sockets away: new events are answered 503. */
  refusingEvents(): boolean;
  /** True when instances share an adapter (Redis): membership changes are then announced to the others. */
  clustered: boolean;
  /** Epoch ms; injectable so session deadlines can be tested without waiting. */
  now?: () => number;
}

const TYPING_MIN_INTERVAL_MS = 500;
/** How long a removal waits for the other instances to confirm its room leave (beyond it: DB re-checks cover the rest). */
export const MEMBERSHIP_LEFT_ACK_MS = 2_000;
/** A departure is remembered this long, so a join that read the membership before it cannot enter the room after it. */
const DEPARTED_MEMORY_MS = 120_000;

/**
 * Wires every Socket.IO handler in one place. Each reads: validate → call the chat service →
 * acknowledge → (the service's events) broadcast.
 */
export function attachGateway(io: ChatServer, deps: GatewayDeps): ChatEvents & { adapterReconnected(): Promise<void> } {
  const now = deps.now ?? Date.now;
  const toleranceMs = deps.clockToleranceS * 1000;
  guardRecovery(io, { verify: deps.verify, chat: deps.chat, revocations: deps.revocations });

  io.use(async (socket, next) => {
    try {
      deps.maintenance.assertOpen();
      const token = typeof socket.handshake.auth?.token === 'string' ? socket.handshake.auth.token : undefined;
      const principal = await deps.verify(token);
      socket.data.userId = principal.userId;
      socket.data.requestId = randomUUID();
      socket.data.sessionEndsAt = principal.expiresAt + toleranceMs;
      socket.data.issuedAt = principal.issuedAt;
      next();
    } catch (error) {
      const appError = toAppError(error);
      const err = new Error(appError.message) as Error & { data?: unknown };
      err.data = appError.toProblem();
      next(err);
    }
  });

  /** Ends this instance's sockets of a user (every instance runs this for an `end_sessions`). */
  const endLocalSessions = (userId: string, reason: SessionEndReason) => {
    const room = io.of('/').adapter.rooms.get(userRoom(userId));
    for (const id of room ? [...room] : []) {
      const socket = io.of('/').sockets.get(id);
      if (socket) endSession(socket, reason);
    }
  };

  /**
   * Departures this instance applied (conversation:user → performance.now()), so that a join whose
   * membership read started before one cannot put a socket in the room after the departure was
   * applied here (the leave found no socket to take out). Bounded by age and size.
   */
  const departed = new Map<string, number>();
  const departureKey = (conversationId: ConversationId, userId: string) => `${conversationId}:${userId}`;
  /** Takes the user's sockets on this instance out of the room, forgets the cached membership, remembers the departure. */
  const leaveLocally = (conversationId: ConversationId, userId: string) => {
    const at = performance.now();
    departed.delete(departureKey(conversationId, userId));
    departed.set(departureKey(conversationId, userId), at);
    for (const [k, t] of departed) {
      if (departed.size <= 10_000 && at - t < DEPARTED_MEMORY_MS) break;
      departed.delete(k);
    }
    io.local.in(userRoom(userId)).socketsLeave(conversationRoom(conversationId));
    deps.chat.forgetMembership(conversationId, userId);
  };
  const departedSince = (conversationId: ConversationId, userId: string, since: number) => (departed.get(departureKey(conversationId, userId)) ?? -Infinity) >= since;

  io.on('membership_left', (event, ack) => {
    const conversationId = parseConversationId(event?.conversationId);
    if (conversationId && typeof event.userId === 'string') leaveLocally(conversationId, event.userId);
    if (typeof ack === 'function') ack();
  });
  io.on('end_sessions', (event) => {
    if (userIdSchema.safeParse(event?.userId).success && isSessionEndReason(event.reason)) endLocalSessions(event.userId, event.reason);
  });

  io.on('connection', (socket: ChatSocket) => {
    const { userId } = socket.data;
    const log = deps.logger.child({ socketId: socket.id, requestId: socket.data.requestId, userId });
    deps.metrics.socketConnections.inc();
    deps.metrics.socketConnects.inc();
    void socket.join(userRoom(userId));
    void deps.presence.connected(userId, socket.id).catch(() => undefined);
    // Presence follows the transport: every engine.io heartbeat (ping answered by pong) refreshes
    // this socket's entry, whatever app events the client sends (see realtime/presence.ts).
    const onTransportHeartbeat = () => void deps.presence.refresh(userId, socket.id).catch(() => undefined);
    socket.conn.on('heartbeat', onTransportHeartbeat);
    const lastTyping = new Map<ConversationId, number>();

    // The session ends when its token does; renew_token moves the deadline.
    const deadline = watchSessionDeadline(socket, now);
    deadline.arm();
    // A recovery refused by the re-check (recovery-guard.ts): fresh session, repair over history.
    for (const event of takePendingResync(socket)) socket.emit('conversation_resync', event);

    /** Runs one event: never throws, always answers an ack with the result or `{ error }`. */
    const handle = <P, R>(event: string, fn: (payload: P) => Promise<R>) =>
      async (payload: P, ack?: unknown) => {
        const reply = typeof ack === 'function' ? (ack as (r: unknown) => void) : typeof payload === 'function' ? (payload as (r: unknown) => void) : undefined;
        deps.inFlight.begin();
        try {
          if (deps.refusingEvents()) throw new AppError('unavailable', 'This instance is shutting down; retry after reconnecting.', { retryAfter: 1 });
          if (socket.data.endedBy) throw new AppError('unauthorized', sessionEndMessages[socket.data.endedBy], { reason: socket.data.endedBy });
          // A late timer must not let one more event through on an expired token.
          if (deadline.expired()) {
            setImmediate(deadline.arm);
            throw new AppError('unauthorized', 'The token has expired.', { reason: 'token_expired' });
          }
          // Before any database read, so a flood (a non-member probing ids included) costs a bounded number of lookups.
          await deps.limits.consume('socket', userId);
          // The durable revocation record (cached per instance, REVOCATION_CACHE_TTL_MS): a session
          // whose end notice never reached this instance is ended at its next event.
          if (endedFor(await deps.revocations.endedAt(userId), socket.data.issuedAt)) {
            endSession(socket, 'revoked');
            throw revokedError();
          }
          const result = await fn(typeof payload === 'function' ? (undefined as P) : payload);
          reply?.(result);
        } catch (error) {
          const appError = toAppError(error);
          if (appError.code === 'internal') {
            log.error({ err: error, event }, 'socket handler failed');
            deps.reporter.capture(error, { event, requestId: socket.data.requestId });
          }
          reply?.({ error: appError.toProblem(socket.data.requestId) });
        } finally {
          deps.inFlight.end();
        }
      };

    /** The edge's parse of a payload's conversation id: canonical from here on (malformed answers 404). */
    const conversationOf = (payload: unknown) => parseConversationIdOrNotFound(parseInput(conversationRefSchema, payload).conversationId);

    socket.on('join_conversation', handle('join_conversation', async (payload) => {
      const conversationId = conversationOf(payload);
      const readStarted = performance.now();
      await deps.chat.conversations.position(userId, conversationId);
      // The session may have ended while the membership was read: it must not rejoin a room.
      if (socket.data.endedBy) throw new AppError('unauthorized', sessionEndMessages[socket.data.endedBy], { reason: socket.data.endedBy });
      // A departure applied here while the membership was read: the read may predate it. Checked
      // and joined in one synchronous step, so a departure applied later finds the socket in the room.
      if (departedSince(conversationId, userId, readStarted)) throw new AppError('forbidden', 'You are not a member of this conversation.');
      void socket.join(conversationRoom(conversationId));
      // Read again now that the socket is in the room. Join/remove race: a removal that landed
      // between the read above and the join found no socket to take out; from here on it takes it
      // out (socketsLeave), and one before is seen here. And the ack's lastSeq comes from this read:
      // a message stored while the first read was on its way (on any instance) was broadcast to a
      // room without this socket, so only a lastSeq read after the join is sure to count it.
      let position: Awaited<ReturnType<typeof deps.chat.conversations.position>>;
      try {
        position = await deps.chat.conversations.position(userId, conversationId);
      } catch (error) {
        await socket.leave(conversationRoom(conversationId));
        throw error;
      }
      socket.to(conversationRoom(conversationId)).emit('user_online', { conversationId, userId });
      const typing = await deps.typing.list(conversationId).catch(() => []);
      return { conversationId, ...position, typing: typing.filter((u) => u !== userId) };
    }));

    socket.on('leave_conversation', handle('leave_conversation', async (payload) => {
      const conversationId = conversationOf(payload);
      await socket.leave(conversationRoom(conversationId));
      return { conversationId };
    }));

    socket.on('send_message', handle('send_message', async (payload) => {
      const { conversationId, ...body } = (payload ?? {}) as { conversationId?: unknown };
      if (typeof conversationId !== 'string') throw new AppError('validation_failed', 'conversationId is required', { errors: [{ path: 'conversationId', message: 'required string' }] });
      const { message, created } = await deps.chat.messages.send(userId, parseConversationIdOrNotFound(conversationId), body);
      deps.metrics.messages.inc({ transport: 'socket', outcome: created ? 'created' : 'duplicate' });
      return { ...message, duplicate: !created };
    }));

    socket.on('mark_read', handle('mark_read', async (payload) => {
      const { conversationId, seq } = parseInput(socketMarkReadSchema, payload);
      return deps.chat.messages.markRead(userId, parseConversationIdOrNotFound(conversationId), { seq });
    }));

    const typing = (typingNow: boolean) => handle(typingNow ? 'typing_start' : 'typing_stop', async (payload) => {
      const conversationId = conversationOf(payload);
      const room = conversationRoom(conversationId);
      if (!socket.rooms.has(room)) throw new AppError('forbidden', 'Join the conversation before sending typing events.');
      const last = lastTyping.get(conversationId) ?? 0;
      // Typing is droppable: beyond one event per interval we answer ok and relay nothing.
      if (!typingNow || now() - last >= TYPING_MIN_INTERVAL_MS) {
        lastTyping.set(conversationId, now());
        socket.to(room).emit('user_typing', { conversationId, userId, typing: typingNow });
        await (typingNow ? deps.typing.start(conversationId, userId) : deps.typing.stop(conversationId, userId)).catch(() => undefined);
      }
      return { ok: true as const };
    });
    socket.on('typing_start', typing(true));
    socket.on('typing_stop', typing(false));

    socket.on('heartbeat', handle('heartbeat', async () => {
      await deps.presence.refresh(userId, socket.id).catch(() => undefined);
      return { serverTime: new Date().toISOString() };
    }));

    socket.on('renew_token', handle('renew_token', async (payload) => {
      const { token } = parseInput(renewTokenSchema, payload);
      const principal = await deps.verify(token);
      if (principal.userId !== userId) throw new AppError('forbidden', 'A renewal token must name the same user (sub) as the session.');
      socket.data.sessionEndsAt = principal.expiresAt + toleranceMs;
      socket.data.issuedAt = principal.issuedAt;
      deadline.arm();
      return { expiresAt: new Date(principal.expiresAt).toISOString() };
    }));

    socket.on('disconnecting', () => {
      const conversations = [...socket.rooms, ...(socket.data.conversationsAtEnd ?? [])].filter((r) => r.startsWith('conv:')).map((r) => parseConversationId(r.slice(5))).filter((id) => id !== undefined);
      socket.conn.off('heartbeat', onTransportHeartbeat);
      void deps.presence.disconnected(userId, socket.id).then((offline) => {
        if (!offline) return;
        for (const conversationId of conversations) io.to(conversationRoom(conversationId)).emit('user_offline', { conversationId, userId });
      }).catch(() => undefined);
    });
    socket.on('disconnect', (reason) => {
      deadline.clear();
      deps.metrics.socketConnections.dec();
      deps.metrics.socketDisconnects.inc({ reason });
    });
  });

  /**
   * After the Redis adapter reconnects: broadcasts from other instances, `membership_left` and
   * `end_sessions` sent meanwhile were lost. Re-check every local socket's conversation rooms
   * against the database (a removal takes effect even though its pub/sub notice never came), then
   * tell the sockets still in each room to repair with `conversation_resync {conversationId, lastSeq}`.
   */
  async function adapterReconnected(): Promise<void> {
    const nsp = io.of('/');
    const rooms = [...nsp.adapter.rooms.keys()].filter((r) => r.startsWith('conv:'));
    for (const room of rooms) {
      const conversationId = parseConversationId(room.slice(5));
      if (!conversationId) continue;
      let lastSeq = 0;
      for (const id of [...(nsp.adapter.rooms.get(room) ?? [])]) {
        const socket = nsp.sockets.get(id);
        if (!socket) continue;
        try {
          lastSeq = Math.max(lastSeq, (await deps.chat.conversations.position(socket.data.userId, conversationId)).lastSeq);
        } catch (error) {
          if (toAppError(error).code === 'unavailable') return; // the database cannot say now; the next reconnect or event repeats this
          socket.leave(room);
        }
      }
      io.local.to(room).emit('conversation_resync', { conversationId, lastSeq });
    }
  }

  return {
    adapterReconnected,
    messageCreated(message, acceptedAt) {
      io.to(conversationRoom(message.conversationId)).emit('message_received', message);
      deps.metrics.messageDeliveryDuration.observe((performance.now() - acceptedAt) / 1000);
    },
    readMoved(event) {
      io.to(conversationRoom(event.conversationId)).emit('message_read', event);
    },
    async membershipChanged(event) {
      if (event.change !== 'left') return;
      leaveLocally(event.conversationId, event.userId);
      if (!deps.clustered) return;
      // Every other instance leaves the room and acks; the removal answers after that (bounded:
      // an instance cut off from Redis re-checks its rooms against the database when it reconnects).
      // Through the adapter itself (what io.serverSideEmitWithAck does), so that its own failure
      // (the Streams adapter counts instances with a Redis command, and Redis may be down) is
      // caught here instead of escaping as an unhandled rejection; our own deadline, since the
      // adapters' request timeouts are theirs (5 s).
      let timer: NodeJS.Timeout | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no confirmation within ${MEMBERSHIP_LEFT_ACK_MS} ms`)), MEMBERSHIP_LEFT_ACK_MS);
          const packet = ['membership_left', { conversationId: event.conversationId, userId: event.userId }, (error: Error | null) => (error ? reject(error) : resolve())];
          try {
            Promise.resolve(io.of('/').adapter.serverSideEmit(packet) as unknown).catch(reject);
          } catch (error) {
            reject(error);
          }
        });
      } catch (error) {
        deps.logger.warn({ err: error, conversationId: event.conversationId }, 'not every instance confirmed a room leave (Redis unreachable or slow); each re-checks its rooms against the database when its adapter reconnects');
      } finally {
        clearTimeout(timer);
      }
    },
    endSessions(userId, reason) {
      endLocalSessions(userId, reason);
      if (deps.clustered) io.serverSideEmit('end_sessions', { userId, reason });
    },
  };
}
