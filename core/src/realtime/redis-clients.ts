import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from '../telemetry/logger';

/** Calls the Socket.IO Redis adapters make without awaiting them (fire-and-forget). */
const fireAndForget = ['publish', 'spublish', 'subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe', 'set'] as const;

/** The streams adapter's XREAD blocks this long (its default); its connection may stay silent that long. */
const STREAMS_BLOCK_MS = 5_000;
/** At most one "command failed" line per client per this interval: an outage must not flood the log. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

export interface RedisClients {
  /** Commands: rate limits, presence, typing, maintenance flag, the pub/sub adapter's publishes. */
  main: Redis;
  /** Subscriptions of the pub/sub adapter. */
  sub: Redis;
  /**
   * The Streams adapter's own connection (CONNECTION_STATE_RECOVERY): its XADDs do not queue behind
   * rate-limit and presence commands, and the XREAD loop runs on duplicates of it (see below).
   */
  streams?: Redis;
  close(): Promise<void>;
}

/**
 * The Redis connections of one instance. Redis is optional at run time: every command has a
 * deadline (REDIS_COMMAND_TIMEOUT_MS) and a connection that stops answering is dropped and
 * reconnected (socketTimeout), so a partition costs at most that long per command; callers then
 * degrade (rate limits fall back to memory, presence/typing are skipped, broadcasts stay local).
 * The adapters publish without handling rejections, so every such call gets a handler here (the
 * caller still sees the error if it awaits) and an outage never crashes the process.
 */
export async function connectRedis(url: string, logger: Logger, options: { commandTimeoutMs: number; streams?: boolean; onAdapterReconnect?: () => void } = { commandTimeoutMs: 1_000 }): Promise<RedisClients> {
  const timeout = options.commandTimeoutMs;
  // No offline queue: while Redis is away commands fail at once instead of piling up behind reconnects.
  const base: RedisOptions = { maxRetriesPerRequest: 1, connectTimeout: 5_000, lazyConnect: true, enableOfflineQueue: false, commandTimeout: timeout, socketTimeout: timeout };
  const clients: Redis[] = [];
  const lastFailureLog = new Map<string, number>();
  const instrument = (name: string, client: Redis) => {
    clients.push(client);
    client.on('error', (error: Error) => logLimited(name, () => logger.warn({ err: error.message }, `${name} error`)));
    for (const method of fireAndForget) {
      const original = (client[method] as (...args: unknown[]) => Promise<unknown>).bind(client);
      (client as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        const result = original(...args);
        result.catch((error: Error) => logLimited(name, () => logger.warn({ err: error.message, command: method }, `${name} command failed`)));
        return result;
      };
    }
    return client;
  };
  const logLimited = (name: string, log: () => void) => {
    const now = Date.now();
    if (now - (lastFailureLog.get(name) ?? 0) < FAILURE_LOG_INTERVAL_MS) return;
    lastFailureLog.set(name, now);
    log();
  };
  const main = instrument('redis', new Redis(url, base));
  const sub = instrument('redis subscriber', new Redis(url, base));
  let streams: Redis | undefined;
  if (options.streams) {
    streams = instrument('redis streams', new Redis(url, base));
    // The adapter reads with XREAD BLOCK in a loop on duplicates of this client. Those keep an
    // offline queue, so while Redis is away an XREAD waits for the reconnect (at the retry
    // strategy's pace) instead of failing at once and spinning the event loop; their silence
    // deadline allows for the block time.
    const readerOptions: RedisOptions = { ...base, enableOfflineQueue: true, commandTimeout: undefined, socketTimeout: STREAMS_BLOCK_MS + timeout };
    streams.duplicate = (override?: Partial<RedisOptions>) => instrument('redis streams reader', new Redis(url, { ...readerOptions, ...override }));
  }
  await Promise.all([main.connect(), sub.connect(), streams?.connect()]);
  // The adapter's receiving connection came back after a drop: what other instances published
  // meanwhile is lost (pub/sub) — the gateway re-checks rooms and sends conversation_resync.
  const receiving = streams ?? sub;
  let dropped = false;
  receiving.on('close', () => { dropped = true; });
  receiving.on('ready', () => {
    if (!dropped) return;
    dropped = false;
    options.onAdapterReconnect?.();
  });
  return {
    main,
    sub,
    streams,
    async close() {
      await Promise.allSettled(clients.map((client) => (client.status === 'ready' ? client.quit() : Promise.resolve(client.disconnect()))));
    },
  };
}
