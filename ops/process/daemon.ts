import { fork, spawn, type ChildProcess } from './node-child';
import fs from 'node:fs';
import path from 'node:path';
import { findCommand } from './run';
import { forget, register } from './registry';

/**
 * Long-running processes. zx's `$` is for commands that finish; a daemon needs its pid, its own
 * process group and its output in a log file, so it is spawned here, inside the process layer.
 *
 * Two kinds:
 * - {@link startChild}: a service that lives only as long as we do (test and `npm start` services).
 *   It runs in its own process group, gets SIGTERM from the kernel when we die, even by SIGKILL
 *   (`setpriv --pdeathsig`), and is recorded in the registry so the next run sweeps what survived.
 * - {@link spawnDetached}: a process that outlives the command that started it (`ops deploy`'s
 *   core instances and nginx on the local target); its pid is kept in ops state instead.
 */

export interface ChildOptions {
  /** Shown in messages and in the registry. */
  name: string;
  command: string;
  args: readonly string[];
  /** stdout and stderr are appended here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep stdin as a pipe we hold, so the child can notice our death itself (see Launcher.java). */
  stdinPipe?: boolean;
}

export interface Child {
  name: string;
  pid: number;
  /** Resolves, with how it ended, when the process has exited (never rejects). */
  exited: Promise<string>;
  /** How it ended, or undefined while it runs. */
  exitStatus(): string | undefined;
  /** SIGTERM to its process group, SIGKILL after graceMs; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

let setprivPath: string | null | undefined;
/** util-linux's setpriv sets the parent-death signal, then execs the command (no extra process). */
function setpriv(): string | undefined {
  if (setprivPath === undefined) setprivPath = findCommand('setpriv') ?? null;
  return setprivPath ?? undefined;
}

/** Pids of the live (not zombie) processes in a process group, from /proc. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(group) === pgid && state !== 'Z') members.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return members;
}

const groupAlive = (pgid: number) => groupMembers(pgid).length > 0;

/** Process groups of the children started here that are still running. */
const liveGroups = new Set<number>();

/**
 * In a jest worker: jest's workers outlive a jest killed by SIGKILL (busy in a hook, or idle), and
 * so would the services they started, whose parent-death signal waits for the worker. So each
 * worker watches its own parent; once that is gone, it stops its services and exits.
 */
function watchParentInJestWorker(): void {
  const key = Symbol.for('switchboard.parentWatchdog');
  const real = process as unknown as Record<symbol, unknown>;
  if (process.env.JEST_WORKER_ID === undefined || real[key]) return;
  // From /proc: inside a test file `process` is jest's copy, whose ppid need not follow the real one.
  const ppid = () => Number(fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[1]);
  const parent = ppid();
  const timer = setInterval(() => {
    if (ppid() === parent) return;
    for (const pgid of liveGroups) {
      try { process.kill(-pgid, 'SIGTERM'); } catch { /* gone */ }
    }
    process.exit(1);
  }, 500);
  timer.unref();
  real[key] = timer;
}

export function startChild(options: ChildOptions): Child {
  watchParentInJestWorker();
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, 'a');
  const guard = setpriv();
  const [command, args] = guard ? [guard, ['--pdeathsig', 'SIGTERM', '--', options.command, ...options.args]] : [options.command, [...options.args]];
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: options.cwd,
      stdio: [options.stdinPipe ? 'pipe' : 'ignore', log, log],
      env: { ...process.env, ...options.env },
      detached: true,
    });
  } finally {
    fs.closeSync(log);
  }
  let status: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => { status = `exited with ${signal ?? `code ${code}`}`; resolve(status); });
    child.once('error', (error) => { status = `failed to start (${options.command}): ${error.message}`; resolve(status); });
  });
  const pid = child.pid ?? -1;
  if (pid > 0) {
    register({ pid, name: options.name, command: `${options.command} ${options.args.join(' ')}` });
    liveGroups.add(pid);
    void exited.then(() => { forget(pid); liveGroups.delete(pid); });
  }
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  return {
    name: options.name,
    pid,
    exited,
    exitStatus: () => status,
    async stop(graceMs = 5_000) {
      if (status !== undefined || pid < 0) return;
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      child.stdin?.destroy();
      // The leader is gone; give the rest of its group (nginx workers, shells' children) a moment, then kill it.
      for (let i = 0; i < 40 && groupAlive(pid); i++) await new Promise((r) => setTimeout(r, 25));
      if (groupAlive(pid)) signalGroup('SIGKILL');
    },
  };
}

/** True inside jest itself (a worker, or jest running in band), not in a process a test started. */
function inJest(): boolean {
  if (process.env.JEST_WORKER_ID === undefined) return false;
  try {
    return /jest/.test(fs.readFileSync('/proc/self/cmdline', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Starts a process in its own session that outlives us; output goes to `log`. Returns its pid.
 * Started by a test (ops deploy run in-process), it is also registered like a service child, so a
 * killed jest does not leave the local target's nginx and core instances behind.
 */
export function spawnDetached(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; log: string }): number {
  fs.mkdirSync(path.dirname(options.log), { recursive: true });
  const fd = fs.openSync(options.log, 'a');
  try {
    // Under jest, tied to the test run's life as well (see startChild); otherwise free-standing.
    const test = inJest();
    const guard = test ? setpriv() : undefined;
    const [file, argv] = guard ? [guard, ['--pdeathsig', 'SIGTERM', '--', command, ...args]] : [command, [...args]];
    const child = spawn(file, argv, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    const pid = child.pid;
    if (test) {
      watchParentInJestWorker();
      register({ pid, name: `${path.basename(command)} (detached, started by a test)`, command: `${command} ${args.join(' ')}` });
      liveGroups.add(pid);
      child.once('exit', () => { forget(pid); liveGroups.delete(pid); });
    }
    return pid;
  } finally {
    fs.closeSync(fd);
  }
}

/** SIGTERM, then SIGKILL if the process has not exited within graceMs; resolves once it has exited. */
export async function terminate(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<void> {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs a TypeScript/JavaScript module in a child Node process with an IPC channel (node's fork):
 * for measurements that must not share our heap or event loop (benchmarks).
 */
export function forkModule(modulePath: string, args: readonly string[], options: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}) {
  return fork(modulePath, [...args], { execArgv: options.execArgv, env: { ...process.env, ...options.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/**
 * A launcher (`npm start`, `npm run services -- up`) stops when the process that started it is gone.
 * npm runs a script through `sh -c`; a SIGTERM to npm's pid alone (a supervisor, a CI script) reaches
 * that shell, which dies without passing it on, and the launcher would run on, reparented, with its
 * database and Redis. Checking the parent pid (Linux has no portable parent-death signal for a Node
 * process) turns that into the launcher's own SIGTERM, so the usual drain-and-stop path runs.
 */
export function stopWithParent(options: { pollMs?: number; signal?: NodeJS.Signals } = {}): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      process.kill(process.pid, options.signal ?? 'SIGTERM');
    }
  }, options.pollMs ?? 250);
  timer.unref();
  return () => clearInterval(timer);
}
