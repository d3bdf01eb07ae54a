import { alertsConfig as c } from '../alerts/config';
import { anyOf, num } from '../alerts/promql';
import { sliRecord, slis, type SliName } from '../alerts/slo-rules';
import { metricNames as m } from '../core/src/telemetry/metric-names';
import { dashboard, ri, sel } from './common';
import { layout, q, type PanelSpec } from './grafana';
import { dashboardUids } from './uids';

const api = `${sel},route!~"${anyOf(c.nonApiRoutes)}"`;
const quantiles = (metric: string, selector: string, by = '') =>
  [0.5, 0.95, 0.99].map((p) => q(`histogram_quantile(${p}, sum by (le${by}) (rate(${metric}_bucket{${selector}}${ri})))`, `p${p * 100}`));

const period = `${c.slo.periodDays}d`;
/** Bad-event ratio over the whole SLO period, straight from the raw series. */
const periodBadRatio: Record<SliName, string> = {
  apiErrors: `sum(increase(${m.httpRequestDuration}_count{${api},status_code=~"5.."}[${period}])) / sum(increase(${m.httpRequestDuration}_count{${api}}[${period}]))`,
  apiSlow: `1 - sum(increase(${m.httpRequestDuration}_bucket{${api},le="${num(c.slo.apiLatency.thresholdSeconds)}"}[${period}])) / sum(increase(${m.httpRequestDuration}_count{${api}}[${period}]))`,
  deliverySlow: `1 - sum(increase(${m.messageDeliveryDuration}_bucket{${sel},le="${num(c.slo.messageDelivery.thresholdSeconds)}"}[${period}])) / sum(increase(${m.messageDeliveryDuration}_count{${sel}}[${period}]))`,
};

const budgetPanel = (sli: SliName): PanelSpec => ({
  title: `Budget left: ${slis[sli].what}`,
  description: `Share of the ${c.slo.periodDays}-day error budget not yet spent (objective ${num(slis[sli].objective * 100)}%). Below 0 the SLO is breached.`,
  type: 'stat',
  width: 8,
  unit: 'percentunit',
  targets: [q(`1 - (${periodBadRatio[sli]}) / ${num(1 - slis[sli].objective)}`)],
  thresholds: [{ color: 'red', value: null }, { color: 'orange', value: 0.25 }, { color: 'green', value: 0.5 }],
});

const burnPanel = (sli: SliName): PanelSpec => ({
  title: `Burn rate: ${slis[sli].what}`,
  description: 'Error-budget burn rate per alert window (1 = spending exactly the budget over the period; the page alert needs 14.4 on 1h and 5m).',
  width: 8,
  unit: 'short',
  targets: ['5m', '1h', '6h'].map((w) => q(`${sliRecord(sli, w)}{job=~"$job"} / ${num(1 - slis[sli].objective)}`, w)),
});

export const serviceOverview = () =>
  dashboard({
    uid: dashboardUids.overview,
    title: 'Switchboard / Service overview',
    description: 'Traffic, errors, latency, sockets, delivery and the SLO budgets. Start here when paged.',
    panels: layout([
      {
        title: 'SLOs',
        panels: [...(['apiErrors', 'apiSlow', 'deliverySlow'] as const).map(budgetPanel), ...(['apiErrors', 'apiSlow', 'deliverySlow'] as const).map(burnPanel)],
      },
      {
        title: 'HTTP API',
        panels: [
          { title: 'Requests by route', description: 'API requests per second by Express route template (probes and scrapes excluded).', unit: 'reqps', targets: [q(`sum by (route) (rate(${m.httpRequestDuration}_count{${api}}${ri}))`, '{{route}}')] },
          { title: 'Error ratio (5xx)', description: 'Share of API requests answered 5xx, by route.', unit: 'percentunit', min: 0, targets: [q(`sum by (route) (rate(${m.httpRequestDuration}_count{${api},status_code=~"5.."}${ri})) / ignoring (route) group_left sum(rate(${m.httpRequestDuration}_count{${api}}${ri}))`, '{{route}}')] },
          { title: 'Responses by status code', description: 'API responses per second by status code.', unit: 'reqps', targets: [q(`sum by (status_code) (rate(${m.httpRequestDuration}_count{${api}}${ri}))`, '{{status_code}}')] },
          { title: 'Latency percentiles', description: 'API request duration percentiles across all routes.', unit: 's', targets: quantiles(m.httpRequestDuration, api) },
        ],
      },
      {
        title: 'Messages and sockets',
        panels: [
          { title: 'Messages', description: 'Messages accepted per second by transport (http, socket) and outcome (created, duplicate).', unit: 'ops', targets: [q(`sum by (transport, outcome) (rate(${m.messages}{${sel}}${ri}))`, '{{transport}} {{outcome}}')] },
          { title: 'Delivery latency', description: 'From accepting a send to its broadcast to the room.', unit: 's', targets: quantiles(m.messageDeliveryDuration, sel) },
          { title: 'Persist latency', description: 'From accepting a send to its durable write.', unit: 's', targets: quantiles(m.messagePersistDuration, sel) },
          { title: 'Open sockets', description: 'Socket.IO connections open, per instance.', unit: 'short', targets: [q(`sum by (instance) (${m.socketConnections}{${sel}})`, '{{instance}}')] },
          { title: 'Socket connects and disconnects', description: 'Connections accepted and lost per second; disconnects by reason.', unit: 'ops', targets: [q(`sum(rate(${m.socketConnects}{${sel}}${ri}))`, 'connects'), q(`sum by (reason) (rate(${m.socketDisconnects}{${sel}}${ri}))`, 'disconnect: {{reason}}')] },
          { title: 'Rate-limit rejections', description: 'Requests refused by a rate limit, by scope.', unit: 'ops', targets: [q(`sum by (scope) (rate(${m.rateLimitRejections}{${sel}}${ri}))`, '{{scope}}')] },
        ],
      },
    ]),
  });
