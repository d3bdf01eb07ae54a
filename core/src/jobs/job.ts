/** What every job implements; the runner adds leases, run records, metrics and logging around it. */
export interface JobContext {
  dryRun: boolean;
  /** The time the run started; age cut-offs are computed from it. */
  now: Date;
  /** Aborted when the scheduler stops or the lease is lost: finish the current batch and return. */
  signal: AbortSignal;
}

export interface JobResult {
  /** Items deleted/archived/updated (or, in a dry run, that would be). */
  itemsProcessed: number;
  /** Per-item failures that did not stop the run. */
  errors: string[];
  /** What the job did or would do, printed by `ops jobs run`. */
  details: Record<string, unknown>;
}

export interface JobDefinition {
  name: string;
  description: string;
  /** 5-field cron expression (UTC), or null for manual-only. */
  schedule: string | null;
  run(ctx: JobContext): Promise<JobResult>;
}

export const dayMs = 86_400_000;
export const hourMs = 3_600_000;
