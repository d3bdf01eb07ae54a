import { DirStore } from './storage-dir';
import { S3Store, s3OptionsFromEnv, type S3StoreOptions } from './storage-s3';
import { parseLocation, type BackupStore, type Location } from './storage';

/** The store for `dir:<path>` or `s3://bucket/prefix`; S3 settings default to the environment. */
export function openBackupStore(location: string | Location, s3?: S3StoreOptions): BackupStore {
  const loc = typeof location === 'string' ? parseLocation(location) : location;
  if (loc.kind === 'dir') return new DirStore(loc.path);
  return new S3Store(loc.bucket, loc.prefix, s3 ?? s3OptionsFromEnv());
}
