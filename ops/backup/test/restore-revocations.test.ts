import type { Db } from 'mongodb';
import { createRevocationCache } from '../../../core/src/auth/session-revocations';
import { ObjectId } from 'mongodb';
import { membershipId, type MembershipDoc, type MembershipRemovalDoc, type SessionRevocationDoc } from '../../../core/src/store/documents';
import { membershipsRepository } from '../../../core/src/store/memberships-repository';
import { collectionNames } from '../../../core/src/store/mongo-store';
import { readAudit } from '../../state/audit-log';
import { runBackup } from '../backup';
import { runRestore } from '../restore';
import { seedChatDatabase } from '../seed';
import { runVerify } from '../verify';
import { backupTestBed, quiet, runCommand, sessionsOf, snapshot, uniqueDb } from './helpers';

/**
 * Issue 21: a restore never gives back access that was ended. Session revocations only move forward
 * (ops/backup/forward-only.ts): restoring `--drop` into a database keeps the revocations it holds
 * that are newer than the backup's, and takes the backup's where it is the later one.
 */
const bed = backupTestBed('rev');
const store = () => bed.store();
// Fixed instants: what matters is their order, not today's date.
const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 12, minute));

const revocations = sessionsOf;
const endedAt = async (db: Db) => Object.fromEntries([...(await revocations(db).allEndedAt())].map(([user, date]) => [user, date.toISOString()]));

test('restore --drop into the live database: revocations written after the backup are kept, an earlier one in the target takes the backup\'s later value, the data goes back to the backup', async () => {
  const live = uniqueDb('rev_live');
  const db = bed.client.db(live);
  await seedChatDatabase(db, { messages: 200, conversations: 6, largeDocs: 0 });
  const repo = revocations(db);
  await repo.record('user-same', at(0), 'core-a');
  await repo.record('user-raised', at(1), 'core-a');
  await repo.record('user-damaged', at(2), 'core-a');
  const backup = await runBackup({ client: bed.client, database: live, store: store(), progress: quiet });
  expect(backup.collections.find((c) => c.name === 'session_revocations')?.documents).toBe(3);

  // After the backup: a laptop is stolen (a user ended for the first time), another user is ended
  // again, and some damage sets one revocation back (what the restore is for); a message is written.
  await repo.record('user-stolen-laptop', at(10), 'core-a');
  await repo.record('user-raised', at(11), 'core-a');
  await db.collection<SessionRevocationDoc>('session_revocations').updateOne({ _id: 'user-damaged' }, { $set: { sessionsEndedAt: at(-30) } });
  await db.collection('messages').insertOne({ text: 'written after the backup' });

  const env = { ...process.env, MONGODB_URI: process.env.TEST_MONGODB_URI, MONGODB_DB: live, BACKUP_LOCATION: `dir:${bed.backupDir}` };
  const done = await runCommand('restore', [backup.id, '--into', live, '--drop', '--yes'], env);
  expect(done.stderr).not.toMatch(/FAILED|error/);
  expect(done.code).toBe(0);

  // For each user the later of the backup's and the target's; the target-only one is still there.
  expect(await endedAt(db)).toEqual({
    'user-same': at(0).toISOString(),
    'user-raised': at(11).toISOString(),
    'user-damaged': at(2).toISOString(),
    'user-stolen-laptop': at(10).toISOString(),
  });
  // The core's own check (iat ≤ sessionsEndedAt, read through its cache): the laptop's token, issued
  // before its revocation, stays refused; a token issued after the last revocation still works.
  const cache = createRevocationCache({ endedAt: async (user) => (await repo.endedAt(user))?.getTime() });
  expect(await cache.isEnded('user-stolen-laptop', at(9).getTime())).toBe(true);
  expect(await cache.isEnded('user-raised', at(10).getTime())).toBe(true);
  expect(await cache.isEnded('user-damaged', at(1).getTime())).toBe(true);
  expect(await cache.isEnded('user-stolen-laptop', at(12).getTime())).toBe(false);
  // The restored revocation is re-confirmed by every instance's sweep (written now, by the restore).
  const damaged = await db.collection<SessionRevocationDoc>('session_revocations').findOne({ _id: 'user-damaged' });
  expect(damaged?.confirmedBy).toEqual(['ops-restore']);
  // Data is back at the backup's point.
  expect(await db.collection('messages').countDocuments({ text: 'written after the backup' })).toBe(0);
  expect(await db.collection('messages').countDocuments()).toBe(200);

  // Said on the output and recorded in the audit.
  expect(done.stdout).toMatch(/session_revocations\s+3 \/ 3 restored/);
  expect(done.stdout).toContain('kept 2 session revocations newer than the backup');
  expect(done.stderr).toMatch(/\[restore session_revocations\] the target holds session revocations: merging/);
  const audit = readAudit(bed.stateDir).filter((e) => e.database === live && e.action === 'restore');
  expect(audit.map((e) => e.outcome)).toEqual(['succeeded']);
  const audited = (audit[0]!.details as { collections: { name: string; kept?: number }[] }).collections;
  expect(audited.find((c) => c.name === 'session_revocations')).toMatchObject({ restored: 3, expected: 3, failed: 0, kept: 2 });
  expect(audited.filter((c) => c.kept !== undefined).map((c) => c.name)).toEqual(['session_revocations']);

  // Restoring the safety backup (the runbook's undo) keeps them too.
  const safetyId = /safety backup of the previous data: (\S+)/.exec(done.stdout)![1]!;
  const undo = await runRestore({ client: bed.client, store: store(), backupId: safetyId, into: live, liveDatabase: live, drop: true, yes: true, progress: quiet });
  expect(undo.ok).toBe(true);
  expect(await endedAt(db)).toEqual({
    'user-same': at(0).toISOString(),
    'user-raised': at(11).toISOString(),
    'user-damaged': at(2).toISOString(),
    'user-stolen-laptop': at(10).toISOString(),
  });
  expect(undo.collections.find((c) => c.name === 'session_revocations')).toMatchObject({ restored: 4, expected: 4, kept: 1 }); // its user-damaged was the damaged, earlier value
  await db.dropDatabase();
});

test('a scratch restore and verify of a backup with revocations still reproduce it document for document', async () => {
  const source = uniqueDb('rev_src');
  const db = bed.client.db(source);
  await seedChatDatabase(db, { messages: 50, conversations: 3, largeDocs: 0 });
  await revocations(db).record('user-a', at(0), 'core-a');
  await revocations(db).record('user-b', at(5), 'core-b');
  const before = await snapshot(db);
  const backup = await runBackup({ client: bed.client, database: source, store: store(), progress: quiet });
  const restored = await runRestore({ client: bed.client, store: store(), backupId: backup.id, liveDatabase: source, progress: quiet });
  try {
    expect(restored.ok).toBe(true);
    expect(restored.collections.every((c) => c.kept === undefined)).toBe(true);
    expect(await snapshot(bed.client.db(restored.database))).toEqual(before);
  } finally {
    await bed.client.db(restored.database).dropDatabase();
  }
  const verified = await runVerify({ client: bed.client, store: store(), backupId: backup.id, liveDatabase: source, progress: quiet });
  expect(verified.ok).toBe(true);
  await db.dropDatabase();
});

test('restore --drop: a member removed (or who left) after the backup does not come back; one re-added before the backup stands; the output and audit say how many', async () => {
  const live = uniqueDb('dep_live');
  const db = bed.client.db(live);
  await seedChatDatabase(db, { messages: 20, conversations: 2, largeDocs: 0 });
  const memberships = membershipsRepository({
    memberships: db.collection<MembershipDoc>(collectionNames.memberships),
    membershipRemovals: db.collection<MembershipRemovalDoc>(collectionNames.membershipRemovals),
  });
  const group = new ObjectId();
  const join = (userId: string, minute: number) => memberships.insert({ _id: membershipId(group, userId), conversationId: group, userId, role: 'member', joinedAt: at(minute), lastReadSeq: 0 });
  for (const user of ['owner', 'mallory', 'bob', 'carol']) await join(user, 0);
  // Before the backup: carol is removed and added back.
  await memberships.remove(group, 'carol', at(1));
  await join('carol', 2);
  const backup = await runBackup({ client: bed.client, database: live, store: store(), progress: quiet });
  // After it: mallory is removed, bob leaves.
  await memberships.remove(group, 'mallory', at(10));
  await memberships.remove(group, 'bob', at(11));
  const members = async () => (await memberships.listForConversation(group)).map((m) => m.userId).sort();
  expect(await members()).toEqual(['carol', 'owner']);

  const env = { ...process.env, MONGODB_URI: process.env.TEST_MONGODB_URI, MONGODB_DB: live, BACKUP_LOCATION: `dir:${bed.backupDir}` };
  const done = await runCommand('restore', [backup.id, '--into', live, '--drop', '--yes'], env);
  expect(done.stderr).not.toMatch(/FAILED|error/);
  expect(done.code).toBe(0);
  expect(await members()).toEqual(['carol', 'owner']);
  expect(done.stdout).toContain('deleted 2 restored memberships ended after the backup (removed members stay removed)');
  expect(done.stdout).toContain('kept 2 membership removals newer than the backup');
  const audit = readAudit(bed.stateDir).filter((e) => e.database === live && e.action === 'restore');
  const audited = (audit[0]!.details as { collections: { name: string; departed?: number }[] }).collections;
  expect(audited.find((c) => c.name === collectionNames.memberships)).toMatchObject({ departed: 2 });
  await db.dropDatabase();
});
