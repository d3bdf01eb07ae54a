import fs from 'node:fs';
import { startChild } from '../process';

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
 * The process layer runs it in its own process group, tied to our life (see ops/process/daemon.ts):
 * a killed test run leaves nothing behind.
 */
export async function spawnService(options: SpawnOptions): Promise<RunningService> {
  const child = startChild({ name: options.name, command: options.command, args: options.args, logFile: options.logFile, env: options.env, stdinPipe: options.stdinPipe });
  const failure = child.exited.then((how) => { throw new Error(`${options.name} ${how}`); });
  try {
    await Promise.race([options.waitReady(), failure]);
  } catch (error) {
    await child.stop(0);
    const tail = safeTail(options.logFile);
    throw new Error(`${options.name} did not start: ${(error as Error).message}\n  log: ${options.logFile}\n${tail}`, { cause: error });
  }
  failure.catch(() => undefined);
  return {
    name: options.name,
    address: options.address,
    stop: () => child.stop(5_000),
  };
}

/** Kept here for loadtest/: stopping a child process is the process layer's job. */
export { terminate } from '../process';

function safeTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-15).map((l) => `    ${l}`).join('\n');
  } catch {
    return '';
  }
}
