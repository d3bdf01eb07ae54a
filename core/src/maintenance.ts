import type Redis from 'ioredis';
import { AppError } from './errors';

export interface MaintenanceState {
  on: boolean;
  message: string;
  retryAfter: number;
  since?: string;
  source: 'env' | 'redis' | 'off';
}

/** The Redis key `ops maintenance` writes; every instance polls it. */
export const MAINTENANCE_KEY = 'switchboard:maintenance';

/**
 * Maintenance mode from MAINTENANCE_MODE or the Redis key. The state is polled (not read per
 * request) so the hot path never waits on Redis.
 */
export function createMaintenance(options: { envOn: boolean; message: string; retryAfter: number; redis?: Redis; pollMs?: number; onChange?(state: MaintenanceState): void }) {
  const fromEnv: MaintenanceState = { on: true, message: options.message, retryAfter: options.retryAfter, source: 'env' };
  const off: MaintenanceState = { on: false, message: options.message, retryAfter: options.retryAfter, source: 'off' };
  let state: MaintenanceState = options.envOn ? fromEnv : off;
  let timer: NodeJS.Timeout | undefined;

  async function refresh(): Promise<void> {
    if (options.envOn || !options.redis) return;
    try {
      const raw = await options.redis.get(MAINTENANCE_KEY);
      const next: MaintenanceState = raw ? { ...off, ...(JSON.parse(raw) as Partial<MaintenanceState>), on: true, source: 'redis' } : off;
      if (next.on !== state.on || next.message !== state.message) options.onChange?.(next);
      state = next;
    } catch {
      // Keep the last known state while Redis is unreachable; /ready reports Redis as down.
    }
  }

  return {
    current: () => state,
    async start() {
      await refresh();
      if (options.redis && !options.envOn) {
        timer = setInterval(() => void refresh(), options.pollMs ?? 1_000);
        timer.unref();
      }
      options.onChange?.(state);
    },
    stop() {
      if (timer) clearInterval(timer);
    },
    refresh,
    /** Throws the 503 maintenance error when on. */
    assertOpen() {
      if (state.on) throw new AppError('maintenance', state.message, { retryAfter: state.retryAfter });
    },
  };
}

export type Maintenance = ReturnType<typeof createMaintenance>;
