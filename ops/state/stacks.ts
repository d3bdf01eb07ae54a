import fs from 'node:fs';
import { closest } from '../cli/did-you-mean';
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

/** Stack config keys ops reads (documented in infra/README.md). */
export const STATE_URL_KEY = 'switchboard:ops.stateUrl';
export const KUBE_CONTEXT_KEY = 'switchboard:cluster.context';
