import { ConfigError, describeConfig, loadConfig } from './config';
import { startCore, type Core } from './server';

/**
 * Process entry: validate config, start, and stop gracefully on SIGTERM/SIGINT. Used by
 * `npm start` (through ops/services/start-local.ts), by `ops` releases and by container images.
 */
/** Beyond the drain budget, closing pools and flushing get this long before the process exits anyway. */
export const SHUTDOWN_GRACE_MS = 8_000;

export async function runCore(env: NodeJS.ProcessEnv = process.env, options: { afterStop?: () => Promise<void> } = {}): Promise<Core> {
  if (process.argv.includes('--help')) {
    console.log(`Switchboard core. Configuration (environment variables):\n\n${describeConfig()}`);
    process.exit(0);
  }
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const core = await startCore(config);
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      core.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    core.logger.info({ signal, drainMs: config.SHUTDOWN_DRAIN_MS }, 'shutdown requested');
    // Whatever hangs (a dead database, a child that ignores signals), the process exits in budget.
    setTimeout(() => {
      core.logger.error({ budgetMs: config.SHUTDOWN_DRAIN_MS + SHUTDOWN_GRACE_MS }, 'shutdown did not finish within its budget: exiting now');
      process.exit(1);
    }, config.SHUTDOWN_DRAIN_MS + SHUTDOWN_GRACE_MS).unref();
    void core.stop()
      .then(() => options.afterStop?.())
      .then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => core.logger.error({ err: reason }, 'unhandled promise rejection'));
  process.on('uncaughtException', (error) => {
    core.logger.fatal({ err: error }, 'uncaught exception: stopping');
    void core.stop().finally(() => process.exit(1));
  });
  return core;
}

if (require.main === module) {
  runCore().catch((error: Error) => {
    console.error(`switchboard core failed to start: ${error.message}`);
    console.error('Check MONGODB_URI (and REDIS_URL when set) point at running servers; `npm start -- --help` lists every setting.');
    process.exit(1);
  });
}
