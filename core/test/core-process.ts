import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChild, type Child } from '../../ops/process';
import { repoRoot } from '../../ops/services/paths';
import { freePort } from '../../ops/services/ports';
import { signLocalToken, tokenSettingsFrom } from '../src/auth/tokens';
import { loadConfig, type Config } from '../src/config';
import { openTestSocket, requestAs, sleep, testServicesEnv, uniqueDbName, type ClientSocket } from './harness';

/**
 * A real core as a separate OS process: the process entry (`core/src/main.ts`, run by tsx as
 * `npm start` and the crash drill do), its own pid, event loop, MongoDB pool and Redis clients, on
 * free loopback ports (public and METRICS_PORT). Multi-instance tests (issue 21) run two or more of
 * these on one MongoDB and one Redis and judge by what the database holds and what each client got.
 *
 * Started through the ops process layer (ops/process/daemon.ts `startChild`): its own process group,
 * SIGTERM from the kernel if the test worker dies (setpriv --pdeathsig), recorded in the registry so
 * a killed run's cores are swept by the next. `stop()` sends SIGTERM, then SIGKILL after the grace;
 * `kill()` is SIGKILL at once (the crash case). Every started core is also stopped by
 * {@link stopAllCoreProcesses} (call it in afterAll) so a failed test leaves nothing running.
 */
export interface CoreProcess {
  url: string;
  port: number;
  metricsUrl: string;
  pid: number;
  logFile: string;
  /** The configuration the child was given (parsed here from the same environment). */
  config: Config;
  env: Record<string, string>;
  token(userId: string, ttlSeconds?: number): Promise<string>;
  api(userId: string | null, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** A socket for userId (connected unless autoConnect is false); `token` replaces the default one-hour token. */
  socket(userId: string, options?: { autoConnect?: boolean; token?: string }): Promise<ClientSocket>;
  /** How the process ended, or undefined while it runs. */
  exitStatus(): string | undefined;
  /** SIGTERM, SIGKILL after graceMs; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now (no drain): what a crash or an OOM kill looks like. */
  kill(): Promise<void>;
}

const running = new Set<CoreProcess>();

/** Stops every core process this test file started (afterAll; safe to call twice). */
export async function stopAllCoreProcesses(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

function tail(file: string, lines = 25): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  } catch {
    return '';
  }
}

export interface CoreProcessOptions {
  /** Use the test run's Redis (REDIS_URL) unless env sets its own. */
  redis?: boolean;
  /** Database name (share it between instances); a fresh one otherwise. */
  db?: string;
  /** Name in logs and the process registry. */
  name?: string;
  readyTimeoutMs?: number;
}

/**
 * Starts `core/src/main.ts` in a child process against the test services and waits for GET /ready.
 * The ports are asked from the kernel and then bound by the child a moment later; another process of
 * the parallel suite can take one in between (seen in a clean-clone rehearsal: EADDRINUSE). Then it
 * starts again on new ports, unless the caller chose the ports (a restart on the same address).
 */
export async function startCoreProcess(env: Record<string, string> = {}, options: CoreProcessOptions = {}): Promise<CoreProcess> {
  const portsChosen = env.PORT !== undefined || env.METRICS_PORT !== undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCoreProcessOnce(env, options);
    } catch (error) {
      if (portsChosen || attempt >= 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

class PortTakenError extends Error {}

async function startCoreProcessOnce(env: Record<string, string>, options: CoreProcessOptions): Promise<CoreProcess> {
  const services = testServicesEnv();
  const [port, metricsPort] = [await freePort(), await freePort()];
  const name = options.name ?? `core-${port}`;
  const childEnv: Record<string, string> = {
    APP_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    METRICS_HOST: '127.0.0.1',
    METRICS_PORT: String(metricsPort),
    INSTANCE_ID: name,
    LOG_LEVEL: 'warn',
    MONGODB_URI: services.MONGODB_URI,
    MONGODB_DB: options.db ?? uniqueDbName(),
    RATE_LIMIT_API_PER_MIN: '100000',
    RATE_LIMIT_MESSAGES_PER_MIN: '100000',
    RATE_LIMIT_SOCKET_EVENTS_PER_MIN: '100000',
    SHUTDOWN_DRAIN_MS: '3000',
    JOBS_SCHEDULER_ENABLED: 'false',
    REDIS_URL: options.redis ? services.REDIS_URL : '',
    ...env,
  };
  const config = loadConfig(childEnv);
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-core-')), `${name}.log`);
  const child: Child = startChild({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', 'core/src/main.ts'],
    cwd: repoRoot,
    logFile,
    // Not the jest worker's own settings (NODE_ENV=test, JEST_WORKER_ID): only what a deployment sets.
    env: { ...childEnv, JEST_WORKER_ID: undefined, NODE_OPTIONS: undefined },
  });
  const url = `http://127.0.0.1:${port}`;
  const settings = tokenSettingsFrom(config);
  const token = (userId: string, ttl = 3600) => signLocalToken(settings, userId, ttl);
  const sockets: ClientSocket[] = [];
  const handle: CoreProcess = {
    url,
    port,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    pid: child.pid,
    logFile,
    config,
    env: childEnv,
    token,
    api: (userId, method, p, body, headers = {}) => requestAs(url, token, userId, method, p, body, headers),
    socket: (userId, o = {}) => openTestSocket(url, token, sockets, userId, o),
    exitStatus: () => child.exitStatus(),
    async stop(graceMs = 8_000) {
      for (const s of sockets) s.disconnect();
      await child.stop(graceMs);
      running.delete(handle);
    },
    async kill() {
      // SIGKILL alone (no SIGTERM first: the core must get no chance to drain), to its process group.
      if (child.exitStatus() === undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch { /* already gone */ }
      }
      await child.exited;
      await child.stop(0); // reaps what else the group held (nothing, for a core)
      for (const s of sockets) s.disconnect();
      running.delete(handle);
    },
  };
  running.add(handle);
  const deadline = performance.now() + (options.readyTimeoutMs ?? 90_000);
  for (;;) {
    const ended = child.exitStatus();
    if (ended) {
      running.delete(handle);
      const log = tail(logFile);
      const message = `core ${name} ${ended} before it was ready\n  log: ${logFile}\n${log}`;
      throw /EADDRINUSE/.test(log) ? new PortTakenError(message) : new Error(message);
    }
    try {
      if ((await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) })).ok) return handle;
    } catch { /* not listening yet */ }
    if (performance.now() > deadline) {
      await handle.kill();
      throw new Error(`core ${name} not ready within ${options.readyTimeoutMs ?? 90_000} ms (stopped it)\n  log: ${logFile}\n${tail(logFile)}`);
    }
    await sleep(100);
  }
}
