import { spawn } from 'node:child_process';
import net from 'node:net';
import { repoRoot } from '../services/paths';

/**
 * `npm run services -- up` and `npm start` stop everything they started when only their launcher (npm's
 * pid) gets SIGTERM, as a supervisor or a CI script does (issue 26). npm passes the signal to its `sh -c`,
 * which dies without passing it on; before the fix the Node process ran on, reparented to init, with its
 * MongoDB-compatible server and Redis (or the core's ports) still listening.
 */
const BUDGET_MS = 20_000;
const listening = (port: number) => new Promise<boolean>((resolve) => {
  const socket = net.connect(port, '127.0.0.1');
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => resolve(false));
});

/** Whether any process of npm's group (npm, its shell, the launcher) is still running. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

test.each([
  { name: 'npm run services -- up', args: ['run', 'services', '--', 'up'], ports: [/REDIS_URL=redis:\/\/127\.0\.0\.1:(\d+)/, /MONGODB_URI=mongodb:\/\/127\.0\.0\.1:(\d+)/] },
  { name: 'npm start', args: ['start'], ports: [/core is up: http:\/\/127\.0\.0\.1:(\d+)/, /curl http:\/\/127\.0\.0\.1:(\d+)\/metrics/] },
])('SIGTERM to npm alone ($name) stops the launcher and what it started', async ({ args, ports: patterns }) => {
  // Not a jest worker's child: the process layer's jest watchdog (JEST_WORKER_ID) would stop it for another reason.
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JEST') && k !== 'MONGODB_URI' && k !== 'REDIS_URL')), PORT: '0', METRICS_PORT: '0' };
  const npm = spawn('npm', args, { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout.on('data', (c: Buffer) => (out += c.toString()));
  npm.stderr.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const deadline = Date.now() + 120_000;
    while (!patterns.every((p) => p.test(out))) {
      if (Date.now() > deadline || npm.exitCode !== null) throw new Error(`did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const ports = patterns.map((p) => Number(p.exec(out)![1]));
    for (const port of ports) expect(await listening(port)).toBe(true);
    process.kill(npm.pid!, 'SIGTERM'); // the launcher only, not its group
    const stopBy = Date.now() + BUDGET_MS;
    let left: number[] = ports;
    while (Date.now() < stopBy) {
      left = [];
      for (const port of ports) if (await listening(port)) left.push(port);
      if (!left.length && !groupAlive(npm.pid!)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect({ listening: left, groupAlive: groupAlive(npm.pid!) }).toEqual({ listening: [], groupAlive: false });
  } finally {
    try { process.kill(-npm.pid!, 'SIGKILL'); } catch { /* already gone */ }
  }
}, 180_000);
