import type * as pulumi from '@pulumi/pulumi';

/** A Kubernetes object as plain data: the same value becomes a Pulumi resource or a YAML document. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Secret values: Pulumi outputs in a stack, placeholder strings when rendering YAML. */
export type SecretValues = Record<string, pulumi.Input<string>>;

export const partOf = 'switchboard';

export function labels(component: string, environment: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'switchboard',
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': partOf,
    'app.kubernetes.io/managed-by': 'pulumi',
    'switchboard.dev/environment': environment,
  };
}
