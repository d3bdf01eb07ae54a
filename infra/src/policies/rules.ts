import type { Manifest } from '../k8s/types';
import { atlasRules } from './atlas-rules';
import { awsRules } from './aws-rules';
import { edgeRules } from './edge-rules';
import { kubernetesRules } from './kubernetes-rules';
import type { PolicyContext, PolicyResource, PolicyRule, Violation } from './policy';

export { policyContext, type PolicyContext, type PolicyResource, type PolicyRule, type Violation } from './policy';
export { taggedTypes } from './aws-rules';

/** Every rule, by name; each is run over every captured resource. */
export const policyRules: PolicyRule[] = [...awsRules, ...atlasRules, ...kubernetesRules, ...edgeRules];

/** Runs every rule over every resource. */
export function runPolicies(resources: PolicyResource[], context: PolicyContext, rules: PolicyRule[] = policyRules): Violation[] {
  return rules.flatMap((rule) => rule.check(resources, context).map((message) => ({ rule: rule.name, message })));
}

/** Plain manifests as policy resources, so the rules also check the rendered YAML. */
export function manifestsAsResources(manifests: Manifest[]): PolicyResource[] {
  return manifests.map((m) => ({ type: `kubernetes:${m.apiVersion}:${m.kind}`, name: m.metadata.name, inputs: m as PolicyResource['inputs'] }));
}
