import { createHash } from 'node:crypto';
import { coreNodeFlags } from '../../../core/src/runtime-flags';
import type * as pulumi from '@pulumi/pulumi';
import type { LinkSettings } from '../../../alerts/links';
import { alertingManifests, relinkRuleGroups, type AlertReceiverSecrets } from './alerting';
import { terminationGraceSeconds, type StackConfig } from '../config';
import { backupJobManifests } from './backup-manifests';
import type { RuleGroup, Dashboard } from './observability';
import { containerSecurityContext, podSecurityContext } from './security';
import { labels, type Manifest, type SecretValues } from './types';

export const containerPort = 3000;
/** The core's internal listener (METRICS_PORT): /metrics for Prometheus, on the pod network only, never behind the ingress. */
export const metricsPort = 9464;
/** The core's process in the image (ops/build/Dockerfile): compiled JavaScript, plain node as PID 1, with the production node flags. */
export const coreCommand = ['node', ...coreNodeFlags, 'core/src/main.js'];
/** Namespaces allowed to reach the pods: the ingress controller and Prometheus. */
export const ingressControllerNamespace = 'nginx-ingress';
export const monitoringNamespace = 'monitoring';

/**
 * What the stack provisions for the core and its jobs: Pulumi outputs in a stack, placeholder
 * strings when rendering YAML. Each one must reach the pod (infra/test/core-contract.test.ts).
 */
export interface Provisioned {
  /** Media bucket (attachments): S3_BUCKET. */
  mediaBucket: pulumi.Input<string>;
  /** Backup bucket: the backup CronJobs' BACKUP_LOCATION. */
  backupBucket: pulumi.Input<string>;
  /** IRSA role of the core's ServiceAccount (media policy), and of the backup jobs' (backup policy). */
  coreRoleArn: string;
  backupRoleArn: string;
}

export interface AppSpec {
  environment: StackConfig['environment'];
  namespace: string;
  app: StackConfig['app'];
  /** Non-secret environment of the core (ConfigMap); provisioned names are Pulumi outputs in a stack. */
  env: Record<string, pulumi.Input<string>>;
  /** MONGODB_URI, REDIS_URL, JWT_HS256_KEYS, SENTRY_DSN, NOTIFICATION_WEBHOOK_SECRET (Secret). */
  secrets: SecretValues;
  provisioned: Provisioned;
  ruleGroups: RuleGroup[];
  dashboards: Dashboard[];
  /** Runbook and Grafana bases of this stack (switchboard:observability): the PrometheusRule's links. */
  links?: LinkSettings;
  /** Receiver secrets of the AlertmanagerConfig; without them no routing is rendered. */
  alertReceivers?: AlertReceiverSecrets;
}

/** The ServiceAccount annotation that binds it to an IAM role (IRSA). */
export const irsaAnnotation = 'eks.amazonaws.com/role-arn';

/** Selector labels of the core's pods (stable: never change them on a live Deployment). */
export const coreSelector = { 'app.kubernetes.io/name': 'switchboard', 'app.kubernetes.io/component': 'core' };

/** PDB floor: one pod fewer than the HPA floor, at least one, so a node drain can always proceed. */
export function pdbMinAvailable(app: StackConfig['app']): number {
  return Math.max(1, app.minReplicas - 1);
}

/** Non-secret environment of the core for a stack (names are the core's, see core/src/config.ts). */
export function coreEnvironment(config: Pick<StackConfig, 'environment' | 'app' | 'edge' | 'aws'>, provisioned: Pick<Provisioned, 'mediaBucket'>, redisEnabled = true): Record<string, pulumi.Input<string>> {
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
  const derived = { ...env, ...featureEnvironment(config, provisioned) };
  const settings = config.app.settings ?? {};
  const clashes = Object.keys(settings).filter((key) => key in derived || secretSettingNames.includes(key));
  if (clashes.length) throw new Error(`switchboard:app.settings may not set ${clashes.join(', ')}: the stack derives ${clashes.length > 1 ? 'them' : 'it'} (use the typed key or secret; infra/README.md)`);
  return { ...derived, ...settings };
}

/** Core settings that reach the pod through the Secret (never app.settings, never the ConfigMap). */
export const secretSettingNames: readonly string[] = ['MONGODB_URI', 'REDIS_URL', 'JWT_HS256_KEYS', 'SENTRY_DSN', 'NOTIFICATION_WEBHOOK_SECRET'];

/** The pod template annotation that carries the checksum of the core's ConfigMap and Secret. */
export const configChecksumAnnotation = 'switchboard.dev/config-checksum';

/**
 * SHA-256 of the environment a pod gets from its ConfigMap and Secret (keys sorted). On the pod template
 * it makes Kubernetes roll the pods whenever a setting or secret changes (envFrom is read only at
 * container start), as Helm's `checksum/config` does. Plain values (rendering) give a plain string;
 * Pulumi outputs give an output (secret-marked when a secret goes in, so the hash stays in encrypted state).
 */
export function configChecksum(env: Record<string, pulumi.Input<string>>, secrets: Record<string, pulumi.Input<string>>): pulumi.Input<string> {
  const hash = (e: Record<string, string>, s: Record<string, string>) => {
    const sorted = (o: Record<string, string>) => Object.keys(o).sort().map((k) => [k, o[k]]);
    return createHash('sha256').update(JSON.stringify({ env: sorted(e), secrets: sorted(s) })).digest('hex');
  };
  const values = [...Object.values(env), ...Object.values(secrets)];
  if (values.every((v) => typeof v === 'string')) return hash(env as Record<string, string>, secrets as Record<string, string>);
  // Loaded only here: rendering YAML (plain values) never loads Pulumi (~8 s).
  const { all } = require('@pulumi/pulumi') as typeof pulumi;
  return all([all(env), all(secrets)]).apply(([e, s]) => hash(e as Record<string, string>, s as Record<string, string>));
}

/**
 * The features the stack provisions or configures, switched on in the core: attachments (the media
 * bucket, private: read through presigned GETs the core issues to members; IRSA credentials, no static keys), retention, archival, orphaned
 * uploads, offline notifications (the webhook secret is in the Secret).
 */
export function featureEnvironment(config: Pick<StackConfig, 'app' | 'aws'>, provisioned: Pick<Provisioned, 'mediaBucket'>): Record<string, pulumi.Input<string>> {
  const { retention, archive, attachments, notifications } = config.app;
  return {
    S3_BUCKET: provisioned.mediaBucket,
    S3_REGION: config.aws.region,
    ATTACHMENT_MAX_BYTES: String(attachments.maxBytes),
    ATTACHMENT_ALLOWED_TYPES: attachments.allowedTypes.join(','),
    ATTACHMENT_UPLOAD_URL_TTL_S: String(attachments.uploadUrlTtlSeconds),
    ATTACHMENTS_PER_MESSAGE: String(attachments.perMessage),
    ORPHAN_UPLOAD_TTL_HOURS: String(attachments.orphanTtlHours),
    ORPHAN_CLEANUP_SCHEDULE: attachments.orphanCleanupSchedule,
    JOBS_SCHEDULER_ENABLED: 'true',
    MESSAGE_RETENTION_DAYS: String(retention.messageDays),
    MESSAGE_RETENTION_MODE: retention.mode,
    RETENTION_SCHEDULE: retention.schedule,
    CONVERSATION_ARCHIVE_AFTER_DAYS: String(archive.afterDays),
    CONVERSATION_ARCHIVE_SCHEDULE: archive.schedule,
    ...(notifications.webhookUrl ? { NOTIFICATION_WEBHOOK_URL: notifications.webhookUrl } : {}),
    NOTIFICATION_PREVIEW_CHARS: String(notifications.previewChars),
    NOTIFICATION_MAX_ATTEMPTS: String(notifications.maxAttempts),
  };
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
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      // IRSA: the EKS pod identity webhook projects a web-identity token for this role into the pod
      // (its own volume, so the Kubernetes API token stays unmounted) and the AWS SDK picks it up.
      metadata: { ...meta('switchboard-core'), annotations: { [irsaAnnotation]: spec.provisioned.coreRoleArn } },
      automountServiceAccountToken: false,
    },
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
          // The provider's await gives up after this (default 10 min), so a rollout that never gets Ready fails `pulumi up`.
          ...(app.rolloutTimeoutSeconds ? { 'pulumi.com/timeoutSeconds': String(app.rolloutTimeoutSeconds) } : {}),
        },
      },
      spec: {
        replicas: app.minReplicas,
        revisionHistoryLimit: 5,
        ...(app.rolloutTimeoutSeconds ? { progressDeadlineSeconds: app.rolloutTimeoutSeconds } : {}),
        selector: { matchLabels: coreSelector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
        template: {
          metadata: { labels: labels('core', spec.environment), annotations: { 'prometheus.io/port': String(metricsPort), [configChecksumAnnotation]: configChecksum(spec.env, spec.secrets) } },
          spec: {
            serviceAccountName: 'switchboard-core',
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: grace,
            securityContext: podSecurityContext,
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: coreSelector } },
            ],
            containers: [
              {
                name: 'core',
                image: app.image,
                imagePullPolicy: 'Always',
                command: coreCommand,
                ports: [{ name: 'http', containerPort, protocol: 'TCP' }, { name: 'metrics', containerPort: metricsPort, protocol: 'TCP' }],
                envFrom: [{ configMapRef: { name: 'switchboard-config' } }, { secretRef: { name: 'switchboard-secrets' } }],
                env: [{ name: 'INSTANCE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
                resources: { requests: { cpu: app.cpuRequest, memory: app.memoryRequest }, limits: { cpu: app.cpuLimit, memory: app.memoryLimit } },
                startupProbe: { ...httpProbe('/health'), failureThreshold: 30 },
                livenessProbe: { ...httpProbe('/health'), failureThreshold: 3 },
                readinessProbe: { ...httpProbe('/ready'), periodSeconds: 5, failureThreshold: 2 },
                // Wait for the endpoint to leave every load balancer before SIGTERM starts the drain.
                lifecycle: { preStop: { sleep: { seconds: app.preStopSleepSeconds } } },
                securityContext: containerSecurityContext,
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

  manifests.push(...backupJobManifests(spec, irsaAnnotation));
  if (spec.ruleGroups.length > 0) {
    manifests.push({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: meta('switchboard-alerts', 'alerts'), spec: { groups: spec.links ? relinkRuleGroups(spec.ruleGroups, spec.links) : spec.ruleGroups } });
    if (spec.alertReceivers) manifests.push(...alertingManifests({ namespace, labels: labels('alerts', spec.environment), receivers: spec.alertReceivers }));
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
