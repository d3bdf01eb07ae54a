import { metricNames as m } from '../core/src/telemetry/metric-names';
import { alertsConfig as c } from './config';
import { externalMetrics as x } from './external-metrics';
import { anyOf, bornWithin, jobNameLabel, num, selector } from './promql';
import type { AlertDefinition } from './types';

const job = `job="${c.job}"`;
const s = c.symptoms;
const day = 86_400;

/** Symptom alerts: instances, readiness, dependencies, saturation, sockets, limits, backups, TLS, jobs, notifications. */
export function symptomAlerts(): AlertDefinition[] {
  const planned = `reason!~"${anyOf(s.socketDisconnectStorm.plannedReasons)}"`;
  const disconnects5m = `sum by (job) (increase(${m.socketDisconnects}${selector(job, planned)}[5m]))`;
  const byJob = `by (job, ${jobNameLabel})`;
  const failedRuns = `${m.jobRuns}${selector(job, 'outcome="failed"')}`;
  const notificationsWindow = s.notificationsFailing.window;
  const lost = `sum by (job) (increase(${m.notifications}${selector(job, 'outcome=~"failed|dropped"')}[${notificationsWindow}]))`;
  const ended = `sum by (job) (increase(${m.notifications}${selector(job, 'outcome=~"delivered|failed|dropped"')}[${notificationsWindow}]))`;
  return [
    {
      alert: 'SwitchboardCoreAbsent',
      expr: `absent(up{${job}} == 1)`,
      for: s.coreAbsent.for,
      severity: 'page',
      dashboard: 'overview',
      summary: 'No Switchboard core instance is up: chat is down for everyone.',
      description: `Prometheus has no scrape target with job="${c.job}" answering /metrics. Either every instance is down or the scrape configuration lost them.`,
    },
    {
      alert: 'SwitchboardCoreInstanceDown',
      expr: `up{${job}} == 0`,
      for: s.coreInstanceDown.for,
      severity: 'ticket',
      dashboard: 'overview',
      summary: 'Core instance {{ $labels.instance }} does not answer /metrics.',
      description: `Scrapes of {{ $labels.instance }} (job {{ $labels.job }}) have failed for ${s.coreInstanceDown.for}; the other instances carry its traffic.`,
    },
    {
      alert: 'SwitchboardCoreNotReady',
      expr: `${m.ready}{${job}} == 0`,
      for: s.coreNotReady.for,
      severity: 'ticket',
      dashboard: 'overview',
      summary: 'Core instance {{ $labels.instance }} reports not ready.',
      description: `chat_ready has been 0 on {{ $labels.instance }} for ${s.coreNotReady.for}: /ready answers 503 (a dependency is down or the instance is draining), so the load balancer sends it no traffic.`,
    },
    {
      alert: 'SwitchboardMongoDBUnreachable',
      expr: `${m.dependencyUp}{${job},dependency="mongodb"} == 0`,
      for: s.mongodbUnreachable.for,
      severity: 'page',
      dashboard: 'dependencies',
      summary: 'Core instance {{ $labels.instance }} cannot reach MongoDB.',
      description: `The core's MongoDB ping (every 5 s, 2 s timeout) has failed on {{ $labels.instance }} for ${s.mongodbUnreachable.for}. Every send and history read on this instance fails.`,
    },
    {
      alert: 'SwitchboardRedisUnreachable',
      expr: `${m.dependencyUp}{${job},dependency="redis"} == 0`,
      for: s.redisUnreachable.for,
      severity: 'page',
      dashboard: 'dependencies',
      summary: 'Core instance {{ $labels.instance }} cannot reach Redis.',
      description: `The core's Redis ping has failed on {{ $labels.instance }} for ${s.redisUnreachable.for}. Messages no longer reach sockets connected to other instances; rate limits and the maintenance flag are not shared.`,
    },
    {
      alert: 'SwitchboardEventLoopLagHigh',
      expr: `nodejs_eventloop_lag_p99_seconds{${job}} > ${num(s.eventLoopLag.p99Seconds)}`,
      for: s.eventLoopLag.for,
      severity: 'ticket',
      dashboard: 'runtime',
      summary: 'Event loop lag p99 on {{ $labels.instance }} is {{ $value | humanizeDuration }}.',
      description: `The Node.js event loop p99 lag on {{ $labels.instance }} has been above ${num(s.eventLoopLag.p99Seconds * 1000)} ms for ${s.eventLoopLag.for} (now {{ $value | humanizeDuration }}): every request and socket event on it waits that long.`,
    },
    {
      alert: 'SwitchboardMemoryGrowth',
      expr:
        `predict_linear(process_resident_memory_bytes{${job}}[1h], ${s.memoryGrowth.horizonHours * 3600}) > ${s.memoryGrowth.limitBytes}\n` +
        `and\nprocess_resident_memory_bytes{${job}} > ${num(s.memoryGrowth.limitBytes * s.memoryGrowth.minShareOfLimit)}`,
      for: s.memoryGrowth.for,
      severity: 'ticket',
      dashboard: 'runtime',
      summary: 'Memory of {{ $labels.instance }} grows toward its limit.',
      description: `Resident memory of {{ $labels.instance }} is {{ $value | humanize1024 }}B and at the last hour's growth would pass ${num(s.memoryGrowth.limitBytes / 1024 / 1024)} MiB within ${s.memoryGrowth.horizonHours} h.`,
    },
    {
      alert: 'SwitchboardSocketDisconnectStorm',
      expr:
        `${disconnects5m} > ${s.socketDisconnectStorm.minDisconnectsPer5m}\n` +
        `and\n${disconnects5m} / clamp_min(sum by (job) (${m.socketConnections}{${job}}), 1) > ${num(s.socketDisconnectStorm.shareOfConnectionsPer5m)}`,
      for: s.socketDisconnectStorm.for,
      severity: 'page',
      dashboard: 'overview',
      summary: 'Sockets are dropping: {{ $value | humanize }} unplanned disconnects in 5 minutes.',
      description: `More than ${s.socketDisconnectStorm.minDisconnectsPer5m} unplanned Socket.IO disconnects in 5 minutes, and more than ${num(s.socketDisconnectStorm.shareOfConnectionsPer5m * 100)}% of open connections (job {{ $labels.job }}). Clients reconnect and repair gaps, but users see flapping presence and delays.`,
    },
    {
      alert: 'SwitchboardRateLimitRejectionsSpike',
      expr: `sum by (job, scope) (rate(${m.rateLimitRejections}{${job}}[5m])) > ${num(s.rateLimitSpike.rejectionsPerSecond)}`,
      for: s.rateLimitSpike.for,
      severity: 'ticket',
      dashboard: 'overview',
      summary: 'Rate limit ({{ $labels.scope }}) rejects {{ $value | humanize }} requests/s.',
      description: `The {{ $labels.scope }} rate limit has refused more than ${num(s.rateLimitSpike.rejectionsPerSecond)} requests per second for ${s.rateLimitSpike.for} (now {{ $value | humanize }}/s): a misbehaving client, abuse, or limits set too low.`,
    },
    {
      alert: 'SwitchboardBackupTooOld',
      expr: `time() - max(${x.backupLastSuccess}) > ${s.backupRpo.maxAgeHours * 3600}\nor\nabsent(${x.backupLastSuccess})`,
      for: s.backupRpo.for,
      severity: 'ticket',
      dashboard: 'operations',
      summary: 'The newest successful backup is older than the RPO (or none is known).',
      description: `The last successful backup finished {{ $value | humanizeDuration }} ago (a value of 1s means the metric ${x.backupLastSuccess} is missing entirely); the recovery point objective is ${s.backupRpo.maxAgeHours} h.`,
    },
    {
      alert: 'SwitchboardBackupVerifyFailed',
      expr: `min(${x.backupLastVerifySuccess}) == 0`,
      for: s.backupVerify.for,
      severity: 'ticket',
      dashboard: 'operations',
      summary: 'The last backup verification failed.',
      description: `${x.backupLastVerifySuccess} is 0: restoring the newest backup into a scratch database did not reproduce its manifest (counts / SHA-256). Until a verified backup exists, treat the RPO as breached.`,
    },
    ...(['ticket', 'page'] as const).map((severity): AlertDefinition => {
      const days = severity === 'page' ? s.certificate.pageDays : s.certificate.ticketDays;
      return {
        alert: 'SwitchboardCertificateExpiring',
        expr: `${x.certificateExpiry} - time() < ${days * day}`,
        for: s.certificate.for,
        severity,
        dashboard: 'operations',
        summary: 'TLS certificate {{ $labels.namespace }}/{{ $labels.name }} expires in {{ $value | humanizeDuration }}.',
        description: `The certificate {{ $labels.namespace }}/{{ $labels.name }} expires in less than ${days} days; cert-manager should have renewed it 30 days ahead. When it expires, browsers and socket clients refuse to connect.`,
      };
    }),
    {
      // The gauge exists only for a job that has succeeded at least once (the core sets it from the
      // job_runs records at start and after each success), so a job that was never configured or
      // never ran (orphan-uploads without S3_BUCKET, a fresh environment) has no series: silent.
      alert: 'SwitchboardJobStale',
      expr: `time() - max ${byJob} (${m.jobLastSuccess}{${job}} > 0) > ${s.jobStale.maxAgeHours * 3600}`,
      for: s.jobStale.for,
      severity: 'ticket',
      dashboard: 'operations',
      summary: 'Job {{ $labels.job_name }} has not succeeded for {{ $value | humanizeDuration }}.',
      description: `The last successful run of the scheduled job {{ $labels.job_name }} ended {{ $value | humanizeDuration }} ago (threshold ${s.jobStale.maxAgeHours} h: it runs every night, so at least two nights were missed or failed). Retention, archival or upload cleanup is falling behind.`,
    },
    {
      alert: 'SwitchboardJobFailing',
      expr:
        `sum ${byJob} (increase(${failedRuns}[${s.jobFailing.window}])) >= ${s.jobFailing.minFailures}\n` +
        `or\nsum ${byJob} (${bornWithin(failedRuns, s.jobFailing.window)}) >= ${s.jobFailing.minFailures}`,
      for: s.jobFailing.for,
      severity: 'ticket',
      dashboard: 'operations',
      summary: `Job {{ $labels.job_name }} failed {{ $value | humanize }} time(s) in the last ${s.jobFailing.window}.`,
      description: `The scheduled job {{ $labels.job_name }} had failed runs (chat_job_runs_total{outcome="failed"}) within the last ${s.jobFailing.window}. Skipped runs (another instance held the slot) do not count. The error is in the job_runs record (\`ops jobs list\`) and the core's "job failed" log line.`,
    },
    {
      alert: 'SwitchboardNotificationsFailing',
      expr: `${lost} / clamp_min(${ended}, 1) > ${num(s.notificationsFailing.failureRatio)}\nand\n${lost} >= ${s.notificationsFailing.minLostPerWindow}`,
      for: s.notificationsFailing.for,
      severity: 'ticket',
      dashboard: 'operations',
      summary: '{{ $value | humanizePercentage }} of offline notifications are failed or dropped.',
      description: `Over the last ${notificationsWindow}, more than ${num(s.notificationsFailing.failureRatio * 100)}% of offline notifications ended failed (the webhook refused them or every retry failed) or dropped (the send queue was full or the instance stopped), at least ${s.notificationsFailing.minLostPerWindow} of them (job {{ $labels.job }}). Offline members do not get push notifications for new messages; chat itself works.`,
    },
  ];
}
