import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readAudit } from '../../state/audit-log';
import { runOps } from '../../test/helpers';
import { injectAtlas } from '../commands';
import { startAtlasDouble, type Exchange } from './atlas-double';

/**
 * ops backup --atlas / backup list --atlas / restore --atlas against a local double of the Atlas
 * Administration API v2 (digest auth enforced). The exchanges of the whole run are compared with the
 * recorded fixture (UPDATE_ATLAS_FIXTURES=1 rewrites it after a deliberate change).
 */
const NOW = new Date('2026-06-15T12:00:00Z');
const GROUP = '5f1a2b3c4d5e6f7a8b9c0d1e';
const fixture = path.join(__dirname, 'fixtures', 'atlas-exchanges.json');

let double: Awaited<ReturnType<typeof startAtlasDouble>>;
let stateDir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  double = await startAtlasDouble({ groupId: GROUP, cluster: 'sb-prod', publicKey: 'ops-backup', privateKey: 'a3f1c2d4-0000-4b5e-9f6a-1234567890ab', now: NOW, failingTarget: 'sb-broken', serviceAccount: { clientId: 'mdb_sa_id_1', clientSecret: 'mdb_sa_sk_1' } });
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atlas-'));
  env = { OPS_STATE_DIR: stateDir, OPS_USER: 'bo', ATLAS_BASE_URL: double.url, ATLAS_GROUP_ID: GROUP, ATLAS_CLUSTER: 'sb-prod', ATLAS_PUBLIC_KEY: 'ops-backup', ATLAS_PRIVATE_KEY: 'a3f1c2d4-0000-4b5e-9f6a-1234567890ab', OPS_ATLAS_POLL_MS: '1' };
  injectAtlas({ sleep: async () => undefined, now: () => NOW });
});
afterAll(async () => {
  injectAtlas({});
  await double.close();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

it('refuses a wrong API key with the next step (digest auth is enforced)', async () => {
  const run = await runOps(['backup', 'list', '--atlas'], { ...env, ATLAS_PRIVATE_KEY: 'wrong' });
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('Atlas API 401 UNAUTHORIZED');
  expect(run.stderr).toContain('check ATLAS_PUBLIC_KEY/ATLAS_PRIVATE_KEY');
  const unset = await runOps(['backup', '--atlas'], { OPS_STATE_DIR: stateDir });
  expect(unset.code).toBe(2);
  expect(unset.stderr).toContain('set ATLAS_GROUP_ID (the project id); ATLAS_CLUSTER (or --cluster); ATLAS_PUBLIC_KEY + ATLAS_PRIVATE_KEY');
});

it('takes an on-demand snapshot and follows it to completed', async () => {
  const run = await runOps(['backup', '--atlas', '--reason', 'before the search migration', '--retention-days', '3'], env);
  expect(run.code).toBe(0);
  expect(run.stderr).toMatch(/snapshot \w+ queued[\s\S]*snapshot \w+ inProgress[\s\S]*snapshot \w+ completed/);
  expect(run.stdout).toMatch(/^snapshot [a-f0-9]{24} of sb-prod completed \(708\.\d MiB\)/);
  expect(readAudit(stateDir).at(-1)).toMatchObject({ action: 'backup.atlas', outcome: 'succeeded', cluster: 'sb-prod' });
});

it('lists snapshots (newest first) and the point-in-time window', async () => {
  const run = await runOps(['backup', 'list', '--atlas', '--json'], env);
  expect(run.code).toBe(0);
  const out = JSON.parse(run.stdout) as { snapshots: { snapshotType: string; status: string; createdAt: string }[]; pointInTime: unknown };
  expect(out.snapshots.map((s) => [s.snapshotType, s.status])).toEqual([['onDemand', 'completed'], ['scheduled', 'completed'], ['scheduled', 'completed']]);
  // Window: 2 days back, but not before the oldest completed snapshot (26 h ago).
  expect(out.pointInTime).toEqual({ enabled: true, restoreWindowDays: 2, earliest: '2026-06-14T10:00:00.000Z', latest: NOW.toISOString() });
  const human = await runOps(['backup', 'list', '--atlas'], env);
  expect(human.stdout).toContain('point in time: any moment from 2026-06-14T10:00:00.000Z to 2026-06-15T12:00:00.000Z (restore window 2 d)');
});

it('restores a point in time into another cluster and follows the job to the end', async () => {
  const run = await runOps(['restore', '--atlas', '--point-in-time', '2026-06-15T11:00:00Z', '--into', 'sb-restore'], env);
  expect(run.code).toBe(0);
  expect(run.stderr).toMatch(/restore job [a-f0-9]{24} started[\s\S]*restore job [a-f0-9]{24}: succeeded at 2026-06-15T12:15:00.000Z/);
  expect(run.stdout).toContain('restored point in time 2026-06-15T11:00:00.000Z into sb-restore');
});

it('reports a failed restore job as failed (exit 1) and records it', async () => {
  const list = JSON.parse((await runOps(['backup', 'list', '--atlas', '--json'], env)).stdout) as { snapshots: { id: string }[] };
  const run = await runOps(['restore', '--atlas', '--snapshot', list.snapshots[1]!.id, '--into', 'sb-broken', '--json'], env);
  expect(run.code).toBe(1);
  expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, state: 'failed', job: { failed: true, targetClusterName: 'sb-broken', deliveryType: 'automated' } });
  expect(run.stderr).toMatch(/restore job [a-f0-9]{24}: failed/);
  expect(readAudit(stateDir).at(-1)).toMatchObject({ action: 'restore.atlas', outcome: 'failed', into: 'sb-broken' });
});

it('guards: one source, a target cluster, never the source cluster without --yes, inside the window', async () => {
  expect((await runOps(['restore', '--atlas', '--snapshot', 'x', '--point-in-time', '2026-06-15T11:00:00Z', '--into', 'a'], env)).stderr).toContain('exactly one of --point-in-time');
  expect((await runOps(['restore', '--atlas', '--snapshot', 'x'], env)).stderr).toContain('needs --into <cluster>');
  const self = await runOps(['restore', '--atlas', '--point-in-time', '2026-06-15T11:00:00Z', '--into', 'sb-prod'], env);
  expect(self.code).toBe(2);
  expect(self.stderr).toContain('is the source cluster itself');
  const old = await runOps(['restore', '--atlas', '--point-in-time', '2026-06-01T00:00:00Z', '--into', 'sb-restore'], env);
  expect(old.code).toBe(1);
  expect(old.stderr).toContain('Atlas API 400 INVALID_POINT_IN_TIME');
});

it('authenticates a service account with the client-credentials token instead of digest', async () => {
  const { ATLAS_PUBLIC_KEY: _p, ATLAS_PRIVATE_KEY: _k, ...rest } = env;
  const run = await runOps(['backup', 'list', '--atlas'], { ...rest, ATLAS_CLIENT_ID: 'mdb_sa_id_1', ATLAS_CLIENT_SECRET: 'mdb_sa_sk_1' });
  expect(run.code).toBe(0);
  const bad = await runOps(['backup', 'list', '--atlas'], { ...rest, ATLAS_CLIENT_ID: 'mdb_sa_id_1', ATLAS_CLIENT_SECRET: 'nope' });
  expect(bad.code).toBe(1);
});

it('sent exactly the recorded exchanges (requests, statuses, response shapes)', () => {
  if (process.env.UPDATE_ATLAS_FIXTURES === '1') fs.writeFileSync(fixture, `${JSON.stringify(double.exchanges, null, 2)}\n`);
  const recorded = JSON.parse(fs.readFileSync(fixture, 'utf8')) as Exchange[];
  expect(double.exchanges).toEqual(recorded);
});
