import { OpsError } from '../cli/output';
import type { CommandContext } from '../cli/types';
import { envOf, stateDirOf } from '../state/context';
import { createKubernetesTarget, type KubernetesTargetOptions } from '../targets/kubernetes/kubernetes-target';
import { createLocalTarget } from '../targets/local/local-target';
import type { Target } from '../targets/target';

/** Test seam: the Pulumi runner and HTTP probe the Kubernetes target uses (a recorded fake in tests). */
let kubernetesOverrides: Partial<Pick<KubernetesTargetOptions, 'runner' | 'probe' | 'verifyTimeoutMs' | 'pollMs'>> = {};
export function injectKubernetes(overrides: typeof kubernetesOverrides): void {
  kubernetesOverrides = overrides;
}

/** The target for --env: `local`, or a Kubernetes stack driven through the Pulumi Automation API. */
export function targetFor(ctx: Pick<CommandContext, 'values' | 'env'>): { target: Target; env: string; stateDir: string } {
  const env = envOf(ctx);
  const stateDir = stateDirOf(ctx);
  const target = env === 'local' ? createLocalTarget({ stateDir, env: ctx.env }) : createKubernetesTarget({ stack: env, stateDir, env: ctx.env, ...kubernetesOverrides });
  return { target, env, stateDir };
}

export function requireLocal(env: string, command: string): void {
  if (env !== 'local') throw new OpsError(`ops ${command} only applies to the local target`, `ops ${command} --env local`, 2);
}
