import type { Readable } from 'node:stream';
import { BackupError } from './errors';

/** Where backups live: `dir:<path>` or `s3://bucket/prefix`. */
export type Location = { kind: 'dir'; path: string } | { kind: 's3'; bucket: string; prefix: string };

export interface StoredObject {
  /** Key relative to the location, e.g. `<backupId>/manifest.json`. */
  key: string;
  size: number;
  lastModified: Date;
}

/**
 * The storage a backup is written to. Writes of large objects stream; an object only appears
 * under its final key once it is complete (dir: rename; S3: multipart completion).
 */
export interface BackupStore {
  readonly description: string;
  /** Fails with missing_bucket / bad_credentials / storage before any long step starts. */
  check(): Promise<void>;
  put(key: string, body: Readable, contentType: string): Promise<void>;
  putText(key: string, text: string): Promise<void>;
  /** A stream of the object's bytes; not_found when it does not exist. */
  get(key: string): Promise<Readable>;
  getText(key: string): Promise<string | undefined>;
  list(): Promise<StoredObject[]>;
  delete(keys: string[]): Promise<void>;
}

export function parseLocation(value: string | undefined): Location {
  if (!value) {
    throw new BackupError('usage', 'no backup location: pass --to/--from dir:<path> or s3://bucket/prefix, or set BACKUP_LOCATION');
  }
  if (value.startsWith('dir:')) {
    const path = value.slice(4);
    if (!path) throw new BackupError('usage', `"${value}": dir: needs a path, e.g. dir:/var/backups/switchboard`);
    return { kind: 'dir', path };
  }
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(value);
  if (m?.[1]) return { kind: 's3', bucket: m[1], prefix: (m[2] ?? '').replace(/\/+$/, '') };
  throw new BackupError('usage', `"${value}" is not a backup location; use dir:<path> or s3://bucket/prefix`);
}

export function formatLocation(location: Location): string {
  return location.kind === 'dir' ? `dir:${location.path}` : `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`;
}
