import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A pidfile per service process we start (one JSON file each, in the temp dir): who started it and
 * when, so that a later run can stop what a killed run left behind. Each entry records both
 * processes' start times (from /proc), so a recycled pid is never mistaken for ours.
 */

interface Entry {
  pid: number;
  startTime: string;
  owner: number;
  ownerStartTime: string;
  name: string;
  command: string;
}

export const registryDir = process.env.SWITCHBOARD_PROCESS_REGISTRY ?? path.join(os.tmpdir(), 'switchboard-processes');

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined when the pid is gone. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined; // exited, not yet reaped
    return fields[19];
  } catch {
    return undefined;
  }
}

const entryFile = (pid: number) => path.join(registryDir, `${pid}.json`);

export function register(entry: { pid: number; name: string; command: string }): void {
  try {
    fs.mkdirSync(registryDir, { recursive: true });
    const record: Entry = { ...entry, startTime: startTimeOf(entry.pid) ?? '', owner: process.pid, ownerStartTime: startTimeOf(process.pid) ?? '' };
    fs.writeFileSync(entryFile(entry.pid), JSON.stringify(record));
  } catch {
    // The registry is a safety net; a service still starts without it.
  }
}

export function forget(pid: number): void {
  fs.rmSync(entryFile(pid), { force: true });
}

/**
 * Stops (SIGKILL to the process group) every registered process whose owner has died, and drops
 * stale entries. Returns a line per process stopped. Safe to run while other test runs are active:
 * their owners are alive, so their entries are left alone.
 */
export function sweepOrphans(): string[] {
  let files: string[];
  try {
    files = fs.readdirSync(registryDir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const file of files) {
    let entry: Entry;
    try {
      entry = JSON.parse(fs.readFileSync(path.join(registryDir, file), 'utf8')) as Entry;
    } catch {
      fs.rmSync(path.join(registryDir, file), { force: true });
      continue;
    }
    const alive = startTimeOf(entry.pid) === entry.startTime && entry.startTime !== '';
    if (!alive) {
      forget(entry.pid);
      continue;
    }
    const ownerAlive = startTimeOf(entry.owner) === entry.ownerStartTime && entry.ownerStartTime !== '';
    if (ownerAlive) continue;
    try {
      process.kill(-entry.pid, 'SIGKILL');
    } catch {
      try { process.kill(entry.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    forget(entry.pid);
    swept.push(`${entry.name} (pid ${entry.pid}, started by dead pid ${entry.owner}): ${entry.command}`);
  }
  return swept;
}
