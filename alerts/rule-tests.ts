import { metricNames as m } from '../core/src/telemetry/metric-names';
import { alertsConfig as c } from './config';
import { externalMetrics as x } from './external-metrics';
import { num } from './promql';

/**
 * promtool unit tests, side by side: for every alert at least one scenario where it fires and one
 * where it stays silent. `promtool test rules` runs them (alerts/promtool.ts).
 */
export interface Scenario {
  name: string;
  /** Sample spacing of input_series (promtool expanding notation, e.g. '0+10x60'). */
  interval?: string;
  series: { series: string; values: string }[];
  evalTime: string;
  /** Label sets of the expected alerts besides alertname and service; [] means: stays silent. */
  expect: Record<string, string>[];
  /**
   * Rule evaluation step (default 1m). Scenarios that span days (job staleness) use 5m: promtool
   * evaluates every rule at every step up to evalTime, so 50 h at 1m costs tens of seconds.
   */
  evaluationInterval?: EvaluationInterval;
}
export type EvaluationInterval = '1m' | '5m';
export const evaluationIntervals: EvaluationInterval[] = ['1m', '5m'];
export interface AlertTest {
  alert: string;
  scenarios: Scenario[];
}

const j = `job="${c.job}"`;
const base = { job: c.job };
const api = (status: string, extra = '') => `${m.httpRequestDuration}_count{${j},method="POST",route="/api/conversations/:id/messages",status_code="${status}"${extra}}`;
const apiBucket = (le: number) => `${m.httpRequestDuration}_bucket{${j},method="POST",route="/api/conversations/:id/messages",status_code="201",le="${num(le)}"}`;
const delivery = (suffix: string, extra = '') => `${m.messageDeliveryDuration}_${suffix}{${j},instance="core-1"${extra}}`;

/** Good and bad request counters growing per minute, for `minutes` minutes. */
const traffic = (okPerMin: number, badPerMin: number, minutes = 130) => [
  { series: api('201'), values: `0+${okPerMin}x${minutes}` },
  { series: api('500'), values: `0+${badPerMin}x${minutes}` },
];
const latency = (fastPerMin: number, totalPerMin: number) => [
  { series: apiBucket(c.slo.apiLatency.thresholdSeconds), values: `0+${fastPerMin}x130` },
  { series: api('201'), values: `0+${totalPerMin}x130` },
];
const deliveries = (fastPerMin: number, totalPerMin: number) => [
  { series: delivery('bucket', `,le="${num(c.slo.messageDelivery.thresholdSeconds)}"`), values: `0+${fastPerMin}x130` },
  { series: delivery('count'), values: `0+${totalPerMin}x130` },
];
/** Job metrics as Prometheus stores them: the scrape job in `job`, the job's own name in `job_name`. */
const jobSeries = (metric: string, jobName: string, extra = '', instance = 'core-1') => `${metric}{${j},instance="${instance}",job_name="${jobName}"${extra}}`;
const notificationSeries = (outcome: string, instance = 'core-1') => `${m.notifications}{${j},instance="${instance}",outcome="${outcome}"}`;
const page = { ...base, severity: 'page' };
const ticket = { ...base, severity: 'ticket' };
const mib = 1024 * 1024;

export const alertTests: AlertTest[] = [
  {
    alert: 'SwitchboardApiErrorBudgetBurn',
    scenarios: [
      { name: '10% of requests fail: page and ticket', series: traffic(90, 10), evalTime: '70m', expect: [page, ticket] },
      { name: '0.5% fail: slow burn, ticket only', series: traffic(995, 5), evalTime: '120m', expect: [ticket] },
      { name: '0.05% fail: within budget', series: traffic(9995, 5), evalTime: '120m', expect: [] },
      {
        name: '10% fail during maintenance mode: silent',
        series: [...traffic(90, 10), { series: `${m.maintenanceMode}{${j},instance="core-1"}`, values: '1x130' }],
        evalTime: '70m',
        expect: [],
      },
    ],
  },
  {
    alert: 'SwitchboardApiLatencyBudgetBurn',
    scenarios: [
      { name: '90% slower than target: page and ticket', series: latency(10, 100), evalTime: '70m', expect: [page, ticket] },
      { name: '20% slower than target: ticket only', series: latency(80, 100), evalTime: '120m', expect: [ticket] },
      { name: '2% slower than target: silent', series: latency(98, 100), evalTime: '120m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardMessageDeliveryBudgetBurn',
    scenarios: [
      { name: '90% of deliveries late: page and ticket', series: deliveries(10, 100), evalTime: '70m', expect: [page, ticket] },
      { name: '20% late: ticket only', series: deliveries(80, 100), evalTime: '120m', expect: [ticket] },
      { name: '1% late: silent', series: deliveries(99, 100), evalTime: '120m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardCoreAbsent',
    scenarios: [
      { name: 'every target down', series: [{ series: `up{${j},instance="core-1"}`, values: '0x10' }, { series: `up{${j},instance="core-2"}`, values: '0x10' }], evalTime: '5m', expect: [{ severity: 'page' }] },
      { name: 'one of two down: silent', series: [{ series: `up{${j},instance="core-1"}`, values: '0x10' }, { series: `up{${j},instance="core-2"}`, values: '1x10' }], evalTime: '5m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardCoreInstanceDown',
    scenarios: [
      { name: 'one target down 10m', series: [{ series: `up{${j},instance="core-1"}`, values: '0x15' }, { series: `up{${j},instance="core-2"}`, values: '1x15' }], evalTime: '10m', expect: [{ ...base, instance: 'core-1', severity: 'ticket' }] },
      { name: 'a 2-minute blip: silent', series: [{ series: `up{${j},instance="core-1"}`, values: '1 0 0 1x12' }], evalTime: '10m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardCoreNotReady',
    scenarios: [
      { name: 'not ready for 15m', series: [{ series: `${m.ready}{${j},instance="core-1"}`, values: '0x20' }], evalTime: '15m', expect: [{ ...base, instance: 'core-1', severity: 'ticket' }] },
      { name: 'drained 3m during a deploy: silent', series: [{ series: `${m.ready}{${j},instance="core-1"}`, values: '0 0 0 1x17' }], evalTime: '15m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardMongoDBUnreachable',
    scenarios: [
      { name: 'mongodb ping failing', series: [{ series: `${m.dependencyUp}{${j},instance="core-1",dependency="mongodb"}`, values: '0x10' }], evalTime: '5m', expect: [{ ...base, instance: 'core-1', dependency: 'mongodb', severity: 'page' }] },
      { name: 'only redis down: silent', series: [{ series: `${m.dependencyUp}{${j},instance="core-1",dependency="mongodb"}`, values: '1x10' }, { series: `${m.dependencyUp}{${j},instance="core-1",dependency="redis"}`, values: '0x10' }], evalTime: '5m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardRedisUnreachable',
    scenarios: [
      { name: 'redis ping failing', series: [{ series: `${m.dependencyUp}{${j},instance="core-1",dependency="redis"}`, values: '0x10' }], evalTime: '5m', expect: [{ ...base, instance: 'core-1', dependency: 'redis', severity: 'page' }] },
      { name: 'only mongodb down: silent', series: [{ series: `${m.dependencyUp}{${j},instance="core-1",dependency="redis"}`, values: '1x10' }, { series: `${m.dependencyUp}{${j},instance="core-1",dependency="mongodb"}`, values: '0x10' }], evalTime: '5m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardEventLoopLagHigh',
    scenarios: [
      { name: 'p99 lag 500 ms for 15m', series: [{ series: `nodejs_eventloop_lag_p99_seconds{${j},instance="core-1"}`, values: '0.5x20' }], evalTime: '15m', expect: [{ ...base, instance: 'core-1', severity: 'ticket' }] },
      { name: 'p99 lag 50 ms: silent', series: [{ series: `nodejs_eventloop_lag_p99_seconds{${j},instance="core-1"}`, values: '0.05x20' }], evalTime: '15m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardMemoryGrowth',
    scenarios: [
      { name: 'RSS grows 2 MiB/min from 300 MiB', series: [{ series: `process_resident_memory_bytes{${j},instance="core-1"}`, values: `${300 * mib}+${2 * mib}x120` }], evalTime: '100m', expect: [{ ...base, instance: 'core-1', severity: 'ticket' }] },
      { name: 'RSS high but flat: silent', series: [{ series: `process_resident_memory_bytes{${j},instance="core-1"}`, values: `${600 * mib}x120` }], evalTime: '100m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardSocketDisconnectStorm',
    scenarios: [
      {
        name: '30 transport errors a minute out of 200 sockets',
        series: [{ series: `${m.socketDisconnects}{${j},instance="core-1",reason="transport error"}`, values: '0+30x30' }, { series: `${m.socketConnections}{${j},instance="core-1"}`, values: '200x30' }],
        evalTime: '20m',
        expect: [{ ...base, severity: 'page' }],
      },
      {
        name: 'the same count of planned "server shutting down" disconnects: silent',
        series: [{ series: `${m.socketDisconnects}{${j},instance="core-1",reason="server shutting down"}`, values: '0+30x30' }, { series: `${m.socketConnections}{${j},instance="core-1"}`, values: '200x30' }],
        evalTime: '20m',
        expect: [],
      },
      {
        name: '30 transport errors a minute out of 20000 sockets: silent',
        series: [{ series: `${m.socketDisconnects}{${j},instance="core-1",reason="transport error"}`, values: '0+30x30' }, { series: `${m.socketConnections}{${j},instance="core-1"}`, values: '20000x30' }],
        evalTime: '20m',
        expect: [],
      },
    ],
  },
  {
    alert: 'SwitchboardRateLimitRejectionsSpike',
    scenarios: [
      { name: '2 rejections/s for 25m', series: [{ series: `${m.rateLimitRejections}{${j},instance="core-1",scope="message"}`, values: '0+120x30' }], evalTime: '25m', expect: [{ ...base, scope: 'message', severity: 'ticket' }] },
      { name: '0.5 rejections/s: silent', series: [{ series: `${m.rateLimitRejections}{${j},instance="core-1",scope="message"}`, values: '0+30x30' }], evalTime: '25m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardBackupTooOld',
    scenarios: [
      { name: 'last backup at t=0, now 28h later', interval: '5m', evaluationInterval: '5m', series: [{ series: x.backupLastSuccess, values: '0x340' }], evalTime: '28h', expect: [{ severity: 'ticket' }] },
      { name: 'no backup metric at all', series: [{ series: `up{${j},instance="core-1"}`, values: '1x30' }], evalTime: '20m', expect: [{ severity: 'ticket' }] },
      { name: 'a backup every 5 minutes: silent', interval: '5m', evaluationInterval: '5m', series: [{ series: x.backupLastSuccess, values: '0+300x340' }], evalTime: '28h', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardBackupVerifyFailed',
    scenarios: [
      { name: 'last verification failed', series: [{ series: x.backupLastVerifySuccess, values: '0x10' }], evalTime: '10m', expect: [{ severity: 'ticket' }] },
      { name: 'last verification passed: silent', series: [{ series: x.backupLastVerifySuccess, values: '1x10' }], evalTime: '10m', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardCertificateExpiring',
    scenarios: [
      { name: 'expires in 2 days: page and ticket', interval: '5m', series: [{ series: `${x.certificateExpiry}{name="switchboard-tls",namespace="chat"}`, values: `${2 * 86400}x30` }], evalTime: '2h', expect: [{ name: 'switchboard-tls', namespace: 'chat', severity: 'page' }, { name: 'switchboard-tls', namespace: 'chat', severity: 'ticket' }] },
      { name: 'expires in 10 days: ticket', interval: '5m', series: [{ series: `${x.certificateExpiry}{name="switchboard-tls",namespace="chat"}`, values: `${10 * 86400}x30` }], evalTime: '2h', expect: [{ name: 'switchboard-tls', namespace: 'chat', severity: 'ticket' }] },
      { name: 'expires in 60 days: silent', interval: '5m', series: [{ series: `${x.certificateExpiry}{name="switchboard-tls",namespace="chat"}`, values: `${60 * 86400}x30` }], evalTime: '2h', expect: [] },
    ],
  },
  {
    alert: 'SwitchboardJobStale',
    scenarios: [
      {
        name: 'retention last succeeded at t=10m, now 52h later',
        interval: '5m',
        series: [{ series: jobSeries(m.jobLastSuccess, 'retention'), values: '600x700' }],
        evaluationInterval: '5m',
        evalTime: '52h',
        expect: [{ ...base, job_name: 'retention', severity: 'ticket' }],
      },
      {
        name: 'last success 30h ago (one missed night): silent',
        interval: '5m',
        series: [{ series: jobSeries(m.jobLastSuccess, 'retention'), values: '600x700' }],
        evaluationInterval: '5m',
        evalTime: '30h',
        expect: [],
      },
      {
        name: 'core-1 still shows an old success but core-2 ran the job since: silent',
        interval: '5m',
        series: [
          { series: jobSeries(m.jobLastSuccess, 'retention', '', 'core-1'), values: '600x700' },
          { series: jobSeries(m.jobLastSuccess, 'retention', '', 'core-2'), values: `600x300 ${25 * 3600}x400` },
        ],
        evaluationInterval: '5m',
        evalTime: '52h',
        expect: [],
      },
      {
        name: 'a job that never succeeded (not configured, no gauge; only skipped runs): silent',
        interval: '5m',
        series: [
          { series: jobSeries(m.jobRuns, 'orphan-uploads', ',outcome="skipped"'), values: '1x700' },
          { series: `up{${j},instance="core-1"}`, values: '1x700' },
        ],
        evaluationInterval: '5m',
        evalTime: '52h',
        expect: [],
      },
    ],
  },
  {
    alert: 'SwitchboardJobFailing',
    scenarios: [
      {
        name: 'first failure since the instance started (the series appears at 1)',
        series: [{ series: jobSeries(m.jobRuns, 'retention', ',outcome="failed"'), values: '_x600 1x400' }],
        evaluationInterval: '5m',
        evalTime: '15h',
        expect: [{ ...base, job_name: 'retention', severity: 'ticket' }],
      },
      {
        name: 'a second failure on a long-running instance (1 -> 2)',
        series: [{ series: jobSeries(m.jobRuns, 'conversation-archive', ',outcome="failed"'), values: '1x2000 2x600' }],
        evaluationInterval: '5m',
        evalTime: '40h',
        expect: [{ ...base, job_name: 'conversation-archive', severity: 'ticket' }],
      },
      {
        name: 'the only failure was 2 days ago: silent',
        series: [{ series: jobSeries(m.jobRuns, 'retention', ',outcome="failed"'), values: '1x4000' }],
        evaluationInterval: '5m',
        evalTime: '60h',
        expect: [],
      },
      {
        name: 'succeeded and skipped runs only: silent',
        series: [
          { series: jobSeries(m.jobRuns, 'retention', ',outcome="succeeded"'), values: '_x600 1x400' },
          { series: jobSeries(m.jobRuns, 'retention', ',outcome="skipped"'), values: '_x600 1x400' },
        ],
        evaluationInterval: '5m',
        evalTime: '15h',
        expect: [],
      },
    ],
  },
  {
    alert: 'SwitchboardNotificationsFailing',
    scenarios: [
      {
        name: 'webhook refuses 20% of notifications for 40m',
        series: [{ series: notificationSeries('delivered'), values: '0+8x40' }, { series: notificationSeries('failed'), values: '0+2x40' }],
        evalTime: '35m',
        expect: [{ ...base, severity: 'ticket' }],
      },
      {
        name: 'send queue full: 5 of 25 a minute dropped on core-2',
        series: [
          { series: notificationSeries('delivered', 'core-1'), values: '0+10x40' },
          { series: notificationSeries('delivered', 'core-2'), values: '0+10x40' },
          { series: notificationSeries('dropped', 'core-2'), values: '0+5x40' },
        ],
        evalTime: '35m',
        expect: [{ ...base, severity: 'ticket' }],
      },
      {
        name: '1% failed: silent',
        series: [{ series: notificationSeries('delivered'), values: '0+99x40' }, { series: notificationSeries('failed'), values: '0+1x40' }],
        evalTime: '35m',
        expect: [],
      },
      {
        name: 'a third fail but only a handful of notifications (fewer than the minimum lost): silent',
        series: [{ series: notificationSeries('delivered'), values: '0+1x40' }, { series: notificationSeries('failed'), values: '0+0.5x40' }, { series: notificationSeries('no_recipients'), values: '0+50x40' }],
        evalTime: '35m',
        expect: [],
      },
    ],
  },
];

/**
 * The promtool test file for a rule file (promtool resolves rule_files relative to the test file),
 * with the scenarios of one evaluation interval (one file per interval: it is a per-file setting).
 */
export function promtoolTests(ruleFile: string, evaluationInterval: EvaluationInterval = '1m') {
  return {
    rule_files: [ruleFile],
    evaluation_interval: evaluationInterval,
    tests: alertTests.flatMap((t) =>
      t.scenarios.filter((s) => (s.evaluationInterval ?? '1m') === evaluationInterval).map((s) => ({
        name: `${t.alert}: ${s.name}`,
        interval: s.interval ?? '1m',
        input_series: s.series,
        alert_rule_test: [{ eval_time: s.evalTime, alertname: t.alert, exp_alerts: s.expect.map((labels) => ({ exp_labels: { service: 'switchboard', ...labels } })) }],
      })),
    ),
  };
}
