import { parseArgs } from 'node:util';
import type { MongoClient } from 'mongodb';
import { OpsError } from '../cli/output';
import type { CommandContext, CommandHandler, OptionSpec } from '../cli/types';
import { withCommandLock } from '../commands/command-lock';
import { stateDirOf, whoOf } from '../state/context';
import { openState } from '../state/open-state';
import { defaultBackupLocation, knownStacks, setBackupBucketHint } from '../state/stacks';
import { setAuditContext } from './audit';
import { runBackup } from './backup';
import { listBackups, resolveBackupId } from './catalog';
import { parseCompression } from './codec';
import { BackupError } from './errors';
import { forwardOnlyCollections } from './forward-only';
import { liveStateCollections } from './live-state';
import { backupMetricNames, publishBackupMetric } from './metrics';
import { connectMongo } from './mongo';
import { openBackupStore } from './open-store';
import { s3OptionsFromEnv } from './storage-s3';
import { formatBytes, formatDuration, type ProgressSink } from './progress';
import { runPrune } from './prune';
import { runRestore } from './restore';
import { verifyToText } from './report';
import { runVerify } from './verify';

/**
 * `ops backup`, `ops backup list|prune|verify` and `ops restore`. The registry (ops/cli/registry.ts)
 * loads this module lazily and calls `handlers[<path>]`; these handlers parse their own options.
 * Settings: BACKUP_LOCATION (dir:<path> | s3://bucket/prefix; default for a stack: its backup bucket, see
 * defaultBackupLocation in ops/state/stacks.ts), MONGODB_URI, MONGODB_DB (the live
 * database), BACKUP_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, BACKUP_SSE, BACKUP_SSE_KMS_KEY_ID,
 * BACKUP_METRICS_FILE / BACKUP_PUSHGATEWAY_URL (the gauges the backup alerts watch).
 */

const common: Record<string, OptionSpec> = {
  json: { type: 'boolean', help: 'print the result as JSON on stdout (progress stays on stderr)' },
  env: { type: 'string', value: '<env>', help: 'environment recorded in the audit log (default: $OPS_ENV or local)' },
  'state-dir': { type: 'string', value: '<dir>', help: 'where the audit log lives (default: $OPS_STATE_DIR or var/ops)' },
};
const location = (flag: 'to' | 'from'): Record<string, OptionSpec> => ({
  [flag]: { type: 'string', value: 'dir:<path>|s3://bucket/prefix', help: 'backup location (default: $BACKUP_LOCATION, else with --env <stack> s3://<switchboard:backup.bucket>/<environment>)' },
});
/** Atlas Cloud Backup (ops/atlas): the cluster's snapshots and point-in-time restores instead of logical backups. */
const atlas: Record<string, OptionSpec> = {
  atlas: { type: 'boolean', help: 'Atlas Cloud Backup of the cluster instead of a logical backup (ATLAS_GROUP_ID, ATLAS_CLUSTER, API key or service account)' },
  cluster: { type: 'string', value: '<name>', help: 'with --atlas: the cluster (default: $ATLAS_CLUSTER)' },
};
const atlasModule = () => require('../atlas/commands') as typeof import('../atlas/commands');

const mongo: Record<string, OptionSpec> = {
  uri: { type: 'string', value: '<mongodb-uri>', help: 'MongoDB connection string (default: $MONGODB_URI)' },
  db: { type: 'string', value: '<database>', help: 'the live database (default: $MONGODB_DB or switchboard)' },
};

/** Usage and options per command, in the registry's OptionSpec shape (for --help). */
export const specs: Record<string, { usage: string; options: Record<string, OptionSpec> }> = {
  backup: {
    usage: 'backup [--to s3://bucket/prefix | --to dir:<path>] [--collections a,b] [--compress gzip|zstd|none] [--json]  |  backup --atlas [--cluster <name>] [--retention-days <n>]',
    options: {
      ...common, ...location('to'), ...mongo, ...atlas,
      'retention-days': { type: 'string', value: '<n>', help: 'with --atlas: keep the on-demand snapshot n days (default 7)' },
      collections: { type: 'string', value: 'a,b', help: 'only these collections (default: all)' },
      compress: { type: 'string', value: 'gzip|zstd|none', help: 'archive compression (default gzip; zstd needs Node >= 22.15)' },
      reason: { type: 'string', value: '<text>', help: 'recorded in the manifest (default: manual)' },
    },
  },
  'backup list': { usage: 'backup list [--from <location>] [--json]  |  backup list --atlas [--cluster <name>]', options: { ...common, ...location('from'), ...atlas, to: { type: 'string', value: '<location>', help: 'same as --from' } } },
  'backup prune': {
    usage: 'backup prune --keep-daily N --keep-weekly N [--from <location>] [--dry-run] [--json]',
    options: {
      ...common, ...location('from'), to: { type: 'string', value: '<location>', help: 'same as --from' },
      'keep-daily': { type: 'string', value: '<n>', help: 'keep the newest backup of each of the last n days that have one' },
      'keep-weekly': { type: 'string', value: '<n>', help: 'keep the newest backup of each of the last n ISO weeks that have one' },
      'dry-run': { type: 'boolean', help: 'list exactly what would be deleted and delete nothing' },
    },
  },
  'backup verify': {
    usage: 'backup verify [<backup>|--latest] [--from <location>] [--json]',
    options: { ...common, ...location('from'), ...mongo, to: { type: 'string', value: '<location>', help: 'same as --from' }, latest: { type: 'boolean', help: 'the newest complete backup (default)' } },
  },
  'backup drill': {
    usage: 'backup drill [--from <location>] [--rto <duration>] [--last] [--json]',
    options: {
      ...common, ...location('from'), ...mongo,
      rto: { type: 'string', value: '<duration>', help: 'recovery time objective the restore must meet, e.g. 30m (default: $OPS_RTO_TARGET or 1h)' },
      last: { type: 'boolean', help: 'show the last drill instead of running one' },
    },
  },
  restore: {
    usage: 'restore <backup>|latest [--from <location>] [--into <database>] [--collections a,b] [--drop] [--yes] [--lock-wait <duration>] [--json]  |  restore --atlas --point-in-time <iso>|--snapshot <id> --into <cluster>',
    options: {
      ...common, ...location('from'), ...mongo, ...atlas,
      into: { type: 'string', value: '<database>|<cluster>', help: 'target database (default: a new scratch database); with --atlas the target cluster (all its data is replaced)' },
      'point-in-time': { type: 'string', value: '<iso>', help: 'with --atlas: restore the cluster as it was at this moment (continuous cloud backup)' },
      snapshot: { type: 'string', value: '<id>', help: 'with --atlas: restore this snapshot (ops backup list --atlas)' },
      collections: { type: 'string', value: 'a,b', help: 'only these collections' },
      drop: { type: 'boolean', help: 'drop the target collections first (required when they hold data)' },
      yes: { type: 'boolean', short: 'y', help: 'confirm restoring into the live database (with --into <live> --drop)' },
      'lock-wait': { type: 'string', value: '<duration>', help: 'into the live database: wait up to this long for the environment\'s lock (default: refuse at once)' },
    },
  },
};

type Values = Record<string, string | boolean | undefined>;

function parse(name: string, ctx: CommandContext): { values: Values; positionals: string[] } {
  const spec = specs[name]!;
  const options = Object.fromEntries(Object.entries(spec.options).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}) }]));
  try {
    const parsed = parseArgs({ args: ctx.args, options, strict: true, allowPositionals: true });
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (error) {
    throw new OpsError((error as Error).message, `ops ${name} --help (usage: ops ${spec.usage})`, 2);
  }
}

const auditContextOf = (ctx: CommandContext, values: Values) => {
  const stateDir = stateDirOf({ values, env: ctx.env });
  const env = envName(ctx, values);
  return { stateDir, env, who: whoOf(ctx.env), state: openState(env, stateDir, ctx.env) };
};

/** Wraps a handler: parses options, sets the audit context, maps BackupError to OpsError (message + next step). */
function command(name: string, run: (ctx: CommandContext, values: Values, positionals: string[], progress: ProgressSink) => Promise<number>): CommandHandler {
  return async (ctx) => {
    const { values, positionals } = parse(name, ctx);
    setAuditContext(auditContextOf(ctx, values));
    try {
      return await run(ctx, values, positionals, { write: (line) => ctx.out.info(line) });
    } catch (error) {
      if (error instanceof BackupError) throw new OpsError(`${error.message} [${error.code}]`, error.hint, error.exitCode);
      throw error;
    } finally {
      setAuditContext(undefined);
    }
  };
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: string | boolean | undefined): string[] | undefined => str(v)?.split(',').map((s) => s.trim()).filter(Boolean);
const envName = (ctx: CommandContext, values: Values): string => str(values.env) ?? ctx.env.OPS_ENV ?? 'local';

/**
 * --to/--from, else BACKUP_LOCATION, else the stack's s3://<switchboard:backup.bucket>/<environment>
 * (where its CronJobs write): `ops backup --env production` needs no export. A default is printed with
 * its source, so an override in the shell is never silent.
 */
function storeOf(ctx: CommandContext, values: Values) {
  const flag = str(values.to) ?? str(values.from);
  const env = envName(ctx, values);
  const resolved = flag === undefined ? defaultBackupLocation(env, ctx.env) : undefined;
  if (flag === undefined && !resolved) {
    throw new BackupError('usage', `no backup location for ${env}: pass --to/--from dir:<path> or s3://bucket/prefix, or set BACKUP_LOCATION`,
      knownStacks().includes(env) ? setBackupBucketHint(env) : 'e.g. --to dir:var/backups, or --env <stack> for the stack\'s backup bucket');
  }
  if (resolved) ctx.out.info(`backup location: ${resolved.value} (${resolved.source})`);
  return openBackupStore(flag ?? resolved!.value, s3OptionsFromEnv(ctx.env));
}
const liveDb = (ctx: CommandContext, values: Values) => str(values.db) ?? ctx.env.MONGODB_DB ?? 'switchboard';

async function withMongo<T>(ctx: CommandContext, values: Values, fn: (client: MongoClient) => Promise<T>): Promise<T> {
  const uri = str(values.uri) ?? ctx.env.MONGODB_URI;
  if (!uri) throw new BackupError('usage', 'no MongoDB to talk to', 'set MONGODB_URI or pass --uri mongodb://...');
  const client = await connectMongo(uri);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export const handlers: Record<string, CommandHandler> = {
  backup: command('backup', async (ctx, values, _p, progress) => {
    if (values.atlas) return atlasModule().atlasBackup(ctx, values, progress);
    const store = storeOf(ctx, values);
    const compression = parseCompression(str(values.compress));
    const manifest = await withMongo(ctx, values, (client) =>
      runBackup({ client, database: liveDb(ctx, values), store, collections: list(values.collections), compression, reason: str(values.reason), progress }));
    await publishBackupMetric(backupMetricNames.lastSuccess, Math.floor(Date.parse(manifest.finishedAt) / 1000), ctx.env)
      .catch((error: Error) => ctx.out.warn(`backup done, but its metric was not published: ${error.message}`));
    const lines = manifest.collections.map((c) => `  ${c.name.padEnd(16)} ${String(c.documents).padStart(10)} docs  ${formatBytes(c.archiveBytes).padStart(10)}  sha256 ${c.contentSha256.slice(0, 16)}…`);
    ctx.out.result({ ok: true, location: store.description, manifest },
      `backup ${manifest.id} written to ${store.description}\n${lines.join('\n')}\n  total ${manifest.totals.documents} docs, ${formatBytes(manifest.totals.archiveBytes)} (${manifest.compression})\n` +
      `  consistency: ${manifest.consistency === 'snapshot' ? `one snapshot${manifest.atClusterTime ? ` at cluster time ${manifest.atClusterTime}` : ''}` : `per collection (${manifest.consistencyReason})`}\nnext: ops backup verify ${manifest.id}`);
    return 0;
  }),

  'backup list': command('backup list', async (ctx, values) => {
    if (values.atlas) return atlasModule().atlasList(ctx, values);
    const store = storeOf(ctx, values);
    const entries = await listBackups(store);
    const rows = entries.map((e) => `${e.id.padEnd(44)} ${e.status.padEnd(10)} ${e.startedAt}  ${formatBytes(e.bytes).padStart(10)}  ${String(e.documents ?? '-').padStart(9)} docs  ${e.verification}${e.verifiedAt ? ` ${e.verifiedAt}` : ''}`);
    ctx.out.result({ ok: true, location: store.description, backups: entries.map(({ keys: _k, ...rest }) => rest) },
      entries.length ? `backups at ${store.description} (newest first):\n${rows.join('\n')}` : `no backups at ${store.description}\nnext: ops backup --to ${store.description}`);
    return 0;
  }),

  'backup prune': command('backup prune', async (ctx, values) => {
    if (values['keep-daily'] === undefined && values['keep-weekly'] === undefined) {
      throw new BackupError('usage', 'say what to keep: --keep-daily N and/or --keep-weekly N', 'e.g. ops backup prune --keep-daily 7 --keep-weekly 4 --dry-run');
    }
    const store = storeOf(ctx, values);
    const dryRun = values['dry-run'] === true;
    const plan = await runPrune(store, { keepDaily: Number(values['keep-daily'] ?? 0), keepWeekly: Number(values['keep-weekly'] ?? 0) }, { dryRun });
    const verb = dryRun ? 'would delete' : 'deleted';
    const human = [
      `${verb} ${plan.delete.length} backup(s) at ${store.description}:`,
      ...plan.delete.map((d) => `  - ${d.id} (${d.reason}, ${formatBytes(d.bytes)})`),
      `kept ${plan.keep.length}:`,
      ...plan.keep.map((k) => `  + ${k.id} (${k.reasons.join('; ')})`),
    ].join('\n');
    ctx.out.result({ ok: true, dryRun, location: store.description, ...plan }, human);
    return 0;
  }),

  'backup verify': command('backup verify', async (ctx, values, positionals, progress) => {
    const store = storeOf(ctx, values);
    const backupId = await resolveBackupId(store, values.latest ? 'latest' : positionals[0]);
    const record = await withMongo(ctx, values, (client) => runVerify({ client, store, backupId, liveDatabase: liveDb(ctx, values), progress }));
    await publishBackupMetric(backupMetricNames.lastVerifySuccess, record.ok ? 1 : 0, ctx.env)
      .catch((error: Error) => ctx.out.warn(`verification recorded, but its metric was not published: ${error.message}`));
    ctx.out.result({ ok: record.ok, location: store.description, verification: record }, verifyToText(record));
    return record.ok ? 0 : 1;
  }),

  'backup drill': command('backup drill', async (ctx, values, _p, progress) => {
    const { lastDrill, runDrill } = require('./drill') as typeof import('./drill');
    const describe = (d: NonNullable<ReturnType<typeof lastDrill>>) =>
      `restore drill ${d.ok ? 'PASSED' : 'FAILED'} at ${d.at}: ${d.backupId}, ${d.documents} docs restored and verified in ${formatDuration(d.durationMs / 1000)} (RTO target ${formatDuration(d.rtoTargetMs / 1000)}${d.withinRto ? '' : ', MISSED'})${d.verification.ok ? '' : `; verification failed${d.verification.error ? `: ${d.verification.error}` : ''}`}`;
    if (values.last) {
      const audit = auditContextOf(ctx, values);
      const last = lastDrill(audit.stateDir, audit.env);
      ctx.out.result({ ok: true, last: last ?? null }, last ? describe(last) : 'no restore drill recorded yet\nnext: ops backup drill');
      return 0;
    }
    const store = storeOf(ctx, values);
    const backupId = await resolveBackupId(store, 'latest');
    const { parseDuration } = require('../state/context') as typeof import('../state/context');
    const rtoTargetMs = parseDuration(str(values.rto) ?? ctx.env.OPS_RTO_TARGET ?? '1h');
    const record = await withMongo(ctx, values, (client) => runDrill({ client, store, backupId, liveDatabase: liveDb(ctx, values), rtoTargetMs, progress, env: ctx.env }));
    ctx.out.result({ ok: record.ok, drill: record }, describe(record));
    return record.ok ? 0 : 1;
  }),

  restore: command('restore', async (ctx, values, positionals, progress) => {
    if (values.atlas) return atlasModule().atlasRestore(ctx, values, progress);
    if (!positionals[0]) throw new BackupError('usage', 'which backup? ops restore <backup-id>|latest', 'ops backup list shows them');
    const store = storeOf(ctx, values);
    const backupId = await resolveBackupId(store, positionals[0]);
    const restore = () => withMongo(ctx, values, (client) => runRestore({
      client, store, backupId, into: str(values.into), liveDatabase: liveDb(ctx, values),
      collections: list(values.collections), drop: values.drop === true, yes: values.yes === true, progress,
    }));
    // Into the live database: the environment's lock (no deploy, rollback or maintenance change meanwhile).
    const env = envName(ctx, values);
    const result = str(values.into) === liveDb(ctx, values)
      ? await withCommandLock({ values, env: ctx.env, out: ctx.out }, { env, state: openState(env, stateDirOf({ values, env: ctx.env }), ctx.env), action: 'restore', message: `restore ${backupId} into the live database ${liveDb(ctx, values)}` }, restore)
      : await restore();
    const rows = result.collections.map((c) => (c.live !== undefined
      ? `  ${c.name.padEnd(16)} kept the target's ${c.live} ${liveStateCollections[c.name] ?? 'documents'} (the running fleet's own state; the backup's ${c.expected} not restored)`
      : `  ${c.name.padEnd(16)} ${String(c.restored).padStart(10)} / ${c.expected} restored${c.failed ? `, ${c.failed} FAILED (${c.firstError})` : ''}`));
    const kept = [
      ...result.collections.filter((c) => c.kept).map((c) => `  kept ${c.kept} ${forwardOnlyCollections[c.name]?.label ?? c.name} newer than the backup (what was ended stays ended)`),
      ...result.collections.filter((c) => c.departed).map((c) => `  deleted ${c.departed} restored memberships ended after the backup (removed members stay removed)`),
    ];
    ctx.out.result({ ok: result.ok, location: store.description, restore: result },
      `${result.ok ? 'restored' : 'restore FAILED for'} backup ${backupId} into ${result.scratch ? 'scratch ' : ''}database ${result.database} in ${formatDuration(result.durationMs / 1000)}` +
      `${result.safetyBackupId ? `\n  safety backup of the previous data: ${result.safetyBackupId}` : ''}\n${[...rows, ...kept].join('\n')}`);
    return result.ok ? 0 : 1;
  }),
};
