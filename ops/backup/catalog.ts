import { BackupError } from './errors';
import { MANIFEST_NAME, parseManifest, VERIFICATION_NAME, type Manifest, type VerificationRecord } from './manifest';
import type { BackupStore } from './storage';

export interface BackupEntry {
  id: string;
  /** complete = manifest present; incomplete = archives without a manifest (interrupted or in progress). */
  status: 'complete' | 'incomplete';
  startedAt: string;
  finishedAt?: string;
  reason?: string;
  database?: string;
  /** Bytes stored for this backup (all objects). */
  bytes: number;
  documents?: number;
  collections?: Record<string, number>;
  verification: 'verified' | 'failed' | 'unverified';
  verifiedAt?: string;
  /** Newest modification time of its objects (used to age out incomplete ones). */
  lastModified: string;
  keys: string[];
}

/** Every backup at a location, newest first, with its verification status. */
export async function listBackups(store: BackupStore): Promise<BackupEntry[]> {
  const objects = await store.list();
  const groups = new Map<string, { keys: string[]; bytes: number; lastModified: Date }>();
  for (const o of objects) {
    const slash = o.key.indexOf('/');
    if (slash <= 0) continue;
    const id = o.key.slice(0, slash);
    const g = groups.get(id) ?? { keys: [], bytes: 0, lastModified: new Date(0) };
    g.keys.push(o.key);
    g.bytes += o.size;
    if (o.lastModified > g.lastModified) g.lastModified = o.lastModified;
    groups.set(id, g);
  }
  const entries: BackupEntry[] = [];
  for (const [id, g] of groups) {
    const base = { id, bytes: g.bytes, keys: g.keys, lastModified: g.lastModified.toISOString() };
    if (!g.keys.includes(`${id}/${MANIFEST_NAME}`)) {
      entries.push({ ...base, status: 'incomplete', startedAt: startedAtFromId(id) ?? g.lastModified.toISOString(), verification: 'unverified' });
      continue;
    }
    const manifest = await readManifest(store, id);
    const verification = await readVerification(store, id);
    entries.push({
      ...base,
      status: 'complete',
      startedAt: manifest.startedAt,
      finishedAt: manifest.finishedAt,
      reason: manifest.reason,
      database: manifest.source.database,
      documents: manifest.totals.documents,
      collections: Object.fromEntries(manifest.collections.map((c) => [c.name, c.documents])),
      verification: verification ? (verification.ok ? 'verified' : 'failed') : 'unverified',
      ...(verification ? { verifiedAt: verification.verifiedAt } : {}),
    });
  }
  return entries.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : b.id.localeCompare(a.id)));
}

export async function readManifest(store: BackupStore, id: string): Promise<Manifest> {
  const text = await store.getText(`${id}/${MANIFEST_NAME}`);
  if (text === undefined) {
    const any = (await store.list()).some((o) => o.key.startsWith(`${id}/`));
    if (any) {
      throw new BackupError('not_found', `backup ${id} at ${store.description} is incomplete (no manifest): it was interrupted or is still running`, 'use `ops backup list` to pick a complete one');
    }
    throw new BackupError('not_found', `no backup ${id} at ${store.description}`, 'use `ops backup list` to see the backups there');
  }
  return parseManifest(text, `${store.description}/${id}/${MANIFEST_NAME}`);
}

export async function readVerification(store: BackupStore, id: string): Promise<VerificationRecord | undefined> {
  const text = await store.getText(`${id}/${VERIFICATION_NAME}`);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as VerificationRecord;
  } catch {
    return undefined;
  }
}

/** `latest` (or undefined) → newest complete backup; otherwise the id as given. */
export async function resolveBackupId(store: BackupStore, ref: string | undefined): Promise<string> {
  if (ref && ref !== 'latest') return ref;
  const latest = (await listBackups(store)).find((b) => b.status === 'complete');
  if (!latest) throw new BackupError('not_found', `no complete backup at ${store.description}`, 'take one with `ops backup`');
  return latest.id;
}

function startedAtFromId(id: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-/.exec(id);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z` : undefined;
}
