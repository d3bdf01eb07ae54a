import type { StackConfig } from '../config';

/* eslint-disable @typescript-eslint/no-explicit-any -- rules read provider inputs, which are untyped JSON */

/** One resource as the engine would receive it: type token, logical name, resolved inputs. */
export interface PolicyResource {
  type: string;
  name: string;
  id?: string;
  inputs: Record<string, any>;
}

export interface PolicyContext {
  environment: 'dev' | 'staging' | 'production';
  /** Socket.IO long-polling allowed at the edge (then upstream selection must be sticky). */
  longPolling: boolean;
  /** Recovery point objective: the hourly snapshot interval may not exceed it. */
  rpoHours: number;
}

/** The policy context of a stack's configuration. */
export function policyContext(config: StackConfig): PolicyContext {
  return { environment: config.environment, longPolling: config.edge.longPolling, rpoHours: config.atlas.rpoHours };
}

export interface PolicyRule {
  name: string;
  /** Where the rule comes from: the issue, the seeds, the brief, CIS, AWS or Atlas guidance. */
  anchor: string;
  description: string;
  /** Violation messages (empty: compliant). */
  check(resources: PolicyResource[], context: PolicyContext): string[];
}

export interface Violation {
  rule: string;
  message: string;
}

export const ofType = (resources: PolicyResource[], type: string) => resources.filter((r) => r.type === type);
export const ofKind = (resources: PolicyResource[], kind: string) => resources.filter((r) => r.type.startsWith('kubernetes:') && r.inputs.kind === kind);
export const parseJson = (value: unknown): any => (typeof value === 'string' ? JSON.parse(value) : value);
export const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
export const containers = (deployment: PolicyResource): any[] => podSpecOf(deployment).containers ?? [];

/** The pod template's spec of a Deployment (spec.template) or a CronJob (spec.jobTemplate.spec.template). */
export const podSpecOf = (workload: PolicyResource): any => (workload.inputs.kind === 'CronJob' ? workload.inputs.spec?.jobTemplate?.spec?.template?.spec : workload.inputs.spec?.template?.spec) ?? {};

/** Everything that runs pods: the core's Deployment and the backup CronJobs. */
export const workloads = (resources: PolicyResource[]) => [...ofKind(resources, 'Deployment'), ...ofKind(resources, 'CronJob')];
