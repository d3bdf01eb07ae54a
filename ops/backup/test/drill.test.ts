import fs from 'node:fs';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { drillLog } from '../drill';
import { connectTestMongo, runCommand, tempDir, uniqueDb } from './helpers';

/** The quarterly restore drill against the real local server: recorded, audited, exported as metrics. */
let client: MongoClient;
let dir: string;
let db: string;
let env: NodeJS.ProcessEnv;
const metric = (name: string) => fs.readFileSync(path.join(dir, 'metrics', `${name}.prom`), 'utf8').trim().split('\n').pop();

beforeAll(async () => {
  client = await connectTestMongo();
  db = uniqueDb('drill');
  dir = tempDir('drill');
  await client.db(db).collection('messages').insertMany(Array.from({ length: 50 }, (_, i) => ({ seq: i, text: `m${i}` })));
  env = { MONGODB_URI: process.env.TEST_MONGODB_URI, MONGODB_DB: db, OPS_STATE_DIR: dir, BACKUP_LOCATION: `dir:${path.join(dir, 'backups')}`, BACKUP_METRICS_FILE: path.join(dir, 'metrics') };
  expect((await runCommand('backup', [], env)).code).toBe(0);
});
afterAll(async () => {
  await client.db(db).dropDatabase();
  await client.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('restores and verifies the newest backup, records the drill and exports its metrics; a missed RTO fails', async () => {
  const run = await runCommand('backup drill', ['--rto', '10m'], env);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^restore drill PASSED at .+: .+, 50 docs restored and verified in .+ \(RTO target 10m/);
  const passedAt = metric('switchboard_restore_drill_last_success_timestamp_seconds');
  expect(passedAt).toMatch(/^switchboard_restore_drill_last_success_timestamp_seconds \d{10}$/);
  expect(metric('switchboard_restore_drill_last_duration_seconds')).toMatch(/^switchboard_restore_drill_last_duration_seconds [\d.]+$/);

  const slow = await runCommand('backup drill', ['--rto', '1ms', '--json'], env);
  expect(slow.code).toBe(1);
  expect(slow.json).toMatchObject({ ok: false, drill: { withinRto: false, verification: { ok: true }, rtoTargetMs: 1, documents: 50 } });
  // The success gauge still says when the drill last passed; the duration gauge shows the latest run.
  expect(metric('switchboard_restore_drill_last_success_timestamp_seconds')).toBe(passedAt);
  const log = fs.readFileSync(drillLog(dir, 'local'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ok: boolean });
  expect(log.map((d) => d.ok)).toEqual([true, false]);
  const last = await runCommand('backup drill', ['--last'], env);
  expect(last.stdout).toContain('restore drill FAILED');
  expect(last.stdout).toContain('MISSED');
  const audit = fs.readFileSync(path.join(dir, 'audit.jsonl'), 'utf8');
  expect(audit.match(/"action":"backup\.drill"/g)).toHaveLength(2);
});
