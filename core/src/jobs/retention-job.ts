import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb';
import type { MessageDoc } from '../store/documents';
import { outcomesOfFailedInsert } from '../store/messages-repository';
import { dayMs, type JobDefinition } from './job';

export interface RetentionOptions {
  /** Messages older than this many days are removed; 0 disables the job (keep forever). */
  retentionDays: number;
  /** `delete` drops them; `archive` copies them to `messages_archive` first. */
  mode: 'delete' | 'archive';
  batchSize: number;
  schedule: string | null;
  /**
   * Delete mode: removes the attachments (object and record) of messages about to be deleted.
   * Archive mode keeps them, since archived messages still reference them.
   */
  attachments?: { deleteForMessages(messageIds: string[]): Promise<number> };
}

export const archiveCollection = 'messages_archive';

/**
 * Message retention in batches: read a batch of old messages, (copy it to the archive,) delete it
 * by _id. Every step is safe to repeat: an archive insert that meets an already-archived _id is
 * ignored, so a run interrupted between copy and delete is finished by the next one.
 */
export function retentionJob(db: Db, options: RetentionOptions): JobDefinition {
  const messages = db.collection<MessageDoc>('messages');
  const archive = db.collection<MessageDoc>(archiveCollection);
  return {
    name: 'retention',
    description: `${options.mode === 'archive' ? 'Archive' : 'Delete'} messages older than ${options.retentionDays} days (0 = keep forever), ${options.batchSize} per batch.`,
    schedule: options.schedule,
    async run({ dryRun, now, signal }) {
      if (options.retentionDays <= 0) return { itemsProcessed: 0, errors: [], details: { disabled: true } };
      const cutoff = new Date(now.getTime() - options.retentionDays * dayMs);
      const filter = { createdAt: { $lt: cutoff } };
      if (dryRun) {
        const count = await messages.countDocuments(filter);
        return { itemsProcessed: count, errors: [], details: { cutoff: cutoff.toISOString(), mode: options.mode, wouldProcess: count } };
      }
      let processed = 0;
      let batches = 0;
      let failuresInARow = 0;
      const errors: string[] = [];
      while (!signal.aborted) {
        let batch: MessageDoc[];
        try {
          batch = options.mode === 'archive'
            ? await messages.find(filter).limit(options.batchSize).toArray()
            : await messages.find(filter, { projection: { _id: 1, attachments: 1 } }).limit(options.batchSize).toArray();
          if (batch.length > 0) {
            if (options.mode === 'archive') await insertIgnoringDuplicates(archive, batch);
            // Attachments first: a run interrupted after this still finds the messages next time.
            else if (options.attachments) {
              await options.attachments.deleteForMessages(batch.filter((m) => m.attachments?.length).map((m) => m._id.toHexString()));
            }
            // One round trip; each delete is an _id equality lookup (fast on every server).
            const ops: AnyBulkWriteOperation<MessageDoc>[] = batch.map((m) => ({ deleteOne: { filter: { _id: m._id } } }));
            const result = await messages.bulkWrite(ops, { ordered: false });
            processed += result.deletedCount;
            batches += 1;
          }
          failuresInARow = 0;
        } catch (error) {
          // A failed batch is retried (every step is idempotent); three failures in a row end the run.
          errors.push(`batch ${batches + 1}: ${(error as Error).message}`);
          if (++failuresInARow >= 3) throw new Error(`retention stopped after ${processed} messages: ${(error as Error).message}`, { cause: error });
          await new Promise((r) => setTimeout(r, 500 * failuresInARow));
          continue;
        }
        if (batch.length < options.batchSize) break;
      }
      return { itemsProcessed: processed, errors, details: { cutoff: cutoff.toISOString(), mode: options.mode, batches, stoppedEarly: signal.aborted } };
    },
  };
}

/**
 * Archives before the delete, so "archived" must be certain: every document either acknowledged or
 * already there (duplicate _id). A bulk error with no per-document answer (network, timeout) has an
 * empty writeErrors list and proves nothing: it fails the batch, which is retried.
 */
async function insertIgnoringDuplicates(collection: Collection<MessageDoc>, docs: MessageDoc[]): Promise<void> {
  try {
    await collection.insertMany(docs, { ordered: false });
  } catch (error) {
    if (outcomesOfFailedInsert(error, docs.length).every((o) => o.status === 'stored' || o.status === 'duplicate')) return;
    throw error;
  }
}
