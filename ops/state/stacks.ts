import fs from 'node:fs';
import { closest } from '../cli/did-you-mean';
import { BACKUP_BUCKET_KEY, bucketNamePattern, stackBackupLocation } from '../backup/stack-location';
import { OpsError } from '../cli/output';
import { infraDir, readStackConfig, stackConfigPath } from '../targets/kubernetes/stack-file';

/**
 * The environments ops knows: `local` and every Pulumi stack with a committed `infra/Pulumi.<stack>.yaml`.
 * `--env` is checked against this list before anything runs, so a typo (`--env prod`) is refused with
 * "did you mean" instead of planning against a stack that does not exist.
 */
export function knownStacks(workDir = infraDir): string[] {
  let files: string[];
  try {
    files = fs.readdirSync(workDir);
  } catch {
    return [];
  }
  return files.map((f) => /^Pulumi\.([^.].*)\.yaml$/.exec(f)?.[1]).filter((s): s is string => Boolean(s)).sort();
}

/** Refuses an environment that is neither `local` nor a stack of infra/ (exit 2, the known ones listed). */
export function requireKnownEnv(env: string, workDir = infraDir): void {
  if (env === 'local') return;
  const stacks = knownStacks(workDir);
  if (stacks.includes(env)) return;
  const known = ['local', ...stacks];
  const guess = closest(env, known)[0];
  throw new OpsError(
    `unknown environment "${env}": no infra/Pulumi.${env}.yaml. Known: ${known.join(', ')}${guess ? `. Did you mean "${guess}"?` : ''}`,
    guess ? `rerun with --env ${guess}` : 'pulumi stack init <name> in infra/ and commit its Pulumi.<name>.yaml, or use --env local',
    2,
  );
}

/**
 * One setting of a stack's committed config (e.g. `switchboard:ops.stateUrl`, `switchboard:cluster.context`):
 * what every operator's checkout agrees on, so nobody has to export it. Undefined when unset.
 */
export function stackSetting(stack: string, key: string, workDir = infraDir): string | undefined {
  return readStackConfig(stackConfigPath(stack, workDir), key);
}

/** Stack config keys ops reads (documented in infra/README.md); the backup bucket's is BACKUP_BUCKET_KEY (ops/backup/stack-location.ts). */
export const STATE_URL_KEY = 'switchboard:ops.stateUrl';
export const KUBE_CONTEXT_KEY = 'switchboard:cluster.context';

/**
 * A stack's committed backup bucket (`switchboard:backup.bucket`) and the environment that names its
 * backup prefix (`switchboard:environment`, as the CronJobs use it; the stack name when unset).
 * Undefined when the stack does not set the bucket; a malformed name is refused here, before S3 is asked.
 */
export function stackBackupBucket(stack: string, workDir = infraDir): { bucket: string; environment: string } | undefined {
  const bucket = stackSetting(stack, BACKUP_BUCKET_KEY, workDir);
  if (bucket === undefined) return undefined;
  if (!bucketNamePattern.test(bucket)) {
    throw new OpsError(`${BACKUP_BUCKET_KEY} in infra/Pulumi.${stack}.yaml is not an S3 bucket name: "${bucket}"`, `cd infra && pulumi config set --path --stack ${stack} ${BACKUP_BUCKET_KEY} <name> (lower-case letters, digits, dots, dashes; 3-63 characters)`, 2);
  }
  return { bucket, environment: stackSetting(stack, 'switchboard:environment', workDir) ?? stack };
}

/** A setting's value and where it came from (printed, so an operator sees which one won). */
export interface Resolved {
  value: string;
  source: string;
}

/**
 * The default backup location of `ops backup|restore … --env <env>`: `BACKUP_LOCATION` when set (an
 * override: a drill against a copy, a test), else a committed stack's `s3://<backup bucket>/<environment>`,
 * the location its CronJobs write. Undefined for `local` (and outside a checkout, e.g. in the image,
 * where the CronJob sets BACKUP_LOCATION) when BACKUP_LOCATION is unset.
 */
export function defaultBackupLocation(env: string, processEnv: NodeJS.ProcessEnv, workDir = infraDir): Resolved | undefined {
  if (processEnv.BACKUP_LOCATION) return { value: processEnv.BACKUP_LOCATION, source: 'BACKUP_LOCATION' };
  if (env === 'local' || !knownStacks(workDir).includes(env)) return undefined;
  const stack = stackBackupBucket(env, workDir);
  return stack && { value: stackBackupLocation(stack.bucket, stack.environment), source: `${BACKUP_BUCKET_KEY} in infra/Pulumi.${env}.yaml` };
}

/** What an operator runs to give a stack its backup bucket setting (printed by every refusal that needs it). */
export function setBackupBucketHint(stack: string): string {
  return `cd infra && pulumi config set --path --stack ${stack} ${BACKUP_BUCKET_KEY} "$(pulumi stack output backupBucket --stack ${stack})" (a stack not yet up: any free name, e.g. switchboard-${stack}-backups-<account id>), then commit infra/Pulumi.${stack}.yaml`;
}
