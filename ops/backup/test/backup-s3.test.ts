import { CreateBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import type { MongoClient } from 'mongodb';
import { startMinio, type RunningMinio } from '../../services/minio';
import { runBackup } from '../backup';
import { listBackups, readManifest } from '../catalog';
import { BackupError } from '../errors';
import { MANIFEST_NAME, type Manifest } from '../manifest';
import { runPrune } from '../prune';
import { runRestore } from '../restore';
import { seedChatDatabase } from '../seed';
import { S3Store, type S3StoreOptions } from '../storage-s3';
import { runVerify } from '../verify';
import { lastSundayNoon, testNow } from '../../services/test-clock';
import { connectTestMongo, quiet, runCommand, snapshot, tempDir, uniqueDb } from './helpers';

let minio: RunningMinio;
let s3: S3Client;
let s3Options: S3StoreOptions;
let client: MongoClient;
const source = uniqueDb('s3src');
let before: Awaited<ReturnType<typeof snapshot>>;
let manifest: Manifest;

async function newBucket(): Promise<string> {
  const bucket = `bk-${randomBytes(4).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

let stateDir: string;

beforeAll(async () => {
  stateDir = tempDir('state-s3');
  process.env.OPS_STATE_DIR = stateDir;
  minio = await startMinio(); // the pinned build, provisioned by the jest global setup
  const credentials = { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey };
  s3Options = { client: { endpoint: minio.endpoint, region: minio.region, credentials }, partSize: 5 * 1024 * 1024 };
  s3 = new S3Client({ endpoint: minio.endpoint, region: minio.region, credentials, forcePathStyle: true });
  client = await connectTestMongo();
  await seedChatDatabase(client.db(source), { messages: 3000, conversations: 30, largeDocs: 2 });
  // Incompressible payload so the messages archive spans several 5 MiB multipart parts.
  await client.db(source).collection('attachments').insertMany(Array.from({ length: 12 }, (_, i) => ({ i, blob: randomBytes(1_000_000).toString('base64') })));
  before = await snapshot(client.db(source));
}, 600_000);

afterAll(async () => {
  await client?.db(source).dropDatabase();
  await client?.close();
  s3?.destroy();
  await minio?.stop();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

test('backup to S3 with multipart upload, then list, verify and restore round-trip', async () => {
  const bucket = await newBucket();
  const store = new S3Store(bucket, 'nightly/switchboard', s3Options);
  manifest = await runBackup({ client, database: source, store, progress: quiet });
  const attachments = manifest.collections.find((c) => c.name === 'attachments')!;
  expect(attachments.archiveBytes).toBeGreaterThan(10 * 1024 * 1024);
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `nightly/switchboard/${manifest.id}/${attachments.file}` }));
  expect(head.ETag).toMatch(/-[2-9]"?$/); // a multipart ETag: "<md5>-<parts>"

  const record = await runVerify({ client, store, backupId: manifest.id, liveDatabase: source, progress: quiet });
  expect(record.ok).toBe(true);
  expect((await listBackups(store))[0]).toMatchObject({ id: manifest.id, status: 'complete', verification: 'verified' });

  const result = await runRestore({ client, store, backupId: manifest.id, liveDatabase: source, progress: quiet });
  expect(result.ok).toBe(true);
  expect(await snapshot(client.db(result.database))).toEqual(before);
  await client.db(result.database).dropDatabase();
}, 120_000);

test('the CLI takes S3 settings from the environment and names a missing bucket and wrong credentials', async () => {
  const bucket = await newBucket();
  const env = {
    ...process.env, MONGODB_URI: process.env.TEST_MONGODB_URI, MONGODB_DB: source, BACKUP_S3_ENDPOINT: minio.endpoint,
    AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey, AWS_REGION: minio.region,
  };
  const ok = await runCommand('backup', ['--to', `s3://${bucket}/x`, '--collections', 'memberships', '--json'], env);
  expect(ok.code).toBe(0);
  const listed = await runCommand('backup list', ['--from', `s3://${bucket}/x`, '--json'], env);
  expect(listed.json.backups).toEqual([expect.objectContaining({ id: ok.json.manifest.id, status: 'complete', verification: 'unverified' })]);

  const missing = await runCommand('backup', ['--to', 's3://no-such-bucket-here/x', '--json'], env);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/bucket no-such-bucket-here does not exist/);
  await expect(runBackup({ client, database: source, store: new S3Store('no-such-bucket-here', '', s3Options), progress: quiet })).rejects.toMatchObject({ code: 'missing_bucket' });

  const wrong = await runCommand('backup list', ['--from', `s3://${bucket}/x`], { ...env, AWS_SECRET_ACCESS_KEY: 'wrong-secret' });
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(/access to .* was refused .*check AWS_ACCESS_KEY_ID/);
  const badStore = new S3Store(bucket, 'x', { client: { ...s3Options.client, credentials: { accessKeyId: 'nobody', secretAccessKey: 'nothing' } } });
  await expect(runBackup({ client, database: source, store: badStore, progress: quiet })).rejects.toMatchObject({ code: 'bad_credentials' });
}, 60_000);

test.each([['SSE-S3', 'AES256'], ['SSE-KMS', 'aws:kms']] as const)('server-side encryption (%s) is requested for every object and restores fine', async (_label, mode) => {
  const bucket = await newBucket();
  const sse = mode === 'AES256' ? { mode } : { mode, kmsKeyId: minio.kmsKeyId };
  const store = new S3Store(bucket, 'enc', { ...s3Options, sse });
  const m = await runBackup({ client, database: source, store, collections: ['memberships', 'attachments'], progress: quiet });
  for (const key of [`enc/${m.id}/memberships.ejson.gz`, `enc/${m.id}/attachments.ejson.gz`, `enc/${m.id}/${MANIFEST_NAME}`]) {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ServerSideEncryption).toBe(mode);
    if (mode === 'aws:kms') expect(head.SSEKMSKeyId).toContain(minio.kmsKeyId);
  }
  const result = await runRestore({ client, store, backupId: m.id, liveDatabase: source, progress: quiet });
  expect(result.ok).toBe(true);
  expect(await snapshot(client.db(result.database))).toEqual({ attachments: before.attachments, memberships: before.memberships });
  await client.db(result.database).dropDatabase();
}, 60_000);

/** An S3 store whose connection "drops" after `failAfter` bytes of an archive upload. */
class FlakyStore extends S3Store {
  constructor(bucket: string, private readonly failAfter: number) {
    super(bucket, 'p', s3Options);
  }

  override async put(key: string, body: Readable, contentType: string): Promise<void> {
    let seen = 0;
    const cut = new Transform({
      transform: (chunk: Buffer, _e, cb) => {
        seen += chunk.length;
        if (seen > this.failAfter) cb(new Error('connection reset (simulated)'));
        else cb(null, chunk);
      },
    });
    body.on('error', (e) => cut.destroy(e));
    return super.put(key, body.pipe(cut), contentType);
  }
}

test('an interrupted upload never shows up as a complete backup', async () => {
  const bucket = await newBucket();
  // 1) the connection drops in the middle of a multipart upload: parts are aborted, no manifest.
  const flaky = new FlakyStore(bucket, 7 * 1024 * 1024);
  await expect(runBackup({ client, database: source, store: flaky, collections: ['attachments', 'messages'], progress: quiet })).rejects.toThrow(/connection reset|failed/);
  expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
  expect((await listBackups(flaky)).filter((b) => b.status === 'complete')).toEqual([]);

  // 2) the process dies after one collection was stored: that archive exists, the manifest does not.
  const store = new S3Store(bucket, 'p', s3Options);
  const crash = new Error('process killed (simulated)');
  await expect(runBackup({ client, database: source, store, progress: quiet, afterCollection: () => { throw crash; } })).rejects.toBe(crash);
  const entries = await listBackups(store);
  expect(entries).toEqual([expect.objectContaining({ status: 'incomplete', verification: 'unverified' })]);
  const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key);
  expect(keys.some((k) => k?.endsWith(MANIFEST_NAME))).toBe(false);
  expect(keys.length).toBeGreaterThan(0);
  const refused = await runRestore({ client, store, backupId: entries[0]!.id, liveDatabase: source, progress: quiet }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(BackupError);
  expect((refused as Error).message).toMatch(/is incomplete \(no manifest\)/);
  const latest = await runCommand('backup verify', ['--latest', '--from', `s3://${bucket}/p`], {
    ...process.env, MONGODB_URI: process.env.TEST_MONGODB_URI, BACKUP_S3_ENDPOINT: minio.endpoint,
    AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
  });
  expect(latest.code).toBe(1);
  expect(latest.stderr).toMatch(/no complete backup/);
}, 120_000);

test('prune --dry-run lists exactly what a real prune deletes, and never the newest verified backup', async () => {
  const bucket = await newBucket();
  const store = new S3Store(bucket, 'retention', s3Options);
  // The fixtures keep the calendar layout of one week (Sunday `anchor`, ISO weeks start on Monday)
  // on any date: everything is placed relative to the test clock, never to fixed dates.
  const anchor = lastSundayNoon();
  const at = (days: number, hours: number) => new Date(anchor.getTime() - (days * 24 + hours) * 3_600_000);
  const real = await runBackup({ client, database: source, store, collections: ['conversations'], progress: quiet, now: () => at(0, 9) });
  const template = await readManifest(store, real.id);
  // Backups on earlier days (Sat, Sat, Fri, Mon of the same week; Tue of the week before; Mon two
  // weeks before; ~7 weeks before): same content, manifests with past start times.
  const days = [at(1, 9), at(1, 11), at(2, 9), at(6, 9), at(12, 9), at(20, 9), at(52, 9)];
  const ids: string[] = [];
  for (const date of days) {
    const id = `${date.toISOString().replace(/[-:.]/g, '')}-${source}-f00d`;
    ids.push(id);
    await store.putText(`${id}/conversations.ejson.gz`, 'x');
    await store.putText(`${id}/${MANIFEST_NAME}`, JSON.stringify({ ...template, id, startedAt: date.toISOString(), finishedAt: date.toISOString() }));
  }
  // The oldest one is the only verified backup: it must survive any policy.
  await store.putText(`${ids[6]}/verification.json`, JSON.stringify({ backupId: ids[6], ok: true, verifiedAt: at(52, 8).toISOString() }));
  // A stale interrupted backup (no manifest).
  const stale = `${at(52, 7).toISOString().replace(/[-:.]/g, '')}-${source}-dead`;
  await store.putText(`${stale}/messages.ejson.gz`, 'partial');

  // Only the incomplete backup's grace period looks at `now`, against the S3 server's own
  // LastModified (its clock is the real one); a year-ahead test clock is also past it.
  const now = new Date(Math.max(testNow().getTime(), Date.now()) + 1000);
  const dry = await runPrune(store, { keepDaily: 2, keepWeekly: 2, incompleteGraceMs: 0 }, { dryRun: true, now });
  // The anchor's week holds the real backup and ids 0-3, the week before id 4.
  const expectedDeleted = [ids[1]!, ids[2]!, ids[3]!, ids[5]!, stale].sort();
  expect(dry.delete.map((d) => d.id).sort()).toEqual(expectedDeleted);
  expect(dry.keep.map((k) => k.id).sort()).toEqual([real.id, ids[0]!, ids[4]!, ids[6]!].sort());
  expect(dry.keep.find((k) => k.id === ids[6])!.reasons).toEqual(['newest verified']);
  expect((await listBackups(store)).length).toBe(9); // dry run deleted nothing

  const done = await runPrune(store, { keepDaily: 2, keepWeekly: 2, incompleteGraceMs: 0 }, { dryRun: false, now });
  expect(done.delete.map((d) => d.id).sort()).toEqual(expectedDeleted);
  expect((await listBackups(store)).map((b) => b.id).sort()).toEqual([real.id, ids[0]!, ids[4]!, ids[6]!].sort());
}, 60_000);
