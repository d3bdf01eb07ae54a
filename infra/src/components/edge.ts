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
  /** Host name of the controller's AWS load balancer (the API host's DNS record points here). */
  readonly loadBalancerHostname: pulumi.Output<string>;

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
    // The chart names its LoadBalancer Service <fullname>-controller, fullname being the release name
    // when it contains the chart's name and <release>-nginx-ingress otherwise.
    const serviceId = controller.status.apply((status) => {
      const release = status.name;
      return `${ingressControllerNamespace}/${release.includes('nginx-ingress') ? release : `${release}-nginx-ingress`}-controller`;
    });
    const service = k8s.core.v1.Service.get(`${name}-controller-service`, serviceId, { parent: this, provider: args.provider, dependsOn: [controller] });
    this.loadBalancerHostname = service.status.apply((status) => {
      const ingress = status.loadBalancer?.ingress?.[0];
      const host = ingress?.hostname ?? ingress?.ip;
      if (!host) throw new Error(`the ingress controller Service ${ingressControllerNamespace} has no load balancer address yet; rerun pulumi up once it has one`);
      return host;
    });
    this.registerOutputs({ loadBalancerHostname: this.loadBalancerHostname });
  }
}
