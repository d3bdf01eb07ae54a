import { alertsConfig } from '../../alerts/config';
import { ConfigError, loadConfig, type Config } from '../../core/src/config';
import { jobIndexes } from '../../core/src/jobs/job-store';
import { attachmentIndexes } from '../../core/src/media/attachment-store';
import { storeIndexes, type IndexDeclaration } from '../../core/src/store/mongo-store';
import type { BackupEntry } from '../backup/catalog';

/**
 * The pre-deployment checklist as code: each item is a named check with an injected probe (the real
 * probes are in probes.ts), so every item can be tested alone and a deploy can name what failed.
 */

export type ItemStatus = 'passed' | 'failed' | 'skipped';

export interface ItemOutcome {
  status: ItemStatus;
  detail: string;
}

export interface AuditCounts {
  low: number;
  moderate: number;
  high: number;
  critical: number;
}

export interface FiringAlert {
  name: string;
  severity?: string;
  activeAt?: string;
}

/** What the items talk to. Each returns facts; the items decide pass/fail. */
export interface PreflightProbes {
  /** Runs a local check (tsc, eslint, jest) and reports its exit status and the output tail. */
  command(which: 'typecheck' | 'lint' | 'tests'): Promise<{ ok: boolean; output: string }>;
  /** npm audit of production dependencies; `unavailable` when the audit endpoint cannot be asked. */
  audit(): Promise<{ kind: 'ok'; counts: AuditCounts } | { kind: 'unavailable'; reason: string }>;
  /** Index names per existing collection of `db`; throws when MongoDB does not answer. */
  mongoIndexes(uri: string, db: string): Promise<Map<string, string[]>>;
  redisPing(url: string): Promise<void>;
  /** HeadBucket on the attachments bucket with the core's own S3 settings. */
  s3Bucket(config: Config): Promise<void>;
  /** Every backup at a backup location, newest first, with the S3 settings of `env` (the command's environment, not this process's). */
  backups(location: string, env: NodeJS.ProcessEnv): Promise<BackupEntry[]>;
  /** The certificate the public host presents. */
  certificate(host: string, port: number): Promise<{ validTo: Date; subject: string; trusted: boolean; trustError?: string }>;
  /** Alerts in state `firing` (Prometheus HTTP API /api/v1/alerts). */
  firingAlerts(prometheusUrl: string): Promise<FiringAlert[]>;
}

export interface PreflightContext {
  env: string;
  /** The core settings the environment's instances run with (validated by the core's own schema). */
  settings: Record<string, string>;
  /** The command's environment: CI, OPS_PROMETHEUS_URL, OPS_BACKUP_MAX_AGE_HOURS, the S3 settings of the backup location. */
  opsEnv: NodeJS.ProcessEnv;
  /** Where the environment's backups are: BACKUP_LOCATION, else a stack's s3://<switchboard:backup.bucket>/<environment> (defaultBackupLocation). */
  backupLocation?: string;
  /** Public entry point of the environment (https:// for a TLS check). */
  publicUrl?: string;
  now: () => Date;
  probes: PreflightProbes;
}

export interface PreflightItem {
  /** Stable id for --skip-preflight <id>. */
  id: string;
  /** What the output and a refused deploy name, e.g. "MongoDB reachable". */
  title: string;
  run(ctx: PreflightContext): Promise<ItemOutcome>;
}

const passed = (detail: string): ItemOutcome => ({ status: 'passed', detail });
const failed = (detail: string): ItemOutcome => ({ status: 'failed', detail });
const skipped = (detail: string): ItemOutcome => ({ status: 'skipped', detail });
/** A setting the check needs is missing: optional on the local target (–), a failure (✗) on a stack, where "not checked" must not read as fine. */
const missingSetting = (ctx: PreflightContext, detail: string): ItemOutcome => (ctx.env === 'local' ? skipped(detail) : failed(`${detail}: required on ${ctx.env}`));

/** Where a backup location comes from, named when there is none. */
const noBackupLocation = 'BACKUP_LOCATION, or switchboard:backup.bucket of the stack';

/** Config of the environment, or undefined when it does not validate (the `config` item reports why). */
function configOf(ctx: PreflightContext): Config | undefined {
  try {
    return loadConfig(ctx.settings);
  } catch {
    return undefined;
  }
}

/** The commit CI built, from the common CI variables (GitHub Actions, GitLab, generic). */
export const ciCommit = (env: NodeJS.ProcessEnv): string | undefined => env.GITHUB_SHA ?? env.CI_COMMIT_SHA ?? env.GIT_COMMIT;

/**
 * Type check, lint and tests run locally. In CI (CI=true) the pipeline itself ran `npm test` on this
 * commit before any deploy step can start, so the item records that instead of running it twice.
 */
function localCheck(id: 'typecheck' | 'lint' | 'tests', title: string): PreflightItem {
  return {
    id,
    title,
    async run(ctx) {
      if (ctx.opsEnv.CI === 'true') return skipped(`CI=true: the pipeline's npm test step covers commit ${ciCommit(ctx.opsEnv) ?? '(commit unknown)'}`);
      const result = await ctx.probes.command(id);
      const tail = result.output.trim().split('\n').slice(-5).join('\n');
      return result.ok ? passed('clean') : failed(tail || 'failed (no output)');
    },
  };
}

/** Index names the core creates at start, per collection, for this configuration. */
export function declaredIndexes(config: Pick<Config, 'S3_BUCKET'>): IndexDeclaration[] {
  return [...storeIndexes, ...jobIndexes, ...(config.S3_BUCKET ? attachmentIndexes : [])];
}

export const preflightItems: PreflightItem[] = [
  localCheck('typecheck', 'type check'),
  localCheck('lint', 'lint'),
  localCheck('tests', 'tests'),
  {
    id: 'audit',
    title: 'npm audit (no high/critical)',
    async run(ctx) {
      const result = await ctx.probes.audit();
      if (result.kind === 'unavailable') return failed(`the audit endpoint could not be asked: ${result.reason} (skip with --skip-preflight audit once you checked another way)`);
      const { high, critical, moderate, low } = result.counts;
      const summary = `${critical} critical, ${high} high, ${moderate} moderate, ${low} low in production dependencies`;
      return high + critical > 0 ? failed(`${summary}; see: npm audit --omit=dev`) : passed(summary);
    },
  },
  {
    id: 'config',
    title: 'configuration valid',
    async run(ctx) {
      try {
        const config = loadConfig(ctx.settings);
        return passed(`APP_ENV=${config.APP_ENV}, ${Object.keys(ctx.settings).length} settings`);
      } catch (error) {
        if (error instanceof ConfigError) return failed(error.problems.join('; '));
        throw error;
      }
    },
  },
  {
    id: 'mongodb',
    title: 'MongoDB reachable',
    async run(ctx) {
      const uri = ctx.settings.MONGODB_URI;
      if (!uri) return failed('no MONGODB_URI in the environment');
      const db = ctx.settings.MONGODB_DB ?? 'switchboard';
      const collections = await ctx.probes.mongoIndexes(uri, db);
      return passed(`${db}: ${collections.size} collection(s)`);
    },
  },
  {
    id: 'indexes',
    title: 'MongoDB indexes present',
    async run(ctx) {
      const config = configOf(ctx);
      if (!config?.MONGODB_URI) return missingSetting(ctx, 'needs a valid configuration with MONGODB_URI');
      let collections: Map<string, string[]>;
      try {
        collections = await ctx.probes.mongoIndexes(config.MONGODB_URI, config.MONGODB_DB);
      } catch (error) {
        return skipped(`cannot be checked: ${(error as Error).message.split('\n')[0]} (see "MongoDB reachable")`);
      }
      // A database the core never started on has no collections: the first start creates the indexes.
      if (collections.size === 0) return skipped(`database ${config.MONGODB_DB} is new: the core creates its indexes at first start`);
      const wanted = declaredIndexes(config);
      const missing = wanted.flatMap(({ collection, indexes }) => indexes.filter((ix) => !(collections.get(collection) ?? []).includes(ix.name)).map((ix) => `${collection}.${ix.name}`));
      const total = wanted.reduce((n, d) => n + d.indexes.length, 0);
      return missing.length ? failed(`missing ${missing.join(', ')} (the core creates them at start; create them before a deploy that relies on them)`) : passed(`${total} declared indexes present`);
    },
  },
  {
    id: 'redis',
    title: 'Redis reachable',
    async run(ctx) {
      const url = ctx.settings.REDIS_URL;
      if (!url) return missingSetting(ctx, 'REDIS_URL not configured (one instance)');
      await ctx.probes.redisPing(url);
      return passed('PING answered');
    },
  },
  {
    id: 's3',
    title: 'S3 bucket reachable',
    async run(ctx) {
      const config = configOf(ctx);
      const location = ctx.backupLocation;
      const checked: string[] = [];
      if (config?.S3_BUCKET) {
        await ctx.probes.s3Bucket(config);
        checked.push(`attachments s3://${config.S3_BUCKET}`);
      }
      if (location?.startsWith('s3://')) {
        await ctx.probes.backups(location, ctx.opsEnv);
        checked.push(`backups ${location}`);
      }
      // A bucket is set but the settings do not validate (e.g. the development JWT key outside
      // development): the S3 client needs the validated config, so say why instead of "not configured".
      if (!config && ctx.settings.S3_BUCKET) return skipped([`attachments s3://${ctx.settings.S3_BUCKET} not checked: the configuration is invalid (see "configuration valid")`, ...checked.map((c) => `checked ${c}`)].join('; '));
      return checked.length ? passed(checked.join(', ')) : missingSetting(ctx, `neither S3_BUCKET (attachments) nor an s3:// backup location (${noBackupLocation}) is configured`);
    },
  },
  {
    id: 'tls',
    title: 'TLS certificate valid ≥ 14 days',
    async run(ctx) {
      if (!ctx.publicUrl) return missingSetting(ctx, 'no public URL (OPS_PUBLIC_URL)');
      if (!ctx.publicUrl.startsWith('https://')) return missingSetting(ctx, `public URL ${ctx.publicUrl} is not https`);
      const url = new URL(ctx.publicUrl);
      const cert = await ctx.probes.certificate(url.hostname, Number(url.port || 443));
      const days = (cert.validTo.getTime() - ctx.now().getTime()) / 86_400_000;
      const minDays = alertsConfig.symptoms.certificate.ticketDays;
      const detail = `${url.hostname}: ${cert.subject}, expires ${cert.validTo.toISOString()} (${Math.floor(days)} days)`;
      if (!cert.trusted) return failed(`${detail}, NOT trusted: ${cert.trustError ?? 'unknown reason'}`);
      return days >= minDays ? passed(detail) : failed(`${detail}, less than ${minDays} days; see runbooks/SwitchboardCertificateExpiring.md`);
    },
  },
  {
    id: 'backup',
    title: 'recent verified backup',
    async run(ctx) {
      const location = ctx.backupLocation;
      const maxHours = Number(ctx.opsEnv.OPS_BACKUP_MAX_AGE_HOURS ?? alertsConfig.symptoms.backupRpo.maxAgeHours);
      if (!location) return ctx.env === 'local' ? skipped('BACKUP_LOCATION not set (local target)') : failed(`no backup location (${noBackupLocation}): cannot tell when the last verified backup was taken`);
      const newest = (await ctx.probes.backups(location, ctx.opsEnv)).find((b) => b.status === 'complete' && b.verification === 'verified');
      if (!newest) return failed(`no verified backup at ${location}; run: ops backup --to ${location} && ops backup verify --latest --from ${location}`);
      const ageHours = (ctx.now().getTime() - Date.parse(newest.finishedAt ?? newest.startedAt)) / 3_600_000;
      const detail = `${newest.id}, ${ageHours.toFixed(1)} h old (policy ${maxHours} h)`;
      return ageHours <= maxHours ? passed(detail) : failed(`${detail}; run: ops backup --to ${location} && ops backup verify --latest --from ${location}`);
    },
  },
  {
    id: 'alerts',
    title: 'no alert firing',
    async run(ctx) {
      const url = ctx.opsEnv.OPS_PROMETHEUS_URL;
      if (!url) return missingSetting(ctx, 'OPS_PROMETHEUS_URL not set');
      const firing = await ctx.probes.firingAlerts(url);
      return firing.length ? failed(`firing: ${firing.map((a) => `${a.name}${a.severity ? ` (${a.severity})` : ''}`).join(', ')}; see runbooks/<alert>.md`) : passed(`${url}: none firing`);
    },
  },
];

export const preflightItemIds = preflightItems.map((i) => i.id);
