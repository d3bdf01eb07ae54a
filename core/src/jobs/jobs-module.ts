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

/** The jobs' settings from the core's config (one config key per field). */
export function jobsSettingsFrom(config: {
  MESSAGE_RETENTION_DAYS: number; MESSAGE_RETENTION_MODE: 'delete' | 'archive'; MESSAGE_RETENTION_BATCH_SIZE: number; RETENTION_SCHEDULE: string;
  CONVERSATION_ARCHIVE_AFTER_DAYS: number; CONVERSATION_ARCHIVE_SCHEDULE: string; ORPHAN_UPLOAD_TTL_HOURS: number; ORPHAN_CLEANUP_SCHEDULE: string;
  JOBS_SCHEDULER_ENABLED: boolean;
}): JobsSettings {
  return {
    retentionDays: config.MESSAGE_RETENTION_DAYS,
    retentionMode: config.MESSAGE_RETENTION_MODE,
    retentionBatchSize: config.MESSAGE_RETENTION_BATCH_SIZE,
    retentionSchedule: config.RETENTION_SCHEDULE,
    archiveInactiveDays: config.CONVERSATION_ARCHIVE_AFTER_DAYS,
    archiveSchedule: config.CONVERSATION_ARCHIVE_SCHEDULE,
    orphanUploadHours: config.ORPHAN_UPLOAD_TTL_HOURS,
    cleanupSchedule: config.ORPHAN_CLEANUP_SCHEDULE,
    schedulerEnabled: config.JOBS_SCHEDULER_ENABLED,
  };
}

/**
 * The job definitions for these settings. Building them touches no database (the driver's
 * collections are lazy), so `ops jobs list` can show the catalog without one.
 */
/** What the jobs need of the attachment service: orphan cleanup, and retention deleting attachments with their messages. */
export type JobAttachments = OrphanDeleter & { deleteForMessages?(messageIds: string[]): Promise<number> };

export function jobDefinitions(db: Db, s: JobsSettings, attachments?: JobAttachments): JobDefinition[] {
  const jobs: JobDefinition[] = [
    retentionJob(db, {
      retentionDays: s.retentionDays, mode: s.retentionMode, batchSize: s.retentionBatchSize, schedule: s.retentionSchedule,
      attachments: attachments?.deleteForMessages ? { deleteForMessages: (ids) => attachments.deleteForMessages!(ids) } : undefined,
    }),
    conversationArchiveJob(db, { inactiveDays: s.archiveInactiveDays, schedule: s.archiveSchedule }),
  ];
  if (attachments) jobs.push(orphanCleanupJob(attachments, { olderThanHours: s.orphanUploadHours, limit: 10_000, schedule: s.cleanupSchedule }));
  return jobs;
}

/**
 * Builds the three jobs and their runner. `attachments` is the attachment service (or anything
 * with deleteOrphans); without it the orphan-uploads job is left out.
 */
export async function createJobs(deps: {
  db: Db;
  settings: JobsSettings;
  instanceId: string;
  attachments?: JobAttachments;
  metrics?: JobMetrics;
  logger?: JobLogger;
  leaseTtlMs?: number;
  now?: () => Date;
}) {
  await ensureJobIndexes(deps.db);
  const s = deps.settings;
  const jobs = jobDefinitions(deps.db, s, deps.attachments);
  const runner = createJobRunner({ db: deps.db, jobs, instanceId: deps.instanceId, metrics: deps.metrics, logger: deps.logger, leaseTtlMs: deps.leaseTtlMs, now: deps.now });
  return {
    ...runner,
    start() {
      if (s.schedulerEnabled) runner.start();
    },
  };
}
