/**
 * Every metric the core exports, named once. Alerts, dashboards and their tests import this list,
 * so a rule or panel cannot refer to a metric the core does not have.
 */
export const metricNames = {
  httpRequestDuration: 'http_request_duration_seconds',
  socketConnections: 'chat_socket_connections',
  socketConnects: 'chat_socket_connects_total',
  socketDisconnects: 'chat_socket_disconnects_total',
  messages: 'chat_messages_total',
  messagePersistDuration: 'chat_message_persist_duration_seconds',
  messageDeliveryDuration: 'chat_message_delivery_duration_seconds',
  rateLimitRejections: 'chat_rate_limit_rejections_total',
  maintenanceMode: 'chat_maintenance_mode',
  dependencyUp: 'chat_dependency_up',
  mongoOperationDuration: 'chat_mongodb_operation_duration_seconds',
  mongoPoolCheckedOut: 'chat_mongodb_pool_checked_out_connections',
  buildInfo: 'chat_build_info',
  ready: 'chat_ready',
  jobLastSuccess: 'chat_job_last_success_timestamp_seconds',
  jobDuration: 'chat_job_duration_seconds',
  jobItems: 'chat_job_items_processed_total',
  jobRuns: 'chat_job_runs_total',
  notifications: 'chat_notifications_total',
  notificationAttempts: 'chat_notification_attempts_total',
  notificationQueueDepth: 'chat_notification_queue_depth',
  attachments: 'chat_attachments_total',
} as const;

/** Default Node.js metrics from prom-client that dashboards and alerts use. */
export const runtimeMetricNames = [
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'process_start_time_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_gc_duration_seconds',
  'nodejs_active_handles_total',
] as const;

/** Latency buckets shared by request, persist and delivery histograms (seconds). SLO targets sit on bucket edges. */
export const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5];
