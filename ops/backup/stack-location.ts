/**
 * Where a stack keeps its backups and its shared ops state, derived from one committed setting: the
 * backup bucket's name (`switchboard:backup.bucket` in infra/Pulumi.<stack>.yaml). The infra program
 * creates the bucket with that name and gives the backup CronJobs `BACKUP_LOCATION`; `ops backup|restore
 * --env <stack>` and the shared state (`ops lock`, `ops releases`, deploys) default to the same places.
 * Both sides call these functions (infra/src/k8s/backup-manifests.ts, ops/state/stacks.ts), so the
 * CronJob and an operator cannot disagree on a prefix. No imports: infra loads this file too.
 */

/** The stack setting that names the backup bucket. */
export const BACKUP_BUCKET_KEY = 'switchboard:backup.bucket';

/** S3 bucket naming rules (3-63 characters, lower-case letters, digits, dots and dashes, no leading/trailing dot or dash). */
export const bucketNamePattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** A stack's backups: its bucket, one prefix per environment (what the CronJobs write and `ops backup --env` reads). */
export const stackBackupLocation = (bucket: string, environment: string): string => `s3://${bucket}/${environment}`;

/** A stack's shared ops state (deploy lock, release history, audit): the `ops` prefix of the same bucket. */
export const stackStateUrl = (bucket: string): string => `s3://${bucket}/ops`;
