import fs from 'node:fs';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { consistencyFor, detectConsistency } from '../consistency';
import { connectTestMongo, runCommand, tempDir, uniqueDb } from './helpers';

/**
 * Which servers a backup can read at one point in time. The hello/buildInfo answers below are the
 * documented shapes of a MongoDB 7 replica set member (as Atlas answers), a 4.4 replica set and a
 * standalone; the local mongo-java-server is asked for real.
 */
const replicaSetHello = { isWritablePrimary: true, topologyVersion: { counter: 6 }, hosts: ['atlas-abc-shard-00-00.x.mongodb.net:27017'], setName: 'atlas-abc-shard-0', setVersion: 7, primary: 'atlas-abc-shard-00-00.x.mongodb.net:27017', me: 'atlas-abc-shard-00-00.x.mongodb.net:27017', maxWireVersion: 21, ok: 1 };
const standaloneHello = { isWritablePrimary: true, maxBsonObjectSize: 16777216, maxWireVersion: 21, ok: 1 };
const mongosHello = { isWritablePrimary: true, msg: 'isdbgrid', maxWireVersion: 21, ok: 1 };
const build = (version: string) => ({ version, versionArray: [...version.split('.').map(Number), 0], ok: 1 });

describe('consistency decision', () => {
  it('uses one snapshot on MongoDB ≥ 5.0 replica sets and sharded clusters only', () => {
    expect(consistencyFor(replicaSetHello, build('7.0.12'))).toEqual({ mode: 'snapshot' });
    expect(consistencyFor(mongosHello, build('8.0.4'))).toEqual({ mode: 'snapshot' });
    expect(consistencyFor(replicaSetHello, build('4.4.29'))).toEqual({ mode: 'per-collection', reason: 'MongoDB 4.4.29 has no snapshot reads (needs 5.0 or later)' });
    expect(consistencyFor(standaloneHello, build('7.0.12'))).toMatchObject({ mode: 'per-collection', reason: expect.stringContaining('not a replica set') });
  });
});

describe('on the local server (mongo-java-server: no snapshot reads)', () => {
  let client: MongoClient;
  beforeAll(async () => {
    client = await connectTestMongo();
  });
  afterAll(() => client.close());

  it('records consistency per-collection with the reason, in the manifest and in ops backup output', async () => {
    expect(await detectConsistency(client)).toMatchObject({ mode: 'per-collection', reason: expect.stringContaining('hello has no setName') });
    const db = uniqueDb('consistency');
    await client.db(db).collection('messages').insertMany([{ text: 'a' }, { text: 'b' }]);
    const dir = tempDir('consistency');
    try {
      const run = await runCommand('backup', ['--to', `dir:${dir}`, '--db', db], { MONGODB_URI: process.env.TEST_MONGODB_URI, OPS_STATE_DIR: dir });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('consistency: per collection, not one point in time: the server is not a replica set');
      expect(run.stdout).toContain('consistency: per collection (the server is not a replica set');
      const [id] = fs.readdirSync(dir).filter((f) => f.includes(db));
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, id!, 'manifest.json'), 'utf8')) as Record<string, unknown>;
      expect(manifest).toMatchObject({ consistency: 'per-collection', consistencyReason: expect.stringContaining('hello has no setName') });
      expect(manifest.atClusterTime).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await client.db(db).dropDatabase();
    }
  });
});
