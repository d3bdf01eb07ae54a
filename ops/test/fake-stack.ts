import fs from 'node:fs';
import { lockFile, readLock } from '../state/lock';
import type { HttpProbe } from '../targets/kubernetes/kubernetes-target';
import { IMAGE_KEY, imageVersion, type StackRunner } from '../targets/kubernetes/stack-runner';

/**
 * A recorded fake of the Pulumi stack and the cluster behind it: every call is appended to `calls`;
 * `up` "rolls out" the configured image tag, after which the public URL reports it. Tags in `failUp`
 * make `up` fail; tags in `unready` roll out but answer /ready 503.
 */
export const repo = 'ghcr.io/example/switchboard-core';

export function fakeStack(options: { stack: string; stateDir: string; initialTag?: string; failUp?: string[]; unready?: string[] }) {
  const calls: string[] = [];
  const config = new Map<string, string>(options.initialTag ? [[IMAGE_KEY, `${repo}:${options.initialTag}`]] : []);
  let serving = options.initialTag;
  const outputs = { appHost: 'chat.example.test' };
  const locksSeenDuringUp: (string | undefined)[] = [];
  const runner: StackRunner = {
    stack: options.stack,
    async getConfig(key) {
      calls.push(`getConfig ${key}`);
      return config.get(key);
    },
    async setConfig(key, value) {
      calls.push(`setConfig ${key}=${value}`);
      config.set(key, value);
    },
    async up(onOutput) {
      const image = config.get(IMAGE_KEY);
      const tag = image ? imageVersion(image) : undefined;
      calls.push(`up ${tag}`);
      locksSeenDuringUp.push(fs.existsSync(lockFile(options.stateDir, options.stack)) ? readLock(options.stateDir, options.stack)?.owner : undefined);
      onOutput(`Updating (${options.stack}): deployment/switchboard image ${tag}`);
      if (tag && options.failUp?.includes(tag)) return { result: 'failed', outputs: {} };
      serving = tag;
      return { result: 'succeeded', outputs: { appHost: 'chat.example.test' } };
    },
    async outputs() {
      calls.push('outputs');
      return outputs;
    },
  };
  const probe: HttpProbe = {
    async get(url) {
      const path = new URL(url).pathname;
      calls.push(`GET ${path}`);
      if (path === '/health') return { status: 200, body: { status: 'ok', instance: `pod-${serving}`, version: serving, draining: false, maintenance: { on: false } } };
      if (path === '/ready') return serving && options.unready?.includes(serving) ? { status: 503, body: { ready: false, down: ['mongodb'] } } : { status: 200, body: { ready: true } };
      return { status: 200, body: {} };
    },
  };
  return { runner, probe, calls, config, locksSeenDuringUp, serving: () => serving };
}
