import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../cli/main';
import { startChild, type Child } from '../process';
import { freePort } from '../services/ports';
import { acquireLock } from '../state/lock';
import { createRelease, finished, saveRelease } from '../state/releases';
import { runOps, sleep } from './helpers';

/**
 * `ops releases show`, `ops details`, `ops logs`, `ops exec` and `ops tunnel` on the local target, for
 * real: a running process stands in for a core instance (a real pid with its own environment and log
 * file, answering /health and /ready like the core's internal listener), recorded in the local target's
 * state the way ops deploy records its instances. Nothing here needs MongoDB or Redis.
 */
let dir: string;
let instance: Child;
let port: number;
const now = Date.now();
const iso = (msAgo: number) => new Date(now - msAgo).toISOString();
const instanceUri = 'mongodb://127.0.0.1:27999/instance-only';
const log1 = () => path.join(dir, 'logs', 'local-v1-1.log');
const log2 = () => path.join(dir, 'logs', 'local-v1-2.log');
const env = () => ({ OPS_STATE_DIR: dir, OPS_USER: 'tester', PATH: process.env.PATH, HOME: process.env.HOME });
const line = (msAgo: number, msg: string) => `${JSON.stringify({ level: 30, time: iso(msAgo), msg })}\n`;

// The stand-in instance: the core's /health and /ready on one port, its MONGODB_URI only in its own environment.
const script = `
const http = require('node:http');
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/health') return res.end(JSON.stringify({ status: 'ok', version: 'v1-abc1234', draining: false, maintenance: { on: false }, sockets: 0, uptimeSeconds: 5 }));
  if (req.url === '/ready') return res.end(JSON.stringify({ ready: true }));
  res.statusCode = 404; res.end('{}');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-verbs-local-'));
  port = await freePort();
  fs.mkdirSync(path.join(dir, 'logs'));
  fs.writeFileSync(log1(), line(2 * 3_600_000, 'two hours ago') + 'plain continuation of the old line\n' + line(60_000, 'a minute ago') + 'plain continuation of the new line\n');
  fs.writeFileSync(log2(), line(30_000, 'from the stopped instance'));
  instance = startChild({ name: 'ops-verbs-instance', command: process.execPath, args: ['-e', script, 'ops-verbs-marker'], logFile: path.join(dir, 'logs', 'stand-in-stdout.log'), env: { PORT: String(port), MONGODB_URI: instanceUri, INSTANCE_ID: 'local-v1-1' } });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ready`)).status === 200) break;
    } catch {
      if (Date.now() > deadline) throw new Error('stand-in instance did not start');
      await sleep(100);
    }
  }
  fs.mkdirSync(path.join(dir, 'local'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'local', 'target.json'), JSON.stringify({
    port: 1, instances: 2, settings: { MONGODB_URI: 'mongodb://127.0.0.1:27017/switchboard' },
    running: [
      { id: 'local-v1-1', release: 'v1', version: 'v1-abc1234', port, metricsPort: port, startedAt: iso(90_000), pid: instance.pid, marker: 'ops-verbs-marker', log: log1() },
      // pid 0 is never ours: an instance recorded as started that is no longer running.
      { id: 'local-v1-2', release: 'v1', version: 'v1-abc1234', port: 1, metricsPort: 1, startedAt: iso(90_000), pid: 0, marker: 'ops-verbs-marker', log: log2() },
    ],
  }));
  const v1 = createRelease(dir, 'local', { kind: 'deploy', version: 'abc1234', who: 'alice', description: 'first', settings: { LOG_LEVEL: 'debug' } });
  saveRelease(dir, { ...finished(v1, { status: 'succeeded', steps: [{ name: 'build v1', ms: 1200, ok: true }] }), verify: { ok: true, checks: [{ name: 'GET /health', ok: true, ms: 3 }] } });
  const v2 = createRelease(dir, 'local', { kind: 'deploy', version: 'def5678', who: 'bob', description: 'second' });
  saveRelease(dir, { ...finished(v2, { status: 'failed', error: 'instance local-v2-1 not ready after 30000 ms' }), verify: { ok: false, checks: [{ name: 'socket send', ok: false, detail: 'timeout', ms: 5000 }, { name: 'GET /health', ok: true, ms: 2 }] } });
  const v3 = createRelease(dir, 'local', { kind: 'rollback', version: 'abc1234', who: 'carol', description: 'back to v1', artifact: 'v1' });
  saveRelease(dir, finished(v3, { status: 'succeeded' }));
}, 30_000);

afterAll(async () => {
  await instance?.stop(2_000);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('ops releases show', () => {
  test('prints one release in full: kind, version, who, when, outcome, duration, verify result', async () => {
    const r = await runOps(['releases', 'show', 'v2', '--env', 'local'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^v2 in local: deploy, failed/);
    expect(r.stdout).toMatch(/version +def5678/);
    expect(r.stdout).toMatch(/who +bob/);
    expect(r.stdout).toMatch(/error +instance local-v2-1 not ready/);
    expect(r.stdout).toMatch(/verify +FAILED \(1\/2 checks; failed: socket send\)/);
    const v1 = await runOps(['releases', 'show', 'v1'], env());
    expect(v1.stdout).toMatch(/config +sha256:[0-9a-f]{16}; --set LOG_LEVEL/);
    expect(v1.stdout).toMatch(/✓ build v1 \(1\.2 s\)/);
    const v3 = await runOps(['releases', 'show', 'v3'], env());
    expect(v3.stdout).toMatch(/^v3 in local: rollback to v1, succeeded \(serving\)/);
  });

  test('--json is the whole record', async () => {
    const r = await runOps(['releases', 'show', 'v1', '--json'], env());
    expect(JSON.parse(r.stdout)).toMatchObject({ env: 'local', serving: false, release: { id: 'v1', kind: 'deploy', who: 'alice', status: 'succeeded', settings: { LOG_LEVEL: 'debug' }, verify: { ok: true } } });
  });

  test('an unknown id is refused with the nearest ids; a missing or second id is refused', async () => {
    const r = await runOps(['releases', 'show', 'v9'], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no release "v9" in local; nearest: v3, v2, v1/);
    expect(r.stderr).toMatch(/next: ops releases show v3 --env local/);
    expect((await runOps(['releases', 'show', 'latest'], env())).code).toBe(2);
    expect((await runOps(['releases', 'show'], env())).code).toBe(2);
    const two = await runOps(['releases', 'show', 'v1', 'v2'], env());
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/takes one <id>/);
  });
});

describe('ops details', () => {
  test('each instance with version, readiness, restarts, age and node; the release serving, maintenance, lock', async () => {
    const r = await runOps(['details', '--env', 'local'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/release +v3 \(rollback, abc1234 = v1\)/);
    expect(r.stdout).toMatch(/maintenance +off/);
    expect(r.stdout).toMatch(/lock +none/);
    expect(r.stdout).toMatch(new RegExp(`local-v1-1 +v1-abc1234 +yes +0 +\\d+s +${os.hostname()}`));
    expect(r.stdout).toMatch(/local-v1-2 +v1-abc1234 \(not running: pid 0 gone\) +NO/);
    expect(r.stdout).not.toMatch(/unknown/);
  });

  test('names the lock holder', async () => {
    acquireLock(dir, 'local', { owner: 'dave', message: 'maintenance window', ttlMs: 600_000, kind: 'manual', command: 'ops lock acquire' });
    try {
      const r = await runOps(['details', '--json'], env());
      expect(JSON.parse(r.stdout)).toMatchObject({ lock: { owner: 'dave', message: 'maintenance window' }, known: true });
    } finally {
      fs.rmSync(path.join(dir, 'local', 'lock.json'), { force: true });
    }
  });

  test('what it cannot read is unknown, with why and the next command, and the exit code says so', async () => {
    // A Redis nobody listens on: the core's maintenance flag cannot be read, so "off" would be a guess.
    const r = await runOps(['details'], { ...env(), REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/maintenance +unknown/);
    expect(r.stdout).toMatch(/unknown: maintenance: the core's flag in Redis .* cannot be read: .* — next: npm run services -- up/);
    expect(r.stderr).toMatch(/next: npm run services -- up/);
  });

  test('refuses extra words', async () => {
    expect((await runOps(['details', 'local'], env())).code).toBe(2);
  });
});

describe('ops logs', () => {
  test('prints every instance\'s log, each line prefixed with the instance', async () => {
    const r = await runOps(['logs', '--env', 'local'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('local-v1-1 | plain continuation of the old line');
    expect(r.stdout).toContain('local-v1-2 | {');
  });

  test('--since keeps recent lines (and the lines that continue them); --instance picks one, unprefixed', async () => {
    const r = await runOps(['logs', '--since', '10m', '--instance', 'local-v1-1'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('two hours ago');
    expect(r.stdout).not.toContain('continuation of the old line');
    expect(r.stdout.split('\n').filter(Boolean).map((l) => l.startsWith('{') ? (JSON.parse(l) as { msg: string }).msg : l)).toEqual(['a minute ago', 'plain continuation of the new line']);
  });

  test('an unknown instance or a bad --since is refused', async () => {
    const r = await runOps(['logs', '--instance', 'local-v1-3'], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/did you mean local-v1-1, local-v1-2/);
    expect((await runOps(['logs', '--since', 'soon'], env())).code).toBe(2);
  });

  test('--follow prints what is appended until Ctrl-C', async () => {
    let stdout = '';
    const done = runCli(['logs', '--follow', '--instance', 'local-v1-2'], { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: () => true } }, env());
    const waitFor = async (text: string) => {
      for (let i = 0; i < 200 && !stdout.includes(text); i++) await sleep(25);
      expect(stdout).toContain(text);
    };
    await waitFor('from the stopped instance');
    fs.appendFileSync(log2(), line(0, 'appended while following'));
    await waitFor('appended while following');
    process.emit('SIGINT');
    expect(await done).toBe(0);
  });
});

test('ops logs --follow of every instance picks up the instances a deploy starts meanwhile', async () => {
  const stateFile = path.join(dir, 'local', 'target.json');
  const saved = fs.readFileSync(stateFile, 'utf8');
  let stdout = '';
  const done = runCli(['logs', '-f'], { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: () => true } }, env());
  try {
    for (let i = 0; i < 200 && !stdout.includes('from the stopped instance'); i++) await sleep(25);
    const log3 = path.join(dir, 'logs', 'local-v4-1.log');
    fs.writeFileSync(log3, line(0, 'the new release is up'));
    const state = JSON.parse(saved) as { running: unknown[] };
    fs.writeFileSync(stateFile, JSON.stringify({ ...state, running: [...state.running, { id: 'local-v4-1', release: 'v4', version: 'v4-x', port: 1, startedAt: iso(0), pid: 0, marker: 'x', log: log3 }] }));
    for (let i = 0; i < 200 && !stdout.includes('the new release is up'); i++) await sleep(25);
    expect(stdout).toMatch(/^local-v4-1 \| .*the new release is up/m);
  } finally {
    process.emit('SIGINT');
    await done;
    fs.writeFileSync(stateFile, saved);
  }
});

test('ops logs and ops exec take no --json (their output is another program\'s)', async () => {
  expect((await runOps(['logs', '--json'], env())).code).toBe(2);
  expect((await runOps(['exec', '--json', '--', 'true'], env())).code).toBe(2);
});

describe('ops exec', () => {
  test('runs the command with the instance\'s own environment and passes its exit code on', async () => {
    const r = await runOps(['exec', '--env', 'local', '--', 'printenv', 'MONGODB_URI'], { ...env(), MONGODB_URI: 'mongodb://not-this-one' });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(instanceUri);
    const failing = await runOps(['exec', '--', 'sh', '-c', 'echo out; exit 3'], env());
    expect(failing.code).toBe(3);
    expect(failing.stdout).toBe('out\n');
  });

  test('options after -- belong to the command', async () => {
    const r = await runOps(['exec', '--', 'sh', '-c', 'echo "$1 $2"', 'sh', '--help', '--verbose'], env());
    expect(r.stdout).toBe('--help --verbose\n');
  });

  test('refuses no command, words before --, and an instance that is not running', async () => {
    expect((await runOps(['exec', '--env', 'local'], env())).code).toBe(2);
    expect((await runOps(['exec', 'printenv'], env())).code).toBe(2);
    expect((await runOps(['exec', 'x', '--', 'printenv'], env())).code).toBe(2);
    const dead = await runOps(['exec', '--instance', 'local-v1-2', '--', 'true'], env());
    expect(dead.code).toBe(1);
    expect(dead.stderr).toMatch(/local-v1-2 is not running[\s\S]*next: /);
  });
});

describe('ops tunnel on the local target', () => {
  test('prints the local services\' URIs with their export line', async () => {
    const r = await runOps(['tunnel', 'redis', '--env', 'local'], { ...env(), REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("export REDIS_URL='redis://127.0.0.1:6379'");
    expect(JSON.parse((await runOps(['tunnel', 'mongodb', '--json'], env())).stdout)).toMatchObject({ uri: 'mongodb://127.0.0.1:27017/switchboard' });
  });

  test('unknown when there is no URI; a service other than mongodb|redis is refused', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-verbs-empty-'));
    try {
      const r = await runOps(['tunnel', 'mongodb'], { ...env(), OPS_STATE_DIR: empty });
      expect(r.code).toBe(4);
      expect(r.stdout).toMatch(/MONGODB_URI: unknown \(.*\) → next: npm run services -- up/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
    expect((await runOps(['tunnel', 'postgres'], env())).code).toBe(2);
    expect((await runOps(['tunnel'], env())).code).toBe(2);
  });
});
