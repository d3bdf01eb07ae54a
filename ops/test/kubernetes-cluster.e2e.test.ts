/**
 * `ops deploy --env local-k8s` against a real cluster (issue 25): a real kube-apiserver, controllers and
 * scheduler, kwok as the kubelet (pods become Running/Ready without containers), and the real Pulumi
 * engine with the real Kubernetes provider running infra/program.ts inline (Automation API; no Node.js
 * language host here) with a file:// state backend. Rollout waiting is the provider's own await logic;
 * the per-pod gate lists the pods through kubectl with the stack's context.
 *
 * What needs a real kubelet stays on doubles and says so: each pod's /ready and /health (the API
 * server's pod proxy would need a pod network; the double answers with the version of the image the
 * real pod runs), the public URL (no ingress controller: the edge is off in a local stack) and the
 * smoke test. The registry is the OCI double (ghcr.io is not reachable here).
 *
 * ops keeps the deploy lock and the release history in shared state on MinIO (OPS_STATE_URL=s3://…, as
 * a stack's switchboard:ops.stateUrl would), so racing runners meet the real lock.
 *
 * The cluster and MinIO start once for the file (beforeAll, up to 3 min on a loaded machine); the tests
 * run in order against them, each a step of one stack's life (the server-side validation and the later
 * steps pick versions from what serves, not from the order). Durations are printed at the end.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { injectKubernetes } from '../commands/common';
import { startKubeCluster, type KubeCluster } from '../services/kube-cluster';
import { startMinio, type RunningMinio } from '../services/minio';
import type { OpsState } from '../state/ops-state';
import { s3State } from '../state/s3-state';
import { runCli } from '../cli/main';
import { parseStackConfig, type Environment } from '../../infra/src/config';
import { rawStackConfig } from '../../infra/render';
import { renderYaml } from '../../infra/src/k8s/render';
import { kubernetesManifests, kubernetesSpecs, loadObservability, placeholderSecretsFor } from '../../infra/src/stack';
import type { HttpProbe } from '../targets/kubernetes/kubernetes-target';
import { coreNamespace, kubectlPods, type PodLister } from '../targets/kubernetes/pods';
import { ociRegistry } from '../targets/kubernetes/registry-client';
import { imageVersion, infraDir, pulumiRunner } from '../targets/kubernetes/stack-runner';
import { imageOf, versionOf } from './fake-stack';
import { runOps, type OpsRun } from './helpers';
import { startRegistryDouble } from './registry-double';

const stack = 'local-k8s';
const minutes = (n: number) => n * 60_000;
/** The tag of an image whose pods start but never get Ready (kwok's stage below keys on its digest). */
const badTag = 'sha-bad';
/**
 * kwok plays the kubelet: its upstream pod-ready stage makes every pod Ready. This one, weighted so kwok
 * prefers it wherever both match, runs the bad image's containers without ever passing the readiness
 * probe (what a crash at start-up or a failing /ready looks like to the Deployment controller).
 */
const neverReadyStage = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-never-ready-bad-image
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  weight: 1
  selector:
    matchExpressions:
    - { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' }
    - { key: '.status.phase', operator: 'In', values: ['Pending'] }
    - { key: '.spec.containers.[].image', operator: 'In', values: ['${imageOf(badTag)}'] }
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - { lastTransitionTime: {{ $now | Quote }}, status: "True", type: Initialized }
      - { lastTransitionTime: {{ $now | Quote }}, status: "False", type: Ready, reason: ContainersNotReady, message: "containers with unready status: [core]" }
      - { lastTransitionTime: {{ $now | Quote }}, status: "False", type: ContainersReady, reason: ContainersNotReady, message: "containers with unready status: [core]" }
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
`;
jest.setTimeout(minutes(10));

let cluster: KubeCluster;
let minio: RunningMinio;
/** The shared state on MinIO the runners record releases and take the lock in (as production's s3://<backup bucket>/ops). */
let state: OpsState;
const bucket = 'switchboard-backups';
let registry: Awaited<ReturnType<typeof startRegistryDouble>>;
let stateDir: string;
let pulumiState: string;
/** A copy of infra/Pulumi.local-k8s.yaml the config-change step edits (the checkout is never written). */
let workDir: string;
let env: NodeJS.ProcessEnv;
const savedEnv = { ...process.env };
const timings: Record<string, number> = {};

const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(performance.now() - t0);
    process.stderr.write(`[k8s e2e] ${name}: ${(timings[name] / 1000).toFixed(1)} s\n`);
  }
};

beforeAll(async () => {
  const started = performance.now();
  registry = await startRegistryDouble(['sha-1', 'sha-2', 'sha-3', badTag]);
  minio = await startMinio();
  const client = { endpoint: minio.endpoint, region: minio.region, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } };
  const s3 = new S3Client({ ...client, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  state = s3State({ bucket, prefix: 'ops', client });
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-k8s-e2e-state-'));
  pulumiState = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-k8s-e2e-pulumi-'));
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-k8s-e2e-infra-'));
  fs.copyFileSync(path.join(infraDir, `Pulumi.${stack}.yaml`), path.join(workDir, `Pulumi.${stack}.yaml`));
  cluster = await startKubeCluster({ namespaces: [coreNamespace], stages: neverReadyStage, log: (line) => process.stderr.write(`[k8s e2e] cluster: ${line}\n`) });
  // The inline program and the provider read these from the process (the engine runs in this process).
  Object.assign(process.env, cluster.env, { OPS_PULUMI_INLINE: '1', OPS_PULUMI_BACKEND_URL: `file://${pulumiState}`, PULUMI_CONFIG_PASSPHRASE: '' });
  const real = kubectlPods(cluster.context);
  injectKubernetes({
    runner: pulumiRunner(stack, workDir),
    registry: ociRegistry({ baseUrl: () => registry.url }),
    pods: podsWithProbeDouble(real),
    probe: publicUrlDouble(real),
    smoke: async () => undefined,
    pollMs: 1_000,
    verifyTimeoutMs: minutes(3),
  });
  // The lock and the releases in shared state on MinIO, as a real stack's switchboard:ops.stateUrl would put them
  // (S3 settings as for backups); each runner has its own (empty) state directory.
  env = {
    OPS_STATE_DIR: stateDir, OPS_STATE_URL: `s3://${bucket}/ops`, BACKUP_S3_ENDPOINT: minio.endpoint, AWS_REGION: minio.region,
    AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
    OPS_USER: 'dana', OPS_SKIP_PREFLIGHT: 'all', OPS_SKIP_VERIFY: 'the pods of the local cluster run no containers (kwok)', OPS_KUBE_CONTEXT: cluster.context, OPS_PUBLIC_URL: 'https://chat.local.example.com',
  };
  timings['cluster start'] = Math.round(performance.now() - started);
}, minutes(5));

afterAll(async () => {
  injectKubernetes({});
  await cluster?.stop();
  await registry?.close();
  await minio?.stop();
  for (const dir of [stateDir, pulumiState, workDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  process.stderr.write(`[k8s e2e] durations (ms): ${JSON.stringify({ ...timings, ...Object.fromEntries(Object.entries(cluster?.timings ?? {}).map(([k, v]) => [`cluster: ${k}`, v])) })}\n`);
}, minutes(2));

/** Each pod's /ready and /health, answered for the image the real pod runs (kwok runs no process to ask). */
function podsWithProbeDouble(real: PodLister): PodLister {
  return {
    list: () => real.list(),
    async get(name) {
      const pod = (await real.list()).find((p) => p.name === name);
      if (!pod) return { status: 404, body: '' };
      return { status: pod.ready ? 200 : 503, body: { version: imageVersion(pod.image) } };
    },
  };
}

/** The public URL (no ingress here): answers with the version when every live pod runs the same image. */
function publicUrlDouble(real: PodLister): HttpProbe {
  return {
    async get() {
      const live = (await real.list()).filter((p) => !p.terminating && p.ready);
      const images = new Set(live.map((p) => p.image));
      return images.size === 1 ? { status: 200, body: { version: imageVersion([...images][0]!) } } : { status: 503, body: { version: undefined } };
    },
  };
}

const deploy = (version: string, ...extra: string[]) => timed(`deploy ${version}${extra.length ? ` ${extra.join(' ')}` : ''}`, () => runOps(['deploy', '--env', stack, '--version', version, '--yes', ...extra], env));
const expectOk = (run: OpsRun) => {
  if (run.code !== 0) process.stderr.write(`ops failed:\n${run.stderr}\n${run.stdout}\n`);
  expect(run.code).toBe(0);
};

interface Deployment { spec: { template: { metadata: { annotations?: Record<string, string> }; spec: { containers: { image: string }[] } } }; status: { readyReplicas?: number; updatedReplicas?: number } }
const deployment = async (): Promise<Deployment | undefined> => {
  const result = await cluster.kubectl(['-n', coreNamespace, 'get', 'deployment', 'switchboard-core', '-o', 'json'], { nothrow: true });
  return result.ok ? (JSON.parse(result.stdout) as Deployment) : undefined;
};
const replicaSets = async () => (JSON.parse((await cluster.kubectl(['-n', coreNamespace, 'get', 'replicasets', '-o', 'json'])).stdout) as { items: unknown[] }).items.length;
const releases = () => state.listReleases(stack);
const servingImage = async () => (await deployment())?.spec.template.spec.containers[0]!.image;
/** A tag of the registry that does not serve now (so a deploy of it changes the Deployment), whatever ran before. */
const otherTag = async (...not: string[]) => {
  const serving = await servingImage();
  return ['sha-1', 'sha-2', 'sha-3'].find((tag) => imageOf(tag) !== serving && !not.includes(tag))!;
};
const podImages = async () => (await kubectlPods(cluster.context).list()).filter((p) => !p.terminating).map((p) => `${p.image}:${p.ready ? 'ready' : p.phase}`);

/**
 * Every object the infra program renders for each committed stack, validated by the real API server
 * (`kubectl apply --dry-run=server`: admission, the built-in schemas and the installed CRDs' schemas),
 * in addition to the offline validators of infra/test/manifests.test.ts. Nothing is persisted.
 */
describe('server-side validation of the rendered manifests', () => {
  const observability = loadObservability();
  const stacks = [...fs.readdirSync(infraDir).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? [])].sort();
  const dryRun = (yaml: string) => cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: yaml, nothrow: true });

  test('every committed stack is covered', () => expect(stacks).toEqual(['dev', 'local-k8s', 'production', 'staging']));

  test.each(stacks)('%s: every rendered object is accepted by the API server', async (name) => {
    const config = parseStackConfig(rawStackConfig(name as Environment));
    const manifests = kubernetesManifests(kubernetesSpecs(config, placeholderSecretsFor(config), observability));
    const result = await timed(`server dry-run ${name}`, () => dryRun(renderYaml(manifests)));
    if (!result.ok) process.stderr.write(`kubectl apply --dry-run=server (${name}):\n${result.stderr}\n`);
    expect(result.ok).toBe(true);
    const accepted = result.stdout.split('\n').filter((line) => line.includes('(server dry run)'));
    expect(accepted).toHaveLength(manifests.length);
    for (const kind of ['deployment.apps', 'servicemonitor.monitoring.coreos.com', 'prometheusrule.monitoring.coreos.com', 'certificate.cert-manager.io', 'virtualserver.k8s.nginx.org']) expect(accepted.join('\n')).toContain(kind);
  });

  test('the API server rejects what breaks a schema: a built-in kind and a CRD', async () => {
    const badDeployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bad', namespace: coreNamespace }, spec: { replicas: 'two', selector: { matchLabels: { app: 'bad' } }, template: { metadata: { labels: { app: 'bad' } }, spec: { containers: [{ name: 'bad', image: 'example/bad:1' }] } } } };
    const badServiceMonitor = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'bad', namespace: coreNamespace }, spec: { selector: {}, endpoints: 'every 30s' } };
    for (const bad of [badDeployment, badServiceMonitor]) {
      const result = await dryRun(JSON.stringify(bad));
      expect(result.ok).toBe(false);
    }
  });
});

test('--dry-run prints the plan and creates nothing in the cluster', async () => {
  const run = await timed('dry-run', () => runOps(['deploy', '--env', stack, '--version', 'sha-1', '--dry-run', '--json'], env));
  expectOk(run);
  expect((JSON.parse(run.stdout) as { plan: string[] }).plan.join('\n')).toContain('pulumi preview --diff');
  expect(await deployment()).toBeUndefined();
  expect((await releases())).toEqual([]);
});

test('the first deploy of an empty stack is refused as drift (everything would be created), then applied with --allow-drift; the provider waits for the Ready pods', async () => {
  const refused = await deploy('sha-1');
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/change\(s\) besides the image/);
  expect(await deployment()).toBeUndefined();

  expectOk(await deploy('sha-1', '--allow-drift'));
  const d = await deployment();
  expect(d?.spec.template.spec.containers[0]!.image).toBe(imageOf('sha-1'));
  expect(d?.status.readyReplicas).toBe(2); // up returned only once the rollout was complete
  expect(await podImages()).toEqual([`${imageOf('sha-1')}:ready`, `${imageOf('sha-1')}:ready`]);
  expect((await releases()).map((r) => `${r.id}:${r.status}:${r.version}`)).toEqual([`v1:failed:${versionOf('sha-1')}`, `v2:succeeded:${versionOf('sha-1')}`]); // a refused deploy is recorded
});

test('a second deploy of a new version rolls the pods to it (image only: no drift)', async () => {
  const run = await deploy('sha-2');
  expectOk(run);
  // The engine ran the CrossGuard pack (infra/policy) on the real program, in the preview and the up (issue 26).
  // The preview's diff display lists "Policy Packs run: switchboard|local|<path> 1.0.0"; the up's summary "✅ switchboard@v1.0.0 (local: <path>)".
  const output = `${run.stdout}${run.stderr}`;
  expect(output).toMatch(/switchboard\|local\|\S*infra\/policy\/analyzer\s+1\.0\.0/);
  expect(output).toMatch(/✅ switchboard@v1\.0\.0 \(local: \S*infra\/policy\/analyzer\)/);
  const d = await deployment();
  expect(d?.spec.template.spec.containers[0]!.image).toBe(imageOf('sha-2'));
  expect(d?.status.readyReplicas).toBe(2);
  expect((await podImages()).every((p) => p === `${imageOf('sha-2')}:ready`)).toBe(true);
  expect((await releases()).map((r) => `${r.id}:${r.status}`)).toEqual(['v1:failed', 'v2:succeeded', 'v3:succeeded']);
});

test('ops rollback puts the previous image back', async () => {
  const run = await timed('rollback', () => runOps(['rollback', '--env', stack, '--yes'], env));
  expectOk(run);
  expect((await deployment())?.spec.template.spec.containers[0]!.image).toBe(imageOf('sha-1'));
  expect((await podImages()).every((p) => p === `${imageOf('sha-1')}:ready`)).toBe(true);
  expect((await releases()).map((r) => `${r.id}:${r.kind}:${r.status}`)).toEqual(['v1:deploy:failed', 'v2:deploy:succeeded', 'v3:deploy:rolled-back', 'v4:rollback:succeeded']);
});

test('a config change is drift for a deploy (refused), and applied on purpose it rolls the pods: the checksum makes a new ReplicaSet', async () => {
  const file = path.join(workDir, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('logLevel: info', 'logLevel: debug'));
  const before = await deployment();
  const setsBefore = await replicaSets();

  const refused = await deploy('sha-1');
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain('data.LOG_LEVEL');
  expect((await deployment())?.spec.template.metadata.annotations).toEqual(before?.spec.template.metadata.annotations);

  expectOk(await deploy('sha-1', '--allow-drift'));
  const after = await deployment();
  expect(after?.spec.template.metadata.annotations?.['switchboard.dev/config-checksum']).not.toBe(before?.spec.template.metadata.annotations?.['switchboard.dev/config-checksum']);
  expect(await replicaSets()).toBe(setsBefore + 1);
  expect(after?.status.readyReplicas).toBe(2);
});

test('ops releases reads the records from the shared state on MinIO (what any other runner sees)', async () => {
  const records = await releases();
  expect(records.length).toBeGreaterThan(0); // runs after the deploys above; alone, deploy once
  const run = await runOps(['releases', '--env', stack, '--json', '--limit', '100'], { ...env, OPS_STATE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'ops-k8s-e2e-other-')) });
  expectOk(run);
  const listed = JSON.parse(run.stdout) as { state: string; releases: { id: string; status: string }[] };
  expect(listed.state).toBe(`s3://${bucket}/ops`);
  expect(listed.releases.map((r) => `${r.id}:${r.status}`).reverse()).toEqual(records.map((r) => `${r.id}:${r.status}`));
});

test('two runners racing on one stack: exactly one deploys, the other is refused naming the lock owner (exit 3), nothing half-applied', async () => {
  const before = await releases();
  const [tagA, tagB] = [await otherTag(), await otherTag(await otherTag())];
  const [a, b] = await timed('racing deploys', () => Promise.all([
    runOps(['deploy', '--env', stack, '--version', tagA, '--yes'], { ...env, OPS_USER: 'dana' }),
    runOps(['deploy', '--env', stack, '--version', tagB, '--yes'], { ...env, OPS_USER: 'erin' }),
  ]));
  const codes = [a.code, b.code].sort();
  if (codes[0] !== 0) process.stderr.write(`racing runners:\n${a.stderr}\n---\n${b.stderr}\n`);
  expect(codes).toEqual([0, 3]);
  const [winner, winnerTag, loser] = a.code === 0 ? ['dana', tagA, b] : ['erin', tagB, a];
  expect(loser.stderr).toMatch(new RegExp(`deploy refused: .*held by ${winner}`));
  const after = await releases();
  expect(after.slice(before.length).map((r) => `${r.who}:${r.status}:${r.version}`)).toEqual([`${winner}:succeeded:${versionOf(winnerTag)}`]);
  const d = await deployment();
  expect(d?.spec.template.spec.containers[0]!.image).toBe(imageOf(winnerTag));
  expect(d?.status.readyReplicas).toBe(2);
  expect((await podImages()).every((p) => p === `${imageOf(winnerTag)}:ready`)).toBe(true);
  expect(await state.readLock(stack)).toBeUndefined();
  expect((await state.readAudit({ env: stack })).filter((e) => e.outcome === 'refused').map((e) => e.who)).toContain(winner === 'dana' ? 'erin' : 'dana');
});

/**
 * Ctrl-C while the engine runs `pulumi up`: the SIGINT handlers ops installed are invoked in this process
 * (the inline program runs here, so a real signal would reach jest); they abort the Automation API
 * operation (it sends SIGINT to the engine, which stops after its in-flight steps).
 */
test('Ctrl-C during pulumi up cancels it, records the release interrupted with the reason, releases the lock (exit 130); the next deploy works', async () => {
  const before = await releases();
  const tag = await otherTag();
  const listeners = new Set(process.listeners('SIGINT'));
  let stderr = '';
  let stdout = '';
  let interruptedAt = '';
  const running = runCli(['deploy', '--env', stack, '--version', tag, '--yes'], { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) } }, env);
  const t0 = performance.now();
  await timed('ctrl-c deploy', async () => {
    // Wait until the engine reports output of the `up` itself.
    const upOutput = () => (stderr.includes('▸ pulumi up ') ? stderr.slice(stderr.indexOf('▸ pulumi up ')) : '');
    while (!upOutput().includes('\n  | ')) {
      if (performance.now() - t0 > minutes(3)) throw new Error(`pulumi up did not start:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    interruptedAt = stderr;
    for (const listener of process.listeners('SIGINT')) if (!listeners.has(listener)) (listener as (s: NodeJS.Signals) => void)('SIGINT');
    const code = await running;
    if (code !== 130) process.stderr.write(`ops deploy after Ctrl-C:\n${stderr}\n${stdout}\n`);
    expect(code).toBe(130);
  });
  expect(interruptedAt).not.toContain('✓ pulumi up');
  expect(stderr).toContain('✗ pulumi up');
  const record = (await releases()).slice(before.length);
  expect(record.map((r) => `${r.status}:${r.version}`)).toEqual([`interrupted:${versionOf(tag)}`]);
  expect(record[0]!.error).toMatch(/interrupted by SIGINT/);
  expect(await state.readLock(stack)).toBeUndefined();
  expect(process.listeners('SIGINT').filter((l) => !listeners.has(l))).toEqual([]);
  // The interrupted update's lock on the Pulumi stack is removed (pulumi cancel), and no operation is left pending.
  expect(stderr).toContain(`pulumi cancel: the interrupted update's lock on the stack ${stack} is removed`);
  expect(fs.readdirSync(path.join(pulumiState, '.pulumi', 'locks'), { recursive: true }).filter((f) => String(f).endsWith('.json'))).toEqual([]);
  const checkpoint = JSON.parse(fs.readFileSync(path.join(pulumiState, '.pulumi', 'stacks', 'switchboard', `${stack}.json`), 'utf8')) as { checkpoint: { latest?: { pending_operations?: unknown[] } } };
  process.stderr.write(`[k8s e2e] pending operations after Ctrl-C: ${JSON.stringify(checkpoint.checkpoint.latest?.pending_operations ?? [])}\n`);

  const next = await otherTag(tag);
  const again = await deploy(next);
  expectOk(again);
  expect(await servingImage()).toBe(imageOf(next));
  expect((await podImages()).every((p) => p === `${imageOf(next)}:ready`)).toBe(true);
});

/**
 * The stack's rollout timeout is set short here (the committed local stack keeps the default 10 min, which
 * a loaded machine's ordinary rollouts stay far below): the provider's await and the Deployment's progress
 * deadline give up on the bad pods, `pulumi up` fails, and ops puts the image serving before back itself.
 * Applied with --allow-drift because the timeout is a change besides the image.
 */
test('a bad image that never gets Ready: pulumi up fails on the rollout timeout and ops deploy rolls back automatically (exit 1, what happened and what next), records the release failed with the reason, releases the lock', async () => {
  const file = path.join(workDir, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^( +)logLevel:/m, '$1rolloutTimeoutSeconds: 30\n$1logLevel:'));
  const good = await servingImage();
  expect(good).toBeDefined();
  const before = await releases();
  const serving = before.filter((r) => r.status === 'succeeded').at(-1)!;

  const run = await deploy(badTag, '--allow-drift');
  if (run.code !== 1) process.stderr.write(`ops deploy of the bad image:\n${run.stderr}\n${run.stdout}\n`);
  expect(run.code).toBe(1);
  // What happened: the rollout of the bad image failed, the previous image was put back, and what serves now.
  // Two points may catch it, both correct: the provider's await (pulumi up fails on the rollout timeout) or,
  // when that await reports the Deployment initialised before the controller has acted on the new template
  // (seen once in a cold rehearsal on a loaded machine: "Deployment initialization complete" 0.5 s after
  // the update), ops's own check that every pod runs the new image and answers /ready.
  const caughtBy = run.stderr.includes('✗ pulumi up (image') ? 'pulumi up' : 'verify the rollout';
  if (caughtBy === 'pulumi up') {
    expect(run.stderr).toMatch(/error: deploy v\d+ failed at "pulumi up": pulumi up failed: .*switchboard-core.*timed out waiting to be Ready/);
  } else {
    expect(run.stderr).toContain(`✗ every pod runs ${versionOf(badTag)} and answers /ready`);
    expect(run.stderr).toMatch(/error: deploy v\d+ failed at "verify the rollout": not every pod serves /);
  }
  expect(run.stderr).toContain(`rolling back to image ${good}`);
  expect(run.stderr).toContain(`✓ pulumi up (rollback to ${imageVersion(good!)}`);
  expect(run.stderr).toContain(`${serving.id} keeps serving (traffic was switched back automatically).`);
  // What to do next.
  expect(run.stderr).toContain(`next: ops status --env ${stack}`);

  const record = (await releases()).slice(before.length);
  expect(record.map((r) => `${r.kind}:${r.status}:${r.version}`)).toEqual([`deploy:failed:${versionOf(badTag)}`]);
  expect(record[0]!.image).toBe(imageOf(badTag));
  expect(record[0]!.error).toMatch(caughtBy === 'pulumi up' ? /^pulumi up failed: .*timed out waiting to be Ready/ : /^not every pod serves /);
  expect(record[0]!.steps?.filter((s) => s.name.startsWith('pulumi up')).map((s) => `${s.ok}:${s.name.split(';')[0]}`)).toEqual([
    `${caughtBy !== 'pulumi up'}:pulumi up (image ${versionOf(badTag)}`, `true:pulumi up (rollback to ${imageVersion(good!)}`,
  ]);
  expect((await releases()).filter((r) => r.status === 'succeeded').at(-1)?.id).toBe(serving.id);
  expect((await state.readAudit({ env: stack })).filter((e) => e.release === record[0]!.id).map((e) => e.outcome).sort()).toEqual(['failed', 'started']);

  // The Deployment runs the previous image again: every pod on it and Ready, none of the bad one left.
  const d = await deployment();
  expect(d?.spec.template.spec.containers[0]!.image).toBe(good);
  expect(d?.status.readyReplicas).toBe(2);
  const pods = await podImages();
  expect(pods.length).toBeGreaterThan(0);
  expect(pods.every((p) => p === `${good}:ready`)).toBe(true);
  expect(await state.readLock(stack)).toBeUndefined();
});

/**
 * Found against the real engine: with server-side apply, the refreshed preview's dry-run apply meets the
 * field kubectl now owns and fails with a field conflict, so the deploy is refused before anything is
 * applied (not through the drift list). --allow-drift cannot override it either (the provider does not
 * force conflicts); resolving it is a deliberate `pulumi up` with pulumi.com/patchForce, out of this test.
 */
test('an unrelated change made behind Pulumi\'s back (kubectl patch of the HPA) refuses the deploy and changes nothing', async () => {
  const maxReplicas = async () => (JSON.parse((await cluster.kubectl(['-n', coreNamespace, 'get', 'hpa', 'switchboard-core', '-o', 'json'])).stdout) as { spec: { maxReplicas: number } }).spec.maxReplicas;
  const declared = await maxReplicas();
  const imageBefore = (await deployment())?.spec.template.spec.containers[0]!.image;
  await cluster.kubectl(['-n', coreNamespace, 'patch', 'hpa', 'switchboard-core', '--type', 'merge', '-p', JSON.stringify({ spec: { maxReplicas: declared + 5 } })]);

  const refused = await deploy('sha-2');
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain('✗ pulumi preview');
  expect(refused.stderr).toContain('.spec.maxReplicas');
  expect((await deployment())?.spec.template.spec.containers[0]!.image).toBe(imageBefore);
  expect(await maxReplicas()).toBe(declared + 5);
  expect((await releases()).at(-1)?.status).toBe('failed');
});
