import { alertsConfig, type Severity } from './config';
import { inhibitions, maintenanceExplains } from './routing';
import { durationSeconds } from './rules';
import { isAlertingRule, type AlertingRule, type RuleGroup } from './types';

/**
 * A lint over rendered rules (what pint's `alerts/annotation`, `rule/label` and `alerts/for` checks
 * do, for this repository's rules): every alert has a severity, a summary, a description, a
 * runbook_url and a dashboard link, and its `for:` lies within the bounds the SLO windows allow:
 *
 * - at least `minFor` (1m): a shorter wait pages on one bad scrape;
 * - burn-rate alerts: at most the shortest short window of their tier (5m for pages, 2h for tickets).
 *   The short window is the workbook's reset time: a burn that stops is no longer alerted on after it,
 *   so a longer `for:` would let a real burn of that length pass without ever firing;
 * - outage pages (pages maintenance announces or that inhibit others as the cause of an outage): at most the fast page
 *   tier's short window (5m). At a full outage the error budget (43.2 min per 30 days at 99.9%) burns
 *   at 1000×, so each minute of `for:` costs 2.3% of the month's budget before anyone is woken;
 * - other pages: at most the fast page tier's long window (1h): no page waits longer than the window
 *   the SLO's own fast page looks at;
 * - tickets: at most the ticket tier's shortest short window (2h): a ticket is still read the same working day.
 */

export type LintCode = 'no-severity' | 'no-summary' | 'no-description' | 'no-runbook-url' | 'no-dashboard' | 'for-too-short' | 'for-too-long' | 'bad-for';

export interface LintProblem {
  alert: string;
  code: LintCode;
  detail: string;
}

export const minFor = '1m';

const tier = (severity: Severity) => alertsConfig.slo.burnRateAlerts.find((t) => t.severity === severity)!;
const shortestShort = (severity: Severity) => Math.min(...tier(severity).windows.map((w) => durationSeconds(w.short)));
const shortestLong = (severity: Severity) => Math.min(...tier(severity).windows.map((w) => durationSeconds(w.long)));

/** Alerts that mean "users are affected now": what maintenance announces, and the causes that inhibit the rest. */
const outageAlerts = new Set([...maintenanceExplains, ...inhibitions.map((i) => i.source)]);

/** The longest `for:` an alert may have, and why. */
export function forBound(rule: AlertingRule, burnRateAlert: boolean): { maxSeconds: number; why: string } {
  const severity = rule.labels.severity as Severity;
  if (burnRateAlert) return { maxSeconds: shortestShort(severity), why: `the ${severity} burn tier's short window (its reset time)` };
  if (severity === 'page' && outageAlerts.has(rule.alert)) return { maxSeconds: shortestShort('page'), why: "an outage page: the fast page tier's short window" };
  if (severity === 'page') return { maxSeconds: shortestLong('page'), why: "the fast page tier's long window" };
  return { maxSeconds: shortestShort('ticket'), why: "the ticket tier's short window" };
}

const nonEmpty = (v: unknown, min: number) => typeof v === 'string' && v.trim().length >= min;

/** Problems of the alerting rules in these groups; the group `switchboard-slo-alerts` holds the burn-rate alerts. */
export function lintRules(groups: RuleGroup[], sloGroup = 'switchboard-slo-alerts'): LintProblem[] {
  const problems: LintProblem[] = [];
  for (const group of groups) {
    for (const rule of group.rules.filter(isAlertingRule)) {
      const add = (code: LintCode, detail: string) => problems.push({ alert: rule.alert, code, detail });
      const labels = rule.labels ?? {};
      const annotations = (rule.annotations ?? {}) as Partial<AlertingRule['annotations']>;
      const severity = labels.severity;
      if (severity !== 'page' && severity !== 'ticket') add('no-severity', `severity label is ${JSON.stringify(severity)}, not page|ticket`);
      if (!nonEmpty(annotations.summary, 10)) add('no-summary', 'summary annotation missing or shorter than 10 characters');
      if (!nonEmpty(annotations.description, 20)) add('no-description', 'description annotation missing or shorter than 20 characters');
      if (!nonEmpty(annotations.runbook_url, 1) || !/\.md(#|$)/.test(annotations.runbook_url!)) add('no-runbook-url', `runbook_url ${JSON.stringify(annotations.runbook_url)} is not a runbook page`);
      if (!nonEmpty(annotations.dashboard, 1) || !/\/d\/[^/?#]+/.test(annotations.dashboard!)) add('no-dashboard', `dashboard ${JSON.stringify(annotations.dashboard)} is not a Grafana dashboard link (/d/<uid>)`);
      let seconds: number;
      try {
        seconds = durationSeconds(rule.for);
      } catch {
        add('bad-for', `for: ${JSON.stringify(rule.for)} is not a duration`);
        continue;
      }
      if (seconds < durationSeconds(minFor)) add('for-too-short', `for: ${rule.for} is shorter than ${minFor}`);
      if (severity === 'page' || severity === 'ticket') {
        const bound = forBound(rule, group.name === sloGroup);
        if (seconds > bound.maxSeconds) add('for-too-long', `for: ${rule.for} is longer than ${bound.maxSeconds} s, ${bound.why}`);
      }
    }
  }
  return problems;
}
