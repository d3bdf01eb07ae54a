import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { JobMetrics } from './job-runner';

import { metricNames } from '../telemetry/metric-names';

export const jobMetricNames = {
  lastSuccess: metricNames.jobLastSuccess,
  duration: metricNames.jobDuration,
  items: metricNames.jobItems,
  runs: metricNames.jobRuns,
} as const;

/** The job's name is `job_name`: Prometheus owns the `job` label (the scrape job). */
export const jobDurationBuckets = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600];

/** The job metrics on a registry (telemetry/metrics.ts puts them on the core's one registry). */
export function createJobMetrics(registry: Registry): JobMetrics {
  return {
    lastSuccess: new Gauge({ name: jobMetricNames.lastSuccess, help: 'Unix time of the last successful (non-dry) run of each job.', labelNames: ['job_name'] as const, registers: [registry] }),
    duration: new Histogram({ name: jobMetricNames.duration, help: 'Duration of job runs (non-dry) by job and outcome.', labelNames: ['job_name', 'outcome'] as const, buckets: jobDurationBuckets, registers: [registry] }),
    items: new Counter({ name: jobMetricNames.items, help: 'Items deleted, archived or updated by jobs (non-dry runs).', labelNames: ['job_name'] as const, registers: [registry] }),
    runs: new Counter({ name: jobMetricNames.runs, help: 'Job runs by outcome: succeeded, failed, or skipped because another instance holds the slot.', labelNames: ['job_name', 'outcome'] as const, registers: [registry] }),
  };
}
