import path from 'node:path';
import { s3OptionsFromEnv } from '../backup/storage-s3';
import { OpsError } from '../cli/output';
import { dirState } from './dir-state';
import type { OpsState } from './ops-state';
import { s3State } from './s3-state';

/**
 * The state backend of an environment. `OPS_STATE_URL=s3://<bucket>/<prefix>` (production: the backup
 * bucket's `ops` prefix; S3 settings as for backups: BACKUP_S3_ENDPOINT, AWS_REGION, AWS credentials)
 * makes every runner share one lock and release history for the Kubernetes stacks. The local target
 * always keeps its state in the state directory, next to its release builds.
 */
export function openState(env: string, stateDir: string, processEnv: NodeJS.ProcessEnv): OpsState {
  const url = processEnv.OPS_STATE_URL;
  if (env === 'local' || !url) return dirState(stateDir);
  if (url.startsWith('dir:')) return dirState(path.resolve(url.slice(4)));
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) throw new OpsError(`OPS_STATE_URL must be s3://<bucket>/<prefix> or dir:<path>, got "${url}"`, 'export OPS_STATE_URL=s3://<backup bucket>/ops', 2);
  return s3State({ bucket: match[1]!, prefix: match[2] ?? 'ops', client: s3OptionsFromEnv(processEnv).client ?? {} });
}
