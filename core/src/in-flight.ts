/** Counts work that must finish before shutdown (HTTP requests, socket handlers awaiting an ack). */
export function createInFlight() {
  let count = 0;
  let waiters: (() => void)[] = [];
  return {
    begin() {
      count++;
    },
    end() {
      count = Math.max(0, count - 1);
      if (count === 0) {
        for (const resolve of waiters) resolve();
        waiters = [];
      }
    },
    get count() {
      return count;
    },
    /** Resolves true when idle, false when timeoutMs passed first. */
    idle(timeoutMs: number): Promise<boolean> {
      if (count === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        waiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
  };
}

export type InFlight = ReturnType<typeof createInFlight>;
