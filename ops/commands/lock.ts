import { formatMs, OpsError } from '../cli/output';
import type { CommandHandler } from '../cli/types';
import { parseDuration, whoOf } from '../state/context';
import { LockHeldError, staleReason, type LockInfo } from '../state/lock';
import { stateFor } from './common';

/** "heartbeat 4 s ago" (command locks renew it; a manual lock has none after acquiring). */
const heartbeat = (lock: LockInfo, now: number) => (lock.kind === 'command' ? `heartbeat ${formatMs(Math.max(0, now - Date.parse(lock.heartbeatAt ?? lock.acquiredAt)))} ago` : 'manual (no heartbeat)');

export const handlers: Record<string, CommandHandler> = {
  async 'lock status'(ctx) {
    const { env, state } = stateFor(ctx);
    const lock = await state.readLock(env);
    const now = Date.now();
    const stale = lock ? staleReason(lock, now) : undefined;
    const heartbeatAgeMs = lock ? Math.max(0, now - Date.parse(lock.heartbeatAt ?? lock.acquiredAt)) : null;
    ctx.out.result(
      { env, state: state.description, locked: Boolean(lock) && !stale, lock: lock ?? null, stale: stale ?? null, heartbeatAgeMs },
      lock
        ? `${stale ? 'stale (the next command takes it over): ' : 'locked: '}${lock.owner} since ${lock.acquiredAt}, "${lock.message}" (${lock.command} on ${lock.host} pid ${lock.pid}), ${heartbeat(lock, now)}, expires ${lock.expiresAt}${stale ? ` — ${stale}` : ''}`
        : `${env}: not locked (${state.description})`,
    );
  },

  async 'lock acquire'(ctx) {
    const { env, state } = stateFor(ctx);
    const message = ctx.values.message as string | undefined;
    if (!message) throw new OpsError('a lock needs a message saying why', `ops lock acquire -m "<why>" --env ${env}`, 2);
    const who = whoOf(ctx.env);
    try {
      const { lock, takenOver } = await state.acquireLock(env, { owner: who, message, ttlMs: parseDuration((ctx.values.ttl as string | undefined) ?? '1h'), kind: 'manual', command: 'ops lock acquire' });
      if (takenOver) await state.appendAudit({ who, env, action: 'lock.takeover', outcome: 'info', detail: `from ${takenOver.owner}: ${takenOver.reason}` });
      await state.appendAudit({ who, env, action: 'lock.acquire', outcome: 'succeeded', detail: message });
      ctx.out.result({ env, lock }, `locked ${env} until ${lock.expiresAt}: "${message}". Release with: ops lock release --env ${env}`);
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      await state.appendAudit({ who, env, action: 'lock.acquire', outcome: 'refused', detail: error.message });
      throw new OpsError(error.message, `ops lock status --env ${env}`, 3);
    }
  },

  async 'lock release'(ctx) {
    const { env, state } = stateFor(ctx);
    const released = await state.forceReleaseLock(env);
    if (released) await state.appendAudit({ who: whoOf(ctx.env), env, action: 'lock.release', outcome: 'succeeded', detail: `held by ${released.owner}: "${released.message}"` });
    ctx.out.result({ env, released: released ?? null }, released ? `released the lock of ${released.owner} ("${released.message}")` : `${env} was not locked`);
  },
};
