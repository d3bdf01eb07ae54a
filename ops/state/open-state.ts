import path from 'node:path';
import { s3OptionsFromEnv } from '../backup/storage-s3';
import { OpsError } from '../cli/output';
import { dirState } from './dir-state';
import type { OpsState } from './ops-state';
import { s3State } from './s3-state';
import { BACKUP_BUCKET_KEY, stackStateUrl } from '../backup/stack-location';
import { setBackupBucketHint, STATE_URL_KEY, stackBackupBucket, stackSetting, type Resolved } from './stacks';

export interface OpenStateOptions {
  /** --local-state (or OPS_LOCAL_STATE=1): a stack's lock and history on this machine only, on purpose. */
  localState?: boolean;
  /** Where the stack files are (default infra/; tests pass their own). */
  workDir?: string;
}

/**
 * The state backend of an environment. A stack's state is shared by default, at `s3://<backup bucket>/ops`
 * of the stack's committed `switchboard:backup.bucket` (S3 settings as for backups: BACKUP_S3_ENDPOINT,
 * AWS_REGION, AWS credentials), so every operator and CI runner with the checkout lands on the same lock
 * and release history without setting anything. Overrides, in order: `OPS_STATE_URL` (`dir:<path>` for
 * a directory on purpose), then the stack's `switchboard:ops.stateUrl`. A stack with none of them is
 * refused: a lock or a history only this machine sees would mislead ("no releases yet" on a live
 * production). `--local-state` is the explicit, loud escape hatch. The local target always keeps its
 * state in the state directory.
 */
export function openState(env: string, stateDir: string, processEnv: NodeJS.ProcessEnv, options: OpenStateOptions = {}): OpsState {
  if (env === 'local') return dirState(stateDir);
  if (options.localState || processEnv.OPS_LOCAL_STATE === '1') return dirState(stateDir);
  const { value: url, source } = stateUrlOf(env, processEnv, options.workDir) ?? {};
  if (!url) {
    throw new OpsError(
      `no shared state for the stack ${env}: neither ${BACKUP_BUCKET_KEY} nor ${STATE_URL_KEY} is set in infra/Pulumi.${env}.yaml (nor OPS_STATE_URL), so the deploy lock and the release history would exist only on this machine`,
      `${setBackupBucketHint(env)}; or --local-state (OPS_LOCAL_STATE=1) to use this machine's ${stateDir} on purpose`,
      2,
    );
  }
  if (url.startsWith('dir:')) return dirState(path.resolve(url.slice(4)));
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) throw new OpsError(`${source} must be s3://<bucket>/<prefix> or dir:<path>, got "${url}"`, 'e.g. s3://<backup bucket>/ops', 2);
  return s3State({ bucket: match[1]!, prefix: match[2] ?? 'ops', client: s3OptionsFromEnv(processEnv).client ?? {} });
}

/** A stack's state URL and its source: OPS_STATE_URL, else switchboard:ops.stateUrl, else s3://<switchboard:backup.bucket>/ops. */
export function stateUrlOf(env: string, processEnv: NodeJS.ProcessEnv, workDir?: string): Resolved | undefined {
  if (processEnv.OPS_STATE_URL) return { value: processEnv.OPS_STATE_URL, source: 'OPS_STATE_URL' };
  const explicit = stackSetting(env, STATE_URL_KEY, workDir);
  if (explicit) return { value: explicit, source: `${STATE_URL_KEY} in infra/Pulumi.${env}.yaml` };
  const backups = stackBackupBucket(env, workDir);
  return backups && { value: stackStateUrl(backups.bucket), source: `${BACKUP_BUCKET_KEY} in infra/Pulumi.${env}.yaml` };
}

/** Who can see a lock or a history kept in this backend: said in every lock message. */
export function visibility(state: OpsState): string {
  return state.shared ? `shared: every runner sees it at ${state.description}` : `ONLY ON THIS MACHINE (${state.description}): other operators and CI do not see it`;
}
