import { maintenanceExplains, alternation } from '../../alerts/routing';

/**
 * Alertmanager silences for maintenance windows (API v2). `ops maintenance on` silences the alerts
 * the announced outage explains (alerts/routing.ts maintenanceExplains) for its environment until
 * the window's end; `ops maintenance off` expires every such silence of the environment. The
 * silences are found again by their creator tag, so nothing has to be stored between the two.
 */

export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface SilenceRequest {
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

/** createdBy of every maintenance silence: `ops maintenance (<operator>)`. */
const creatorPrefix = 'ops maintenance';

export function maintenanceSilence(options: { env: string; operator: string; message: string; now: Date; endsAt: Date }): SilenceRequest {
  return {
    matchers: [
      { name: 'environment', value: options.env, isRegex: false, isEqual: true },
      { name: 'alertname', value: alternation(maintenanceExplains), isRegex: true, isEqual: true },
    ],
    startsAt: options.now.toISOString(),
    endsAt: options.endsAt.toISOString(),
    createdBy: `${creatorPrefix} (${options.operator})`,
    comment: `maintenance by ${options.operator}: ${options.message}`,
  };
}

/** The same silence as an amtool command, for when Alertmanager could not be reached. */
export function amtoolCommand(silence: SilenceRequest, alertmanagerUrl: string): string {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const matchers = silence.matchers.map((m) => quote(`${m.name}${m.isEqual ? '' : '!'}${m.isRegex ? '=~' : '='}${m.value}`));
  return [
    'amtool silence add',
    `--alertmanager.url=${alertmanagerUrl}`,
    `--author=${quote(silence.createdBy)}`,
    `--comment=${quote(silence.comment)}`,
    `--end=${silence.endsAt}`,
    ...matchers,
  ].join(' ');
}

export type AlertmanagerErrorCode = 'unreachable' | 'rejected';

/** Alertmanager did not answer (code `unreachable`) or refused the request (`rejected`, with its HTTP status). */
export class AlertmanagerError extends Error {
  constructor(message: string, readonly code: AlertmanagerErrorCode, readonly status?: number) {
    super(message);
  }
}

async function call(url: string, init: RequestInit & { timeoutMs?: number }): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 5_000) });
  } catch (error) {
    // fetch says only "fetch failed"; the cause's code (ENOTFOUND, ECONNREFUSED, timeout) is the reason an operator can act on.
    const cause = (error as Error & { cause?: { code?: string } }).cause?.code;
    throw new AlertmanagerError(`Alertmanager at ${new URL(url).origin} did not answer: ${(error as Error).message}${cause ? ` (${cause})` : ''}`, 'unreachable');
  }
  if (!response.ok) throw new AlertmanagerError(`Alertmanager answered ${response.status} to ${init.method ?? 'GET'} ${new URL(url).pathname}: ${(await response.text()).slice(0, 300)}`, 'rejected', response.status);
  return response;
}

const base = (url: string) => url.replace(/\/+$/, '');

/** Creates the silence; returns its id. */
export async function createSilence(alertmanagerUrl: string, silence: SilenceRequest): Promise<string> {
  const response = await call(`${base(alertmanagerUrl)}/api/v2/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(silence) });
  return ((await response.json()) as { silenceID: string }).silenceID;
}

interface StoredSilence extends SilenceRequest {
  id: string;
  status: { state: 'active' | 'pending' | 'expired' };
}

/** The maintenance silences of `env` that are active or pending. */
export async function maintenanceSilences(alertmanagerUrl: string, env: string): Promise<StoredSilence[]> {
  const response = await call(`${base(alertmanagerUrl)}/api/v2/silences`, { method: 'GET' });
  const all = (await response.json()) as StoredSilence[];
  return all.filter(
    (s) => s.status.state !== 'expired' && s.createdBy.startsWith(creatorPrefix) && s.matchers.some((m) => m.name === 'environment' && !m.isRegex && m.isEqual && m.value === env),
  );
}

/** Expires every maintenance silence of `env`; returns the expired ids. */
export async function expireMaintenanceSilences(alertmanagerUrl: string, env: string): Promise<string[]> {
  const expired: string[] = [];
  for (const silence of await maintenanceSilences(alertmanagerUrl, env)) {
    await call(`${base(alertmanagerUrl)}/api/v2/silence/${encodeURIComponent(silence.id)}`, { method: 'DELETE' });
    expired.push(silence.id);
  }
  return expired;
}

/** An alert as POST /api/v2/alerts takes it. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** Sends (or, with endsAt in the past, resolves) alerts, as Prometheus does. */
export async function postAlerts(alertmanagerUrl: string, alerts: PostableAlert[]): Promise<void> {
  await call(`${base(alertmanagerUrl)}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
}

export interface StoredAlert {
  labels: Record<string, string>;
  receivers: { name: string }[];
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[] };
}

/** The drill alert with this drill_id as Alertmanager holds it (routed receivers, suppressed or not); undefined before it is processed. */
export async function readAlert(alertmanagerUrl: string, drillId: string): Promise<StoredAlert | undefined> {
  const filter = encodeURIComponent(`drill_id="${drillId}"`);
  const response = await call(`${base(alertmanagerUrl)}/api/v2/alerts?filter=${filter}&silenced=true&inhibited=true&active=true&unprocessed=true`, { method: 'GET' });
  const found = ((await response.json()) as StoredAlert[])[0];
  return found && found.status.state !== 'unprocessed' ? found : undefined;
}

/**
 * Alertmanager's notification counters per integration (summed over receiver_name/reason labels):
 * `notifications` counts notification pipelines started, `notificationsFailed` the ones that gave up;
 * `requests`/`requestsFailed` count each attempt (one pipeline retries a 5xx until group_interval).
 */
export interface NotificationCounts {
  notifications: Record<string, number>;
  notificationsFailed: Record<string, number>;
  requests: Record<string, number>;
  requestsFailed: Record<string, number>;
}

const counterNames: Record<string, keyof NotificationCounts> = {
  alertmanager_notifications_total: 'notifications',
  alertmanager_notifications_failed_total: 'notificationsFailed',
  alertmanager_notification_requests_total: 'requests',
  alertmanager_notification_requests_failed_total: 'requestsFailed',
};

/**
 * Reads the four counters out of the Prometheus text exposition. Four counter lines with an
 * `integration` label need no exposition parser dependency: name, the label, the value.
 */
export function parseNotificationCounts(text: string): NotificationCounts {
  const counts: NotificationCounts = { notifications: {}, notificationsFailed: {}, requests: {}, requestsFailed: {} };
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{([^}]*)\}\s+(\S+)/.exec(line);
    const key = match && counterNames[match[1]!];
    if (!key) continue;
    const integration = /(?:^|,)integration="([^"]*)"/.exec(match[2]!)?.[1];
    const value = Number(match[3]);
    if (integration === undefined || !Number.isFinite(value)) continue;
    counts[key][integration] = (counts[key][integration] ?? 0) + value;
  }
  return counts;
}

export async function readNotificationCounts(alertmanagerUrl: string): Promise<NotificationCounts> {
  const response = await call(`${base(alertmanagerUrl)}/metrics`, { method: 'GET' });
  return parseNotificationCounts(await response.text());
}
