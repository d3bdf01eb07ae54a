import { ConfigError, loadConfig, type Config } from '../../../core/src/config';
import type { StackConfig } from '../config';
import { irsaAnnotation, type Provisioned } from './app-manifests';
import { stackBackupLocation } from '../../../ops/backup/stack-location';
import { backupServiceAccount } from './backup-manifests';
import { corePod } from './pod-env';
import type { Manifest } from './types';

/* eslint-disable @typescript-eslint/no-explicit-any -- reads rendered manifests, which are untyped JSON */

/**
 * The infra ↔ core contract: the environment a stack gives the core's pod passes the core's own
 * loadConfig, and every feature the stack provisions or configures is switched on in it (media bucket
 * and CDN → attachments, webhook → notifications, retention/archival/attachment limits as configured,
 * backup bucket → scheduled backup and verify jobs, IAM roles → the ServiceAccounts). Returns what is
 * broken, one line each; [] when the stack keeps the contract.
 */
export function contractViolations(manifests: Manifest[], config: StackConfig, provisioned: Provisioned): string[] {
  const problems: string[] = [];
  const { container, env } = corePod(manifests);
  let core: Config;
  try {
    core = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [`the pod's environment fails the core's loadConfig: ${error.message}`];
    throw error;
  }
  const expect = (what: string, actual: unknown, wanted: unknown) => {
    if (JSON.stringify(actual) !== JSON.stringify(wanted)) problems.push(`${what}: the pod has ${JSON.stringify(actual)}, the stack provisions ${JSON.stringify(wanted)}`);
  };
  const { app, aws } = config;
  expect('attachments bucket (S3_BUCKET)', core.S3_BUCKET, provisioned.mediaBucket);
  expect('S3_REGION', core.S3_REGION, aws.region);
  if (core.S3_ACCESS_KEY_ID || core.S3_SECRET_ACCESS_KEY || core.S3_ENDPOINT) problems.push('static S3 keys or a custom endpoint in the pod: the core must use its IRSA role against AWS S3');
  // Each configured setting, as the core parsed it, against the stack's value.
  const settings: [keyof Config, unknown][] = [
    ['ATTACHMENT_MAX_BYTES', app.attachments.maxBytes],
    ['ATTACHMENT_ALLOWED_TYPES', app.attachments.allowedTypes],
    ['ATTACHMENT_UPLOAD_URL_TTL_S', app.attachments.uploadUrlTtlSeconds],
    ['ATTACHMENTS_PER_MESSAGE', app.attachments.perMessage],
    ['ORPHAN_UPLOAD_TTL_HOURS', app.attachments.orphanTtlHours],
    ['ORPHAN_CLEANUP_SCHEDULE', app.attachments.orphanCleanupSchedule],
    ['JOBS_SCHEDULER_ENABLED', true],
    ['MESSAGE_RETENTION_DAYS', app.retention.messageDays],
    ['MESSAGE_RETENTION_MODE', app.retention.mode],
    ['RETENTION_SCHEDULE', app.retention.schedule],
    ['CONVERSATION_ARCHIVE_AFTER_DAYS', app.archive.afterDays],
    ['CONVERSATION_ARCHIVE_SCHEDULE', app.archive.schedule],
    ['NOTIFICATION_PREVIEW_CHARS', app.notifications.previewChars],
    ['NOTIFICATION_MAX_ATTEMPTS', app.notifications.maxAttempts],
  ];
  for (const [key, wanted] of settings) expect(key, core[key], wanted);
  expect('notifications (NOTIFICATION_WEBHOOK_URL)', core.NOTIFICATION_WEBHOOK_URL, app.notifications.webhookUrl);
  if (app.notifications.webhookUrl && !core.NOTIFICATION_WEBHOOK_SECRET) problems.push('notifications: NOTIFICATION_WEBHOOK_SECRET is missing');
  if (!app.notifications.webhookUrl && core.NOTIFICATION_WEBHOOK_SECRET) problems.push('notifications: a webhook secret is given but NOTIFICATION_WEBHOOK_URL is not, so notifications are off');

  const serviceAccount = (name: string) => manifests.find((m) => m.kind === 'ServiceAccount' && m.metadata.name === name);
  expect('core ServiceAccount IAM role (IRSA)', serviceAccount('switchboard-core')?.metadata.annotations?.[irsaAnnotation], provisioned.coreRoleArn);
  expect('backup ServiceAccount IAM role (IRSA)', serviceAccount(backupServiceAccount)?.metadata.annotations?.[irsaAnnotation], provisioned.backupRoleArn);

  const cronJobs = manifests.filter((m) => m.kind === 'CronJob') as (Manifest & { spec: any })[];
  // The ops sub-command a job runs: its arguments up to the first option (`backup`, `backup verify`).
  const subcommand = (c: Manifest & { spec: any }) => (c.spec.jobTemplate.spec.template.spec.containers[0].args as string[]).filter((a, i, all) => !all.slice(0, i + 1).some((x) => x.startsWith('-'))).join(' ');
  const job = (args: string[]) => cronJobs.find((c) => subcommand(c) === args.join(' '));
  for (const [what, args, schedule] of [['scheduled backup', ['backup'], app.backup.schedule], ['scheduled backup verify', ['backup', 'verify'], app.backup.verifySchedule]] as const) {
    const found = job([...args]);
    if (!found) {
      problems.push(`${what}: no CronJob runs \`ops ${args.join(' ')}\` although the stack provisions a backup bucket`);
      continue;
    }
    const pod = found.spec.jobTemplate.spec.template.spec;
    const jobContainer = pod.containers[0];
    const jobEnv = Object.fromEntries((jobContainer.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
    expect(`${what} schedule`, found.spec.schedule, schedule);
    expect(`${what} image`, jobContainer.image, container.image);
    expect(`${what} ServiceAccount`, pod.serviceAccountName, backupServiceAccount);
    expect(`${what} location (BACKUP_LOCATION)`, jobEnv.BACKUP_LOCATION, stackBackupLocation(String(provisioned.backupBucket), config.environment));
    expect(`${what} metrics (BACKUP_PUSHGATEWAY_URL)`, jobEnv.BACKUP_PUSHGATEWAY_URL, app.backup.pushgatewayUrl);
  }
  return problems;
}
