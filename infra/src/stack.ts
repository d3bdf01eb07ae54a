import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { roleArn, roleNames, type StackConfig, type StackSecrets } from './config';
import { AtlasDatabase } from './components/atlas';
import { SwitchboardApp } from './components/app';
import { ClusterCertificates } from './components/certificates';
import { Edge, ingressClassName } from './components/edge';
import { WorkloadRole } from './components/identity';
import { RedisCache } from './components/redis';
import { Storage } from './components/storage';
import { appManifests, coreEnvironment, type AppSpec, type Provisioned } from './k8s/app-manifests';
import { backupServiceAccount } from './k8s/backup-manifests';
import { certManagerManifests, edgeManifests, type CertManagerSpec, type EdgeSpec } from './k8s/edge-manifests';
import { loadDashboards, loadRuleGroups, type Dashboard, type RuleGroup } from './k8s/observability';
import type { AlertReceiverSecrets } from './k8s/alerting';
import type { Manifest, SecretValues } from './k8s/types';
import { standardTags } from './tags';
import { policyContext, type PolicyContext } from '../policy/context';

export const appNamespace = 'switchboard';
export const tlsSecretName = 'switchboard-tls';
export const databaseName = 'switchboard';

export interface Observability {
  ruleGroups: RuleGroup[];
  dashboards: Dashboard[];
}

/** Rules and dashboards as they are in alerts/ and dashboards/ right now. */
export function loadObservability(): Observability {
  return { ruleGroups: loadRuleGroups(), dashboards: loadDashboards() };
}

export interface KubernetesSpecs {
  app: AppSpec;
  edge: EdgeSpec;
  certificates: CertManagerSpec;
}

/** The specs of every Kubernetes object of a stack: used by the stack and by the YAML rendering. */
export function kubernetesSpecs(config: StackConfig, secrets: SecretValues, observability: Observability, provisioned: Provisioned = placeholderProvisioned(config), alertReceivers: AlertReceiverSecrets = placeholderAlertReceivers): KubernetesSpecs {
  return {
    app: { environment: config.environment, namespace: appNamespace, app: config.app, env: coreEnvironment(config, provisioned), secrets, provisioned, ...observability, links: config.observability, alertReceivers },
    edge: {
      environment: config.environment,
      namespace: appNamespace,
      edge: config.edge,
      tlsSecretName,
      serviceName: 'switchboard-core',
      servicePort: 80,
      maintenanceRetryAfterSeconds: 120,
      maintenanceMessage: 'Switchboard is down for maintenance.',
    },
    certificates: {
      environment: config.environment,
      namespace: appNamespace,
      host: config.edge.host,
      acmeEmail: config.edge.acmeEmail,
      solver: config.edge.acmeSolver,
      route53: { region: config.aws.region, hostedZoneID: config.aws.route53ZoneId },
      secretName: tlsSecretName,
      ingressClassName,
    },
  };
}

/** Every Kubernetes object of a stack as plain manifests (what `renderYaml` writes). */
export function kubernetesManifests(specs: KubernetesSpecs): Manifest[] {
  return [...appManifests(specs.app), ...edgeManifests(specs.edge), ...certManagerManifests(specs.certificates)];
}

/** Placeholder receiver secrets for rendering (the real ones: Pulumi config secrets alertPagerdutyRoutingKey, alertSlackWebhookUrl). */
export const placeholderAlertReceivers: AlertReceiverSecrets = { pagerdutyRoutingKey: 'REDACTED-pagerduty-routing-key', slackWebhookUrl: 'https://hooks.slack.com/services/REDACTED' };

/** Placeholder secret values for rendering (the real ones only exist as Pulumi secrets). */
export const placeholderSecrets: SecretValues = {
  MONGODB_URI: 'mongodb+srv://user:REDACTED@cluster.example.mongodb.net/switchboard',
  REDIS_URL: 'rediss://:REDACTED@redis.example.internal:6379',
  JWT_HS256_KEYS: '',
};

/** Placeholder secrets of a stack: the webhook signing key exists where notifications are configured. */
export function placeholderSecretsFor(config: StackConfig): SecretValues {
  return { ...placeholderSecrets, ...(config.app.notifications.webhookUrl ? { NOTIFICATION_WEBHOOK_SECRET: 'REDACTED-webhook-signing-key' } : {}) };
}

/** The stack's IAM roles for its ServiceAccounts (IRSA): fixed names, so the ARNs follow from the config. */
export function workloadRoleArns(config: StackConfig): Pick<Provisioned, 'coreRoleArn' | 'backupRoleArn'> {
  const names = roleNames(config.environment);
  return { coreRoleArn: roleArn(config, names.core), backupRoleArn: roleArn(config, names.backup) };
}

/**
 * Provisioned names for rendering: the media bucket gets its real name only when Pulumi creates it; the
 * backup bucket's is committed (switchboard:backup.bucket), so the rendered CronJobs carry the real
 * BACKUP_LOCATION (a local stack has none: a placeholder).
 */
export function placeholderProvisioned(config: StackConfig): Provisioned {
  return { mediaBucket: `switchboard-${config.environment}-media-placeholder`, backupBucket: config.backup?.bucket ?? `switchboard-${config.environment}-backups-placeholder`, ...workloadRoleArns(config) };
}

/** The committed backup bucket name (the schema requires it outside a local stack; this narrows the type). */
function requiredBackupBucket(config: StackConfig): string {
  if (!config.backup) throw new Error('switchboard:backup.bucket is required of a stack that provisions AWS (see infra/README.md)');
  return config.backup.bucket;
}

/** The Kubernetes provider of a stack: its own kubeconfig context, never the ambient current one. */
export function clusterProvider(config: StackConfig): k8s.Provider {
  return new k8s.Provider('cluster', { context: config.cluster.context, ...(config.cluster.kubeconfig ? { kubeconfig: config.cluster.kubeconfig } : {}), enableServerSideApply: true });
}

export interface StackOutputs {
  mongoClusterName: pulumi.Output<string>;
  redisEndpoint: pulumi.Output<string>;
  mediaBucket: pulumi.Output<string>;
  backupBucket: pulumi.Output<string>;
  coreMediaPolicyArn: pulumi.Output<string>;
  backupPolicyArn: pulumi.Output<string>;
  appHost: string;
  /** What the policy pack (infra/policy) needs besides the resources: it reads this output of the Stack resource. */
  policyContext: PolicyContext;
}

/** The whole program for one environment; `index.ts` calls it with the stack's config. */
export function buildStack(config: StackConfig, secrets: StackSecrets, observability: Observability = loadObservability()): StackOutputs {
  if (!config.app.jwtJwksUrl && !secrets.jwtHs256Keys) {
    throw new Error('switchboard:app.jwtJwksUrl or the secret switchboard:jwtHs256Keys is required (the core would otherwise use its development key)');
  }
  if (config.app.notifications.webhookUrl && !secrets.notificationWebhookSecret) {
    throw new Error('switchboard:app.notifications.webhookUrl needs the secret switchboard:notificationWebhookSecret (pulumi config set --secret switchboard:notificationWebhookSecret "$(openssl rand -hex 32)")');
  }
  if (config.local) return buildLocalStack(config, config.local, secrets);
  const tags = standardTags(config);
  const atlas = new AtlasDatabase('mongo', {
    environment: config.environment,
    atlas: config.atlas,
    network: config.aws,
    databaseName,
    dbPassword: secrets.atlasDbPassword,
    tags,
  });
  const redis = new RedisCache('redis', {
    environment: config.environment,
    redis: config.redis,
    subnetIds: config.aws.privateSubnetIds,
    securityGroupIds: config.aws.dataSecurityGroupIds,
    authToken: secrets.redisAuthToken,
    tags,
  });
  const storage = new Storage('storage', {
    environment: config.environment,
    noncurrentVersionDays: config.aws.noncurrentVersionDays,
    backupRetentionDays: config.aws.backupRetentionDays,
    // The page the core serves (https://<edge.host>/app/) and the other web origins of the API.
    corsOrigins: [`https://${config.edge.host}`, ...config.app.corsOrigins],
    backupBucketName: requiredBackupBucket(config),
    tags,
  });

  const appSecrets: SecretValues = {
    MONGODB_URI: atlas.connectionString,
    REDIS_URL: redis.url,
    JWT_HS256_KEYS: secrets.jwtHs256Keys ?? '',
    ...(secrets.sentryDsn ? { SENTRY_DSN: secrets.sentryDsn } : {}),
    // Only where notifications are configured: a key without a webhook would be a feature half on.
    ...(config.app.notifications.webhookUrl && secrets.notificationWebhookSecret ? { NOTIFICATION_WEBHOOK_SECRET: secrets.notificationWebhookSecret } : {}),
  };
  const names = roleNames(config.environment);
  const oidc = { oidcProviderArn: config.cluster.oidcProviderArn, oidcProviderUrl: config.cluster.oidcProviderUrl, namespace: appNamespace, tags };
  new WorkloadRole('core-role', { ...oidc, roleName: names.core, serviceAccount: 'switchboard-core', policyArn: storage.corePolicy.arn });
  new WorkloadRole('backup-role', { ...oidc, roleName: names.backup, serviceAccount: backupServiceAccount, policyArn: storage.backupPolicy.arn });
  const provisioned: Provisioned = { mediaBucket: storage.mediaBucket.bucket, backupBucket: storage.backupBucket.bucket, ...workloadRoleArns(config) };
  const specs = kubernetesSpecs(config, appSecrets, observability, provisioned, { pagerdutyRoutingKey: secrets.alertPagerdutyRoutingKey, slackWebhookUrl: secrets.alertSlackWebhookUrl });
  const provider = clusterProvider(config);
  const app = new SwitchboardApp('app', { spec: specs.app, provider });
  new ClusterCertificates('certs', { spec: specs.certificates, provider, dependsOn: [app.namespace] });
  const edge = new Edge('edge', { spec: specs.edge, controllerReplicas: config.environment === 'production' ? 2 : 1, provider, dependsOn: [app.namespace] });
  // The API host points at the ingress controller's load balancer.
  new aws.route53.Record('api-dns', { zoneId: config.aws.route53ZoneId, name: config.edge.host, type: 'CNAME', ttl: 300, records: [edge.loadBalancerHostname] });

  return {
    mongoClusterName: atlas.clusterName,
    redisEndpoint: redis.primaryEndpoint,
    mediaBucket: storage.mediaBucket.id,
    backupBucket: storage.backupBucket.id,
    coreMediaPolicyArn: storage.corePolicy.arn,
    backupPolicyArn: storage.backupPolicy.arn,
    appHost: config.edge.host,
    policyContext: policyContext(config),
  };
}

/**
 * A local stack (`switchboard:local`, issue 25): the core's Kubernetes objects only, on a local cluster,
 * its database and Redis pointed at the local stand-ins. Atlas, ElastiCache, S3, IAM and
 * Route 53 are off; so are the edge (its controller is an OCI Helm chart not reachable here) and
 * cert-manager's objects (they need the edge's ingress class).
 */
function buildLocalStack(config: StackConfig, local: NonNullable<StackConfig['local']>, secrets: StackSecrets): StackOutputs {
  const appSecrets: SecretValues = {
    MONGODB_URI: pulumi.secret(local.mongodbUri),
    REDIS_URL: pulumi.secret(local.redisUrl),
    JWT_HS256_KEYS: secrets.jwtHs256Keys ?? '',
  };
  // The stack's own receiver secrets (throwaway values in Pulumi.local-k8s.yaml), never the render placeholders:
  // the AlertmanagerConfig is applied to the local cluster like any stack's (its CRD is installed there).
  const receivers = { pagerdutyRoutingKey: secrets.alertPagerdutyRoutingKey, slackWebhookUrl: secrets.alertSlackWebhookUrl };
  const specs = kubernetesSpecs(config, appSecrets, loadObservability(), placeholderProvisioned(config), receivers);
  new SwitchboardApp('app', { spec: specs.app, provider: clusterProvider(config) });
  const off = pulumi.output('(off in a local stack)');
  return { mongoClusterName: off, redisEndpoint: off, mediaBucket: off, backupBucket: off, coreMediaPolicyArn: off, backupPolicyArn: off, appHost: config.edge.host, policyContext: policyContext(config) };
}
