import type { Document } from 'mongodb';
import { BackupError } from './errors';

export const MANIFEST_FORMAT_VERSION = 1;
export const MANIFEST_NAME = 'manifest.json';
export const VERIFICATION_NAME = 'verification.json';
export const TOOL_VERSION = 'switchboard-ops-backup/1.0.0';

export type Compression = 'gzip' | 'zstd' | 'none';

export interface CollectionEntry {
  name: string;
  /** Object name of the archive inside the backup, e.g. `messages.ejson.gz`. */
  file: string;
  documents: number;
  /** Bytes of canonical EJSON lines (uncompressed content). */
  contentBytes: number;
  /** SHA-256 (hex) over `EJSON.stringify(doc, {relaxed: false}) + "\n"` for every document in `_id` order. */
  contentSha256: string;
  /** Bytes and SHA-256 of the archive object as stored (after compression). */
  archiveBytes: number;
  archiveSha256: string;
  /** `listCollections` options (validators, collation...), passed back to `createCollection`. */
  options: Document;
  /** Index definitions from `listIndexes`, without `_id_` and without `v`/`ns`. */
  indexes: Document[];
}

export interface Manifest {
  formatVersion: number;
  tool: string;
  id: string;
  /** Why it was taken: `manual`, `scheduled`, `safety-before-restore`, `bench`... */
  reason: string;
  startedAt: string;
  finishedAt: string;
  source: { database: string; host: string };
  compression: Compression;
  /**
   * `snapshot`: every collection was read at `atClusterTime` (`<seconds>:<increment>`, one snapshot
   * session). `per-collection`: each collection as it was when read; `consistencyReason` says why.
   * Absent in manifests written before this was recorded (per-collection).
   */
  consistency?: 'snapshot' | 'per-collection';
  atClusterTime?: string;
  consistencyReason?: string;
  collections: CollectionEntry[];
  totals: { documents: number; contentBytes: number; archiveBytes: number };
}

export interface VerificationRecord {
  backupId: string;
  verifiedAt: string;
  ok: boolean;
  scratchDatabase: string;
  durationMs: number;
  collections: { name: string; expected: number; restored: number; hashMatches: boolean; indexesMatch: boolean }[];
  error?: string;
}

/** Parses and checks a manifest, so a truncated or foreign file fails with a clear message. */
export function parseManifest(text: string, where: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BackupError('corrupted', `manifest ${where} is not valid JSON`, undefined, { cause: error });
  }
  const m = value as Partial<Manifest>;
  if (typeof m !== 'object' || m === null || m.formatVersion === undefined || !Array.isArray(m.collections) || typeof m.id !== 'string') {
    throw new BackupError('corrupted', `manifest ${where} is not a backup manifest`);
  }
  if (m.formatVersion > MANIFEST_FORMAT_VERSION) {
    throw new BackupError('unsupported', `manifest ${where} has format version ${m.formatVersion}; this tool reads up to ${MANIFEST_FORMAT_VERSION}`, 'upgrade the ops toolkit');
  }
  return m as Manifest;
}

export function archiveFileName(collection: string, compression: Compression): string {
  const ext = compression === 'gzip' ? '.gz' : compression === 'zstd' ? '.zst' : '';
  return `${collection}.ejson${ext}`;
}
