import { formatMs, OpsError } from '../cli/output';
import type { CommandContext } from '../cli/types';
import { parseDuration, whoOf } from '../state/context';
import { LockHeldError, LockLostError, staleReason, type LockInfo, type LockRequest } from '../state/lock';
import { holdLock, type HoldOptions, type LockSession } from '../state/lock-holder';
import type { OpsState } from '../state/ops-state';
import { visibility } from '../state/open-state';
import type { Output } from '../cli/output';

/** Why a locked command was cancelled: a signal (Ctrl-C, SIGTERM) or the loss of its lock. */
export class CancelledError extends Error {
  constructor(readonly reason: string, readonly signal?: NodeJS.Signals) {
    super(reason);
  }
}

export interface LockSpec {
  env: string;
  state: OpsState;
  /** deploy, rollback, maintenance.on, ... (audit action; the lock's command is `ops <action>`). */
  action: string;
  /** Why: the lock message, shown to whoever is refused. */
  message: string;
  /**
   * true: the command stops cleanly when `signal` aborts (e.g. cancels `pulumi up`) and records the
   * outcome itself; a second Ctrl-C forces the exit. false (default): on a signal, `onInterrupt` runs,
   * the lock is released and the process exits 130 at once.
   */
  graceful?: boolean;
  onInterrupt?: (reason: string) => Promise<void> | void;
}

/** Default heartbeat expiry of a command lock: a killed holder frees it after this. */
export const defaultLockTtl = '2m';

export function lockWaitMs(ctx: Pick<CommandContext, 'values'>): number {
  const given = ctx.values['lock-wait'];
  return typeof given === 'string' ? parseDuration(given) : 0;
}

/**
 * The one way a command that changes an environment takes its lock: queue up to --lock-wait behind a
 * running command (or be refused naming it, exit 3), renew the lock on a heartbeat while `fn` runs,
 * cancel `fn` (its AbortSignal) on Ctrl-C/SIGTERM or when the lock is lost, and release the lock on
 * every exit path.
 */
export async function withCommandLock<T>(ctx: Pick<CommandContext, 'values' | 'env' | 'out'>, spec: LockSpec, fn: (signal: AbortSignal, session: LockSession) => Promise<T>): Promise<T> {
  const { out } = ctx;
  const { env, state, action } = spec;
  const who = whoOf(ctx.env);
  const ttlMs = parseDuration(ctx.env.OPS_LOCK_TTL ?? defaultLockTtl);
  const cancel = new AbortController();
  if (env !== 'local' && !state.shared) out.warn(`the lock and release history of ${env} are ${visibility(state)}`);
  const request = { owner: who, message: spec.message, ttlMs, kind: 'command' as const, command: `ops ${action.replace('.', ' ')}` };
  let session: LockSession;
  try {
    session = await holdUnderOwnLock(state, env, request, ctx.env, out, {
      waitMs: lockWaitMs(ctx),
      onWait: (holder, waitedMs) => out.info(`${waitedMs >= 1_000 ? `still waiting (${formatMs(waitedMs)})` : 'waiting'} for the lock of ${env} (--lock-wait): held by ${holder.owner} ("${holder.message}", ${holder.command} on ${holder.host}), heartbeat ${holder.heartbeatAt}, expires ${holder.expiresAt}`),
      onLost: (reason) => {
        out.warn(`lost the lock of ${env}: ${reason}; stopping`);
        cancel.abort(new CancelledError(`lock lost: ${reason}`));
        // A command that cannot stop cleanly must not go on without the lock: same exit as Ctrl-C.
        if (!spec.graceful) void exitNow(`lock lost: ${reason}`);
      },
    });
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    await state.appendAudit({ who, env, action, outcome: 'refused', detail: error.message });
    throw new OpsError(`${action.replace('.', ' ')} refused: ${error.message}`, `wait for it (ops ${action.replace('.', ' ')} --lock-wait 15m queues behind it), or see \`ops lock status --env ${env}\`; if it is abandoned: ops lock release --env ${env}`, 3);
  }
  const { takenOver } = session.held;
  if (takenOver) {
    out.warn(`took over the deploy lock of ${takenOver.owner} ("${takenOver.message}"): ${takenOver.reason}`);
    await state.appendAudit({ who, env, action: 'lock.takeover', outcome: 'info', detail: `from ${takenOver.owner} ("${takenOver.message}", ${takenOver.command}): ${takenOver.reason}` });
  }

  async function exitNow(reason: string): Promise<never> {
    try {
      await spec.onInterrupt?.(reason);
    } catch (error) {
      out.warn(`cleanup after ${reason} failed: ${(error as Error).message}`);
    }
    await session.release().catch((error: Error) => out.warn(`could not release the lock: ${error.message}`));
    out.info(`\n${reason}: lock released. Check what serves with: ops status --env ${env}`);
    process.exit(130);
  }
  const onSignal = (signal: NodeJS.Signals) => {
    const reason = `interrupted by ${signal}`;
    if (cancel.signal.aborted || !spec.graceful) {
      cancel.abort(new CancelledError(reason, signal));
      void exitNow(reason);
      return;
    }
    out.info(`\n${signal}: cancelling cleanly (press Ctrl-C again to exit at once) ...`);
    cancel.abort(new CancelledError(reason, signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(cancel.signal, session);
  } catch (error) {
    if (cancel.signal.aborted && !(error instanceof OpsError)) throw new OpsError(`${(cancel.signal.reason as Error).message}: ${(error as Error).message}`, `ops status --env ${env}`, 130);
    throw error;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await session.release().catch((error: Error) => out.warn(`could not release the lock of ${env}: ${error.message}`));
  }
}

/**
 * The key of the lock a command takes while its operator's manual lock holds the environment: commands
 * run under a manual lock still exclude each other (two terminals of the same operator), and the manual
 * lock keeps everyone else out.
 */
export const underLockKey = (env: string): string => `${env}~under-manual-lock`;

/** Whether a live manual lock is this operator's: the token `ops lock acquire` printed (OPS_LOCK_TOKEN), or the same owner. */
export function ownsManualLock(lock: LockInfo, owner: string, processEnv: NodeJS.ProcessEnv): 'token' | 'owner' | undefined {
  if (lock.kind !== 'manual') return undefined;
  if (processEnv.OPS_LOCK_TOKEN && processEnv.OPS_LOCK_TOKEN === lock.id) return 'token';
  return lock.owner === owner ? 'owner' : undefined;
}

/**
 * Kamal's lock semantics: a lock keeps *others* out. A command of the operator who holds the manual
 * lock (`ops lock acquire`) runs under it (taking the per-environment under-lock, so two of their own
 * commands still exclude each other); everyone else is refused or waits (--lock-wait). A command that
 * takes the environment's lock also waits for a command still running under an expired manual lock.
 */
async function holdUnderOwnLock(state: OpsState, env: string, request: LockRequest, processEnv: NodeJS.ProcessEnv, out: Output, options: HoldOptions): Promise<LockSession> {
  try {
    const session = await holdLock(state, env, request, { ...options, waitMs: 0 });
    const inner = await state.readLock(underLockKey(env));
    if (inner && !staleReason(inner)) {
      await session.release();
      throw new LockHeldError(inner);
    }
    return session;
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    const owned = ownsManualLock(error.lock, request.owner, processEnv);
    if (!owned) {
      if (options.waitMs > 0) return holdLock(state, env, request, options);
      throw error;
    }
    out.info(`running under your lock of ${env} ("${error.lock.message}", ${owned === 'token' ? 'OPS_LOCK_TOKEN' : `owner ${error.lock.owner}`}; expires ${error.lock.expiresAt}): others stay locked out`);
    return holdLock(state, underLockKey(env), request, options);
  }
}

/** The lock was lost or the command interrupted: the reason, for records. */
export function cancelReason(signal: AbortSignal): string | undefined {
  if (!signal.aborted) return undefined;
  const reason = signal.reason as Error;
  return reason instanceof CancelledError || reason instanceof LockLostError ? reason.message : String(reason);
}
