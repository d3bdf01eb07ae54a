import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readJson } from './files';

export interface LockInfo {
  id: string;
  env: string;
  owner: string;
  message: string;
  /** `command`: held by a running deploy/rollback (pid alive); `manual`: `ops lock acquire`. */
  kind: 'command' | 'manual';
  command: string;
  host: string;
  pid: number;
  acquiredAt: string;
  expiresAt: string;
}

export class LockHeldError extends Error {
  constructor(readonly lock: LockInfo) {
    super(`the deploy lock for ${lock.env} is held by ${lock.owner} since ${lock.acquiredAt} ("${lock.message}", ${lock.command}); it expires at ${lock.expiresAt}`);
  }
}

export const lockFile = (stateDir: string, env: string): string => path.join(stateDir, env, 'lock.json');

/** A lock is stale when past its expiry, or held by a command whose process on this host is gone. */
export function staleReason(lock: LockInfo, now = Date.now()): string | undefined {
  if (Date.parse(lock.expiresAt) <= now) return `expired at ${lock.expiresAt}`;
  if (lock.kind === 'command' && lock.host === os.hostname() && !pidAlive(lock.pid)) return `its process ${lock.pid} is gone`;
  return undefined;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(stateDir: string, env: string): LockInfo | undefined {
  return readJson<LockInfo>(lockFile(stateDir, env));
}

/**
 * Takes the lock, atomically (hard link of a complete temp file: fails if a lock exists). A stale lock
 * (expired, or its command died) is taken over and returned as `takenOver`; a live one throws LockHeldError.
 */
export function acquireLock(
  stateDir: string,
  env: string,
  request: { owner: string; message: string; ttlMs: number; kind: LockInfo['kind']; command: string },
): { lock: LockInfo; takenOver?: LockInfo & { reason: string } } {
  const file = lockFile(stateDir, env);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const now = Date.now();
  const lock: LockInfo = {
    id: randomUUID(),
    env,
    owner: request.owner,
    message: request.message,
    kind: request.kind,
    command: request.command,
    host: os.hostname(),
    pid: process.pid,
    acquiredAt: new Date(now).toISOString(),
    expiresAt: new Date(now + request.ttlMs).toISOString(),
  };
  const tmp = `${file}.${lock.id}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(lock, null, 2)}\n`);
  let takenOver: (LockInfo & { reason: string }) | undefined;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        fs.linkSync(tmp, file);
        return { lock, takenOver };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const existing = readLock(stateDir, env);
      if (!existing) continue;
      const reason = staleReason(existing);
      if (!reason) throw new LockHeldError(existing);
      if (removeIfSame(stateDir, env, existing.id)) takenOver = { ...existing, reason };
    }
    throw new Error(`could not take the lock ${file} (contention); retry`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Removes the lock only if it is still the one with this id (a short mkdir mutex guards read-then-delete). */
export function removeIfSame(stateDir: string, env: string, id: string): boolean {
  const file = lockFile(stateDir, env);
  const mutex = `${file}.mutex`;
  try {
    fs.mkdirSync(mutex);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // A holder of the mutex that crashed leaves it behind: the critical section takes milliseconds.
    if (Date.now() - fs.statSync(mutex).mtimeMs > 10_000) fs.rmSync(mutex, { recursive: true, force: true });
    return false;
  }
  try {
    const current = readLock(stateDir, env);
    if (current?.id !== id) return false;
    fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.rmdirSync(mutex);
  }
}

/** Releases the lock whoever holds it (`ops lock release`); returns what was released. */
export function forceRelease(stateDir: string, env: string): LockInfo | undefined {
  const current = readLock(stateDir, env);
  if (current) removeIfSame(stateDir, env, current.id);
  return current;
}
