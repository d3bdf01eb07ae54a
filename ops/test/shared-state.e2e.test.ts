import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $, type ProcessPromise } from 'zx';
import { repoRoot } from '../services/paths';
import { startMinio, type RunningMinio } from '../services/minio';
import type { OpsState } from '../state/ops-state';
import { s3State } from '../state/s3-state';
import { digestOf, imageOf } from './fake-stack';
import { sleep } from './helpers';

/**
 * Two `ops` runners (real processes, each with its own state dir, as two CI runners or a runner and a
 * laptop would be) sharing one environment through MinIO: one lock, one release history, one audit.
 */
let minio: RunningMinio;
let state: OpsState;
let base: NodeJS.ProcessEnv;
const dirs: string[] = [];
const bucket = 'switchboard-backups';
const harness = path.join(__dirname, 'ops-with-fake-stack.ts');
/** Node with tsx's CommonJS hook in the same process (the tsx CLI would put a child process in between, which a SIGKILL would orphan). */
const node = [process.execPath, '--require', require.resolve('tsx/cjs')];
const ttlMs = 2_000;
let prefix = 0;

beforeAll(async () => {
  minio = await startMinio();
  const client = { endpoint: minio.endpoint, region: minio.region, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } };
  const s3 = new S3Client({ ...client, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
}, 300_000);
afterAll(async () => {
  await minio?.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  const p = `ops-e2e-${++prefix}`;
  state = s3State({ bucket, prefix: p, client: { endpoint: minio.endpoint, region: minio.region, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } } });
  base = {
    ...process.env,
    OPS_STATE_URL: `s3://${bucket}/${p}`, BACKUP_S3_ENDPOINT: minio.endpoint, AWS_REGION: minio.region,
    AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey, OPS_LOCK_TTL: `${ttlMs}ms`,
    // The lock is under test, not the checks around the rollout: the recorded fake stack has no core to
    // check, and preflight's tests item would start `npm test` (this suite again) inside each runner.
    OPS_SKIP_PREFLIGHT: 'all', OPS_SKIP_VERIFY: 'the recorded fake stack has no core to verify',
  };
});

/** One runner: `ops <args>` in its own process and its own (empty) state directory. */
function runner(user: string, fake: object, args: string[]): ProcessPromise {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ops-runner-${user}-`));
  dirs.push(dir);
  const env = { ...base, OPS_USER: user, OPS_STATE_DIR: dir, OPS_FAKE_STACK: JSON.stringify({ initialTag: 'sha-aaa', ...fake }) };
    // exec: the shell zx starts becomes the ops process, so a signal reaches ops itself.
  return $({ env, nothrow: true, quiet: true, cwd: repoRoot })`exec ${node} ${harness} ${args}`;
}
const deployArgs = (tag: string, ...extra: string[]) => ['deploy', '--env', 'production', '--version', digestOf(tag), '--yes', ...extra];

async function lockHeldBy(owner: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await state.readLock('production'))?.owner !== owner) {
    if (Date.now() > deadline) throw new Error(`${owner} did not take the lock within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Resolves once the queued runner (whose stderr `seen` returns so far) says it waits for `owner`'s lock. */
async function queuedBehind(seen: () => string, owner: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!seen().includes(`(--lock-wait): held by ${owner}`)) {
    if (Date.now() > deadline) throw new Error(`the queued runner did not wait for ${owner} within ${timeoutMs} ms:\n${seen()}`);
    await sleep(50);
  }
}

/** What a running runner has written on stderr so far. */
function stderrSoFar(run: ProcessPromise): () => string {
  let seen = '';
  run.stderr.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  return () => seen;
}

test('the second runner is refused naming the first, or with --lock-wait queues behind it; the heartbeat outlives the TTL; numbers never collide', async () => {
  // Alice's rollout ends only when the test opens this gate, however long the runners take to start.
  const gate = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ops-gate-')), 'rollout-done');
  dirs.push(path.dirname(gate));
  const first = runner('alice', { upUntilFile: gate }, deployArgs('sha-1', '-m', 'ship search'));
  await lockHeldBy('alice');
  const acquired = (await state.readLock('production'))!;
  // Wait past the first expiry: only the heartbeat keeps the lock now.
  await sleep(ttlMs + 300);
  const queuing = runner('bob', {}, deployArgs('sha-2', '--lock-wait', '60s', '-m', 'after alice'));
  const queuingLog = stderrSoFar(queuing);
  const refused = await runner('bob', {}, deployArgs('sha-2'));
  expect(refused.exitCode).toBe(3);
  expect(refused.stderr).toMatch(/deploy refused: the deploy lock for production is held by alice .*"ship search", ops deploy on /);
  const renewedLock = (await state.readLock('production'))!;
  expect(renewedLock.id).toBe(acquired.id);
  expect(Date.parse(renewedLock.heartbeatAt)).toBeGreaterThan(Date.parse(acquired.heartbeatAt));
  await queuedBehind(queuingLog, 'alice');
  fs.writeFileSync(gate, '');

  const done = await first;
  const queued = await queuing;
  expect(done.exitCode).toBe(0);
  expect(queued.stderr).toContain('waiting for the lock of production (--lock-wait): held by alice ("ship search"');
  expect(queued.exitCode).toBe(0);

  const releases = await state.listReleases('production');
  expect(releases.map((r) => `${r.id}:${r.who}:${r.status}:${r.image}`)).toEqual([`v1:alice:succeeded:${imageOf('sha-1')}`, `v2:bob:succeeded:${imageOf('sha-2')}`]);
  const audit = (await state.readAudit({ env: 'production' })).map((e) => `${e.who}:${e.action}:${e.outcome}`);
  expect(audit).toEqual(['alice:deploy:started', 'bob:deploy:refused', 'alice:deploy:succeeded', 'bob:deploy:started', 'bob:deploy:succeeded']);
  expect(await state.readLock('production')).toBeUndefined();
}, 120_000);

test('SIGKILL of the holder frees the lock within its heartbeat expiry, and the next runner records the takeover', async () => {
  const first = runner('alice', { hangUp: true }, deployArgs('sha-1', '-m', 'long rollout'));
  await lockHeldBy('alice');
  await sleep(200);
  first.kill('SIGKILL');
  const killed = await first;
  const killedAt = Date.now();
  expect(killed.signal).toBe('SIGKILL');

  const next = await runner('bob', {}, deployArgs('sha-2', '--lock-wait', '60s'));
  expect(next.exitCode).toBe(0);
  const expired = /took over the deploy lock of alice \("long rollout"\): expired at (\S+) \(no heartbeat since (\S+)\)/.exec(next.stderr);
  expect(expired).not.toBeNull();
  // The dead holder's lock expired one TTL after its last heartbeat, which came before the SIGKILL:
  // the lock was free within the heartbeat expiry, not after 30 minutes.
  expect(Date.parse(expired![1]!)).toBeLessThanOrEqual(killedAt + ttlMs);
  expect(Date.parse(expired![1]!) - Date.parse(expired![2]!)).toBe(ttlMs);
  const takeover = (await state.readAudit({ env: 'production' })).find((e) => e.action === 'lock.takeover')!;
  expect(takeover).toMatchObject({ who: 'bob', detail: expect.stringContaining('from alice') });
  console.log(`[shared-state e2e] lock TTL ${ttlMs} ms: expired ${Date.parse(expired![1]!) - killedAt} ms after the SIGKILL, taken over ${Date.parse(takeover.at) - killedAt} ms after it`);
  const releases = await state.listReleases('production');
  expect(releases.map((r) => `${r.id}:${r.who}:${r.status}`)).toEqual(['v1:alice:pending', 'v2:bob:succeeded']);
}, 120_000);
