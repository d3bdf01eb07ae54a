import * as pulumi from '@pulumi/pulumi';
import { stackBackupLocation } from '../../../ops/backup/stack-location';
import type { AppSpec } from './app-manifests';
import { containerSecurityContext, podSecurityContext } from './security';
import { labels, type Manifest } from './types';

/** The backup jobs' ServiceAccount: bound (IRSA) to the backup role, not the core's. */
export const backupServiceAccount = 'switchboard-backup';

/** The ops CLI in the image (compiled, ops/build/Dockerfile), as the CronJobs run it. */
export const opsCommand = ['node', 'ops/cli/main.js'];

/** Joins strings and Pulumi inputs: a plain string when every part is one (YAML rendering), else an Output. */
export function joinInputs(parts: pulumi.Input<string>[]): pulumi.Input<string> {
  return parts.every((p) => typeof p === 'string') ? parts.join('') : pulumi.interpolate`${pulumi.all(parts).apply((p) => p.join(''))}`;
}

/** BACKUP_LOCATION of a stack: its backup bucket, one prefix per environment, by the formula `ops backup --env <stack>` uses too. */
export const backupLocation = (spec: Pick<AppSpec, 'provisioned' | 'environment'>): pulumi.Input<string> => {
  const bucket = spec.provisioned.backupBucket;
  return typeof bucket === 'string' ? stackBackupLocation(bucket, spec.environment) : pulumi.output(bucket).apply((name) => stackBackupLocation(name, spec.environment));
};

/**
 * Scheduled `ops backup` and, on its own schedule, `ops backup verify --latest`, from the core's
 * image, with the backup role (IRSA). Both push the gauges the backup alerts watch
 * (switchboard_backup_*) to the Pushgateway, so SwitchboardBackupTooOld / …VerifyFailed see real runs.
 */
export function backupJobManifests(spec: AppSpec, irsaAnnotation: string): Manifest[] {
  const { namespace, app } = spec;
  const meta = (name: string) => ({ name, namespace, labels: labels('backup', spec.environment) });
  const env = [
    { name: 'BACKUP_LOCATION', value: backupLocation(spec) },
    { name: 'MONGODB_URI', valueFrom: { secretKeyRef: { name: 'switchboard-secrets', key: 'MONGODB_URI' } } },
    { name: 'MONGODB_DB', value: 'switchboard' },
    { name: 'AWS_REGION', value: spec.env.S3_REGION },
    { name: 'BACKUP_PUSHGATEWAY_URL', value: app.backup.pushgatewayUrl },
    // Records and the audit log name the job, and live in the emptyDir (the root file system is read-only).
    { name: 'OPS_USER', value: `cronjob/${namespace}` },
    { name: 'OPS_ENV', value: spec.environment },
    { name: 'OPS_STATE_DIR', value: '/tmp/ops' },
    // A job has no deploy lock or release history to share: its record is the backup's manifest in S3
    // and its metrics; this keeps ops from asking the stack config (not in the image) for a state URL.
    { name: 'OPS_LOCAL_STATE', value: '1' },
  ];
  const cronJob = (name: string, schedule: string, args: string[]): Manifest => ({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {
      ...meta(name),
      // ops reads MONGODB_URI from its environment only (ops/backup/commands.ts), like the core.
      annotations: { 'checkov.io/skip1': 'CKV_K8S_35=ops backup reads MONGODB_URI from an env var by design; it comes from the Secret via secretKeyRef, never from a ConfigMap' },
    },
    spec: {
      schedule,
      timeZone: 'Etc/UTC',
      // One run at a time; a run missed by more than an hour waits for the next slot (the alert fires).
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels: labels('backup', spec.environment) },
        spec: {
          backoffLimit: 2,
          activeDeadlineSeconds: 4 * 3600,
          ttlSecondsAfterFinished: 7 * 86_400,
          template: {
            metadata: { labels: labels('backup', spec.environment) },
            spec: {
              serviceAccountName: backupServiceAccount,
              automountServiceAccountToken: false,
              restartPolicy: 'Never',
              securityContext: podSecurityContext,
              containers: [
                {
                  name: 'ops',
                  image: app.image,
                  imagePullPolicy: 'Always',
                  command: opsCommand,
                  args,
                  env,
                  resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } },
                  securityContext: containerSecurityContext,
                  volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                },
              ],
              volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } }],
            },
          },
        },
      },
    },
  });
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { ...meta(backupServiceAccount), annotations: { [irsaAnnotation]: spec.provisioned.backupRoleArn } },
      automountServiceAccountToken: false,
    },
    cronJob('switchboard-backup', app.backup.schedule, ['backup', '--json']),
    cronJob('switchboard-backup-verify', app.backup.verifySchedule, ['backup', 'verify', '--latest', '--json']),
  ];
}
