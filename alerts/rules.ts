import { dashboardUids } from '../dashboards/uids';
import { alertsConfig as c } from './config';
import { sliRecordingRules, sloAlerts } from './slo-rules';
import { symptomAlerts } from './symptom-rules';
import type { AlertDefinition, AlertingRule, RuleGroup } from './types';

export const runbookUrl = (alert: string) => `${c.links.runbookBaseUrl}/${alert}.md`;
export const dashboardUrl = (uid: string) => `${c.links.grafanaUrl}/d/${uid}`;

/** The one place runbook_url and dashboard are attached (kubernetes-mixin style). */
export function withLinks(definition: AlertDefinition): AlertingRule {
  return {
    alert: definition.alert,
    expr: definition.expr,
    for: definition.for,
    labels: { severity: definition.severity, service: 'switchboard', ...definition.labels },
    annotations: {
      summary: definition.summary,
      description: definition.description,
      runbook_url: runbookUrl(definition.alert),
      dashboard: dashboardUrl(dashboardUids[definition.dashboard]),
    },
  };
}

export interface BuildOptions {
  /** Test-only: replace every alert's `for:` (the live drill). Shipped rules never set it. */
  forOverride?: string;
  /** Test-only: evaluation interval of every group. */
  interval?: string;
}

export function buildRuleGroups(options: BuildOptions = {}): RuleGroup[] {
  const alert = (d: AlertDefinition) => {
    const rule = withLinks(d);
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
