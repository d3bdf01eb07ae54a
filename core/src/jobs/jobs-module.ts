import type { Db } from 'mongodb';
import { conversationArchiveJob } from './conversation-archive-job';
import type { JobDefinition } from './job';
import { createJobRunner, type JobLogger, type JobMetrics } from './job-runner';
import { ensureJobIndexes } from './job-store';
import { orphanCleanupJob, type OrphanDeleter } from './orphan-cleanup-job';
import { retentionJob } from './retention-job';

/** The job settings from config (see the wiring notes: one config key per field). */
export interface JobsSettings {
  retentionDays: number;
  retentionMode: 'delete' | 'archive';
  retentionBatchSize: number;
  retentionSchedule: string;
  archiveInactiveDays: number;
  archiveSchedule: string;
  orphanUploadHours: number;
  cleanupSchedule: string;
  /** false: this instance runs jobs only when asked (`ops jobs run`). */
  schedulerEnabled: boolean;
}

export const defaultJobsSettings: JobsSettings = {
  retentionDays: 0,
  retentionMode: 'delete',
  retentionBatchSize: 5_000,
  retentionSchedule: '0 2 * * *',
  archiveInactiveDays: 0,
  archiveSchedule: '30 2 * * *',
  orphanUploadHours: 24,
  cleanupSchedule: '0 3 * * *',
  schedulerEnabled: true,
};

/**
 * Builds the three jobs and their runner. `attachments` is the attachment service (or anything
 * with deleteOrphans); without it the orphan-uploads job is left out.
 */
export async function createJobs(deps: {
  db: Db;
  settings: JobsSettings;
  instanceId: string;
  attachments?: OrphanDeleter & { deleteForMessages?(messageIds: string[]): Promise<number> };
  metrics?: JobMetrics;
  logger?: JobLogger;
  leaseTtlMs?: number;
  now?: () => Date;
}) {
  await ensureJobIndexes(deps.db);
  const s = deps.settings;
  const jobs: JobDefinition[] = [
    retentionJob(deps.db, {
      retentionDays: s.retentionDays, mode: s.retentionMode, batchSize: s.retentionBatchSize, schedule: s.retentionSchedule,
      attachments: deps.attachments?.deleteForMessages ? { deleteForMessages: (ids) => deps.attachments!.deleteForMessages!(ids) } : undefined,
    }),
    conversationArchiveJob(deps.db, { inactiveDays: s.archiveInactiveDays, schedule: s.archiveSchedule }),
  ];
  if (deps.attachments) jobs.push(orphanCleanupJob(deps.attachments, { olderThanHours: s.orphanUploadHours, limit: 10_000, schedule: s.cleanupSchedule }));
  const runner = createJobRunner({ db: deps.db, jobs, instanceId: deps.instanceId, metrics: deps.metrics, logger: deps.logger, leaseTtlMs: deps.leaseTtlMs, now: deps.now });
  return {
    ...runner,
    start() {
      if (s.schedulerEnabled) runner.start();
    },
  };
}
