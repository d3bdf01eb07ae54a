import { BSON, MongoClient, type Db, type Document } from 'mongodb';
import { createHash } from 'node:crypto';
import { BackupError } from './errors';
import { Progress, type ProgressSink } from './progress';

export const { EJSON } = BSON;

/** Canonical EJSON keeps every BSON type (Int32 vs Double, Long, Decimal128, Date, Binary) stable. */
export const canonical = (doc: Document): string => EJSON.stringify(doc, { relaxed: false });

/** Read options that keep BSON types as wrappers, so the canonical form round-trips exactly. */
export const exactRead = { promoteValues: false, promoteBuffers: false, bsonRegExp: true } as const;

export async function connectMongo(uri: string): Promise<MongoClient> {
  // connectTimeoutMS also bounds the monitor's heartbeat: a server busy building indexes on a large
  // collection (the local server stalls for a minute per million documents) must not count as down.
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, connectTimeoutMS: 300_000, appName: 'switchboard-ops-backup' });
  try {
    await client.connect();
  } catch (error) {
    throw new BackupError('storage', `cannot reach MongoDB at ${redactUri(uri)}: ${(error as Error).message}`, 'check MONGODB_URI / --uri', { cause: error });
  }
  return client;
}

export function redactUri(uri: string): string {
  return uri.replace(/\/\/([^@/]*)@/, '//***@');
}

export interface CollectionInfo {
  name: string;
  options: Document;
}

/** User collections of a database (no views, no system.*), sorted by name. */
export async function listUserCollections(db: Db): Promise<CollectionInfo[]> {
  const infos = await db.listCollections({}, { nameOnly: false }).toArray();
  return infos
    .filter((c) => (c.type ?? 'collection') === 'collection' && !c.name.startsWith('system.'))
    .map((c) => ({ name: c.name, options: ('options' in c && c.options ? c.options : {}) as Document }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function collectionExists(db: Db, name: string): Promise<boolean> {
  return (await db.listCollections({ name }, { nameOnly: true }).toArray()).length > 0;
}

/** Index definitions as createIndexes takes them, without `_id_` and server-specific fields. */
export async function indexDefinitions(db: Db, collection: string): Promise<Document[]> {
  const indexes = await db.collection(collection).listIndexes().toArray();
  return indexes
    .filter((ix) => ix.name !== '_id_')
    .map((ix) => {
      const { v: _v, ns: _ns, ...rest } = ix;
      return rest;
    })
    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

/** Index definitions compared by content, independent of key order of the options. */
export function sameIndexes(a: Document[], b: Document[]): boolean {
  const norm = (list: Document[]) => list.map((ix) => JSON.stringify(sortKeysExceptKey(ix))).sort();
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

function sortKeysExceptKey(ix: Document): Document {
  const out: Document = {};
  for (const k of Object.keys(ix).sort()) out[k] = ix[k];
  return out;
}

/** Count and SHA-256 of a collection's canonical content, in `_id` order: what a manifest records. */
export async function contentDigest(
  db: Db, collection: string, report?: { sink: ProgressSink | undefined; expected: number },
): Promise<{ documents: number; contentBytes: number; contentSha256: string }> {
  const hash = createHash('sha256');
  const progress = report ? new Progress(report.sink, `verify ${collection}`, report.expected) : undefined;
  let documents = 0;
  let contentBytes = 0;
  for await (const doc of db.collection(collection).find({}, { sort: { _id: 1 }, batchSize: 1000, ...exactRead })) {
    const line = `${canonical(doc)}\n`;
    const bytes = Buffer.byteLength(line);
    hash.update(line);
    contentBytes += bytes;
    documents += 1;
    progress?.add(1, bytes);
  }
  progress?.done('re-read and hashed');
  return { documents, contentBytes, contentSha256: hash.digest('hex') };
}
