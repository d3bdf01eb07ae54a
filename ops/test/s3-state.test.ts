import { CreateBucketCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { startMinio, type RunningMinio } from '../services/minio';
import { holdLock } from '../state/lock-holder';
import { LockHeldError, LockLostError } from '../state/lock';
import type { OpsState } from '../state/ops-state';
import { s3State } from '../state/s3-state';

let minio: RunningMinio;
let s3: S3Client;
const bucket = 'switchboard-backups';
let prefixes = 0;
let client: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
/** Two runners = two independent clients of the same bucket prefix. */
let a: OpsState;
let b: OpsState;

beforeAll(async () => {
  minio = await startMinio(); // builds MinIO once (~3 min) when the cache is empty
  client = { endpoint: minio.endpoint, region: minio.region, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } };
  s3 = new S3Client({ ...client, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
}, 300_000);
afterAll(async () => {
  s3?.destroy();
  await minio?.stop();
});
beforeEach(() => {
  const prefix = `ops-${++prefixes}`;
  a = s3State({ bucket, prefix, client });
  b = s3State({ bucket, prefix, client });
});

const status = async (p: Promise<unknown>) => p.then(() => 200, (e: unknown) => (e instanceof S3ServiceException ? e.$metadata.httpStatusCode : String(e)));

// The lock relies on these (the pinned MinIO ignores If-Match on DeleteObject, so release never deletes: s3-state.ts).
test('this MinIO honours If-None-Match and If-Match on PutObject', async () => {
  const Key = 'conditional/probe.json';
  const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: '1', IfNoneMatch: '*' }));
  expect(await status(s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: '2', IfNoneMatch: '*' })))).toBe(412);
  expect(await status(s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: '3', IfMatch: '"0123456789abcdef0123456789abcdef"' })))).toBe(412);
  const second = await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: '4', IfMatch: first.ETag }));
  expect(second.ETag).not.toBe(first.ETag);
  expect(await status(s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: '5', IfMatch: first.ETag })))).toBe(412);
  expect(await status(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'conditional/missing.json', Body: '6', IfMatch: first.ETag })))).toBe(404);
});

const request = { owner: 'alice', message: 'deploy v7', ttlMs: 60_000, kind: 'command' as const, command: 'ops deploy' };

test('one runner holds the lock; the other is refused naming the holder, then takes it once released', async () => {
  const held = await a.acquireLock('production', request);
  await expect(b.acquireLock('production', { ...request, owner: 'bob' })).rejects.toThrow(LockHeldError);
  await expect(b.acquireLock('production', { ...request, owner: 'bob' })).rejects.toThrow(/held by alice .*"deploy v7"/);
  expect(await b.readLock('staging')).toBeUndefined();
  expect(await a.releaseLock('production', held)).toBe(true);
  const next = await b.acquireLock('production', { ...request, owner: 'bob' });
  expect(next.takenOver).toBeUndefined();
  expect((await a.readLock('production'))?.owner).toBe('bob');
});

test('a heartbeat extends the expiry; a renewal after a takeover reports the lock lost', async () => {
  const t0 = Date.parse('2026-01-01T10:00:00Z');
  const held = await a.acquireLock('production', { ...request, ttlMs: 30_000 }, t0);
  const renewedLock = await a.renewLock('production', held, t0 + 20_000);
  expect(renewedLock.lock.expiresAt).toBe(new Date(t0 + 50_000).toISOString());
  // Still live at t0+40s thanks to the heartbeat (the first expiry would have been t0+30s).
  await expect(b.acquireLock('production', { ...request, owner: 'bob' }, t0 + 40_000)).rejects.toThrow(LockHeldError);
  const taken = await b.acquireLock('production', { ...request, owner: 'bob' }, t0 + 50_001);
  expect(taken.takenOver).toMatchObject({ owner: 'alice', reason: expect.stringMatching(/expired at .*no heartbeat since/) });
  await expect(a.renewLock('production', renewedLock, t0 + 51_000)).rejects.toThrow(LockLostError);
  // The old holder's release must not remove the new holder's lock.
  expect(await a.releaseLock('production', renewedLock)).toBe(false);
  expect((await a.readLock('production'))?.owner).toBe('bob');
});

test('of two runners taking over the same expired lock at once, exactly one wins', async () => {
  const t0 = Date.parse('2026-01-01T10:00:00Z');
  await a.acquireLock('production', { ...request, ttlMs: 1_000 }, t0);
  const runners = Array.from({ length: 6 }, (_, i) => s3State({ bucket, prefix: `ops-${prefixes}`, client }).acquireLock('production', { ...request, owner: `r${i}` }, t0 + 5_000));
  const results = await Promise.allSettled(runners);
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LockHeldError);
});

test('holdLock renews on a heartbeat and aborts `lost` when someone force-releases the lock', async () => {
  const lostReasons: string[] = [];
  const session = await holdLock(a, 'production', { ...request, ttlMs: 300 }, { waitMs: 0, heartbeatMs: 30, onLost: (r) => lostReasons.push(r) });
  const firstBeat = session.held.lock.heartbeatAt;
  for (let i = 0; i < 100 && session.held.lock.heartbeatAt === firstBeat; i++) await new Promise((r) => setTimeout(r, 20));
  expect(session.held.lock.heartbeatAt).not.toBe(firstBeat);
  expect((await b.readLock('production'))?.heartbeatAt).toBe(session.held.lock.heartbeatAt);
  await b.forceReleaseLock('production');
  for (let i = 0; i < 100 && !session.lost.aborted; i++) await new Promise((r) => setTimeout(r, 20));
  expect(session.lost.aborted).toBe(true);
  expect(lostReasons).toEqual(['the lock was released by someone else']);
  expect(await session.release()).toBe(false);
});

test('--lock-wait: a second holder queues until the first releases', async () => {
  const first = await holdLock(a, 'production', request, { waitMs: 0 });
  const waits: string[] = [];
  const second = holdLock(b, 'production', { ...request, owner: 'bob' }, { waitMs: 10_000, onWait: (h) => waits.push(h.owner), sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))) });
  await new Promise((r) => setTimeout(r, 150));
  expect(waits).toEqual(['alice']);
  await first.release();
  const session = await second;
  expect(session.held.lock.owner).toBe('bob');
  await session.release();
  expect(await a.readLock('production')).toBeUndefined();
});

test('release numbers never collide between two runners; later states are new objects, the newest wins', async () => {
  const created = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).createRelease('production', { kind: 'deploy', version: `sha-${i}`, who: `r${i}`, description: `d${i}` })));
  expect(created.map((r) => r.seq).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
  const v2 = created.find((r) => r.id === 'v2')!;
  await a.saveRelease({ ...v2, status: 'succeeded', image: 'repo@sha256:1' });
  await b.saveRelease({ ...v2, status: 'rolled-back', image: 'repo@sha256:1', rolledBackBy: 'v6' });
  expect(await a.getRelease('production', 'v2')).toMatchObject({ status: 'rolled-back', rolledBackBy: 'v6' });
  const listed = await b.listReleases('production');
  expect(listed.map((r) => `${r.id}:${r.status}`)).toEqual(['v1:pending', 'v2:rolled-back', 'v3:pending', 'v4:pending', 'v5:pending', 'v6:pending']);
  expect(await a.listReleases('staging')).toEqual([]);
});

test('audit entries are immutable objects, read back in order and filtered by environment', async () => {
  await a.appendAudit({ at: '2026-01-01T10:00:00.000Z', who: 'alice', env: 'production', action: 'deploy', outcome: 'started', release: 'v1' });
  await b.appendAudit({ at: '2026-01-01T10:00:01.000Z', who: 'bob', env: 'staging', action: 'maintenance.on', outcome: 'succeeded' });
  await a.appendAudit({ at: '2026-01-01T10:00:02.000Z', who: 'alice', env: 'production', action: 'deploy', outcome: 'succeeded', release: 'v1' });
  expect((await b.readAudit()).map((e) => `${e.env}:${e.action}:${e.outcome}`)).toEqual(['production:deploy:started', 'staging:maintenance.on:succeeded', 'production:deploy:succeeded']);
  expect((await b.readAudit({ env: 'production', limit: 1 })).map((e) => e.outcome)).toEqual(['succeeded']);
});
