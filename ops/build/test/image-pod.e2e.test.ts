import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stackManifests } from '../../../infra/render';
import { containerPort } from '../../../infra/src/k8s/app-manifests';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { Manifest } from '../../../infra/src/k8s/types';
import { backupMetricNames } from '../../backup/metrics';
import { startMinio } from '../../services/minio';
import { freePort } from '../../services/ports';
import { smokeTest } from '../../targets/local/smoke';
import { buildImage, type ImageBuild } from '../image';
import { openPodman, type Podman } from '../podman';
import { corePod, type Probe } from '../../../infra/src/k8s/pod-env';
import { podmanSecurityFlags } from './pod-spec';

/**
 * The image runs as the production pod would: built by the same code as `ops build` (local base,
 * cached by recipe), started by podman with the command, user, read-only root, emptyDir, capabilities
 * and environment rendered from the production stack's manifests (secrets and endpoints replaced by
 * the test's MongoDB and Redis), probed like the kubelet does, sent a message through, and stopped
 * with SIGTERM within the grace period. Podman state lives in a temp dir, removed afterwards.
 */

jest.setTimeout(120_000);

const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-podman-'));
const containerName = `switchboard-pod-${randomBytes(4).toString('hex')}`;
let podman: Podman;
let build: ImageBuild;
const log: string[] = [];
/** The pod's database: the backup jobs back up what the pod stored. */
const podDb = `pod_contract_${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  podman = await openPodman({ storageDir });
  build = await buildImage({ podman, base: 'local', contextDir: path.join(storageDir, 'context'), repository: 'localhost/switchboard-core-test', log: (line) => log.push(line) });
  // Cold (no cached base): debootstrap ~30 s + build; warm: the build alone. Reported, not asserted.
  console.log(`image ${build.image} ${(build.sizeBytes / 1e6).toFixed(0)} MB, steps ${JSON.stringify(build.steps)}\n${log.join('\n')}`);
}, 900_000);

afterAll(async () => {
  if (podman) {
    await podman.run(['rm', '--force', '--time', '0', containerName]).catch(() => undefined);
    await podman.run(['system', 'reset', '--force']).catch(() => undefined);
  }
  fs.rmSync(storageDir, { recursive: true, force: true, maxRetries: 3 });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the kubelet does with an HTTP probe: every period, until success or failureThreshold misses. */
async function probe(port: number, p: Probe, expect = 200): Promise<number> {
  let last = 0;
  for (let attempt = 0; attempt < p.failureThreshold; attempt++) {
    try {
      last = (await fetch(`http://127.0.0.1:${port}${p.httpGet.path}`, { signal: AbortSignal.timeout(2_000) })).status;
      if (last === expect) return last;
    } catch {
      last = 0;
    }
    await sleep(p.periodSeconds * 1000);
  }
  return last;
}

test('the image carries its version, git sha and a HEALTHCHECK, and runs as a non-root user', async () => {
  const inspected = JSON.parse((await podman.run(['image', 'inspect', build.image])).stdout) as { Healthcheck?: { Test: string[] }; Config: { Labels: Record<string, string>; User: string } }[];
  const config = inspected[0]!.Config;
  expect(config.Labels['org.opencontainers.image.revision']).toBe(build.gitSha);
  expect(config.Labels['org.opencontainers.image.version']).toBe(build.version);
  expect(config.User).toBe('10001:10001');
  // Kept because the image is built in the docker format (OCI drops HEALTHCHECK).
  expect(inspected[0]!.Healthcheck?.Test.join(' ')).toContain('/health');
  expect(build.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
});

test('started exactly as the production pod: ready, serves a send/receive, stops cleanly on SIGTERM within the grace period', async () => {
  const { pod, container, env } = corePod(stackManifests('production'), `${containerName}-0`);
  expect(env.PORT).toBe(String(containerPort));
  // The pod's network namespace is its own; on this shared host the container uses the host's
  // loopback (--network host), so the port and the endpoints are the ones substituted here.
  const port = await freePort();
  // The internal listener too: another core on this host (a concurrent run) may hold the manifest's fixed METRICS_PORT.
  const metricsPort = await freePort();
  const podEnv: Record<string, string> = {
    ...env,
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    MONGODB_URI: process.env.TEST_MONGODB_URI!,
    MONGODB_DB: podDb,
    REDIS_URL: process.env.TEST_REDIS_URL!,
    JWT_HS256_KEYS: `pod-test:${randomBytes(24).toString('hex')}`,
  };
  const probePort = (p: Probe) => (p.httpGet.port === 'http' || p.httpGet.port === containerPort ? port : String(p.httpGet.port) === env.METRICS_PORT ? metricsPort : Number(p.httpGet.port));
  const command = container.command ?? [];
  expect(command.length).toBeGreaterThan(0);
  await podman.run([
    'run', '--detach', '--name', containerName, '--network', 'host',
    ...podmanSecurityFlags(pod, container),
    ...Object.entries(podEnv).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    '--entrypoint', JSON.stringify(command),
    build.image, ...(container.args ?? []),
  ]);
  // The core logs JSON lines (pino) to stdout.
  const logs = async () => {
    const out = await podman.run(['logs', containerName], { nothrow: true });
    return `${out.stdout}${out.stderr}`;
  };
  try {
    expect(await probe(probePort(container.startupProbe), container.startupProbe)).toBe(200);
    expect(await probe(probePort(container.readinessProbe), container.readinessProbe)).toBe(200);
    await expect(podman.run(['healthcheck', 'run', containerName])).resolves.toBeDefined();
    // Writing to the root file system fails: the core never needs to.
    await expect(podman.run(['exec', containerName, 'node', '-e', "require('fs').writeFileSync('/app/x', 'x')"], { nothrow: true })).resolves.toMatchObject({ ok: false, stderr: expect.stringContaining('EROFS') });

    const sent = await smokeTest([`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`], podEnv);
    expect(sent.seq).toBeGreaterThan(0);

    const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    const started = performance.now();
    // podman stop sends the image's STOPSIGNAL (SIGTERM) and SIGKILLs after --time, like the kubelet after the grace period.
    await podman.run(['stop', '--time', String(pod.terminationGracePeriodSeconds - preStop), containerName]);
    const stoppedMs = performance.now() - started;
    const state = JSON.parse((await podman.run(['inspect', '--format', '{{json .State}}', containerName])).stdout) as { ExitCode: number; Status: string };
    expect(state).toMatchObject({ Status: 'exited', ExitCode: 0 });
    expect(stoppedMs + preStop * 1000).toBeLessThan(pod.terminationGracePeriodSeconds * 1000);
    expect(await logs()).toContain('shutdown requested');
  } catch (error) {
    throw new Error(`${(error as Error).message}\ncontainer log:\n${(await logs()).split('\n').slice(-30).join('\n')}`, { cause: error });
  }
});

test('the backup CronJobs run from the same image: ops backup, then ops backup verify, with their metrics', async () => {
  const manifests = stackManifests('production');
  const minio = await startMinio();
  const metricsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-backup-metrics-'));
  fs.chmodSync(metricsDir, 0o777); // written by the image's user 10001
  try {
    const bucket = `pod-backups-${randomBytes(3).toString('hex')}`;
    const s3 = new S3Client({ endpoint: minio.endpoint, region: minio.region, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey }, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    for (const name of ['switchboard-backup', 'switchboard-backup-verify']) {
      const cronJob = manifests.find((m) => m.kind === 'CronJob' && m.metadata.name === name) as Manifest & { spec: { jobTemplate: { spec: { template: { spec: any } } } } };
      const pod = cronJob.spec.jobTemplate.spec.template.spec;
      const container = pod.containers[0];
      const env: Record<string, string> = {};
      for (const e of container.env as { name: string; value?: string; valueFrom?: { secretKeyRef: { key: string } } }[]) {
        env[e.name] = e.value ?? (e.valueFrom?.secretKeyRef.key === 'MONGODB_URI' ? process.env.TEST_MONGODB_URI! : '');
      }
      // The stack's bucket and IRSA role stand in as MinIO and its keys; the Pushgateway as the textfile collector.
      const location = new URL(env.BACKUP_LOCATION!);
      const jobEnv: Record<string, string> = {
        ...env,
        BACKUP_LOCATION: `s3://${bucket}${location.pathname}`,
        MONGODB_DB: podDb,
        BACKUP_S3_ENDPOINT: minio.endpoint,
        AWS_REGION: minio.region,
        AWS_ACCESS_KEY_ID: minio.accessKeyId,
        AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
        BACKUP_METRICS_FILE: '/var/metrics',
      };
      delete jobEnv.BACKUP_PUSHGATEWAY_URL;
      const run = await podman.run([
        'run', '--rm', '--network', 'host',
        ...podmanSecurityFlags(pod, container),
        '--volume', `${metricsDir}:/var/metrics`,
        ...Object.entries(jobEnv).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
        '--entrypoint', JSON.stringify(container.command),
        build.image, ...container.args,
      ], { nothrow: true });
      if (!run.ok) throw new Error(`${name} failed (exit ${run.exitCode}):\n${run.stderr}\n${run.stdout}`);
      expect(JSON.parse(run.stdout)).toMatchObject({ ok: true });
    }
    const metric = (name: string) => fs.readFileSync(path.join(metricsDir, `${name}.prom`), 'utf8');
    expect(metric(backupMetricNames.lastSuccess)).toMatch(new RegExp(`^${backupMetricNames.lastSuccess} \\d+`, 'm'));
    expect(metric(backupMetricNames.lastVerifySuccess)).toMatch(new RegExp(`^${backupMetricNames.lastVerifySuccess} 1$`, 'm'));
  } finally {
    await minio.stop();
    fs.rmSync(metricsDir, { recursive: true, force: true });
  }
});
