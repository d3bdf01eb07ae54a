import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ingressControllerNamespace } from '../k8s/app-manifests';
import { edgeManifests, proxyTimeoutSeconds, type EdgeSpec } from '../k8s/edge-manifests';
import { createManifests } from '../k8s/resources';

export interface EdgeArgs {
  spec: EdgeSpec;
  /** Controller replicas (2 or more in production). */
  controllerReplicas: number;
  provider?: k8s.Provider;
  /** Resources the objects wait for (the app's namespace). */
  dependsOn?: pulumi.Resource[];
}

export const ingressClassName = 'nginx';
export const controllerChart = 'oci://ghcr.io/nginx/charts/nginx-ingress';

/** Helm values of F5 NGINX Ingress Controller (open-source edition). */
export function controllerValues(args: EdgeArgs) {
  return {
    controller: {
      replicaCount: args.controllerReplicas,
      enableCustomResources: true,
      enableSnippets: false,
      enableCertManager: true,
      ingressClass: { name: ingressClassName, create: true, setAsDefaultIngress: false },
      config: {
        entries: {
          'server-tokens': 'false',
          'ssl-protocols': 'TLSv1.2 TLSv1.3',
          'proxy-read-timeout': `${proxyTimeoutSeconds}s`,
          'proxy-send-timeout': `${proxyTimeoutSeconds}s`,
          'client-max-body-size': args.spec.edge.clientMaxBodySize,
          'hsts': 'true',
          'hsts-max-age': '63072000',
          'hsts-include-subdomains': 'true',
        },
      },
      // Keep the client's address (rate limits and ip_hash stickiness key on it).
      service: { externalTrafficPolicy: 'Local' },
      podDisruptionBudget: { enabled: args.controllerReplicas > 1, minAvailable: 1 },
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      readOnlyRootFilesystem: true,
      telemetryReporting: { enable: false },
    },
    prometheus: { create: true },
  };
}

/**
 * The cluster's entry point for HTTP and WebSockets: F5 NGINX Ingress Controller (Helm) plus
 * the core's VirtualServer and rate-limit Policy.
 */
export class Edge extends pulumi.ComponentResource {
  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:infra:Edge', name, {}, opts);
    const controller = new k8s.helm.v3.Release(
      `${name}-controller`,
      {
        chart: controllerChart,
        version: args.spec.edge.controllerChartVersion,
        namespace: ingressControllerNamespace,
        createNamespace: true,
        atomic: true,
        values: controllerValues(args),
      },
      { parent: this, provider: args.provider },
    );
    createManifests(name, edgeManifests(args.spec), { parent: this, provider: args.provider, dependsOn: [controller, ...(args.dependsOn ?? [])] });
    this.registerOutputs({});
  }
}
