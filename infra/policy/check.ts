import type { EnforcementLevel, PolicyPackConfig, PolicyResource, PolicyResourceOptions, ResourceValidationArgs } from '@pulumi/policy';
import { switchboardPolicies } from './policies';
import type { SwitchboardPolicy } from './support';

/* eslint-disable @typescript-eslint/no-explicit-any -- resource properties are untyped JSON */

/**
 * The pack's policies run in this process against rendered resources, with the argument shapes
 * `@pulumi/policy` documents (type, props, urn, name, opts, reportViolation): what the engine does
 * with `--policy-pack`, without an engine, so the tests can break resources one property at a time.
 * The engine path (infra/policy/analyzer) runs the same policy objects.
 */

/** A resource as rendered: its type token, logical name and properties (inputs, with what the provider computes). */
export interface RenderedResource {
  type: string;
  name: string;
  props: Record<string, any>;
  /** Defaults to `urn:pulumi:<stack>::<project>::<type>::<name>`. */
  urn?: string;
}

export interface PolicyViolation {
  policy: string;
  enforcementLevel: 'mandatory' | 'advisory';
  /** The resource the violation is about (a stack policy may report none). */
  urn?: string;
  message: string;
  /** What the policy requires: the fix. */
  description: string;
}

export interface PolicyReport {
  violations: PolicyViolation[];
  /** Mandatory violations: the engine fails the preview or update on any of these. */
  mandatory: PolicyViolation[];
  /** Advisory ones: the engine prints them and goes on. */
  advisory: PolicyViolation[];
}

const noOptions: PolicyResourceOptions = { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] };

class NotApplicable extends Error {}
const notApplicable = (reason?: string): never => {
  throw new NotApplicable(reason);
};
const typeTokenOf = (resourceClass: any): string | undefined => resourceClass?.__pulumiType;

/** The level a policy runs at: the pack config's (a level, or `{ enforcementLevel }`), else the policy's own. */
function levelOf(policy: SwitchboardPolicy, config: PolicyPackConfig): 'mandatory' | 'advisory' | 'disabled' {
  const configured = config[policy.name] ?? config.all;
  const level: EnforcementLevel = typeof configured === 'string' ? configured : (configured?.enforcementLevel ?? policy.enforcementLevel ?? 'mandatory');
  // Like the engine: a stack policy cannot remediate, so "remediate" counts as mandatory.
  return level === 'remediate' ? 'mandatory' : level;
}

/** Runs every policy of the pack (or `options.policies`) over the resources. */
export async function checkPolicies(
  rendered: RenderedResource[],
  options: { stack?: string; project?: string; config?: PolicyPackConfig; policies?: SwitchboardPolicy[] } = {},
): Promise<PolicyReport> {
  const { stack = 'test', project = 'switchboard', config = {}, policies = switchboardPolicies } = options;
  const resources: PolicyResource[] = rendered.map((r) => ({
    type: r.type,
    props: r.props,
    urn: r.urn ?? `urn:pulumi:${stack}::${project}::${r.type}::${r.name}`,
    name: r.name,
    opts: noOptions,
    dependencies: [],
    propertyDependencies: {},
    isType: (resourceClass) => typeTokenOf(resourceClass) === r.type,
    asType: (resourceClass) => (typeTokenOf(resourceClass) === r.type ? (r.props as any) : undefined),
  }));
  const violations: PolicyViolation[] = [];
  for (const policy of policies) {
    const level = levelOf(policy, config);
    if (level === 'disabled') continue;
    const configured = config[policy.name];
    const getConfig = <T extends object>(): T => (typeof configured === 'object' ? (configured as T) : ({} as T));
    const report = (urn: string | undefined) => (message: string, reportedUrn?: string) =>
      violations.push({ policy: policy.name, enforcementLevel: level, urn: reportedUrn ?? urn, message, description: policy.description });
    try {
      if ('validateStack' in policy) {
        await policy.validateStack({ resources, stackTags: new Map(), getConfig, notApplicable }, report(undefined));
      } else if (policy.validateResource) {
        const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
        for (const resource of resources) {
          const args: ResourceValidationArgs = {
            type: resource.type,
            props: resource.props,
            urn: resource.urn,
            name: resource.name,
            opts: resource.opts,
            stackTags: new Map(),
            isType: resource.isType,
            asType: (resourceClass) => resource.isType(resourceClass) ? (resource.props as any) : undefined,
            getConfig,
            notApplicable,
          };
          for (const validate of validations) await validate(args, report(resource.urn));
        }
      }
    } catch (error) {
      if (!(error instanceof NotApplicable)) throw new Error(`policy ${policy.name}: ${(error as Error).message}`, { cause: error });
    }
  }
  return { violations, mandatory: violations.filter((v) => v.enforcementLevel === 'mandatory'), advisory: violations.filter((v) => v.enforcementLevel === 'advisory') };
}
