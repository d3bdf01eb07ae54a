import { terminationGraceSeconds, type StackConfig } from '../config';
import type { RuleGroup, Dashboard } from './observability';
import { labels, type Manifest, type SecretValues } from './types';

export const containerPort = 3000;
/** The core's internal listener (METRICS_PORT): /metrics for Prometheus, on the pod network only, never behind the ingress. */
export const metricsPort = 9464;
/** Namespaces allowed to reach the pods: the ingress controller and Prometheus. */
export const ingressControllerNamespace = 'nginx-ingress';
export const monitoringNamespace = 'monitoring';

export interface AppSpec {
  environment: StackConfig['environment'];
  namespace: string;
  app: StackConfig['app'];
  /** Non-secret environment of the core (ConfigMap). */
  env: Record<string, string>;
  /** MONGODB_URI, REDIS_URL, JWT_HS256_KEYS, SENTRY_DSN (Secret). */
  secrets: SecretValues;
  ruleGroups: RuleGroup[];
  dashboards: Dashboard[];
}

/** Selector labels of the core's pods (stable: never change them on a live Deployment). */
export const coreSelector = { 'app.kubernetes.io/name': 'switchboard', 'app.kubernetes.io/component': 'core' };

/** PDB floor: one pod fewer than the HPA floor, at least one, so a node drain can always proceed. */
export function pdbMinAvailable(app: StackConfig['app']): number {
  return Math.max(1, app.minReplicas - 1);
}

/** Non-secret environment of the core for a stack (names are the core's, see core/src/config.ts). */
export function coreEnvironment(config: Pick<StackConfig, 'environment' | 'app' | 'edge'>, redisEnabled = true): Record<string, string> {
  const appEnv = config.environment === 'dev' ? 'development' : config.environment;
  const env: Record<string, string> = {
    APP_ENV: appEnv,
    PORT: String(containerPort),
    HOST: '0.0.0.0',
    METRICS_PORT: String(metricsPort),
    METRICS_HOST: '0.0.0.0',
    RELEASE_VERSION: imageVersion(config.app.image),
    MONGODB_DB: 'switchboard',
    JWT_ISSUER: config.app.jwtIssuer,
    JWT_AUDIENCE: config.app.jwtAudience,
    CORS_ORIGINS: config.app.corsOrigins.join(','),
    SHUTDOWN_DRAIN_MS: String(config.app.shutdownDrainMs),
    SOCKET_PING_INTERVAL_MS: '25000',
    SOCKET_PING_TIMEOUT_MS: '20000',
    CONNECTION_STATE_RECOVERY: String(redisEnabled),
    MAINTENANCE_MODE: 'false',
    LOG_LEVEL: config.app.logLevel,
  };
  if (config.app.jwtJwksUrl) env.JWT_JWKS_URL = config.app.jwtJwksUrl;
  return env;
}

/** The digest or tag of an image reference, reported as RELEASE_VERSION. */
export function imageVersion(image: string): string {
  const digest = image.split('@')[1];
  if (digest) return digest.replace('sha256:', '').slice(0, 12);
  const lastSegment = image.split('/').pop() ?? image;
  return lastSegment.includes(':') ? (lastSegment.split(':').pop() ?? 'unknown') : 'latest';
}

export function appManifests(spec: AppSpec): Manifest[] {
  const { namespace, app } = spec;
  const meta = (name: string, component = 'core') => ({ name, namespace, labels: labels(component, spec.environment) });
  const grace = terminationGraceSeconds(app);
  const httpProbe = (path: string) => ({ httpGet: { path, port: 'http' }, periodSeconds: 10, timeoutSeconds: 2 });

  const manifests: Manifest[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: { ...labels('namespace', spec.environment), 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' },
      },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('switchboard-core'), automountServiceAccountToken: false },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('switchboard-config'), data: spec.env },
    { apiVersion: 'v1', kind: 'Secret', metadata: meta('switchboard-secrets'), type: 'Opaque', stringData: spec.secrets },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        ...meta('switchboard-core'),
        annotations: {
          // The core reads its configuration from environment variables only (core/src/config.ts).
          'checkov.io/skip1': 'CKV_K8S_35=the core reads secrets from env vars by design; they come from a Secret via envFrom, never from the ConfigMap',
        },
      },
      spec: {
        replicas: app.minReplicas,
        revisionHistoryLimit: 5,
        selector: { matchLabels: coreSelector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
        template: {
          metadata: { labels: labels('core', spec.environment), annotations: { 'prometheus.io/port': String(metricsPort) } },
          spec: {
            serviceAccountName: 'switchboard-core',
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: grace,
            securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: coreSelector } },
            ],
            containers: [
              {
                name: 'core',
                image: app.image,
                imagePullPolicy: 'Always',
                ports: [{ name: 'http', containerPort, protocol: 'TCP' }, { name: 'metrics', containerPort: metricsPort, protocol: 'TCP' }],
                envFrom: [{ configMapRef: { name: 'switchboard-config' } }, { secretRef: { name: 'switchboard-secrets' } }],
                env: [{ name: 'INSTANCE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
                resources: { requests: { cpu: app.cpuRequest, memory: app.memoryRequest }, limits: { cpu: app.cpuLimit, memory: app.memoryLimit } },
                startupProbe: { ...httpProbe('/health'), failureThreshold: 30 },
                livenessProbe: { ...httpProbe('/health'), failureThreshold: 3 },
                readinessProbe: { ...httpProbe('/ready'), periodSeconds: 5, failureThreshold: 2 },
                // Wait for the endpoint to leave every load balancer before SIGTERM starts the drain.
                lifecycle: { preStop: { sleep: { seconds: app.preStopSleepSeconds } } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  runAsUser: 10001,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('switchboard-core'),
      spec: { type: 'ClusterIP', selector: coreSelector, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }, { name: 'metrics', port: metricsPort, targetPort: 'metrics', protocol: 'TCP' }] },
    },
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: meta('switchboard-core'),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'switchboard-core' },
        minReplicas: app.minReplicas,
        maxReplicas: app.maxReplicas,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
          { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } } },
        ],
        // Scale down slowly: every removed pod disconnects its sockets.
        behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta('switchboard-core'),
      spec: { minAvailable: pdbMinAvailable(app), selector: { matchLabels: coreSelector } },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('switchboard-core'),
      spec: {
        podSelector: { matchLabels: coreSelector },
        policyTypes: ['Ingress'],
        // The ingress controller reaches the API port; Prometheus only the metrics port.
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ingressControllerNamespace } } }], ports: [{ port: containerPort, protocol: 'TCP' }] },
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': monitoringNamespace } } }], ports: [{ port: metricsPort, protocol: 'TCP' }] },
        ],
      },
    },
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: meta('switchboard-core'),
      spec: {
        selector: { matchLabels: coreSelector },
        namespaceSelector: { matchNames: [namespace] },
        endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }],
      },
    },
  ];

  if (spec.ruleGroups.length > 0) {
    manifests.push({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: meta('switchboard-alerts', 'alerts'), spec: { groups: spec.ruleGroups } });
  }
  for (const dashboard of spec.dashboards) {
    const metadata = meta(`switchboard-dashboard-${dashboard.slug}`, 'dashboards');
    manifests.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { ...metadata, labels: { ...metadata.labels, grafana_dashboard: '1' } },
      data: { [`${dashboard.slug}.json`]: dashboard.json },
    });
  }
  return manifests;
}
