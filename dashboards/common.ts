import { metricNames as m } from '../core/src/telemetry/metric-names';
import { datasourceRef, type Annotation, type Dashboard, type Panel, type Variable } from './grafana';

/** Label selector every core query carries: templated job and instance. */
export const sel = 'job=~"$job",instance=~"$instance"';
/** The rate window Grafana picks from the scrape interval and the zoom. */
export const ri = '[$__rate_interval]';

const variables: Variable[] = [
  { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, includeAll: false, multi: false, options: [] },
  {
    name: 'job',
    label: 'Job',
    type: 'query',
    datasource: datasourceRef,
    query: { query: `label_values(${m.buildInfo}, job)`, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    definition: `label_values(${m.buildInfo}, job)`,
    current: {},
    hide: 0,
    refresh: 2,
    includeAll: false,
    multi: false,
    sort: 1,
    options: [],
  },
  {
    name: 'instance',
    label: 'Instance',
    type: 'query',
    datasource: datasourceRef,
    query: { query: `label_values(${m.buildInfo}{job=~"$job"}, instance)`, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    definition: `label_values(${m.buildInfo}{job=~"$job"}, instance)`,
    current: {},
    hide: 0,
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue: '.+',
    sort: 1,
    options: [],
  },
];

/** Deploys (a process restarted: new start time) and maintenance windows, on every dashboard. */
const annotations: Annotation[] = [
  { name: 'Annotations & Alerts', builtIn: 1, type: 'dashboard', enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', datasource: { type: 'grafana', uid: '-- Grafana --' } },
  {
    name: 'Deploys and restarts',
    enable: true,
    iconColor: 'blue',
    datasource: datasourceRef,
    expr: `max by (instance, version) (${m.buildInfo}{job=~"$job"} * on (instance) group_left () (changes(process_start_time_seconds{job=~"$job"}[2m]) > 0))`,
    step: '1m',
    titleFormat: 'Deploy / restart',
    textFormat: '{{instance}} started version {{version}}',
  },
  {
    name: 'Maintenance mode',
    enable: true,
    iconColor: 'orange',
    datasource: datasourceRef,
    expr: `max by (job) (${m.maintenanceMode}{job=~"$job"}) == 1`,
    step: '1m',
    titleFormat: 'Maintenance mode on',
    textFormat: 'ops maintenance on',
  },
];

export function dashboard(spec: { uid: string; title: string; description: string; panels: Panel[] }): Dashboard {
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['switchboard'],
    timezone: 'utc',
    editable: false,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: { list: variables },
    annotations: { list: annotations },
    links: [{ title: 'Switchboard', type: 'dashboards', tags: ['switchboard'], asDropdown: true, includeVars: true, keepTime: true }],
    panels: spec.panels,
  };
}
