import os from 'node:os';
import { z } from 'zod';
import { cronExpressionSchema as cron } from './jobs/cron';

/**
 * Every environment variable the core reads, in one place: name, type, default and a one-line doc.
 * Validation, `--help` and the README's configuration table all come from this list.
 */
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

const LOCAL_DEV_KEY = 'local:switchboard-local-development-secret-0123456789';
/** Where the built-in development key is accepted, and only when APP_ENV says so explicitly. */
const DEV_KEY_ENVIRONMENTS: readonly string[] = ['development', 'local', 'test'];

export const configSpec = {
  APP_ENV: { schema: z.enum(['development', 'local', 'test', 'staging', 'production']), default: 'development', doc: 'Deployment environment. The built-in development JWT key is accepted only when this is set explicitly to development, local or test (`npm start` sets development).' },
  PORT: { schema: int(0, 65535), default: '3000', doc: 'HTTP and Socket.IO port (0 picks a free one).' },
  HOST: { schema: z.string().min(1), default: '0.0.0.0', doc: 'Interface to listen on.' },
  METRICS_PORT: { schema: int(0, 65535), default: '9464', doc: 'Internal listener: /metrics, detailed /health and /ready, admin actions. Never the public port (0 picks a free one).' },
  METRICS_HOST: { schema: z.string().min(1), default: '127.0.0.1', doc: 'Interface of the internal listener: loopback locally; the pod network (0.0.0.0) in Kubernetes so Prometheus can scrape it.' },
  INSTANCE_ID: { schema: z.string().min(1), default: `${os.hostname()}-${process.pid}`, shownDefault: '<hostname>-<pid>', doc: 'Name of this instance in logs, metrics and /health.' },
  RELEASE_VERSION: { schema: z.string().min(1), default: 'dev', doc: 'Version reported by /health and to Sentry (git sha or image tag).' },
  MONGODB_URI: { schema: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://'), default: undefined, doc: 'MongoDB connection string (Atlas in production). `npm start` starts a local server when unset.' },
  MONGODB_DB: { schema: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/), default: 'switchboard', doc: 'Database name.' },
  MONGODB_POOL_SIZE: { schema: int(1, 500), default: '20', doc: 'Driver connection pool size.' },
  MONGODB_TIMEOUT_MS: { schema: int(100, 120_000), default: '5000', doc: 'Deadline of each MongoDB step (server selection, pool checkout, socket read, write-concern wait) and of a send: one not confirmed stored by then answers 503 `unavailable`. Writes use write concern majority, journaled (j:true) — on Atlas a write is acknowledged once a majority of the replica set has it on disk.' },
  SEQ_SETTLE_MS: { schema: int(100, 600_000), default: '5000', doc: 'A reserved message seq still neither stored nor burned this long after an instance first saw it missing is burned (a tombstone in skipped_seqs), so history pages can report it in `skipped` and raise `settledSeq` past it. Keep it at least MONGODB_TIMEOUT_MS.' },
  SEND_QUEUE_MAX: { schema: int(1, 1_000_000), default: '5000', doc: 'Most sends waiting to be stored per instance; beyond it, and while MongoDB is failing, sends answer 503 `unavailable` at once.' },
  REDIS_URL: { schema: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(), default: undefined, doc: 'Redis for multi-instance fan-out, presence, rate limits and the maintenance flag. Optional for one instance.' },
  REDIS_COMMAND_TIMEOUT_MS: { schema: int(50, 60_000), default: '1000', doc: 'Deadline of a Redis command; past it rate limits fall back to memory, presence/typing are skipped and a broadcast stays local.' },
  JWT_ISSUER: { schema: z.string().min(1), default: 'switchboard-local', doc: 'Required `iss` claim.' },
  JWT_AUDIENCE: { schema: z.string().min(1), default: 'switchboard', doc: 'Required `aud` claim.' },
  JWT_HS256_KEYS: { schema: list.pipe(z.array(z.string().regex(/^[^:]+:.{32,}$/, 'each entry is kid:secret with a secret of at least 32 characters'))), default: LOCAL_DEV_KEY, emptyMeansEmpty: true, doc: 'Comma-separated `kid:secret` HS256 keys (local and tests). Set to empty to accept only JWKS.' },
  JWT_JWKS_URL: { schema: z.url().optional(), default: undefined, doc: 'JWKS URL of the identity provider (RS256/ES256, production).' },
  JWT_JWKS_COOLDOWN_MS: { schema: int(0, 3_600_000), default: '30000', doc: 'After a JWKS fetch (successful or not), the soonest another may start: a token with an unknown `kid`, a stale set or an unreachable IdP never trigger more (rate limit on refreshes).' },
  JWT_JWKS_CACHE_MAX_AGE_MS: { schema: int(1_000, 86_400_000), default: '600000', doc: 'After this the JWKS is refreshed in the background (at most once per cooldown) while the last good set keeps verifying; a retired key stops verifying once a refresh succeeds. With the IdP unreachable and no set known, verification answers 503 `unavailable`, never 401.' },
  JWT_CLOCK_TOLERANCE_S: { schema: int(0, 300), default: '5', doc: 'Allowed clock skew for `exp`/`nbf`, seconds.' },
  WEB_CLIENT_DIR: { schema: z.string().min(1).optional(), default: undefined, doc: 'Directory of the built reference web client (`npm run build:client` writes `core/client/dist/web`), served at `/app/` (and `/` redirects there) when set. Unset: not served (the default; `npm start` sets it for development).' },
  API_DOCS: { schema: bool, default: 'true', doc: 'Serve the OpenAPI document as a browsable page at `/api/docs` (Swagger UI, served from this instance, no CDN). On by default: it shows only what the public, unauthenticated `/api/openapi.json` already says, and "Try it out" needs a token like any client. false: `/api/docs` answers 404 (`/api/openapi.json` stays).' },
  CORS_ORIGINS: { schema: list, default: '', doc: 'Comma-separated allowed browser origins (empty: same origin only).' },
  RATE_LIMIT_API_PER_MIN: { schema: int(1, 1_000_000), default: '100', doc: 'API requests per user per minute.' },
  RATE_LIMIT_MESSAGES_PER_MIN: { schema: int(1, 1_000_000), default: '30', doc: 'Messages sent per user per minute (HTTP and Socket.IO together).' },
  RATE_LIMIT_SOCKET_EVENTS_PER_MIN: { schema: int(1, 1_000_000), default: '600', doc: 'Socket.IO events (every kind) per user per minute on each instance, checked before any database read.' },
  GROUP_MAX_MEMBERS: { schema: int(2, 100_000), default: '1000', doc: 'Most members of one group. Creating or adding beyond it answers 409 `conflict` (`reason: "group_full"`). Bounds fan-out and the notifier per message.' },
  MEMBERSHIPS_PER_USER_MAX: { schema: int(1, 100_000), default: '1000', doc: 'Most conversations one user belongs to. A create, add or join that would take a user beyond it answers 409 `conflict` (`reason: "memberships_limit"`, the users in `errors`). Bounds the conversation listing.' },
  MESSAGE_MAX_CHARS: { schema: int(1, 100_000), default: '4000', doc: 'Longest message text, in characters.' },
  HTTP_BODY_LIMIT_BYTES: { schema: int(1_024, 10_000_000), default: '65536', doc: 'Largest JSON request body.' },
  SOCKET_MAX_BUFFER_BYTES: { schema: int(1_024, 10_000_000), default: '65536', doc: 'Largest Socket.IO packet (maxHttpBufferSize).' },
  SOCKET_PING_INTERVAL_MS: { schema: int(1_000, 300_000), default: '25000', doc: 'Socket.IO ping interval; proxies must time out later than interval + timeout.' },
  SOCKET_PING_TIMEOUT_MS: { schema: int(1_000, 300_000), default: '20000', doc: 'Socket.IO ping timeout.' },
  CONNECTION_STATE_RECOVERY: { schema: bool, default: 'false', doc: 'Socket.IO connection state recovery (uses the Redis Streams adapter when REDIS_URL is set).' },
  SHUTDOWN_DRAIN_MS: { schema: int(0, 600_000), default: '10000', doc: 'On SIGTERM: longest wait for in-flight requests and acks before exiting.' },
  MAINTENANCE_MODE: { schema: bool, default: 'false', doc: 'Start in maintenance mode (API and socket handshakes answer 503). Also switchable at run time by `ops maintenance` through Redis.' },
  MAINTENANCE_RETRY_AFTER_S: { schema: int(1, 86_400), default: '120', doc: 'Retry-After sent during maintenance.' },
  MAINTENANCE_MESSAGE: { schema: z.string().max(500), default: 'Switchboard is down for maintenance.', doc: 'Message shown during maintenance.' },
  LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', doc: 'pino log level.' },
  SENTRY_DSN: { schema: z.url().optional(), default: undefined, doc: 'Sentry DSN; errors are reported when set (no message text or tokens are sent).' },
  JOBS_SCHEDULER_ENABLED: { schema: bool, default: 'true', doc: 'Run jobs on their cron schedules here (each slot runs once across instances via a MongoDB lease); false: only `ops jobs run`.' },
  MESSAGE_RETENTION_DAYS: { schema: int(0, 36_500), default: '0', doc: 'Messages older than this are deleted (with their attachments: object and record) or archived by the retention job; 0 keeps messages forever.' },
  MESSAGE_RETENTION_MODE: { schema: z.enum(['delete', 'archive']), default: 'delete', doc: '`archive` copies expired messages to `messages_archive` before deleting them.' },
  MESSAGE_RETENTION_BATCH_SIZE: { schema: int(100, 100_000), default: '5000', doc: 'Messages per retention batch.' },
  RETENTION_SCHEDULE: { schema: cron, default: '0 2 * * *', doc: 'Cron (5 fields, UTC) for message retention.' },
  CONVERSATION_ARCHIVE_AFTER_DAYS: { schema: int(0, 36_500), default: '0', doc: 'Conversations with no message for this many days are archived (then refuse messages); 0 never.' },
  CONVERSATION_ARCHIVE_SCHEDULE: { schema: cron, default: '30 2 * * *', doc: 'Cron (UTC) for conversation archival.' },
  ORPHAN_UPLOAD_TTL_HOURS: { schema: int(1, 8_760), default: '24', doc: 'Uploads no message referenced within this many hours are deleted (object and record).' },
  ORPHAN_CLEANUP_SCHEDULE: { schema: cron, default: '0 3 * * *', doc: 'Cron (UTC) for orphaned-upload cleanup.' },
  NOTIFICATION_WEBHOOK_URL: { schema: z.url().optional(), default: undefined, doc: 'Webhook called (signed POST) for members with no connected socket when a message arrives; unset disables.' },
  NOTIFICATION_WEBHOOK_SECRET: { schema: z.string().min(16).optional(), default: undefined, doc: 'HMAC-SHA256 key for X-Switchboard-Signature (required with NOTIFICATION_WEBHOOK_URL).' },
  NOTIFICATION_PREVIEW_CHARS: { schema: int(0, 500), default: '0', doc: 'Characters of message text sent as `preview`; 0 sends no text.' },
  NOTIFICATION_MAX_ATTEMPTS: { schema: int(1, 20), default: '6', doc: 'Webhook delivery attempts (exponential backoff with jitter; 4xx other than 408/429 is final).' },
  S3_BUCKET: { schema: z.string().min(3).optional(), default: undefined, doc: 'Bucket for attachments; unset disables attachments (503).' },
  S3_REGION: { schema: z.string().min(1), default: 'us-east-1', doc: 'S3 region.' },
  S3_ENDPOINT: { schema: z.url().optional(), default: undefined, doc: 'Custom S3 endpoint (MinIO locally); unset for AWS.' },
  S3_FORCE_PATH_STYLE: { schema: bool.optional(), default: undefined, doc: 'Path-style S3 URLs; default true when S3_ENDPOINT is set.' },
  S3_ACCESS_KEY_ID: { schema: z.string().optional(), default: undefined, doc: 'Static S3 key (local); unset uses the AWS default credential chain (IRSA).' },
  S3_SECRET_ACCESS_KEY: { schema: z.string().optional(), default: undefined, doc: 'Static S3 secret (local).' },
  ATTACHMENT_MAX_BYTES: { schema: int(1, 5_368_709_120), default: '104857600', doc: 'Largest attachment (413 above).' },
  ATTACHMENT_ALLOWED_TYPES: { schema: list, default: 'image/*,application/pdf,video/mp4', doc: 'Accepted content types; type/* allows a family (415 otherwise).' },
  ATTACHMENT_UPLOAD_URL_TTL_S: { schema: int(1, 3_600), default: '300', doc: 'Lifetime of a presigned upload URL, seconds.' },
  ATTACHMENT_DOWNLOAD_URL_TTL_S: { schema: int(1, 3_600), default: '60', doc: 'Lifetime of a presigned download URL (GET /api/conversations/{id}/attachments/{attachmentId}, issued to members only), seconds.' },
  ATTACHMENT_PENDING_PER_USER_MAX: { schema: int(1, 100_000), default: '50', doc: 'Most uploads one user may have issued and not yet sent on a message; beyond it a new upload answers 409 `conflict` (`reason: "pending_uploads_limit"`). Orphans count until the cleanup job removes them.' },
  ATTACHMENTS_PER_MESSAGE: { schema: int(1, 50), default: '10', doc: 'Most attachments on one message.' },
} as const;

type Spec = typeof configSpec;
export type Config = { [K in keyof Spec]: z.output<Spec[K]['schema']> };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee \`npm start -- --help\` for every variable.`);
  }
}

/** Reads and validates every variable at once, listing each bad or missing one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(configSpec)) {
    const given = env[name];
    const raw = given === undefined || (given === '' && !('emptyMeansEmpty' in spec)) ? spec.default : given;
    const parsed = (spec.schema as z.ZodType).safeParse(raw);
    if (parsed.success) out[name] = parsed.data;
    else if (raw === undefined) problems.push(`${name} is required: ${spec.doc}`);
    else problems.push(`${name}=${JSON.stringify(/KEY|DSN|SECRET/.test(name) ? '***' : raw)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  const config = out as Config;
  if (problems.length === 0 && config.NOTIFICATION_WEBHOOK_URL && !config.NOTIFICATION_WEBHOOK_SECRET) {
    problems.push('NOTIFICATION_WEBHOOK_SECRET is required with NOTIFICATION_WEBHOOK_URL (receivers verify the signature)');
  }
  // Anyone can sign tokens with the development key (it is in this file): a staging stack, or a deploy
  // that forgot APP_ENV, must not accept them.
  if (problems.length === 0 && config.JWT_HS256_KEYS.includes(LOCAL_DEV_KEY) && !(env.APP_ENV && DEV_KEY_ENVIRONMENTS.includes(config.APP_ENV))) {
    problems.push(`JWT_HS256_KEYS: the built-in development key is accepted only with APP_ENV set to ${DEV_KEY_ENVIRONMENTS.join(', ')} (APP_ENV is ${env.APP_ENV ? `"${env.APP_ENV}"` : 'not set'}); set JWT_JWKS_URL (and JWT_HS256_KEYS= empty) or your own JWT_HS256_KEYS`);
  }
  // Removed with issue 21: attachments have no public URL any more, so a stack still setting it
  // expects reads the core no longer serves that way.
  if (env.ATTACHMENT_CDN_BASE_URL) {
    problems.push('ATTACHMENT_CDN_BASE_URL is no longer supported: attachments are read only through GET /api/conversations/{id}/attachments/{attachmentId} (a presigned GET for current members); unset it');
  }
  if (problems.length === 0 && config.APP_ENV === 'production' && config.JWT_HS256_KEYS.length === 0 && !config.JWT_JWKS_URL) {
    problems.push('JWT_JWKS_URL or JWT_HS256_KEYS is required in production');
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** `--help` text and README table rows. */
export function describeConfig(): string {
  const shown = (spec: { default?: string; shownDefault?: string }) => {
    const value = spec.shownDefault ?? spec.default;
    if (value === undefined) return '—';
    if (value === '') return '(empty)';
    return `\`${value.startsWith('local:') ? 'local:… (development key)' : value}\``;
  };
  const rows = Object.entries(configSpec).map(([name, spec]) => `| \`${name}\` | ${shown(spec)} | ${spec.doc} |`);
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
