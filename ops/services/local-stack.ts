import { startMongo, type MongoOptions } from './mongo';
import { startRedis } from './redis';
import type { RunningService } from './service-process';

export interface LocalStackOptions {
  mongo: MongoOptions['storage'];
  redis: boolean;
  logDir?: string;
}

export interface LocalStack {
  services: RunningService[];
  /** Environment variables a core process needs to reach these services. */
  env: { MONGODB_URI: string; REDIS_URL?: string };
  stop(): Promise<void>;
}

/** The one way `npm start`, the tests, `ops` and the load tests get their local services. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const started: RunningService[] = [];
  const stop = async () => {
    await Promise.allSettled(started.reverse().map((s) => s.stop()));
  };
  try {
    const mongo = await startMongo({ storage: options.mongo, logDir: options.logDir });
    started.push(mongo);
    log(`${mongo.name} at ${mongo.address}`);
    const env: LocalStack['env'] = { MONGODB_URI: mongo.address };
    if (options.redis) {
      const redis = await startRedis({ logDir: options.logDir });
      started.push(redis);
      log(`${redis.name} at ${redis.address}`);
      env.REDIS_URL = redis.address;
    }
    return { services: [...started], env, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function log(line: string): void {
  if (process.env.SWITCHBOARD_QUIET_SERVICES !== '1') console.error(`[services] started ${line}`);
}
