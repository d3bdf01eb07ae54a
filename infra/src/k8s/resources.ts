import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import type { Manifest } from './types';

type Factory = (name: string, manifest: Manifest, opts: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/* eslint-disable @typescript-eslint/no-explicit-any -- a Manifest is the args object of its own kind */
const factories: Record<string, Factory> = {
  'v1/Namespace': (name, m, opts) => new k8s.core.v1.Namespace(name, m as any, opts),
  'v1/ServiceAccount': (name, m, opts) => new k8s.core.v1.ServiceAccount(name, m as any, opts),
  'v1/ConfigMap': (name, m, opts) => new k8s.core.v1.ConfigMap(name, m as any, opts),
  'v1/Secret': (name, m, opts) => new k8s.core.v1.Secret(name, m as any, opts),
  'v1/Service': (name, m, opts) => new k8s.core.v1.Service(name, m as any, opts),
  'apps/v1/Deployment': (name, m, opts) => new k8s.apps.v1.Deployment(name, m as any, opts),
  'autoscaling/v2/HorizontalPodAutoscaler': (name, m, opts) => new k8s.autoscaling.v2.HorizontalPodAutoscaler(name, m as any, opts),
  'policy/v1/PodDisruptionBudget': (name, m, opts) => new k8s.policy.v1.PodDisruptionBudget(name, m as any, opts),
  'networking.k8s.io/v1/NetworkPolicy': (name, m, opts) => new k8s.networking.v1.NetworkPolicy(name, m as any, opts),
};
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * Turns manifests into Pulumi resources: the typed class for built-in kinds, a CustomResource
 * for CRDs (ServiceMonitor, PrometheusRule, VirtualServer, Policy, ClusterIssuer, Certificate).
 * Namespaces are created first and every namespaced object depends on its namespace.
 */
/**
 * Options a kind needs beyond parent/provider: the HPA owns a Deployment's replica count once
 * it exists, so `pulumi up` sets `spec.replicas` on creation only and never scales pods back down.
 */
export function kindOptions(manifest: Manifest): Pick<pulumi.CustomResourceOptions, 'ignoreChanges'> {
  return manifest.kind === 'Deployment' ? { ignoreChanges: ['spec.replicas'] } : {};
}

export interface ManifestOptions {
  parent: pulumi.Resource;
  provider?: pulumi.ProviderResource;
  /** Resources every object waits for (e.g. the controller that serves its CRDs). */
  dependsOn?: pulumi.Resource[];
}

export function createManifests(prefix: string, manifests: Manifest[], opts: ManifestOptions): pulumi.CustomResource[] {
  const namespaces = new Map<string, pulumi.CustomResource>();
  const created: pulumi.CustomResource[] = [];
  const ordered = [...manifests.filter((m) => m.kind === 'Namespace'), ...manifests.filter((m) => m.kind !== 'Namespace')];
  for (const manifest of ordered) {
    const name = `${prefix}-${manifest.kind.toLowerCase()}-${manifest.metadata.name}`;
    const namespace = manifest.metadata.namespace ? namespaces.get(manifest.metadata.namespace) : undefined;
    const options: pulumi.CustomResourceOptions = {
      ...kindOptions(manifest),
      parent: opts.parent,
      provider: opts.provider,
      dependsOn: [...(opts.dependsOn ?? []), ...(namespace ? [namespace] : [])],
    };
    const factory = factories[`${manifest.apiVersion}/${manifest.kind}`];
    const resource = factory
      ? factory(name, manifest, options)
      : new k8s.apiextensions.CustomResource(name, manifest as k8s.apiextensions.CustomResourceArgs, options);
    if (manifest.kind === 'Namespace') namespaces.set(manifest.metadata.name, resource);
    created.push(resource);
  }
  return created;
}
