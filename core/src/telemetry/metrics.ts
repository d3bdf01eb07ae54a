import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createJobMetrics } from '../jobs/job-metrics';
import { createNotifierMetrics } from '../notifications/notifier-metrics';
import { latencyBuckets, metricNames as n } from './metric-names';

/** One registry per core instance (tests run several in one process). */
export function createMetrics(labels: { version: string; instance: string }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = {
    registry,
    httpRequestDuration: new Histogram({ name: n.httpRequestDuration, help: 'HTTP request duration by route template and status code.', labelNames: ['method', 'route', 'status_code'] as const, buckets: latencyBuckets, registers: [registry] }),
    socketConnections: new Gauge({ name: n.socketConnections, help: 'Socket.IO connections open on this instance.', registers: [registry] }),
    socketConnects: new Counter({ name: n.socketConnects, help: 'Socket.IO connections accepted.', registers: [registry] }),
    socketDisconnects: new Counter({ name: n.socketDisconnects, help: 'Socket.IO disconnections by reason.', labelNames: ['reason'] as const, registers: [registry] }),
    messages: new Counter({ name: n.messages, help: 'Messages accepted, by transport and outcome (created or duplicate retry).', labelNames: ['transport', 'outcome'] as const, registers: [registry] }),
    messagePersistDuration: new Histogram({ name: n.messagePersistDuration, help: 'Time from accepting a send to its durable write.', buckets: latencyBuckets, registers: [registry] }),
    messageDeliveryDuration: new Histogram({ name: n.messageDeliveryDuration, help: 'Time from accepting a send to its broadcast to the conversation room.', buckets: latencyBuckets, registers: [registry] }),
    rateLimitRejections: new Counter({ name: n.rateLimitRejections, help: 'Requests refused by a rate limit.', labelNames: ['scope'] as const, registers: [registry] }),
    maintenanceMode: new Gauge({ name: n.maintenanceMode, help: '1 while maintenance mode is on.', registers: [registry] }),
    dependencyUp: new Gauge({ name: n.dependencyUp, help: '1 when the dependency answered its last check.', labelNames: ['dependency'] as const, registers: [registry] }),
    mongoOperationDuration: new Histogram({ name: n.mongoOperationDuration, help: 'MongoDB command duration by command name and outcome.', labelNames: ['command', 'outcome'] as const, buckets: latencyBuckets, registers: [registry] }),
    mongoPoolCheckedOut: new Gauge({ name: n.mongoPoolCheckedOut, help: 'MongoDB connections checked out of the pool.', registers: [registry] }),
    buildInfo: new Gauge({ name: n.buildInfo, help: 'Always 1; labels carry version and instance.', labelNames: ['version', 'instance_id'] as const, registers: [registry] }),
    ready: new Gauge({ name: n.ready, help: '1 while /ready answers 200.', registers: [registry] }),
    attachments: new Counter({ name: n.attachments, help: 'Attachment uploads by outcome: presigned, attached, rejected.', labelNames: ['outcome'] as const, registers: [registry] }),
    jobs: createJobMetrics(registry),
    notifier: createNotifierMetrics(registry),
  };
  // `instance_id`, not `instance`: Prometheus owns the `instance` target label.
  metrics.buildInfo.set({ version: labels.version, instance_id: labels.instance }, 1);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
