import { randomBytes } from 'node:crypto';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { AuditEntry } from './audit-log';
import { LockHeldError, LockLostError, newLock, renewed, staleReason, type LockInfo } from './lock';
import type { OpsState } from './ops-state';
import type { ReleaseRecord } from './releases';

export interface S3StateOptions {
  bucket: string;
  /** Key prefix, e.g. `ops` (the backup bucket's `ops/` prefix). */
  prefix: string;
  client: S3ClientConfig;
}

/**
 * The S3 backend, locking the way Terraform's S3 backend does since 1.10: conditional writes.
 *
 *   <prefix>/<env>/lock.json                    the lock: created with If-None-Match: *; renewed, taken over and
 *                                               released with If-Match: <ETag> (release writes a `released`
 *                                               tombstone: MinIO ignores If-Match on DeleteObject, and an
 *                                               unconditional delete could remove a lock taken over meanwhile)
 *   <prefix>/<env>/releases/000007.json         release v7 as created (the number is claimed with If-None-Match: *)
 *   <prefix>/<env>/releases/000007/000002.json  its later states (prepared, finished, rolled back), each a new
 *                                               immutable object claimed the same way; the highest revision wins
 *   <prefix>/audit/<ISO time>_<random>_<env>.json   one immutable object per audit entry
 *
 * Nothing is ever read-modified-written: two runners racing for the lock or a release number get a
 * 412 on all but one write.
 */
export function s3State(options: S3StateOptions): OpsState {
  const s3 = new S3Client({ maxAttempts: 3, ...(options.client.endpoint ? { forcePathStyle: true } : {}), ...options.client });
  const { bucket } = options;
  const base = options.prefix.replace(/^\/+|\/+$/g, '');
  const key = (...parts: string[]) => [base, ...parts].filter(Boolean).join('/');
  const lockKey = (env: string) => key(env, 'lock.json');
  const releasesPrefix = (env: string) => `${key(env, 'releases')}/`;
  const pad = (n: number) => String(n).padStart(6, '0');

  async function get<T>(objectKey: string): Promise<{ value: T; etag: string } | undefined> {
    try {
      const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }));
      return { value: JSON.parse(await response.Body!.transformToString()) as T, etag: response.ETag! };
    } catch (error) {
      if (status(error) === 404) return undefined;
      throw describe(error, `GET ${objectKey}`);
    }
  }

  /** PutObject with a precondition; false when the precondition failed (someone else wrote first). */
  async function put(objectKey: string, value: unknown, condition: { IfNoneMatch: '*' } | { IfMatch: string }): Promise<string | false> {
    try {
      const response = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: `${JSON.stringify(value, null, 2)}\n`, ContentType: 'application/json', ...condition }));
      return response.ETag!;
    } catch (error) {
      // 412: the precondition failed; 409: a concurrent conditional write to the same key is in flight
      // (S3 asks to retry); 404 on If-Match: the object is gone.
      if (isConflict(error) || ('IfMatch' in condition && status(error) === 404)) return false;
      throw describe(error, `PUT ${objectKey}`);
    }
  }

  /** The lock object, unless it is a release tombstone. */
  async function getLock(env: string): Promise<{ value: LockInfo; etag: string } | { released: true; etag: string } | undefined> {
    const found = await get<LockInfo | Tombstone>(lockKey(env));
    if (!found) return undefined;
    return 'released' in found.value ? { released: true, etag: found.etag } : (found as { value: LockInfo; etag: string });
  }

  const tombstone = (lock: LockInfo | undefined, by: string): Tombstone => ({ released: true, at: new Date().toISOString(), by, lockId: lock?.id });

  async function listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      } catch (error) {
        throw describe(error, `LIST ${prefix}`);
      }
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  /** The newest revision of each release: key → seq, revision. */
  async function latestKeys(env: string): Promise<Map<number, string>> {
    const latest = new Map<number, { rev: number; key: string }>();
    const prefix = releasesPrefix(env);
    for (const k of await listKeys(prefix)) {
      const match = /^(\d{6})(?:\.json|\/(\d{6})\.json)$/.exec(k.slice(prefix.length));
      if (!match) continue;
      const seq = Number(match[1]);
      const rev = match[2] ? Number(match[2]) : 0;
      if ((latest.get(seq)?.rev ?? -1) < rev) latest.set(seq, { rev, key: k });
    }
    return new Map([...latest].map(([seq, v]) => [seq, v.key]));
  }

  async function revisions(env: string, seq: number): Promise<number> {
    return (await listKeys(`${releasesPrefix(env)}${pad(seq)}/`)).length;
  }

  const state: OpsState = {
    description: `s3://${bucket}/${base}`,
    shared: true,

    async acquireLock(env, request, now = Date.now()) {
      const lock = newLock(env, request, now);
      for (let attempt = 0; attempt < 5; attempt++) {
        const created = await put(lockKey(env), lock, { IfNoneMatch: '*' });
        if (created) return { lock, token: created };
        const existing = await getLock(env);
        if (!existing) continue; // deleted between our write and our read: try again
        // Replace a tombstone or an expired lock by overwriting exactly the version we read: of two
        // racers that both saw it free or expired, only one If-Match succeeds.
        if ('released' in existing) {
          const taken = await put(lockKey(env), lock, { IfMatch: existing.etag });
          if (taken) return { lock, token: taken };
          continue;
        }
        const reason = staleReason(existing.value, now);
        if (!reason) throw new LockHeldError(existing.value);
        const taken = await put(lockKey(env), lock, { IfMatch: existing.etag });
        if (taken) return { lock, token: taken, takenOver: { ...existing.value, reason } };
      }
      throw new Error(`could not take the lock ${state.description}/${env}/lock.json (contention); retry`);
    },

    async renewLock(env, held, now = Date.now()) {
      const next = renewed(held.lock, now);
      const etag = await put(lockKey(env), next, { IfMatch: held.token });
      if (etag) return { ...held, lock: next, token: etag };
      const current = await getLock(env);
      throw new LockLostError(current && !('released' in current) ? `the lock was taken over by ${current.value.owner} (${current.value.command}, since ${current.value.acquiredAt})` : 'the lock was released by someone else');
    },

    async releaseLock(env, held) {
      return Boolean(await put(lockKey(env), tombstone(held.lock, held.lock.owner), { IfMatch: held.token }));
    },

    async readLock(env) {
      const current = await getLock(env);
      return current && !('released' in current) ? current.value : undefined;
    },

    async forceReleaseLock(env) {
      // A live holder renews concurrently (a new ETag each beat): retry against the version just read.
      for (let attempt = 0; attempt < 5; attempt++) {
        const current = await getLock(env);
        if (!current || 'released' in current) return undefined;
        if (await put(lockKey(env), tombstone(current.value, 'ops lock release'), { IfMatch: current.etag })) return current.value;
      }
      throw new Error(`could not release the lock ${state.description}/${env}/lock.json (it changed at every attempt); retry`);
    },

    async listReleases(env) {
      const latest = await latestKeys(env);
      const records = await Promise.all([...latest.values()].map(async (k) => (await get<ReleaseRecord>(k))?.value));
      return records.filter((r): r is ReleaseRecord => Boolean(r)).sort((a, b) => a.seq - b.seq);
    },

    async getRelease(env, id) {
      const match = /^v(\d+)$/.exec(id);
      if (!match) return undefined;
      const seq = Number(match[1]);
      const rev = await revisions(env, seq);
      return (await get<ReleaseRecord>(rev ? `${releasesPrefix(env)}${pad(seq)}/${pad(rev)}.json` : `${releasesPrefix(env)}${pad(seq)}.json`))?.value;
    },

    async createRelease(env, fields) {
      let seq = Math.max(0, ...(await latestKeys(env)).keys()) + 1;
      for (let attempt = 0; attempt < 20; attempt++, seq++) {
        const record: ReleaseRecord = { ...fields, id: `v${seq}`, seq, env, artifact: fields.artifact ?? `v${seq}`, status: 'pending', startedAt: new Date().toISOString() };
        if (await put(`${releasesPrefix(env)}${pad(seq)}.json`, record, { IfNoneMatch: '*' })) return record;
      }
      throw new Error(`could not claim a release number in ${state.description}/${env} (contention); retry`);
    },

    async saveRelease(record) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const rev = (await revisions(record.env, record.seq)) + 1;
        if (await put(`${releasesPrefix(record.env)}${pad(record.seq)}/${pad(rev)}.json`, record, { IfNoneMatch: '*' })) return;
      }
      throw new Error(`could not record ${record.id} in ${state.description}/${record.env} (contention); retry`);
    },

    async appendAudit(entry) {
      const full = { at: new Date().toISOString(), ...entry } as AuditEntry;
      const objectKey = key('audit', `${full.at}_${randomBytes(4).toString('hex')}_${full.env}.json`);
      if (!(await put(objectKey, full, { IfNoneMatch: '*' }))) throw new Error(`audit entry ${objectKey} already exists`);
      return full;
    },

    async readAudit(filter = {}) {
      const prefix = `${key('audit')}/`;
      let keys = (await listKeys(prefix)).filter((k) => !filter.env || k.endsWith(`_${filter.env}.json`));
      if (filter.limit !== undefined) keys = keys.slice(-filter.limit);
      const entries = await Promise.all(keys.map(async (k) => (await get<AuditEntry>(k))?.value));
      return entries.filter((e): e is AuditEntry => Boolean(e));
    },
  };
  return state;
}

/** What a released lock leaves behind (see the key layout above). */
interface Tombstone {
  released: true;
  at: string;
  by: string;
  lockId?: string;
}

const status = (error: unknown): number | undefined => (error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined);
const isConflict = (error: unknown): boolean => status(error) === 412 || status(error) === 409;

function describe(error: unknown, what: string): Error {
  const code = error instanceof S3ServiceException ? `${error.name} (HTTP ${error.$metadata.httpStatusCode ?? '?'})` : (error as Error).name;
  return new Error(`ops state: ${what} failed: ${code}: ${(error as Error).message}`, { cause: error });
}
