import { spawn } from 'node:child_process';
import net from 'node:net';
import { repoRoot } from '../services/paths';

/**
 * `npm run services -- up` stops everything it started when only its launcher (npm's pid) gets SIGTERM,
 * as a supervisor or a CI script does (issue 26). npm passes the signal to its `sh -c`, which dies
 * without passing it on; before the fix the services CLI ran on, reparented to init, with its
 * MongoDB-compatible server and Redis still listening.
 */
const BUDGET_MS = 15_000;
const listening = (port: number) => new Promise<boolean>((resolve) => {
  const socket = net.connect(port, '127.0.0.1');
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => resolve(false));
});
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('SIGTERM to npm alone stops the services CLI, its MongoDB-compatible server and Redis', async () => {
  // Not a jest worker's child: the process layer's jest watchdog (JEST_WORKER_ID) would stop it for another reason.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JEST')));
  const npm = spawn('npm', ['run', 'services', '--', 'up'], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout.on('data', (c: Buffer) => (out += c.toString()));
  npm.stderr.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const deadline = Date.now() + 120_000;
    while (!/export REDIS_URL=redis:\/\/127\.0\.0\.1:(\d+)/.test(out) || !/export MONGODB_URI=mongodb:\/\/127\.0\.0\.1:(\d+)/.test(out)) {
      if (Date.now() > deadline || npm.exitCode !== null) throw new Error(`services did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const ports = [Number(/REDIS_URL=redis:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]), Number(/MONGODB_URI=mongodb:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1])];
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

/** Whether any process of npm's group (npm, its shell, the services CLI) is still running. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return alive(pgid);
  }
}
