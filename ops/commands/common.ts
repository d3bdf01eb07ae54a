import { OpsError } from '../cli/output';
import type { CommandContext } from '../cli/types';
import { envOf, stateDirOf } from '../state/context';
import type { OpsState } from '../state/ops-state';
import { openState } from '../state/open-state';
import { createKubernetesTarget, type KubernetesTargetOptions } from '../targets/kubernetes/kubernetes-target';
import { createLocalTarget } from '../targets/local/local-target';
import type { Target } from '../targets/target';

/** Test seam: the Pulumi runner, registry, pod lister, smoke test and HTTP probe the Kubernetes target uses (doubles in tests). */
type KubernetesOverrides = Partial<Omit<KubernetesTargetOptions, 'stack' | 'stateDir' | 'env'>>;
let kubernetesOverrides: KubernetesOverrides = {};
export function injectKubernetes(overrides: KubernetesOverrides): void {
  kubernetesOverrides = overrides;
}

/** The environment, its state backend (lock, releases, audit) and the state directory. */
export function stateFor(ctx: Pick<CommandContext, 'values' | 'env'>): { env: string; stateDir: string; state: OpsState } {
  const env = envOf(ctx);
  const stateDir = stateDirOf(ctx);
  const state = openState(env, stateDir, ctx.env, { localState: ctx.values['local-state'] === true });
  return { env, stateDir, state };
}

/** The target for --env: `local`, or a Kubernetes stack driven through the Pulumi Automation API. */
export function targetFor(ctx: Pick<CommandContext, 'values' | 'env'>): { target: Target; env: string; stateDir: string; state: OpsState } {
  const { env, stateDir, state } = stateFor(ctx);
  const target = env === 'local' ? createLocalTarget({ stateDir, env: ctx.env }) : createKubernetesTarget({ stack: env, stateDir, env: ctx.env, ...kubernetesOverrides });
  return { target, env, stateDir, state };
}

export function requireLocal(env: string, command: string): void {
  if (env !== 'local') throw new OpsError(`ops ${command} only applies to the local target`, `ops ${command} --env local`, 2);
}
