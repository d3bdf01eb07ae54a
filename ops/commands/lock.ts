import { formatMs, OpsError } from '../cli/output';
import type { CommandHandler } from '../cli/types';
import { parseDuration, whoOf } from '../state/context';
import { LockHeldError, staleReason, type LockInfo } from '../state/lock';
import { visibility } from '../state/open-state';
import { stateFor } from './common';
import { underLockKey } from './command-lock';

/** "heartbeat 4 s ago" (command locks renew it; a manual lock has none after acquiring). */
const heartbeat = (lock: LockInfo, now: number) => (lock.kind === 'command' ? `heartbeat ${formatMs(Math.max(0, now - Date.parse(lock.heartbeatAt ?? lock.acquiredAt)))} ago` : 'manual (no heartbeat)');

export const handlers: Record<string, CommandHandler> = {
  async 'lock status'(ctx) {
    const { env, state } = stateFor(ctx);
    const lock = await state.readLock(env);
    const now = Date.now();
    const stale = lock ? staleReason(lock, now) : undefined;
    const leftMs = lock && !stale ? Date.parse(lock.expiresAt) - now : 0;
    const inner = lock?.kind === 'manual' ? await state.readLock(underLockKey(env)) : undefined;
    const running = inner && !staleReason(inner, now) ? `; running under it: ${inner.command} by ${inner.owner} ("${inner.message}")` : '';
    const heartbeatAgeMs = lock ? Math.max(0, now - Date.parse(lock.heartbeatAt ?? lock.acquiredAt)) : null;
    ctx.out.result(
      { env, state: state.description, shared: state.shared, locked: Boolean(lock) && !stale, lock: lock ?? null, stale: stale ?? null, heartbeatAgeMs, remainingMs: leftMs },
      lock
        ? `${stale ? 'stale (the next command takes it over): ' : 'locked: '}${lock.owner} since ${lock.acquiredAt}, "${lock.message}" (${lock.command} on ${lock.host} pid ${lock.pid}), ${heartbeat(lock, now)}, expires ${lock.expiresAt}${stale ? ` — ${stale}` : ` (${formatMs(leftMs)} left)`}${running}\nstate: ${visibility(state)}`
        : `${env}: not locked (state: ${visibility(state)})`,
    );
  },

  async 'lock acquire'(ctx) {
    const { env, state } = stateFor(ctx);
    const message = ctx.values.message as string | undefined;
    if (!message) throw new OpsError('a lock needs a message saying why', `ops lock acquire -m "<why>" --env ${env}`, 2);
    // A manual lock has no heartbeat: only its TTL frees it if forgotten, so the operator chooses it, and it is never 0.
    const ttl = ctx.values.ttl as string | undefined;
    if (!ttl) throw new OpsError('a manual lock needs an explicit --ttl: how long the procedure may take (it expires then, if forgotten)', `ops lock acquire -m "${message}" --ttl 2h --env ${env}`, 2);
    const ttlMs = parseDuration(ttl);
    if (ttlMs <= 0) throw new OpsError(`--ttl ${ttl} would expire at once: give the length of the procedure, e.g. 2h`, `ops lock acquire -m "${message}" --ttl 2h --env ${env}`, 2);
    const who = whoOf(ctx.env);
    try {
      const { lock, takenOver } = await state.acquireLock(env, { owner: who, message, ttlMs, kind: 'manual', command: 'ops lock acquire' });
      if (takenOver) await state.appendAudit({ who, env, action: 'lock.takeover', outcome: 'info', detail: `from ${takenOver.owner}: ${takenOver.reason}` });
      await state.appendAudit({ who, env, action: 'lock.acquire', outcome: 'succeeded', detail: message });
      ctx.out.result(
        { env, lock, token: lock.id, shared: state.shared, state: state.description },
        [
          `locked ${env} until ${lock.expiresAt}: "${message}" (${visibility(state)})`,
          `Your own ops commands (as ${who}) run under this lock; everyone else is refused. From another shell or CI runner:`,
          `export OPS_LOCK_TOKEN=${lock.id}`,
          `Release with: ops lock release --env ${env}`,
        ].join('\n'),
      );
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
