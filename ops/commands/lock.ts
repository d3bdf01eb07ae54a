import { OpsError } from '../cli/output';
import type { CommandHandler } from '../cli/types';
import { appendAudit } from '../state/audit-log';
import { envOf, parseDuration, stateDirOf, whoOf } from '../state/context';
import { acquireLock, forceRelease, LockHeldError, readLock, staleReason } from '../state/lock';

export const handlers: Record<string, CommandHandler> = {
  async 'lock status'(ctx) {
    const env = envOf(ctx);
    const lock = readLock(stateDirOf(ctx), env);
    const stale = lock ? staleReason(lock) : undefined;
    ctx.out.result(
      { env, locked: Boolean(lock) && !stale, lock: lock ?? null, stale: stale ?? null },
      lock ? `${stale ? 'stale (the next deploy takes it over): ' : 'locked: '}${lock.owner} since ${lock.acquiredAt}, "${lock.message}" (${lock.command}), expires ${lock.expiresAt}${stale ? ` — ${stale}` : ''}` : `${env}: not locked`,
    );
  },

  async 'lock acquire'(ctx) {
    const env = envOf(ctx);
    const stateDir = stateDirOf(ctx);
    const message = ctx.values.message as string | undefined;
    if (!message) throw new OpsError('a lock needs a message saying why', `ops lock acquire -m "<why>" --env ${env}`, 2);
    const who = whoOf(ctx.env);
    try {
      const { lock, takenOver } = acquireLock(stateDir, env, { owner: who, message, ttlMs: parseDuration((ctx.values.ttl as string | undefined) ?? '1h'), kind: 'manual', command: 'ops lock acquire' });
      if (takenOver) appendAudit(stateDir, { who, env, action: 'lock.takeover', outcome: 'info', detail: `from ${takenOver.owner}: ${takenOver.reason}` });
      appendAudit(stateDir, { who, env, action: 'lock.acquire', outcome: 'succeeded', detail: message });
      ctx.out.result({ env, lock }, `locked ${env} until ${lock.expiresAt}: "${message}". Release with: ops lock release --env ${env}`);
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      appendAudit(stateDir, { who, env, action: 'lock.acquire', outcome: 'refused', detail: error.message });
      throw new OpsError(error.message, `ops lock status --env ${env}`, 3);
    }
  },

  async 'lock release'(ctx) {
    const env = envOf(ctx);
    const stateDir = stateDirOf(ctx);
    const released = forceRelease(stateDir, env);
    if (released) appendAudit(stateDir, { who: whoOf(ctx.env), env, action: 'lock.release', outcome: 'succeeded', detail: `held by ${released.owner}: "${released.message}"` });
    ctx.out.result({ env, released: released ?? null }, released ? `released the lock of ${released.owner} ("${released.message}")` : `${env} was not locked`);
  },
};
