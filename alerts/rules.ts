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

export interface BuildOptions {
  /** Test-only: replace every alert's `for:` (the live drill). Shipped rules never set it. */
  forOverride?: string;
  /** Test-only: evaluation interval of every group. */
  interval?: string;
  /** Base URLs of runbook_url and dashboard (per environment); default: the local ones. */
  links?: LinkSettings;
}

export function buildRuleGroups(options: BuildOptions = {}): RuleGroup[] {
  const alert = (d: AlertDefinition) => {
    const rule = withLinks(d, options.links);
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
