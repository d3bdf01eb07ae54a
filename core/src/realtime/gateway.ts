import { randomUUID } from 'node:crypto';
import type { Server, Socket } from 'socket.io';
import type { TokenVerifier } from '../auth/tokens';
import type { ChatService } from '../chat/chat-service';
import type { ChatEvents } from '../chat/deps';
import { conversationRefSchema, parseInput, socketMarkReadSchema } from '../chat/validation';
import { AppError, toAppError } from '../errors';
import type { Maintenance } from '../maintenance';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';
import type { ErrorReporter } from '../telemetry/sentry';
import { conversationRoom, userRoom, type ClientToServerEvents, type InterServerEvents, type ServerToClientEvents, type SocketData } from './events';
import type { Presence } from './presence';
import type { TypingState } from './typing';

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface GatewayDeps {
  chat: ChatService;
  verify: TokenVerifier;
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
}

const TYPING_MIN_INTERVAL_MS = 500;

/**
 * Wires every Socket.IO handler in one place. Each reads: validate → call the chat service →
 * acknowledge → (the service's events) broadcast.
 */
export function attachGateway(io: ChatServer, deps: GatewayDeps): ChatEvents {
  io.use(async (socket, next) => {
    try {
      deps.maintenance.assertOpen();
      const token = typeof socket.handshake.auth?.token === 'string' ? socket.handshake.auth.token : undefined;
      const principal = await deps.verify(token);
      socket.data.userId = principal.userId;
      socket.data.requestId = randomUUID();
      next();
    } catch (error) {
      const appError = toAppError(error);
      const err = new Error(appError.message) as Error & { data?: unknown };
      err.data = appError.toProblem();
      next(err);
    }
  });

  io.on('membership_left', (event) => deps.chat.forgetMembership(event.conversationId, event.userId));

  io.on('connection', (socket: ChatSocket) => {
    const { userId } = socket.data;
    const log = deps.logger.child({ socketId: socket.id, requestId: socket.data.requestId, userId });
    deps.metrics.socketConnections.inc();
    deps.metrics.socketConnects.inc();
    void socket.join(userRoom(userId));
    void deps.presence.connected(userId).catch(() => undefined);
    const lastTyping = new Map<string, number>();

    /** Runs one event: never throws, always answers an ack with the result or `{ error }`. */
    const handle = <P, R>(event: string, fn: (payload: P) => Promise<R>) =>
      async (payload: P, ack?: unknown) => {
        const reply = typeof ack === 'function' ? (ack as (r: unknown) => void) : typeof payload === 'function' ? (payload as (r: unknown) => void) : undefined;
        deps.inFlight.begin();
        try {
          if (deps.refusingEvents()) throw new AppError('unavailable', 'This instance is shutting down; retry after reconnecting.', { retryAfter: 1 });
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

    socket.on('join_conversation', handle('join_conversation', async (payload) => {
      const { conversationId } = parseInput(conversationRefSchema, payload);
      const position = await deps.chat.conversations.position(userId, conversationId);
      await socket.join(conversationRoom(conversationId));
      socket.to(conversationRoom(conversationId)).emit('user_online', { conversationId, userId });
      const typing = await deps.typing.list(conversationId).catch(() => []);
      return { conversationId, ...position, typing: typing.filter((u) => u !== userId) };
    }));

    socket.on('leave_conversation', handle('leave_conversation', async (payload) => {
      const { conversationId } = parseInput(conversationRefSchema, payload);
      await socket.leave(conversationRoom(conversationId));
      return { conversationId };
    }));

    socket.on('send_message', handle('send_message', async (payload) => {
      const { conversationId, ...body } = (payload ?? {}) as { conversationId?: unknown };
      if (typeof conversationId !== 'string') throw new AppError('validation_failed', 'conversationId is required', { errors: [{ path: 'conversationId', message: 'required string' }] });
      const { message, created } = await deps.chat.messages.send(userId, conversationId, body);
      deps.metrics.messages.inc({ transport: 'socket', outcome: created ? 'created' : 'duplicate' });
      return { ...message, duplicate: !created };
    }));

    socket.on('mark_read', handle('mark_read', async (payload) => {
      const { conversationId, seq } = parseInput(socketMarkReadSchema, payload);
      return deps.chat.messages.markRead(userId, conversationId, { seq });
    }));

    const typing = (typingNow: boolean) => handle(typingNow ? 'typing_start' : 'typing_stop', async (payload) => {
      const { conversationId } = parseInput(conversationRefSchema, payload);
      const room = conversationRoom(conversationId);
      if (!socket.rooms.has(room)) throw new AppError('forbidden', 'Join the conversation before sending typing events.');
      const last = lastTyping.get(conversationId) ?? 0;
      // Typing is droppable: beyond one event per interval we answer ok and relay nothing.
      if (!typingNow || Date.now() - last >= TYPING_MIN_INTERVAL_MS) {
        lastTyping.set(conversationId, Date.now());
        socket.to(room).emit('user_typing', { conversationId, userId, typing: typingNow });
        await (typingNow ? deps.typing.start(conversationId, userId) : deps.typing.stop(conversationId, userId)).catch(() => undefined);
      }
      return { ok: true as const };
    });
    socket.on('typing_start', typing(true));
    socket.on('typing_stop', typing(false));

    socket.on('heartbeat', handle('heartbeat', async () => {
      await deps.presence.refresh(userId).catch(() => undefined);
      return { serverTime: new Date().toISOString() };
    }));

    socket.on('disconnecting', () => {
      const rooms = [...socket.rooms].filter((r) => r.startsWith('conv:'));
      void deps.presence.disconnected(userId).then((offline) => {
        if (!offline) return;
        for (const room of rooms) io.to(room).emit('user_offline', { conversationId: room.slice(5), userId });
      }).catch(() => undefined);
    });
    socket.on('disconnect', (reason) => {
      deps.metrics.socketConnections.dec();
      deps.metrics.socketDisconnects.inc({ reason });
    });
  });

  return {
    messageCreated(message, acceptedAt) {
      io.to(conversationRoom(message.conversationId)).emit('message_received', message);
      deps.metrics.messageDeliveryDuration.observe((performance.now() - acceptedAt) / 1000);
    },
    readMoved(event) {
      io.to(conversationRoom(event.conversationId)).emit('message_read', event);
    },
    membershipChanged(event) {
      if (event.change !== 'left') return;
      io.in(userRoom(event.userId)).socketsLeave(conversationRoom(event.conversationId));
      if (deps.clustered) io.serverSideEmit('membership_left', { conversationId: event.conversationId, userId: event.userId });
    },
  };
}
