import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { HttpProbe } from '../targets/kubernetes/kubernetes-target';
import type { PodInfo, PodLister } from '../targets/kubernetes/pods';
import type { StackSmokeTest } from '../targets/kubernetes/smoke';
import type { ReleaseConfig } from '../state/releases';
import { changedSettings, stackSettingOf } from '../targets/kubernetes/stack-config';
import { IMAGE_KEY, imageVersion, type ResourceChange, type StackRunner } from '../targets/kubernetes/stack-runner';

export const repo = 'ghcr.io/example/switchboard-core';
/** The digest a tag of the fake registry points at (deterministic, so tests can name it). */
export const digestOf = (tag: string): string => `sha256:${createHash('sha256').update(tag).digest('hex')}`;
/** The image reference a deploy of `tag` ends up with, and the version its pods report. */
export const imageOf = (tag: string): string => `${repo}@${digestOf(tag)}`;
export const versionOf = (tag: string): string => imageVersion(imageOf(tag));

export interface FakeStackOptions {
  stack: string;
  /** Tag whose image the committed stack config names and the cluster runs at the start. */
  initialTag?: string;
  /** Tags whose `up` fails. */
  failUp?: string[];
  /** Tags whose pods roll out but answer /ready 503. */
  unready?: string[];
  /** Tags whose public smoke test fails. */
  smokeFails?: string[];
  /** The preview fails with this error (e.g. the runner's refusal of a mandatory policy violation). */
  previewError?: Error;
  /** Extra changes every preview shows (drift). */
  drift?: ResourceChange[];
  /** `up` runs until its signal aborts (then reports cancelled): a long rollout to interrupt. */
  hangUp?: boolean;
  /** `up` takes this long (a rollout longer than the lock's TTL, so only the heartbeat keeps the lock). */
  upDelayMs?: number;
  /** `up` runs until this file exists: a rollout that ends when the test says so, not after a guessed time. */
  upUntilFile?: string;
  /** readConfig fails with this message (an unreadable stack config). */
  configError?: string;
  replicas?: number;
  /** Who holds the lock, asked during `up` (to prove the lock is held while Pulumi runs). */
  lockOwner?: () => Promise<string | undefined>;
  /** Called when `up` starts (e.g. to tell a test the holder is mid-deploy). */
  onUp?: () => void;
}

/**
 * A recorded fake of the Pulumi stack and the cluster behind it, following the Automation API's
 * shapes (preview events, up summary) and the pods' /health and /ready: every call is appended to
 * `calls`; `up` "rolls out" the image it was given (never a config file), after which the pods and the
 * public URL report its version.
 */
export function fakeStack(options: FakeStackOptions) {
  const calls: string[] = [];
  const committed = new Map<string, string>(options.initialTag ? [[IMAGE_KEY, imageOf(options.initialTag)]] : []);
  let serving = options.initialTag ? imageOf(options.initialTag) : undefined;
  /** The settings the last successful `up` applied (what the ConfigMap/Secret hold beyond the committed file). */
  let applied: ReleaseConfig = {};
  /** What the pods' environment holds for each applied setting (a secret decrypted, as the Secret has it). */
  const podEnv = () => Object.fromEntries(Object.entries(applied).flatMap(([name, entry]) => ('unset' in entry ? [] : [[name, 'secure' in entry ? decrypt(entry.secure) : entry.value]])));
  const decrypt = (ciphertext: string) => Buffer.from(ciphertext.replace(/^v1:fake:/, ''), 'base64').toString('utf8').split('\0')[1]!;
  const tagOf = (image: string | undefined) => [...new Set([options.initialTag, ...(options.failUp ?? []), ...(options.unready ?? []), ...(options.smokeFails ?? [])])].find((t) => t && image === imageOf(t));
  const outputs = { appHost: 'chat.example.test' };
  const locksSeenDuringUp: (string | undefined)[] = [];
  const replicas = options.replicas ?? 2;
  const runner: StackRunner = {
    stack: options.stack,
    async readConfig(key) {
      calls.push(`readConfig ${key}`);
      if (options.configError) throw new Error(options.configError);
      return committed.get(key);
    },
    async preview({ image, config, onOutput }) {
      const settings = changedSettings(applied, config);
      calls.push(`preview ${imageVersion(image)}${settings.length ? ` ${settings.join(',')}` : ''}`);
      if (options.previewError) throw options.previewError;
      onOutput(`Previewing update (${options.stack}): ~ deployment/switchboard-core image ${imageVersion(image)}`);
      // As the program renders it: RELEASE_VERSION and every setting are in the ConfigMap (secrets in the
      // Secret), and the pod template's checksum of both changes with any of them.
      const secretNames = settings.filter((name) => { const entry = config?.[name] ?? applied[name]; return Boolean(entry && 'secure' in entry) || Boolean(stackSettingOf(name).secret); });
      const plainNames = settings.filter((name) => !secretNames.includes(name));
      const checksum = 'spec.template.metadata.annotations["switchboard.dev/config-checksum"]';
      const deploymentPaths = [...(image === serving ? [] : ['spec.template.spec.containers[0].image']), ...(image === serving && !settings.length ? [] : [checksum])];
      const configMapPaths = [...(image === serving ? [] : ['data.RELEASE_VERSION']), ...plainNames.map((name) => `data.${name}`)];
      const urn = (type: string, name: string) => `urn:pulumi:${options.stack}::switchboard::${type}::${name}`;
      const bump: ResourceChange[] = [
        ...(deploymentPaths.length ? [{ urn: urn('kubernetes:apps/v1:Deployment', 'switchboard-core'), type: 'kubernetes:apps/v1:Deployment', op: 'update', paths: deploymentPaths }] : []),
        ...(configMapPaths.length ? [{ urn: urn('kubernetes:core/v1:ConfigMap', 'switchboard-config'), type: 'kubernetes:core/v1:ConfigMap', op: image === serving ? 'update' : 'replace', paths: configMapPaths }] : []),
        ...(secretNames.length ? [{ urn: urn('kubernetes:core/v1:Secret', 'switchboard-secrets'), type: 'kubernetes:core/v1:Secret', op: 'update', paths: secretNames.map((name) => `stringData.${name}`) }] : []),
      ];
      return { changes: [{ urn: `urn:pulumi:${options.stack}::switchboard::pulumi:pulumi:Stack::switchboard-${options.stack}`, type: 'pulumi:pulumi:Stack', op: 'same', paths: [] }, ...bump, ...(options.drift ?? [])] };
    },
    async encryptSecret(key, value) {
      calls.push(`encryptSecret ${key}`);
      // Stands in for the stack's secrets provider: opaque to a reader (the tests look for the plain value).
      return `v1:fake:${Buffer.from(`${key}\0${value}`).toString('base64')}`;
    },
    async up({ image, config, onOutput, signal }) {
      calls.push(`up ${imageVersion(image)}`);
      if (options.lockOwner) locksSeenDuringUp.push(await options.lockOwner());
      options.onUp?.();
      onOutput(`Updating (${options.stack}): deployment/switchboard-core image ${imageVersion(image)}`);
      if (options.hangUp) {
        // A real `up` is a running Pulumi CLI process; this timer keeps the event loop alive the same way.
        const engine = setInterval(() => undefined, 1_000);
        await new Promise<void>((resolve) => (signal?.aborted ? resolve() : signal?.addEventListener('abort', () => resolve(), { once: true })));
        clearInterval(engine);
        calls.push('up cancelled');
        return { result: 'cancelled', outputs: {} };
      }
      if (options.upDelayMs) await new Promise((r) => setTimeout(r, options.upDelayMs));
      while (options.upUntilFile && !existsSync(options.upUntilFile) && !signal?.aborted) await new Promise((r) => setTimeout(r, 50));
      const tag = tagOf(image);
      if (tag && options.failUp?.includes(tag)) return { result: 'failed', outputs: {} };
      serving = image;
      applied = { ...(config ?? {}) };
      return { result: 'succeeded', outputs };
    },
    async outputs() {
      calls.push('outputs');
      return outputs;
    },
  };
  const podList = (): PodInfo[] => (serving ? Array.from({ length: replicas }, (_, i) => ({ name: `core-${imageVersion(serving!)}-${i}`, image: serving!, imageID: `${repo}@${serving!.split('@')[1]}`, phase: 'Running', ready: true, terminating: false })) : []);
  const health = () => ({ status: 'ok', version: serving ? imageVersion(serving) : undefined, draining: false, maintenance: { on: false }, sockets: 3 });
  const unready = () => Boolean(serving && options.unready?.includes(tagOf(serving) ?? ''));
  const pods: PodLister = {
    async list() {
      calls.push('pods');
      return podList();
    },
    async get(pod, path) {
      calls.push(`GET pod${path}`);
      if (path === '/ready') return unready() ? { status: 503, body: { ready: false, down: ['mongodb'] } } : { status: 200, body: { ready: true } };
      return { status: 200, body: { ...health(), instance: pod } };
    },
  };
  const probe: HttpProbe = {
    async get(url) {
      const path = new URL(url).pathname;
      calls.push(`GET ${path}`);
      if (path === '/health') return { status: 200, body: { ...health(), instance: podList()[0]?.name } };
      if (path === '/ready') return unready() ? { status: 503, body: { ready: false } } : { status: 200, body: { ready: true } };
      return { status: 404, body: {} };
    },
  };
  const smoke: StackSmokeTest = async (url) => {
    calls.push(`smoke ${url}`);
    if (serving && options.smokeFails?.includes(tagOf(serving) ?? '')) throw new Error('POST /api/conversations/…/messages answered 503');
  };
  return { runner, probe, pods, smoke, calls, committed, locksSeenDuringUp, serving: () => serving, podEnv };
}
