import fs from 'node:fs';
import os from 'node:os';
import { OpsError } from '../../cli/output';
import { runAttached } from '../../process';
import { closest } from '../../cli/did-you-mean';
import type { InstanceDetail, Passthrough } from '../access';
import { probeInstance, type InstanceInfo } from './instances';
import { isOurs } from './processes';

/**
 * `ops logs`, `ops exec` and `ops details` on the local target: the instances ops started (their
 * pids, log files and ports are in var/ops/local/target.json), read directly from this machine.
 */

/** The instances `--instance` selects (all when not given); an unknown name is refused with the known ones. */
export function selectInstances(running: InstanceInfo[], instance: string | undefined): InstanceInfo[] {
  if (!instance) return running;
  const found = running.filter((i) => i.id === instance);
  if (found.length) return found;
  const names = running.map((i) => i.id);
  const near = closest(instance, names);
  throw new OpsError(`no local instance "${instance}"${near.length ? `; did you mean ${near.slice(0, 3).join(', ')}?` : ''} (instances: ${names.join(', ') || 'none'})`, 'ops details --env local', 2);
}

/** Each instance ops started: its own /health and /ready; a local instance is never restarted (a crashed one stays down). */
export async function localInstances(running: InstanceInfo[]): Promise<InstanceDetail[]> {
  return Promise.all(running.map(async (i): Promise<InstanceDetail> => {
    const probe = await probeInstance(i);
    const unknowns = isOurs(i) && !probe.healthy ? [{ what: `${i.id} version`, reason: `/health did not answer: ${probe.error?.split('\n')[0]}`, next: `ops logs --env local --instance ${i.id}` }] : [];
    return { name: i.id, version: probe.healthy ? probe.version : isOurs(i) ? undefined : `${i.version} (not running: pid ${i.pid} gone)`, ready: probe.ready, restarts: 0, startedAt: i.startedAt, node: os.hostname(), unknowns };
  }));
}

/** The time of a core log line (pino JSON: "time" as ISO 8601), or undefined for other lines (stack traces, nginx). */
const timeOf = (line: string): number | undefined => {
  if (!line.startsWith('{')) return undefined;
  try {
    const time = (JSON.parse(line) as { time?: unknown }).time;
    const ms = typeof time === 'number' ? time : typeof time === 'string' ? Date.parse(time) : NaN;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Prints the instances' log files, each line prefixed with the instance (`--since`: lines whose time is
 * at or after `sinceMs`; a line without a time goes with the one before it). `--follow` keeps reading
 * what is appended until Ctrl-C.
 */
export async function localLogs(instances: InstanceInfo[], options: { sinceMs?: number; follow: boolean; pollMs?: number; refresh?: () => InstanceInfo[] }, io: Passthrough): Promise<number> {
  let multiple = instances.length > 1;
  const readers = instances.map((i) => ({ instance: i, offset: 0, partial: '', keep: options.sinceMs === undefined }));
  /** Following every instance: a deploy's new instances join (from their first line) as the target's state records them. */
  const join = () => {
    for (const i of options.refresh?.() ?? []) {
      if (readers.some((r) => r.instance.log === i.log)) continue;
      readers.push({ instance: i, offset: 0, partial: '', keep: true });
      multiple = true;
      io.writeErr(`(following ${i.id} too: ${i.log})\n`);
    }
  };
  const missing = instances.filter((i) => !fs.existsSync(i.log));
  for (const i of missing) io.writeErr(`warning: ${i.id}: no log file ${i.log}\n`);
  const drain = () => {
    for (const reader of readers) {
      let size: number;
      try {
        size = fs.statSync(reader.instance.log).size;
      } catch {
        continue;
      }
      if (size < reader.offset) reader.offset = 0; // truncated or replaced: start over
      if (size === reader.offset) continue;
      const fd = fs.openSync(reader.instance.log, 'r');
      const buffer = Buffer.alloc(size - reader.offset);
      try {
        fs.readSync(fd, buffer, 0, buffer.length, reader.offset);
      } finally {
        fs.closeSync(fd);
      }
      reader.offset = size;
      const lines = (reader.partial + buffer.toString('utf8')).split('\n');
      reader.partial = lines.pop() ?? '';
      let text = '';
      for (const line of lines) {
        const time = timeOf(line);
        if (time !== undefined && options.sinceMs !== undefined) reader.keep = time >= options.sinceMs;
        if (reader.keep) text += `${multiple ? `${reader.instance.id} | ` : ''}${line}\n`;
      }
      if (text) io.write(text);
    }
  };
  drain();
  if (!options.follow) return missing.length === instances.length && instances.length > 0 ? 1 : 0;
  while (!io.signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.pollMs ?? 250);
      io.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
    join();
    drain();
  }
  return 0;
}

/** The environment a running instance really has (/proc/<pid>/environ): the same MONGODB_URI, REDIS_URL, ... */
export function instanceEnvironment(instance: InstanceInfo): NodeJS.ProcessEnv {
  if (!isOurs(instance)) throw new OpsError(`instance ${instance.id} is not running (pid ${instance.pid} gone)`, 'ops status --env local; ops deploy --env local starts fresh instances', 1);
  const raw = fs.readFileSync(`/proc/${instance.pid}/environ`, 'utf8');
  return Object.fromEntries(raw.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/** Runs the command with one instance's environment (the first running one unless `--instance`), in the instance's directory. */
export async function localExec(running: InstanceInfo[], options: { instance?: string; command: string[]; tty: boolean }, io: Passthrough): Promise<number> {
  const chosen = options.instance ? selectInstances(running, options.instance)[0]! : running.find(isOurs);
  if (!chosen) throw new OpsError('no local instance is running', 'ops deploy --env local', 1);
  const env = instanceEnvironment(chosen);
  let cwd: string | undefined;
  try {
    cwd = fs.readlinkSync(`/proc/${chosen.pid}/cwd`);
  } catch {
    cwd = undefined;
  }
  const [command, ...args] = options.command;
  const result = await runAttached(command!, args, { env, cwd, stdin: options.tty ? 'inherit' : 'ignore', onStdout: io.write, onStderr: io.writeErr, signal: io.signal });
  return result.exitCode ?? 1;
}
