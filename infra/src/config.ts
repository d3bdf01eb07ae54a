import * as pulumi from '@pulumi/pulumi';
import { z } from 'zod';
import { bucketNamePattern } from '../../ops/backup/stack-location';

/**
 * The typed configuration of one stack (`Pulumi.<env>.yaml`, namespace `switchboard`).
 * Every key is documented here once (the README's table follows this file).
 * Production-only guarantees (PITR, termination protection, failover, ≥2 Redis nodes, ≥3 app replicas, image digest, JWKS)
 * are literal types in the production branch, so a production config without them does not
 * type-check and does not parse.
 */

export const environments = ['dev', 'staging', 'production'] as const;
export type Environment = (typeof environments)[number];

const cidr = z
  .string()
  .regex(/^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/, 'an IPv4 CIDR block such as 203.0.113.0/24')
  .refine((block) => !block.endsWith('/0'), 'open access lists (x.x.x.x/0) are never allowed');
const hostname = z.string().regex(/^(?!-)[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'a lower-case DNS name');
const cpu = z.string().regex(/^\d+m$|^\d+(\.\d+)?$/, 'a Kubernetes CPU quantity, e.g. 250m');
const memory = z.string().regex(/^\d+(Mi|Gi)$/, 'a Kubernetes memory quantity in Mi or Gi');
const cron = z.string().regex(/^(\S+\s+){4}\S+$/, 'a 5-field cron expression (UTC), e.g. 0 2 * * *');

/**
 * The core's data-lifecycle and feature settings (the core's own names and defaults, core/src/config.ts):
 * every key here reaches the pod as the variable named in its comment.
 */
const coreSettings = z.object({
  /** Message retention: MESSAGE_RETENTION_DAYS (0 keeps forever), MESSAGE_RETENTION_MODE, RETENTION_SCHEDULE. */
  retention: z.object({
    messageDays: z.number().int().min(0).max(36_500).default(0),
    mode: z.enum(['delete', 'archive']).default('delete'),
    schedule: cron.default('0 2 * * *'),
  }).prefault({}),
  /** Conversation archival: CONVERSATION_ARCHIVE_AFTER_DAYS (0 never), CONVERSATION_ARCHIVE_SCHEDULE. */
  archive: z.object({
    afterDays: z.number().int().min(0).max(36_500).default(0),
    schedule: cron.default('30 2 * * *'),
  }).prefault({}),
  /** Attachments: ATTACHMENT_MAX_BYTES, ATTACHMENT_ALLOWED_TYPES, ATTACHMENT_UPLOAD_URL_TTL_S, ATTACHMENTS_PER_MESSAGE, ORPHAN_UPLOAD_TTL_HOURS, ORPHAN_CLEANUP_SCHEDULE. The bucket and CDN come from the stack's own resources. */
  attachments: z.object({
    maxBytes: z.number().int().min(1).max(5_368_709_120).default(104_857_600),
    allowedTypes: z.array(z.string().regex(/^[a-z]+\/(\*|[a-z0-9.+-]+)$/, 'a content type or type/*')).min(1).default(['image/*', 'application/pdf', 'video/mp4']),
    uploadUrlTtlSeconds: z.number().int().min(1).max(3_600).default(300),
    perMessage: z.number().int().min(1).max(50).default(10),
    orphanTtlHours: z.number().int().min(1).max(8_760).default(24),
    orphanCleanupSchedule: cron.default('0 3 * * *'),
  }).prefault({}),
  /** Offline notifications: NOTIFICATION_WEBHOOK_URL (its signing key is the secret notificationWebhookSecret), NOTIFICATION_PREVIEW_CHARS, NOTIFICATION_MAX_ATTEMPTS. */
  notifications: z.object({
    webhookUrl: z.url().optional(),
    previewChars: z.number().int().min(0).max(500).default(0),
    maxAttempts: z.number().int().min(1).max(20).default(6),
  }).prefault({}),
  /** Scheduled `ops backup` (to the stack's backup bucket) and `ops backup verify` CronJobs, UTC; metrics to the Pushgateway. */
  backup: z.object({
    schedule: cron.default('15 1 * * *'),
    verifySchedule: cron.default('45 4 * * *'),
    pushgatewayUrl: z.url().default('http://prometheus-pushgateway.monitoring.svc:9091'),
  }).prefault({}),
});

const atlasBase = z.object({
  /** Atlas organisation that owns the project. */
  orgId: z.string().min(1),
  /** Atlas region name, e.g. US_EAST_1 (same region as the cluster and ElastiCache). */
  region: z.string().regex(/^[A-Z0-9_]+$/),
  /** Dedicated tier (M10 and up: backups and TLS settings need a dedicated cluster). */
  instanceSize: z.string().regex(/^M(10|20|30|40|50|60|80|140|200|300)$/, 'a dedicated tier M10 or larger'),
  /** MongoDB major version. */
  mongoVersion: z.string().regex(/^\d+\.\d+$/).default('8.0'),
  /** CIDR blocks allowed to reach the cluster (the cluster's NAT egress); never 0.0.0.0/0. */
  accessList: z.array(cidr).default([]),
  /** Create an AWS PrivateLink endpoint service and use the private connection string. */
  privateEndpoint: z.boolean().default(false),
  /** Recovery point objective in hours: the hourly snapshot interval may not exceed it. */
  rpoHours: z.number().int().min(1).max(24).default(6),
  /** Daily snapshots kept, days. */
  dailyRetentionDays: z.number().int().min(1).max(35).default(7),
  /** Point-in-time restore window, days (used when PITR is on). */
  restoreWindowDays: z.number().int().min(1).max(7).default(2),
});

const redisBase = z.object({
  /** ElastiCache node type. */
  nodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/),
  /** Valkey/Redis engine version. */
  engineVersion: z.string().default('7.1'),
  /** Daily snapshots kept, days (≥1: snapshots on). */
  snapshotRetentionDays: z.number().int().min(1).max(35).default(1),
});

const appBase = z.object({
  /** Container image of the core, pinned by digest in staging and production. */
  image: z.string().min(1),
  /** Replicas when the HPA is at its floor (also the HPA minimum). */
  minReplicas: z.number().int().min(1),
  /** HPA ceiling. */
  maxReplicas: z.number().int().min(1).max(50).default(10),
  /** Container CPU request / limit and memory request / limit. */
  cpuRequest: cpu.default('250m'),
  cpuLimit: cpu.default('1'),
  memoryRequest: memory.default('256Mi'),
  // Room for the young generation the core runs with (core/src/runtime-flags.ts: up to ~2 × 128 MB
  // more under load; 10,000 sockets at 1,000 msg/s peaked at ~610 MB of committed heap): as production sets.
  memoryLimit: memory.default('768Mi'),
  /** SHUTDOWN_DRAIN_MS of the core (termination grace is derived from it). */
  shutdownDrainMs: z.number().int().min(0).max(120_000).default(10_000),
  /** Seconds the preStop hook waits for the endpoints to be removed before SIGTERM. */
  preStopSleepSeconds: z.number().int().min(1).max(30).default(5),
  /**
   * How long a rollout may go without progress before it counts as failed: the Deployment's
   * progressDeadlineSeconds and the Pulumi Kubernetes provider's await timeout (pulumi.com/timeoutSeconds),
   * so `pulumi up` (and ops deploy's automatic rollback) stops waiting on pods that never get Ready.
   * Unset: Kubernetes' 600 s and the provider's 10 min.
   */
  rolloutTimeoutSeconds: z.number().int().min(10).max(3_600).optional(),
  /** LOG_LEVEL of the core. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  /** JWT issuer / audience / JWKS URL (production uses JWKS, no shared keys). */
  jwtIssuer: z.string().min(1),
  jwtAudience: z.string().min(1).default('switchboard'),
  jwtJwksUrl: z.url().optional(),
  /** Allowed browser origins. */
  corsOrigins: z.array(z.url()).default([]),
  /**
   * Any other core setting, by the core's own name (core/src/config.ts), e.g. RATE_LIMIT_API_PER_MIN or
   * MESSAGE_RETENTION_BATCH_SIZE: what the runbooks tell an operator to change. Set with
   * `ops config set KEY=VALUE --env <stack>` (a release of its own, undone by `ops rollback`). Settings the
   * stack derives (ports, RELEASE_VERSION, the provisioned buckets, the typed keys above) are refused
   * when the pod environment is assembled (coreEnvironment in infra/src/k8s/app-manifests.ts).
   */
  settings: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'a core setting name, e.g. RATE_LIMIT_API_PER_MIN'), z.string()).default({}),
  ...coreSettings.shape,
});

const edge = z.object({
  /** Public host name of the chat API and Socket.IO endpoint. */
  host: hostname,
  /** F5 NGINX Ingress Controller Helm chart version (oci://ghcr.io/nginx/charts/nginx-ingress). */
  controllerChartVersion: z.string().regex(/^\d+\.\d+\.\d+$/),
  /** Allow Socket.IO's HTTP long-polling transport (then sessions must be sticky). */
  longPolling: z.boolean().default(true),
  /** Requests per second per client IP, and the burst above it. */
  rateLimitPerSecond: z.number().int().min(1).default(20),
  rateLimitBurst: z.number().int().min(0).default(40),
  /** Largest request body at the edge (nginx syntax, e.g. 1m). */
  clientMaxBodySize: z.string().regex(/^\d+[km]$/).default('1m'),
  /** Edge maintenance: nginx answers 503 itself (set with pulumi config + up while the core is down; infra/README.md). */
  maintenance: z.boolean().default(false),
  /** Let's Encrypt account e-mail and ACME server (staging CA outside production). */
  acmeEmail: z.email(),
  acmeSolver: z.enum(['http01', 'dns01-route53']).default('http01'),
});

const aws = z.object({
  /** AWS region of ElastiCache and S3. */
  region: z.string().regex(/^[a-z]{2}-[a-z]+-\d$/),
  /** Route 53 hosted zone of the API host (edge.host). */
  route53ZoneId: z.string().min(1),
  /** VPC of the Kubernetes cluster (Atlas PrivateLink endpoint). */
  vpcId: z.string().regex(/^vpc-[a-z0-9]+$/),
  /** Private subnets of that VPC (ElastiCache subnet group, PrivateLink endpoint). */
  privateSubnetIds: z.array(z.string().min(1)).min(1),
  /** Security groups of the data endpoints (ElastiCache, PrivateLink); they admit only the node group. */
  dataSecurityGroupIds: z.array(z.string().min(1)).min(1),
  /** Days noncurrent object versions are kept; days backups are kept. */
  noncurrentVersionDays: z.number().int().min(1).default(30),
  backupRetentionDays: z.number().int().min(1).default(35),
});

const cluster = z.object({
  /** kubeconfig context of the stack's cluster: the Kubernetes provider uses it, never the ambient current context. */
  context: z.string().min(1),
  /** kubeconfig file (path or contents); unset: $KUBECONFIG or ~/.kube/config. */
  kubeconfig: z.string().min(1).optional(),
  /** The EKS cluster's IAM OIDC provider (IRSA): its ARN, and its issuer without https://. */
  oidcProviderArn: z.string().regex(/^arn:aws:iam::\d{12}:oidc-provider\/.+$/, 'arn:aws:iam::<account>:oidc-provider/<issuer>'),
  oidcProviderUrl: z.string().regex(/^[a-z0-9.-]+(\/[A-Za-z0-9._-]+)*$/, 'the issuer without https://, e.g. oidc.eks.eu-west-1.amazonaws.com/id/ABC123'),
});

/**
 * A local stack (issue 25): only the Kubernetes part is deployed, to a local cluster; Atlas, ElastiCache,
 * S3/CloudFront, IAM, Route 53 and the edge (its controller comes from an OCI Helm chart) are switched off,
 * and the core is pointed at the local stand-ins given here. Never set in dev/staging/production.
 */
const local = z.object({
  /** MongoDB-compatible server the pods would use (the local mongo-java-server). */
  mongodbUri: z.string().min(1),
  /** Redis the pods would use. */
  redisUrl: z.string().min(1),
});

/**
 * Where alerts link to and which Alertmanager `ops maintenance` silences and `ops alerts drill` pages through (alerts/links.ts): the
 * runbooks (base URL of runbooks/) and the Grafana the dashboards are provisioned into. Every
 * rendered runbook_url and dashboard link is checked to resolve (alerts/test/links.test.ts).
 */
const observability = z.object({
  runbookBaseUrl: z.url(),
  grafanaUrl: z.url(),
  alertmanagerUrl: z.url().optional(),
});

/**
 * The stack's backup bucket, by name: the one committed setting the bucket, its CronJobs' BACKUP_LOCATION
 * (s3://<bucket>/<environment>), `ops backup --env <stack>` and ops' shared state (s3://<bucket>/ops) all
 * follow from (ops/backup/stack-location.ts). Committed, not auto-named at the first `pulumi up`, so every
 * checkout knows it before and after. Required of every stack that provisions AWS (not of a local one).
 */
const backup = z.object({
  bucket: z.string().regex(bucketNamePattern, 'an S3 bucket name: 3-63 lower-case letters, digits, dots and dashes, e.g. switchboard-production-backups-<account id>'),
});

const common = {
  aws,
  backup: backup.optional(),
  local: local.optional(),
  observability,
  edge,
  cluster,
  /** Owner and cost-centre tags applied to every taggable resource. */
  tags: z.object({ owner: z.string().min(1), costCenter: z.string().min(1) }),
};

const nonProduction = z.object({
  environment: z.enum(['dev', 'staging']),
  ...common,
  atlas: atlasBase.extend({
    terminationProtection: z.boolean().default(false),
    pointInTimeRecovery: z.boolean().default(false),
  }),
  redis: redisBase.extend({
    numCacheClusters: z.number().int().min(1).max(6).default(1),
    automaticFailover: z.boolean().default(false),
    multiAz: z.boolean().default(false),
  }),
  app: appBase,
});

const production = z.object({
  environment: z.literal('production'),
  ...common,
  atlas: atlasBase.extend({
    terminationProtection: z.literal(true),
    pointInTimeRecovery: z.literal(true),
    privateEndpoint: z.literal(true),
  }),
  redis: redisBase.extend({
    numCacheClusters: z.number().int().min(2).max(6),
    automaticFailover: z.literal(true),
    multiAz: z.literal(true),
    snapshotRetentionDays: z.number().int().min(7).max(35),
  }),
  app: appBase.extend({
    image: z.string().regex(/@sha256:[a-f0-9]{64}$/, 'production images are pinned by digest'),
    minReplicas: z.number().int().min(3),
    jwtJwksUrl: z.url(),
  }),
});

export const stackConfigSchema = z
  .discriminatedUnion('environment', [nonProduction, production])
  .superRefine((config, ctx) => {
    if (config.app.maxReplicas < config.app.minReplicas) {
      ctx.addIssue({ code: 'custom', path: ['app', 'maxReplicas'], message: 'must be ≥ app.minReplicas' });
    }
    if (config.redis.automaticFailover && config.redis.numCacheClusters < 2) {
      ctx.addIssue({ code: 'custom', path: ['redis', 'numCacheClusters'], message: 'automatic failover needs ≥ 2 nodes' });
    }
    if (!config.local && !config.backup) {
      ctx.addIssue({ code: 'custom', path: ['backup', 'bucket'], message: 'required (the backup bucket\'s name; an existing stack: pulumi config set --path switchboard:backup.bucket "$(pulumi stack output backupBucket)"; see infra/README.md)' });
    }
    if (config.environment === 'production' && config.local) {
      ctx.addIssue({ code: 'custom', path: ['local'], message: 'a production stack never deploys to a local cluster' });
    }
    if (!config.atlas.privateEndpoint && config.atlas.accessList.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['atlas', 'accessList'], message: 'list the egress CIDRs or enable privateEndpoint' });
    }
  });

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type ProductionConfig = Extract<StackConfig, { environment: 'production' }>;
/** What a stack file holds before defaults are applied. */
export type StackConfigInput = z.input<typeof stackConfigSchema>;

/** The configuration object keys under the `switchboard:` namespace. */
export const configKeys = ['environment', 'aws', 'backup', 'atlas', 'redis', 'app', 'edge', 'cluster', 'tags', 'local', 'observability'] as const;

/**
 * Secrets (`pulumi config set --secret switchboard:<key>`), never in plain text:
 * atlasDbPassword (core database user), redisAuthToken (ElastiCache AUTH, 16–128 printable
 * characters), jwtHs256Keys (kid:secret keys; required without app.jwtJwksUrl), sentryDsn (optional),
 * notificationWebhookSecret (HMAC key, ≥ 16 characters; required with app.notifications.webhookUrl).
 */
export interface StackSecrets {
  atlasDbPassword: pulumi.Output<string>;
  redisAuthToken: pulumi.Output<string>;
  jwtHs256Keys?: pulumi.Output<string>;
  sentryDsn?: pulumi.Output<string>;
  notificationWebhookSecret?: pulumi.Output<string>;
  /** Alertmanager receivers (alerts/routing.ts): PagerDuty Events v2 routing key, Slack incoming-webhook URL. */
  alertPagerdutyRoutingKey: pulumi.Output<string>;
  alertSlackWebhookUrl: pulumi.Output<string>;
}

/** Validates a raw config object; the error lists every problem with its path. */
export function parseStackConfig(raw: unknown): StackConfig {
  const result = stackConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  switchboard:${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid stack configuration:\n${problems.join('\n')}`);
  }
  return result.data;
}

/** Reads and validates the current stack's configuration (Pulumi.<stack>.yaml). */
export function readStackConfig(config = new pulumi.Config('switchboard')): StackConfig {
  const raw: Record<string, unknown> = {};
  for (const key of configKeys) {
    raw[key] = key === 'environment' ? config.get(key) : config.getObject(key);
  }
  return parseStackConfig(raw);
}

/** Reads the stack's secrets; the two required ones fail with the command to set them. */
export function readStackSecrets(config = new pulumi.Config('switchboard')): StackSecrets {
  const optional = (key: string) => (config.get(key) === undefined ? undefined : config.requireSecret(key));
  return {
    atlasDbPassword: config.requireSecret('atlasDbPassword'),
    redisAuthToken: config.requireSecret('redisAuthToken'),
    jwtHs256Keys: optional('jwtHs256Keys'),
    sentryDsn: optional('sentryDsn'),
    notificationWebhookSecret: optional('notificationWebhookSecret'),
    alertPagerdutyRoutingKey: config.requireSecret('alertPagerdutyRoutingKey'),
    alertSlackWebhookUrl: config.requireSecret('alertSlackWebhookUrl'),
  };
}

/** The AWS account of the stack (from its cluster's OIDC provider ARN). */
export function accountId(config: Pick<StackConfig, 'cluster'>): string {
  return config.cluster.oidcProviderArn.split(':')[4]!;
}

/** IAM role names (IRSA), fixed so the ServiceAccount annotations are known before the roles exist. */
export const roleNames = (environment: Environment) => ({ core: `switchboard-${environment}-core`, backup: `switchboard-${environment}-backup` });

export const roleArn = (config: Pick<StackConfig, 'cluster'>, name: string): string => `arn:aws:iam::${accountId(config)}:role/${name}`;

/** Termination grace: preStop sleep + drain + 5 s margin, so the drain always completes. */
export function terminationGraceSeconds(app: StackConfig['app']): number {
  return app.preStopSleepSeconds + Math.ceil(app.shutdownDrainMs / 1000) + 5;
}
