import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pidAlive } from '../../state/lock';

export interface DaemonInfo {
  pid: number;
  /** A string the process's command line must contain: guards against signalling a recycled pid. */
  marker: string;
  log: string;
}

/**
 * Starts a process that outlives the ops command (own session, output to a log file). Returns its pid
 * and the marker used to recognise it later.
 */
export function spawnDaemon(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; log: string; marker: string }): DaemonInfo {
  fs.mkdirSync(path.dirname(options.log), { recursive: true });
  const fd = fs.openSync(options.log, 'a');
  try {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    return { pid: child.pid, marker: options.marker, log: options.log };
  } finally {
    fs.closeSync(fd);
  }
}

/** True when the pid is alive and still the process we started (its command line has the marker). */
export function isOurs(info: Pick<DaemonInfo, 'pid' | 'marker'>): boolean {
  if (!pidAlive(info.pid)) return false;
  try {
    const cmdline = fs.readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    const stat = fs.readFileSync(`/proc/${info.pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false; // zombie: exited, waiting to be reaped
    return cmdline.includes(info.marker);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, wait up to graceMs for the process to exit, then SIGKILL. Returns how it ended. */
export async function stopDaemon(info: DaemonInfo, graceMs: number): Promise<'not-running' | 'stopped' | 'killed'> {
  if (!isOurs(info)) return 'not-running';
  process.kill(info.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(50);
    if (!isOurs(info)) return 'stopped';
  }
  if (isOurs(info)) process.kill(info.pid, 'SIGKILL');
  for (let i = 0; i < 40 && isOurs(info); i++) await sleep(50);
  return 'killed';
}

export function tail(file: string, lines = 12): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  } catch {
    return '';
  }
}
