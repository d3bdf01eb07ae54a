import path from 'node:path';
import type { CommandEntry, CommandModule, OptionSpec } from './types';

/**
 * Every command of the `ops` CLI, in one place: the dispatcher (ops/cli/main.ts), `ops --help` and the
 * runbook cross-check read this list. A command group lives in its own module and is loaded lazily;
 * a module that does not exist yet makes its commands fail with "not implemented yet".
 */

const common: Record<string, OptionSpec> = {
  env: { type: 'string', value: 'local|<stack>', help: 'target environment: `local` (this machine) or a Kubernetes/Pulumi stack name (default: $OPS_ENV or local)' },
  'state-dir': { type: 'string', value: '<dir>', help: 'where releases, locks and the audit log live (default: $OPS_STATE_DIR or var/ops)' },
  json: { type: 'boolean', help: 'print the result as JSON on stdout (progress stays on stderr)' },
  'local-state': { type: 'boolean', help: 'stacks: keep the lock and release history on this machine only (default: the shared state at s3://<switchboard:backup.bucket>/ops; refused without it)' },
};

/** Commands that take the environment's lock: queue behind a running one instead of being refused. */
const alertmanager: Record<string, OptionSpec> = {
  'alertmanager-url': { type: 'string', value: '<url>', help: "the environment's Alertmanager for the maintenance silence (default $ALERTMANAGER_URL, else the stack's switchboard:observability.alertmanagerUrl; unreachable: a warning and the amtool command)" },
};

const lockWait: Record<string, OptionSpec> = {
  'lock-wait': { type: 'string', value: '<duration>', help: 'wait up to this long (e.g. 15m) for the lock held by another command instead of being refused (default: refuse at once)' },
};

/**
 * Loads an optional module contributed by another part of ops (e.g. ops/backup/commands.ts). Only a
 * missing module file means "not implemented"; any other error (a bug in that module) is raised.
 */
export function optionalModule(relativeToOps: string): () => Promise<CommandModule> {
  return async () => {
    const file = path.join(__dirname, '..', relativeToOps);
    let resolved: string;
    try {
      resolved = require.resolve(file);
    } catch {
      return { handlers: {} };
    }
    return require(resolved) as CommandModule;
  };
}

/** Loads one of ops' own command modules on first use (keeps `ops --help` fast). */
const lazy = (load: () => unknown) => async () => load() as CommandModule;

const backup = optionalModule('backup/commands');
const jobs = optionalModule('jobs/commands');

export const commands: CommandEntry[] = [
  {
    path: ['deploy'],
    summary: 'build a release and switch traffic to it behind a health gate (lock held, release recorded)',
    positional: 'version',
    usage: 'deploy [<ref>] [--env local|<stack>] [--version <ref>] [--strategy bluegreen|rolling] [-m <description>] [--lock-wait <duration>] [--allow-drift] [--dry-run] [--yes]',
    options: {
      ...common,
      ...lockWait,
      version: { type: 'string', value: '<ref>', help: 'git ref to build (local; default: the working tree), or the image (kubernetes): sha256:<digest>, a tag (resolved to its digest before anything changes) or a full reference' },
      'allow-drift': { type: 'boolean', help: 'kubernetes: apply even if the preview shows changes besides the image (default: show them and stop)' },
      strategy: { type: 'string', value: 'bluegreen|rolling', help: 'bluegreen: start every new instance, then switch at once (local, default); rolling: the Deployment replaces pods one by one (kubernetes, default)' },
      message: { type: 'string', short: 'm', value: '<text>', help: 'why: stored as the release description and the lock message' },
      instances: { type: 'string', value: '<n>', help: 'local: number of core instances (default: as before, or 2)' },
      set: { type: 'string', multiple: true, value: 'KEY=VALUE', help: 'local: a core setting baked into this release (repeatable), e.g. --set LOG_LEVEL=debug' },
      'dry-run': { type: 'boolean', help: 'print the exact plan and change nothing' },
      yes: { type: 'boolean', short: 'y', help: 'do not ask for confirmation (kubernetes stacks ask otherwise)' },
      'skip-preflight': { type: 'string', multiple: true, value: '<item>[=<reason>]', help: 'deploy although this preflight item fails (repeatable; `all`); recorded in the release. Items: see ops preflight --help' },
      'skip-verify': { type: 'string', value: '<reason>', help: 'do not run ops verify after the switch; the reason is recorded in the release' },
    },
    load: lazy(() => require('../commands/deploy')),
  },
  {
    path: ['preflight'],
    summary: 'the pre-deployment checklist: type check, lint, tests, npm audit, config, MongoDB + indexes, Redis, S3, TLS, backups, alerts (✓/✗ each)',
    usage: 'preflight [--env local|<stack>] [--skip <item>[=<reason>]] [--json]',
    options: { ...common, skip: { type: 'string', multiple: true, value: '<item>[=<reason>]', help: 'do not run this item (repeatable; `all`). Items: typecheck, lint, tests, audit, config, mongodb, indexes, redis, s3, tls, backup, alerts' } },
    details: 'Also the first step of `ops deploy`, which refuses when an item fails. CI=true: typecheck/lint/tests are recorded as covered by the pipeline. Settings: OPS_PROMETHEUS_URL (alerts), BACKUP_LOCATION (backup age, S3; a stack defaults to its switchboard:backup.bucket), OPS_BACKUP_MAX_AGE_HOURS (default: the backup RPO alert, 26), OPS_PUBLIC_URL (stacks: TLS), OPS_SKIP_PREFLIGHT (comma-separated skips).',
    dataStores: ['mongodb', 'redis'], load: lazy(() => require('../preflight/commands')),
  },
  {
    path: ['verify'],
    summary: 'post-deployment verification: every REST route and its error contract, Socket.IO join/send/receive/typing/read, gap repair, /health, /ready, /metrics',
    usage: 'verify [--env local|<stack>] [--url <public url>] [--json]',
    options: { ...common, url: { type: 'string', value: '<url>', help: 'entry point to verify (default: the local front door, or $OPS_PUBLIC_URL for a stack)' } },
    details: 'Also run by `ops deploy` after the switch. Acts as the users ops-verify-a/-b/-outsider in one direct and one group conversation that every run reuses (their only members), so repeated runs add no conversation other users see. Signs 5-minute tokens with the environment\'s first JWT_HS256_KEYS key.',
    load: lazy(() => require('../verify/commands')),
  },
  {
    path: ['rollback'],
    summary: 'switch back to an earlier release (same health-gated switch; writes its own release record)',
    positional: 'to',
    usage: 'rollback [<release>] [--to <release>] [--env local|<stack>] [--lock-wait <duration>] [--dry-run]',
    options: {
      ...common,
      ...lockWait,
      'allow-drift': { type: 'boolean', help: 'kubernetes: apply even if the preview shows changes besides the image' },
      to: { type: 'string', value: '<release>', help: 'release id, e.g. v3 (default: the last release that succeeded before the current one)' },
      message: { type: 'string', short: 'm', value: '<text>', help: 'why (release description and lock message)' },
      'dry-run': { type: 'boolean', help: 'print the plan and change nothing' },
      yes: { type: 'boolean', short: 'y', help: 'do not ask for confirmation' },
    },
    load: lazy(() => require('../commands/rollback')),
  },
  { path: ['config', 'list'], summary: 'stacks: the core settings changed through ops config in the current release (secrets shown as [secret])', usage: 'config list --env <stack> [--json]', options: common, load: lazy(() => require('../commands/config')) },
  { path: ['config', 'get'], summary: 'stacks: a core setting as the current release runs it (else the committed stack file); secrets never printed', usage: 'config get <KEY>... --env <stack> [--json]', words: '<KEY>...', options: common, load: lazy(() => require('../commands/config')) },
  ...(['set', 'unset'] as const).map((verb): CommandEntry => ({
    path: ['config', verb],
    summary: verb === 'set'
      ? 'stacks: change core settings as a release of their own (same image, pods roll on the config checksum, health gate, smoke test); ops rollback undoes it'
      : 'stacks: remove settings set through ops config (back to the committed stack file or the core default), as a release',
    usage: verb === 'set' ? 'config set <KEY=VALUE|KEY --secret < value>... --env <stack> [--secret] [-m <text>] [--lock-wait <duration>] [--allow-drift] [--dry-run] [--yes]' : 'config unset <KEY>... --env <stack> [-m <text>] [--lock-wait <duration>] [--dry-run] [--yes]',
    words: verb === 'set' ? '<KEY=VALUE|KEY>...' : '<KEY>...',
    options: {
      ...common,
      ...lockWait,
      ...(verb === 'set' ? { secret: { type: 'boolean', help: 'store the value as a Pulumi secret (read from stdin when only KEY is given); JWT_HS256_KEYS, SENTRY_DSN and NOTIFICATION_WEBHOOK_SECRET always are' } as const } : {}),
      'allow-drift': { type: 'boolean', help: 'apply even if the preview shows changes besides these settings' },
      message: { type: 'string', short: 'm', value: '<text>', help: 'why (release description and lock message)' },
      'dry-run': { type: 'boolean', help: 'print the plan and change nothing' },
      yes: { type: 'boolean', short: 'y', help: 'do not ask for confirmation' },
    },
    load: lazy(() => require('../commands/config')),
  })),
  {
    path: ['releases'],
    summary: 'list releases: id, version, who, when, status, duration, description',
    usage: 'releases [--env local|<stack>] [--json] [--limit <n>]',
    options: { ...common, limit: { type: 'string', value: '<n>', help: 'show the last n (default 20)' } },
    load: lazy(() => require('../commands/releases')),
  },
  {
    path: ['releases', 'prune'],
    summary: 'remove release builds beyond the newest N (never the current or rollback target); reports what it removed',
    usage: 'releases prune [--keep <n>] [--env local] [--json]',
    options: { ...common, keep: { type: 'string', value: '<n>', help: 'builds to keep (default: $OPS_KEEP_RELEASES or 5)' } },
    load: lazy(() => require('../commands/releases')),
  },
  // Issue 26's read-only verbs (ops/commands/inspect.ts): one release, what runs, logs, exec, tunnels.
  {
    path: ['releases', 'show'],
    summary: "one release's full record: kind, version/image, config digest and settings changed, who, when, outcome, duration, preflight, verify, steps",
    positional: 'id',
    usage: 'releases show <id> [--env local|<stack>] [--json]',
    options: common,
    load: lazy(() => require('../commands/inspect')),
  },
  {
    path: ['details'],
    summary: 'what is running: each instance/pod (version, ready, restarts, age, node), the release serving, maintenance, lock holder; unknown parts say why (exit 4)',
    usage: 'details [--env local|<stack>] [--json]',
    options: common,
    dataStores: ['redis'], load: lazy(() => require('../commands/inspect')),
  },
  {
    path: ['logs'],
    summary: "the core's logs: local instances' log files, or kubectl logs of the stack's pods (pinned context)",
    usage: 'logs [--env local|<stack>] [--follow] [--since <duration>] [--instance <name>]',
    // No --json: the output is the core's own lines (JSON already), passed through.
    options: {
      env: common.env!,
      'state-dir': common['state-dir']!,
      'local-state': common['local-state']!,
      follow: { type: 'boolean', short: 'f', help: 'keep printing new lines until Ctrl-C' },
      since: { type: 'string', value: '<duration>', help: 'only lines from the last <duration>, e.g. 10m, 2h' },
      instance: { type: 'string', value: '<name>', help: 'one instance or pod (names: ops details); default: all, each line prefixed' },
    },
    load: lazy(() => require('../commands/inspect')),
  },
  {
    path: ['exec'],
    summary: "run a command with an instance's environment (local: its MONGODB_URI, REDIS_URL, ...; stacks: kubectl exec into a core pod)",
    usage: 'exec [--env local|<stack>] [--instance <name>] -- <command...>',
    words: '-- <command...>',
    // No --json: the output is the command's own.
    options: {
      env: common.env!,
      'state-dir': common['state-dir']!,
      'local-state': common['local-state']!,
      instance: { type: 'string', value: '<name>', help: 'which instance or pod (default: the first ready one)' },
      'no-tty': { type: 'boolean', help: 'never attach the terminal (default: attached when ops runs in one)' },
    },
    load: lazy(() => require('../commands/inspect')),
  },
  {
    path: ['tunnel'],
    summary: "reach a stack's MongoDB or Redis from this machine: a short-lived pod + kubectl port-forward, printing the local URI and its export line (local target: the local URIs)",
    positional: 'service',
    usage: 'tunnel mongodb|redis [--env local|<stack>] [--port <local port>] [--remote <host:port>] [--json]',
    options: {
      ...common,
      port: { type: 'string', value: '<port>', help: 'local port on 127.0.0.1 (default: a free one)' },
      remote: { type: 'string', value: '<host:port>', help: 'forward to this member instead of the host in the core\'s Secret (e.g. the MongoDB primary)' },
    },
    details: "Stacks: reads the URI from the core's Secret switchboard-secrets, starts pod ops-tunnel-<service>-<random> (socat; image $OPS_TUNNEL_IMAGE) in the core's namespace, so it takes the pods' network path (Atlas private endpoint, ElastiCache in the VPC), and forwards 127.0.0.1:<port> to it. Stays up until Ctrl-C, then deletes the pod (activeDeadlineSeconds removes a forgotten one after 12 h).",
    load: lazy(() => require('../commands/inspect')),
  },
  {
    path: ['lock', 'status'],
    summary: 'show the deploy lock: owner, message, since, heartbeat age, expiry',
    usage: 'lock status [--env local|<stack>] [--json]',
    options: common,
    load: lazy(() => require('../commands/lock')),
  },
  {
    path: ['lock', 'acquire'],
    summary: 'hold the deploy lock (no deploy or rollback can start) until released or expired',
    usage: 'lock acquire -m <message> --ttl <duration> [--env local|<stack>]',
    options: {
      ...common,
      message: { type: 'string', short: 'm', value: '<text>', help: 'why the lock is held (shown to whoever is refused)' },
      ttl: { type: 'string', value: '<duration>', help: 'required: expiry, e.g. 30m, 2h (> 0); an expired lock is taken over. Your own commands (same OPS_USER, or OPS_LOCK_TOKEN=<printed token>) run under it' },
    },
    load: lazy(() => require('../commands/lock')),
  },
  {
    path: ['lock', 'release'],
    summary: 'release the deploy lock',
    usage: 'lock release [--env local|<stack>]',
    options: common,
    load: lazy(() => require('../commands/lock')),
  },
  {
    path: ['maintenance', 'on'],
    summary: 'answer 503 + Retry-After (HTML page / problem+json) for the API and socket handshakes; /health stays up',
    usage: 'maintenance on [--message <text>] [--retry-after <seconds>] [--duration <2h>] [--alertmanager-url <url>] [--env local|<stack>]',
    options: {
      ...common,
      ...lockWait,
      ...alertmanager,
      duration: { type: 'string', value: '<duration>', help: 'how long the Alertmanager silence of the alerts maintenance explains lasts (default 2h; `off` expires it early)' },
      message: { type: 'string', short: 'm', value: '<text>', help: 'shown to users (default: "Switchboard is down for maintenance.")' },
      'retry-after': { type: 'string', value: '<seconds>', help: 'Retry-After sent to clients (default 120)' },
    },
    dataStores: ['redis'], load: lazy(() => require('../commands/maintenance')),
  },
  { path: ['maintenance', 'off'], summary: 'end maintenance mode and expire its Alertmanager silence', usage: 'maintenance off [--env local|<stack>] [--alertmanager-url <url>] [--lock-wait <duration>]', options: { ...common, ...lockWait, ...alertmanager }, dataStores: ['redis'], load: lazy(() => require('../commands/maintenance')) },
  {
    path: ['maintenance', 'status'],
    summary: 'show whether maintenance mode is on (front door and core flag)',
    usage: 'maintenance status [--env local|<stack>] [--json]',
    options: common,
    dataStores: ['redis'], load: lazy(() => require('../commands/maintenance')),
  },
  {
    path: ['alerts', 'drill'],
    summary: "prove the pager path: send a labelled test page through the environment's Alertmanager, wait until it reports the paging service notified, resolve it",
    usage: 'alerts drill [--env local|<stack>] [--alertmanager-url <url>] [--timeout <duration>] [--json]',
    options: {
      ...common,
      'alertmanager-url': { type: 'string', value: '<url>', help: "the environment's Alertmanager (default $ALERTMANAGER_URL, else the stack's switchboard:observability.alertmanagerUrl)" },
      timeout: { type: 'string', value: '<duration>', help: 'give up when no request to the paging service succeeded within this long (default 7m: group_wait + group_interval of a page + margin)' },
    },
    details: 'Sends alertname=SwitchboardPagerDrill, severity=page, drill="true" (summary "DRILL, not an incident") through POST /api/v2/alerts; the routing sends it to the pager receiver like a real page. Delivery is read from Alertmanager\'s own counters on /metrics (alertmanager_notification_requests_total / _failed_total and alertmanager_notifications_failed_total for integration="pagerduty", before vs. after). Exit 0 delivered, 1 failed or not confirmed in time, 4 unknown (Alertmanager not configured or not reachable). Audited as alerts.drill.',
    load: lazy(() => require('../alerting/commands')),
  },
  {
    path: ['status'],
    summary: 'public URL, each instance (version, health, readiness, maintenance, sockets), last deploy; non-zero when unhealthy',
    usage: 'status [--env local|<stack>] [--json] [--watch]',
    options: { ...common, watch: { type: 'boolean', help: 'refresh every 2 s until Ctrl-C' }, interval: { type: 'string', value: '<seconds>', help: 'refresh interval for --watch (default 2)' } },
    dataStores: ['redis'], load: lazy(() => require('../commands/status')),
  },
  {
    path: ['audit'],
    summary: 'the append-only record of deploys, rollbacks, maintenance changes, locks and backups',
    usage: 'audit [--env <env>] [--limit <n>] [--json]',
    options: { ...common, limit: { type: 'string', value: '<n>', help: 'show the last n entries (default 50)' }, all: { type: 'boolean', help: 'every environment (default: only --env when given)' } },
    load: lazy(() => require('../commands/audit')),
  },
  {
    path: ['stop'],
    summary: 'local target only: drain and stop every core instance and the nginx front door',
    usage: 'stop [--env local] [--lock-wait <duration>] [--json]',
    options: { ...common, ...lockWait },
    load: lazy(() => require('../commands/stop')),
  },
  {
    path: ['build'],
    summary: 'build the container image (compiled core + ops, production dependencies) with podman; prints its digest',
    usage: 'build [--base local|<image>] [--json]',
    options: { json: common.json!, base: { type: 'string', value: 'local|<image>', help: 'base image: `local` builds one from Debian (debootstrap) and the Node 24 npm binary, for machines without a registry (default: $OPS_IMAGE_BASE or node:24-bookworm-slim)' } },
    load: lazy(() => require('../build/commands')),
  },
  ...(['add', 'switch', 'retire'] as const).map((step): CommandEntry => ({
    path: ['jwt', step],
    summary: {
      add: 'HS256 key rotation 1/3: add a new key next to the old ones (both verify, the old one still issues) and roll the core',
      switch: 'HS256 key rotation 2/3: issue with the new key (old tokens still verify) and roll the core',
      retire: 'HS256 key rotation 3/3: remove the old keys once every token they signed has expired, and roll the core',
    }[step],
    usage: `jwt ${step} [--env local]${step === 'retire' ? ' [--force]' : ''}${step === 'add' ? ' [--max-token-ttl <duration>]' : ''}`,
    options: {
      ...common,
      ...(step === 'add' ? { 'max-token-ttl': { type: 'string', value: '<duration>', help: 'longest lifetime of a token the environment issues; retire waits this long after switch (default 12h)' } as const } : {}),
      ...(step === 'retire' ? { force: { type: 'boolean', help: 'retire before the old tokens expired (the old key leaked): their sessions end' } as const } : {}),
    },
    load: lazy(() => require('../keys/commands')),
  })),
  { path: ['jwt', 'status'], summary: 'where the HS256 key rotation stands (phase, new kid, when each step ran)', usage: 'jwt status [--env local] [--json]', options: common, load: lazy(() => require('../keys/commands')) },
  // Contributed by ops/backup/commands.ts (another engineer): they parse their own options.
  { path: ['backup'], summary: 'take a logical backup (per collection, compressed, manifest with counts and SHA-256)', dataStores: ['mongodb'], load: backup },
  { path: ['backup', 'list'], summary: 'list backups with their manifests', load: backup },
  { path: ['backup', 'prune'], summary: 'apply the backup retention policy', load: backup },
  { path: ['backup', 'verify'], summary: 'verify a backup by restoring it into a scratch database', dataStores: ['mongodb'], load: backup },
  { path: ['backup', 'drill'], summary: 'quarterly restore drill: restore the newest backup into a scratch database, verify it, time it against the RTO; recorded and exported as metrics', dataStores: ['mongodb'], load: backup },
  { path: ['restore'], summary: 'restore a backup (takes a safety backup first; never overwrites without an explicit flag)', dataStores: ['mongodb'], load: backup },
  // Contributed by ops/jobs/commands.ts: the core's scheduled jobs, run by hand.
  { path: ['jobs', 'list'], summary: 'list the scheduled jobs (retention, conversation-archive, orphan-uploads), next and last runs', dataStores: ['mongodb'], load: jobs },
  { path: ['jobs', 'run'], summary: 'run a maintenance job now', dataStores: ['mongodb'], load: jobs },
];
