import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface RunningService {
  name: string;
  /** What a client uses to reach it (a URI or host:port). */
  address: string;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  /** Resolves when the service answers; rejects (or times out) otherwise. */
  waitReady: () => Promise<void>;
  address: string;
  env?: NodeJS.ProcessEnv;
  /** Keep stdin as a pipe so the child can notice our death (see Launcher.java). */
  stdinPipe?: boolean;
}

/**
 * Starts a long-running local service, waits until it answers and returns a handle that stops it.
 * Its output goes to logFile; a failure names that file so the reader knows where to look next.
 */
export async function spawnService(options: SpawnOptions): Promise<RunningService> {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, 'a');
  const child: ChildProcess = spawn(options.command, options.args, {
    stdio: [options.stdinPipe ? 'pipe' : 'ignore', log, log],
    env: { ...process.env, ...options.env },
  });
  fs.closeSync(log);
  let exited: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => { exited = `exited with ${signal ?? code}`; resolve(); });
    child.once('error', (error) => { exited = `failed to start: ${error.message}`; resolve(); });
  });
  const failure = exitPromise.then(() => { throw new Error(`${options.name} ${exited}`); });
  try {
    await Promise.race([options.waitReady(), failure]);
  } catch (error) {
    child.kill('SIGKILL');
    const tail = safeTail(options.logFile);
    throw new Error(`${options.name} did not start: ${(error as Error).message}\n  log: ${options.logFile}\n${tail}`, { cause: error });
  }
  failure.catch(() => undefined);
  return {
    name: options.name,
    address: options.address,
    async stop() {
      if (!exited) await terminate(child, exitPromise, 5_000);
    },
  };
}

/** SIGTERM, then SIGKILL if the process has not exited within graceMs; resolves once it has exited. */
export async function terminate(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<void> {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function safeTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-15).map((l) => `    ${l}`).join('\n');
  } catch {
    return '';
  }
}
