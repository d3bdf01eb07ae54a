import type { ConfigEntry, ReleaseConfig } from '../../state/releases';
import type { ResourceChange } from './stack-runner';

/**
 * Config as part of a release on a Pulumi stack (`ops config set|unset`): the core settings an operator
 * changes are recorded in the release history as overrides of the committed `Pulumi.<stack>.yaml`, keyed
 * by the core's own setting name. Every later deploy carries them forward, `ops rollback` puts back the
 * target release's, and the preview of each run sees them (written into the temporary config file next to
 * the image), so a setting changed through `ops config` is part of the desired state, never drift.
 * Secrets are recorded only as Pulumi ciphertext (`secure: v1:…`, what `pulumi config set --secret` writes).
 *
 * The mapping from a core setting to its stack key mirrors infra/src/config.ts and coreEnvironment() in
 * infra/src/k8s/app-manifests.ts (not imported: they load Pulumi, ~8 s); ops/test/config-release.test.ts
 * renders the stack with every mapped key to check that each one reaches the pod as that setting.
 */

export interface StackSetting {
  /** Pulumi config key (path syntax, as `pulumi config set --path`). */
  key: string;
  /** How the YAML holds it. */
  type: 'string' | 'number' | 'list';
  /** Always a Pulumi secret (reaches the pod through the Secret). */
  secret?: boolean;
  /** Deployment paths the setting changes besides the ConfigMap/Secret and the checksum (drift rules). */
  deploymentPaths?: RegExp[];
}

const app = (path: string, type: StackSetting['type'] = 'string', deploymentPaths?: RegExp[]): StackSetting => ({ key: `switchboard:app.${path}`, type, deploymentPaths });

/** Core settings with a typed stack key (infra/src/config.ts); any other core setting is `switchboard:app.settings.<NAME>`. */
export const typedSettings: Record<string, StackSetting> = {
  LOG_LEVEL: app('logLevel'),
  SHUTDOWN_DRAIN_MS: app('shutdownDrainMs', 'number', [/^spec\.template\.spec\.terminationGracePeriodSeconds$/]),
  JWT_ISSUER: app('jwtIssuer'),
  JWT_AUDIENCE: app('jwtAudience'),
  JWT_JWKS_URL: app('jwtJwksUrl'),
  CORS_ORIGINS: app('corsOrigins', 'list'),
  MESSAGE_RETENTION_DAYS: app('retention.messageDays', 'number'),
  MESSAGE_RETENTION_MODE: app('retention.mode'),
  RETENTION_SCHEDULE: app('retention.schedule'),
  CONVERSATION_ARCHIVE_AFTER_DAYS: app('archive.afterDays', 'number'),
  CONVERSATION_ARCHIVE_SCHEDULE: app('archive.schedule'),
  ATTACHMENT_MAX_BYTES: app('attachments.maxBytes', 'number'),
  ATTACHMENT_ALLOWED_TYPES: app('attachments.allowedTypes', 'list'),
  ATTACHMENT_UPLOAD_URL_TTL_S: app('attachments.uploadUrlTtlSeconds', 'number'),
  ATTACHMENTS_PER_MESSAGE: app('attachments.perMessage', 'number'),
  ORPHAN_UPLOAD_TTL_HOURS: app('attachments.orphanTtlHours', 'number'),
  ORPHAN_CLEANUP_SCHEDULE: app('attachments.orphanCleanupSchedule'),
  NOTIFICATION_WEBHOOK_URL: app('notifications.webhookUrl'),
  NOTIFICATION_PREVIEW_CHARS: app('notifications.previewChars', 'number'),
  NOTIFICATION_MAX_ATTEMPTS: app('notifications.maxAttempts', 'number'),
  JWT_HS256_KEYS: { key: 'switchboard:jwtHs256Keys', type: 'string', secret: true },
  SENTRY_DSN: { key: 'switchboard:sentryDsn', type: 'string', secret: true },
  NOTIFICATION_WEBHOOK_SECRET: { key: 'switchboard:notificationWebhookSecret', type: 'string', secret: true },
};

/** Settings the stack derives from its own resources: `ops config` refuses them and says where they come from. */
export const derivedSettings: Record<string, string> = {
  APP_ENV: 'switchboard:environment',
  PORT: 'the container port', HOST: 'the container', METRICS_PORT: 'the container port', METRICS_HOST: 'the container',
  INSTANCE_ID: 'the pod name', RELEASE_VERSION: 'the image (ops deploy --version)', MONGODB_DB: 'the stack',
  MONGODB_URI: 'the Atlas cluster and the secret switchboard:atlasDbPassword (pulumi config set --secret, then pulumi up: it changes the database user too)',
  REDIS_URL: 'the ElastiCache group and the secret switchboard:redisAuthToken (pulumi config set --secret, then pulumi up: it changes the cache group too)',
  S3_BUCKET: 'the media bucket', S3_REGION: 'switchboard:aws.region',
  JOBS_SCHEDULER_ENABLED: 'the stack', CONNECTION_STATE_RECOVERY: 'the stack (Redis)', MAINTENANCE_MODE: 'ops maintenance on|off',
  SOCKET_PING_INTERVAL_MS: 'the stack (the ingress timeouts follow it)', SOCKET_PING_TIMEOUT_MS: 'the stack (the ingress timeouts follow it)',
};

/** The stack key of a core setting; throws (with where it comes from) for a derived one. */
export function stackSettingOf(name: string, secret = false): StackSetting {
  if (name in derivedSettings) throw new Error(`${name} is derived by the stack from ${derivedSettings[name]}; ops config cannot set it`);
  const typed = typedSettings[name];
  if (typed) return secret && !typed.secret ? { ...typed, secret: true } : typed;
  return { key: `switchboard:app.settings.${name}`, type: 'string', secret };
}

/** The YAML value of an entry (a secret stays ciphertext: `{ secure: … }`, as Pulumi writes it). */
export function yamlValue(setting: StackSetting, entry: Exclude<ConfigEntry, { unset: true }>): unknown {
  if ('secure' in entry) return { secure: entry.secure };
  if (setting.type === 'number') return Number(entry.value);
  if (setting.type === 'list') return entry.value.split(',').map((v) => v.trim()).filter(Boolean);
  return entry.value;
}

/** The names whose entries differ between two release configs (both may be undefined: the committed file only). */
export function changedSettings(from: ReleaseConfig | undefined, to: ReleaseConfig | undefined): string[] {
  const a = from ?? {};
  const b = to ?? {};
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((name) => JSON.stringify(a[name] ?? null) !== JSON.stringify(b[name] ?? null)).sort();
}

/** `data.NAME` or `data["NAME"]` (Pulumi's detailed-diff path syntax) under one of the given tops. */
const keyPath = (tops: string[], name: string) => new RegExp(`^(${tops.join('|')})(\\.${name}|\\["${name}"\\])$`);
const checksumPath = /^spec\.template\.metadata\.annotations(\.|\[")switchboard\.dev\/config-checksum("\])?$/;

/**
 * What a release that changes `names` may change besides the image: each setting in the ConfigMap (a
 * secret in the Secret), the Deployment's config checksum (which also follows RELEASE_VERSION, so it is
 * always allowed), and the Deployment paths a typed setting drives (termination grace).
 */
export function configChangeAllowed(names: string[]): (change: ResourceChange, path: string) => boolean {
  const settings = names.map((name) => ({ name, setting: (() => { try { return stackSettingOf(name); } catch { return undefined; } })() }));
  return (change, path) => {
    if (/^kubernetes:apps\/v1:Deployment$/.test(change.type)) {
      return checksumPath.test(path) || settings.some(({ setting }) => setting?.deploymentPaths?.some((p) => p.test(path)));
    }
    if (/^kubernetes:core\/v1:ConfigMap$/.test(change.type)) return settings.some(({ name }) => keyPath(['data'], name).test(path));
    if (/^kubernetes:core\/v1:Secret$/.test(change.type)) return settings.some(({ name }) => keyPath(['data', 'stringData'], name).test(path)) || (names.length > 0 && /^(data|stringData)$/.test(path));
    return false;
  };
}
