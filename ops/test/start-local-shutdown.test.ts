import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io as connect } from 'socket.io-client';
import { repoRoot } from '../services/paths';

/**
 * `npm start` stopped the way a service manager stops it: SIGTERM to its whole process group. It
 * must exit (npm, tsx, the core and the local MongoDB-compatible server, none left behind or a
 * zombie) within the drain budget, whichever child dies first.
 */
const DRAIN_MS = 2_000;
/** SHUTDOWN_DRAIN_MS + SHUTDOWN_GRACE_MS (core/src/main.ts) + npm's own exit. */
const BUDGET_MS = DRAIN_MS + 8_000 + 2_000;

const groupPids = (pgid: number): { pid: number; stat: string; cmd: string }[] => {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/)).filter((m): m is RegExpMatchArray => Boolean(m) && Number(m![2]) === pgid)
    .map((m) => ({ pid: Number(m[1]), stat: m[3]!, cmd: m[4]!.slice(0, 80) }));
};

async function startNpmStart(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-start-'));
  // detached: its own process group, like a service manager's unit.
  const child = spawn('npm', ['start'], { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_VAR_DIR: varDir, SHUTDOWN_DRAIN_MS: String(DRAIN_MS), LOG_LEVEL: 'warn', MONGODB_URI: '', REDIS_URL: '' } });
  let output = '';
  child.stdout!.on('data', (d) => { output += String(d); });
  child.stderr!.on('data', (d) => { output += String(d); });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start not up within 90 s:\n${output}`)), 90_000);
    const check = () => {
      const m = output.match(/Switchboard core is up: (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`npm start exited with ${code}:\n${output}`)); });
  });
  return { child, url, output: () => output };
}

/** SIGTERM to the group, then the time until no process of the group is left (or null past the budget). */
async function stopGroup(pgid: number): Promise<number | null> {
  const started = performance.now();
  process.kill(-pgid, 'SIGTERM');
  while (performance.now() - started < BUDGET_MS + 5_000) {
    if (groupPids(pgid).length === 0) return Math.round(performance.now() - started);
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

describe('npm start, stopped by SIGTERM to its process group', () => {
  let running: { child: ChildProcess } | undefined;
  afterEach(() => {
    if (running?.child.pid) try { process.kill(-running.child.pid, 'SIGKILL'); } catch { /* gone */ }
  });

  it('with a socket connected and a long-poll request open: every process exits within the drain budget', async () => {
    const started = await startNpmStart();
    running = started;
    const pgid = started.child.pid!;
    expect(groupPids(pgid).some((p) => p.cmd.startsWith('java'))).toBe(true);
    // An unauthenticated handshake is refused; an open polling request and a websocket are enough load here.
    const socket = connect(started.url, { transports: ['polling'], reconnection: false, forceNew: true });
    await new Promise((r) => setTimeout(r, 500));
    const tookMs = await stopGroup(pgid);
    socket.close();
    console.log(`[shutdown] npm start, group SIGTERM: all exited after ${tookMs} ms (budget ${BUDGET_MS} ms)`);
    expect(groupPids(pgid)).toEqual([]);
    expect(tookMs).not.toBeNull();
    expect(tookMs!).toBeLessThanOrEqual(BUDGET_MS);
  }, 150_000);

  it('when the local database dies first (SIGKILL), SIGTERM to the group still ends everything within the budget', async () => {
    const started = await startNpmStart();
    running = started;
    const pgid = started.child.pid!;
    const java = groupPids(pgid).find((p) => p.cmd.startsWith('java'));
    expect(java).toBeDefined();
    process.kill(java!.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const tookMs = await stopGroup(pgid);
    console.log(`[shutdown] npm start, database SIGKILLed first, then group SIGTERM: all exited after ${tookMs} ms (budget ${BUDGET_MS} ms)`);
    expect(groupPids(pgid)).toEqual([]);
    expect(tookMs).not.toBeNull();
    expect(tookMs!).toBeLessThanOrEqual(BUDGET_MS);
  }, 150_000);
});
