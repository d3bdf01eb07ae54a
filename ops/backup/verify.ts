import { randomBytes } from 'node:crypto';
import type { MongoClient } from 'mongodb';
import { writeAudit } from './audit';
import { readManifest } from './catalog';
import { BackupError, describeError } from './errors';
import { VERIFICATION_NAME, type VerificationRecord } from './manifest';
import { contentDigest, indexDefinitions, sameIndexes } from './mongo';
import type { ProgressSink } from './progress';
import { runRestore } from './restore';
import type { BackupStore } from './storage';

export interface VerifyOptions {
  client: MongoClient;
  store: BackupStore;
  backupId: string;
  liveDatabase: string;
  progress?: ProgressSink;
}

/**
 * Proves a backup restores: restores it into a scratch database (checksums checked while reading),
 * re-reads what the database stored and compares counts, content hashes and indexes with the
 * manifest, drops the scratch database and stores the result next to the backup.
 */
export async function runVerify(options: VerifyOptions): Promise<VerificationRecord> {
  const started = Date.now();
  const scratchDatabase = `verify_${options.backupId.slice(0, 15)}_${randomBytes(3).toString('hex')}`;
  const target = { backupId: options.backupId, location: options.store.description, database: scratchDatabase };
  let record: VerificationRecord;
  try {
    const manifest = await readManifest(options.store, options.backupId);
    const restored = await runRestore({
      client: options.client, store: options.store, backupId: options.backupId, into: scratchDatabase,
      liveDatabase: options.liveDatabase, progress: options.progress, auditAction: 'backup.verify.restore',
    });
    const db = options.client.db(scratchDatabase);
    const collections: VerificationRecord['collections'] = [];
    for (const entry of manifest.collections) {
      const digest = await contentDigest(db, entry.name, { sink: options.progress, expected: entry.documents });
      const indexes = await indexDefinitions(db, entry.name);
      collections.push({
        name: entry.name,
        expected: entry.documents,
        restored: digest.documents,
        hashMatches: digest.contentSha256 === entry.contentSha256,
        indexesMatch: sameIndexes(indexes, entry.indexes),
      });
    }
    const ok = restored.ok && collections.every((c) => c.expected === c.restored && c.hashMatches && c.indexesMatch);
    record = { backupId: options.backupId, verifiedAt: new Date().toISOString(), ok, scratchDatabase, durationMs: Date.now() - started, collections };
  } catch (error) {
    if (error instanceof BackupError && error.code === 'not_found') {
      await writeAudit({ action: 'backup.verify', target, outcome: 'failure', details: { error: describeError(error) } });
      throw error;
    }
    record = {
      backupId: options.backupId, verifiedAt: new Date().toISOString(), ok: false, scratchDatabase,
      durationMs: Date.now() - started, collections: [], error: describeError(error).message,
    };
  } finally {
    await options.client.db(scratchDatabase).dropDatabase().catch(() => undefined);
  }
  await options.store.putText(`${options.backupId}/${VERIFICATION_NAME}`, `${JSON.stringify(record, null, 2)}\n`);
  await writeAudit({ action: 'backup.verify', target, outcome: record.ok ? 'success' : 'failure', details: { durationMs: record.durationMs, collections: record.collections, error: record.error } });
  return record;
}
