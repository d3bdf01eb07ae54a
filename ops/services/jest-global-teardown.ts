import { sweepOrphans } from '../process';

/** Stops the run's shared services, then anything a test file started and lost (its worker has exited). */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__switchboardStack?.stop();
  for (const line of sweepOrphans()) process.stderr.write(`[services] stopped a process a test left running: ${line}\n`);
}
