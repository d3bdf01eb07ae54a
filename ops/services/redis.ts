import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { varDir } from './paths';
import { freePort, waitForPort } from './ports';
import { spawnService, type RunningService } from './service-process';
import { requireCommand } from './system-packages';

/** A Redis endpoint: REDIS_URL when set, otherwise a throwaway redis-server on a free loopback port. */
export async function startRedis(options: { logDir?: string } = {}): Promise<RunningService> {
  const external = process.env.REDIS_URL;
  if (external) return { name: 'redis (external, REDIS_URL)', address: external, stop: async () => undefined };
  const redisServer = requireCommand('redis-server');
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-redis-'));
  const service = await spawnService({
    name: 'redis-server',
    command: redisServer,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
    logFile: path.join(options.logDir ?? path.join(varDir, 'log'), `redis-${port}.log`),
    waitReady: () => waitForPort(port, 15_000),
    address: `redis://127.0.0.1:${port}`,
  });
  return {
    ...service,
    async stop() {
      await service.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
