import type { Db } from 'mongodb';
import { jobCollections } from '../../core/src/jobs/job-store';
import { collectionNames } from '../../core/src/store/mongo-store';
import { collectionExists } from './mongo';

/**
 * The running fleet's own coordination state, as opposed to data: `instances` (each instance
 * re-registers about once a second from its revocation sweep, store/sessions-repository.ts) and
 * `job_leases` (who runs which scheduled-job slot, renewed while the job runs, jobs/job-store.ts).
 *
 * The runbook restores into the live database while its instances run (in maintenance). Dropping
 * these collections and writing the backup's copies raced with the instances' own writes: one
 * re-registered between the drop and the insert, the insert hit its `_id` (duplicate key) and the
 * restore failed (seen in CI). Had it not, it would have given back instances that have stopped and
 * leases that ended, and taken a running job's lease from under it (its renewal would fail).
 *
 * So when the target already has such a collection (a fleet uses that database), it is kept as it is
 * and the backup's copy is not written: the restore reports its documents as `live`. A target without
 * it (a scratch database, `ops backup verify`) gets the backup's copy as usual, document for document,
 * so its content still hashes to the manifest's.
 */
export const liveStateCollections: Record<string, string> = {
  [collectionNames.instances]: 'running instances',
  [jobCollections.leases]: 'scheduled-job leases',
};

/** The target's document count when `name` is live fleet state the target already has; undefined: restore it as usual. */
export async function liveStateKept(db: Db, name: string): Promise<number | undefined> {
  if (!liveStateCollections[name]) return undefined;
  return (await collectionExists(db, name)) ? db.collection(name).countDocuments() : undefined;
}
