import { MongoServerError, ObjectId, type Collection, type Db } from 'mongodb';
import { createDeclaredIndexes, type IndexDeclaration } from '../store/mongo-store';

/**
 * Leases and run records for scheduled jobs. A lease is one document per job and slot
 * (`_id: '<job>@<slot ISO time>'`), taken by insertOne: the unique _id makes each slot run once
 * across instances, and a crashed holder's lease expires so another instance may take the slot
 * over; the next slot is a different _id, so nothing ever blocks it.
 */
export interface LeaseDoc {
  _id: string;
  job: string;
  slot: string;
  owner: string;
  acquiredAt: Date;
  expiresAt: Date;
  completedAt?: Date | null;
}

export type JobTrigger = 'schedule' | 'manual';
export type RunStatus = 'running' | 'succeeded' | 'failed';

export interface JobRunDoc {
  _id: ObjectId;
  job: string;
  trigger: JobTrigger;
  dryRun: boolean;
  slot: string;
  owner: string;
  status: RunStatus;
  startedAt: Date;
  endedAt: Date | null;
  durationMs: number | null;
  itemsProcessed: number;
  errors: string[];
  details: Record<string, unknown>;
}

export const jobCollections = { leases: 'job_leases', runs: 'job_runs' } as const;

export const jobIndexes: IndexDeclaration[] = [
  { collection: jobCollections.runs, indexes: [{ key: { job: 1, startedAt: -1 }, name: 'job_started' }] },
  { collection: jobCollections.leases, indexes: [{ key: { expiresAt: 1 }, name: 'expires' }] },
];

export async function ensureJobIndexes(db: Db): Promise<void> {
  await createDeclaredIndexes(db, jobIndexes);
}

const isDuplicateKey = (error: unknown) => error instanceof MongoServerError && error.code === 11000;

export interface Lease {
  id: string;
  /** Extends the expiry; false when the lease was lost (taken over after expiring). */
  renew(ttlMs: number): Promise<boolean>;
  /** Marks the slot done: it is never taken over again. */
  complete(): Promise<void>;
}

export function jobStore(db: Db, now: () => Date = () => new Date()) {
  const leases: Collection<LeaseDoc> = db.collection<LeaseDoc>(jobCollections.leases);
  const runs: Collection<JobRunDoc> = db.collection<JobRunDoc>(jobCollections.runs);

  const leaseHandle = (id: string, owner: string): Lease => ({
    id,
    async renew(ttlMs) {
      const result = await leases.updateOne({ _id: id, owner }, { $set: { expiresAt: new Date(now().getTime() + ttlMs) } });
      return result.matchedCount === 1;
    },
    async complete() {
      await leases.updateOne({ _id: id, owner }, { $set: { completedAt: now() } });
    },
  });

  return {
    leases,
    runs,
    /**
     * Takes the lease for `job` at `slot`, or returns null when another owner holds it (unexpired)
     * or already completed it. An expired, uncompleted lease is taken over with a compare-and-set
     * on its previous owner and expiry.
     */
    async acquire(job: string, slot: string, owner: string, ttlMs: number): Promise<Lease | null> {
      const id = `${job}@${slot}`;
      const at = now();
      try {
        await leases.insertOne({ _id: id, job, slot, owner, acquiredAt: at, expiresAt: new Date(at.getTime() + ttlMs), completedAt: null });
        return leaseHandle(id, owner);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
      const existing = await leases.findOne({ _id: id });
      if (!existing || existing.completedAt || existing.expiresAt.getTime() > at.getTime()) return null;
      const taken = await leases.updateOne(
        { _id: id, owner: existing.owner, expiresAt: existing.expiresAt },
        { $set: { owner, acquiredAt: at, expiresAt: new Date(at.getTime() + ttlMs) } },
      );
      return taken.modifiedCount === 1 ? leaseHandle(id, owner) : null;
    },
    async startRun(run: Pick<JobRunDoc, 'job' | 'trigger' | 'dryRun' | 'slot' | 'owner'>): Promise<JobRunDoc> {
      const doc: JobRunDoc = { _id: new ObjectId(), ...run, status: 'running', startedAt: now(), endedAt: null, durationMs: null, itemsProcessed: 0, errors: [], details: {} };
      await runs.insertOne(doc);
      return doc;
    },
    async finishRun(doc: JobRunDoc): Promise<void> {
      const { _id, ...rest } = doc;
      await runs.updateOne({ _id }, { $set: rest });
    },
    /** The latest successful real (non-dry) run of a job, from any instance. */
    async lastSuccess(job: string): Promise<JobRunDoc | null> {
      const [run] = await runs.find({ job, status: 'succeeded', dryRun: false }).sort({ endedAt: -1 }).limit(1).toArray();
      return run ?? null;
    },
    /** Latest runs of a job, newest first (a scan on the local server; ops use only). */
    async recentRuns(job: string, limit = 1): Promise<JobRunDoc[]> {
      return runs.find({ job }).sort({ startedAt: -1 }).limit(limit).toArray();
    },
  };
}

export type JobStore = ReturnType<typeof jobStore>;
