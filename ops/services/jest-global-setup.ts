import { startLocalStack, type LocalStack } from './local-stack';
import { ensureToxiproxy } from './toxiproxy';

declare global {
  var __switchboardStack: LocalStack | undefined;
}

/**
 * Starts one MongoDB-compatible server (memory) and one Redis for the whole test run. Each test
 * file uses its own database name, so files run in parallel without seeing each other's data.
 */
export default async function globalSetup(): Promise<void> {
  ensureToxiproxy(); // the fault suite (core/test/faults) puts Toxiproxy between the core and its servers
  const stack = await startLocalStack({ mongo: 'memory', redis: true, logDir: undefined });
  globalThis.__switchboardStack = stack;
  process.env.TEST_MONGODB_URI = stack.env.MONGODB_URI;
  process.env.TEST_REDIS_URL = stack.env.REDIS_URL;
}
