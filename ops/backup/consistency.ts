import { MongoServerError, type ClientSession, type Document, type MongoClient, type Timestamp } from 'mongodb';

/**
 * Whether a backup can read every collection at one point in time. MongoDB 5.0+ replica sets and
 * sharded clusters (Atlas) serve snapshot reads: one `snapshot: true` session pins every read to the
 * `atClusterTime` the server picks for the first one. A standalone server (and the local
 * mongo-java-server, which reports 5.0 but is no replica set) cannot, so each collection is read as it
 * is when its turn comes, and the manifest says so.
 */
export type Consistency = { mode: 'snapshot' } | { mode: 'per-collection'; reason: string };

/** Decides from the server's own `hello` and `buildInfo` answers. */
export function consistencyFor(hello: Document, buildInfo: Document): Consistency {
  const version = (buildInfo.versionArray as number[] | undefined) ?? String(buildInfo.version ?? '0').split('.').map(Number);
  const [major = 0] = version;
  if (major < 5) return { mode: 'per-collection', reason: `MongoDB ${String(buildInfo.version)} has no snapshot reads (needs 5.0 or later)` };
  const replicated = typeof hello.setName === 'string' || hello.msg === 'isdbgrid';
  if (!replicated) return { mode: 'per-collection', reason: `the server is not a replica set or sharded cluster (hello has no setName): reads cannot share one snapshot` };
  return { mode: 'snapshot' };
}

const COMMAND_NOT_FOUND = 59;

export async function detectConsistency(client: MongoClient): Promise<Consistency> {
  const admin = client.db('admin');
  // Servers that predate `hello` (and mongo-java-server) answer the legacy isMaster with the same fields.
  const hello = await admin.command({ hello: 1 }).catch((error: unknown) => {
    if (error instanceof MongoServerError && error.code === COMMAND_NOT_FOUND) return admin.command({ isMaster: 1 });
    throw error;
  });
  return consistencyFor(hello, await admin.command({ buildInfo: 1 }));
}

/**
 * The cluster time a snapshot session reads at, once its first read ran. The driver keeps it on the
 * session (`snapshotTime`, not in its public typings) to send it as `atClusterTime` on every later read.
 */
export function snapshotTimeOf(session: ClientSession): Timestamp | undefined {
  return (session as unknown as { snapshotTime?: Timestamp }).snapshotTime;
}

export const formatTimestamp = (ts: Timestamp): string => `${ts.getHighBits()}:${ts.getLowBits()}`;
