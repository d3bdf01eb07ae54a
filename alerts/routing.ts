import type { Severity } from './config';
import { dashboardUrl, runbookUrl, type LinkSettings } from './links';
import { alertNames } from './rules';
import { dashboardUids } from '../dashboards/uids';

/**
 * Alertmanager routing, generated from the same TypeScript as the rules: an alert's `severity`
 * label decides its receivers, notifications are grouped by alert and environment, and the
 * inhibitions below silence the alerts one cause already explains. Rendered two ways from one
 * model: `alertmanager.yml` for a plain Alertmanager (alerts/generated/, secrets read from files)
 * and a prometheus-operator AlertmanagerConfig (infra/src/k8s/alerting.ts, secrets from a Secret
 * filled by Pulumi config secrets).
 */

export type ReceiverName = 'pager' | 'chat' | 'unrouted';

export interface Timing {
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
}

export const routingConfig = {
  /** One notification per alert per environment (instances of one alert are one page). */
  groupBy: ['alertname', 'environment'],
  /**
   * Receivers and timings per severity. A page goes to the paging service (PagerDuty Events v2)
   * and is mirrored to chat; a ticket goes to chat only. Pages repeat hourly while unresolved.
   */
  severities: {
    page: { receivers: ['pager', 'chat'], timing: { groupWait: '30s', groupInterval: '5m', repeatInterval: '1h' } },
    ticket: { receivers: ['chat'], timing: { groupWait: '2m', groupInterval: '10m', repeatInterval: '12h' } },
  } satisfies Record<Severity, { receivers: ReceiverName[]; timing: Timing }>,
  /** Chat channels (Slack incoming webhook). `unrouted` is the root's receiver: no alert may land there (tested). */
  channels: { chat: '#switchboard-alerts', unrouted: '#switchboard-unrouted' },
  /** Every alert of this repository carries service="switchboard" (rules.ts withLinks). */
  service: 'switchboard',
} as const;

export interface Inhibition {
  /** The cause: while it fires... */
  source: string;
  /** ...these alerts with the same `equal` labels are not notified. */
  targets: string[];
  equal: string[];
  why: string;
}

export const inhibitions: Inhibition[] = [
  {
    source: 'SwitchboardMongoDBUnreachable',
    targets: ['SwitchboardApiErrorBudgetBurn', 'SwitchboardApiLatencyBudgetBurn'],
    equal: ['environment', 'job'],
    why: 'sends and history reads fail or time out without MongoDB: the burn pages repeat the MongoDB page',
  },
  {
    source: 'SwitchboardRedisUnreachable',
    targets: ['SwitchboardMessageDeliveryBudgetBurn'],
    equal: ['environment', 'job'],
    why: 'cross-instance delivery goes through Redis pub/sub: late messages are the Redis outage',
  },
  {
    source: 'SwitchboardCoreInstanceDown',
    // Not its dependency alerts: a down instance exports no chat_dependency_up, so they cannot fire for it.
    targets: ['SwitchboardCoreNotReady', 'SwitchboardEventLoopLagHigh', 'SwitchboardMemoryGrowth'],
    equal: ['environment', 'job', 'instance'],
    why: 'an instance that is down explains its own readiness and runtime symptoms',
  },
  {
    source: 'SwitchboardCoreAbsent',
    targets: ['SwitchboardCoreInstanceDown', 'SwitchboardCoreNotReady'],
    equal: ['environment', 'job'],
    why: 'no instance at all: the per-instance alerts add nothing',
  },
];

/**
 * The alerts a maintenance window announces (the outage users are told about): `ops maintenance on`
 * silences them for the environment until the window ends. Backups, certificates, jobs and memory
 * keep alerting during maintenance.
 */
export const maintenanceExplains = [
  'SwitchboardApiErrorBudgetBurn',
  'SwitchboardApiLatencyBudgetBurn',
  'SwitchboardMessageDeliveryBudgetBurn',
  'SwitchboardMongoDBUnreachable',
  'SwitchboardRedisUnreachable',
  'SwitchboardCoreNotReady',
  'SwitchboardCoreInstanceDown',
  'SwitchboardSocketDisconnectStorm',
];

/** Receivers wanted for an alert of this severity, in routing order. */
export const receiversFor = (severity: Severity): ReceiverName[] => [...routingConfig.severities[severity].receivers];

/** Names used in inhibitions and maintenance that are not alerts of the rules (a typo silences nothing). */
export function unknownAlertReferences(): string[] {
  const known = new Set(alertNames());
  return [...new Set([...inhibitions.flatMap((i) => [i.source, ...i.targets]), ...maintenanceExplains])].filter((a) => !known.has(a));
}

/** Where the receivers send: URLs for the drill and tests, secret files for a plain deployment. */
export interface ReceiverEndpoints {
  /** PagerDuty Events v2 endpoint (default https://events.pagerduty.com/v2/enqueue). */
  pagerdutyUrl?: string;
  /** Either the routing key itself (tests) or a file holding it. */
  pagerdutyRoutingKey: { value: string } | { file: string };
  /** Slack incoming-webhook URL, or a file holding it. */
  slackWebhook: { value: string } | { file: string };
}

export interface RenderOptions {
  endpoints: ReceiverEndpoints;
  /** Test/drill only: shorter group_wait etc. for every severity. */
  timingOverride?: Partial<Timing>;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
export const alternation = (names: string[]) => names.map(escapeRegex).join('|');

/** Message templates shared by both renderings (Go templates over Alertmanager's notification data). */
export const templates = {
  pagerDescription: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.environment }}): {{ .CommonAnnotations.summary }}',
  runbookHref: '{{ .CommonAnnotations.runbook_url }}',
  dashboardHref: '{{ .CommonAnnotations.dashboard }}',
  slackTitle: '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }}, {{ .CommonLabels.environment }})',
  slackText: '{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\nDashboard: {{ .Annotations.dashboard }}\n{{ end }}',
};

const seconds = (d: string) => {
  const m = /^(\d+)(s|m|h)$/.exec(d);
  if (!m) throw new Error(`unsupported duration ${d}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
};

/** The routing tree as plain data (both renderings walk it). */
export function routeTree(timingOverride: Partial<Timing> = {}) {
  const routes = (Object.entries(routingConfig.severities) as [Severity, { receivers: readonly ReceiverName[]; timing: Timing }][]).flatMap(([severity, s]) =>
    s.receivers.map((receiver, i) => ({
      receiver,
      matchers: { service: routingConfig.service, severity },
      // A page goes on to its next receiver (chat mirror); the last receiver of a severity stops.
      continue: i < s.receivers.length - 1,
      timing: { ...s.timing, ...timingOverride },
    })),
  );
  const fastest = Object.values(routingConfig.severities).map((s) => ({ ...s.timing, ...timingOverride })).sort((a, b) => seconds(a.groupWait) - seconds(b.groupWait))[0]!;
  return { receiver: 'unrouted' as ReceiverName, groupBy: [...routingConfig.groupBy], timing: fastest, routes };
}

/** alertmanager.yml for a plain Alertmanager (the Debian package, the drill). */
export function alertmanagerYaml(options: RenderOptions): Record<string, unknown> {
  const tree = routeTree(options.timingOverride);
  const { endpoints } = options;
  const routingKey = 'value' in endpoints.pagerdutyRoutingKey ? { routing_key: endpoints.pagerdutyRoutingKey.value } : { routing_key_file: endpoints.pagerdutyRoutingKey.file };
  const slackUrl = 'value' in endpoints.slackWebhook ? { api_url: endpoints.slackWebhook.value } : { api_url_file: endpoints.slackWebhook.file };
  const slack = (channel: string) => ({ ...slackUrl, channel, send_resolved: true, title: templates.slackTitle, text: templates.slackText });
  return {
    route: {
      receiver: tree.receiver,
      group_by: tree.groupBy,
      group_wait: tree.timing.groupWait,
      group_interval: tree.timing.groupInterval,
      repeat_interval: tree.timing.repeatInterval,
      routes: tree.routes.map((r) => ({
        receiver: r.receiver,
        matchers: Object.entries(r.matchers).map(([k, v]) => `${k}="${v}"`),
        continue: r.continue,
        group_wait: r.timing.groupWait,
        group_interval: r.timing.groupInterval,
        repeat_interval: r.timing.repeatInterval,
      })),
    },
    inhibit_rules: inhibitions.map((i) => ({
      source_matchers: [`alertname="${i.source}"`],
      target_matchers: [`alertname=~"${alternation(i.targets)}"`],
      equal: i.equal,
    })),
    receivers: [
      {
        name: 'pager',
        pagerduty_configs: [
          {
            ...routingKey,
            ...(endpoints.pagerdutyUrl ? { url: endpoints.pagerdutyUrl } : {}),
            send_resolved: true,
            description: templates.pagerDescription,
            links: [
              { href: templates.runbookHref, text: 'Runbook' },
              { href: templates.dashboardHref, text: 'Dashboard' },
            ],
          },
        ],
      },
      { name: 'chat', slack_configs: [slack(routingConfig.channels.chat)] },
      { name: 'unrouted', slack_configs: [slack(routingConfig.channels.unrouted)] },
    ],
  };
}

/** Secret keys the AlertmanagerConfig reads (infra fills the Secret from Pulumi config secrets). */
export const receiverSecretKeys = { pagerdutyRoutingKey: 'pagerduty-routing-key', slackWebhookUrl: 'slack-webhook-url' } as const;

/**
 * The same routing as a prometheus-operator `AlertmanagerConfig` spec (monitoring.coreos.com/v1alpha1).
 * The operator prefixes receiver names and adds a namespace matcher; everything else is the same tree.
 */
export function alertmanagerConfigSpec(secretName: string, timingOverride?: Partial<Timing>): Record<string, unknown> {
  const tree = routeTree(timingOverride);
  const secretRef = (key: string) => ({ name: secretName, key });
  const slack = (channel: string) => ({ apiURL: secretRef(receiverSecretKeys.slackWebhookUrl), channel, sendResolved: true, title: templates.slackTitle, text: templates.slackText });
  return {
    route: {
      receiver: tree.receiver,
      groupBy: tree.groupBy,
      groupWait: tree.timing.groupWait,
      groupInterval: tree.timing.groupInterval,
      repeatInterval: tree.timing.repeatInterval,
      routes: tree.routes.map((r) => ({
        receiver: r.receiver,
        matchers: Object.entries(r.matchers).map(([name, value]) => ({ name, value, matchType: '=' })),
        continue: r.continue,
        groupWait: r.timing.groupWait,
        groupInterval: r.timing.groupInterval,
        repeatInterval: r.timing.repeatInterval,
      })),
    },
    inhibitRules: inhibitions.map((i) => ({
      sourceMatch: [{ name: 'alertname', value: i.source, matchType: '=' }],
      targetMatch: [{ name: 'alertname', value: alternation(i.targets), matchType: '=~' }],
      equal: i.equal,
    })),
    receivers: [
      {
        name: 'pager',
        pagerdutyConfigs: [
          {
            routingKey: secretRef(receiverSecretKeys.pagerdutyRoutingKey),
            sendResolved: true,
            description: templates.pagerDescription,
            // The CRD's name for alertmanager.yml's `links` (href + alt); `links` itself is refused by the
            // API server's schema (found applying it to a real kube-apiserver, ops/test/kubernetes-cluster.e2e.test.ts).
            pagerDutyLinkConfigs: [
              { href: templates.runbookHref, alt: 'Runbook' },
              { href: templates.dashboardHref, alt: 'Dashboard' },
            ],
          },
        ],
      },
      { name: 'chat', slackConfigs: [slack(routingConfig.channels.chat)] },
      { name: 'unrouted', slackConfigs: [slack(routingConfig.channels.unrouted)] },
    ],
  };
}

/** The Alertmanager integration of the `pager` receiver (the label of its notification counters). */
export const pagingIntegration = 'pagerduty';

/** alertname of `ops alerts drill`'s synthetic alert: not a rule, never inhibited or silenced by maintenance. */
export const drillAlertName = 'SwitchboardPagerDrill';

/** The runbook section that explains a drill page (and how to run one): runbooks/README.md. */
export const drillRunbook = { page: 'README', anchor: 'prove-the-pager-path' } as const;

/**
 * The synthetic alert `ops alerts drill` sends through an environment's Alertmanager: severity page,
 * so the routing above sends it to the paging receiver like a real page; `drill="true"` and a summary
 * that says so, so nobody mistakes it for an incident; a `drill_id` so every drill is its own alert.
 */
export function drillAlert(options: { env: string; operator: string; drillId: string; links: LinkSettings; startsAt: Date; endsAt: Date }) {
  return {
    labels: {
      alertname: drillAlertName,
      severity: 'page' satisfies Severity,
      service: routingConfig.service,
      environment: options.env,
      drill: 'true',
      drill_id: options.drillId,
    },
    annotations: {
      summary: `DRILL, not an incident: pager path test for ${options.env} by ${options.operator} (ops alerts drill). Acknowledge it; it resolves by itself.`,
      description: `A synthetic page sent by \`ops alerts drill --env ${options.env}\` (drill_id ${options.drillId}) to prove that Alertmanager reaches the paging service. Nothing is wrong with Switchboard.`,
      runbook_url: `${runbookUrl(options.links, drillRunbook.page)}#${drillRunbook.anchor}`,
      dashboard: dashboardUrl(options.links, dashboardUids.overview),
    },
    startsAt: options.startsAt.toISOString(),
    endsAt: options.endsAt.toISOString(),
  };
}

/** Where a plain deployment keeps the receiver secrets (mounted files, never in the YAML). */
export const secretFiles = {
  pagerdutyRoutingKey: '/etc/alertmanager/secrets/pagerduty-routing-key',
  slackWebhookUrl: '/etc/alertmanager/secrets/slack-webhook-url',
};
