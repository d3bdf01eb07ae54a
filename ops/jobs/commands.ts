import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { ConfigError, loadConfig } from '../../core/src/config';
import { parseCron } from '../../core/src/jobs/cron';
import { jobDefinitions, jobsSettingsFrom } from '../../core/src/jobs/jobs-module';
import { startOptionalServices } from '../../core/src/optional-services';
import { memoryPresence } from '../../core/src/realtime/presence';
import { openStore } from '../../core/src/store/mongo-store';
import { createLogger } from '../../core/src/telemetry/logger';
import { createMetrics } from '../../core/src/telemetry/metrics';
import type { JobRunSummary } from '../../core/src/jobs/job-runner';
import { OpsError, formatMs } from '../cli/output';
import type { CommandContext, CommandHandler, OptionSpec } from '../cli/types';
import { appendAudit } from '../state/audit-log';
import { stateDirOf, whoOf } from '../state/context';

/**
 * `ops jobs list` and `ops jobs run <name> [--dry-run]`: the core's scheduled jobs (retention,
 * conversation archival, orphaned-upload cleanup), run by hand against the database the core's
 * own settings name (MONGODB_URI, MONGODB_DB, MESSAGE_RETENTION_DAYS, S3_BUCKET, ...).
 */
const common: Record<string, OptionSpec> = {
  json: { type: 'boolean', help: 'print the result as JSON on stdout (progress stays on stderr)' },
  'state-dir': { type: 'string', value: '<dir>', help: 'where the audit log lives (default: $OPS_STATE_DIR or var/ops)' },
};

export const specs: Record<string, { usage: string; options: Record<string, OptionSpec> }> = {
  'jobs list': { usage: 'jobs list [--json]', options: common },
  'jobs run': {
    usage: 'jobs run <retention|conversation-archive|orphan-uploads> [--dry-run] [--json]',
    options: { ...common, 'dry-run': { type: 'boolean', help: 'report what the job would do; change nothing' } },
  },
};

/**
 * The core's settings for running jobs by hand: the scheduler and notifications off. Jobs verify no
 * tokens, so without APP_ENV they run with the local defaults (APP_ENV=development), as `npm start` and
 * `npm run token` do; an APP_ENV given in the shell still decides (and staging/production refuse the
 * built-in development key).
 */
function jobsConfig(env: NodeJS.ProcessEnv, overrides: NodeJS.ProcessEnv, next: string) {
  try {
    return loadConfig({ APP_ENV: 'development', ...env, ...overrides, JOBS_SCHEDULER_ENABLED: 'false', NOTIFICATION_WEBHOOK_URL: '' });
  } catch (error) {
    if (error instanceof ConfigError) throw new OpsError(error.message, next);
    throw error;
  }
}

/** The core's jobs on the configured database, without the scheduler or notifications. */
async function withJobs<T>(ctx: CommandContext, fn: (jobs: Awaited<ReturnType<typeof startOptionalServices>>['jobs']) => Promise<T>): Promise<T> {
  const config = jobsConfig(ctx.env, {}, 'export MONGODB_URI=<the core database> and retry');
  const store = await ctx.out.step(`connect to ${config.MONGODB_DB}`, () => openStore(config.MONGODB_URI, config.MONGODB_DB, { poolSize: 2 }));
  const services = await startOptionalServices({
    config,
    store,
    metrics: createMetrics({ version: 'ops', instance: 'ops' }),
    logger: createLogger({ level: 'warn', instance: 'ops', version: 'ops' }),
    presence: memoryPresence(),
  });
  try {
    return await fn(services.jobs);
  } finally {
    await services.stop();
    await store.close();
  }
}

/** The jobs the core's settings define, from the config alone (no database is contacted). */
function offlineCatalog(env: NodeJS.ProcessEnv) {
  const config = jobsConfig(env, { MONGODB_URI: 'mongodb://127.0.0.1:1/unused' }, 'fix the variable named above and retry');
  // Never connected: building the definitions only names collections.
  const db = new MongoClient('mongodb://127.0.0.1:1/unused').db(config.MONGODB_DB);
  const orphanUploads = config.S3_BUCKET ? { deleteOrphans: () => Promise.reject(new Error('not connected')) } : undefined;
  const now = new Date();
  return jobDefinitions(db, jobsSettingsFrom(config), orphanUploads).map((j) => ({
    name: j.name, description: j.description, schedule: j.schedule,
    nextRunAt: j.schedule ? parseCron(j.schedule).next(now).toISOString() : null,
    lastRun: null,
  }));
}

const summaryLine = (r: JobRunSummary) =>
  `${r.job}: ${r.status}${r.dryRun ? ' (dry run)' : ''}, ${r.itemsProcessed} item(s)${r.durationMs !== null ? ` in ${formatMs(r.durationMs)}` : ''}${r.errors.length ? `, ${r.errors.length} error(s): ${r.errors.slice(0, 3).join('; ')}` : ''}`;

function parse(ctx: CommandContext, path: string) {
  return parseArgs({ args: ctx.args, options: specs[path]!.options as never, allowPositionals: true });
}

export const handlers: Record<string, CommandHandler> = {
  'jobs list': async (ctx) => {
    parse(ctx, 'jobs list');
    // The catalog needs no database: without MONGODB_URI it is listed with "last run: unknown".
    const offline = !ctx.env.MONGODB_URI;
    const jobs = offline ? offlineCatalog(ctx.env) : await withJobs(ctx, (j) => j.listJobs());
    const last = (j: (typeof jobs)[number]) => (offline ? 'unknown (set MONGODB_URI to read the job runs)' : j.lastRun ? `${j.lastRun.status} ${j.lastRun.endedAt ?? ''} (${j.lastRun.itemsProcessed} items)` : 'never');
    const lines = jobs.map((j) => `  ${j.name.padEnd(22)} ${(j.schedule ?? 'manual only').padEnd(12)} next ${j.nextRunAt ?? '—'}  last run: ${last(j)}\n      ${j.description}`);
    ctx.out.result({ jobs, lastRunKnown: !offline }, `${lines.join('\n')}\nrun one: ops jobs run <name> --dry-run`);
  },
  'jobs run': async (ctx) => {
    const { values, positionals } = parse(ctx, 'jobs run');
    const name = positionals[0];
    if (!name) throw new OpsError('which job? usage: ops jobs run <name> [--dry-run]', 'ops jobs list', 2);
    const dryRun = values['dry-run'] === true;
    const summary = await withJobs(ctx, (j) => ctx.out.step(`${dryRun ? 'dry-run' : 'run'} ${name}`, () => j.runJob(name, { dryRun, trigger: 'manual' }))).catch((error: Error) => {
      if (/unknown job|no job/i.test(error.message)) throw new OpsError(error.message, 'ops jobs list', 2);
      throw error;
    });
    appendAudit(stateDirOf(ctx), { who: whoOf(ctx.env), env: ctx.env.OPS_ENV ?? 'local', action: `job.${name}`, outcome: summary.status === 'failed' ? 'failed' : 'succeeded', detail: summaryLine(summary), dryRun, itemsProcessed: summary.itemsProcessed });
    ctx.out.result(summary, `${summaryLine(summary)}${Object.keys(summary.details).length ? `\n  ${JSON.stringify(summary.details)}` : ''}`);
    return summary.status === 'failed' ? 1 : 0;
  },
};
