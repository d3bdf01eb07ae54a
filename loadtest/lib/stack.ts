import { randomBytes } from 'node:crypto';
import { signLocalToken, tokenSettingsFrom } from '../../core/src/auth/tokens';
import { loadConfig } from '../../core/src/config';
import { coreNodeFlags } from '../../core/src/runtime-flags';
import { startLocalStack, type LocalStack } from '../../ops/services/local-stack';
import path from 'node:path';
import { compileTree } from '../../ops/build/compile';
import { freePort } from '../../ops/services/ports';
import { pidListeningOn, repoRoot, spawnServer, type ServerProcess } from './processes';

/** The core as production runs it: compiled to JavaScript once (ops/build/compile.ts), beside this run's other files. */
function compiledCore(): string {
  const outDir = path.join(repoRoot, 'var', 'loadtest', 'compiled');
  compileTree(repoRoot, outDir, ['core/src']);
  return path.join(outDir, 'core', 'src', 'main.js');
}

export interface SystemUnderTest {
  /** metricsUrl: the core's Prometheus endpoint (its database operations per request and message). */
  core: { url: string; process?: ServerProcess; metricsUrl?: string };
  /** Pids whose CPU share is recorded per scenario (core, MongoDB-compatible server). */
  pids: Record<string, number | undefined>;
  bareExpress: ServerProcess;
  bareRelay: ServerProcess;
  token(userId: string): Promise<string>;
  describe: Record<string, string>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Target a running core instead of starting one (its JWT settings come from this process's env). */
  url?: string;
  logDir: string;
  injectDelayMs?: number;
  /** LOADTEST_INJECT_CPU_MS for the core: busy CPU per request / inbound message (the gate's regression test). */
  injectCpuMs?: number;
  /** LOADTEST_INJECT_ALLOC_KB for the core: short-lived garbage per request / inbound message (the allocation lines' test). */
  injectAllocKb?: number;
  /** Extra environment for the core (e.g. a pool size to try). */
  coreEnv?: Record<string, string>;
  /** `tsx`: core/src/main.ts through the loader (default); `compiled`: the production build (ops/build/compile.ts) with plain node. */
  coreRuntime?: 'tsx' | 'compiled';
  /** Extra node/V8 flags for the core (experiments: --trace-gc, heap sizing); none in production. */
  coreNodeFlags?: string[];
}

/**
 * Starts what a run measures, each in its own process: MongoDB-compatible server (memory), the core
 * (`node --import tsx core/src/main.ts`), the bare Express route and the bare Socket.IO relay.
 */
export async function startSystem(options: StackOptions): Promise<SystemUnderTest> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const metricsPort = await freePort();
    const coreEnv: Record<string, string> = {
      APP_ENV: 'test',
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'warn',
      MONGODB_DB: `loadtest_${randomBytes(4).toString('hex')}`,
      RATE_LIMIT_API_PER_MIN: '1000000',
      RATE_LIMIT_MESSAGES_PER_MIN: '1000000',
      RATE_LIMIT_SOCKET_EVENTS_PER_MIN: '1000000',
      SHUTDOWN_DRAIN_MS: '2000',
      ...(options.injectDelayMs ? { LOADTEST_INJECT_DELAY_MS: String(options.injectDelayMs) } : {}),
      ...(options.injectCpuMs ? { LOADTEST_INJECT_CPU_MS: String(options.injectCpuMs) } : {}),
      ...(options.injectAllocKb ? { LOADTEST_INJECT_ALLOC_KB: String(options.injectAllocKb) } : {}),
      ...options.coreEnv,
    };
    const config = loadConfig({ ...process.env, ...coreEnv, MONGODB_URI: 'mongodb://unused' });
    const settings = tokenSettingsFrom(config);
    const tokens = new Map<string, Promise<string>>();
    const token = (userId: string) => {
      let t = tokens.get(userId);
      if (!t) { t = signLocalToken(settings, userId, 6 * 3600); tokens.set(userId, t); }
      return t;
    };
    const baselineEnv = { LOADTEST_INJECT_DELAY_MS: '', LOADTEST_INJECT_CPU_MS: '', LOADTEST_INJECT_ALLOC_KB: '' };
    const [bareExpress, bareRelay] = await Promise.all([
      spawnServer({ name: 'bare-express', entry: 'loadtest/servers/bare-express.ts', logDir: options.logDir, env: baselineEnv }),
      spawnServer({ name: 'bare-relay', entry: 'loadtest/servers/bare-relay.ts', logDir: options.logDir, env: baselineEnv }),
    ]);
    stops.push(() => bareExpress.stop(), () => bareRelay.stop());
    if (options.url) {
      return { core: { url: options.url.replace(/\/$/, '') }, pids: {}, bareExpress, bareRelay, token, describe: { core: `${options.url} (given with --url)` }, stop };
    }
    let stack: LocalStack;
    const previous = process.env.SWITCHBOARD_QUIET_SERVICES;
    process.env.SWITCHBOARD_QUIET_SERVICES = '1';
    try {
      stack = await startLocalStack({ mongo: 'memory', redis: false, logDir: options.logDir });
    } finally {
      if (previous === undefined) delete process.env.SWITCHBOARD_QUIET_SERVICES;
      else process.env.SWITCHBOARD_QUIET_SERVICES = previous;
    }
    stops.push(() => stack.stop());
    const compiled = options.coreRuntime === 'compiled';
    const entry = compiled ? compiledCore() : 'core/src/main.ts';
    // The production node flags first (core/src/runtime-flags.ts); --core-node-flag adds to or overrides them.
    const core = await spawnServer({ name: 'core', entry, loader: compiled ? 'none' : 'tsx', nodeFlags: [...coreNodeFlags, ...(options.coreNodeFlags ?? [])], logDir: options.logDir, env: { ...coreEnv, MONGODB_URI: stack.env.MONGODB_URI } });
    stops.push(() => core.stop());
    return {
      core: { url: core.url, process: core, metricsUrl: `http://127.0.0.1:${metricsPort}` },
      pids: { core: core.pid, mongo: pidListeningOn(Number(new URL(stack.env.MONGODB_URI).port)) },
      bareExpress,
      bareRelay,
      token,
      describe: { mongo: stack.services.map((s) => s.name).join(', '), core: `${compiled ? `node ${coreNodeFlags.join(' ')} ${path.relative(repoRoot, entry)} (compiled)` : `node ${coreNodeFlags.join(' ')} --import tsx core/src/main.ts`} (pid ${core.pid})`, coreDb: coreEnv.MONGODB_DB! },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
