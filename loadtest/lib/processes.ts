import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from '../../ops/services/ports';
import { terminate } from '../../ops/services/service-process';
import { compileTree } from '../../ops/build/compile';
import type { GcTotals } from '../servers/gc-accounting';

export const repoRoot = path.resolve(__dirname, '..', '..');
const probePath = path.join(repoRoot, 'loadtest', 'servers', 'probe.ts');

export interface ServerStats {
  memory: NodeJS.MemoryUsage;
  cpu: NodeJS.CpuUsage;
  elu: { idle: number; active: number; utilization: number };
  eld: { p50: number; p99: number; max: number };
  /** Garbage collection since the probe started (loadtest/servers/gc-accounting.ts). */
  gc: GcTotals;
  uptimeMs: number;
}

/** A process under test (the core or a bare baseline), started with the probe preloaded. */
export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  logFile: string;
  stats(gc?: boolean): Promise<ServerStats>;
  /** `heap`: a sampling heap profile too, written next to the CPU profile (see probe.ts). */
  profileStart(heap?: 'survivors' | 'all'): Promise<void>;
  profileStop(file: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SpawnServerOptions {
  name: string;
  /** Entry file, relative to the repository root. */
  entry: string;
  env?: Record<string, string>;
  logDir: string;
  /** Node flags before the entry (e.g. --max-old-space-size). */
  nodeFlags?: string[];
  /** `tsx` (default): the entry is TypeScript, run through the loader; `none`: it is compiled JavaScript, run by plain node. */
  loader?: 'tsx' | 'none';
  readyTimeoutMs?: number;
}

/** The probe as JavaScript, for processes that run without the TypeScript loader (compiled once per run). */
function compiledProbe(): string {
  const outDir = path.join(repoRoot, 'var', 'loadtest', 'compiled');
  compileTree(repoRoot, outDir, ['loadtest/servers/probe.ts', 'loadtest/servers/gc-accounting.ts']);
  return path.join(outDir, 'loadtest', 'servers', 'probe.js');
}

export async function spawnServer(options: SpawnServerOptions): Promise<ServerProcess> {
  const port = await freePort();
  fs.mkdirSync(options.logDir, { recursive: true });
  const logFile = path.join(options.logDir, `${options.name}-${port}.log`);
  const log = fs.openSync(logFile, 'a');
  const preload = options.loader === 'none' ? ['--import', compiledProbe()] : ['--import', 'tsx', '--import', probePath];
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', ...(options.nodeFlags ?? []), ...preload, options.entry], {
    cwd: repoRoot,
    stdio: ['ignore', log, log, 'ipc'],
    env: { ...process.env, ...options.env, PORT: String(port), HOST: '127.0.0.1' },
  });
  fs.closeSync(log);
  let exited: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => { exited = `exited with ${signal ?? code}`; resolve(); });
    child.once('error', (error) => { exited = `failed: ${error.message}`; resolve(); });
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  child.on('message', (raw) => {
    const msg = raw as { id: number; error?: string };
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error) p.reject(new Error(`${options.name}: ${msg.error}`));
    else p.resolve(msg);
  });
  const ask = <T>(body: object, timeoutMs = 30_000) => new Promise<T>((resolve, reject) => {
    if (exited) return reject(new Error(`${options.name} ${exited} (log: ${logFile})`));
    const id = nextId++;
    const timer = setTimeout(() => { pending.delete(id); reject(new Error(`${options.name} did not answer the probe within ${timeoutMs} ms`)); }, timeoutMs);
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
    child.send({ id, ...body });
  });
  try {
    await Promise.race([
      waitForPort(port, options.readyTimeoutMs ?? 60_000),
      exitPromise.then(() => { throw new Error(`${options.name} ${exited}`); }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') : '';
    throw new Error(`${options.name} did not start: ${(error as Error).message}\nlog ${logFile}:\n${tail}`, { cause: error });
  }
  return {
    name: options.name,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    logFile,
    stats: (gc = false) => ask<ServerStats>({ type: 'stats', gc }),
    profileStart: async (heap) => { await ask({ type: 'profile-start', heap }); },
    profileStop: async (file) => { await ask({ type: 'profile-stop', file }, 60_000); },
    async stop() {
      if (!exited) await terminate(child, exitPromise, 8_000);
    },
  };
}

/** CPU share of one core a process used between two stats snapshots (1.0 = one full core). */
export function cpuShare(a: ServerStats, b: ServerStats): number {
  const cpuUs = b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system;
  const wallMs = b.uptimeMs - a.uptimeMs;
  return wallMs > 0 ? cpuUs / 1000 / wallMs : Number.NaN;
}

/** CPU time (ms, user + system, every thread) a process used between two stats snapshots: its own counters. */
export function cpuMsBetween(a: ServerStats, b: ServerStats): number {
  return (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1000;
}

/** Event-loop utilisation (0..1: share of the window the main thread was not idle) between two snapshots. */
export function eluBetween(a: ServerStats, b: ServerStats): number {
  const active = b.elu.active - a.elu.active;
  const idle = b.elu.idle - a.elu.idle;
  return active + idle > 0 ? active / (active + idle) : Number.NaN;
}

/** The pid listening on a loopback TCP port (Linux `ss`), e.g. the MongoDB-compatible server; undefined if unknown. */
export function pidListeningOn(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (ms) a process has used so far, from /proc/<pid>/stat; undefined when unreadable. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime in clock ticks (100 Hz)
  } catch {
    return undefined;
  }
}

/** CPU share (1.0 = one core) of named processes over a window. */
export function watchCpu(pids: Record<string, number | undefined>) {
  const t0 = performance.now();
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid ? processCpuMs(pid) : undefined]));
  return () => {
    const wall = performance.now() - t0;
    const out: Record<string, number> = {};
    for (const [k, pid] of Object.entries(pids)) {
      const a = start[k];
      const b = pid ? processCpuMs(pid) : undefined;
      if (a !== undefined && b !== undefined && wall > 0) out[k] = Math.round(((b - a) / wall) * 1000) / 1000;
    }
    return out;
  };
}
