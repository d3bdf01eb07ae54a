import { sweepOrphans } from '../process';
import { startLocalStack, type LocalStack } from './local-stack';
import { provision, testRunSteps } from './provision';

declare global {
  var __switchboardStack: LocalStack | undefined;
}

/**
 * Before the first test: stops what an earlier, killed run left behind, provisions every tool and
 * server the suites use (no test hook ever downloads or builds), then starts one MongoDB-compatible
 * server (memory) and one Redis for the whole run. Each test file uses its own database name, so
 * files run in parallel without seeing each other's data. Jest gives global setup no timeout, so a
 * cold build (MinIO, ~3 min) fits here.
 */
export default async function globalSetup(): Promise<void> {
  for (const line of sweepOrphans()) process.stderr.write(`[services] stopped a process an earlier run left behind: ${line}\n`);
  process.stderr.write('\n');
  await provision(testRunSteps());
  const stack = await startLocalStack({ mongo: 'memory', redis: true, logDir: undefined });
  globalThis.__switchboardStack = stack;
  process.env.TEST_MONGODB_URI = stack.env.MONGODB_URI;
  process.env.TEST_REDIS_URL = stack.env.REDIS_URL;
}
