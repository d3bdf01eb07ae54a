import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { injectKubernetes } from '../commands/common';
import { readAudit } from '../state/audit-log';
import { readLock } from '../state/lock';
import { listReleases } from '../state/releases';
import { ociRegistry } from '../targets/kubernetes/registry-client';
import { configFileWithImage, IMAGE_KEY, imageVersion, parseVersion, policyRefusal, readStackConfig, stackConfigPath } from '../targets/kubernetes/stack-runner';
import { digestOf, fakeStack, imageOf, repo, versionOf, type FakeStackOptions } from './fake-stack';
import { runOps } from './helpers';
import { startRegistryDouble } from './registry-double';

let stateDir: string;
let env: NodeJS.ProcessEnv;
let registry: Awaited<ReturnType<typeof startRegistryDouble>>;
beforeAll(async () => {
  registry = await startRegistryDouble(['sha-aaa', 'sha-bbb', 'sha-bad', 'sha-x', 'sha-y', 'sha-1', 'sha-2', 'sha-smoke', 'sha-hang']);
});
afterAll(() => registry.close());
beforeEach(() => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-k8s-'));
  // Preflight and verify need the stack's real services; these tests are about the rollout (ops/preflight and ops/verify have their own).
  // OPS_STATE_URL=dir:…: this stack's shared state, on purpose in a directory (a stack without one is refused).
  env = { OPS_STATE_DIR: stateDir, OPS_STATE_URL: `dir:${stateDir}`, OPS_USER: 'dana', OPS_SKIP_PREFLIGHT: 'all', OPS_SKIP_VERIFY: 'the recorded fake stack has no core to verify' };
  registry.requests.length = 0;
});
afterEach(() => {
  injectKubernetes({});
  fs.rmSync(stateDir, { recursive: true, force: true });
});

const use = (options: Omit<FakeStackOptions, 'stack'>) => {
  const fake = fakeStack({ stack: 'production', lockOwner: async () => readLock(stateDir, 'production')?.owner, ...options });
  injectKubernetes({ runner: fake.runner, probe: fake.probe, pods: fake.pods, smoke: fake.smoke, registry: ociRegistry({ baseUrl: () => registry.url }), pollMs: 1, verifyTimeoutMs: 200 });
  return fake;
};
const deploy = (version: string, ...extra: string[]) => runOps(['deploy', '--env', 'production', '--version', version, '--yes', ...extra], env);
/** The calls of one healthy rollout of `tag`: up, every pod checked, the public URL 3 times, the smoke test. */
const rollout = (tag: string, smoke = true) => [
  `up ${versionOf(tag)}`,
  'pods', 'GET pod/ready', 'GET pod/health', 'GET pod/ready', 'GET pod/health',
  'outputs', 'GET /health', 'GET /health', 'GET /health',
  ...(smoke ? ['smoke https://chat.example.test'] : []),
];

test('--dry-run prints the exact plan and touches nothing', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  const run = await runOps(['deploy', '--env', 'production', '--version', 'sha-bbb', '--dry-run', '--json'], env);
  expect(run.code).toBe(0);
  const { plan } = JSON.parse(run.stdout) as { plan: string[] };
  expect(plan[0]).toBe(`take the deploy lock for production ("deploy sha-bbb", owner dana; state dir:${stateDir})`);
  expect(plan[1]).toBe('preflight: no item; refuse the deploy if one fails (skipped: typecheck, lint, tests, audit, config, mongodb, indexes, redis, s3, tls, backup, alerts)');
  expect(plan[2]).toBe(`read the image serving now: the release history (none yet), else ${IMAGE_KEY} in ${path.resolve(__dirname, '..', '..', 'infra', 'Pulumi.production.yaml')} (read only)`);
  expect(plan[3]).toBe(`record v1: image ${repo}@<digest of :sha-bbb, resolved from the registry>`);
  expect(plan.join('\n')).toMatch(/pulumi preview --diff .*--policy-pack \S*infra\/policy\/analyzer .*temporary config file.*stop on a mandatory policy violation .*or if anything besides the image would change/);
  expect(plan.join('\n')).toContain('every pod of the core runs <digest> and answers /ready 200');
  expect(plan.join('\n')).toContain('authenticated create conversation, send, read back');
  expect(plan.at(-2)).toBe('skip ops verify: the recorded fake stack has no core to verify (OPS_SKIP_VERIFY)');
  expect(fake.calls).toEqual([`readConfig ${IMAGE_KEY}`]); // read-only
  expect(registry.requests).toEqual([]);
  expect(listReleases(stateDir, 'production')).toEqual([]);
});

test('deploy of a tag: resolve to a digest → preview → up with the image (lock held) → every pod → public URL → smoke → record', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  const run = await deploy('sha-bbb', '-m', 'ship search');
  expect(run.stderr).toContain('✓ pulumi up');
  expect(run.code).toBe(0);
  expect(registry.requests).toEqual([
    'HEAD /v2/example/switchboard-core/manifests/sha-bbb',
    'GET /token?service=registry.test&scope=repository%3Aexample%2Fswitchboard-core%3Apull',
    'HEAD /v2/example/switchboard-core/manifests/sha-bbb (Bearer)',
  ]);
  expect(fake.calls).toEqual([`readConfig ${IMAGE_KEY}`, `readConfig ${IMAGE_KEY}`, `preview ${versionOf('sha-bbb')}`, ...rollout('sha-bbb')]);
  expect(fake.locksSeenDuringUp).toEqual(['dana']);
  expect(readLock(stateDir, 'production')).toBeUndefined();
  expect(fake.committed.get(IMAGE_KEY)).toBe(imageOf('sha-aaa')); // the stack config is never written
  expect(listReleases(stateDir, 'production')).toEqual([expect.objectContaining({ id: 'v1', status: 'succeeded', image: imageOf('sha-bbb'), version: versionOf('sha-bbb'), who: 'dana', description: 'ship search' })]);
  expect(readAudit(stateDir).map((e) => `${e.action}:${e.outcome}`)).toEqual(['deploy:started', 'deploy:succeeded']);
});

test('the current image comes from the release history, not from the committed stack config', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  expect((await deploy('sha-1')).code).toBe(0);
  fake.calls.length = 0;
  expect((await deploy('sha-bad')).code).toBe(0);
  // Neither the image lookup nor anything else read the stack file: v1's record named the serving image.
  expect(fake.calls.filter((c) => c.startsWith('readConfig'))).toEqual([]);
});

test('a digest is used as given; an unknown tag fails before anything changes', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  const digest = digestOf('sha-2');
  expect((await deploy(digest)).code).toBe(0);
  expect(registry.requests).toEqual([]);
  expect(listReleases(stateDir, 'production')[0]).toMatchObject({ image: `${repo}@${digest}` });
  fake.calls.length = 0;
  const unknown = await deploy('no-such-tag');
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain(`${repo}:no-such-tag does not exist`);
  expect(fake.calls.filter((c) => /^(preview|up)/.test(c))).toEqual([]);
});

test('a mandatory policy violation in the preview refuses the deploy before up, naming the policy, the resource and the fix', async () => {
  // What the real runner throws when the engine reports a mandatory violation of infra/policy (ops/test/policy-pack-engine.test.ts).
  const previewError = policyRefusal('production', [{ policy: 'k8s-replicas-in-production', enforcementLevel: 'mandatory', urn: 'urn:pulumi:production::switchboard::switchboard:infra:SwitchboardApp$kubernetes:apps/v1:Deployment::app-core', message: 'In production, Deployments run at least 2 replicas and HPAs keep at least 3.\napp-core: fewer than 2 replicas' }], 'the preview');
  const fake = use({ initialTag: 'sha-aaa', previewError });
  const refused = await deploy('sha-bbb');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('the policy pack refused the preview of production');
  expect(refused.stderr).toContain('✗ policy k8s-replicas-in-production (mandatory): kubernetes:apps/v1:Deployment app-core: app-core: fewer than 2 replicas');
  expect(refused.stderr).toContain('fix: In production, Deployments run at least 2 replicas and HPAs keep at least 3.');
  expect(refused.stderr).toContain('pulumi preview --stack production --policy-pack policy/analyzer');
  expect(fake.calls.filter((c) => c.startsWith('up'))).toEqual([]);
  expect(listReleases(stateDir, 'production')[0]).toMatchObject({ status: 'failed' });
});

test('drift: a preview that changes more than the image is shown and nothing is applied, unless --allow-drift', async () => {
  const drift = [{ urn: 'urn:pulumi:production::switchboard::aws:s3/bucketV2:BucketV2::media', type: 'aws:s3/bucketV2:BucketV2', op: 'update', paths: ['lifecycleRules[0].expiration.days'] }];
  const fake = use({ initialTag: 'sha-aaa', drift });
  const refused = await deploy('sha-bbb');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('update   aws:s3/bucketV2:BucketV2 media: lifecycleRules[0].expiration.days');
  expect(refused.stderr).toContain('1 change(s) besides the image');
  expect(refused.stderr).toContain('--allow-drift');
  expect(fake.calls.filter((c) => c.startsWith('up'))).toEqual([]);
  expect(listReleases(stateDir, 'production')[0]).toMatchObject({ status: 'failed' });

  const allowed = await deploy('sha-bbb', '--allow-drift');
  expect(allowed.code).toBe(0);
  expect(allowed.stderr).toContain('--allow-drift: applying 1 change(s) besides the image');
  expect(fake.calls.filter((c) => c.startsWith('up'))).toEqual([`up ${versionOf('sha-bbb')}`]);
});

test('Ctrl-C during pulumi up cancels it cleanly, records the release interrupted and releases the lock', async () => {
  let upStarted!: () => void;
  const started = new Promise<void>((resolve) => { upStarted = resolve; });
  const fake = use({ initialTag: 'sha-aaa', hangUp: true, onUp: () => upStarted() });
  const running = deploy('sha-hang');
  await started;
  process.emit('SIGINT', 'SIGINT');
  const run = await running;
  expect(run.code).toBe(130);
  expect(run.stderr).toContain('SIGINT: cancelling cleanly');
  expect(run.stderr).toContain('deploy v1 interrupted at "pulumi up": interrupted by SIGINT');
  expect(fake.calls.slice(-2)).toEqual([`up ${versionOf('sha-hang')}`, 'up cancelled']);
  expect(fake.calls.filter((c) => c.startsWith('up'))).toHaveLength(2); // no automatic rollback after a cancel
  expect(listReleases(stateDir, 'production')[0]).toMatchObject({ status: 'interrupted', error: expect.stringContaining('interrupted by SIGINT') });
  expect(readLock(stateDir, 'production')).toBeUndefined();
  expect(process.listenerCount('SIGINT')).toBe(0);
});

test('a deploy whose lock is force-released meanwhile notices at its next heartbeat and cancels pulumi up', async () => {
  let upStarted!: () => void;
  const started = new Promise<void>((resolve) => { upStarted = resolve; });
  use({ initialTag: 'sha-aaa', hangUp: true, onUp: () => upStarted() });
  const running = runOps(['deploy', '--env', 'production', '--version', 'sha-hang', '--yes'], { ...env, OPS_LOCK_TTL: '300ms' });
  await started;
  expect((await runOps(['lock', 'release', '--env', 'production'], { ...env, OPS_USER: 'erin' })).stdout).toContain('released the lock of dana');
  const run = await running;
  expect(run.code).toBe(130);
  expect(run.stderr).toContain('lost the lock of production: the lock was released by someone else; stopping');
  expect(listReleases(stateDir, 'production')[0]).toMatchObject({ status: 'interrupted', error: expect.stringContaining('lock lost') });
});

test('pods answering /ready 503 fail the gate: the previous image is put back and the release recorded failed', async () => {
  const fake = use({ initialTag: 'sha-aaa', unready: ['sha-bad'] });
  const run = await deploy('sha-bad');
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('failed at "verify the rollout"');
  expect(run.stderr).toContain(`/ready answered 503`);
  expect(run.stderr).toContain('switched back automatically');
  expect(fake.calls).toContain(`up ${versionOf('sha-aaa')}`);
  expect(fake.serving()).toBe(imageOf('sha-aaa'));
  expect(listReleases(stateDir, 'production')[0]).toMatchObject({ status: 'failed', image: imageOf('sha-bad') });
});

test('a failing smoke test (e.g. a 503 from the API) rolls back too', async () => {
  const fake = use({ initialTag: 'sha-aaa', smokeFails: ['sha-smoke'] });
  const run = await deploy('sha-smoke');
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('failed at "smoke test"');
  expect(run.stderr).toContain('answered 503');
  expect(fake.calls.slice(-rollout('sha-aaa', false).length)).toEqual(rollout('sha-aaa', false));
});

test('a failed `up` rolls back; with no previous image nothing is rolled back and the failure says so', async () => {
  const fake = use({ initialTag: 'sha-aaa', failUp: ['sha-x'] });
  const run = await deploy('sha-x');
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('pulumi up failed');
  expect(fake.calls).toContain(`up ${versionOf('sha-aaa')}`);

  const fresh = use({ failUp: ['sha-y'] });
  fs.rmSync(stateDir, { recursive: true, force: true });
  const first = await deploy(`${repo}:sha-y`);
  expect(first.code).toBe(1);
  expect(fresh.calls.filter((c) => c.startsWith('up'))).toEqual([`up ${versionOf('sha-y')}`]);
  expect(first.stderr).toContain('nothing to roll back to');
  expect(first.stderr).toContain('may be partly serving');
});

test('an unreadable stack config is an error, not "no previous image"', async () => {
  const fake = use({ initialTag: 'sha-aaa', configError: 'cannot parse the stack config infra/Pulumi.production.yaml: bad indentation' });
  const run = await deploy(digestOf('sha-1'));
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('cannot parse the stack config');
  expect(fake.calls.filter((c) => /^(preview|up)/.test(c))).toEqual([]);
});

test('rollback redeploys the previous good image from the history and marks the current release rolled back', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  expect((await deploy('sha-1')).code).toBe(0);
  expect((await deploy('sha-2')).code).toBe(0);
  fake.calls.length = 0;
  const run = await runOps(['rollback', '--env', 'production', '--yes'], env);
  expect(run.code).toBe(0);
  expect(fake.calls).toEqual([`preview ${versionOf('sha-1')}`, ...rollout('sha-1')]);
  expect(fake.serving()).toBe(imageOf('sha-1'));
  const releases = listReleases(stateDir, 'production');
  expect(releases.map((r) => `${r.id}:${r.kind}:${r.status}:${r.artifact}`)).toEqual(['v1:deploy:succeeded:v1', 'v2:deploy:rolled-back:v2', 'v3:rollback:succeeded:v1']);
});

test('a held lock refuses the deploy before any Pulumi call', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  expect((await runOps(['lock', 'acquire', '--env', 'production', '-m', 'incident 7: freeze', '--ttl', '1h'], { ...env, OPS_USER: 'erin' })).code).toBe(0);
  const run = await deploy(digestOf('sha-2'));
  expect(run.code).toBe(3);
  expect(run.stderr).toContain('incident 7: freeze');
  expect(run.stderr).toContain('--lock-wait');
  expect(fake.calls.filter((c) => !c.startsWith('readConfig'))).toEqual([]);
});

test('a manual lock keeps others out: its holder deploys under it, others are refused unless they have its token', async () => {
  use({ initialTag: 'sha-aaa' });
  const held = await runOps(['lock', 'acquire', '--env', 'production', '-m', 'maintenance window', '--ttl', '2h', '--json'], { ...env, OPS_USER: 'erin' });
  expect(held.code).toBe(0);
  const { token } = JSON.parse(held.stdout) as { token: string };
  expect((await runOps(['deploy', '--env', 'production', '--version', digestOf('sha-1'), '--yes'], { ...env, OPS_USER: 'erin' })).code).toBe(0);
  expect((await deploy(digestOf('sha-2'))).code).toBe(3); // dana
  expect((await runOps(['deploy', digestOf('sha-2'), '--env', 'production', '--yes'], { ...env, OPS_LOCK_TOKEN: token })).code).toBe(0);
  expect(readLock(stateDir, 'production')).toMatchObject({ owner: 'erin', kind: 'manual' });
  expect(listReleases(stateDir, 'production').map((r) => `${r.id}:${r.who}:${r.status}`)).toEqual(['v1:erin:succeeded', 'v2:dana:succeeded']);
});

test('every changing command takes the lock (refused while it is held); read-only commands do not', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  expect((await runOps(['lock', 'acquire', '--env', 'production', '-m', 'freeze', '--ttl', '1h'], { ...env, OPS_USER: 'erin' })).code).toBe(0);
  expect((await runOps(['lock', 'acquire', '--env', 'local', '-m', 'freeze', '--ttl', '1h'], { ...env, OPS_USER: 'erin' })).code).toBe(0);
  // (deploy and rollback: the held-lock test above; restore --into <live>: the same wrapper, ops/backup/commands.ts)
  for (const argv of [['maintenance', 'on', '--env', 'production'], ['maintenance', 'off', '--env', 'production'], ['stop', '--env', 'local']]) {
    const run = await runOps(argv, { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect({ argv, code: run.code, refused: run.stderr.includes('held by erin') }).toEqual({ argv, code: 3, refused: true });
  }
  // Not refused (3). status exits 4: without REDIS_URL the maintenance flag is unknown, never "off".
  for (const [argv, code] of [[['status', '--env', 'production'], 4], [['releases', '--env', 'production'], 0], [['lock', 'status', '--env', 'production'], 0], [['audit', '--env', 'production'], 0]] as const) {
    expect({ argv, code: (await runOps([...argv], env)).code }).toEqual({ argv, code });
  }
  expect(readAudit(stateDir).filter((e) => e.outcome === 'refused').map((e) => `${e.env}:${e.action}`)).toEqual(['production:maintenance.on', 'production:maintenance.off', 'local:stop']);
  expect(fake.calls.filter((c) => /^(preview|up)/.test(c))).toEqual([]);
});

test('without the smoke test\'s token settings the deploy stops before anything changes', async () => {
  const fake = use({ initialTag: 'sha-aaa' });
  injectKubernetes({ runner: fake.runner, probe: fake.probe, pods: fake.pods, registry: ociRegistry({ baseUrl: () => registry.url }) });
  const run = await deploy(digestOf('sha-1'));
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('OPS_SMOKE_JWT_KEY');
  expect(fake.calls.filter((c) => /^(preview|up)/.test(c))).toEqual([]);
});

/**
 * The local cluster (infra/Pulumi.local-k8s.yaml, kwok as the kubelet) runs no containers: nothing answers a pod's
 * /ready, the public URL or the smoke test. OPS_SKIP_HTTP_GATE lets its deploy pass on what kwok does report (each
 * pod runs the image and is Ready), printed and recorded; any other stack refuses it before anything changes.
 */
test('OPS_SKIP_HTTP_GATE: on the local cluster\'s stack the gate is image + Ready only, said loudly and recorded; any other stack refuses it', async () => {
  const skipEnv = { ...env, OPS_SKIP_HTTP_GATE: 'kwok runs no containers' };
  const local = fakeStack({ stack: 'local-k8s', initialTag: 'sha-aaa', unready: ['sha-1'] }); // /ready would answer 503: never asked
  injectKubernetes({ runner: local.runner, probe: local.probe, pods: local.pods, registry: ociRegistry({ baseUrl: () => registry.url }), pollMs: 1, verifyTimeoutMs: 200 }); // no smoke test, no OPS_SMOKE_JWT_*
  const run = await runOps(['deploy', '--env', 'local-k8s', '--version', digestOf('sha-1'), '--yes'], skipEnv);
  if (run.code !== 0) process.stderr.write(run.stderr);
  expect(run.code).toBe(0);
  expect(run.stderr).toContain(`✓ every pod runs ${versionOf('sha-1')} and is Ready (HTTP checks skipped: OPS_SKIP_HTTP_GATE)`);
  expect(run.stderr).toContain('warning: NOT CHECKED on local-k8s: each pod\'s /ready and /health, the public URL and the smoke test (OPS_SKIP_HTTP_GATE: kwok runs no containers)');
  expect(local.calls.slice(local.calls.indexOf(`up ${versionOf('sha-1')}`))).toEqual([`up ${versionOf('sha-1')}`, 'pods']);
  const [record] = listReleases(stateDir, 'local-k8s');
  expect(record).toMatchObject({ status: 'succeeded', version: versionOf('sha-1') });
  expect(record!.steps?.map((s) => s.name)).toContain(`every pod runs ${versionOf('sha-1')} and is Ready (HTTP checks skipped: OPS_SKIP_HTTP_GATE)`);

  // ops status asks only what kwok reports and prints the rest as unknown (exit 4), never "DOWN".
  local.calls.length = 0;
  const status = await runOps(['status', '--env', 'local-k8s', '--json'], skipEnv);
  expect(status.code).toBe(4);
  const report = JSON.parse(status.stdout) as { instances: { version: string; ready: boolean }[]; unknowns: { what: string; reason: string }[] };
  expect(report.instances.map((i) => `${i.version}:${i.ready}`)).toEqual([`${versionOf('sha-1')}:true`, `${versionOf('sha-1')}:true`]);
  expect(report.unknowns.map((u) => u.what)).toEqual(expect.arrayContaining(['each pod\'s /health and /ready', 'front door']));
  expect(local.calls.filter((c) => c.startsWith('GET'))).toEqual([]);

  const production = use({ initialTag: 'sha-aaa' });
  const skipped = await runOps(['deploy', '--env', 'production', '--version', digestOf('sha-1'), '--yes'], skipEnv);
  expect(skipped.code).toBe(2);
  expect(skipped.stderr).toContain('OPS_SKIP_HTTP_GATE applies only to a local cluster\'s stack (switchboard:local in');
  expect(skipped.stderr).toContain('next: unset OPS_SKIP_HTTP_GATE, then rerun');
  expect(production.calls.filter((c) => /^(preview|up)/.test(c))).toEqual([]);
});

test('kubernetes deploys need an image and explicit confirmation when not interactive', async () => {
  use({});
  const noTag = await runOps(['deploy', '--env', 'production', '--yes'], env);
  expect(noTag.code).toBe(2);
  expect(noTag.stderr).toContain('next: ops deploy --env production --version <sha256:digest');
  const noYes = await runOps(['deploy', '--env', 'production', '--version', 'sha-1'], env);
  expect(noYes.code).toBe(2);
  expect(noYes.stderr).toContain('add --yes');
  const blueGreen = await runOps(['deploy', '--env', 'production', '--version', 'sha-1', '--strategy', 'bluegreen', '--yes'], env);
  expect(blueGreen.code).toBe(2);
  expect(blueGreen.stderr).toContain('next: ops deploy --env production --strategy rolling');
});

test('status reads every pod\'s version and readiness', async () => {
  use({ initialTag: 'sha-aaa', unready: ['sha-aaa'] });
  const run = await runOps(['status', '--env', 'production', '--json'], env);
  expect(run.code).toBe(1);
  const report = JSON.parse(run.stdout) as { instances: { id: string; version: string; ready: boolean }[]; problems: string[]; current: string };
  expect(report.current).toBe(imageOf('sha-aaa'));
  expect(report.instances.map((i) => `${i.id}:${i.version}:${i.ready}`)).toEqual([0, 1].map((n) => `core-${versionOf('sha-aaa')}-${n}:${versionOf('sha-aaa')}:false`));
  expect(report.problems).toEqual(expect.arrayContaining([`core-${versionOf('sha-aaa')}-0 not ready`, 'https://chat.example.test/ready answered 503']));
});

test('--version accepts a full reference, a digest or a tag of the current repository', () => {
  expect(parseVersion('ghcr.io/other/img:v2', `${repo}:v1`)).toEqual({ repository: 'ghcr.io/other/img', tag: 'v2' });
  expect(parseVersion('v2', `${repo}@${digestOf('v1')}`)).toEqual({ repository: repo, tag: 'v2' });
  const digest = `sha256:${'ab'.repeat(32)}`;
  expect(parseVersion(digest, `${repo}@sha256:${'cd'.repeat(32)}`)).toEqual({ repository: repo, digest });
  expect(parseVersion(`${repo}@${digest}`, undefined)).toEqual({ repository: repo, digest });
  expect(imageVersion(`${repo}@${digest}`)).toBe('abababababab');
  expect(() => parseVersion('v2', undefined)).toThrow(/full image reference/);
});

test('the image reaches Pulumi in a temporary copy of the stack config; the committed file is untouched', () => {
  const committed = stackConfigPath('production');
  const before = fs.readFileSync(committed, 'utf8');
  const image = imageOf('sha-2');
  const config = configFileWithImage('production', image);
  try {
    expect(path.dirname(config.file).startsWith(path.resolve(__dirname, '..', '..'))).toBe(false);
    expect(readStackConfig(config.file, IMAGE_KEY)).toBe(image);
    // Every other key is carried over as committed.
    expect(readStackConfig(config.file, 'switchboard:environment')).toBe(readStackConfig(committed, 'switchboard:environment'));
    expect(readStackConfig(config.file, 'aws:region')).toBe('eu-west-1');
  } finally {
    config.remove();
  }
  expect(fs.readFileSync(committed, 'utf8')).toBe(before);
  expect(fs.existsSync(config.file)).toBe(false);
  expect(() => readStackConfig(path.join(stateDir, 'missing.yaml'), IMAGE_KEY)).toThrow(/cannot read the stack config/);
});
