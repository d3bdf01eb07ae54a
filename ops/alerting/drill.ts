import { randomUUID } from 'node:crypto';
import { drillAlert, pagingIntegration, routingConfig } from '../../alerts/routing';
import type { LinkSettings } from '../../alerts/links';
import { formatMs, type Output } from '../cli/output';
import { AlertmanagerError, postAlerts, readAlert, readNotificationCounts, type NotificationCounts } from './silences';

/**
 * `ops alerts drill`: proves the pager path of an environment the way a paging service's "test
 * incident" does, but through the environment's own Alertmanager and routing. It posts one synthetic,
 * clearly labelled alert (alerts/routing.ts drillAlert: severity page, drill="true", a summary that
 * says it is a drill), then watches Alertmanager's own counters for the paging integration on
 * /metrics, before vs. now, until a request to the paging service succeeded, and finally resolves
 * the alert (endsAt = now). Which counters: `alertmanager_notifications_total` is incremented when a
 * notification *starts* (before any request) and `_notifications_failed_total` only when it gives
 * up (a 5xx is retried until group_interval), so success is read from the per-request pair
 * `alertmanager_notification_requests_total` − `_requests_failed_total`; a give-up
 * (`notifications_failed_total`) or only failed requests for a grace period is a failure. The alert carries an endsAt of its own, so a drill that is killed half-way
 * resolves by itself.
 *
 * The counters are per integration, not per alert: a real page sent in the same seconds would count
 * too. That is why the drill also reads the alert back (/api/v2/alerts) and refuses when it is
 * suppressed or not routed to the paging receiver; the phone that rings is the final proof.
 */

export type DrillOutcome = 'delivered' | 'failed' | 'unknown';

export interface DrillResult {
  outcome: DrillOutcome;
  env: string;
  alertmanagerUrl?: string;
  /** The drill_id label of the alert (find it in Alertmanager and at the paging service). */
  drillId: string;
  /** Why it failed or is unknown. */
  reason?: string;
  /** The command or step to take next (failed/unknown). */
  next?: string;
  /** Milliseconds from posting the alert to the confirmed notification. */
  deliveredAfterMs?: number;
  /** Receivers Alertmanager routed the alert to. */
  receivers?: string[];
  /** Paging-integration requests since the alert was posted: succeeded / failed. */
  sent: number;
  failed: number;
  /** Whether the alert was resolved at the end (endsAt now). */
  resolved: boolean;
}

export interface DrillOptions {
  alertmanagerUrl?: string;
  env: string;
  operator: string;
  links: LinkSettings;
  /** Give up after this long without a confirmed notification. */
  timeoutMs: number;
  /** After the first failed attempt, give up when none succeeded within this long (Alertmanager retries 5xx). */
  failureGraceMs?: number;
  pollMs?: number;
  out: Pick<Output, 'info' | 'warn'>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Where to go when Alertmanager cannot be reached (the in-cluster URL only resolves inside the cluster). */
const reachNext = (env: string) =>
  `check it answers: curl -s <alertmanager>/-/ready; from outside the cluster: kubectl -n monitoring port-forward svc/alertmanager-operated 9093 and rerun ops alerts drill --env ${env} --alertmanager-url http://127.0.0.1:9093`;

export async function runDrill(options: DrillOptions): Promise<DrillResult> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const pollMs = options.pollMs ?? 1_000;
  const graceMs = options.failureGraceMs ?? 60_000;
  const { env, out } = options;
  const drillId = randomUUID().slice(0, 8);
  const base: Omit<DrillResult, 'outcome'> = { env, drillId, sent: 0, failed: 0, resolved: false, ...(options.alertmanagerUrl ? { alertmanagerUrl: options.alertmanagerUrl } : {}) };
  const url = options.alertmanagerUrl;
  if (!url) {
    return {
      ...base,
      outcome: 'unknown',
      reason: `no Alertmanager configured for ${env}`,
      next: `ops alerts drill --env ${env} --alertmanager-url <url> (or set ALERTMANAGER_URL, or switchboard:observability.alertmanagerUrl in infra/Pulumi.${env}.yaml)`,
    };
  }

  let before: NotificationCounts;
  try {
    before = await readNotificationCounts(url);
  } catch (error) {
    if (!(error instanceof AlertmanagerError)) throw error;
    return { ...base, outcome: 'unknown', reason: error.message, next: reachNext(env) };
  }
  if (!(pagingIntegration in before.requests)) {
    return { ...base, outcome: 'unknown', reason: `Alertmanager at ${url} exports no alertmanager_notification_requests_total{integration="${pagingIntegration}"} (older than 0.22?): delivery cannot be confirmed`, next: 'upgrade Alertmanager, or send a test incident from the paging service itself' };
  }

  const startedAt = now();
  // endsAt of its own: if this command dies, Alertmanager resolves the drill after the timeout anyway.
  const alert = drillAlert({ env, operator: options.operator, drillId, links: options.links, startsAt: new Date(startedAt), endsAt: new Date(startedAt + options.timeoutMs + 5 * 60_000) });
  try {
    await postAlerts(url, [alert]);
  } catch (error) {
    if (!(error instanceof AlertmanagerError)) throw error;
    return error.code === 'unreachable'
      ? { ...base, outcome: 'unknown', reason: error.message, next: reachNext(env) }
      : { ...base, outcome: 'failed', reason: error.message, next: 'Alertmanager refused the alert: check its version (API v2) and its log' };
  }
  const timing = routingConfig.severities.page.timing;
  out.info(`▸ drill alert ${alert.labels.alertname} drill_id=${drillId} posted to ${url} (environment=${env}); Alertmanager sends it after group_wait ${timing.groupWait} (up to group_interval ${timing.groupInterval} when a drill ran just before)`);

  const finish = async (result: Omit<DrillResult, 'resolved' | 'env' | 'drillId' | 'alertmanagerUrl'>): Promise<DrillResult> => {
    let resolved = false;
    try {
      await postAlerts(url, [{ ...alert, endsAt: new Date(now()).toISOString() }]);
      resolved = true;
      out.info(`✓ drill alert resolved (the paging service gets the resolve within group_interval ${timing.groupInterval})`);
    } catch (error) {
      if (!(error instanceof AlertmanagerError)) throw error;
      out.warn(`could not resolve the drill alert (${error.message}); it resolves by itself at ${alert.endsAt}`);
    }
    return { ...base, ...result, resolved };
  };

  let receivers: string[] | undefined;
  let last = { attempts: 0, attemptsFailed: 0, gaveUp: 0 };
  let succeededPolls = 0;
  let firstFailureAt: number | undefined;
  let lastProgress = startedAt;
  let unreachableSince: number | undefined;
  let lastError = '';
  for (;;) {
    await sleep(pollMs);
    const elapsed = now() - startedAt;
    try {
      const [counts, stored] = await Promise.all([readNotificationCounts(url), receivers ? Promise.resolve(undefined) : readAlert(url, drillId)]);
      unreachableSince = undefined;
      if (stored && !receivers) {
        if (stored.status.state === 'suppressed') {
          const by = [...stored.status.silencedBy.map((s) => `silence ${s}`), ...stored.status.inhibitedBy.map((i) => `inhibited by ${i}`)].join(', ');
          return finish({ outcome: 'failed', reason: `the drill alert is suppressed (${by}): it cannot page`, next: `amtool silence query --alertmanager.url=${url} environment=${env}; expire what matches the drill (or wait for it), then rerun ops alerts drill --env ${env}`, sent: 0, failed: 0 });
        }
        receivers = stored.receivers.map((r) => r.name);
        out.info(`  routed to ${receivers.join(', ') || 'no receiver'}`);
        if (!receivers.some(isPagingReceiver)) {
          return finish({ outcome: 'failed', reason: `the drill alert was routed to ${receivers.join(', ') || 'nothing'}, not to the paging receiver`, next: 'the running Alertmanager config differs from alerts/routing.ts: regenerate (npx tsx alerts/generate.ts) and redeploy it, then rerun', sent: 0, failed: 0, receivers });
        }
      }
      const current = {
        attempts: delta(counts.requests, before.requests),
        attemptsFailed: delta(counts.requestsFailed, before.requestsFailed),
        gaveUp: delta(counts.notificationsFailed, before.notificationsFailed),
      };
      const succeeded = current.attempts - current.attemptsFailed;
      if (current.attempts !== last.attempts || current.gaveUp !== last.gaveUp) {
        out.info(`  +${formatMs(elapsed)}: ${pagingIntegration} requests since the drill: ${current.attempts} (${current.attemptsFailed} failed)${current.gaveUp ? `, ${current.gaveUp} notification(s) given up` : ''}`);
        lastProgress = now();
      }
      if (current.attemptsFailed > 0) firstFailureAt ??= now();
      last = current;
      const routed = receivers ? { receivers } : {};
      // A request's two counters are incremented one after the other: a success must show in two reads in a row.
      succeededPolls = succeeded > 0 ? succeededPolls + 1 : 0;
      if (succeededPolls >= 2) {
        out.info(`✓ Alertmanager reports the ${pagingIntegration} notification delivered after ${formatMs(elapsed)}`);
        return finish({ outcome: 'delivered', deliveredAfterMs: elapsed, sent: succeeded, failed: current.attemptsFailed, ...routed });
      }
      if (succeeded <= 0 && current.gaveUp > 0) {
        return finish({ outcome: 'failed', reason: `Alertmanager gave up delivering to ${pagingIntegration} after ${current.attemptsFailed} failed request(s)`, next: failedNext(env), sent: 0, failed: current.attemptsFailed, ...routed });
      }
      if (succeeded <= 0 && firstFailureAt !== undefined && now() - firstFailureAt >= graceMs) {
        return finish({ outcome: 'failed', reason: `every ${pagingIntegration} request failed (${current.attemptsFailed}) for ${formatMs(now() - firstFailureAt)}; Alertmanager keeps retrying until group_interval`, next: failedNext(env), sent: 0, failed: current.attemptsFailed, ...routed });
      }
    } catch (error) {
      if (!(error instanceof AlertmanagerError)) throw error;
      unreachableSince ??= now();
      lastError = error.message;
      out.warn(`Alertmanager did not answer (${error.message}); still trying until the timeout`);
    }
    if (elapsed >= options.timeoutMs) {
      if (unreachableSince !== undefined) return finish({ outcome: 'unknown', reason: `Alertmanager stopped answering during the drill: ${lastError}`, next: reachNext(env), sent: 0, failed: last.attemptsFailed });
      return finish({
        outcome: 'failed',
        reason: last.attemptsFailed > 0
          ? `${last.attemptsFailed} ${pagingIntegration} request(s) failed and none succeeded within ${formatMs(options.timeoutMs)}`
          : `no ${pagingIntegration} notification within ${formatMs(options.timeoutMs)}`,
        next: last.attemptsFailed > 0 ? failedNext(env) : `the alert may still wait for group_interval (${timing.groupInterval}): rerun with a longer --timeout; else look at Alertmanager's log and ${url}/#/alerts?filter={drill="true"}`,
        sent: 0,
        failed: last.attemptsFailed,
        ...(receivers ? { receivers } : {}),
      });
    }
    if (now() - lastProgress >= 15_000) {
      out.info(`  +${formatMs(elapsed)}: no ${pagingIntegration} request yet (timeout ${formatMs(options.timeoutMs)})`);
      lastProgress = now();
    }
  }
}

const failedNext = (env: string) =>
  env === 'local'
    ? `look at Alertmanager's log (grep -i pagerduty): a 4xx is a wrong routing key (its pagerduty routing_key_file), a 5xx or timeout the paging service or the way to it; fix, then rerun ops alerts drill --env ${env}`
    : `look at Alertmanager's log (kubectl -n monitoring logs statefulset/alertmanager-main | grep -i pagerduty): a 4xx is a wrong routing key (the Pulumi secret alertPagerdutyRoutingKey of ${env}), a 5xx or timeout the paging service or the egress to it; fix, then rerun ops alerts drill --env ${env}`;

/** `pager`, or the operator's prefixed `<namespace>/<AlertmanagerConfig>/pager`. */
const isPagingReceiver = (name: string) => name === 'pager' || name.endsWith('/pager');

function delta(current: Record<string, number>, before: Record<string, number>): number {
  // A restarted Alertmanager starts its counters at 0 again: then everything counted is new.
  const n = current[pagingIntegration] ?? 0;
  const b = before[pagingIntegration] ?? 0;
  return n >= b ? n - b : n;
}
