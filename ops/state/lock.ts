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
  /** `command`: held by a running deploy/rollback/... that renews it (heartbeat); `manual`: `ops lock acquire`, expires at its TTL. */
  kind: 'command' | 'manual';
  command: string;
  host: string;
  pid: number;
  acquiredAt: string;
  /** Last renewal by the holder's heartbeat (= acquiredAt for a manual lock). */
  heartbeatAt: string;
  expiresAt: string;
  /** Expiry after each heartbeat: a holder that stops renewing (kill -9, lost network) frees the lock after this. */
  ttlMs: number;
}

export interface LockRequest {
  owner: string;
  message: string;
  ttlMs: number;
  kind: LockInfo['kind'];
  command: string;
}

/** A lock we hold: the record, and the backend's version of it (an S3 ETag, or the lock id) to renew or release only our own. */
export interface HeldLock {
  lock: LockInfo;
  token: string;
  takenOver?: LockInfo & { reason: string };
}

export class LockHeldError extends Error {
  constructor(readonly lock: LockInfo) {
    super(`the deploy lock for ${lock.env} is held by ${lock.owner} since ${lock.acquiredAt} ("${lock.message}", ${lock.command} on ${lock.host} pid ${lock.pid}); it expires at ${lock.expiresAt}`);
  }
}

/** Our lock was taken over or removed while we held it: the command must stop changing things. */
export class LockLostError extends Error {}

export function newLock(env: string, request: LockRequest, now: number): LockInfo {
  return {
    id: randomUUID(),
    env,
    owner: request.owner,
    message: request.message,
    kind: request.kind,
    command: request.command,
    host: os.hostname(),
    pid: process.pid,
    acquiredAt: new Date(now).toISOString(),
    heartbeatAt: new Date(now).toISOString(),
    expiresAt: new Date(now + request.ttlMs).toISOString(),
    ttlMs: request.ttlMs,
  };
}

/** The same lock, renewed at `now`: a new heartbeat and expiry. */
export const renewed = (lock: LockInfo, now: number): LockInfo => ({ ...lock, heartbeatAt: new Date(now).toISOString(), expiresAt: new Date(now + lock.ttlMs).toISOString() });

/**
 * A lock is stale only when past its expiry. No PID check: a PID can be reused by another process and
 * says nothing about a holder on another machine; a command lock's heartbeat expiry bounds how long a
 * killed holder keeps it (OPS_LOCK_TTL, default 2 minutes).
 */
export function staleReason(lock: LockInfo, now = Date.now()): string | undefined {
  if (Date.parse(lock.expiresAt) <= now) return `expired at ${lock.expiresAt}${lock.kind === 'command' ? ` (no heartbeat since ${lock.heartbeatAt})` : ''}`;
  return undefined;
}

// ---- the directory implementation (the local target's state dir) ----

export const lockFile = (stateDir: string, env: string): string => path.join(stateDir, env, 'lock.json');

export function readLock(stateDir: string, env: string): LockInfo | undefined {
  return readJson<LockInfo>(lockFile(stateDir, env));
}

/**
 * Takes the lock, atomically (hard link of a complete temp file: fails if a lock exists). A stale lock
 * (past its expiry) is taken over and returned as `takenOver`; a live one throws LockHeldError.
 */
export function acquireLock(stateDir: string, env: string, request: LockRequest, now = Date.now()): HeldLock {
  const file = lockFile(stateDir, env);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lock = newLock(env, request, now);
  const tmp = `${file}.${lock.id}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(lock, null, 2)}\n`);
  let takenOver: (LockInfo & { reason: string }) | undefined;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        fs.linkSync(tmp, file);
        return { lock, token: lock.id, takenOver };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const existing = readLock(stateDir, env);
      if (!existing) continue;
      const reason = staleReason(existing, now);
      if (!reason) throw new LockHeldError(existing);
      if (withMutex(file, () => removeIf(stateDir, env, existing.id))) takenOver = { ...existing, reason };
    }
    throw new Error(`could not take the lock ${file} (contention); retry`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Heartbeat: rewrites the lock with a new expiry if it is still ours; LockLostError otherwise. */
export function renewLock(stateDir: string, env: string, held: HeldLock, now = Date.now()): HeldLock {
  const file = lockFile(stateDir, env);
  const result = withMutex(file, () => {
    const current = readLock(stateDir, env);
    if (current?.id !== held.lock.id) return { lost: current };
    const next = renewed(current, now);
    const tmp = `${file}.${next.id}.renew.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`);
    fs.renameSync(tmp, file);
    return { lock: next };
  });
  if (result === undefined) return held; // another process is in the critical section: try again at the next beat
  if (!result.lock) throw new LockLostError(result.lost ? `the lock was taken over by ${result.lost.owner} (${result.lost.command})` : 'the lock was released by someone else');
  return { ...held, lock: result.lock };
}

/** Removes the lock only if it is still the one with this id. */
export function removeIfSame(stateDir: string, env: string, id: string): boolean {
  return withMutex(lockFile(stateDir, env), () => removeIf(stateDir, env, id)) ?? false;
}

function removeIf(stateDir: string, env: string, id: string): boolean {
  const current = readLock(stateDir, env);
  if (current?.id !== id) return false;
  fs.rmSync(lockFile(stateDir, env), { force: true });
  return true;
}

/** A short mkdir mutex around read-then-write of the lock file; undefined when someone else holds it. */
function withMutex<T>(file: string, fn: () => T): T | undefined {
  const mutex = `${file}.mutex`;
  try {
    fs.mkdirSync(mutex);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // A holder of the mutex that crashed leaves it behind: the critical section takes milliseconds.
    const age = Date.now() - (fs.statSync(mutex, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > 10_000) fs.rmSync(mutex, { recursive: true, force: true });
    return undefined;
  }
  try {
    return fn();
  } finally {
    fs.rmdirSync(mutex);
  }
}

/** Releases the lock whoever holds it (`ops lock release`); returns what was released. */
export function forceRelease(stateDir: string, env: string): LockInfo | undefined {
  const current = readLock(stateDir, env);
  if (!current) return undefined;
  // The holder's heartbeat takes the mutex for a moment at each beat: try again rather than report a release that did not happen.
  for (let attempt = 0; attempt < 1_000; attempt++) if (withMutex(lockFile(stateDir, env), () => removeIf(stateDir, env, current.id)) !== undefined) return current;
  throw new Error(`could not release ${lockFile(stateDir, env)}: its mutex stays taken (${lockFile(stateDir, env)}.mutex); retry`);
}

/** Whether a process exists (used for the local target's own daemons, never to judge a lock). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
