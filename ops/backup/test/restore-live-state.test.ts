import { jobCollections, jobStore } from '../../../core/src/jobs/job-store';
import type { InstanceDoc } from '../../../core/src/store/documents';
import { collectionNames } from '../../../core/src/store/mongo-store';
import { runBackup } from '../backup';
import { runRestore } from '../restore';
import { seedChatDatabase } from '../seed';
import { backupTestBed, quiet, sessionsOf, uniqueDb } from './helpers';

/**
 * The runbook's step 5 restores into the live database while its instances run (in maintenance):
 * each keeps registering itself in `instances` (its sweep's heartbeat) and renewing its job leases.
 * Dropping those collections and writing the backup's copies raced with those writes (an instance
 * re-registered between the drop and the insert: a duplicate key, the restore exited 1; seen in CI),
 * and would have given back stale leases. The running fleet's own state is kept (ops/backup/live-state.ts).
 */
const bed = backupTestBed('live');

test('restore --drop into a database whose instances keep registering: the restore succeeds, the fleet\'s live entries and leases are kept, the data goes back to the backup', async () => {
  const live = uniqueDb('live_fleet');
  const db = bed.client.db(live);
  const store = bed.store();
  await seedChatDatabase(db, { messages: 300, conversations: 4, largeDocs: 0 });
  const fleet = sessionsOf(db);
  await fleet.heartbeat('core-a');
  await fleet.heartbeat('core-gone'); // stopped since the backup
  const jobs = jobStore(db);
  const oldLease = await jobs.acquire('retention', '2026-03-01T00:00:00.000Z', 'core-a', 60_000);
  await oldLease!.complete();
  const backup = await runBackup({ client: bed.client, database: live, store, progress: quiet });
  expect(backup.collections.find((c) => c.name === collectionNames.instances)?.documents).toBe(2);

  // After the backup: core-gone left the fleet, core-b joined and holds a running job's lease.
  await fleet.retire('core-gone');
  await fleet.heartbeat('core-b');
  const running = await jobs.acquire('retention', '2026-03-02T00:00:00.000Z', 'core-b', 60_000);
  expect(running).not.toBeNull();
  await db.collection(collectionNames.messages).deleteMany({}); // the damage

  // The instances keep registering, much more often than once a second, for the whole restore.
  let restoring = true;
  let beats = 0;
  const beating = (async () => {
    while (restoring) {
      await Promise.all([fleet.heartbeat('core-a'), fleet.heartbeat('core-b')]);
      beats++;
    }
  })();
  let result;
  try {
    result = await runRestore({ client: bed.client, store, backupId: backup.id, into: live, liveDatabase: live, drop: true, yes: true, progress: quiet });
  } finally {
    restoring = false;
    await beating;
  }
  expect(beats).toBeGreaterThan(0);
  expect(result.collections.filter((c) => c.failed).map((c) => [c.name, c.firstError])).toEqual([]);
  expect(result.ok).toBe(true);
  // The fleet is the running one, not the backup's: core-gone does not come back.
  expect((await db.collection<InstanceDoc>(collectionNames.instances).find().toArray()).map((d) => d._id).sort()).toEqual(['core-a', 'core-b']);
  expect(result.collections.find((c) => c.name === collectionNames.instances)).toMatchObject({ restored: 0, expected: 2, live: 2 });
  // The running job's lease is still core-b's: its renewal still holds.
  expect(await running!.renew(60_000)).toBe(true);
  expect(await db.collection(jobCollections.leases).countDocuments()).toBe(2);
  // The data is the backup's.
  expect(await db.collection(collectionNames.messages).countDocuments()).toBe(300);
  await db.dropDatabase();
}, 120_000);

test('restore into a scratch database: the backup\'s fleet entries are restored as written (the archive\'s content, checked by ops backup verify)', async () => {
  const source = uniqueDb('live_src');
  const db = bed.client.db(source);
  const store = bed.store();
  await seedChatDatabase(db, { messages: 20, conversations: 2, largeDocs: 0 });
  await sessionsOf(db).heartbeat('core-a');
  const backup = await runBackup({ client: bed.client, database: source, store, progress: quiet });
  const result = await runRestore({ client: bed.client, store, backupId: backup.id, liveDatabase: source, progress: quiet });
  expect(result.ok).toBe(true);
  expect(result.collections.find((c) => c.name === collectionNames.instances)).toMatchObject({ restored: 1, expected: 1 });
  expect(result.collections.find((c) => c.name === collectionNames.instances)?.live).toBeUndefined();
  await bed.client.db(result.database).dropDatabase();
  await db.dropDatabase();
}, 120_000);
