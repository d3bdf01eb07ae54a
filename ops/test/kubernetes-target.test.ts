import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { injectKubernetes } from '../commands/common';
import { readAudit } from '../state/audit-log';
import { readLock } from '../state/lock';
import { listReleases } from '../state/releases';
import { IMAGE_KEY, imageVersion, resolveImage } from '../targets/kubernetes/stack-runner';
import { fakeStack, repo } from './fake-stack';
import { runOps } from './helpers';

let stateDir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-k8s-'));
  // Preflight and verify need the stack's real services; these tests are about the rollout (ops/preflight and ops/verify have their own).
  env = { OPS_STATE_DIR: stateDir, OPS_USER: 'dana', OPS_SKIP_PREFLIGHT: 'all', OPS_SKIP_VERIFY: 'the recorded fake stack has no core to verify' };
});
afterEach(() => {
  injectKubernetes({});
  fs.rmSync(stateDir, { recursive: true, force: true });
});

const use = (options: Omit<Parameters<typeof fakeStack>[0], 'stateDir' | 'stack'>) => {
  const fake = fakeStack({ stack: 'production', stateDir, ...options });
  injectKubernetes({ runner: fake.runner, probe: fake.probe, pollMs: 1, verifyTimeoutMs: 200 });
  return fake;
};

test('--dry-run prints the exact plan and touches nothing', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  const run = await runOps(['deploy', '--env', 'production', '--version', 'sha-bbb', '--dry-run', '--json'], env);
  expect(run.code).toBe(0);
  const { plan } = JSON.parse(run.stdout) as { plan: string[] };
  expect(plan).toEqual([
    'take the deploy lock for production ("deploy sha-bbb", owner dana)',
    'preflight: no item; refuse the deploy if one fails (skipped: typecheck, lint, tests, audit, config, mongodb, indexes, redis, s3, tls, backup, alerts)',
    `read the current image: pulumi config get --path ${IMAGE_KEY} --stack production (program ${path.resolve(__dirname, '..', '..', 'infra')})`,
    `record v1: image ${repo}:sha-bbb`,
    `pulumi config set --path ${IMAGE_KEY} ${repo}:sha-bbb --stack production`,
    'pulumi up --stack production --yes   (Deployment rolling update; Pulumi waits until the new pods are ready)',
    'wait until https://<stack output appHost>/health reports version sha-bbb (3 answers in a row, timeout 0 s)',
    'smoke test through https://<stack output appHost>: GET /ready = 200, GET /api/openapi.json',
    `on any failure: pulumi config set --path ${IMAGE_KEY} <previous image>, pulumi up, wait for the previous version; record v1 failed`,
    'skip ops verify: the recorded fake stack has no core to verify (OPS_SKIP_VERIFY)',
    'release the deploy lock',
  ]);
  expect(fake.calls).toEqual([`getConfig ${IMAGE_KEY}`]); // read-only
  expect(listReleases(stateDir, 'production')).toEqual([]);
});

test('deploy: set tag → up (lock held) → wait for the version → smoke → record succeeded', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  const run = await runOps(['deploy', '--env', 'production', '--version', 'sha-bbb', '--yes', '-m', 'ship search'], env);
  expect(run.stderr).toContain('✓ pulumi up');
  expect(run.code).toBe(0);
  expect(fake.calls).toEqual([
    `getConfig ${IMAGE_KEY}`,
    `getConfig ${IMAGE_KEY}`,
    `setConfig ${IMAGE_KEY}=${repo}:sha-bbb`,
    'up sha-bbb',
    'outputs',
    'GET /health', 'GET /health', 'GET /health',
    'GET /ready',
    'GET /api/openapi.json',
  ]);
  expect(fake.locksSeenDuringUp).toEqual(['dana']);
  expect(readLock(stateDir, 'production')).toBeUndefined();
  expect(listReleases(stateDir, 'production')).toEqual([expect.objectContaining({ id: 'v1', status: 'succeeded', image: `${repo}:sha-bbb`, version: 'sha-bbb', who: 'dana', description: 'ship search' })]);
  expect(readAudit(stateDir).map((e) => `${e.action}:${e.outcome}`)).toEqual(['deploy:started', 'deploy:succeeded']);
});

test('a release that fails the smoke test is rolled back to the previous tag and recorded failed', async () => {
  const fake = use({ initialTag: 'sha-aaa', unready: ['sha-bad'] });
  const run = await runOps(['deploy', '--env', 'production', '--version', 'sha-bad', '--yes'], env);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('failed at "smoke test"');
  expect(run.stderr).toContain('switched back automatically');
  expect(fake.calls).toEqual([
    `getConfig ${IMAGE_KEY}`,
    `getConfig ${IMAGE_KEY}`,
    `setConfig ${IMAGE_KEY}=${repo}:sha-bad`,
    'up sha-bad',
    'outputs',
    'GET /health', 'GET /health', 'GET /health',
    'GET /ready',
    `setConfig ${IMAGE_KEY}=${repo}:sha-aaa`,
    'up sha-aaa',
    'outputs',
    'GET /health', 'GET /health', 'GET /health',
  ]);
  expect(fake.serving()).toBe('sha-aaa');
  expect(listReleases(stateDir, 'production')[0]).toMatchObject({ status: 'failed', image: `${repo}:sha-bad` });
});

test('a failed `up` rolls back too; with no previous tag nothing is rolled back and the failure says so', async () => {
  const fake = use({ initialTag: 'sha-aaa', failUp: ['sha-x'] });
  const run = await runOps(['deploy', '--env', 'production', '--version', 'sha-x', '--yes'], env);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('pulumi up failed');
  expect(fake.calls).toContain('up sha-aaa');
  expect(fake.config.get(IMAGE_KEY)).toBe(`${repo}:sha-aaa`);

  const fresh = use({ failUp: ['sha-y'] });
  const first = await runOps(['deploy', '--env', 'production', '--version', `${repo}:sha-y`, '--yes'], env);
  expect(first.code).toBe(1);
  expect(fresh.calls.filter((c) => c.startsWith('up'))).toEqual(['up sha-y']);
  expect(first.stderr).toContain('may be partly serving');
});

test('rollback redeploys the previous good image and marks the current release rolled back', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  expect((await runOps(['deploy', '--env', 'production', '--version', 'sha-1', '--yes'], env)).code).toBe(0);
  expect((await runOps(['deploy', '--env', 'production', '--version', 'sha-2', '--yes'], env)).code).toBe(0);
  fake.calls.length = 0;
  const run = await runOps(['rollback', '--env', 'production', '--yes'], env);
  expect(run.code).toBe(0);
  expect(fake.calls.slice(0, 3)).toEqual([`getConfig ${IMAGE_KEY}`, `setConfig ${IMAGE_KEY}=${repo}:sha-1`, 'up sha-1']);
  const releases = listReleases(stateDir, 'production');
  expect(releases.map((r) => `${r.id}:${r.kind}:${r.status}:${r.artifact}`)).toEqual(['v1:deploy:succeeded:v1', 'v2:deploy:rolled-back:v2', 'v3:rollback:succeeded:v1']);
});

test('a held lock refuses the deploy before any Pulumi call', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  expect((await runOps(['lock', 'acquire', '--env', 'production', '-m', 'incident 7: freeze'], { ...env, OPS_USER: 'erin' })).code).toBe(0);
  const run = await runOps(['deploy', '--env', 'production', '--version', 'sha-2', '--yes'], env);
  expect(run.code).toBe(3);
  expect(run.stderr).toContain('incident 7: freeze');
  expect(fake.calls).toEqual([]);
});

test('kubernetes deploys need an image tag and explicit confirmation when not interactive', async () => {
  use({});
  const noTag = await runOps(['deploy', '--env', 'production', '--yes'], env);
  expect(noTag.code).toBe(2);
  expect(noTag.stderr).toContain('next: ops deploy --env production --version <image reference');
  const noYes = await runOps(['deploy', '--env', 'production', '--version', 'sha-1'], env);
  expect(noYes.code).toBe(2);
  expect(noYes.stderr).toContain('add --yes');
  const blueGreen = await runOps(['deploy', '--env', 'production', '--version', 'sha-1', '--strategy', 'bluegreen', '--yes'], env);
  expect(blueGreen.code).toBe(2);
  expect(blueGreen.stderr).toContain('next: ops deploy --env production --strategy rolling');
});

test('status samples the instances through the public URL', async () => {
  use({ initialTag: 'sha-aaa' });
  const run = await runOps(['status', '--env', 'production', '--json'], env);
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ url: 'https://chat.example.test', healthy: true, current: `${repo}:sha-aaa`, instances: [{ id: 'pod-sha-aaa', version: 'sha-aaa' }] });
});

test('--version accepts a full reference, a digest or a tag of the current repository', () => {
  expect(resolveImage('ghcr.io/other/img:v2', `${repo}:v1`)).toBe('ghcr.io/other/img:v2');
  expect(resolveImage('v2', `${repo}:v1`)).toBe(`${repo}:v2`);
  const digest = `sha256:${'ab'.repeat(32)}`;
  expect(resolveImage(digest, `${repo}@sha256:${'cd'.repeat(32)}`)).toBe(`${repo}@${digest}`);
  expect(imageVersion(`${repo}@${digest}`)).toBe('abababababab');
  expect(() => resolveImage('v2', undefined)).toThrow(/full image reference/);
});
