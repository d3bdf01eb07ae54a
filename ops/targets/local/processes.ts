import fs from 'node:fs';
import { spawnDetached } from '../../process';
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
  const pid = spawnDetached(command, args, { cwd: options.cwd, env: options.env, log: options.log });
  return { pid, marker: options.marker, log: options.log };
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

/**
 * For a process this command has just started: gone or a zombie. Not `!isOurs`: between fork and
 * exec (long on a loaded machine) /proc/<pid>/cmdline is still the parent's, so the marker check would
 * call a starting instance dead. The marker guards against reused pids in saved state, not here.
 */
export function hasExited(info: Pick<DaemonInfo, 'pid'>): boolean {
  if (!pidAlive(info.pid)) return true;
  try {
    return /\) Z /.test(fs.readFileSync(`/proc/${info.pid}/stat`, 'utf8'));
  } catch {
    return true;
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
