import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MongoBulkWriteError, type Db, type Document, type MongoClient } from 'mongodb';
import { writeAudit } from './audit';
import { runBackup } from './backup';
import { readManifest } from './catalog';
import { decompressor, HashingStream, LineSplitter } from './codec';
import { BackupError, describeError } from './errors';
import { collectionNames } from '../../core/src/store/mongo-store';
import type { ConversationDoc } from '../../core/src/store/documents';
import { forwardOnlyCollections, reapplyDepartures, startForwardOnlyMerge, type ForwardOnlyMerge } from './forward-only';
import { liveStateCollections, liveStateKept } from './live-state';
import type { CollectionEntry, Manifest } from './manifest';
import { collectionExists, EJSON, listUserCollections } from './mongo';
import { formatDuration, Progress, type ProgressSink } from './progress';
import type { BackupStore } from './storage';

export interface RestoreOptions {
  client: MongoClient;
  store: BackupStore;
  backupId: string;
  /** Target database; default: a new scratch database `restore_<...>`. */
  into?: string;
  /** The database the core serves; restoring into it needs drop + yes and takes a safety backup. */
  liveDatabase: string;
  collections?: string[];
  drop?: boolean;
  yes?: boolean;
  progress?: ProgressSink;
  /** Audit action name (verify uses its own). */
  auditAction?: string;
}

export interface CollectionRestoreResult {
  name: string;
  expected: number;
  restored: number;
  failed: number;
  firstError?: string;
  /** Forward-only state (forward-only.ts): the target's documents newer than the backup's, kept. */
  kept?: number;
  /** Memberships: restored ones deleted again because a departure recorded after them ended them (forward-only.ts). */
  departed?: number;
  /** The running fleet's own state (live-state.ts): the target's documents, kept; the backup's were not written. */
  live?: number;
}

export interface RestoreResult {
  backupId: string;
  database: string;
  scratch: boolean;
  safetyBackupId?: string;
  ok: boolean;
  durationMs: number;
  collections: CollectionRestoreResult[];
}

const INSERT_BATCH_DOCS = 1000;
const INSERT_BATCH_BYTES = 4 * 1024 * 1024;
const INSERTS_IN_FLIGHT = 2;

/**
 * Restores a backup: checks every selected archive's SHA-256 before touching the target, then
 * streams documents in (re-checking content hashes while reading), then builds the indexes.
 */
export async function runRestore(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const scratch = !options.into;
  const database = options.into ?? `restore_${options.backupId.slice(0, 15)}_${randomBytes(3).toString('hex')}`;
  const target = { backupId: options.backupId, location: options.store.description, database };
  const action = options.auditAction ?? 'restore';
  let safetyBackupId: string | undefined;
  try {
    const manifest = await readManifest(options.store, options.backupId);
    const entries = selectEntries(manifest, options.collections);
    const db = options.client.db(database);
    await guardTarget(db, entries, options);
    await precheckArchives(options.store, manifest, entries, options.progress);
    if (database === options.liveDatabase) {
      options.progress?.write(`[restore] taking a safety backup of live database ${database} first`);
      const safety = await runBackup({ client: options.client, database, store: options.store, reason: 'safety-before-restore', progress: options.progress });
      safetyBackupId = safety.id;
      options.progress?.write(`[restore] safety backup ${safety.id} written to ${options.store.description}`);
    }
    const results: CollectionRestoreResult[] = [];
    try {
      for (const entry of entries) results.push(await restoreCollection(db, options.store, manifest, entry, options));
      const memberships = results.find((r) => r.name === collectionNames.memberships);
      // Into a database that held data (--drop): members who left or were removed after the backup stay gone.
      if (options.drop && memberships) {
        const departed = await reapplyDepartures(db);
        if (departed.length) {
          memberships.departed = departed.length;
          options.progress?.write(`[restore ${collectionNames.memberships}] deleted ${departed.length} restored memberships ended after the backup (removed members stay removed)`);
        }
      }
      // Into the database the core serves: seqs go back to the backup's point, so each restored
      // conversation gets a new restore generation, and no running instance keeps using what it
      // remembered about the conversation's burned seqs (core/src/store/seqs-repository.ts).
      if (database === options.liveDatabase && results.some((r) => r.name === collectionNames.conversations)) {
        const generation = `${options.backupId}:${randomBytes(6).toString('hex')}`;
        const marked = await markRestored(db, generation);
        options.progress?.write(`[restore ${collectionNames.conversations}] marked ${marked} conversations with restore generation ${generation} (running instances forget what they remembered about their seqs)`);
      }
    } catch (error) {
      if (scratch) await db.dropDatabase().catch(() => undefined);
      if (!safetyBackupId) throw error;
      const { message } = describeError(error);
      throw new BackupError(error instanceof BackupError ? error.code : 'restore_failed',
        `${message}; the live database ${database} is only partly restored, its previous data is in safety backup ${safetyBackupId}`,
        `ops restore ${safetyBackupId} --into ${database} --drop --yes (puts the previous data back)`, { cause: error });
    }
    const ok = results.every((r) => r.failed === 0 && (r.restored === r.expected || r.live !== undefined));
    const result: RestoreResult = { backupId: options.backupId, database, scratch, ...(safetyBackupId ? { safetyBackupId } : {}), ok, durationMs: Date.now() - started, collections: results };
    await writeAudit({ action, target, outcome: ok ? 'success' : 'failure', details: { safetyBackupId, durationMs: result.durationMs, collections: results } });
    return result;
  } catch (error) {
    const refused = error instanceof BackupError && (error.code === 'refused' || error.code === 'target_not_empty');
    await writeAudit({ action, target, outcome: refused ? 'refused' : 'failure', details: { safetyBackupId, error: describeError(error) } });
    throw error;
  }
}

/** Gives every conversation of the database this restore generation (ConversationDoc.restoreGeneration); returns how many. */
async function markRestored(db: Db, generation: string): Promise<number> {
  const result = await db.collection<ConversationDoc>(collectionNames.conversations).updateMany({}, { $set: { restoreGeneration: generation } });
  return result.modifiedCount;
}

function selectEntries(manifest: Manifest, names: string[] | undefined): CollectionEntry[] {
  if (!names?.length) return manifest.collections;
  const missing = names.filter((n) => !manifest.collections.some((c) => c.name === n));
  if (missing.length) {
    throw new BackupError('not_found', `backup ${manifest.id} has no collection ${missing.join(', ')}`, `it has: ${manifest.collections.map((c) => c.name).join(', ')}`);
  }
  return manifest.collections.filter((c) => names.includes(c.name));
}

/** Refuses the live database without --drop --yes, and any target whose collections hold data without --drop. */
async function guardTarget(db: Db, entries: CollectionEntry[], options: RestoreOptions): Promise<void> {
  const live = db.databaseName === options.liveDatabase;
  if (live && !(options.drop && options.yes)) {
    throw new BackupError('refused', `refusing to restore into the live database ${db.databaseName} without --drop --yes`,
      `restore into a scratch database (omit --into), or run: ops restore ${options.backupId} --into ${db.databaseName} --drop --yes (a safety backup is taken first)`);
  }
  if (options.drop) return;
  const existing = new Set((await listUserCollections(db)).map((c) => c.name));
  const nonEmpty: string[] = [];
  for (const e of entries) {
    if (existing.has(e.name) && (await db.collection(e.name).findOne({}, { projection: { _id: 1 } }))) nonEmpty.push(e.name);
  }
  if (nonEmpty.length) {
    throw new BackupError('target_not_empty', `target database ${db.databaseName} already has data in ${nonEmpty.join(', ')}`,
      'restore into a new database (omit --into), or pass --drop to replace those collections');
  }
}

/** Reads every selected archive once and compares size and SHA-256 with the manifest. */
async function precheckArchives(store: BackupStore, manifest: Manifest, entries: CollectionEntry[], sink: ProgressSink | undefined): Promise<void> {
  for (const entry of entries) {
    const progress = new Progress(sink, `check ${entry.name}`, undefined, 1000, entry.archiveBytes);
    const hashing = new HashingStream();
    await pipeline(await store.get(`${manifest.id}/${entry.file}`), hashing, new Writable({ write: (chunk: Buffer, _e, cb) => { progress.add(0, chunk.length); cb(); } }));
    if (hashing.bytes !== entry.archiveBytes || hashing.digest() !== entry.archiveSha256) {
      throw new BackupError('corrupted', `archive of collection ${entry.name} is corrupted (${entry.file}: ${hashing.bytes} bytes, SHA-256 differs from the manifest); nothing was restored`,
        'pick another backup (`ops backup list`)');
    }
    progress.done('sha256 ok');
  }
}

async function restoreCollection(db: Db, store: BackupStore, manifest: Manifest, entry: CollectionEntry, options: RestoreOptions): Promise<CollectionRestoreResult> {
  const live = options.drop ? await liveStateKept(db, entry.name) : undefined;
  if (live !== undefined) {
    options.progress?.write(`[restore ${entry.name}] the target's ${liveStateCollections[entry.name]} are kept (${live}): the running fleet's own state; the backup's ${entry.documents} not written`);
    return { name: entry.name, expected: entry.documents, restored: 0, failed: 0, live };
  }
  // Only --drop lets the target hold data; forward-only state held there is merged into, never dropped.
  const merge = options.drop ? await startForwardOnlyMerge(db, entry.name) : undefined;
  if (merge) options.progress?.write(`[restore ${entry.name}] the target holds ${forwardOnlyCollections[entry.name]!.label}: merging the backup's in, each only ever moved forward`);
  else if (options.drop) await db.collection(entry.name).drop().catch(() => undefined);
  if (!(await collectionExists(db, entry.name))) await db.createCollection(entry.name, entry.options);
  const collection = db.collection(entry.name);
  const progress = new Progress(options.progress, `restore ${entry.name}`, entry.documents);
  const archive = new HashingStream();
  const content = new HashingStream();
  const result: CollectionRestoreResult = { name: entry.name, expected: entry.documents, restored: 0, failed: 0 };
  const inFlight: Promise<void>[] = [];
  let batch: Document[] = [];
  let batchBytes = 0;

  const write = (docs: Document[]): Promise<number> => (merge
    ? merge.write(docs).then(() => docs.length)
    : collection.insertMany(docs, { ordered: false }).then((r) => r.insertedCount));
  const insert = (docs: Document[], bytes: number): Promise<void> =>
    write(docs).then(
      (written) => { result.restored += written; progress.add(docs.length, bytes); },
      (error: unknown) => {
        // One write error per rejected document (the reply's insert count is not trusted: the local
        // server reports the batch size); anything else (network) counts the whole batch as failed.
        const errors = error instanceof MongoBulkWriteError ? [error.writeErrors].flat().length : docs.length;
        const failed = Math.min(Math.max(errors, 1), docs.length);
        result.restored += docs.length - failed;
        result.failed += failed;
        result.firstError ??= (error as Error).message;
        progress.add(docs.length, bytes);
      },
    );
  const flush = async (): Promise<void> => {
    if (!batch.length) return;
    inFlight.push(insert(batch, batchBytes));
    batch = [];
    batchBytes = 0;
    if (inFlight.length >= INSERTS_IN_FLIGHT) await inFlight.shift();
  };
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 64,
    write(line: string, _e, cb) {
      let doc: Document;
      try {
        doc = EJSON.parse(line, { relaxed: false }) as Document;
      } catch (error) {
        cb(new BackupError('corrupted', `archive of collection ${entry.name} has an unreadable document: ${(error as Error).message}`));
        return;
      }
      batch.push(doc);
      batchBytes += Buffer.byteLength(line) + 1;
      if (batch.length >= INSERT_BATCH_DOCS || batchBytes >= INSERT_BATCH_BYTES) flush().then(() => cb(), cb);
      else cb();
    },
    final(cb) {
      flush().then(() => Promise.all(inFlight.splice(0))).then(() => cb(), cb);
    },
  });
  try {
    await pipeline(await store.get(`${manifest.id}/${entry.file}`), archive, decompressor(manifest.compression), content, new LineSplitter(), sink);
  } catch (error) {
    await Promise.allSettled(inFlight);
    if (error instanceof BackupError) throw error;
    throw new BackupError('corrupted', `archive of collection ${entry.name} could not be read: ${(error as Error).message}`, undefined, { cause: error });
  }
  if (archive.digest() !== entry.archiveSha256 || content.digest() !== entry.contentSha256 || content.bytes !== entry.contentBytes) {
    throw new BackupError('corrupted', `archive of collection ${entry.name} does not match the manifest checksums`, 'pick another backup (`ops backup list`)');
  }
  if (merge) await checkMerge(merge, entry, result);
  else {
    // Cross-check with what the server holds (the target collection was empty or dropped).
    const stored = await collection.countDocuments();
    if (stored !== result.restored) {
      result.firstError ??= `the server holds ${stored} documents, the restore counted ${result.restored}`;
      result.restored = stored;
      result.failed = Math.max(result.failed, entry.documents - stored);
    }
  }
  progress.done(`(${result.restored}/${entry.documents} restored${result.failed ? `, ${result.failed} FAILED` : ''}${result.kept ? `, kept ${result.kept} newer` : ''})`);
  if (entry.indexes.length) {
    const started = Date.now();
    options.progress?.write(`[restore ${entry.name}] building ${entry.indexes.length} indexes (${entry.indexes.map((ix) => ix.name).join(', ')}) ...`);
    await collection.createIndexes(entry.indexes.map((ix) => ({ ...ix, key: ix.key as Document, name: String(ix.name) })));
    options.progress?.write(`[restore ${entry.name}] indexes built in ${formatDuration((Date.now() - started) / 1000)}`);
  }
  return result;
}

/** Cross-check of a merge with what the server holds: every revocation of the backup and of the target holds. */
async function checkMerge(merge: ForwardOnlyMerge, entry: CollectionEntry, result: CollectionRestoreResult): Promise<void> {
  const { kept, missing, stored } = await merge.finish();
  result.kept = kept;
  if (!missing.length) return;
  result.firstError ??= `${missing.length} ${forwardOnlyCollections[entry.name]!.label} do not hold after the merge (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}; ${stored} stored)`;
  result.failed = Math.max(result.failed, missing.length);
  result.restored = Math.max(0, Math.min(result.restored, entry.documents - result.failed));
}
