import { dashboardUids } from '../dashboards/uids';
import { dashboardUrl as dashboardLink, localLinks, runbookUrl as runbookLink, type LinkSettings } from './links';
import { sliRecordingRules, sloAlerts } from './slo-rules';
import { symptomAlerts } from './symptom-rules';
import type { AlertDefinition, AlertingRule, RuleGroup } from './types';

export const runbookUrl = (alert: string, links: LinkSettings = localLinks) => runbookLink(links, alert);
export const dashboardUrl = (uid: string, links: LinkSettings = localLinks) => dashboardLink(links, uid);

/** The one place runbook_url and dashboard are attached (kubernetes-mixin style), from the environment's link settings. */
export function withLinks(definition: AlertDefinition, links: LinkSettings = localLinks): AlertingRule {
  return {
    alert: definition.alert,
    expr: definition.expr,
    for: definition.for,
    labels: { severity: definition.severity, service: 'switchboard', ...definition.labels },
    annotations: {
      summary: definition.summary,
      description: definition.description,
      runbook_url: runbookUrl(definition.alert, links),
      dashboard: dashboardUrl(dashboardUids[definition.dashboard], links),
    },
  };
}

/** Seconds of a Prometheus duration such as 90s, 5m, 1h, 1d. */
export function durationSeconds(d: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(d);
  if (!m) throw new Error(`unsupported duration ${d}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export interface BuildOptions {
  /** Test-only: replace every alert's `for:`. Shipped rules never set it. */
  forOverride?: string;
  /**
   * Test-only (the fire drill): divide every alert's `for:` by this (at least 1 s). Unlike
   * forOverride it keeps the shipped order in which alerts fire, which inhibition depends on
   * (MongoDBUnreachable must fire before the burn page it inhibits).
   */
  forScale?: number;
  /** Test-only: evaluation interval of every group. */
  interval?: string;
  /** Base URLs of runbook_url and dashboard (per environment); default: the local ones. */
  links?: LinkSettings;
}

export function buildRuleGroups(options: BuildOptions = {}): RuleGroup[] {
  const alert = (d: AlertDefinition) => {
    const rule = withLinks(d, options.links);
    if (options.forScale !== undefined) return { ...rule, for: `${Math.max(1, Math.round(durationSeconds(rule.for) / options.forScale))}s` };
    return options.forOverride === undefined ? rule : { ...rule, for: options.forOverride };
  };
  const interval = options.interval ? { interval: options.interval } : {};
  return [
    { name: 'switchboard-slis', ...interval, rules: sliRecordingRules() },
    { name: 'switchboard-slo-alerts', ...interval, rules: sloAlerts().map(alert) },
    { name: 'switchboard-symptom-alerts', ...interval, rules: symptomAlerts().map(alert) },
  ];
}

/** Every distinct alert name (one runbook each). */
export const alertNames = () => [...new Set([...sloAlerts(), ...symptomAlerts()].map((a) => a.alert))].sort();
