import type * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { appManifests, type AppSpec } from '../k8s/app-manifests';
import { createManifests } from '../k8s/resources';

export interface AppArgs {
  spec: AppSpec;
  provider?: k8s.Provider;
}

/**
 * The core on Kubernetes: namespace, config, secret, deployment, service, HPA, PDB, network
 * policy, ServiceMonitor, PrometheusRule (from alerts/) and Grafana dashboards (from dashboards/).
 * The objects come from `appManifests`, the same definitions the YAML rendering uses.
 */
export class SwitchboardApp extends pulumi.ComponentResource {
  readonly namespace: pulumi.CustomResource;
  readonly serviceName = 'switchboard-core';
  readonly servicePort = 80;

  constructor(name: string, args: AppArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:infra:SwitchboardApp', name, {}, opts);
    const resources = createManifests(name, appManifests(args.spec), { parent: this, provider: args.provider });
    const namespace = resources[0];
    if (!namespace) throw new Error('appManifests returned no namespace');
    this.namespace = namespace;
    this.registerOutputs({ namespace: args.spec.namespace });
  }
}
