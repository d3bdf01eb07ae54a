import type { EnforcementLevel, PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';
import { contextOf, type PolicyContext } from './context';

/* eslint-disable @typescript-eslint/no-explicit-any -- rules read provider inputs and outputs, which are untyped JSON */

/**
 * The building blocks of the CrossGuard pack (index.ts): every rule is a `@pulumi/policy` policy, a
 * stack policy when it needs several resources or the stack's policy context, a resource policy when
 * one resource's own properties decide. The engine runs them (`--policy-pack infra/policy/analyzer`);
 * check.ts runs the very same objects in-process for the tests.
 */

/** Where a rule comes from: the issue, the seeds, the brief, CIS, AWS or Atlas guidance (README). */
interface Anchored {
  anchor: string;
}
export type SwitchboardStackPolicy = StackValidationPolicy & Anchored;
export type SwitchboardResourcePolicy = ResourceValidationPolicy & Anchored;
export type SwitchboardPolicy = SwitchboardStackPolicy | SwitchboardResourcePolicy;

/** One violation: the resource it is about (its URN) and what is wrong. */
export interface Finding {
  urn?: string;
  message: string;
}
export const at = (resource: Pick<PolicyResource, 'urn'>, message: string): Finding => ({ urn: resource.urn, message });

const defaultLevel: EnforcementLevel = 'mandatory';

/** What every rule declares, whatever it checks. */
interface RuleHead {
  name: string;
  anchor: string;
  description: string;
  enforcementLevel?: EnforcementLevel;
}
const head = (spec: RuleHead) => ({ name: spec.name, anchor: spec.anchor, description: spec.description, enforcementLevel: spec.enforcementLevel ?? defaultLevel });

/** A rule over the whole stack: `check` sees every resource and (lazily: only the rules that need it) the policy context. */
export function stackRule(spec: RuleHead & { check(resources: PolicyResource[], context: () => PolicyContext): Finding[] }): SwitchboardStackPolicy {
  return {
    ...head(spec),
    validateStack: (args, reportViolation) => {
      for (const finding of spec.check(args.resources, () => contextOf(args.resources))) reportViolation(finding.message, finding.urn);
    },
  };
}

/** A rule over one resource of the listed types (or Kubernetes kinds): `check` returns what is wrong with it. */
export function resourceRule(spec: RuleHead & {
  /** Type tokens (`aws:…`) or Kubernetes kinds (`ConfigMap`). */
  appliesTo: string[];
  check(resource: ResourceValidationArgs): string[];
}): SwitchboardResourcePolicy {
  return {
    ...head(spec),
    validateResource: (args, reportViolation) => {
      const applies = spec.appliesTo.includes(args.type) || (args.type.startsWith('kubernetes:') && spec.appliesTo.includes(args.props.kind));
      if (applies) for (const message of spec.check(args)) reportViolation(message);
    },
  };
}

export const ofType = (resources: PolicyResource[], type: string) => resources.filter((r) => r.type === type);
export const ofKind = (resources: PolicyResource[], kind: string) => resources.filter((r) => r.type.startsWith('kubernetes:') && r.props.kind === kind);
export const parseJson = (value: unknown): any => (typeof value === 'string' ? JSON.parse(value) : value);
export const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
export const containers = (workload: Pick<PolicyResource, 'props'>): any[] => podSpecOf(workload).containers ?? [];

/** The pod template's spec of a Deployment (spec.template) or a CronJob (spec.jobTemplate.spec.template). */
export const podSpecOf = (workload: Pick<PolicyResource, 'props'>): any =>
  (workload.props.kind === 'CronJob' ? workload.props.spec?.jobTemplate?.spec?.template?.spec : workload.props.spec?.template?.spec) ?? {};
