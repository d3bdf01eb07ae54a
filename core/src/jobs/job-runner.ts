import type { Db } from 'mongodb';
import { parseCron, type CronSchedule } from './cron';
import type { JobDefinition } from './job';
import { jobStore, type JobRunDoc, type JobTrigger } from './job-store';

/** The metrics the runner updates; prom-client Gauge/Histogram/Counter fit as they are. */
export interface JobMetrics {
  /** chat_job_last_success_timestamp_seconds{job} */
  lastSuccess: { set(labels: { job_name: string }, value: number): void };
  /** chat_job_duration_seconds{job,outcome} */
  duration: { observe(labels: { job_name: string; outcome: string }, value: number): void };
  /** chat_job_items_processed_total{job} (real runs only, not dry runs) */
  items: { inc(labels: { job_name: string }, value?: number): void };
  /** chat_job_runs_total{job,outcome}: succeeded | failed | skipped (lease held elsewhere) */
  runs: { inc(labels: { job_name: string; outcome: string }, value?: number): void };
}

export interface JobLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface JobRunSummary {
  job: string;
  status: 'succeeded' | 'failed' | 'skipped';
  trigger: JobTrigger;
  dryRun: boolean;
  slot: string;
  runId: string | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  itemsProcessed: number;
  errors: string[];
  details: Record<string, unknown>;
}

export interface JobListing {
  name: string;
  description: string;
  schedule: string | null;
  nextRunAt: string | null;
  lastRun: JobRunSummary | null;
}

export interface JobRunnerOptions {
  db: Db;
  jobs: JobDefinition[];
  /** Lease owner name (INSTANCE_ID). */
  instanceId: string;
  metrics?: JobMetrics;
  logger?: JobLogger;
  /** Lease lifetime; renewed every third of it while the job runs. */
  leaseTtlMs?: number;
  now?: () => Date;
}

const summaryOf = (run: JobRunDoc): JobRunSummary => ({
  job: run.job, status: run.status === 'running' ? 'failed' : run.status, trigger: run.trigger, dryRun: run.dryRun, slot: run.slot,
  runId: run._id.toHexString(), startedAt: run.startedAt.toISOString(), endedAt: run.endedAt?.toISOString() ?? null,
  durationMs: run.durationMs, itemsProcessed: run.itemsProcessed, errors: run.errors, details: run.details,
});

const maxTimerMs = 2 ** 31 - 1;

/**
 * Runs jobs by hand (`ops jobs run`) and on their cron schedules. Each scheduled slot is leased in
 * MongoDB so it runs once across instances; every run (scheduled or manual) leaves a record in
 * `job_runs` and updates the job metrics.
 */
export function createJobRunner(options: JobRunnerOptions) {
  const now = options.now ?? (() => new Date());
  const leaseTtlMs = options.leaseTtlMs ?? 10 * 60_000;
  const store = jobStore(options.db, now);
  const jobs = new Map<string, { def: JobDefinition; cron: CronSchedule | null }>();
  for (const def of options.jobs) jobs.set(def.name, { def, cron: def.schedule ? parseCron(def.schedule) : null });
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Set<Promise<unknown>>();
  const controllers = new Set<AbortController>();
  let started = false;

  function jobOrThrow(name: string) {
    const job = jobs.get(name);
    if (!job) throw new Error(`unknown job "${name}"; jobs: ${[...jobs.keys()].join(', ')}`);
    return job;
  }

  async function runSlot(def: JobDefinition, slot: string, trigger: JobTrigger, dryRun: boolean): Promise<JobRunSummary> {
    const lease = await store.acquire(def.name, slot, options.instanceId, leaseTtlMs);
    if (!lease) {
      options.metrics?.runs.inc({ job_name: def.name, outcome: 'skipped' });
      options.logger?.info({ job: def.name, slot }, 'job slot already taken by another instance');
      return { job: def.name, status: 'skipped', trigger, dryRun, slot, runId: null, startedAt: null, endedAt: null, durationMs: null, itemsProcessed: 0, errors: [], details: { reason: 'lease held by another instance' } };
    }
    const controller = new AbortController();
    controllers.add(controller);
    const heartbeat = setInterval(() => {
      lease.renew(leaseTtlMs).then((held) => { if (!held) controller.abort(); }, () => undefined);
    }, Math.max(1_000, Math.floor(leaseTtlMs / 3)));
    heartbeat.unref();
    const stopHeartbeat = () => {
      clearInterval(heartbeat);
      controllers.delete(controller);
    };
    let run: Awaited<ReturnType<typeof store.startRun>>;
    try {
      run = await store.startRun({ job: def.name, trigger, dryRun, slot, owner: options.instanceId });
    } catch (error) {
      // No run to record: stop renewing the lease (it expires by itself) instead of leaking the timer.
      stopHeartbeat();
      throw error;
    }
    const t0 = performance.now();
    options.logger?.info({ job: def.name, slot, trigger, dryRun, runId: run._id.toHexString() }, 'job started');
    try {
      const result = await def.run({ dryRun, now: run.startedAt, signal: controller.signal });
      Object.assign(run, { status: 'succeeded', itemsProcessed: result.itemsProcessed, errors: result.errors, details: result.details });
    } catch (error) {
      Object.assign(run, { status: 'failed', errors: [...run.errors, (error as Error).message ?? String(error)] });
    } finally {
      stopHeartbeat();
    }
    const seconds = (performance.now() - t0) / 1000;
    run.endedAt = now();
    run.durationMs = Math.round(seconds * 1000);
    try {
      await store.finishRun(run);
      await lease.complete();
    } catch (error) {
      options.logger?.error({ job: def.name, err: error }, 'could not record the job run');
    }
    const outcome = run.status === 'succeeded' ? 'succeeded' : 'failed';
    options.metrics?.runs.inc({ job_name: def.name, outcome });
    if (!dryRun) {
      options.metrics?.duration.observe({ job_name: def.name, outcome }, seconds);
      if (outcome === 'succeeded') {
        options.metrics?.lastSuccess.set({ job_name: def.name }, run.endedAt.getTime() / 1000);
        options.metrics?.items.inc({ job_name: def.name }, run.itemsProcessed);
      }
    }
    const log = { job: def.name, slot, trigger, dryRun, status: run.status, items: run.itemsProcessed, errors: run.errors.length, durationMs: run.durationMs };
    if (outcome === 'succeeded') options.logger?.info(log, 'job finished');
    else options.logger?.error({ ...log, error: run.errors.at(-1) }, 'job failed');
    return summaryOf(run);
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    running.add(promise);
    void promise.finally(() => running.delete(promise)).catch(() => undefined);
    return promise;
  }

  function schedule(name: string): void {
    const job = jobs.get(name);
    if (!started || !job?.cron) return;
    const slot = job.cron.next(now());
    const arm = () => {
      const wait = slot.getTime() - now().getTime();
      if (wait > 0) {
        const timer = setTimeout(arm, Math.min(wait, maxTimerMs));
        timer.unref();
        timers.set(name, timer);
        return;
      }
      timers.delete(name);
      void track(runSlot(job.def, slot.toISOString(), 'schedule', false))
        .catch((error) => options.logger?.error({ job: name, err: error }, 'scheduled job could not start'))
        .finally(() => schedule(name));
    };
    arm();
  }

  /**
   * Sets the last-success gauge from `job_runs` (runs by any instance), so a restarted instance
   * reports it too; alert on `time() - max by (job_name) (chat_job_last_success_timestamp_seconds)`.
   */
  async function refreshMetrics(): Promise<void> {
    if (!options.metrics) return;
    for (const name of jobs.keys()) {
      const last = await store.lastSuccess(name);
      if (last?.endedAt) options.metrics.lastSuccess.set({ job_name: name }, last.endedAt.getTime() / 1000);
    }
  }

  return {
    /** `ops jobs run <name> [--dry-run]`: runs now under a manual lease and returns what it did. */
    async runJob(name: string, params: { dryRun?: boolean; trigger?: JobTrigger } = {}): Promise<JobRunSummary> {
      const { def } = jobOrThrow(name);
      const trigger = params.trigger ?? 'manual';
      const slot = trigger === 'manual' ? `manual:${now().toISOString()}` : now().toISOString();
      return track(runSlot(def, slot, trigger, params.dryRun ?? false));
    },

    /** `ops jobs list`: every job with its schedule, next slot and last run. */
    async listJobs(): Promise<JobListing[]> {
      return Promise.all([...jobs.values()].map(async ({ def, cron }) => {
        const [last] = await store.recentRuns(def.name, 1);
        return { name: def.name, description: def.description, schedule: def.schedule, nextRunAt: cron ? cron.next(now()).toISOString() : null, lastRun: last ? summaryOf(last) : null };
      }));
    },

    async recentRuns(name: string, limit = 10): Promise<JobRunSummary[]> {
      jobOrThrow(name);
      return (await store.recentRuns(name, limit)).map(summaryOf);
    },

    refreshMetrics,

    /** Arms a timer per scheduled job. Missed slots (instance down at the time) are not caught up. */
    start(): void {
      if (started) return;
      started = true;
      for (const name of jobs.keys()) schedule(name);
      refreshMetrics().catch((error: unknown) => options.logger?.warn({ err: error }, 'could not read the last job runs'));
    },

    /** Clears timers, asks running jobs to stop after their current batch, and waits for them. */
    async stop(): Promise<void> {
      started = false;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      for (const controller of controllers) controller.abort();
      await Promise.allSettled([...running]);
    },
  };
}

export type JobRunner = ReturnType<typeof createJobRunner>;
