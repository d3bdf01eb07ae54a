import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { Server } from 'socket.io';
import { createRevocationCache, withRevocationCheck } from './auth/session-revocations';
import { createTokenVerifier, tokenSettingsFrom } from './auth/tokens';
import { createChatService } from './chat/chat-service';
import type { ChatEvents } from './chat/deps';
import type { Config } from './config';
import { createHttpApp } from './http/app';
import { createInternalApp } from './http/internal-app';
import { createInFlight } from './in-flight';
import { createRateLimits } from './limits/rate-limits';
import { startOptionalServices } from './optional-services';
import { createMaintenance } from './maintenance';
import { guardRedisAdapter } from './realtime/adapter-guard';
import { attachGateway, type ChatServer } from './realtime/gateway';
import { createSessionRevocation, type SessionRevocation } from './realtime/session-revocation';
import { memoryPresence, presenceTtlMs, redisPresence } from './realtime/presence';
import { connectRedis } from './realtime/redis-clients';
import { memoryTyping, redisTyping } from './realtime/typing';
import { conversationsRepository } from './store/conversations-repository';
import { membershipsRepository } from './store/memberships-repository';
import { messagesRepository } from './store/messages-repository';
import { seqsRepository } from './store/seqs-repository';
import { sessionsRepository } from './store/sessions-repository';
import { createSeqSettler } from './chat/seq-settler';
import { openStore } from './store/mongo-store';
import { createLogger, type Logger } from './telemetry/logger';
import { createMetrics } from './telemetry/metrics';
import { createErrorReporter } from './telemetry/sentry';

export interface Core {
  url: string;
  port: number;
  /** The internal listener (metrics, detailed health, admin): never the public port. */
  metricsUrl: string;
  config: Config;
  logger: Logger;
  io: ChatServer;
  httpServer: http.Server;
  /** Graceful stop: refuse new work, finish in-flight acks, move sockets away, close pools. */
  stop(): Promise<void>;
}

/** How long "typing" lasts without a new typing_start (clients send one every few seconds while typing). */
const TYPING_TTL_MS = 6_000;

const withTimeout = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms).unref())]);

/**
 * Composition root: builds every part from the config and starts listening. `now` is the one clock
 * token verification, session deadlines and message timestamps share (tests inject theirs), so a
 * token's exp is judged and its socket's session ended on the same time line.
 */
export async function startCore(config: Config, options: { logger?: Logger; now?: () => Date } = {}): Promise<Core> {
  const now = options.now ?? (() => new Date());
  const version = config.RELEASE_VERSION;
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL, instance: config.INSTANCE_ID, version });
  const metrics = createMetrics({ version, instance: config.INSTANCE_ID });
  const reporter = createErrorReporter({ dsn: config.SENTRY_DSN, release: version, environment: config.APP_ENV, logger });
  const inFlight = createInFlight();
  const startedAt = Date.now();

  const store = await openStore(config.MONGODB_URI, config.MONGODB_DB, {
    poolSize: config.MONGODB_POOL_SIZE,
    timeoutMS: config.MONGODB_TIMEOUT_MS,
    hooks: {
      onCommand: (command, seconds, ok) => metrics.mongoOperationDuration.observe({ command, outcome: ok ? 'ok' : 'error' }, seconds),
      onPoolCheckout: (delta) => metrics.mongoPoolCheckedOut.inc(delta),
    },
  });

  const gatewayRef: { current?: { adapterReconnected(): Promise<void> } } = {};
  const revocationRef: { current?: SessionRevocation } = {};
  const redisClients = config.REDIS_URL
    ? await connectRedis(config.REDIS_URL, logger, {
      commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
      streams: config.CONNECTION_STATE_RECOVERY,
      onAdapterReconnect: () => {
        // Revocation notices sent meanwhile were lost too: re-check every local socket against the record.
        void revocationRef.current?.recheckLocal().catch((error: unknown) => logger.warn({ err: error }, 'revocation re-check after the Redis adapter reconnected failed'));
        void gatewayRef.current?.adapterReconnected().catch((error: unknown) => logger.warn({ err: error }, 'resync after the Redis adapter reconnected failed'));
      },
    })
    : undefined;
  const redis = redisClients?.main;
  const redisSub = redisClients?.sub;

  const maintenance = createMaintenance({
    envOn: config.MAINTENANCE_MODE,
    message: config.MAINTENANCE_MESSAGE,
    retryAfter: config.MAINTENANCE_RETRY_AFTER_S,
    redis,
    onChange: (state) => {
      metrics.maintenanceMode.set(state.on ? 1 : 0);
      logger.info({ maintenance: state }, state.on ? 'maintenance mode on' : 'maintenance mode off');
    },
  });
  await maintenance.start();

  const limits = createRateLimits({
    perMinute: { api: config.RATE_LIMIT_API_PER_MIN, message: config.RATE_LIMIT_MESSAGES_PER_MIN, socket: config.RATE_LIMIT_SOCKET_EVENTS_PER_MIN },
    redis,
    onReject: (scope) => metrics.rateLimitRejections.inc({ scope }),
  });
  // Durable session revocation (realtime/session-revocation.ts): every path that verifies a token
  // (REST, handshake, recovery, renew_token) also refuses one issued at or before the user's
  // sessions were ended; the record is an _id lookup, cached per instance (REVOCATION_CACHE_TTL_MS).
  const sessions = sessionsRepository(store);
  const revocationCache = createRevocationCache({
    endedAt: async (userId) => (await sessions.endedAt(userId))?.getTime(),
    endedAtMany: async (userIds) => new Map([...(await sessions.endedAtMany(userIds))].map(([userId, at]) => [userId, at.getTime()])),
  });
  const verify = withRevocationCheck(createTokenVerifier(tokenSettingsFrom(config), now), revocationCache);

  // The gateway needs the chat service and the chat service reports to the gateway: bind late.
  const sink: { current?: ChatEvents } = {};
  const events: ChatEvents = {
    messageCreated: (message, at) => {
      sink.current?.messageCreated(message, at);
      optional.notifier.notifyMessage(message);
    },
    readMoved: (event) => sink.current?.readMoved(event),
    membershipChanged: async (event) => { await sink.current?.membershipChanged(event); },
    endSessions: (userId, reason) => sink.current?.endSessions(userId, reason),
  };
  const presenceTtl = presenceTtlMs(config.SOCKET_PING_INTERVAL_MS, config.SOCKET_PING_TIMEOUT_MS);
  const presence = redis ? redisPresence(redis, presenceTtl) : memoryPresence(presenceTtl);
  const optional = await startOptionalServices({ config, store, metrics, logger, presence });
  const conversations = conversationsRepository(store);
  const seqs = seqsRepository(store);
  const settler = createSeqSettler({
    conversations,
    seqs,
    settleMs: config.SEQ_SETTLE_MS,
    now,
    onError: (error) => logger.warn({ err: error }, 'seq settler pass failed; retrying on the next tick'),
  });
  settler.start();
  const chat = createChatService({
    attachments: optional.attachments,
    conversations,
    memberships: membershipsRepository(store),
    messages: messagesRepository(store),
    seqs,
    settler,
    seqSettleMs: config.SEQ_SETTLE_MS,
    events,
    limitMessages: (userId) => limits.consume('message', userId),
    maxMessageChars: config.MESSAGE_MAX_CHARS,
    membershipLimits: { groupMaxMembers: config.GROUP_MAX_MEMBERS, membershipsPerUserMax: config.MEMBERSHIPS_PER_USER_MAX },
    maxSendQueue: config.SEND_QUEUE_MAX,
    sendDeadlineMs: config.MONGODB_TIMEOUT_MS,
    observePersist: (seconds) => metrics.messagePersistDuration.observe(seconds),
    now,
  });

  let draining = false;
  let lastRedisUp = true;
  /**
   * Readiness is MongoDB only: without it no message can be stored, so the instance leaves the load
   * balancer. Redis is optional at run time (an outage degrades every instance alike, and a
   * fleet-wide 503 would turn that into a full outage): it is reported, never a reason to be unready.
   */
  const checkDependencies = async () => {
    const checks: Record<string, string> = {};
    const probe = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), 2_000, name);
        checks[name] = 'up';
        metrics.dependencyUp.set({ dependency: name }, 1);
      } catch (error) {
        checks[name] = `down: ${(error as Error).message}`;
        metrics.dependencyUp.set({ dependency: name }, 0);
      }
    };
    await Promise.all([probe('mongodb', () => store.ping()), ...(redis ? [probe('redis', () => redis.ping())] : [])]);
    if (redis) {
      const redisUp = checks.redis === 'up';
      if (redisUp !== lastRedisUp) {
        if (redisUp) logger.info('redis is back: shared rate limits, cross-instance fan-out, typing and presence resume');
        else logger.warn({ check: checks.redis }, 'redis unavailable: degraded (rate limits per instance, no cross-instance fan-out, typing/presence off); still ready');
        lastRedisUp = redisUp;
      }
    }
    // chat_ready follows the periodic check too, so it is current when nothing probes /ready.
    metrics.ready.set(!draining && checks.mongodb === 'up' ? 1 : 0);
    return checks;
  };
  const dependencyTimer = setInterval(() => void checkDependencies(), 5_000);
  dependencyTimer.unref();
  await checkDependencies();

  // Public: what a deploy gate and `ops status` sampling through the ingress need (which instance, which
  // version, draining, maintenance). Load (sockets), uptime and dependency errors stay internal.
  const health = () => ({ status: 'ok', instance: config.INSTANCE_ID, version, draining, maintenance: maintenance.current() });
  const readiness = async () => {
    const checks = await checkDependencies();
    const down = Object.entries(checks).filter(([, v]) => v !== 'up').map(([k]) => k);
    // Only MongoDB gates readiness: without Redis an instance still stores and delivers locally, and a
    // fleet-wide 503 on a Redis outage would be a full outage behind the load balancer (README).
    const ready = !draining && checks.mongodb === 'up';
    const degraded = down.filter((k) => k !== 'mongodb');
    return { ready, body: { ready, instance: config.INSTANCE_ID, version, draining, checks, ...(down.length ? { down } : {}), ...(degraded.length ? { degraded } : {}) } };
  };
  const internalServer = http.createServer(createInternalApp({
    metrics,
    reporter,
    healthDetails: () => ({ ...health(), uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), sockets: io.engine.clientsCount }),
    readiness,
    endSessions: (userId) => {
      if (!revocationRef.current) throw new Error('the realtime layer is not attached yet');
      return revocationRef.current.revoke(userId);
    },
  }));

  const app = createHttpApp({
    chat,
    attachments: optional.attachments,
    verify,
    limits,
    maintenance,
    metrics,
    logger,
    reporter,
    inFlight,
    corsOrigins: config.CORS_ORIGINS,
    bodyLimitBytes: config.HTTP_BODY_LIMIT_BYTES,
    webClientDir: config.WEB_CLIENT_DIR,
    storageOrigin: optional.storageOrigin,
    apiDocs: config.API_DOCS,
    health,
    readiness,
  });

  const httpServer = http.createServer(app);
  httpServer.keepAliveTimeout = 65_000;
  if (redis && redisSub && !redisClients?.streams) guardRedisAdapter(logger);
  const io: ChatServer = new Server(httpServer, {
    maxHttpBufferSize: config.SOCKET_MAX_BUFFER_BYTES,
    pingInterval: config.SOCKET_PING_INTERVAL_MS,
    pingTimeout: config.SOCKET_PING_TIMEOUT_MS,
    cors: { origin: config.CORS_ORIGINS.length ? config.CORS_ORIGINS : false },
    ...(config.CONNECTION_STATE_RECOVERY ? { connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: false } } : {}),
    ...(redis && redisSub ? { adapter: redisClients.streams ? createStreamsAdapter(redisClients.streams) : createAdapter(redis, redisSub) } : {}),
  });
  let refusingEvents = false;
  sink.current = gatewayRef.current = attachGateway(io, {
    chat,
    verify,
    revocations: revocationCache,
    clockToleranceS: config.JWT_CLOCK_TOLERANCE_S,
    limits,
    maintenance,
    presence,
    typing: redis ? redisTyping(redis, TYPING_TTL_MS) : memoryTyping(TYPING_TTL_MS),
    metrics,
    logger,
    reporter,
    inFlight,
    refusingEvents: () => refusingEvents,
    clustered: Boolean(redis),
    now: () => now().getTime(),
  });
  revocationRef.current = createSessionRevocation(io, {
    repository: sessions,
    cache: revocationCache,
    instanceId: config.INSTANCE_ID,
    clustered: Boolean(redis),
    logger,
    now: () => now().getTime(),
  });
  revocationRef.current.start();

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.PORT, config.HOST, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const reachable = (h: string) => (h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h);
  const url = `http://${reachable(config.HOST)}:${port}`;
  await new Promise<void>((resolve, reject) => {
    internalServer.once('error', reject);
    internalServer.listen(config.METRICS_PORT, config.METRICS_HOST, () => resolve());
  });
  const metricsUrl = `http://${reachable(config.METRICS_HOST)}:${(internalServer.address() as AddressInfo).port}`;
  metrics.ready.set(1);
  logger.info({ url, metricsUrl, mongodb: config.MONGODB_DB, redis: Boolean(redis), maintenance: maintenance.current().on }, 'switchboard core listening');

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const deadline = Date.now() + config.SHUTDOWN_DRAIN_MS;
      draining = true;
      metrics.ready.set(0);
      logger.info({ inFlight: inFlight.count, sockets: io.engine.clientsCount }, 'draining: refusing new connections');
      httpServer.close();
      httpServer.closeIdleConnections();
      const settled = await inFlight.idle(Math.max(0, deadline - Date.now()));
      // Sockets are told to reconnect (to another instance) by closing their transport; a
      // server-side disconnect() would tell the client not to reconnect.
      refusingEvents = true;
      io.emit('server_shutdown', { reconnect: true, message: 'This instance is shutting down; reconnecting.' });
      for (const socket of io.of('/').sockets.values()) socket.conn.close();
      await inFlight.idle(Math.max(0, deadline - Date.now()));
      // A transport closes once its write buffer drained (the notice above included); io.close()
      // would discard what is still buffered, so give them until the deadline.
      while (io.engine.clientsCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // io.close() ends with httpServer.close(), which waits for every open connection: close them
      // right away, and never wait on any single step longer than its bound (a dead dependency
      // must not keep the process alive past its drain budget).
      const ioClosed = new Promise<void>((resolve) => io.close(() => resolve()));
      httpServer.closeAllConnections();
      await withTimeout(ioClosed, 2_000, 'closing Socket.IO').catch(() => undefined);
      clearInterval(dependencyTimer);
      await withTimeout(settler.stop(), 2_000, 'stopping the seq settler').catch(() => undefined);
      await withTimeout(revocationRef.current?.stop() ?? Promise.resolve(), 2_000, 'leaving the instance registry').catch(() => undefined);
      maintenance.stop();
      await withTimeout(optional.stop(), 3_000, 'stopping jobs and notifications').catch((error: Error) => logger.warn({ err: error.message }, 'shutdown step timed out'));
      await Promise.allSettled([withTimeout(store.close(), 3_000, 'closing MongoDB'), redisClients && withTimeout(redisClients.close(), 2_000, 'closing Redis'), reporter.flush(2_000)]);
      internalServer.closeAllConnections();
      await withTimeout(new Promise<void>((resolve) => internalServer.close(() => resolve())), 1_000, 'closing the internal listener').catch(() => undefined);
      logger.info({ drainedCleanly: settled }, 'stopped');
    })();
    return stopping;
  };

  return { url, port, metricsUrl, config, logger, io, httpServer, stop };
}
