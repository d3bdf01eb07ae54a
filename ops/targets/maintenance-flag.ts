import Redis from 'ioredis';
import { MAINTENANCE_KEY } from '../../core/src/maintenance';

export interface MaintenanceFlag {
  message: string;
  retryAfter: number;
  since: string;
}

/** The core's maintenance flag in Redis (every instance polls it each second). */
export async function withRedis<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    // Not after a failed connect (status `end`): ioredis' disconnect() then arms a 2 s timer for a stream
    // that has already closed and never clears it, so every command that met an unreachable Redis
    // lingered 2 s before exiting (ioredis 6.0.0, AbstractConnector.disconnect).
    if (redis.status !== 'end') redis.disconnect();
  }
}

export async function readFlag(url: string): Promise<MaintenanceFlag | undefined> {
  return withRedis(url, async (redis) => {
    const raw = await redis.get(MAINTENANCE_KEY);
    return raw ? (JSON.parse(raw) as MaintenanceFlag) : undefined;
  });
}

export async function writeFlag(url: string, flag: MaintenanceFlag | undefined): Promise<void> {
  await withRedis(url, async (redis) => {
    if (flag) await redis.set(MAINTENANCE_KEY, JSON.stringify(flag));
    else await redis.del(MAINTENANCE_KEY);
  });
}
