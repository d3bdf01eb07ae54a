import { freePort } from '../services/ports';
import { readFlag } from '../targets/maintenance-flag';

/**
 * An unreachable Redis (details, status, maintenance status report it as unknown) must not leave a timer
 * behind: ioredis' disconnect() after a failed connect armed a 2 s timer that nothing cleared, so every
 * such command lingered 2 s before exiting (and jest workers were force-exited).
 */
test('reading the flag from an unreachable Redis fails and leaves no timer pending', async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  // Timers of a second or more armed while reading the flag, until they fire or are cleared.
  const pending = new Set<unknown>();
  const realSet = global.setTimeout;
  const realClear = global.clearTimeout;
  global.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle: NodeJS.Timeout = realSet((...a: unknown[]) => { pending.delete(handle); fn(...a); }, ms, ...args);
    if ((ms ?? 0) >= 1000) pending.add(handle);
    return handle;
  }) as typeof setTimeout;
  global.clearTimeout = ((handle?: NodeJS.Timeout) => { pending.delete(handle); realClear(handle); }) as typeof clearTimeout;
  try {
    await expect(readFlag(url)).rejects.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(pending.size).toBe(0);
  } finally {
    global.setTimeout = realSet;
    global.clearTimeout = realClear;
  }
});
