import { metricNames as m } from '../core/src/telemetry/metric-names';
import { alertsConfig as c } from './config';
import { anyOf, num, selector } from './promql';
import type { AlertDefinition, RecordingRule } from './types';

/** The service-level indicators, each recorded as a BAD-event ratio (the SLI is 1 minus it). */
export const slis = {
  apiErrors: { key: 'api_errors', objective: c.slo.apiAvailability.objective, what: 'API requests answered 5xx' },
  apiSlow: { key: 'api_slow', objective: c.slo.apiLatency.objective, what: `API requests slower than ${c.slo.apiLatency.thresholdSeconds * 1000} ms` },
  deliverySlow: { key: 'delivery_slow', objective: c.slo.messageDelivery.objective, what: `messages delivered later than ${c.slo.messageDelivery.thresholdSeconds * 1000} ms` },
} as const;
export type SliName = keyof typeof slis;

/** Recorded series name, e.g. `job:switchboard_api_errors:ratio_rate5m`. */
export const sliRecord = (sli: SliName, window: string) => `job:switchboard_${slis[sli].key}:ratio_rate${window}`;

/** Every window some burn-rate alert reads. */
export const sloWindows = [...new Set(c.slo.burnRateAlerts.flatMap((a) => a.windows.flatMap((w) => [w.short, w.long])))];

const job = `job="${c.job}"`;
const api = `route!~"${anyOf(c.nonApiRoutes)}"`;

function sliExpr(sli: SliName, w: string): string {
  const requests = `${m.httpRequestDuration}_count${selector(job, api)}`;
  switch (sli) {
    case 'apiErrors':
      return `sum by (job) (rate(${m.httpRequestDuration}_count${selector(job, api, 'status_code=~"5.."')}[${w}]))\n/\nsum by (job) (rate(${requests}[${w}]))`;
    case 'apiSlow':
      return `1 - (\n  sum by (job) (rate(${m.httpRequestDuration}_bucket${selector(job, api, `le="${num(c.slo.apiLatency.thresholdSeconds)}"`)}[${w}]))\n  /\n  sum by (job) (rate(${requests}[${w}]))\n)`;
    case 'deliverySlow':
      return `1 - (\n  sum by (job) (rate(${m.messageDeliveryDuration}_bucket${selector(job, `le="${num(c.slo.messageDelivery.thresholdSeconds)}"`)}[${w}]))\n  /\n  sum by (job) (rate(${m.messageDeliveryDuration}_count${selector(job)}[${w}]))\n)`;
  }
}

export function sliRecordingRules(): RecordingRule[] {
  return (Object.keys(slis) as SliName[]).flatMap((sli) => sloWindows.map((w) => ({ record: sliRecord(sli, w), expr: sliExpr(sli, w) })));
}

const budget = (sli: SliName) => 1 - slis[sli].objective;
const pct = (ratio: number) => `${num(ratio * 100)}%`;

function burnAlert(alert: string, sli: SliName, dashboard: AlertDefinition['dashboard'], suppressDuringMaintenance: boolean): AlertDefinition[] {
  return c.slo.burnRateAlerts.map((tier) => {
    const clauses = tier.windows.map((w) => {
      const threshold = num(w.burnRate * budget(sli));
      return `(\n  ${sliRecord(sli, w.long)}{${job}} > ${threshold}\n  and\n  ${sliRecord(sli, w.short)}{${job}} > ${threshold}\n)`;
    });
    let expr = clauses.join('\nor\n');
    if (suppressDuringMaintenance) expr = `(\n${expr}\n)\nunless on (job)\n  max by (job) (${m.maintenanceMode}{${job}}) == 1`;
    const windows = tier.windows.map((w) => `${w.long}/${w.short} at ${w.burnRate}x (> ${pct(w.burnRate * budget(sli))} bad)`).join(' or ');
    return {
      alert,
      expr,
      for: tier.for,
      severity: tier.severity,
      dashboard,
      summary: `${slis[sli].what}: the ${c.slo.periodDays}-day error budget is burning too fast (${tier.severity}).`,
      description:
        `{{ $value | humanizePercentage }} of ${slis[sli].what} over the long window for job {{ $labels.job }}; ` +
        `objective ${pct(slis[sli].objective)} over ${c.slo.periodDays} days (budget ${pct(budget(sli))}). Fired on ${windows}.`,
    };
  });
}

export function sloAlerts(): AlertDefinition[] {
  return [
    ...burnAlert('SwitchboardApiErrorBudgetBurn', 'apiErrors', 'overview', true),
    ...burnAlert('SwitchboardApiLatencyBudgetBurn', 'apiSlow', 'overview', false),
    ...burnAlert('SwitchboardMessageDeliveryBudgetBurn', 'deliverySlow', 'overview', false),
  ];
}
