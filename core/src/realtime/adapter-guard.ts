import { RedisAdapter } from '@socket.io/redis-adapter';
import type { Logger } from '../telemetry/logger';

/** At most one log line per this interval: a stream of bad messages must not flood the log. */
const LOG_INTERVAL_MS = 10_000;

let guardedBy: { logger: Logger; lastLog: number } | undefined;

/**
 * The pub/sub adapter decodes every message on its channels inside ioredis' data handler, with no
 * error handling: one message that is not its own msgpack frame (another publisher on the same
 * channel prefix, a frame cut by a reconnect) throws "args is not iterable" out of the socket's
 * 'data' event and takes the whole process down (seen under Redis resets in the fault suite). A
 * bad frame must cost that frame only, so both handlers are wrapped once, on the prototype, before
 * any adapter binds them in its constructor. Why a patch and not a subclass: `createAdapter`
 * constructs `RedisAdapter` itself, and its handlers are bound per instance at construction.
 */
export function guardRedisAdapter(logger: Logger): void {
  if (guardedBy) {
    guardedBy.logger = logger;
    return;
  }
  guardedBy = { logger, lastLog: 0 };
  const proto = RedisAdapter.prototype as unknown as Record<'onmessage' | 'onrequest', (...args: unknown[]) => unknown>;
  for (const name of ['onmessage', 'onrequest'] as const) {
    const original = proto[name]!;
    proto[name] = function guarded(this: unknown, ...args: unknown[]) {
      try {
        const result = original.apply(this, args);
        if (result instanceof Promise) return result.catch((error: unknown) => dropped(name, error));
        return result;
      } catch (error) {
        return dropped(name, error);
      }
    };
  }
}

function dropped(handler: string, error: unknown): undefined {
  const guard = guardedBy!;
  const now = Date.now();
  if (now - guard.lastLog >= LOG_INTERVAL_MS) {
    guard.lastLog = now;
    guard.logger.warn({ err: (error as Error)?.message, handler }, 'dropped a Redis adapter message that could not be decoded');
  }
  return undefined;
}
