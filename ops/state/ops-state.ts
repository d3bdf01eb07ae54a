import type { AuditEntry } from './audit-log';
import type { HeldLock, LockInfo, LockRequest } from './lock';
import type { ReleaseRecord } from './releases';

export type NewAuditEntry = Omit<AuditEntry, 'at'> & { at?: string };
export type NewRelease = Omit<ReleaseRecord, 'id' | 'seq' | 'artifact' | 'env' | 'status' | 'startedAt'> & { artifact?: string };

/**
 * Where ops keeps what several operators must agree on, per environment: the deploy lock, the release
 * history and the audit log. Two backends behind this one interface: a directory (the local target,
 * `var/ops/`) and an S3 prefix (shared environments: the backup bucket's `ops/` prefix), both with
 * atomic create-if-absent for the lock and release numbers, so two runners never both win.
 */
export interface OpsState {
  /** e.g. `dir:/repo/var/ops` or `s3://bucket/ops`. */
  readonly description: string;
  /** True when every runner sees the same state (S3); false for a directory on this machine. */
  readonly shared: boolean;

  /** Creates the lock, or takes over an expired one; LockHeldError when a live lock exists. */
  acquireLock(env: string, request: LockRequest, now?: number): Promise<HeldLock>;
  /** Heartbeat: extends our lock's expiry; LockLostError when it is no longer ours. */
  renewLock(env: string, held: HeldLock, now?: number): Promise<HeldLock>;
  /** Removes the lock if it is still ours; false when it was not (taken over, force-released). */
  releaseLock(env: string, held: HeldLock): Promise<boolean>;
  readLock(env: string): Promise<LockInfo | undefined>;
  /** `ops lock release`: removes whatever lock is there, returning it. */
  forceReleaseLock(env: string): Promise<LockInfo | undefined>;

  listReleases(env: string): Promise<ReleaseRecord[]>;
  getRelease(env: string, id: string): Promise<ReleaseRecord | undefined>;
  /** Claims the next release number (never the same for two runners) and records it pending. */
  createRelease(env: string, fields: NewRelease): Promise<ReleaseRecord>;
  /** Records a new state of a release (prepared, finished, rolled back). */
  saveRelease(record: ReleaseRecord): Promise<void>;

  appendAudit(entry: NewAuditEntry): Promise<AuditEntry>;
  /** Oldest first; `env` filters, `limit` keeps the newest n. */
  readAudit(filter?: { env?: string; limit?: number }): Promise<AuditEntry[]>;
}
