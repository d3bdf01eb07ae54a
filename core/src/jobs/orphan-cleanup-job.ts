import { hourMs, type JobDefinition } from './job';

export interface OrphanCleanupOptions {
  /** Uploads no message referenced within this many hours are deleted. */
  olderThanHours: number;
  /** Most uploads handled per run (the rest wait for the next run). */
  limit: number;
  schedule: string | null;
}

/** Anything with the attachment service's deleteOrphans (kept structural so jobs need no S3 client). */
export interface OrphanDeleter {
  deleteOrphans(params: { olderThanMs: number; dryRun: boolean; limit: number; signal?: AbortSignal }): Promise<{ deleted: number; candidates: string[]; errors: string[] }>;
}

export function orphanCleanupJob(attachments: OrphanDeleter, options: OrphanCleanupOptions): JobDefinition {
  return {
    name: 'orphan-uploads',
    description: `Delete uploads that no message referenced within ${options.olderThanHours} hours (object and record).`,
    schedule: options.schedule,
    async run({ dryRun, signal }) {
      const result = await attachments.deleteOrphans({ olderThanMs: options.olderThanHours * hourMs, dryRun, limit: options.limit, signal });
      return {
        itemsProcessed: result.deleted,
        errors: result.errors,
        details: { olderThanHours: options.olderThanHours, [dryRun ? 'wouldDelete' : 'deleted']: result.candidates.slice(0, 100) },
      };
    },
  };
}
