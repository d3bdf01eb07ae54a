import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../ops/services/ports';
import { repoRoot } from '../../../ops/services/paths';
import { signLocalToken, tokenSettingsFrom } from '../../src/auth/tokens';
import { loadConfig } from '../../src/config';
import { sleep, testServicesEnv, uniqueDbName } from '../harness';
import { expectNoLoss, runScenario } from './fault-load';

/**
 * The core as a child process, SIGKILLed under send load (a batch is always in flight at 100 msg/s)
 * and started again on the same port: clients reconnect and retry; nothing acknowledged is lost.
 */
const users = ['tara', 'ugo', 'vera', 'wim', 'xia', 'yann'];
const dbName = uniqueDbName();
const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-crash-')), 'core.log');
let port: number;
let child: ChildProcess | undefined;

async function startCoreProcess(): Promise<ChildProcess> {
  const log = fs.openSync(logFile, 'a');
  const proc = spawn(process.execPath, ['--import', 'tsx', 'core/src/main.ts'], {
    cwd: repoRoot,
    stdio: ['ignore', log, log],
    env: {
      ...process.env, APP_ENV: 'test', PORT: String(port), METRICS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', MONGODB_URI: testServicesEnv().MONGODB_URI, MONGODB_DB: dbName,
      MONGODB_TIMEOUT_MS: '1500', RATE_LIMIT_API_PER_MIN: '1000000', RATE_LIMIT_MESSAGES_PER_MIN: '1000000', JOBS_SCHEDULER_ENABLED: 'false', REDIS_URL: '',
    },
  });
  fs.closeSync(log);
  const deadline = performance.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`core exited with ${proc.exitCode} (log: ${logFile})`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ready`)).ok) return proc;
    } catch { /* not listening yet */ }
    if (performance.now() > deadline) throw new Error(`core not ready within 60 s (log: ${logFile})`);
    await sleep(100);
  }
}

const kill = (proc: ChildProcess | undefined) => new Promise<void>((resolve) => {
  if (!proc || proc.exitCode !== null || proc.signalCode) return resolve();
  proc.once('exit', () => resolve());
  proc.kill('SIGKILL');
});

beforeAll(async () => {
  port = await freePort();
  child = await startCoreProcess();
}, 90_000);
afterAll(async () => {
  await kill(child);
});

it('core SIGKILL during a batch, restarted on the same port: nothing acked is lost or doubled, service back within 10 s', async () => {
  const settings = tokenSettingsFrom(loadConfig({ APP_ENV: 'test', MONGODB_URI: 'mongodb://127.0.0.1' }));
  const url = `http://127.0.0.1:${port}`;
  const api = async (userId: string, method: string, p: string, body?: unknown) => {
    const res = await fetch(`${url}${p}`, { method, headers: { authorization: `Bearer ${await signLocalToken(settings, userId, 3600)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  let restartMs = 0;
  const counts = await runScenario({
    name: 'core SIGKILL', url, api, users, db: { uri: testServicesEnv().MONGODB_URI, name: dbName }, answerDeadlineMs: 5_000, faultMs: 0,
    fault: async () => {
      await kill(child);
      const started = performance.now();
      child = await startCoreProcess();
      restartMs = Math.round(performance.now() - started);
      return { remove: async () => undefined };
    },
  });
  console.log(`[fault] core SIGKILL: restart took ${restartMs} ms (recoveryMs counts from the restarted core being ready)`);
  // Sends buffered by a disconnected client may time out on the client side: the server was dead.
  // Broadcasts in the killed process's socket buffers are gone (an HTTP sender's ack came back, so
  // nothing re-broadcasts it): receivers find those through gap repair (afterSeq), like any gap.
  expectNoLoss(counts, { allowUnanswered: true, allowNotBroadcast: true, recoveryWithinMs: 10_000 });
}, 120_000);
