import path from 'node:path';
import { s3OptionsFromEnv } from '../backup/storage-s3';
import { OpsError } from '../cli/output';
import { dirState } from './dir-state';
import type { OpsState } from './ops-state';
import { s3State } from './s3-state';
import { STATE_URL_KEY, stackSetting } from './stacks';

export interface OpenStateOptions {
  /** --local-state (or OPS_LOCAL_STATE=1): a stack's lock and history on this machine only, on purpose. */
  localState?: boolean;
  /** Where the stack files are (default infra/; tests pass their own). */
  workDir?: string;
}

/**
 * The state backend of an environment. A stack's state is shared by default: its URL comes from the
 * stack's committed config `switchboard:ops.stateUrl` (`s3://<backup bucket>/ops`; S3 settings as for
 * backups: BACKUP_S3_ENDPOINT, AWS_REGION, AWS credentials), so every operator and CI runner with the
 * checkout lands on the same lock and release history without exporting anything. `OPS_STATE_URL`
 * overrides it (`dir:<path>` for a directory on purpose). A stack with neither is refused: a lock or a
 * history only this machine sees would mislead ("no releases yet" on a live production). `--local-state`
 * is the explicit, loud escape hatch. The local target always keeps its state in the state directory.
 */
export function openState(env: string, stateDir: string, processEnv: NodeJS.ProcessEnv, options: OpenStateOptions = {}): OpsState {
  if (env === 'local') return dirState(stateDir);
  if (options.localState || processEnv.OPS_LOCAL_STATE === '1') return dirState(stateDir);
  const fromStack = processEnv.OPS_STATE_URL ? undefined : stackSetting(env, STATE_URL_KEY, options.workDir);
  const url = processEnv.OPS_STATE_URL ?? fromStack;
  const source = processEnv.OPS_STATE_URL ? 'OPS_STATE_URL' : `${STATE_URL_KEY} in infra/Pulumi.${env}.yaml`;
  if (!url) {
    throw new OpsError(
      `no shared state for the stack ${env}: ${STATE_URL_KEY} is not set in infra/Pulumi.${env}.yaml (nor OPS_STATE_URL), so the deploy lock and the release history would exist only on this machine`,
      `cd infra && pulumi config set --path --stack ${env} ${STATE_URL_KEY} s3://$(pulumi stack output backupBucket --stack ${env})/ops, commit it; or --local-state (OPS_LOCAL_STATE=1) to use this machine's ${stateDir} on purpose`,
      2,
    );
  }
  if (url.startsWith('dir:')) return dirState(path.resolve(url.slice(4)));
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) throw new OpsError(`${source} must be s3://<bucket>/<prefix> or dir:<path>, got "${url}"`, 'e.g. s3://<backup bucket>/ops', 2);
  return s3State({ bucket: match[1]!, prefix: match[2] ?? 'ops', client: s3OptionsFromEnv(processEnv).client ?? {} });
}

/** Who can see a lock or a history kept in this backend: said in every lock message. */
export function visibility(state: OpsState): string {
  return state.shared ? `shared: every runner sees it at ${state.description}` : `ONLY ON THIS MACHINE (${state.description}): other operators and CI do not see it`;
}
