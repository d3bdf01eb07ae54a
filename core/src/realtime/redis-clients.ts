import Redis from 'ioredis';
import type { Logger } from '../telemetry/logger';

/** Calls the Socket.IO Redis adapter makes without awaiting them (fire-and-forget). */
const fireAndForget = ['publish', 'spublish', 'subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe'] as const;

/**
 * The Redis connections of one instance: commands, and a duplicate for subscriptions. The adapter
 * publishes without handling rejections, so during a Redis outage each of those would be an
 * unhandled rejection; here every such call gets a handler (the caller still sees the error if it
 * awaits), and an outage degrades fan-out instead of crashing the process.
 */
export async function connectRedis(url: string, logger: Logger): Promise<{ main: Redis; sub: Redis; close(): Promise<void> }> {
  // No offline queue: while Redis is away commands fail at once (rate limits fall back to memory,
  // readiness reports it) instead of piling up behind reconnects.
  const main = new Redis(url, { maxRetriesPerRequest: 2, connectTimeout: 5_000, lazyConnect: true, enableOfflineQueue: false });
  const sub = main.duplicate();
  for (const [name, client] of [['redis', main], ['redis subscriber', sub]] as const) {
    client.on('error', (error: Error) => logger.warn({ err: error.message }, `${name} error`));
    for (const method of fireAndForget) {
      const original = (client[method] as (...args: unknown[]) => Promise<unknown>).bind(client);
      (client as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        const result = original(...args);
        result.catch((error: Error) => logger.warn({ err: error.message, command: method }, `${name} command failed`));
        return result;
      };
    }
  }
  await Promise.all([main.connect(), sub.connect()]);
  return {
    main,
    sub,
    async close() {
      await Promise.allSettled([main, sub].map((client) => (client.status === 'ready' ? client.quit() : client.disconnect())));
    },
  };
}
