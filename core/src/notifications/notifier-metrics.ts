import { Counter, Gauge, type Registry } from 'prom-client';
import type { NotifierMetrics } from './notifier';

import { metricNames } from '../telemetry/metric-names';

export const notifierMetricNames = {
  notifications: metricNames.notifications,
  attempts: metricNames.notificationAttempts,
  queueDepth: metricNames.notificationQueueDepth,
} as const;

/** The notifier metrics on a registry (telemetry/metrics.ts puts them on the core's one registry). */
export function createNotifierMetrics(registry: Registry): NotifierMetrics {
  return {
    notifications: new Counter({ name: notifierMetricNames.notifications, help: 'Offline notifications by outcome: delivered, failed (gave up or refused), dropped (queue full or shutdown), no_recipients.', labelNames: ['outcome'] as const, registers: [registry] }),
    attempts: new Counter({ name: notifierMetricNames.attempts, help: 'Notification webhook requests by result: 2xx, 4xx, 429, 5xx, network.', labelNames: ['result'] as const, registers: [registry] }),
    queueDepth: new Gauge({ name: notifierMetricNames.queueDepth, help: 'Notifications queued or waiting to retry on this instance.', registers: [registry] }),
  };
}
