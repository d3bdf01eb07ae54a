import { alertsConfig as c } from '../alerts/config';
import { externalMetrics as x } from '../alerts/external-metrics';
import { jobNameLabel as jn } from '../alerts/promql';
import { metricNames as m } from '../core/src/telemetry/metric-names';
import { dashboard, ri, sel } from './common';
import { layout, q } from './grafana';
import { dashboardUids } from './uids';

export const operations = () =>
  dashboard({
    uid: dashboardUids.operations,
    title: 'Switchboard / Operations',
    description: 'Deploys, maintenance, backups, certificates, scheduled jobs, offline notifications and attachments. Deploys and maintenance windows are annotations on every Switchboard dashboard.',
    panels: layout([
      {
        title: 'Releases',
        panels: [
          { title: 'Instances per version', description: 'Which versions run now (from chat_build_info); two versions at once means a deploy is in progress or stuck. Release history: `ops releases`.', unit: 'short', targets: [q(`count by (version) (${m.buildInfo}{${sel}})`, '{{version}}')] },
          { title: 'Maintenance mode', description: '1 while `ops maintenance on` is in effect.', unit: 'short', min: 0, max: 1, targets: [q(`max(${m.maintenanceMode}{${sel}})`, 'maintenance')] },
        ],
      },
      {
        title: 'Backups and TLS',
        panels: [
          {
            title: 'Age of the last successful backup',
            description: `Time since the last successful \`ops backup\`; the RPO is ${c.symptoms.backupRpo.maxAgeHours} h (reported by the backup job, not the core).`,
            unit: 's',
            type: 'stat',
            width: 8,
            targets: [q(`time() - max(${x.backupLastSuccess})`)],
            thresholds: [{ color: 'green', value: null }, { color: 'red', value: c.symptoms.backupRpo.maxAgeHours * 3600 }],
          },
          { title: 'Last backup verification', description: '1 = the newest backup restored into a scratch database and matched its manifest (`ops backup verify`).', unit: 'short', type: 'stat', width: 8, targets: [q(`min(${x.backupLastVerifySuccess})`)], thresholds: [{ color: 'red', value: null }, { color: 'green', value: 1 }] },
          { title: 'TLS certificate expires in', description: "Shortest time to expiry of the service's certificates (cert-manager).", unit: 's', type: 'stat', width: 8, targets: [q(`min(${x.certificateExpiry} - time())`)], thresholds: [{ color: 'red', value: null }, { color: 'orange', value: c.symptoms.certificate.pageDays * 86400 }, { color: 'green', value: c.symptoms.certificate.ticketDays * 86400 }] },
        ],
      },
      {
        title: 'Scheduled jobs',
        panels: [
          {
            title: 'Time since the last successful run, per job',
            description: `Per job (retention, conversation-archive, orphan-uploads; Prometheus names the core's job label \`${jn}\`). Jobs run nightly; SwitchboardJobStale fires above ${c.symptoms.jobStale.maxAgeHours} h. A job that never succeeded has no value. Last runs with errors: \`ops jobs list\`.`,
            unit: 's',
            type: 'stat',
            targets: [q(`time() - max by (${jn}) (${m.jobLastSuccess}{${sel}} > 0)`, `{{${jn}}}`)],
            thresholds: [{ color: 'green', value: null }, { color: 'orange', value: 26 * 3600 }, { color: 'red', value: c.symptoms.jobStale.maxAgeHours * 3600 }],
          },
          {
            title: 'Job runs by outcome',
            description: 'Runs per job and outcome: succeeded, failed (SwitchboardJobFailing), skipped (another instance held the slot lease: normal, one run per slot across instances). Includes dry runs started on an instance.',
            unit: 'short',
            targets: [q(`sum by (${jn}, outcome) (increase(${m.jobRuns}{${sel}}[$__rate_interval]))`, `{{${jn}}} {{outcome}}`)],
          },
          {
            title: 'Items processed by jobs',
            description: 'Messages deleted or archived (retention), conversations archived, orphaned uploads deleted; real runs only, not dry runs.',
            unit: 'short',
            targets: [q(`sum by (${jn}) (increase(${m.jobItems}{${sel}}[$__rate_interval]))`, `{{${jn}}}`)],
          },
          {
            title: 'Job run duration',
            description: 'Mean duration of the (non-dry) runs that ended in the interval, per job and outcome. A retention run that grows night after night is falling behind its backlog.',
            unit: 's',
            targets: [
              q(
                `sum by (${jn}, outcome) (rate(${m.jobDuration}_sum{${sel}}${ri})) / sum by (${jn}, outcome) (rate(${m.jobDuration}_count{${sel}}${ri}))`,
                `{{${jn}}} {{outcome}}`,
              ),
            ],
          },
        ],
      },
      {
        title: 'Offline notifications and attachments',
        panels: [
          {
            title: 'Notifications by outcome',
            description: `Offline notifications per second by final outcome: delivered, failed (webhook refused or every retry failed), dropped (queue full or shutdown), no_recipients (everyone online). SwitchboardNotificationsFailing fires when failed + dropped exceed ${c.symptoms.notificationsFailing.failureRatio * 100}% over ${c.symptoms.notificationsFailing.window}.`,
            unit: 'ops',
            targets: [q(`sum by (outcome) (rate(${m.notifications}{${sel}}${ri}))`, '{{outcome}}')],
          },
          {
            title: 'Webhook attempts by result',
            description: 'Every webhook request, retries included: 2xx, 4xx (final, except 408 which is retried), 429, 5xx, network (timeout or connection error). Retries of 429/5xx/network back off exponentially.',
            unit: 'reqps',
            targets: [q(`sum by (result) (rate(${m.notificationAttempts}{${sel}}${ri}))`, '{{result}}')],
          },
          {
            title: 'Notification queue depth',
            description: 'Notifications queued or waiting to retry, per instance. A queue that keeps growing means the webhook is slower than the message rate; when it is full, notifications are dropped.',
            unit: 'short',
            min: 0,
            targets: [q(`sum by (instance) (${m.notificationQueueDepth}{${sel}})`, '{{instance}}')],
          },
          {
            title: 'Attachments by outcome',
            description: 'Attachment uploads per second: presigned (upload URL issued), attached (a message carries it), rejected (too large or a type not accepted; refused at presign time).',
            unit: 'ops',
            targets: [q(`sum by (outcome) (rate(${m.attachments}{${sel}}${ri}))`, '{{outcome}}')],
          },
        ],
      },
    ]),
  });
