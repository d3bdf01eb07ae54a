import { LockHeldError, LockLostError, type HeldLock, type LockInfo, type LockRequest } from './lock';
import type { OpsState } from './ops-state';

export interface LockSession {
  /** The lock as last renewed. */
  readonly held: HeldLock;
  /** Aborted when the lock is lost (taken over, force-released, or not renewed before its expiry). */
  readonly lost: AbortSignal;
  /** Stops the heartbeat and removes the lock if it is still ours. */
  release(): Promise<boolean>;
}

export interface HoldOptions {
  /** --lock-wait: how long to queue behind a live lock before giving up (0: refuse at once). */
  waitMs: number;
  /** Progress while waiting: called at the start, when the holder changes, and every 30 s. */
  onWait?: (holder: LockInfo, waitedMs: number) => void;
  /** Called once when the heartbeat finds the lock is no longer ours. */
  onLost?: (reason: string) => void;
  /** Renewal interval (default: a third of the TTL, so two beats may fail before the lock expires). */
  heartbeatMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Takes the lock (queueing up to `waitMs` behind a live one) and, for a command lock, renews it on a
 * heartbeat until release(). A renewal that finds someone else's lock aborts `lost` at once; one that
 * cannot reach the backend keeps retrying, and the lock counts as lost once its expiry has passed.
 */
export async function holdLock(state: OpsState, env: string, request: LockRequest, options: HoldOptions): Promise<LockSession> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const started = now();
  let held: HeldLock | undefined;
  let lastHolder: string | undefined;
  let lastReport = -Infinity;
  while (!held) {
    try {
      held = await state.acquireLock(env, request, now());
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      const waited = now() - started;
      if (waited >= options.waitMs) throw error;
      if (lastHolder !== error.lock.id || waited - lastReport >= 30_000) {
        options.onWait?.(error.lock, waited);
        lastReport = waited;
      }
      lastHolder = error.lock.id;
      const untilExpiry = Date.parse(error.lock.expiresAt) - now();
      await sleep(Math.max(50, Math.min(2_000, options.waitMs - waited, untilExpiry + 10)));
    }
  }
  const controller = new AbortController();
  let current = held;
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> = Promise.resolve();
  let released = false;
  const lose = (reason: string) => {
    if (controller.signal.aborted) return;
    if (timer) clearInterval(timer);
    controller.abort(new LockLostError(reason));
    options.onLost?.(reason);
  };
  if (request.kind === 'command') {
    const interval = options.heartbeatMs ?? Math.max(20, Math.floor(request.ttlMs / 3));
    timer = setInterval(() => {
      beating = beating.then(async () => {
        if (controller.signal.aborted || released) return;
        try {
          current = await state.renewLock(env, current, now());
        } catch (error) {
          if (error instanceof LockLostError) lose(error.message);
          else if (Date.parse(current.lock.expiresAt) <= now()) lose(`could not renew the lock before it expired at ${current.lock.expiresAt}: ${(error as Error).message}`);
        }
      });
    }, interval);
    timer.unref();
  }
  return {
    get held() {
      return current;
    },
    lost: controller.signal,
    async release() {
      if (released) return false;
      released = true;
      if (timer) clearInterval(timer);
      await beating;
      if (controller.signal.aborted) return false;
      return state.releaseLock(env, current);
    },
  };
}
