import fs from 'node:fs';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { readAudit } from '../../state/audit-log';
import { runBackup } from '../backup';
import { listBackups, readManifest } from '../catalog';
import { zstdAvailable } from '../codec';
import { BackupError } from '../errors';
import type { Manifest } from '../manifest';
import { openBackupStore } from '../open-store';
import { runRestore } from '../restore';
import { seedChatDatabase, seedTypedEdgeCases } from '../seed';
import { runVerify } from '../verify';
import { connectTestMongo, quiet, runCommand, snapshot, tempDir, uniqueDb } from './helpers';

let client: MongoClient;
let uri: string;
const source = uniqueDb('src');
let backupDir: string;
let stateDir: string;
let manifest: Manifest;
let before: Awaited<ReturnType<typeof snapshot>>;
const store = () => openBackupStore(`dir:${backupDir}`);

beforeAll(async () => {
  client = await connectTestMongo();
  uri = process.env.TEST_MONGODB_URI!;
  backupDir = tempDir('backups');
  stateDir = tempDir('state');
  process.env.OPS_STATE_DIR = stateDir;
  await seedChatDatabase(client.db(source), { messages: 5000, conversations: 60, largeDocs: 3 });
  await seedTypedEdgeCases(client.db(source));
  before = await snapshot(client.db(source));
  manifest = await runBackup({ client, database: source, store: store(), progress: quiet });
}, 120_000);

afterAll(async () => {
  await client.db(source).dropDatabase();
  await client.close();
  fs.rmSync(backupDir, { recursive: true, force: true });
  fs.rmSync(stateDir, { recursive: true, force: true });
});

test('the manifest records counts, hashes, indexes and sizes for every collection', () => {
  expect(manifest.formatVersion).toBe(1);
  expect(manifest.source.database).toBe(source);
  expect(manifest.collections.map((c) => c.name)).toEqual(['conversations', 'memberships', 'messages', 'session_revocations', 'skipped_seqs', 'typed_edge_cases']);
  for (const c of manifest.collections) {
    expect(c.documents).toBe(before[c.name]!.documents);
    expect(c.contentSha256).toBe(before[c.name]!.contentSha256);
    expect(fs.statSync(path.join(backupDir, manifest.id, c.file)).size).toBe(c.archiveBytes);
  }
  const messages = manifest.collections.find((c) => c.name === 'messages')!;
  expect(messages.documents).toBe(5000);
  expect(messages.indexes).toEqual(expect.arrayContaining([
    expect.objectContaining({ name: 'conversation_seq_unique', unique: true, key: { conversationId: 1, seq: 1 } }),
    expect.objectContaining({ name: 'sender_clientMsgId_unique', unique: true }),
    expect.objectContaining({ name: 'conversation_terms', key: { conversationId: 1, terms: 1 } }),
  ]));
  expect(messages.contentBytes).toBeGreaterThan(4_000_000); // three 1.5 MB documents
  expect(manifest.collections.find((c) => c.name === 'conversations')!.indexes).toEqual([expect.objectContaining({ key: { lastMessageAt: -1 } })]);
  expect(new Date(manifest.finishedAt) >= new Date(manifest.startedAt)).toBe(true);
});

test('round trip into a new scratch database gives identical counts, hashes and indexes', async () => {
  const result = await runRestore({ client, store: store(), backupId: manifest.id, liveDatabase: source, progress: quiet });
  try {
    expect(result.ok).toBe(true);
    expect(result.scratch).toBe(true);
    expect(result.database).not.toBe(source);
    expect(result.collections.map((c) => [c.name, c.restored, c.expected, c.failed])).toEqual(
      manifest.collections.map((c) => [c.name, c.documents, c.documents, 0]));
    expect(await snapshot(client.db(result.database))).toEqual(before);
    const edge = await client.db(result.database).collection('typed_edge_cases').findOne({ _id: 'int-vs-double' as never }, { promoteValues: false });
    expect(edge?.d?._bsontype).toBe('Double');
    expect(edge?.i?._bsontype).toBe('Int32');
    expect(edge?.l?._bsontype).toBe('Long');
  } finally {
    await client.db(result.database).dropDatabase();
  }
});

test('verify restores into a scratch database, compares with the manifest, drops it and records the result', async () => {
  const record = await runVerify({ client, store: store(), backupId: manifest.id, liveDatabase: source, progress: quiet });
  expect(record.ok).toBe(true);
  expect(record.collections.every((c) => c.hashMatches && c.indexesMatch && c.restored === c.expected)).toBe(true);
  const dbs = (await client.db().admin().listDatabases()).databases.map((d) => d.name);
  expect(dbs).not.toContain(record.scratchDatabase);
  expect(JSON.parse(fs.readFileSync(path.join(backupDir, manifest.id, 'verification.json'), 'utf8')).ok).toBe(true);
  const listed = (await listBackups(store())).find((b) => b.id === manifest.id)!;
  expect(listed).toMatchObject({ status: 'complete', verification: 'verified', documents: manifest.totals.documents });
});

test.each(['zstd', 'none'] as const)('--compress %s round-trips too', async (compression) => {
  if (compression === 'zstd' && !zstdAvailable()) {
    await expect(runBackup({ client, database: source, store: store(), compression, progress: quiet })).rejects.toThrow(/zstd needs Node/);
    return;
  }
  const m = await runBackup({ client, database: source, store: store(), compression, collections: ['messages', 'memberships'], progress: quiet });
  expect(m.collections.map((c) => c.file)).toEqual(compression === 'zstd' ? ['memberships.ejson.zst', 'messages.ejson.zst'] : ['memberships.ejson', 'messages.ejson']);
  const result = await runRestore({ client, store: store(), backupId: m.id, liveDatabase: source, progress: quiet });
  try {
    expect(result.ok).toBe(true);
    const after = await snapshot(client.db(result.database));
    expect(after).toEqual({ memberships: before.memberships, messages: before.messages });
  } finally {
    await client.db(result.database).dropDatabase();
  }
});

test('a corrupted archive byte fails restore and verify, naming the collection, and leaves the target untouched', async () => {
  const corruptDir = tempDir('corrupt');
  fs.cpSync(path.join(backupDir, manifest.id), path.join(corruptDir, manifest.id), { recursive: true });
  const file = path.join(corruptDir, manifest.id, 'messages.ejson.gz');
  const bytes = fs.readFileSync(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  fs.writeFileSync(file, bytes);
  const corrupt = openBackupStore(`dir:${corruptDir}`);
  const target = uniqueDb('corrupt_target');
  await client.db(target).collection('marker').insertOne({ _id: 'untouched' as never });

  const failure = await runRestore({ client, store: corrupt, backupId: manifest.id, into: target, liveDatabase: source, progress: quiet }).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(BackupError);
  expect((failure as BackupError).code).toBe('corrupted');
  expect((failure as BackupError).message).toMatch(/collection messages/);
  expect((await client.db(target).listCollections().toArray()).map((c) => c.name)).toEqual(['marker']);

  const record = await runVerify({ client, store: corrupt, backupId: manifest.id, liveDatabase: source, progress: quiet });
  expect(record.ok).toBe(false);
  expect(record.error).toMatch(/collection messages/);
  expect((await listBackups(corrupt))[0]).toMatchObject({ id: manifest.id, verification: 'failed' });

  const cli = await runCommand('restore', [manifest.id, '--from', `dir:${corruptDir}`, '--uri', uri, '--db', source, '--json'], process.env);
  expect(cli.code).toBe(1);
  expect(cli.stderr).toMatch(/archive of collection messages is corrupted/);
  await client.db(target).dropDatabase();
  fs.rmSync(corruptDir, { recursive: true, force: true });
});

test('restore refuses a target that already has data; --drop replaces it; --collections restores only those', async () => {
  const target = uniqueDb('occupied');
  await client.db(target).collection('messages').insertOne({ text: 'already here' });
  const refused = await runRestore({ client, store: store(), backupId: manifest.id, into: target, liveDatabase: source, progress: quiet }).catch((e: unknown) => e);
  expect(refused).toMatchObject({ code: 'target_not_empty' });
  expect((refused as Error).message).toMatch(/already has data in messages/);
  expect(await client.db(target).collection('messages').countDocuments()).toBe(1);

  const result = await runRestore({ client, store: store(), backupId: manifest.id, into: target, liveDatabase: source, collections: ['messages'], drop: true, progress: quiet });
  expect(result.ok).toBe(true);
  expect(await snapshot(client.db(target))).toEqual({ messages: before.messages });
  await client.db(target).dropDatabase();
});

test('documents the target rejects make restore exit non-zero with per-collection counts', async () => {
  const target = uniqueDb('rejecting');
  // An empty collection whose unique index the backup's data violates (many messages share a text).
  await client.db(target).collection('messages').createIndex({ text: 1 }, { unique: true, name: 'text_unique' });
  const env = { ...process.env, MONGODB_URI: uri, MONGODB_DB: source, BACKUP_LOCATION: `dir:${backupDir}` };
  const res = await runCommand('restore', [manifest.id, '--into', target, '--collections', 'messages', '--json'], env);
  expect(res.code).toBe(1);
  const [messages] = res.json.restore.collections;
  expect(messages.expected).toBe(5000);
  expect(messages.failed).toBeGreaterThan(0);
  expect(messages.restored + messages.failed).toBe(5000);
  expect(messages.firstError).toMatch(/duplicate key/i);
  expect(res.json.restore.ok).toBe(false);
  expect(await client.db(target).collection('messages').countDocuments()).toBe(messages.restored);
  await client.db(target).dropDatabase();
});

test('restore into the live database is refused without --drop --yes; with them it takes a safety backup first', async () => {
  const live = uniqueDb('live');
  await seedChatDatabase(client.db(live), { messages: 300, conversations: 5, largeDocs: 0 });
  await client.db(live).collection('messages').insertOne({ text: 'written after the backup' });
  const liveBefore = await snapshot(client.db(live));
  const env = { ...process.env, MONGODB_URI: uri, MONGODB_DB: live, BACKUP_LOCATION: `dir:${backupDir}` };

  for (const extra of [[], ['--drop'], ['--yes']]) {
    const refused = await runCommand('restore', [manifest.id, '--into', live, ...extra], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`refusing to restore into the live database ${live} without --drop --yes`));
  }
  expect(await snapshot(client.db(live))).toEqual(liveBefore);

  const done = await runCommand('restore', [manifest.id, '--into', live, '--drop', '--yes', '--json'], env);
  expect(done.code).toBe(0);
  expect(done.json.restore).toMatchObject({ ok: true, database: live, scratch: false });
  const safetyId: string = done.json.restore.safetyBackupId;
  expect(safetyId).toBeDefined();
  // Every restored conversation carries this restore's generation (running cores forget what they
  // remembered about its seqs: core/src/store/seqs-repository.ts); less that, the data is the backup's.
  const conversations = client.db(live).collection('conversations');
  const generations = new Set((await conversations.find().toArray()).map((c) => c.restoreGeneration));
  expect([...generations]).toEqual([expect.stringMatching(new RegExp(`^${manifest.id}:[0-9a-f]{12}$`))]);
  expect(await conversations.countDocuments()).toBeGreaterThan(0);
  await conversations.updateMany({}, { $unset: { restoreGeneration: '' } });
  expect(await snapshot(client.db(live))).toEqual(before);

  const safety = await readManifest(store(), safetyId);
  expect(safety.reason).toBe('safety-before-restore');
  expect(Object.fromEntries(safety.collections.map((c) => [c.name, c.contentSha256]))).toEqual(
    Object.fromEntries(Object.entries(liveBefore).map(([k, v]) => [k, v.contentSha256])));
  expect(done.stderr).toMatch(/taking a safety backup/);

  const audit = readAudit(stateDir).filter((e) => e.database === live);
  expect(audit.map((e) => `${e.action}:${e.outcome}`)).toEqual(['restore:refused', 'restore:refused', 'restore:refused', 'backup:succeeded', 'restore:succeeded']);
  expect(audit[0]).toMatchObject({ who: expect.any(String), env: 'local', backupId: manifest.id });
  await client.db(live).dropDatabase();
});

test('ops backup --json prints the manifest; progress (docs/s, ETA) goes to stderr; the alert gauges are written', async () => {
  const metricsDir = tempDir('metrics');
  const env = { ...process.env, MONGODB_URI: uri, MONGODB_DB: source, BACKUP_LOCATION: `dir:${backupDir}`, BACKUP_METRICS_FILE: metricsDir };
  const res = await runCommand('backup', ['--collections', 'conversations,messages', '--json'], env);
  expect(res.code).toBe(0);
  const gauge = fs.readFileSync(path.join(metricsDir, 'switchboard_backup_last_success_timestamp_seconds.prom'), 'utf8');
  expect(gauge).toContain(`switchboard_backup_last_success_timestamp_seconds ${Math.floor(Date.parse(res.json.manifest.finishedAt) / 1000)}\n`);
  const verified = await runCommand('backup verify', [res.json.manifest.id, '--json'], env);
  expect(verified.code).toBe(0);
  expect(verified.json.verification.ok).toBe(true);
  expect(fs.readFileSync(path.join(metricsDir, 'switchboard_backup_last_verify_success.prom'), 'utf8')).toMatch(/^switchboard_backup_last_verify_success 1$/m);
  fs.rmSync(metricsDir, { recursive: true, force: true });
  expect(res.json.manifest.collections.map((c: { name: string }) => c.name)).toEqual(['conversations', 'messages']);
  expect(res.stderr).toMatch(/\[backup messages\] 5,000\/5,000 docs [\d,]+ docs\/s .*done in/);
  const missing = await runCommand('backup', ['--collections', 'nope'], env);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/has no collection nope/);
  const badUsage = await runCommand('backup', ['--compress', 'lz4'], env);
  expect(badUsage.code).toBe(2);
  const list = await runCommand('backup list', ['--json'], env);
  expect(list.json.backups.length).toBeGreaterThanOrEqual(3);
});
