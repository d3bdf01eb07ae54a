import { randomBytes, createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClientSession, Db, MongoClient } from 'mongodb';
import { writeAudit } from './audit';
import { compressor, HashingStream } from './codec';
import { detectConsistency, formatTimestamp, snapshotTimeOf } from './consistency';
import { BackupError, describeError } from './errors';
import {
  archiveFileName, MANIFEST_FORMAT_VERSION, MANIFEST_NAME, TOOL_VERSION,
  type CollectionEntry, type Compression, type Manifest,
} from './manifest';
import { canonical, exactRead, indexDefinitions, listUserCollections, type CollectionInfo } from './mongo';
import { Progress, formatBytes, type ProgressSink } from './progress';
import type { BackupStore } from './storage';

export interface BackupOptions {
  client: MongoClient;
  database: string;
  store: BackupStore;
  /** Only these collections (all user collections when omitted). */
  collections?: string[];
  compression?: Compression;
  reason?: string;
  progress?: ProgressSink;
  /** Test hook: called after each collection's archive is stored, before the manifest is written. */
  afterCollection?: (name: string) => Promise<void> | void;
  /** The clock the backup's id, start and finish times come from (tests inject theirs). */
  now?: () => Date;
}

/** `20261122T210332123Z-<db>-<4 hex>`: sorts by time, unique per run. */
export function newBackupId(database: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${database}-${randomBytes(2).toString('hex')}`;
}

const LINE_BATCH_BYTES = 256 * 1024;

/**
 * Streams each collection in `_id` order as canonical EJSON lines through compression into the
 * store, then writes the manifest. The manifest is the completion marker: a backup without one
 * was interrupted and is never listed as complete.
 */
export async function runBackup(options: BackupOptions): Promise<Manifest> {
  const compression = options.compression ?? 'gzip';
  const db = options.client.db(options.database);
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const id = newBackupId(options.database, startedAt);
  const target = { backupId: id, location: options.store.description, database: options.database };
  try {
    compressor(compression).destroy(); // fails early on an unsupported compression
    await options.store.check();
    const selected = await selectCollections(db, options.collections);
    const consistency = await detectConsistency(options.client);
    options.progress?.write(consistency.mode === 'snapshot'
      ? 'consistency: one snapshot for every collection (atClusterTime of the first read)'
      : `consistency: per collection, not one point in time: ${consistency.reason}`);
    const session = consistency.mode === 'snapshot' ? options.client.startSession({ snapshot: true }) : undefined;
    const entries: CollectionEntry[] = [];
    let atClusterTime: string | undefined;
    try {
      for (const info of selected) {
        entries.push(await backupCollection(db, info, id, compression, options, session));
        await options.afterCollection?.(info.name);
      }
      const ts = session && snapshotTimeOf(session);
      atClusterTime = ts ? formatTimestamp(ts) : undefined;
    } finally {
      await session?.endSession();
    }
    const manifest: Manifest = {
      formatVersion: MANIFEST_FORMAT_VERSION,
      tool: TOOL_VERSION,
      id,
      reason: options.reason ?? 'manual',
      startedAt: startedAt.toISOString(),
      finishedAt: now().toISOString(),
      source: { database: options.database, host: hostsOf(options.client) },
      compression,
      ...(consistency.mode === 'snapshot'
        ? { consistency: 'snapshot' as const, ...(atClusterTime ? { atClusterTime } : { consistencyReason: 'snapshot session; no collection had a document to pin the time' }) }
        : { consistency: 'per-collection' as const, consistencyReason: consistency.reason }),
      collections: entries,
      totals: {
        documents: entries.reduce((n, e) => n + e.documents, 0),
        contentBytes: entries.reduce((n, e) => n + e.contentBytes, 0),
        archiveBytes: entries.reduce((n, e) => n + e.archiveBytes, 0),
      },
    };
    await options.store.putText(`${id}/${MANIFEST_NAME}`, `${JSON.stringify(manifest, null, 2)}\n`);
    await writeAudit({ action: 'backup', target, outcome: 'success', details: { reason: manifest.reason, documents: manifest.totals.documents, archiveBytes: manifest.totals.archiveBytes } });
    return manifest;
  } catch (error) {
    await writeAudit({ action: 'backup', target, outcome: 'failure', details: { reason: options.reason ?? 'manual', error: describeError(error) } });
    throw error;
  }
}

async function selectCollections(db: Db, names: string[] | undefined): Promise<CollectionInfo[]> {
  const all = await listUserCollections(db);
  if (!names?.length) return all;
  const missing = names.filter((n) => !all.some((c) => c.name === n));
  if (missing.length) {
    throw new BackupError('not_found', `database ${db.databaseName} has no collection ${missing.join(', ')}`, `it has: ${all.map((c) => c.name).join(', ') || '(none)'}`);
  }
  return all.filter((c) => names.includes(c.name));
}

async function backupCollection(db: Db, info: CollectionInfo, id: string, compression: Compression, options: BackupOptions, session?: ClientSession): Promise<CollectionEntry> {
  const collection = db.collection(info.name);
  const indexes = await indexDefinitions(db, info.name);
  const estimate = await collection.estimatedDocumentCount();
  const progress = new Progress(options.progress, `backup ${info.name}`, estimate);
  const content = createHash('sha256');
  let documents = 0;
  let contentBytes = 0;

  async function* lines(): AsyncGenerator<Buffer> {
    let batch: string[] = [];
    let batchBytes = 0;
    let batchDocs = 0;
    const cursor = collection.find({}, { sort: { _id: 1 }, batchSize: 1000, ...exactRead, ...(session ? { session } : {}) });
    try {
      for await (const doc of cursor) {
        const line = `${canonical(doc)}\n`;
        batch.push(line);
        batchBytes += line.length;
        batchDocs += 1;
        if (batchBytes >= LINE_BATCH_BYTES) {
          yield flush();
        }
      }
      if (batch.length) yield flush();
    } finally {
      await cursor.close();
    }
    function flush(): Buffer {
      const buf = Buffer.from(batch.join(''), 'utf8');
      content.update(buf);
      documents += batchDocs;
      contentBytes += buf.length;
      progress.add(batchDocs, buf.length);
      batch = [];
      batchBytes = 0;
      batchDocs = 0;
      return buf;
    }
  }

  const file = archiveFileName(info.name, compression);
  const archive = new HashingStream();
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  const produce = pipeline(Readable.from(lines(), { objectMode: false, highWaterMark: 4 }), compressor(compression), archive, body);
  const upload = options.store.put(`${id}/${file}`, body, compression === 'none' ? 'application/x-ndjson' : 'application/octet-stream')
    .catch((error: unknown) => {
      body.destroy(error as Error); // stops the reading side, which would otherwise wait on backpressure forever
      throw error;
    });
  const [produced, uploaded] = await Promise.allSettled([produce, upload]);
  if (produced.status === 'rejected') {
    body.destroy();
    throw new BackupError('storage', `backup of ${info.name} failed while reading: ${(produced.reason as Error).message}`, undefined, { cause: produced.reason });
  }
  if (uploaded.status === 'rejected') throw uploaded.reason;
  progress.done(`→ ${formatBytes(archive.bytes)} ${compression}`);
  return {
    name: info.name,
    file,
    documents,
    contentBytes,
    contentSha256: content.digest('hex'),
    archiveBytes: archive.bytes,
    archiveSha256: archive.digest(),
    options: info.options,
    indexes,
  };
}

function hostsOf(client: MongoClient): string {
  return client.options.hosts.map((h) => h.toString()).join(',');
}
