import { OpsError, type Output } from '../../cli/output';
import type { ReleaseRecord } from '../../state/releases';
import { readFlag, writeFlag } from '../maintenance-flag';
import { ActivationError, type DeployRequest, type InstanceStatus, type MaintenanceStatus, type StatusReport, type Target } from '../target';
import { HOST_OUTPUT, IMAGE_KEY, imageVersion, infraDir, pulumiRunner, resolveImage, type StackRunner } from './stack-runner';

export interface HttpProbe {
  get(url: string): Promise<{ status: number; body: unknown }>;
}

export const fetchProbe: HttpProbe = {
  async get(url) {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body };
  },
};

export interface KubernetesTargetOptions {
  stack: string;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  runner?: StackRunner;
  probe?: HttpProbe;
  /** How long the public URL may take to answer with the new version after `up`. */
  verifyTimeoutMs?: number;
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A Pulumi stack running the core on Kubernetes: a deploy sets the image tag and runs `up` (the
 * Deployment rolls out; Pulumi waits for it), then checks the public URL serves the new version and
 * passes the smoke test; any failure sets the previous tag back and runs `up` again.
 */
export function createKubernetesTarget(options: KubernetesTargetOptions): Target {
  const runner = options.runner ?? pulumiRunner(options.stack);
  const probe = options.probe ?? fetchProbe;
  const verifyTimeoutMs = options.verifyTimeoutMs ?? 300_000;
  const pollMs = options.pollMs ?? 2_000;
  const publicUrl = async () => {
    if (options.env.OPS_PUBLIC_URL) return options.env.OPS_PUBLIC_URL.replace(/\/$/, '');
    const host = (await runner.outputs())[HOST_OUTPUT];
    if (typeof host !== 'string' || !host) throw new Error(`stack ${options.stack} has no "${HOST_OUTPUT}" output (set OPS_PUBLIC_URL to override)`);
    return /^https?:\/\//.test(host) ? host.replace(/\/$/, '') : `https://${host}`;
  };

  async function waitForVersion(url: string, image: string): Promise<void> {
    const tag = imageVersion(image);
    const deadline = Date.now() + verifyTimeoutMs;
    let streak = 0;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const { status, body } = await probe.get(`${url}/health`);
        const version = (body as { version?: string }).version;
        last = `${status} version ${version}`;
        streak = status === 200 && version === tag ? streak + 1 : 0;
        if (streak >= 3) return;
      } catch (error) {
        last = (error as Error).message;
        streak = 0;
      }
      await sleep(pollMs);
    }
    throw new Error(`${url}/health did not report version ${tag} (last: ${last})`);
  }

  async function smoke(url: string): Promise<void> {
    const ready = await probe.get(`${url}/ready`);
    if (ready.status !== 200) throw new Error(`${url}/ready answered ${ready.status}: ${JSON.stringify(ready.body)}`);
    const spec = await probe.get(`${url}/api/openapi.json`);
    if (spec.status !== 200 && spec.status !== 503) throw new Error(`${url}/api/openapi.json answered ${spec.status}`);
  }

  async function apply(image: string, out: Output, label: string): Promise<void> {
    await out.step(`pulumi config set --path ${IMAGE_KEY} ${image}`, () => runner.setConfig(IMAGE_KEY, image));
    await out.step(`pulumi up (${label}; waits for the rollout)`, async () => {
      const result = await runner.up((line) => out.info(`  | ${line.trimEnd()}`));
      if (result.result !== 'succeeded') throw new Error(`pulumi up ${result.result}`);
    });
  }

  return {
    env: options.stack,
    kind: 'kubernetes',
    /** The Deployment's RollingUpdate (maxUnavailable 0) replaces pods behind the Service. */
    strategies: ['rolling'],

    async plan({ kind, request, releaseId, artifact }) {
      let image = artifact?.image;
      if (kind === 'deploy' && request.version) {
        const current = await runner.getConfig(IMAGE_KEY).catch(() => undefined);
        try {
          image = resolveImage(request.version, current);
        } catch {
          image = `<current image's repository>${request.version.startsWith('sha256:') ? '@' : ':'}${request.version}`;
        }
      }
      const version = image ? imageVersion(image.replace(/^<[^>]*>/, 'repository')) : '?';
      return [
        `read the current image: pulumi config get --path ${IMAGE_KEY} --stack ${options.stack} (program ${infraDir})`,
        kind === 'deploy' ? `record ${releaseId}: image ${image ?? '(missing: --version <image reference or tag> is required)'}` : `record ${releaseId}: rollback to ${artifact?.id} (image ${image})`,
        `pulumi config set --path ${IMAGE_KEY} ${image} --stack ${options.stack}`,
        `pulumi up --stack ${options.stack} --yes   (Deployment rolling update; Pulumi waits until the new pods are ready)`,
        `wait until https://<stack output ${HOST_OUTPUT}>/health reports version ${version} (3 answers in a row, timeout ${Math.round(verifyTimeoutMs / 1000)} s)`,
        `smoke test through https://<stack output ${HOST_OUTPUT}>: GET /ready = 200, GET /api/openapi.json`,
        `on any failure: pulumi config set --path ${IMAGE_KEY} <previous image>, pulumi up, wait for the previous version; record ${releaseId} failed`,
      ];
    },

    async prepare(request: DeployRequest, _releaseId: string, out: Output) {
      if (!request.version) throw new OpsError('a Kubernetes deploy needs the image to run', `ops deploy --env ${options.stack} --version <image reference, sha256:<digest> or tag>`, 2);
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,254}$/.test(request.version)) throw new OpsError(`"${request.version}" is not an image reference or tag`, undefined, 2);
      if (Object.keys(request.settings).length) throw new OpsError('--set applies to the local target; Kubernetes settings live in the stack config', `pulumi config set --path --stack ${options.stack} switchboard:app.<key> <value>`, 2);
      const current = await out.step('read the current image', () => runner.getConfig(IMAGE_KEY));
      const image = resolveImage(request.version, current);
      out.info(`  image ${current ?? 'none'} → ${image}`);
      return { version: imageVersion(image), image };
    },

    async activate(_release: ReleaseRecord, artifact: ReleaseRecord, _request: DeployRequest, out: Output) {
      const image = artifact.image ?? artifact.version;
      const previous = await out.step('read the image serving now', () => runner.getConfig(IMAGE_KEY));
      let step = 'pulumi up';
      try {
        await apply(image, out, `image ${imageVersion(image)}`);
        const url = await publicUrl();
        step = 'wait for the new version';
        await out.step(`wait until ${url}/health reports ${imageVersion(image)}`, () => waitForVersion(url, image));
        step = 'smoke test';
        await out.step(`smoke test through ${url}`, () => smoke(url));
        return {};
      } catch (error) {
        let rolledBack = false;
        if (previous && previous !== image) {
          out.info(`  rolling back to image ${previous}`);
          try {
            await apply(previous, out, `rollback to ${imageVersion(previous)}`);
            const url = await publicUrl();
            await out.step(`wait until ${url}/health reports ${imageVersion(previous)}`, () => waitForVersion(url, previous));
            rolledBack = true;
          } catch (rollbackError) {
            out.warn(`automatic rollback failed: ${(rollbackError as Error).message}`);
          }
        }
        throw new ActivationError((error as Error).message, step, true, rolledBack);
      }
    },

    async status(): Promise<StatusReport> {
      const problems: string[] = [];
      let url: string | undefined;
      const seen = new Map<string, InstanceStatus>();
      try {
        url = await publicUrl();
        for (let i = 0; i < 5; i++) {
          const { status, body } = await probe.get(`${url}/health`);
          const h = body as { instance?: string; version?: string; draining?: boolean; maintenance?: { on: boolean }; sockets?: number; uptimeSeconds?: number };
          const id = h.instance ?? `sample-${i}`;
          seen.set(id, { id, url, version: h.version, healthy: status === 200, ready: status === 200 && !h.draining, draining: h.draining, maintenance: h.maintenance?.on, sockets: h.sockets, uptimeSeconds: h.uptimeSeconds });
        }
        const ready = await probe.get(`${url}/ready`);
        if (ready.status !== 200) problems.push(`${url}/ready answered ${ready.status}`);
      } catch (error) {
        problems.push((error as Error).message);
      }
      const instances = [...seen.values()];
      for (const i of instances) if (!i.healthy) problems.push(`${i.id} unhealthy`);
      const maintenance = await this.maintenance().catch(() => ({ on: false }));
      return { env: options.stack, target: 'kubernetes', url, frontDoor: { running: Boolean(url) && problems.length === 0, detail: 'ingress (instances sampled through the public URL)' }, instances, maintenance, current: await runner.getConfig(IMAGE_KEY), healthy: problems.length === 0 && instances.length > 0, problems };
    },

    async maintenance(): Promise<MaintenanceStatus> {
      const redisUrl = options.env.REDIS_URL;
      if (!redisUrl) return { on: false, message: 'unknown: set REDIS_URL to the stack\'s Redis to read the flag' };
      const flag = await readFlag(redisUrl);
      return { on: Boolean(flag), ...flag, coreFlag: Boolean(flag) };
    },

    async setMaintenance(flag, out) {
      const redisUrl = options.env.REDIS_URL;
      if (!redisUrl) throw new OpsError('maintenance on Kubernetes switches the core\'s Redis flag: REDIS_URL is not set', `REDIS_URL=$(pulumi stack output redisUrl --stack ${options.stack} --show-secrets) ops maintenance ... --env ${options.stack}`, 2);
      await out.step(`${flag ? 'set' : 'clear'} the maintenance flag in Redis`, () => writeFlag(redisUrl, flag));
      return this.maintenance();
    },
  };
}
