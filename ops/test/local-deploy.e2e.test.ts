// spawn, not the process layer: this test sends SIGINT to the real `ops` executable and reads its exit code.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io as connect } from 'socket.io-client';
import { signLocalToken, tokenSettingsFrom } from '../../core/src/auth/tokens';
import { loadConfig } from '../../core/src/config';
import { testNginxConfig } from '../services/nginx';
import { freePort } from '../services/ports';
import { runSync } from '../process';
import { requirePythonTool } from '../services/python-tools';
import { startRedis } from '../services/redis';
import type { RunningService } from '../services/service-process';
import { readAudit } from '../state/audit-log';
import { lockFile } from '../state/lock';
import { listReleases } from '../state/releases';
import { isOurs } from '../targets/local/processes';
import type { LocalState } from '../targets/local/local-target';
import { runOps, sleep } from './helpers';
import { startTraffic } from './traffic';

/**
 * The local target end to end: real core processes from release builds, behind a real nginx, on the
 * test MongoDB (own database) and a Redis of its own (the maintenance flag is a global key, so this file
 * must not share Redis with core tests running in parallel).
 */
jest.setTimeout(120_000);

let redis: RunningService;
let stateDir: string;
let env: NodeJS.ProcessEnv;
let frontDoor: string;
const stateFile = () => JSON.parse(fs.readFileSync(path.join(stateDir, 'local', 'target.json'), 'utf8')) as LocalState;
const health = async () => (await (await fetch(`${frontDoor}/health`, { headers: { connection: 'close' } })).json()) as { version: string; maintenance: { on: boolean } };
const versionOf = (id: string) => {
  const r = listReleases(stateDir, 'local').find((x) => x.id === id)!;
  return `${r.artifact}-${r.version}`;
};
let token: (user: string) => Promise<string>;

beforeAll(async () => {
  const mongo = process.env.TEST_MONGODB_URI;
  if (!mongo) throw new Error('run through jest: the global setup starts MongoDB (TEST_MONGODB_URI)');
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-ops-e2e-'));
  redis = await startRedis({ logDir: path.join(stateDir, 'redis-logs') });
  const port = await freePort();
  frontDoor = `http://127.0.0.1:${port}`;
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    OPS_STATE_DIR: stateDir,
    OPS_LOCAL_PORT: String(port),
    OPS_USER: 'alice',
    OPS_READY_TIMEOUT: '20s',
    MONGODB_URI: mongo,
    MONGODB_DB: `ops_e2e_${process.pid}`,
    REDIS_URL: redis.address,
    SHUTDOWN_DRAIN_MS: '2000',
    RATE_LIMIT_API_PER_MIN: '1000000',
    RATE_LIMIT_MESSAGES_PER_MIN: '1000000',
    RATE_LIMIT_SOCKET_EVENTS_PER_MIN: '1000000',
    LOG_LEVEL: 'warn',
    // The expensive items (and the audit endpoint this machine lacks) are ops/preflight's own tests; the rest run.
    OPS_SKIP_PREFLIGHT: 'typecheck,lint,tests,audit',
  };
  const settings = tokenSettingsFrom(loadConfig({ APP_ENV: 'test', MONGODB_URI: mongo }));
  token = (user) => signLocalToken(settings, user, 600);
});

afterAll(async () => {
  if (stateDir) {
    await runOps(['stop'], env).catch(() => undefined);
    // Belt and braces: whatever the state file still names, if it is ours, is killed.
    try {
      const state = stateFile();
      for (const p of [...state.running, ...(state.nginx ? [state.nginx] : [])]) if (isOurs(p)) process.kill(p.pid, 'SIGKILL');
    } catch {
      // no state file: nothing was started
    }
  }
  await redis?.stop();
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
});

test('deploy v1: builds a release, starts instances, puts nginx in front; the generated config passes nginx -t and gixy', async () => {
  const run = await runOps(['deploy', '-m', 'first release', '--json'], env);
  expect(run.stderr).toContain('✓ health gate');
  expect(run.code).toBe(0);
  const result = JSON.parse(run.stdout) as { release: { id: string; status: string; cutoverMs: number; preflight?: { ok: boolean }; verify?: { ok: boolean; checks: { name: string; ok: boolean }[] } } };
  expect(result.release).toMatchObject({ id: 'v1', status: 'succeeded' });
  // The deploy ran the preflight first and ops verify (through nginx, /metrics on each instance) after the switch.
  expect(result.release.preflight?.ok).toBe(true);
  expect(result.release.verify?.checks.filter((c) => !c.ok)).toEqual([]);
  expect(result.release.verify?.checks.length).toBeGreaterThan(10);
  expect((await health()).version).toBe(versionOf('v1'));
  const build = path.join(stateDir, 'local', 'releases', 'v1', 'build');
  expect(fs.existsSync(path.join(build, 'core', 'src', 'main.ts'))).toBe(true);
  // Compiled once at build time: instances run plain JavaScript, no TypeScript loader.
  expect(fs.readFileSync(path.join(build, 'core', 'src', 'main.js'), 'utf8')).toContain('runCore');
  expect(fs.statSync(path.join(build, 'core', 'src', 'main.ts')).mode & 0o222).toBe(0);

  const conf = path.join(stateDir, 'local', 'nginx', 'nginx.conf');
  expect(() => testNginxConfig(conf)).not.toThrow();
  const gixy = runSync(requirePythonTool('gixy'), [conf], { timeoutMs: 60_000 }).stdout;
  expect(gixy).toMatch(/High: 0/);
  expect(gixy).toMatch(/Medium: 0/);

  const status = await runOps(['status', '--json'], env);
  expect(status.code).toBe(0);
  const report = JSON.parse(status.stdout) as { url: string; healthy: boolean; instances: { ready: boolean }[] };
  expect(report).toMatchObject({ url: frontDoor, healthy: true });
  expect(report.instances).toHaveLength(2);
});

test('deploy v2 under continuous HTTP and socket traffic: zero failed requests, zero lost acknowledged messages', async () => {
  const alice = await token('alice');
  const bob = await token('bob');
  const created = await fetch(`${frontDoor}/api/conversations`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'group', name: 'deploy traffic', memberIds: ['bob'] }) });
  const conversationId = ((await created.json()) as { id: string }).id;
  const traffic = startTraffic({ url: frontDoor, token: alice, receiverToken: bob, conversationId });
  await traffic.ready();
  await sleep(1_000);
  const oldPids = stateFile().running.map((i) => i.pid);
  const run = await runOps(['deploy', '-m', 'second release', '--json'], env);
  await sleep(1_000);
  const report = await traffic.stop();
  expect(run.code).toBe(0);
  const release = (JSON.parse(run.stdout) as { release: { id: string; cutoverMs: number; durationMs: number } }).release;
  expect(release.id).toBe('v2');
  expect((await health()).version).toBe(versionOf('v2'));
  expect(oldPids.every((pid) => !stateFile().running.some((i) => i.pid === pid))).toBe(true);

  // Every acknowledged message is stored (read back through the front door).
  const stored = new Set<string>();
  let afterSeq = 0;
  for (;;) {
    const page = (await (await fetch(`${frontDoor}/api/conversations/${conversationId}/messages?afterSeq=${afterSeq}&limit=100`, { headers: { authorization: `Bearer ${alice}` } })).json()) as { items: { id: string; seq: number }[]; nextCursor: number | null };
    for (const m of page.items) stored.add(m.id);
    if (page.nextCursor === null) break;
    afterSeq = page.nextCursor;
  }
  const lost = report.socket.ackedIds.filter((id) => !stored.has(id));
  console.log(`[ops e2e] deploy v2 under load: ${release.durationMs} ms total, cutover ${release.cutoverMs} ms; HTTP ${report.http.ok} ok / ${report.http.failed} failed (${report.http.connectionRetries} keep-alive connection retries); socket sent ${report.socket.sent}, acked ${report.socket.acked}, retries ${report.socket.retries}, reconnects ${report.socket.reconnects}, broadcasts received ${report.socket.received}, lost acked ${lost.length}`);
  expect(report.http.failures).toEqual([]);
  expect(report.http.ok).toBeGreaterThan(100);
  expect(report.socket.acked).toBeGreaterThan(20);
  expect(report.socket.acked).toBe(report.socket.sent);
  expect(lost).toEqual([]);
});

test('a broken v3 (fails readiness) keeps v2 serving and is recorded failed', async () => {
  const run = await runOps(['deploy', '-m', 'broken release', '--set', 'MONGODB_URI=mongodb://127.0.0.1:1'], env);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('failed at "health gate (/ready)"');
  expect(run.stderr).toContain('v2 keeps serving');
  expect(run.stderr).toMatch(/next: ops status/);
  expect((await health()).version).toBe(versionOf('v2'));
  expect(listReleases(stateDir, 'local').find((r) => r.id === 'v3')).toMatchObject({ status: 'failed', description: 'broken release' });
  expect(stateFile().running.every((i) => i.release === 'v2')).toBe(true);
});

test('rollback switches back to the previous good release and records it', async () => {
  const run = await runOps(['rollback'], env);
  expect(run.code).toBe(0);
  expect((await health()).version).toBe(versionOf('v1'));
  const releases = listReleases(stateDir, 'local');
  expect(releases.find((r) => r.id === 'v4')).toMatchObject({ kind: 'rollback', artifact: 'v1', status: 'succeeded', description: 'rollback to v1' });
  expect(releases.find((r) => r.id === 'v2')).toMatchObject({ status: 'rolled-back', rolledBackBy: 'v4' });
  const listed = await runOps(['releases'], env);
  expect(listed.stdout).toMatch(/\*v4 .* succeeded .* rollback to v1/);
});

test('maintenance on: API 503 + Retry-After, socket handshake refused with the maintenance code, /health 200; off: normal', async () => {
  const alice = await token('alice');
  const on = await runOps(['maintenance', 'on', '--message', 'Upgrading the database', '--retry-after', '60'], env);
  expect(on.code).toBe(0);
  const api = await fetch(`${frontDoor}/api/conversations`, { headers: { authorization: `Bearer ${alice}` } });
  expect(api.status).toBe(503);
  expect(api.headers.get('retry-after')).toBe('60');
  expect(api.headers.get('content-type')).toContain('application/problem+json');
  expect(await api.json()).toMatchObject({ code: 'maintenance', detail: 'Upgrading the database', retryAfter: 60 });
  const page = await fetch(`${frontDoor}/`, { headers: { accept: 'text/html' } });
  expect(page.status).toBe(503);
  expect(page.headers.get('content-type')).toContain('text/html');
  expect(await page.text()).toContain('Upgrading the database');
  const handshake = await fetch(`${frontDoor}/socket.io/?EIO=4&transport=polling`);
  expect(handshake.status).toBe(503);
  expect(await handshake.json()).toMatchObject({ code: 'maintenance' });
  const refused = await new Promise<Error & { description?: unknown }>((resolve, reject) => {
    const socket = connect(frontDoor, { auth: { token: alice }, transports: ['polling'], reconnection: false });
    socket.on('connect', () => { socket.disconnect(); reject(new Error('connected during maintenance')); });
    socket.on('connect_error', (error) => { socket.disconnect(); resolve(error as Error & { description?: unknown }); });
  });
  expect(refused.description).toBe(503);
  const h = await fetch(`${frontDoor}/health`);
  expect(h.status).toBe(200);
  await sleep(1_300); // the core polls the Redis flag every second
  expect((await health()).maintenance.on).toBe(true);
  expect(JSON.parse((await runOps(['maintenance', 'status', '--json'], env)).stdout)).toMatchObject({ maintenance: { on: true, frontDoor: true, coreFlag: true } });

  const off = await runOps(['maintenance', 'off'], env);
  expect(off.code).toBe(0);
  expect((await fetch(`${frontDoor}/api/conversations`, { headers: { authorization: `Bearer ${alice}` } })).status).toBe(200);
  await sleep(1_300);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(frontDoor, { auth: { token: alice }, transports: ['websocket'], reconnection: false });
    socket.on('connect', () => { socket.disconnect(); resolve(); });
    socket.on('connect_error', (error) => { socket.disconnect(); reject(error); });
  });
  const actions = readAudit(stateDir).map((e) => `${e.action}:${e.outcome}`);
  expect(actions).toEqual(expect.arrayContaining(['maintenance.on:succeeded', 'maintenance.off:succeeded']));
});

test('two concurrent deploys: the second is refused with the lock owner\'s message', async () => {
  const first = runOps(['deploy', '-m', 'hotfix for issue 42'], env);
  const lock = lockFile(stateDir, 'local');
  for (let i = 0; i < 100 && !fs.existsSync(lock); i++) await sleep(20);
  const second = await runOps(['deploy', '-m', 'another deploy'], { ...env, OPS_USER: 'bob' });
  expect(second.code).toBe(3);
  expect(second.stderr).toContain('deploy refused');
  expect(second.stderr).toContain('held by alice');
  expect(second.stderr).toContain('hotfix for issue 42');
  expect(second.stderr).toContain('next: ');
  const done = await first;
  // On a failure, what the first deploy said (a loaded CI machine is where it has failed).
  expect({ code: done.code, stderr: done.code === 0 ? '' : done.stderr.split('\n').slice(-25).join('\n') }).toEqual({ code: 0, stderr: '' });
  expect(fs.existsSync(lock)).toBe(false);
  expect(readAudit(stateDir).some((e) => e.action === 'deploy' && e.outcome === 'refused' && e.who === 'bob')).toBe(true);
});

test('a lock past its expiry is taken over by the next deploy', async () => {
  const held = await runOps(['lock', 'acquire', '-m', 'db migration window', '--ttl', '1s'], { ...env, OPS_USER: 'carol' });
  expect(held.code).toBe(0);
  const refused = await runOps(['deploy'], env);
  expect(refused.code).toBe(3);
  expect(refused.stderr).toContain('db migration window');
  await sleep(1_200);
  expect((await runOps(['lock', 'status'], env)).stdout).toContain('stale');
  const run = await runOps(['deploy', '-m', 'after the window'], env);
  expect(run.code).toBe(0);
  expect(run.stderr).toContain('took over the deploy lock of carol');
  expect(readAudit(stateDir).some((e) => e.action === 'lock.takeover')).toBe(true);
  const status = await runOps(['status'], env);
  expect(status.code).toBe(0);
  expect(status.stdout).toContain('HEALTHY');
});

test('rolling deploy under traffic: one instance at a time, zero failed requests, zero lost acknowledged messages', async () => {
  const alice = await token('alice');
  const bob = await token('bob');
  const created = await fetch(`${frontDoor}/api/conversations`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'group', name: 'rolling traffic', memberIds: ['bob'] }) });
  const conversationId = ((await created.json()) as { id: string }).id;
  const dry = await runOps(['deploy', '--strategy', 'rolling', '--dry-run'], env);
  expect(dry.stdout).toContain('one at a time');
  const traffic = startTraffic({ url: frontDoor, token: alice, receiverToken: bob, conversationId });
  await traffic.ready();
  await sleep(500);
  const run = await runOps(['deploy', '--strategy', 'rolling', '-m', 'rolling release', '--json'], env);
  await sleep(500);
  const report = await traffic.stop();
  expect(run.code).toBe(0);
  expect(run.stderr).toContain('[2/2]');
  const release = (JSON.parse(run.stdout) as { release: { id: string; strategy: string; cutoverMs: number; durationMs: number } }).release;
  expect(release.strategy).toBe('rolling');
  expect((await health()).version).toBe(versionOf(release.id));
  const stored = new Set<string>();
  let afterSeq = 0;
  for (;;) {
    const page = (await (await fetch(`${frontDoor}/api/conversations/${conversationId}/messages?afterSeq=${afterSeq}&limit=100`, { headers: { authorization: `Bearer ${alice}` } })).json()) as { items: { id: string }[]; nextCursor: number | null };
    for (const m of page.items) stored.add(m.id);
    if (page.nextCursor === null) break;
    afterSeq = page.nextCursor;
  }
  const lost = report.socket.ackedIds.filter((id) => !stored.has(id));
  console.log(`[ops e2e] rolling deploy under load: ${release.durationMs} ms total, switches ${release.cutoverMs} ms; HTTP ${report.http.ok} ok / ${report.http.failed} failed (${report.http.connectionRetries} keep-alive connection retries); socket acked ${report.socket.acked}/${report.socket.sent}, lost acked ${lost.length}`);
  expect(report.http.failures).toEqual([]);
  expect(report.socket.acked).toBe(report.socket.sent);
  expect(lost).toEqual([]);
});

test('Ctrl-C during a deploy (the real ops executable) releases the lock, stops what it started and records the release interrupted', async () => {
  const before = (await health()).version;
  const child = spawn(path.join(__dirname, '..', 'bin', 'ops'), ['deploy', '-m', 'interrupted one'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close', not 'exit': only then has all of its stderr been read (its last lines arrive after 'exit' on a busy machine).
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  for (let i = 0; i < 1200 && !stderr.includes('▸ health gate'); i++) await sleep(25); // up to 30 s on a busy machine
  expect(stderr).toContain('▸ health gate');
  const startedPids = [...stderr.matchAll(/pid (\d+) on/g)].map((m) => Number(m[1]));
  expect(startedPids.length).toBe(2);
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  expect(stderr).toContain('lock released');
  expect(fs.existsSync(lockFile(stateDir, 'local'))).toBe(false);
  const last = listReleases(stateDir, 'local').at(-1)!;
  expect(last).toMatchObject({ status: 'interrupted', error: 'interrupted by SIGINT', description: 'interrupted one' });
  for (let i = 0; i < 100 && startedPids.some((pid) => isOurs({ pid, marker: 'core/src/main.js' })); i++) await sleep(50);
  expect(startedPids.filter((pid) => isOurs({ pid, marker: 'core/src/main.js' }))).toEqual([]);
  expect((await health()).version).toBe(before);
  expect(stateFile().running.every((i) => !startedPids.includes(i.pid))).toBe(true);
});

test('releases prune keeps the newest builds and the rollback target; a pruned release cannot be rolled back to', async () => {
  const run = await runOps(['releases', 'prune', '--keep', '2', '--json'], env);
  expect(run.code).toBe(0);
  const { removed } = JSON.parse(run.stdout) as { removed: string[] };
  // v1's build already went in the automatic prune after a deploy (OPS_KEEP_RELEASES, default 5).
  expect(removed).toEqual(expect.arrayContaining(['v2', 'v3']));
  const kept = fs.readdirSync(path.join(stateDir, 'local', 'releases')).filter((id) => fs.existsSync(path.join(stateDir, 'local', 'releases', id, 'build')));
  const current = listReleases(stateDir, 'local').filter((r) => r.status === 'succeeded').at(-1)!;
  expect(kept).toContain(current.artifact);
  expect(fs.existsSync(path.join(stateDir, 'local', 'releases', 'v1', 'build'))).toBe(false);
  expect(fs.existsSync(path.join(stateDir, 'local', 'releases', 'v1', 'release.json'))).toBe(true);
  const rollback = await runOps(['rollback', '--to', 'v1'], env);
  expect(rollback.code).toBe(1);
  expect(rollback.stderr).toContain('not on disk');
  expect(rollback.stderr).toContain('next: ops releases');
  expect((await runOps(['releases'], env)).stdout).toContain('[build pruned]');
});

test('ops stop drains everything; ops status then exits non-zero and names the next step', async () => {
  expect((await runOps(['stop'], env)).code).toBe(0);
  const status = await runOps(['status'], env);
  expect(status.code).toBe(1);
  expect(status.stdout).toContain('UNHEALTHY');
  expect(status.stdout).toContain('next: ops deploy');
  const audit = await runOps(['audit', '--json'], env);
  const actions = (JSON.parse(audit.stdout) as { entries: { action: string }[] }).entries.map((e) => e.action);
  expect(actions).toEqual(expect.arrayContaining(['deploy', 'rollback', 'maintenance.on', 'maintenance.off', 'lock.acquire', 'lock.takeover', 'releases.prune', 'stop']));
});
