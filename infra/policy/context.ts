import type { StackConfig } from '../src/config';

/** What some rules need to know about the stack besides its resources. */
export interface PolicyContext {
  environment: 'dev' | 'staging' | 'production';
  /** Socket.IO long-polling allowed at the edge (then upstream selection must be sticky). */
  longPolling: boolean;
  /** Recovery point objective: the hourly snapshot interval may not exceed it. */
  rpoHours: number;
}

/** The stack output that carries the context (infra/index.ts exports it). */
export const policyContextOutput = 'policyContext';
export const stackResourceType = 'pulumi:pulumi:Stack';

/** The policy context of a stack's configuration: the program exports it as the `policyContext` output. */
export function policyContext(config: StackConfig): PolicyContext {
  return { environment: config.environment, longPolling: config.edge.longPolling, rpoHours: config.atlas.rpoHours };
}

/**
 * The context as the pack sees it: the root Stack resource's `policyContext` output, which the engine
 * hands to stack policies with the other resources. One source (the stack's config, read by the
 * program), so `pulumi preview --policy-pack` needs no separate policy config that could disagree.
 */
export function contextOf(resources: { type: string; props: Record<string, unknown> }[]): PolicyContext {
  const stack = resources.find((r) => r.type === stackResourceType);
  const context = stack?.props[policyContextOutput] as Partial<PolicyContext> | undefined;
  if (!context || !['dev', 'staging', 'production'].includes(String(context.environment)) || typeof context.longPolling !== 'boolean' || typeof context.rpoHours !== 'number') {
    throw new Error(`the stack exports no valid "${policyContextOutput}" output (${JSON.stringify(context)}): the switchboard policy pack checks the infra/ program, whose index.ts exports it`);
  }
  return context as PolicyContext;
}
