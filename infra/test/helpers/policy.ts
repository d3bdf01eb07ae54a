import { checkPolicies, type PolicyReport, type RenderedResource } from '../../policy/check';
import { policyContextOutput, stackResourceType, type PolicyContext } from '../../policy/context';
import type { Manifest } from '../../src/k8s/types';
import type { CapturedResource } from './mocks';

/**
 * Resources the mocks captured, as the policy pack sees them: their inputs, plus the `bucket` output
 * of a Bucket (AWS's bucket name, which is also its id: what the companions' `bucket` input holds).
 */
export function asRendered(resources: CapturedResource[]): RenderedResource[] {
  return resources.map((r) => ({ type: r.type, name: r.name, props: r.type === 'aws:s3/bucket:Bucket' ? { ...r.inputs, bucket: r.id } : r.inputs }));
}

/** Plain manifests as rendered resources, so the pack also checks the rendered YAML. */
export function manifestsAsRendered(manifests: Manifest[]): RenderedResource[] {
  return manifests.map((m) => ({ type: `kubernetes:${m.apiVersion}:${m.kind}`, name: m.metadata.name, props: m as RenderedResource['props'] }));
}

/** The root Stack resource with the program's `policyContext` output, as the engine hands it to stack policies. */
export function stackResource(context: PolicyContext, stack = 'test'): RenderedResource {
  return { type: stackResourceType, name: `switchboard-${stack}`, props: { [policyContextOutput]: context } };
}

/** The pack over captured resources and the stack's context: every violation, by enforcement level. */
export async function checkStack(resources: RenderedResource[], context: PolicyContext): Promise<PolicyReport> {
  return checkPolicies([stackResource(context), ...resources]);
}
