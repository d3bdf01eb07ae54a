import { OpsError, type Output, type Unknown } from '../../cli/output';
import { MissingCommandError } from '../../process';
import { KUBE_CONTEXT_KEY, stackSetting } from '../../state/stacks';
import type { ReleaseRecord } from '../../state/releases';
import { readFlag, writeFlag } from '../maintenance-flag';
import { ActivationError, type DeployRequest, type InstanceStatus, type MaintenanceStatus, type StatusReport, type Target } from '../target';
import { driftOf, describeChange } from './drift';
import { changedSettings, stackSettingOf } from './stack-config';
import { kubectlPods, type PodInfo, type PodLister } from './pods';
import { ociRegistry, type RegistryClient } from './registry-client';
import { httpSmokeTest, smokeTokensFromEnv, type StackSmokeTest } from './smoke';
import { HOST_OUTPUT, IMAGE_KEY, imageVersion, infraDir, parseVersion, policyPackPath, pulumiRunner, readStackValue, stackConfigPath, type StackRunner } from './stack-runner';
import type { ReleaseConfig } from '../../state/releases';

/** How a setting is shown: a secret never by value. */
export const describeEntry = (entry: ReleaseConfig[string] | undefined): string => (!entry ? '(committed)' : 'unset' in entry ? '(unset)' : 'secure' in entry ? '[secret]' : JSON.stringify(entry.value));

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
  registry?: RegistryClient;
  pods?: PodLister;
  smoke?: StackSmokeTest;
  /** How long the pods and the public URL may take to serve the new version after `up`. */
  verifyTimeoutMs?: number;
  pollMs?: number;
}

const firstLine = (error: unknown) => (error as Error).message.split('\n')[0]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The stack config key that marks a local cluster's stack (infra/Pulumi.local-k8s.yaml): only the core's objects, on kwok. */
export const LOCAL_STACK_KEY = 'switchboard:local';

type Health = { instance?: string; version?: string; draining?: boolean; maintenance?: { on: boolean }; sockets?: number; uptimeSeconds?: number };

/**
 * A Pulumi stack running the core on Kubernetes. A deploy resolves the image to a digest, previews
 * with that image (and stops if anything else would change), runs `up` with the image supplied for
 * that run only (the checkout is never written), then requires every pod to run the image and answer
 * /ready, the public URL to report the version, and an authenticated send + read back; any failure
 * puts the previous image (from the release history) back. Ctrl-C cancels `pulumi up` cleanly.
 */
export function createKubernetesTarget(options: KubernetesTargetOptions): Target {
  const runner = options.runner ?? pulumiRunner(options.stack);
  const probe = options.probe ?? fetchProbe;
  const registry = options.registry ?? ociRegistry({ basicAuth: options.env.OPS_REGISTRY_AUTH });
  // kubectl always gets the stack's own context (switchboard:cluster.context, or OPS_KUBE_CONTEXT), never
  // the kubeconfig's current one: `ops status --env production` must not read staging's pods.
  const pods = options.pods ?? kubectlPods(options.env.OPS_KUBE_CONTEXT ?? stackSetting(options.stack, KUBE_CONTEXT_KEY), options.stack);
  // ElastiCache is VPC-only: `ops tunnel redis` reaches it through a pod and prints the export line.
  const redisHint = `rerun with --via-tunnel (or: ops tunnel redis --env ${options.stack} in another shell, then export the REDIS_URL it prints)`;
  const verifyTimeoutMs = options.verifyTimeoutMs ?? 300_000;
  const pollMs = options.pollMs ?? 2_000;
  /**
   * OPS_SKIP_HTTP_GATE=<reason>: on a local cluster kwok plays the kubelet (pods get Ready, no container
   * runs), so nothing answers each pod's /ready and /health, the public URL or the smoke test, and a deploy
   * could never pass its gate. The skip is honoured only on a stack with switchboard:local (refused on any
   * other: a real cluster's gate is never skipped), and it is printed and kept in the release's steps.
   */
  const httpGateSkip = (): string | undefined => {
    const reason = options.env.OPS_SKIP_HTTP_GATE;
    if (!reason) return undefined;
    if (readStackValue(stackConfigPath(options.stack), LOCAL_STACK_KEY) === undefined) {
      throw new OpsError(`OPS_SKIP_HTTP_GATE applies only to a local cluster's stack (${LOCAL_STACK_KEY} in ${stackConfigPath(options.stack)}); on ${options.stack} the pods' /ready and /health, the public URL and the smoke test always gate a deploy`, `unset OPS_SKIP_HTTP_GATE, then rerun`, 2);
    }
    return reason;
  };
  const smokeTest = (): StackSmokeTest => {
    if (options.smoke) return options.smoke;
    const tokens = smokeTokensFromEnv(options.env);
    if (!tokens) throw new OpsError('the smoke test signs tokens with the stack\'s JWT settings: OPS_SMOKE_JWT_KEY (kid:secret), OPS_SMOKE_JWT_ISSUER and OPS_SMOKE_JWT_AUDIENCE are not all set', `export OPS_SMOKE_JWT_KEY=... OPS_SMOKE_JWT_ISSUER=... OPS_SMOKE_JWT_AUDIENCE=... (from the ${options.stack} stack's secrets), then rerun`, 2);
    return httpSmokeTest(tokens);
  };
  const publicUrl = async () => {
    if (options.env.OPS_PUBLIC_URL) return options.env.OPS_PUBLIC_URL.replace(/\/$/, '');
    const host = (await runner.outputs())[HOST_OUTPUT];
    if (typeof host !== 'string' || !host) throw new Error(`stack ${options.stack} has no "${HOST_OUTPUT}" output (set OPS_PUBLIC_URL to override)`);
    return /^https?:\/\//.test(host) ? host.replace(/\/$/, '') : `https://${host}`;
  };
  /** The image serving now: the shared release history first, else the stack's committed config. Read errors propagate. */
  const servingImage = async (current: ReleaseRecord | undefined) => current?.image ?? (await runner.readConfig(IMAGE_KEY));

  const runsImage = (pod: PodInfo, image: string) => {
    const digest = image.split('@')[1];
    return pod.image === image || Boolean(digest && pod.imageID?.endsWith(digest));
  };

  /** Every pod (not terminating) runs the image, is Ready, answers /ready 200 and reports the version in /health (unless `http` is false: image and Ready only). */
  async function podsServe(image: string, http = true): Promise<string> {
    const version = imageVersion(image);
    const live = (await pods.list()).filter((p) => !p.terminating);
    if (!live.length) throw new Error('no pods of the core are running');
    const problems: string[] = [];
    for (const pod of live) {
      if (!runsImage(pod, image)) { problems.push(`${pod.name} runs ${pod.image}`); continue; }
      if (!pod.ready) { problems.push(`${pod.name} is not Ready (${pod.phase})`); continue; }
      if (!http) continue;
      const ready = await pods.get(pod.name, '/ready');
      if (ready.status !== 200) { problems.push(`${pod.name} /ready answered ${ready.status}`); continue; }
      const health = await pods.get(pod.name, '/health');
      const reported = (health.body as Health).version;
      if (health.status !== 200 || reported !== version) problems.push(`${pod.name} /health answered ${health.status} version ${reported}`);
    }
    if (problems.length) throw new Error(problems.join('; '));
    return `${live.length} pod(s) ready on ${version}`;
  }

  async function until(what: string, check: () => Promise<unknown>, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + verifyTimeoutMs;
    let last: string;
    for (;;) {
      if (signal?.aborted) throw new Error(`${what}: cancelled`);
      try {
        await check();
        return;
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() >= deadline) throw new Error(`${what} (timeout ${Math.round(verifyTimeoutMs / 1000)} s; last: ${last})`);
      await sleep(pollMs);
    }
  }

  /** The public URL reports the version 3 answers in a row (the load balancer reaches only new pods). */
  async function publicServes(url: string, image: string, signal?: AbortSignal): Promise<void> {
    const tag = imageVersion(image);
    let streak = 0;
    await until(`${url}/health did not report version ${tag} 3 times in a row`, async () => {
      const { status, body } = await probe.get(`${url}/health`);
      const version = (body as Health).version;
      streak = status === 200 && version === tag ? streak + 1 : 0;
      if (streak < 3) throw new Error(`${status} version ${version}`);
    }, signal);
  }

  async function up(image: string, config: ReleaseConfig | undefined, out: Output, label: string, signal?: AbortSignal): Promise<void> {
    await out.step(`pulumi up (${label}; image and settings supplied for this run only; waits for the rollout)`, async () => {
      const result = await runner.up({ image, config, onOutput: (line) => out.info(`  | ${line.trimEnd()}`), signal });
      if (result.result === 'cancelled') throw new Error('pulumi up was cancelled (the engine stopped after its in-flight steps)');
      if (result.result !== 'succeeded') throw new Error(`pulumi up ${result.result}`);
    });
  }

  /** The gate after `up`; returns the public URL it checked, or undefined when the HTTP checks are skipped (OPS_SKIP_HTTP_GATE). */
  async function verify(image: string, out: Output, signal?: AbortSignal): Promise<string | undefined> {
    const skip = httpGateSkip();
    if (skip) {
      await out.step(`every pod runs ${imageVersion(image)} and is Ready (HTTP checks skipped: OPS_SKIP_HTTP_GATE)`, () => until(`not every pod runs ${imageVersion(image)} and is Ready`, () => podsServe(image, false), signal));
      out.warn(`NOT CHECKED on ${options.stack}: each pod's /ready and /health, the public URL and the smoke test (OPS_SKIP_HTTP_GATE: ${skip})`);
      return undefined;
    }
    await out.step(`every pod runs ${imageVersion(image)} and answers /ready`, () => until(`not every pod serves ${imageVersion(image)}`, () => podsServe(image), signal));
    const url = await publicUrl();
    await out.step(`wait until ${url}/health reports ${imageVersion(image)}`, () => publicServes(url, image, signal));
    return url;
  }

  return {
    env: options.stack,
    kind: 'kubernetes',
    /** The Deployment's RollingUpdate (maxUnavailable 0) replaces pods behind the Service. */
    strategies: ['rolling'],
    cancellable: true,

    async plan({ kind, request, releaseId, artifact }) {
      let image = artifact?.image;
      if (kind === 'deploy' && request.version) {
        const current = await servingImage(request.current);
        try {
          const parsed = parseVersion(request.version, current);
          image = parsed.digest ? `${parsed.repository}@${parsed.digest}` : `${parsed.repository}@<digest of :${parsed.tag}, resolved from the registry>`;
        } catch {
          image = `<current image's repository>${request.version.startsWith('sha256:') ? '@' : ':'}${request.version}`;
        }
      }
      const version = image?.includes('<') ? '<digest>' : image ? imageVersion(image) : '?';
      const skip = httpGateSkip();
      return [
        `read the image serving now: the release history (${request.current ? `${request.current.id}` : 'none yet'}), else ${IMAGE_KEY} in ${stackConfigPath(options.stack)} (read only)`,
        kind === 'deploy' ? `record ${releaseId}: image ${image ?? '(missing: --version <digest, tag or image reference> is required)'}` : `record ${releaseId}: rollback to ${artifact?.id} (image ${image})`,
        `pulumi preview --diff --stack ${options.stack} --policy-pack ${policyPackPath()} with ${IMAGE_KEY}=${image} in a temporary config file (program ${infraDir}); stop on a mandatory policy violation (naming policy, resource and fix), or if anything besides the image would change${request.allowDrift ? ' (--allow-drift: apply it)' : ' (--allow-drift applies it)'}`,
        `pulumi up --stack ${options.stack} --yes --policy-pack ${policyPackPath()} with the same temporary config (Deployment rolling update; Pulumi waits until the new pods are ready; Ctrl-C cancels it cleanly)`,
        ...(skip ? [
          `every pod of the core runs ${version} and is Ready (timeout ${Math.round(verifyTimeoutMs / 1000)} s); NOT CHECKED (OPS_SKIP_HTTP_GATE: ${skip}): each pod's /ready and /health, the public URL, the smoke test`,
        ] : [
          `every pod of the core runs ${version} and answers /ready 200 (timeout ${Math.round(verifyTimeoutMs / 1000)} s)`,
          `wait until https://<stack output ${HOST_OUTPUT}>/health reports version ${version} (3 answers in a row)`,
          `smoke test through https://<stack output ${HOST_OUTPUT}>: authenticated create conversation, send, read back`,
        ]),
        `on any failure: pulumi up with the previous image, wait for it; record ${releaseId} failed`,
      ];
    },

    async prepare(request: DeployRequest, _releaseId: string, out: Output) {
      if (!request.version) throw new OpsError('a Kubernetes deploy needs the image to run', `ops deploy --env ${options.stack} --version <sha256:digest, tag or image reference>`, 2);
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,254}$/.test(request.version)) throw new OpsError(`"${request.version}" is not an image reference, digest or tag`, undefined, 2);
      if (Object.keys(request.settings).length) throw new OpsError('--set applies to the local target; Kubernetes settings live in the stack config', `pulumi config set --path --stack ${options.stack} switchboard:app.<key> <value>`, 2);
      if (!httpGateSkip()) smokeTest(); // missing smoke-test settings (or a refused skip) fail here, before anything changes
      const current = await out.step('read the image serving now', () => servingImage(request.current));
      const parsed = parseVersion(request.version, current);
      const digest = parsed.digest ?? (await out.step(`resolve ${parsed.repository}:${parsed.tag} to its digest`, () => registry.resolveDigest(parsed.repository, parsed.tag!)));
      const image = `${parsed.repository}@${digest}`;
      out.info(`  image ${current ?? 'none'} → ${image}${parsed.tag ? ` (tag ${parsed.tag})` : ''}`);
      return { version: imageVersion(image), image };
    },

    async activate(_release: ReleaseRecord, artifact: ReleaseRecord, request: DeployRequest, out: Output) {
      const image = artifact.image ?? artifact.version;
      const { signal } = request;
      const smoke = httpGateSkip() ? undefined : smokeTest();
      const previous = await out.step('read the image serving now', () => servingImage(request.current));
      const previousConfig = request.current?.config;
      const changed = changedSettings(previousConfig, request.config);
      if (changed.length) out.info(`  settings: ${changed.map((name) => `${name} ${describeEntry(previousConfig?.[name])} → ${describeEntry(request.config?.[name])}`).join(', ')}`);
      const preview = await out.step(`pulumi preview --diff (image ${imageVersion(image)}${changed.length ? `, settings ${changed.join(', ')}` : ''})`, () => runner.preview({ image, config: request.config, onOutput: (line) => out.info(`  | ${line.trimEnd()}`), signal }));
      const drift = driftOf(preview.changes, changed);
      if (drift.length) {
        out.info(`  the preview changes more than the image:\n${drift.map((c) => `    ${describeChange(c)}`).join('\n')}`);
        if (!request.allowDrift) {
          throw new OpsError(`the stack ${options.stack} has ${drift.length} change(s) besides the image (listed above): nothing was applied`, `review them (cd infra && pulumi preview --diff --stack ${options.stack}); apply them on purpose with pulumi up, or rerun with --allow-drift`, 1);
        }
        out.warn(`--allow-drift: applying ${drift.length} change(s) besides the image`);
      }
      let step = 'pulumi up';
      try {
        await up(image, request.config, out, `image ${imageVersion(image)}${changed.length ? ` + settings` : ''}`, signal);
        step = 'verify the rollout';
        const url = await verify(image, out, signal);
        step = 'smoke test';
        if (url && smoke) await out.step(`smoke test through ${url} (authenticated send + read back)`, () => smoke(url));
        return {};
      } catch (error) {
        let rolledBack = false;
        if (signal?.aborted) {
          out.warn(`cancelled during "${step}": the previous image is not put back automatically; check the stack (ops status --env ${options.stack}), then ops rollback --env ${options.stack} or ops deploy again`);
        } else if (previous && (previous !== image || changed.length)) {
          out.info(`  rolling back to image ${previous}${changed.length ? ` and the previous settings (${changed.join(', ')})` : ''}`);
          try {
            await up(previous, previousConfig, out, `rollback to ${imageVersion(previous)}`);
            await verify(previous, out);
            rolledBack = true;
          } catch (rollbackError) {
            out.warn(`automatic rollback failed: ${(rollbackError as Error).message}`);
          }
        } else if (!previous) {
          out.warn('no previous image in the release history or the stack config: nothing to roll back to');
        }
        throw new ActivationError((error as Error).message, step, true, rolledBack);
      }
    },

    config: {
      async serving(request) {
        const image = await servingImage(request.current);
        if (!image) throw new OpsError(`no image serves ${options.stack} yet (no release, no ${IMAGE_KEY} in ${stackConfigPath(options.stack)})`, `ops deploy --env ${options.stack} --version <image>`, 1);
        return { image, version: imageVersion(image) };
      },
      async committed(name) {
        const setting = stackSettingOf(name);
        const value = readStackValue(stackConfigPath(options.stack), setting.key);
        const secret = Boolean(setting.secret || (typeof value === 'object' && value !== null && 'secure' in value));
        return { key: setting.key, secret, value: value === undefined || secret ? undefined : Array.isArray(value) ? value.join(',') : String(value) };
      },
      encrypt: (name, value) => runner.encryptSecret(stackSettingOf(name, true).key, value),
    },

    async status(): Promise<StatusReport> {
      const problems: string[] = [];
      const unknowns: Unknown[] = [];
      let url: string | undefined;
      const instances: InstanceStatus[] = [];
      // A local cluster with OPS_SKIP_HTTP_GATE: nothing answers HTTP, so ask only what kwok reports (image, Ready)
      // and say what was not asked (unknown), rather than calling every pod DOWN. A refused skip asks as usual.
      let skip: string | undefined;
      try {
        skip = httpGateSkip();
      } catch {
        skip = undefined;
      }
      if (skip) {
        const next = `kubectl --context ${options.env.OPS_KUBE_CONTEXT ?? `<${KUBE_CONTEXT_KEY}>`} -n switchboard get pods -o wide`;
        unknowns.push({ what: 'each pod\'s /health and /ready', reason: `not asked: OPS_SKIP_HTTP_GATE (${skip}); version from the pod's image, readiness from its Ready condition`, next });
        unknowns.push({ what: 'front door', reason: `not asked: OPS_SKIP_HTTP_GATE (${skip})`, next });
      }
      try {
        for (const pod of skip ? [] : await pods.list()) {
          const [health, ready] = await Promise.all([pods.get(pod.name, '/health'), pods.get(pod.name, '/ready')]);
          const h = health.body as Health;
          const instance: InstanceStatus = { id: pod.name, url: `pod/${pod.name}`, version: h.version, healthy: health.status === 200, ready: ready.status === 200 && pod.ready && !h.draining, draining: h.draining || pod.terminating, maintenance: h.maintenance?.on, sockets: h.sockets, uptimeSeconds: h.uptimeSeconds };
          if (!instance.healthy || !instance.ready) instance.error = `${pod.phase}${pod.terminating ? ', terminating' : ''}; /health ${health.status}, /ready ${ready.status}; image ${pod.image}`;
          instances.push(instance);
        }
      } catch (error: unknown) {
        // Not being able to look is not "no pods": unknown, with what would let us look.
        unknowns.push({ what: 'instances', reason: `cannot list the pods: ${firstLine(error)}`, next: error instanceof MissingCommandError ? error.install : (error as { next?: string } | undefined)?.next ?? `kubectl --context <${KUBE_CONTEXT_KEY}> -n switchboard get pods` });
      }
      if (skip) {
        try {
          for (const pod of await pods.list()) instances.push({ id: pod.name, url: `pod/${pod.name}`, version: imageVersion(pod.image), healthy: pod.phase === 'Running' && !pod.terminating, ready: pod.ready, draining: pod.terminating, ...(pod.ready ? {} : { error: `${pod.phase}; not Ready; image ${pod.image}` }) });
        } catch (error: unknown) {
          unknowns.push({ what: 'instances', reason: `cannot list the pods: ${firstLine(error)}`, next: `kubectl --context <${KUBE_CONTEXT_KEY}> -n switchboard get pods` });
        }
      }
      for (const i of instances) if (!i.healthy || !i.ready) problems.push(`${i.id} ${i.healthy ? 'not ready' : 'unhealthy'}`);
      const versions = new Set(instances.map((i) => i.version));
      if (versions.size > 1) problems.push(`pods report ${versions.size} versions: ${[...versions].join(', ')} (a rollout in progress, or stuck)`);
      try {
        url = skip ? undefined : await publicUrl();
      } catch (error) {
        unknowns.push({ what: 'front door', reason: `no public URL: ${firstLine(error)}`, next: error instanceof MissingCommandError ? error.install : `OPS_PUBLIC_URL=https://<host> ops status --env ${options.stack}` });
      }
      if (url) {
        try {
          const ready = await probe.get(`${url}/ready`);
          if (ready.status !== 200) problems.push(`${url}/ready answered ${ready.status}`);
        } catch (error) {
          problems.push(`${url}/ready: ${firstLine(error)}`);
        }
      }
      const maintenance = await this.maintenance();
      if (maintenance.unknown) unknowns.push(maintenance.unknown);
      let current: string | undefined;
      try {
        current = await runner.readConfig(IMAGE_KEY);
      } catch (error) {
        problems.push((error as Error).message);
      }
      return { env: options.stack, target: 'kubernetes', url, frontDoor: { running: Boolean(url) && !problems.some((p) => p.startsWith(url!)), detail: 'ingress; instances are the pods, read through the API server' }, instances, maintenance, current, healthy: problems.length === 0 && unknowns.length === 0 && instances.length > 0, problems, unknowns };
    },

    async maintenance(): Promise<MaintenanceStatus> {
      const redisUrl = options.env.REDIS_URL;
      if (!redisUrl) return { on: false, unknown: { what: 'maintenance', reason: `REDIS_URL is not set: the flag lives in the ${options.stack} stack's Redis`, next: redisHint } };
      try {
        const flag = await readFlag(redisUrl);
        return { on: Boolean(flag), ...flag, coreFlag: Boolean(flag) };
      } catch (error) {
        return { on: false, unknown: { what: 'maintenance', reason: `the stack's Redis cannot be read: ${firstLine(error)}`, next: `check REDIS_URL and that this host reaches it; then: ops maintenance status --env ${options.stack}` } };
      }
    },

    async setMaintenance(flag, out) {
      const redisUrl = options.env.REDIS_URL;
      if (!redisUrl) throw new OpsError('maintenance on Kubernetes switches the core\'s Redis flag: REDIS_URL is not set', redisHint, 2);
      await out.step(`${flag ? 'set' : 'clear'} the maintenance flag in Redis`, () => writeFlag(redisUrl, flag));
      return this.maintenance();
    },
  };
}
